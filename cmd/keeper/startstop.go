package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/pflag"

	"keeper/supervise"
)

const (
	startHelp = "start <name>\t\tStart a process\n" +
		"start <gname>:*\t\tStart all processes in a group\n" +
		"start <name> <name>\tStart multiple processes or groups\n" +
		"start all\t\tStart all processes"
	stopHelp = "stop <name>\t\tStop a process\n" +
		"stop <gname>:*\t\tStop all processes in a group\n" +
		"stop <name> <name>\tStop multiple processes or groups\n" +
		"stop all\t\tStop all processes"
	restartHelp = "restart <name>\t\tRestart a process\n" +
		"restart <gname>:*\tRestart all processes in a group\n" +
		"restart <name> <name>\tRestart multiple processes or groups\n" +
		"restart all\t\tRestart all processes\n" +
		"Note: restart does not reread config files. For that, see reread and update."
)

func init() {
	commands["start"] = &command{
		summary: "start processes: NAME, GROUP:* or all",
		usage: `keeper [-c FILE | -s unix:///PATH] start NAME|GROUP:*|all...

Prints "NAME: started" or "NAME: ERROR (...)" per process, as supervisorctl
does. Exit status: 0 (also when already started), 1 for an unknown name,
2 for an unknown group or no name, 7 when a program failed to start,
7 (no socket) or 4 (refused connection) when no daemon answers.`,
		run: ctlRunner("start", startHelp, (*ctl).doStart),
	}
	commands["stop"] = &command{
		summary: "stop processes: NAME, GROUP:* or all; their sessions stay unless told",
		usage: `keeper [-c FILE | -s unix:///PATH] stop [--keep-sessions|--kill-sessions] NAME|GROUP:*|all...

Prints "NAME: stopped" or "NAME: ERROR (...)" per process, as supervisorctl
does. The program's detached terminal sessions keep running (and listed)
unless --kill-sessions is given or the program says sessions=kill; with
--kill-sessions each reaped session gets a line. Exit status: 0 (also when
not running), 1 for an unknown name or group, 7 (no socket) or 4 (refused
connection) when no daemon answers.`,
		run: runStop,
	}
	commands["restart"] = &command{
		summary: "stop, then start processes: NAME, GROUP:* or all",
		usage: `keeper [-c FILE | -s unix:///PATH] restart NAME|GROUP:*|all...

Runs stop, then start, with their messages and exit statuses. It does not
reread the config: see reread and update.`,
		run: ctlRunner("restart", restartHelp, func(c *ctl, ctx context.Context, names []string) {
			if c.doStop(ctx, names); !c.aborted {
				c.doStart(ctx, names)
			}
		}),
	}
}

// ctlRunner makes the run function of a command that checks the daemon is
// up, then wants at least one name: supervisorctl's start, stop, restart
// and clear.
func ctlRunner(name, help string, do func(c *ctl, ctx context.Context, names []string)) func(context.Context, []string, io.Writer, io.Writer) error {
	return ctlCommand{name: name, help: help, do: do}.run
}

// ctlCommand is a control command that takes process names: its own flags
// (flags adds them, check validates them once parsed), then do on the names.
type ctlCommand struct {
	name, help string
	flags      func(fs *pflag.FlagSet)
	check      func(stderr io.Writer) error
	do         func(c *ctl, ctx context.Context, names []string)
}

func (cc ctlCommand) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags(cc.name, stderr)
	if cc.flags != nil {
		cc.flags(fs)
	}
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	if cc.check != nil {
		if err := cc.check(stderr); err != nil {
			return err
		}
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if !c.upcheck(ctx) {
		return c.result()
	}
	if fs.NArg() == 0 {
		c.printf("Error: %s requires a process name", cc.name)
		c.status = exitGeneric
		if cc.name == "start" {
			c.status = exitInvalidArgs
		}
		c.printf("%s", cc.help)
		return c.result()
	}
	cc.do(c, ctx, fs.Args())
	return c.result()
}

// sessionsFlags are --keep-sessions and --kill-sessions, which stop and
// shutdown take.
type sessionsFlags struct{ keep, kill bool }

