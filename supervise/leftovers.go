package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/detach"
	"keeper/proctree"
)

// A program is its whole process tree minus its sessions: its main
// process, everything in its process group, and every descendant that left
// the group (workers, helpers that daemonized with a double fork and
// setsid, re-parented to the daemon, a child subreaper), except the session
// masters keeper recognizes and what runs on their ptys. supervisord
// signals only the main process (or its group, with stopasgroup) and leaks
// the rest, holding ports and files the next instance needs. keeper sends
// supervisord's signals first, unchanged; once the main process has
// exited, whatever remains of the tree gets stopsignal, then SIGKILL after
// stopwaitsecs, before the program counts as stopped or exited and before
// a new instance starts. leftovers=keep restores supervisord's behaviour.
//
// Membership is the program's cgroup where keeper can create cgroups (see
// cgroups), otherwise the instance mark every program inherits through its
// environment (KEEPER_DAEMON and KEEPER_PROGRAM, which session discovery
// reads too); either way plus the main process's group and every
// descendant, read from one proctree snapshot. A process that started
// before the instance's main process is never part of it.

// leftoverGrace is how long processes that got SIGKILL have to disappear.
const leftoverGrace = 5 * time.Second

// stopRest runs off the lock once the main process of p's instance has
// been reaped (exit): unless leftovers=keep, it stops the rest of the
// instance's tree and returns when it is gone. Until the exit is handled,
// p keeps its pid and state but never signals it again.
func (p *process) stopRest(exit Exit) {
	p.d.mu.Lock()
	stop := p.d.stopTree
	if stop == nil || p.pid != exit.Pid || p.cfg.Leftovers == LeftoversKeep {
		p.d.mu.Unlock()
		return
	}
	p.reaped = true
	cfg, main := p.cfg, p.main
	p.d.mu.Unlock()
	stop(cfg.Namespec(), main, cfg.Stopsignal, cfg.Stopwait)
	if cg := p.d.track.cgroups(); cg != nil {
		cg.removeProgram(cfg.Namespec()) // made again by the next start
	}
}

// stopInstanceTree stops every process of the instance of program namespec
// whose main process is main (alive or not): sig to all of them, then
// SIGKILL to what is left after wait, including what they forked
// meanwhile. Sessions are never touched. It logs what it had to stop and
// returns when all of it is gone, or leftoverGrace after the SIGKILL.
func (d *Daemon) stopInstanceTree(namespec string, main proctree.Identity, sig syscall.Signal, wait time.Duration) {
	ids := d.instanceTree(namespec, main)
	if len(ids) == 0 {
		return
	}
	d.log.Infof("stopping %d leftover processes of %s (%s) with %s", len(ids), namespec, pidList(ids), signalName(sig))
	signalAll(ids, sig)
	if waitGone(ids, wait) {
		return
	}
	ids = mergeIdentities(ids, d.instanceTree(namespec, main))
	var alive []proctree.Identity
	for _, id := range ids {
		if id.Alive() {
			alive = append(alive, id)
		}
	}
	d.log.Warnf("killing %d leftover processes of %s (%s) with SIGKILL", len(alive), namespec, pidList(alive))
	signalAll(alive, unix.SIGKILL)
	if !waitGone(alive, leftoverGrace) {
		d.log.Errorf("stop leftovers of %s: processes still running %s after SIGKILL", namespec, leftoverGrace)
	}
}

