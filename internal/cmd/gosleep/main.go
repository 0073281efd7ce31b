// Command gosleep is the smallest Go program that waits. bench-detach
// starts as many of them as idle masters, built the same way, to show the
// Go runtime's own memory: the part of a master's cost that no change to
// keeper's code can remove. With -sigterm it also catches SIGTERM through
// os/signal, as a master must to remove its socket (dtach does), which
// costs the runtime threads of its own.
package main

import (
	"math"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1) // as a master runs
	if len(os.Args) > 1 && os.Args[1] == "-sigterm" {
		signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT)
	}
	os.Stdout.WriteString("ready\n")
	time.Sleep(math.MaxInt64)
}
