package main

import (
	"context"
	"io"
	"os"

	"keeper/detach"
)

const masterCommand = detach.MasterCommand

func init() {
	commands["dtach"] = &command{
		summary: "dtach 0.9's command line: create, attach to or push to a session",
		usage: `keeper dtach -a <socket> [-e <char>] [-E] [-r none|ctrl_l|winch] [-z]
keeper dtach -A|-c|-n|-N <socket> [options] <command...>
keeper dtach -p <socket>

Behaves exactly as dtach 0.9 (messages and exit codes included) and speaks its
wire protocol, so a real dtach can attach to a keeper session and the other way
round. Installed as a symlink named dtach, keeper is dtach.`,
		run: runDtach,
	}
	commands[masterCommand] = &command{
		summary: "session master (internal)",
		hidden:  true,
		run: func(_ context.Context, args []string, _, _ io.Writer) error {
			return exitStatus(detach.MasterMain(append([]string{os.Args[0]}, args...)))
		},
	}
}

// runDtach runs "keeper dtach ARGS" as dtach would run ARGS; messages
// name keeper as dtach's name its own program.
func runDtach(_ context.Context, args []string, _, _ io.Writer) error {
	argv := append([]string{os.Args[0]}, args[1:]...)
	return exitStatus(detach.DtachMain(argv, version, os.Stdin, os.Stdout, os.Stderr))
}

func exitStatus(code int) error {
	if code == 0 {
		return nil
	}
	return exitError{code}
}
