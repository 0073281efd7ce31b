package main

import (
	"context"
	"io"

	"keeper/supervise"
)

const reloadHelp = "reload \t\tRestart the remote supervisord."

func init() {
	commands["reload"] = &command{
		summary: "restart the daemon: stop everything, reread the config, start again",
		usage:   `keeper [-c FILE | -s unix:///PATH] reload`,
		run:     runReload,
	}
}

func runReload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("reload", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if c.refuseArgs(fs, "reload", reloadHelp) {
		return c.result()
	}
	_, err = c.call(ctx, "supervisor.restart")
	if code, _, ok := faultCode(err); ok && code == supervise.FaultShutdownState {
		c.status = exitGeneric
		c.printf("ERROR: already shutting down")
	} else if err != nil {
		c.fail(err)
	} else {
		c.printf("Restarted supervisord")
	}
	return c.result()
}
