package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// reexecWait bounds how long `keeper reexec` waits for the new daemon.
const reexecWait = 30 * time.Second

func init() {
	commands["reexec"] = &command{
		summary: "execute the daemon's binary again in place (upgrade)",
		usage: `keeper [-c FILE | -s unix:///PATH] reexec

Makes the daemon execute its binary again (the one at its path now, so a
new version after an install) in the same pid, keeping the control socket,
every program (same pid, state, uptime, log pipes, nothing restarted) and
the sessions. The running configuration's programs are kept: a config
changed on disk is applied by update, not by reexec. Waits for the new
daemon to answer and prints how long it took, its pid and version; exit
status 1 when the daemon refused or the exec failed (the old daemon then
carries on). SIGUSR1 to the daemon does the same.`,
		run: runReexec,
	}
}

func runReexec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("reexec", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if c.refuseArgs(fs, "reexec", "") {
		return c.result()
	}
	before, up, err := c.upcheckAnd(ctx, "keeper.getReexec")
	if !up {
		return c.result()
	}
	if err != nil {
		c.fail(err)
		return c.result()
	}
	oldErr := getStr(structOf(before), "error")
	from := getInt(structOf(before), "count")
	start := time.Now()
	// With the count: a call the client sends again after the exec cut
	// its connection reaches the new daemon, which must not exec again.
	v, err := c.call(ctx, "keeper.reexec", from)
	if _, msg, ok := faultCode(err); ok {
		c.status = exitGeneric
		c.printf("keeper reexec: %s", msg)
		return c.result()
	}
	// Without the reply (the exec cut the connection), any later count
	// is a new daemon's.
	want := from + 1
	if err == nil {
		want, _ = v.(int)
	}
	if err := waitReexec(ctx, c, want, oldErr); err != nil {
		c.status = exitGeneric
		c.printf("keeper reexec: %v", err)
		return c.result()
	}
	took := time.Since(start)
	pid, _ := c.call(ctx, "supervisor.getPID")
	version, _ := c.call(ctx, "supervisor.getSupervisorVersion")
	c.printf("keeper reexec: done in %s (pid %s, version %s)", took.Round(time.Millisecond), pyStr(pid), pyStr(version))
	return c.result()
}

// waitReexec waits until the daemon reports the exec count want and has
// taken over its programs (the new daemon runs), or a new exec error (the
// old one carries on).
func waitReexec(ctx context.Context, c *ctl, want int, oldErr string) error {
	ctx, cancel := context.WithTimeout(ctx, reexecWait)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := c.call(ctx, "keeper.getReexec")
		if err == nil {
			s := structOf(v)
			if getInt(s, "count") >= want && getBool(s, "ready") {
				return nil
			}
			if e := getStr(s, "error"); e != "" && e != oldErr {
				return errors.New(e)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no new daemon answered on %s within %s (see its log)", c.url, reexecWait)
		case <-tick.C:
		}
	}
}
