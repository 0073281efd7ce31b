// Command keeper-master is a session master and nothing else: the program
// keeper dtach starts to hold a terminal, built apart from keeper so that
// each of a server's hundreds of idle masters maps a small binary.
package main

import (
	"os"

	"keeper/detach"
)

func main() {
	os.Exit(detach.MasterMain(os.Args))
}