func (f *sessionsFlags) add(fs *pflag.FlagSet, keepHelp, killHelp string) {
	fs.BoolVar(&f.keep, "keep-sessions", false, keepHelp)
	fs.BoolVar(&f.kill, "kill-sessions", false, killHelp)
}

// check refuses both flags at once, naming the command.
func (f *sessionsFlags) check(command string, stderr io.Writer) error {
	if f.keep && f.kill {
		fmt.Fprintf(stderr, "keeper: %s: --keep-sessions and --kill-sessions exclude each other\n", command)
		return exitError{exitInvalidArgs}
	}
	return nil
}

// mode is the sessions mode the flags ask for; ok is false when neither was
// given.
func (f *sessionsFlags) mode() (mode supervise.Sessions, ok bool) {
	switch {
	case f.kill:
		return supervise.SessionsKill, true
	case f.keep:
		return supervise.SessionsKeep, true
	}
	return "", false
}

// badResult prints a result code a command has no message for and ends the
// command, as supervisorctl does; it returns false for the formatter's ok.
func (c *ctl) badResult(code int, name string) bool {
	c.printf("error: unknown result code %d for %s", code, name)
	c.status = exitGeneric
	c.aborted = true
	return false
}

func (c *ctl) startResult(r xmlrpcResult) (string, bool) {
	name := supervise.Namespec(r.group, r.name)
	switch r.code {
	case supervise.FaultBadName:
		return name + ": ERROR (no such process)", true
	case supervise.FaultNoFile:
		return name + ": ERROR (no such file)", true
	case supervise.FaultNotExecutable:
		return name + ": ERROR (file is not executable)", true
	case supervise.FaultAlreadyStarted:
		return name + ": ERROR (already started)", true
	case supervise.FaultSpawnError:
		return name + ": ERROR (spawn error)", true
	case supervise.FaultAbnormalTermination:
		return name + ": ERROR (abnormal termination)", true
	case supervise.FaultSuccess:
		return name + ": started", true
	}
	return "", c.badResult(r.code, name)
}

// printResults prints the results of a start, stop, signal or clear of
// several processes and sets the exit status from each. It reports false
// when a result ended the command.
func (c *ctl) printResults(v any, format func(xmlrpcResult) (string, bool), ignored ...int) bool {
	for _, item := range arrayOf(v) {
		r := resultOf(item)
		line, ok := format(r)
		if !ok {
			return false
		}
		c.printf("%s", line)
		c.setStatusFromFault(r.code, ignored...)
	}
	return true
}

// action is start or stop as supervisorctl drives it: one XML-RPC method
// for all, one for a group, one for a process.
type action struct {
	all, group, one string
	done            string // "started", "stopped"
	result          func(c *ctl, r xmlrpcResult) (string, bool)
	ignored         int // the fault that is no failure (already started, not running)
	noGroupStatus   int // exit status for an unknown group
}

var (
	startAction = action{
		all: "supervisor.startAllProcesses", group: "supervisor.startProcessGroup", one: "supervisor.startProcess",
		done: "started", result: (*ctl).startResult, ignored: supervise.FaultAlreadyStarted, noGroupStatus: exitInvalidArgs,
	}
	stopAction = action{
		all: "supervisor.stopAllProcesses", group: "supervisor.stopProcessGroup", one: "supervisor.stopProcess",
		done: "stopped", result: (*ctl).stopResult, ignored: supervise.FaultNotRunning, noGroupStatus: exitGeneric,
	}
)

func (c *ctl) doStart(ctx context.Context, names []string) { c.do(ctx, names, startAction) }

func (c *ctl) doStop(ctx context.Context, names []string) { c.do(ctx, names, stopAction) }

