package main

import (
	"context"
	"errors"
	"io"
	"syscall"

	"keeper/supervise"
)

const shutdownHelp = "shutdown \tShut the remote supervisord down."

func init() {
	commands["shutdown"] = &command{
		summary: "stop every process and the daemon",
		usage: `keeper [-c FILE | -s unix:///PATH] shutdown [--keep-sessions|--kill-sessions] [--keep-programs]

Stops every program in reverse priority order, then the daemon. Sessions
are kept (the next daemon finds them again) unless --kill-sessions is given
or a program says sessions=kill; --keep-sessions keeps them all.
--keep-programs leaves pty = true programs running on their terminals: the
next daemon adopts them.
Prints "Shut down"; with no daemon, "ERROR: URL no such file (already shut
down?)" or "... refused connection ..." and exit status 1.`,
		run: runShutdown,
	}
}

func runShutdown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("shutdown", stderr)
	var sessions sessionsFlags
	sessions.add(fs, "keep every program's sessions running", "reap every program's sessions")
	keepPrograms := fs.Bool("keep-programs", false, "leave pty = true programs running for the next daemon")
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	if err := sessions.check("shutdown", stderr); err != nil {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if c.refuseArgs(fs, "shutdown", shutdownHelp) {
		return c.result()
	}
	if mode, ok := sessions.mode(); ok || *keepPrograms {
		_, err = c.call(ctx, "keeper.shutdown", string(mode), *keepPrograms)
	} else {
		_, err = c.call(ctx, "supervisor.shutdown")
	}
	code, _, isFault := faultCode(err)
	switch {
	case err == nil:
		c.printf("Shut down")
	case isFault && code == supervise.FaultShutdownState:
		c.printf("ERROR: already shutting down")
	case errors.Is(err, syscall.ECONNREFUSED):
		c.status = exitGeneric
		c.printf("ERROR: %s refused connection (already shut down?)", c.url)
	case errors.Is(err, syscall.ENOENT):
		c.status = exitGeneric
		c.printf("ERROR: %s no such file (already shut down?)", c.url)
	default:
		c.fail(err)
	}
	return c.result()
}