// instanceTree lists the live processes of one program instance: main,
// the processes of its group, those carrying the program's mark, and all
// their descendants, none started before main, and none of a session.
// Session masters of the program not yet recorded (orphaned by a daemon
// that died) are recorded now instead.
func (d *Daemon) instanceTree(namespec string, main proctree.Identity) []proctree.Identity {
	mark := d.mark()
	// The program's processes are those of its cgroup, or without one
	// those carrying its mark.
	member := func(p proctree.Process) bool { return hasProgramMark(p.PID, mark, namespec) }
	cg := d.track.cgroups()
	if cg != nil {
		inCgroup, err := cg.members(namespec)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			cg = nil // started before cgroups were used: the mark tells
		case err != nil:
			d.log.Warnf("find leftovers of %s: %v", namespec, err)
		case len(inCgroup) == 0:
			return nil // the usual exit: nothing to look for
		default:
			member = func(p proctree.Process) bool { return inCgroup[p.PID] }
		}
	}
	snap, err := proctree.Take()
	if err != nil {
		d.log.Errorf("find leftovers of %s: %v", namespec, err)
		return nil
	}
	self := os.Getpid()
	outside := func(p proctree.Process) bool {
		return p.PID <= 1 || p.PID == self || p.Zombie() || p.StartTime < main.StartTime || d.isPtyMaster(p.PID)
	}
	var marked []proctree.Process
	for _, p := range snap.Processes() {
		if !outside(p) && member(p) {
			marked = append(marked, p)
		}
	}
	var group []proctree.Process
	if main.PID > 1 {
		group = snap.InGroup(main.PID)
	}
	if len(marked) == 0 && len(group) == 0 && !snap.Has(main) {
		return nil
	}
	sessions, err := d.Sessions(nil)
	if err != nil {
		d.log.Warnf("find leftovers of %s: %v", namespec, err)
	}
	skip := map[int]bool{}
	for _, s := range sessions {
		for _, id := range sessionProcesses(snap, s) {
			skip[id.PID] = true
		}
	}
	// A session master the daemon did not know yet (orphaned by a daemon
	// that died, or just made) is the program's session, not part of it:
	// keep it, and what runs under it.
	for _, p := range marked {
		if skip[p.PID] || !p.SessionLeader() || p.HasTTY() {
			continue
		}
		if r, ok := d.dtachMaster(p, mark); ok {
			d.adoptMaster(r)
			for _, id := range sessionProcesses(snap, Session{PID: r.PID, StartTime: r.StartTime}) {
				skip[id.PID] = true
				if cg != nil {
					if err := cg.moveToSessions(id.PID); err != nil {
						d.log.Warnf("%v", err)
					}
				}
			}
		}
	}
	var roots []int
	if main.PID > 1 && snap.Has(main) {
		roots = append(roots, main.PID)
	}
	for _, p := range append(group, marked...) {
		roots = append(roots, p.PID)
	}
	prune := func(p proctree.Process) bool { return skip[p.PID] || outside(p) }
	var ids []proctree.Identity
	for _, p := range snap.Subtrees(roots, prune) {
		ids = append(ids, p.Identity())
	}
	return ids
}

// hasProgramMark reports whether pid's environment carries the daemon's
// mark (KEEPER_DAEMON=socket) and names program namespec.
func hasProgramMark(pid int, mark []byte, namespec string) bool {
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || !bytes.Contains(environ, mark) {
		return false
	}
	return envValue(environ, detach.ProgramEnv) == namespec
}

// signalAll sends sig to every process of ids still alive as itself.
func signalAll(ids []proctree.Identity, sig syscall.Signal) {
	for _, id := range ids {
		_ = id.Signal(sig)
	}
}

// mergeIdentities returns a with the identities of b it lacks.
func mergeIdentities(a, b []proctree.Identity) []proctree.Identity {
	seen := make(map[proctree.Identity]bool, len(a))
	for _, id := range a {
		seen[id] = true
	}
	for _, id := range b {
		if !seen[id] {
			a = append(a, id)
		}
	}
	return a
}

// pidList writes "pids 1, 2, 3" for the log, at most 20 of them.
func pidList(ids []proctree.Identity) string {
	var b strings.Builder
	b.WriteString("pid")
	if len(ids) != 1 {
		b.WriteString("s")
	}
	for i, id := range ids {
		if i == 20 {
			fmt.Fprintf(&b, " and %d more", len(ids)-i)
			break
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %d", id.PID)
	}
	return b.String()
}

// stopOrphanedCgroups stops what a dead daemon's programs left in their
// cgroups when no record named their main process (it died first, or the
// daemon died before writing the record).
func (d *Daemon) stopOrphanedCgroups() {
	cg := d.track.cgroups()
	if cg == nil {
		return
	}
	for _, name := range cg.programsWithProcesses() {
		if d.handedOverName(name) {
			continue // adopted (handover.go)
		}
		sig, wait := unix.SIGTERM, 10*time.Second
		d.mu.Lock()
		if _, p, ok := d.lookupLocked(name); ok && p != nil {
			sig, wait = p.cfg.Stopsignal, p.cfg.Stopwait
		}
		d.mu.Unlock()
		d.stopInstanceTree(name, proctree.Identity{}, sig, wait)
	}
}

// moveSessions moves the sessions the daemon has just recognized, with
// everything running under them, out of their program's cgroup into the
// sessions cgroup, so that stopping the program never touches them. It
// runs with the session listing (under sessionsMu).
func (d *Daemon) moveSessions(records []detach.Record) {
	cg := d.track.cgroups()
	if cg == nil {
		return
	}
	var fresh []detach.Record
	for _, r := range records {
		if d.track.moved[r.PID] != r.StartTime {
			fresh = append(fresh, r)
		}
	}
	if len(fresh) == 0 {
		return
	}
	snap, err := proctree.Take()
	if err != nil {
		d.log.Warnf("move sessions to their cgroup: %v", err)
		return
	}
	moved := make(map[int]uint64, len(records))
	for _, r := range records {
		if d.track.moved[r.PID] == r.StartTime {
			moved[r.PID] = r.StartTime
		}
	}
	for _, r := range fresh {
		for _, id := range sessionProcesses(snap, Session{PID: r.PID, StartTime: r.StartTime}) {
			if err := cg.moveToSessions(id.PID); err != nil {
				d.log.Warnf("%v", err)
			}
		}
		moved[r.PID] = r.StartTime
	}
	d.track.moved = moved
}
