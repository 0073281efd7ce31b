// Command keeper supervises programs from a supervisord-dialect config and
// tracks the detached terminal sessions they leave behind.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}
