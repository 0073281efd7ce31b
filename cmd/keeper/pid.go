package main

import (
	"context"
	"io"
	"slices"
	"strconv"

	"keeper/supervise"
)

func init() {
	commands["pid"] = &command{
		summary: "print the daemon's pid, or the pids of processes",
		usage: `keeper [-c FILE | -s unix:///PATH] pid [NAME... | all]

With no name, prints the daemon's pid; with names, each process's pid (0
when it is not running); with all, every process's pid, one per line.
Exit status: 0, 7 when a named process is not running, 1 for an unknown
name, 7 (no socket) or 4 (refused connection) when no daemon answers.`,
		run: runPid,
	}
}

func runPid(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("pid", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if !c.upcheck(ctx) {
		return c.result()
	}
	names := fs.Args()
	switch {
	case len(names) == 0:
		v, err := c.call(ctx, "supervisor.getPID")
		if err != nil {
			c.fail(err)
			break
		}
		c.printf("%s", pyStr(v))
	case slices.Contains(names, "all"):
		v, err := c.call(ctx, "supervisor.getAllProcessInfo")
		if err != nil {
			c.fail(err)
			break
		}
		for _, item := range arrayOf(v) {
			c.printf("%d", getInt(structOf(item), "pid"))
		}
	default:
		for _, name := range names {
			v, err := c.call(ctx, "supervisor.getProcessInfo", name)
			if code, _, ok := faultCode(err); ok && code == supervise.FaultBadName {
				c.status = exitGeneric
				c.printf("No such process %s", name)
				continue
			} else if err != nil {
				c.fail(err)
				break
			}
			pid := getInt(structOf(v), "pid")
			c.printf("%s", strconv.Itoa(pid))
			if pid == 0 {
				c.status = exitNotRunning
			}
		}
	}
	return c.result()
}
