package main

import (
	"context"
	"fmt"
	"io"

	"keeper/supervise"
	"keeper/supervise/xmlrpc"
)

const availHelp = "avail\t\t\tDisplay all configured processes"

func init() {
	commands["avail"] = &command{
		summary: "list every configured process, active or not",
		usage: `keeper [-c FILE | -s unix:///PATH] avail [--json]

Prints one line per process of the daemon's config, as supervisorctl does:

  NAME                             in use|avail auto|manual GROUPPRIO:PRIO

--json prints a JSON array instead, one object per process, with the keys
  name, group, namespec     process name, group name, and NAME or GROUP:NAME
  in_use, state             whether its group is active; "in use" or "avail"
  autostart                 whether it starts with the daemon
  priority, group_priority  the process's and its group's priority
  command                   the command line`,
		run: runAvail,
	}
}

// availInfo is one process in avail --json's output.
type availInfo struct {
	Name          string `json:"name"`
	Group         string `json:"group"`
	Namespec      string `json:"namespec"`
	InUse         bool   `json:"in_use"`
	State         string `json:"state"`
	Autostart     bool   `json:"autostart"`
	Priority      int    `json:"priority"`
	GroupPriority int    `json:"group_priority"`
	Command       string `json:"command"`
}

func availOf(s xmlrpc.Struct) availInfo {
	a := availInfo{
		Name:          getStr(s, "name"),
		Group:         getStr(s, "group"),
		InUse:         getBool(s, "inuse"),
		State:         "avail",
		Autostart:     getBool(s, "autostart"),
		Priority:      getInt(s, "process_prio"),
		GroupPriority: getInt(s, "group_prio"),
		Command:       getStr(s, "command"),
	}
	a.Namespec = supervise.Namespec(a.Group, a.Name)
	if a.InUse {
		a.State = "in use"
	}
	return a
}

func runAvail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("avail", stderr)
	asJSON := fs.Bool("json", false, "print a JSON array")
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if c.refuseArgs(fs, "avail", availHelp) {
		return c.result()
	}
	if *asJSON {
		c.out = stderr // messages; the JSON goes to stdout
	}
	v, err := c.call(ctx, "supervisor.getAllConfigInfo")
	if code, _, ok := faultCode(err); ok && code == supervise.FaultShutdownState {
		c.status = exitGeneric
		c.printf("ERROR: supervisor shutting down")
		return c.result()
	} else if err != nil {
		c.fail(err)
		return c.result()
	}
	list := make([]availInfo, 0)
	for _, item := range arrayOf(v) {
		list = append(list, availOf(structOf(item)))
	}
	if *asJSON {
		if err := writeJSON(stdout, list); err != nil {
			return fmt.Errorf("avail: write json: %w", err)
		}
		return c.result()
	}
	for _, item := range arrayOf(v) {
		s := structOf(item)
		a := availOf(s)
		auto := "manual"
		if a.Autostart {
			auto = "auto"
		}
		prio := getStr(s, "group_prio") + ":" + getStr(s, "process_prio")
		c.printf("%-32s %-9s %-9s %s", a.Namespec, a.State, auto, prio)
	}
	return c.result()
}
