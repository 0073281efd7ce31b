// Command gosleep-sigterm is gosleep catching SIGTERM and SIGINT through
// os/signal, as a session master must to remove its socket when it is
// killed (dtach does). os/signal keeps threads of its own for good, so
// bench-detach starts it beside gosleep for a master's own floor: the
// memory of a Go program that waits and can clean up after a signal.
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
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT)
	os.Stdout.WriteString("ready\n")
	time.Sleep(math.MaxInt64)
}
