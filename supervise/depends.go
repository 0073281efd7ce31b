package supervise

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// keeper's depends_on: a program starts once every program it depends on is
// RUNNING, and stops after every program that depends on it has stopped.
// A start that has to wait leaves the process STOPPED with waitingDeps set;
// every state change (notifyLocked) looks at the waiting processes again.

// programsLocked returns the active processes of the named programs.
func (d *Daemon) programsLocked(programs []string) []*process {
	var out []*process
	for _, q := range d.processesLocked(false) {
		if slices.Contains(programs, q.cfg.Program) {
			out = append(out, q)
		}
	}
	return out
}

// dependentsLocked returns the active processes that depend on p.
func (d *Daemon) dependentsLocked(p *process) []*process {
	var out []*process
	for _, q := range d.processesLocked(false) {
		if slices.Contains(q.cfg.DependsOn, p.cfg.Program) {
			out = append(out, q)
		}
	}
	return out
}

// requestStartLocked starts p, or, when a program it depends on is not
// RUNNING, starts what is missing first (and what that depends on) and lets
// p wait for it.
func (d *Daemon) requestStartLocked(p *process) {
	var missing []string
	for _, q := range d.programsLocked(p.cfg.DependsOn) {
		if q.state == Running {
			continue
		}
		missing = append(missing, q.namespec())
		if !q.state.running() && !q.waitingDeps {
			d.log.Infof("starting %s: %s depends on it", q.namespec(), p.namespec())
			d.requestStartLocked(q)
		}
	}
	p.depFailure = ""
	if len(missing) == 0 {
		p.spawn()
		return
	}
	if !p.waitingDeps {
		d.log.Infof("%s waits for %s to be RUNNING", p.namespec(), strings.Join(missing, ", "))
		p.waitingDeps = true
		d.waiters++
		d.notifyLocked()
	}
}

// stopWaitingLocked ends p's wait for its dependencies; why, when not
// empty, is the reason it will not start.
func (d *Daemon) stopWaitingLocked(p *process, why string) {
	if !p.waitingDeps {
		return
	}
	p.waitingDeps = false
	d.waiters--
	p.depFailure = why
	if why != "" {
		d.log.Warnf("not starting %s: %s", p.namespec(), why)
		p.state = Stopped
	}
	d.notifyLocked()
}

// releaseWaitersLocked starts the waiting processes whose dependencies are
// all RUNNING and gives up on those with one that failed or was stopped;
// those may release or fail others in turn.
func (d *Daemon) releaseWaitersLocked() {
	if d.waiters == 0 || d.releasing {
		return
	}
	d.releasing = true
	defer func() { d.releasing = false }()
	for changed := true; changed; {
		changed = false
		for _, p := range d.processesLocked(false) {
			if !p.waitingDeps {
				continue
			}
			if d.mood != MoodRunning {
				d.stopWaitingLocked(p, "")
				changed = true
				continue
			}
			ready, why := true, ""
			for _, q := range d.programsLocked(p.cfg.DependsOn) {
				switch {
				case q.state == Running:
				case q.state == Fatal || q.state == Unknown:
					why = fmt.Sprintf("%s, which it depends on, is %s", q.namespec(), q.state)
				case q.state.Stopped() && !q.waitingDeps:
					why = fmt.Sprintf("%s, which it depends on, is %s", q.namespec(), q.state)
					if q.depFailure != "" {
						why += " (" + q.depFailure + ")"
					}
				default:
					ready = false
				}
				if why != "" {
					break
				}
			}
			switch {
			case why != "":
				d.stopWaitingLocked(p, why)
				changed = true
			case ready:
				d.stopWaitingLocked(p, "")
				p.spawn()
				changed = true
			}
		}
	}
}

// stopDependents stops, and waits for, everything that depends on procs
// (directly or not) and is not among them, dependents before what they
// depend on.
func (d *Daemon) stopDependents(ctx context.Context, procs []*process) {
	d.mu.Lock()
	var closure []*process
	todo := slices.Clone(procs)
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		for _, q := range d.dependentsLocked(p) {
			if !slices.Contains(closure, q) && !slices.Contains(procs, q) {
				closure = append(closure, q)
				todo = append(todo, q)
			}
		}
	}
	d.mu.Unlock()
	d.stopInWaves(ctx, closure)
}

// stopInWaves stops procs so that a process stops only once everything
// among procs that depends on it has stopped: each wave is every running
// process with no running dependent, stopped together and waited for.
func (d *Daemon) stopInWaves(ctx context.Context, procs []*process) {
	for ctx.Err() == nil {
		d.mu.Lock()
		var wave []*process
		for _, p := range procs {
			if p.waitingDeps {
				d.stopWaitingLocked(p, "")
			}
			if !p.state.running() {
				continue
			}
			blocked := false
			for _, q := range d.dependentsLocked(p) {
				blocked = blocked || (slices.Contains(procs, q) && q.state.running())
			}
			if !blocked {
				wave = append(wave, p)
			}
		}
		for _, p := range wave {
			p.stop()
		}
		d.mu.Unlock()
		if len(wave) == 0 {
			return
		}
		d.waitFor(ctx, time.Hour, func() bool {
			for _, p := range wave {
				if !p.state.Stopped() {
					return false
				}
			}
			return true
		})
	}
}

// hasDependenciesLocked reports whether any active process uses depends_on.
func (d *Daemon) hasDependenciesLocked() bool {
	for _, p := range d.processesLocked(false) {
		if len(p.cfg.DependsOn) > 0 {
			return true
		}
	}
	return false
}

// missingDependenciesLocked lists, in start order, the processes a start
// of p would start first: those it depends on, directly or not, that are
// not running.
func (d *Daemon) missingDependenciesLocked(p *process) []string {
	var out []string
	seen := map[*process]bool{}
	var visit func(q *process)
	visit = func(q *process) {
		for _, dep := range d.programsLocked(q.cfg.DependsOn) {
			if seen[dep] {
				continue
			}
			seen[dep] = true
			visit(dep)
			if !dep.state.running() {
				out = append(out, dep.namespec())
			}
		}
	}
	visit(p)
	return out
}
