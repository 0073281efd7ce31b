package main

import (
	"context"
	"slices"

	"keeper/supervise"
)

const clearHelp = "clear <name>\t\tClear a process' log files.\n" +
	"clear <name> <name>\tClear multiple process' log files\n" +
	"clear all\t\tClear all process' log files"

func init() {
	commands["clear"] = &command{
		summary: "clear the log files of processes: NAME or all",
		usage: `keeper [-c FILE | -s unix:///PATH] clear NAME...|all

Empties the stdout and stderr logs of the processes. Prints "NAME: cleared"
or "NAME: ERROR (...)" per process, as supervisorctl does. Exit status: 0,
1 for an unknown name, 7 (no socket) or 4 (refused connection) when no
daemon answers.`,
		run: ctlRunner("clear", clearHelp, (*ctl).doClear),
	}
}

func (c *ctl) clearResult(r xmlrpcResult) (string, bool) {
	name := supervise.Namespec(r.group, r.name)
	switch r.code {
	case supervise.FaultBadName:
		return name + ": ERROR (no such process)", true
	case supervise.FaultFailed:
		return name + ": ERROR (failed)", true
	case supervise.FaultSuccess:
		return name + ": cleared", true
	}
	return "", c.badResult(r.code, name)
}

func (c *ctl) doClear(ctx context.Context, names []string) {
	if slices.Contains(names, "all") {
		v, err := c.call(ctx, "supervisor.clearAllProcessLogs")
		if err != nil {
			c.fail(err)
			return
		}
		c.printResults(v, c.clearResult)
		return
	}
	for _, name := range names {
		group, process, wholeGroup := splitNamespec(name)
		if wholeGroup {
			process = "None" // supervisorctl prints Python's None for GROUP:*
		}
		_, err := c.call(ctx, "supervisor.clearProcessLogs", name)
		if code, desc, ok := faultCode(err); ok {
			line, known := c.clearResult(xmlrpcResult{name: process, group: group, code: code, description: desc})
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
		c.printf("%s: cleared", supervise.Namespec(group, process))
	}
}