// do runs a on names (all, group:* or processes), printing supervisorctl's
// lines.
func (c *ctl) do(ctx context.Context, names []string, a action) {
	result := func(r xmlrpcResult) (string, bool) { return a.result(c, r) }
	if slices.Contains(names, "all") {
		v, err := c.call(ctx, a.all)
		if err != nil {
			c.fail(err)
			return
		}
		c.printResults(v, result, a.ignored)
		return
	}
	for _, name := range names {
		group, process, wholeGroup := splitNamespec(name)
		if wholeGroup {
			v, err := c.call(ctx, a.group, group)
			if code, _, ok := faultCode(err); ok && code == supervise.FaultBadName {
				c.printf("%s: ERROR (no such group)", group)
				c.status = a.noGroupStatus
				continue
			} else if err != nil {
				c.fail(err)
				return
			}
			if !c.printResults(v, result, a.ignored) {
				return
			}
			continue
		}
		var deps []string
		if a.one == startAction.one {
			// keeper starts what x depends on first; it says so.
			if v, err := c.call(ctx, "keeper.missingDependencies", name); err == nil {
				for _, d := range arrayOf(v) {
					if s, ok := d.(string); ok {
						deps = append(deps, s)
					}
				}
			}
		}
		_, err := c.call(ctx, a.one, name)
		if err == nil {
			for _, d := range deps {
				c.printf("%s: started (%s depends on it)", d, supervise.Namespec(group, process))
			}
		}
		if code, desc, ok := faultCode(err); ok {
			line, known := result(xmlrpcResult{name: process, group: group, code: code, description: desc})
			if !known {
				return
			}
			c.printf("%s", line)
			c.setStatusFromFault(code, a.ignored)
			continue
		} else if err != nil {
			c.fail(err)
			return
		}
		c.printf("%s: %s", supervise.Namespec(group, process), a.done)
	}
}

func (c *ctl) stopResult(r xmlrpcResult) (string, bool) {
	return c.signalResult(r, "stopped")
}

// xmlrpcResult is one entry of the arrays that supervisord's start, stop,
// signal and clear methods for several processes return.
type xmlrpcResult struct {
	name, group, description string
	code                     int
}

func resultOf(v any) xmlrpcResult {
	s := structOf(v)
	return xmlrpcResult{
		name:        getStr(s, "name"),
		group:       getStr(s, "group"),
		description: getStr(s, "description"),
		code:        getInt(s, "status"),
	}
}

func runStop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var sessions sessionsFlags
	return ctlCommand{
		name: "stop",
		help: stopHelp,
		flags: func(fs *pflag.FlagSet) {
			sessions.add(fs, "leave the program's sessions running", "reap the program's sessions after it stopped")
		},
		check: func(stderr io.Writer) error { return sessions.check("stop", stderr) },
		do: func(c *ctl, ctx context.Context, names []string) {
			if mode, ok := sessions.mode(); ok {
				c.doStopSessions(ctx, names, mode)
				return
			}
			c.doStop(ctx, names)
		},
	}.run(ctx, args, stdout, stderr)
}

// doStopSessions stops processes with keeper.stopProcess, which keeps or
// reaps their sessions as mode says, printing supervisorctl's lines and one
// line per reaped session.
func (c *ctl) doStopSessions(ctx context.Context, names []string, mode supervise.Sessions) {
	var targets []string
	for _, name := range names {
		group, _, wholeGroup := splitNamespec(name)
		if name != "all" && !wholeGroup {
			targets = append(targets, name)
			continue
		}
		v, err := c.call(ctx, "supervisor.getAllProcessInfo")
		if err != nil {
			c.fail(err)
			return
		}
		infos, err := supervise.DecodeProcessInfos(v)
		if err != nil {
			c.fail(err)
			return
		}
		found := false
		for _, info := range infos {
			if name == "all" || info.Group == group {
				found = true
				if !info.State.Stopped() {
					targets = append(targets, info.Namespec())
				}
			}
		}
		if !found && name != "all" {
			c.printf("%s: ERROR (no such group)", group)
			c.status = exitGeneric
		}
	}
	for _, name := range targets {
		group, process, _ := splitNamespec(name)
		v, err := c.call(ctx, "keeper.stopProcess", name, true, string(mode))
		if code, desc, ok := faultCode(err); ok {
			line, known := c.stopResult(xmlrpcResult{name: process, group: group, code: code, description: desc})
			if !known {
				return
			}
			c.printf("%s", line)
			c.setStatusFromFault(code, supervise.FaultNotRunning)
			continue
		} else if err != nil {
			c.fail(err)
			return
		}
		c.printf("%s: stopped", supervise.Namespec(group, process))
		if mode == supervise.SessionsKill {
			printReaped(c, sessionsFrom(v))
		}
	}
}
