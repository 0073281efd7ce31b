package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"keeper/supervise"
)

func init() {
	commands["sessions"] = &command{
		summary: "list the detached terminal sessions of programs",
		usage: `keeper [-c FILE | -s unix:///PATH] sessions [--json] [NAME|GROUP:*...]

Lists every session (a dtach or keeper dtach master that left its program's
process group) of the named programs, or of all programs: program, session
name, socket, master pid, the program on the pty (pid and command), clients
connected, state (attached or detached), age, and what the session costs
(MEM: PSS, or RSS, of the master and everything on its pty; CPU: percent of
one core since the last reading). keeper attach accepts the
names it prints. A session outlives a stop of its program, and the daemon.`,
		run: runSessions,
	}
	commands["kill-sessions"] = &command{
		summary: "reap the detached terminal sessions of programs",
		usage: `keeper [-c FILE | -s unix:///PATH] kill-sessions [NAME|GROUP:*...]

Reaps every session of the named programs (of all programs with no name)
completely: SIGHUP to the foreground of its terminal, SIGTERM to the master
and everything the session's program started, SIGKILL to what is left after
a grace period. The programs themselves are not touched. Prints one line
per session reaped.`,
		run: runKillSessions,
	}
}

// sessionJSON is one session in keeper sessions --json.
type sessionJSON struct {
	Program  string `json:"program"`
	Name     string `json:"name"`
	Socket   string `json:"socket"`
	PID      int    `json:"pid"`
	ChildPID int    `json:"child_pid"`
	Command  string `json:"command"`
	Clients  int    `json:"clients"`
	State    string `json:"state"`
	Maker    string `json:"maker"`
	Created  int    `json:"created"`
	Age      int    `json:"age_seconds"`
	// Usage is what the master and everything on its pty cost.
	Usage *supervise.Usage `json:"usage,omitempty"`
}

func sessionsFrom(v any) []sessionJSON {
	var out []sessionJSON
	for _, item := range arrayOf(v) {
		s := structOf(item)
		out = append(out, sessionJSON{
			Program: getStr(s, "program"), Name: getStr(s, "name"), Socket: getStr(s, "socket"),
			PID: getInt(s, "pid"), ChildPID: getInt(s, "child_pid"), Command: getStr(s, "command"),
			Clients: getInt(s, "clients"), State: getStr(s, "state"), Maker: getStr(s, "maker"),
			Created: getInt(s, "created"), Age: getInt(s, "age"),
		})
	}
	return out
}

// usageOfSessions reads the usage keeper.getSessions gave with each
// session, by socket; false when it gave none (a daemon from before).
func usageOfSessions(v any) (map[string]supervise.Usage, bool) {
	list := arrayOf(v)
	if len(list) == 0 {
		return nil, true
	}
	if _, ok := structOf(list[0]).Get("rss_kb"); !ok {
		return nil, false
	}
	u, err := supervise.DecodeUsages(v, "socket")
	return u, err == nil
}

func namesArg(names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

func runSessions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("sessions", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	// The sessions with their usage, in one call and from one reading of
	// the processes.
	v, up, err := c.upcheckAnd(ctx, "keeper.getSessions", namesArg(fs.Args()), true)
	if !up {
		return c.result()
	}
	if err != nil {
		c.fail(err)
		return c.result()
	}
	list := sessionsFrom(v)
	usage, ok := usageOfSessions(v)
	if !ok { // a daemon from before getSessions gave usage
		usage = c.usage(ctx, "keeper.getSessionUsage", "socket", fs.Args())
	}
	for i := range list {
		if u, ok := usage[list[i].Socket]; ok {
			list[i].Usage = &u
		}
	}
	if *asJSON {
		if list == nil {
			list = []sessionJSON{}
		}
		if err := writeJSON(stdout, list); err != nil {
			return err
		}
		return c.result()
	}
	if len(list) == 0 {
		c.printf("no sessions")
		return c.result()
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tNAME\tSOCKET\tMASTER\tPTY PID\tCOMMAND\tCLIENTS\tSTATE\tAGE\tMEM\tCPU")
	for _, s := range list {
		mem, cpu := "-", "-"
		if s.Usage != nil {
			mem, cpu = formatUsageMem(*s.Usage), fmt.Sprintf("%.1f%%", s.Usage.CPUPercent)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Program, s.Name, s.Socket, s.PID, s.ChildPID,
			shorten(s.Command, 40), s.Clients, s.State, formatAge(time.Duration(s.Age)*time.Second), mem, cpu)
	}
	tw.Flush()
	return c.result()
}

func runKillSessions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("kill-sessions", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	v, up, err := c.upcheckAnd(ctx, "keeper.killSessions", namesArg(fs.Args()))
	if !up {
		return c.result()
	}
	if err != nil {
		c.fail(err)
		return c.result()
	}
	printReaped(c, sessionsFrom(v))
	return c.result()
}

// printReaped says what a kill of sessions reaped, one line a session.
func printReaped(c *ctl, list []sessionJSON) {
	if len(list) == 0 {
		c.printf("no sessions to kill")
		return
	}
	for _, s := range list {
		what := fmt.Sprintf("master pid %d", s.PID)
		if s.ChildPID != 0 {
			what += fmt.Sprintf(", %s (pid %d)", shorten(s.Command, 40), s.ChildPID)
		}
		c.printf("%s: session %s killed (%s)", s.Program, s.Name, what)
	}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// formatAge writes an age the way ps does: 5s, 3m07s, 2h05m, 4d03h.
func formatAge(d time.Duration) string {
	s := int(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}
