package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"keeper/supervise"
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

-v adds what each running process's tree costs (MEM: resident memory, PSS
where the kernel gives it; CPU: percent of one core since the last reading;
PROCS: processes), and a last line saying how the daemon tells a program's
processes (the whole tree a stop takes) from others:
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
  usage                     of a running process's tree, against keeper: rss_bytes,
                            pss_bytes, cpu_percent, cpu_seconds, processes, threads, fds
Messages about unknown names then go to stderr; the exit status is the same.`,
		run: runStatus,
	}
}

// processStatus is one process in status --json's output.
type processStatus struct {
	supervise.ProcessInfo
	Namespec string           `json:"namespec"`
	Usage    *supervise.Usage `json:"usage,omitempty"`
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
	all, err := supervise.DecodeProcessInfos(v)
	if err != nil {
		c.fail(fmt.Errorf("status: %w", err))
		return c.result()
	}
	matching := all
	names := fs.Args()
	if len(names) > 0 && !slices.Contains(names, "all") {
		matching = nil
		for _, name := range names {
			group, process, wholeGroup := splitNamespec(name)
			found := false
			for _, info := range all {
				if info.Group == group && (wholeGroup || info.Name == process) {
					found = true
					matching = append(matching, info)
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
	var usage map[string]supervise.Usage
	if *asJSON || *verbose {
		usage = c.usage(ctx, "keeper.getProcessUsage", "namespec", names)
	}
	if *asJSON {
		list := make([]processStatus, 0, len(matching))
		for _, info := range matching {
			st := processStatus{ProcessInfo: info, Namespec: info.Namespec()}
			if u, ok := usage[st.Namespec]; ok {
				st.Usage = &u
			}
			list = append(list, st)
		}
		if err := writeJSON(stdout, list); err != nil {
			return fmt.Errorf("status: write json: %w", err)
		}
	} else {
		if *verbose {
			showUsage(c, matching, usage)
		} else {
			showStatuses(c, matching)
		}
		if *verbose {
			if v, err := c.call(ctx, "keeper.getTracking"); err == nil {
				c.printf("process tracking: %s", v)
			}
		}
	}
	for _, info := range matching {
		if info.State.Stopped() {
			c.status = exitStatusStopped
		}
	}
	return c.result()
}

// showStatuses prints supervisorctl's status table: the name column is at
// least 30 wide plus 3 spaces, the state column 10.
func showStatuses(c *ctl, infos []supervise.ProcessInfo) {
	width := 30
	for _, info := range infos {
		if n := len([]rune(info.Namespec())); n > width {
			width = n
		}
	}
	for _, info := range infos {
		c.printf("%-*s%-10s%s", width+3, info.Namespec(), info.StateName, info.Description)
	}
}

// usage calls a keeper.get*Usage method; nil when the daemon has none
// (supervisord) or it failed.
func (c *ctl) usage(ctx context.Context, method, key string, names []string) map[string]supervise.Usage {
	v, err := c.call(ctx, method, namesArg(names))
	if err != nil {
		return nil
	}
	u, err := supervise.DecodeUsages(v, key)
	if err != nil {
		return nil
	}
	return u
}

// showUsage prints status -v: supervisorctl's columns, the description
// padded, then what each running process's tree costs.
func showUsage(c *ctl, infos []supervise.ProcessInfo, usage map[string]supervise.Usage) {
	tw := tabwriter.NewWriter(c.out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tDESCRIPTION\tMEM\tCPU\tPROCS")
	for _, info := range infos {
		mem, cpu, procs := "-", "-", "-"
		if u, ok := usage[info.Namespec()]; ok {
			mem, cpu, procs = formatUsageMem(u), fmt.Sprintf("%.1f%%", u.CPUPercent), fmt.Sprint(u.Processes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", info.Namespec(), info.StateName, info.Description, mem, cpu, procs)
	}
	tw.Flush()
}

// formatUsageMem shows PSS where the kernel gives it (shared pages counted
// once), else RSS.
func formatUsageMem(u supervise.Usage) string {
	if u.PSS > 0 {
		return supervise.FormatBytes(u.PSS)
	}
	return supervise.FormatBytes(u.RSS)
}
