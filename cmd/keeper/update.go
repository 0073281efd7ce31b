package main

import (
	"context"
	"io"
	"slices"
	"sort"

	"keeper/supervise"
)

const rereadHelp = "reread \t\t\tReload the daemon's configuration files without add/remove"

func init() {
	commands["reread"] = &command{
		summary: "reread the daemon's config and show what changed",
		usage: `keeper [-c FILE | -s unix:///PATH] reread

Prints "GROUP: available|changed|disappeared" per group whose config
changed, or "No config updates to processes". Nothing is started or
stopped: see update.`,
		run: runReread,
	}
	commands["update"] = &command{
		summary: "reread the config, then add, remove and restart changed groups",
		usage: `keeper [-c FILE | -s unix:///PATH] update [all | GROUP...]

Rereads the daemon's config; stops and removes the groups that
disappeared, stops and re-adds the changed ones, adds the new ones. With
group names, only those groups.`,
		run: runUpdate,
	}
	commands["add"] = &command{
		summary: "activate groups added to the config (after reread)",
		usage:   `keeper [-c FILE | -s unix:///PATH] add GROUP...`,
		run:     runAdd,
	}
	commands["remove"] = &command{
		summary: "deactivate stopped groups removed from the config (after reread)",
		usage:   `keeper [-c FILE | -s unix:///PATH] remove GROUP...`,
		run:     runRemove,
	}
}

func runReread(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("reread", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if c.refuseArgs(fs, "reread", rereadHelp) {
		return c.result()
	}
	v, err := c.call(ctx, "supervisor.reloadConfig")
	if code, text, ok := faultCode(err); ok && (code == supervise.FaultShutdownState || code == supervise.FaultCantReread) {
		c.status = exitGeneric
		if code == supervise.FaultShutdownState {
			c.printf("ERROR: supervisor shutting down")
		} else {
			c.printf("ERROR: %s", text)
		}
		return c.result()
	} else if err != nil {
		c.fail(err)
		return c.result()
	}
	added, changed, removed := configChanges(v)
	kind := map[string]string{}
	for _, n := range added {
		kind[n] = "available"
	}
	for _, n := range changed {
		kind[n] = "changed"
	}
	for _, n := range removed {
		kind[n] = "disappeared"
	}
	if len(kind) == 0 {
		c.printf("No config updates to processes")
		return c.result()
	}
	names := make([]string, 0, len(kind))
	for n := range kind {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.printf("%s: %s", n, kind[n])
	}
	return c.result()
}

// configChanges reads supervisor.reloadConfig's answer, [[added, changed,
// removed]], three lists of group names.
func configChanges(v any) (added, changed, removed []string) {
	outer := arrayOf(v)
	if len(outer) == 0 {
		return nil, nil, nil
	}
	lists := arrayOf(outer[0])
	get := func(i int) []string {
		if i >= len(lists) {
			return nil
		}
		var names []string
		for _, n := range arrayOf(lists[i]) {
			names = append(names, pyStr(n))
		}
		return names
	}
	return get(0), get(1), get(2)
}

func runUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("update", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	c.doUpdate(ctx, fs.Args())
	return c.result()
}

func (c *ctl) doUpdate(ctx context.Context, args []string) {
	v, err := c.call(ctx, "supervisor.reloadConfig")
	if code, _, ok := faultCode(err); ok && code == supervise.FaultShutdownState {
		c.status = exitGeneric
		c.printf("ERROR: already shutting down")
		return
	} else if err != nil {
		c.fail(err)
		return
	}
	added, changed, removed := configChanges(v)
	var only []string // the groups named, in the order given; none means all
	for _, a := range args {
		if !slices.Contains(only, a) {
			only = append(only, a)
		}
	}
	if slices.Contains(only, "all") {
		only = nil
	}
	if len(only) > 0 {
		infos, err := c.call(ctx, "supervisor.getAllProcessInfo")
		if err != nil {
			c.fail(err)
			return
		}
		groups := map[string]bool{}
		for _, item := range arrayOf(infos) {
			groups[getStr(structOf(item), "group")] = true
		}
		for _, g := range added {
			groups[g] = true
		}
		for _, g := range only {
			if !groups[g] {
				c.printf("ERROR: no such group: %s", g)
				c.status = exitGeneric
			}
		}
	}
	skip := func(g string) bool { return len(only) > 0 && !slices.Contains(only, g) }
	for _, g := range removed {
		if skip(g) {
			continue
		}
		results, err := c.call(ctx, "supervisor.stopProcessGroup", g)
		if err != nil {
			c.fail(err)
			return
		}
		c.printf("%s: stopped", g)
		failed := false
		for _, r := range arrayOf(results) {
			failed = failed || getInt(structOf(r), "status") == supervise.FaultFailed
		}
		if failed {
			c.printf("%s: has problems; not removing", g)
			c.status = exitGeneric
			continue
		}
		if _, err := c.call(ctx, "supervisor.removeProcessGroup", g); err != nil {
			c.fail(err)
			return
		}
		c.printf("%s: removed process group", g)
	}
	for _, g := range changed {
		if skip(g) {
			continue
		}
		if _, err := c.call(ctx, "supervisor.stopProcessGroup", g); err != nil {
			c.fail(err)
			return
		}
		c.printf("%s: stopped", g)
		if _, err := c.call(ctx, "supervisor.removeProcessGroup", g); err != nil {
			c.fail(err)
			return
		}
		if _, err := c.call(ctx, "supervisor.addProcessGroup", g); err != nil {
			c.fail(err)
			return
		}
		c.printf("%s: updated process group", g)
	}
	for _, g := range added {
		if skip(g) {
			continue
		}
		if _, err := c.call(ctx, "supervisor.addProcessGroup", g); err != nil {
			c.fail(err)
			return
		}
		c.printf("%s: added process group", g)
	}
}

func runAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("add", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	for _, name := range fs.Args() {
		_, err := c.call(ctx, "supervisor.addProcessGroup", name)
		code, _, isFault := faultCode(err)
		switch {
		case err == nil:
			c.printf("%s: added process group", name)
		case isFault && code == supervise.FaultShutdownState:
			c.printf("ERROR: shutting down")
			c.status = exitGeneric
		case isFault && code == supervise.FaultAlreadyAdded:
			c.printf("ERROR: process group already active")
		case isFault && code == supervise.FaultBadName:
			c.printf("ERROR: no such process/group: %s", name)
			c.status = exitGeneric
		default:
			c.fail(err)
			return c.result()
		}
	}
	return c.result()
}

func runRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("remove", stderr)
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	for _, name := range fs.Args() {
		_, err := c.call(ctx, "supervisor.removeProcessGroup", name)
		if err == nil {
			c.printf("%s: removed process group", name)
			continue
		}
		code, _, isFault := faultCode(err)
		c.status = exitGeneric
		switch {
		case isFault && code == supervise.FaultStillRunning:
			c.printf("ERROR: process/group still running: %s", name)
		case isFault && code == supervise.FaultBadName:
			c.printf("ERROR: no such process/group: %s", name)
		default:
			c.fail(err)
			return c.result()
		}
	}
	return c.result()
}
