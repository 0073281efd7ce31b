package main

import (
	"context"
	"errors"
	"io"
	"syscall"
)

const shutdownHelp = "shutdown \tShut the remote supervisord down."

func init() {
	commands["shutdown"] = &command{
		summary: "stop every process and the daemon",
		usage: `keeper [-c FILE | -s unix:///PATH] shutdown

Prints "Shut down"; with no daemon, "ERROR: URL no such file (already shut
down?)" or "... refused connection ..." and exit status 1.`,
		run: runShutdown,
	}
}

func runShutdown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("shutdown", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		c.printf("Error: shutdown accepts no arguments")
		c.status = exitGeneric
		c.printf("%s", shutdownHelp)
		return c.result()
	}
	_, err = c.call(ctx, "supervisor.shutdown")
	code, _, isFault := faultCode(err)
	switch {
	case err == nil:
		c.printf("Shut down")
	case isFault && code == faultShutdownState:
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
