package main

import (
	"context"
	"io"
	"slices"

	"keeper/supervise"
)

const signalHelp = "signal <signal name> <name>\t\tSignal a process\n" +
	"signal <signal name> <gname>:*\t\tSignal all processes in a group\n" +
	"signal <signal name> <name> <name>\tSignal multiple processes or groups\n" +
	"signal <signal name> all\t\tSignal all processes"

func init() {
	commands["signal"] = &command{
		summary: "send a signal to processes: NAME, GROUP:* or all",
		usage: `keeper [-c FILE | -s unix:///PATH] signal SIG NAME|GROUP:*|all...

SIG is a name (HUP, SIGHUP) or a number. Prints "NAME: signalled" or
"NAME: ERROR (...)" per process, as supervisorctl does. Exit status: 0,
1 for an unknown name or group or a bad signal, 7 when a process is not
running, 7 (no socket) or 4 (refused connection) when no daemon answers.`,
		run: runSignal,
	}
}

func runSignal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("signal", stderr)
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
	if fs.NArg() < 2 {
		c.printf("Error: signal requires a signal name and a process name")
		c.printf("%s", signalHelp)
		c.status = exitGeneric
		return c.result()
	}
	c.doSignal(ctx, fs.Arg(0), fs.Args()[1:])
	return c.result()
}

func (c *ctl) signalResult(r xmlrpcResult, success string) (string, bool) {
	name := supervise.Namespec(r.group, r.name)
	switch r.code {
	case supervise.FaultBadName:
		return name + ": ERROR (no such process)", true
	case supervise.FaultBadSignal:
		return name + ": ERROR (bad signal name)", true
	case supervise.FaultNotRunning:
		return name + ": ERROR (not running)", true
	case supervise.FaultSuccess:
		return name + ": " + success, true
	case supervise.FaultFailed:
		return r.description, true
	}
	return "", c.badResult(r.code, name)
}

func (c *ctl) signalledResult(r xmlrpcResult) (string, bool) {
	return c.signalResult(r, "signalled")
}

func (c *ctl) doSignal(ctx context.Context, sig string, names []string) {
	if slices.Contains(names, "all") {
		v, err := c.call(ctx, "supervisor.signalAllProcesses", sig)
		if err != nil {
			c.fail(err)
			return
		}
		c.printResults(v, c.signalledResult)
		return
	}
	for _, name := range names {
		group, process, wholeGroup := splitNamespec(name)
		if wholeGroup {
			v, err := c.call(ctx, "supervisor.signalProcessGroup", group, sig)
			if code, _, ok := faultCode(err); ok && code == supervise.FaultBadName {
				c.printf("%s: ERROR (no such group)", group)
				c.status = exitGeneric
				continue
			} else if err != nil {
				c.fail(err)
				return
			}
			if !c.printResults(v, c.signalledResult) {
				return
			}
			continue
		}
		_, err := c.call(ctx, "supervisor.signalProcess", name, sig)
		if code, desc, ok := faultCode(err); ok {
			line, known := c.signalledResult(xmlrpcResult{name: process, group: group, code: code, description: desc})
			if !known {
				return
			}
			c.printf("%s", line)
			c.setStatusFromFault(code)
			continue
		} else if err != nil {
			c.fail(err)
			return
		}
		c.printf("%s: signalled", supervise.Namespec(group, process))
	}
}
