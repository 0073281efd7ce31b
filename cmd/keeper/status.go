package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"keeper/supervise/xmlrpc"
)

func init() {
	commands["status"] = &command{
		summary: "show the state of every process, or of the named ones",
		usage: `keeper [-c FILE | -s unix:///PATH] status [-v] [--json] [NAME | GROUP:* | all]...

Prints one line per process, as supervisorctl status does:

  NAME                             STATE     DESCRIPTION

Exit status: 0 when every listed process is running (or starting, stopping,
backing off), 3 when one is stopped, exited, fatal or unknown, 4 for a name
that does not exist or when no daemon answers.

-v adds a last line saying how the daemon tells a program's processes
(the whole tree a stop takes) from others:
  process tracking: cgroup v2: each program in DIR/programs/NAME, ...
  process tracking: process groups and the instance mark (no cgroup v2: WHY)

--json prints a JSON array instead, one object per process, with the keys
  name, group, namespec     process name, group name, and NAME or GROUP:NAME
  state, statename          state code (20) and name ("RUNNING")
  pid                       process id, 0 when not running
  description               what the text output shows after the state
  start, stop, now          last start, last stop and the daemon's time (unix seconds)
  exitstatus, spawnerr      last exit status; last spawn error ("" if none)
  stdout_logfile, stderr_logfile
Messages about unknown names then go to stderr; the exit status is the same.`,
		run: runStatus,
	}
}

// processStatus is one process in status --json's output.
type processStatus struct {
	Name          string `json:"name"`
	Group         string `json:"group"`
	Namespec      string `json:"namespec"`
	State         int    `json:"state"`
	StateName     string `json:"statename"`
	PID           int    `json:"pid"`
	Description   string `json:"description"`
	Start         int    `json:"start"`
	Stop          int    `json:"stop"`
	Now           int    `json:"now"`
	ExitStatus    int    `json:"exitstatus"`
	SpawnErr      string `json:"spawnerr"`
	StdoutLogfile string `json:"stdout_logfile"`
	StderrLogfile string `json:"stderr_logfile"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("status", stderr)
	asJSON := fs.Bool("json", false, "print a JSON array")
	verbose := fs.BoolP("verbose", "v", false, "say how the daemon tracks a program's processes")
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		c.out = stderr // messages; the JSON goes to stdout
	}
	v, up, err := c.upcheckAnd(ctx, "supervisor.getAllProcessInfo")
	if !up {
		if !c.aborted { // supervisorctl's status answers 4 to any "not up"
			c.status = exitStatusUnknown
		}
		return c.result()
	}
	if err != nil {
		c.fail(err)
		return c.result()
	}
	all := arrayOf(v)
	matching := all
	names := fs.Args()
	if len(names) > 0 && !slices.Contains(names, "all") {
		matching = nil
		for _, name := range names {
			group, process, wholeGroup := splitNamespec(name)
			found := false
			for _, item := range all {
				info := structOf(item)
				if getStr(info, "group") == group && (wholeGroup || getStr(info, "name") == process) {
					found = true
					matching = append(matching, item)
				}
			}
			if !found {
				if wholeGroup {
					c.printf("%s: ERROR (no such group)", group)
				} else {
					c.printf("%s: ERROR (no such process)", name)
				}
				c.status = exitStatusUnknown
			}
		}
	}
	if *asJSON {
		list := make([]processStatus, 0, len(matching))
		for _, item := range matching {
			list = append(list, statusOf(structOf(item)))
		}
		if err := writeJSON(stdout, list); err != nil {
			return fmt.Errorf("status: write json: %w", err)
		}
	} else {
		showStatuses(c, matching)
		if *verbose {
			if v, err := c.call(ctx, "keeper.getTracking"); err == nil {
				c.printf("process tracking: %s", v)
			}
		}
	}
	for _, item := range matching {
		if isStoppedState(getInt(structOf(item), "state")) {
			c.status = exitStatusStopped
		}
	}
	return c.result()
}

// showStatuses prints supervisorctl's status table: the name column is at
// least 30 wide plus 3 spaces, the state column 10.
func showStatuses(c *ctl, infos []any) {
	specs := make([]string, len(infos))
	width := 30
	for i, item := range infos {
		info := structOf(item)
		specs[i] = makeNamespec(getStr(info, "group"), getStr(info, "name"))
		if n := len([]rune(specs[i])); n > width {
			width = n
		}
	}
	for i, item := range infos {
		info := structOf(item)
		c.printf("%-*s%-10s%s", width+3, specs[i], getStr(info, "statename"), getStr(info, "description"))
	}
}

func statusOf(s xmlrpc.Struct) processStatus {
	return processStatus{
		Name:          getStr(s, "name"),
		Group:         getStr(s, "group"),
		Namespec:      makeNamespec(getStr(s, "group"), getStr(s, "name")),
		State:         getInt(s, "state"),
		StateName:     getStr(s, "statename"),
		PID:           getInt(s, "pid"),
		Description:   getStr(s, "description"),
		Start:         getInt(s, "start"),
		Stop:          getInt(s, "stop"),
		Now:           getInt(s, "now"),
		ExitStatus:    getInt(s, "exitstatus"),
		SpawnErr:      getStr(s, "spawnerr"),
		StdoutLogfile: getStr(s, "stdout_logfile"),
		StderrLogfile: getStr(s, "stderr_logfile"),
	}
}
