// Command gosleep is the smallest Go program that waits. bench-detach
// starts as many of them as idle masters, built the same way, to show the
// Go runtime's own memory: the part of a master's cost that no change to
// keeper's code can remove.
package main

import (
	"math"
	"os"
	"runtime"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1) // as a master runs
	os.Stdout.WriteString("ready\n")
	time.Sleep(math.MaxInt64)
}
