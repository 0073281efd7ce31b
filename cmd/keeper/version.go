package main

import (
	"context"
	"io"
)

const versionHelp = "version\t\t\tShow the version of the remote supervisord process"

func init() {
	commands["version"] = &command{
		summary: "print the daemon's version (keeper --version prints keeper's)",
		usage:   `keeper [-c FILE | -s unix:///PATH] version`,
		run:     runVersion,
	}
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("version", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if c.refuseArgs(fs, "version", versionHelp) {
		return c.result()
	}
	v, up, err := c.upcheckAnd(ctx, "supervisor.getSupervisorVersion")
	if !up {
		return c.result()
	}
	if err != nil {
		c.fail(err)
	} else {
		c.printf("%s", pyStr(v))
	}
	return c.result()
}
