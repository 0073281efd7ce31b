package supervise

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// execCommand is the hidden subcommand that sets a program's umask and
// execs it: Go cannot run code between fork and exec, so keeper execs
// itself in the child first. The pid is the program's from the start.
const execCommand = "_exec"

// ExecCommand is execCommand for the command dispatcher.
const ExecCommand = execCommand

// ExecMain is the body of the hidden exec subcommand: args are the umask
// in octal, the file to execute and its argv. It only returns on failure,
// with supervisord's message on stderr, which is the program's log.
func ExecMain(args []string) int {
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "supervisor: usage: "+execCommand+" UMASK FILE ARGV...")
		return 127
	}
	mask, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: bad umask %q\n", args[0])
		return 127
	}
	syscall.Umask(int(mask))
	err = syscall.Exec(args[1], args[2:], os.Environ())
	fmt.Fprintf(os.Stderr, "supervisor: couldn't exec %s: %s\n", args[2], errnoName(err))
	return 127
}
