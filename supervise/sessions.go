package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/detach"
	"keeper/proctree"
)

// Sessions are the detached terminals a program leaves behind: session
// masters (keeper's own or the real dtach's) that left the program's
// process group with setsid. They are tracked apart from the program: a
// stop leaves them running and listed, kill-sessions and the kill modes
// of stop and shutdown reap them.
//
// Every session has a record under the daemon's state directory (one file
// per master, see detach.Record). keeper masters write their own, from the
// environment the daemon gives the program; sessions of the real dtach
// are found in the process table (a session leader with no terminal that
// holds a pty master, listens on a unix socket and carries the daemon's
// mark in its environment) and recorded by the daemon. Records outlive the
// daemon, so the next one finds every session again, after checking each
// master is the same process (pid and start time).

// sessionGrace is how long a reaped session's processes have between
// SIGTERM and SIGKILL.
const sessionGrace = 2 * time.Second

// StateDir is where a daemon keeps what must outlive it: session records
// and the identities of the programs it runs. It sits beside the pidfile:
// /run/keeper.pid gives /run/keeper.state.
func StateDir(cfg *Config) string {
	pidfile := cfg.Supervisord.Pidfile
	base := strings.TrimSuffix(filepath.Base(pidfile), filepath.Ext(pidfile))
	return filepath.Join(filepath.Dir(pidfile), base+".state")
}

// sessionsRoot holds one directory of session records per program.
func (d *Daemon) sessionsRoot() string { return filepath.Join(d.stateDir, "sessions") }

func (d *Daemon) sessionDir(namespec string) string {
	return filepath.Join(d.sessionsRoot(), namespec)
}

// sessionEnv gives a program what its sessions need: where keeper masters
// record themselves, which program they belong to, and the daemon's mark.
// The record directory is created for the program's user.
func (d *Daemon) sessionEnv(p *process, env []string) []string {
	dir := d.sessionDir(p.namespec())
	// The state directory and the sessions root must be traversable by
	// the users programs run as; each program's own directory is theirs.
	for _, parent := range []string{d.stateDir, d.sessionsRoot()} {
		if err := os.MkdirAll(parent, 0o711); err == nil {
			_ = os.Chmod(parent, 0o711)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		d.log.Warnf("create session directory %s: %v", dir, err)
	} else if p.cfg.User != "" && os.Geteuid() == 0 {
		if acct, err := lookupAccount(p.cfg.User); err == nil {
			_ = os.Chown(dir, int(acct.uid), int(acct.gid))
		}
	}
	env = setEnv(env, detach.SessionDirEnv, dir)
	env = setEnv(env, detach.ProgramEnv, p.namespec())
	return setEnv(env, detach.DaemonEnv, d.cfg.Server.File)
}

// Session is one detached terminal session as listed.
type Session struct {
	Program   string // namespec of the program it belongs to
	Name      string // the socket's file name
	Socket    string // the socket's path
	PID       int    // the master's pid
	StartTime uint64 // the master's start time, with PID its identity
	Maker     string // "keeper" or "dtach"
	Child     int    // the program on the pty, 0 when gone
	// ChildStart is Child's start time when the daemon checked it: with
	// Child its identity, which reaping needs once the master is gone.
	ChildStart uint64
	Command    string    // its command line
	Clients    int       // clients connected to the socket
	Attached   bool      // a client is attached (the socket's owner-exec bit)
	Created    time.Time // when the session was first recorded
}

// State is "attached" or "detached".
func (s *Session) State() string {
	if s.Attached {
		return "attached"
	}
	return "detached"
}

// Sessions lists the live sessions of the named programs (all when names
// is empty; a group name means its processes). Records of sessions that
// ended are dropped and their stale sockets removed; new masters of the
// real dtach are recorded. It reads no more of /proc than it must: one
// stat per recorded master, and a walk down the daemon's own tree that
// skips known masters.
func (d *Daemon) Sessions(names []string) ([]Session, error) {
	return d.sessionsIn(nil, names)
}

// sessionsIn is Sessions reading processes from snap, a process table the
// caller took already (nil: read each from /proc). A process the snapshot
// lacks is read from /proc: it may have started since, and a record is
// dropped only on what /proc says.
func (d *Daemon) sessionsIn(snap *proctree.Snapshot, names []string) ([]Session, error) {
	d.sessionsMu.Lock()
	defer d.sessionsMu.Unlock()
	records, err := d.liveRecords(snap)
	if err != nil {
		return nil, err
	}
	records = append(records, d.discover(records, snap)...)
	d.moveSessions(records)

	want, err := d.programFilter(names)
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(records))
	paths := make([]string, 0, len(records))
	for _, r := range records {
		if want != nil && !want[r.Program] {
			continue
		}
		if r.Child == 0 {
			r = d.notePtyProgram(r)
		}
		s := Session{Program: r.Program, Name: r.Name, Socket: r.Socket, PID: r.PID,
			StartTime: r.StartTime, Maker: r.Maker, Created: r.Created, Child: r.Child, ChildStart: r.ChildStart,
			Command: r.Command}
		if p, err := statIn(snap, r.Child); r.Child == 0 || err != nil || p.StartTime != r.ChildStart {
			s.Child, s.Command = ptyProgram(r.PID)
			s.ChildStart = 0
		}
		var st unix.Stat_t // not os.Stat: no FileInfo made for one bit
		if unix.Stat(s.Socket, &st) == nil {
			s.Attached = st.Mode&0o100 != 0
		}
		out = append(out, s)
		paths = append(paths, s.Socket)
	}
	if clients, err := proctree.UnixClients(paths); err == nil {
		for i := range out {
			out[i].Clients = clients[out[i].Socket]
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Program != out[j].Program {
			return out[i].Program < out[j].Program
		}
		return out[i].Created.Before(out[j].Created)
	})
	return out, nil
}

// statIn reads pid's process from snap, or from /proc when snap is nil or
// lacks it.
func statIn(snap *proctree.Snapshot, pid int) (proctree.Process, error) {
	if snap != nil {
		if p, ok := snap.Get(pid); ok {
			return p, nil
		}
	}
	return proctree.Stat(pid)
}

// ptyProgram finds the program on a master's pty: its child with a
// controlling terminal.
func ptyProgram(master int) (int, string) {
	kids, _ := proctree.ChildrenOf(master)
	for _, k := range kids {
		p, err := proctree.Stat(k)
		if err != nil || !p.HasTTY() {
			continue
		}
		argv, _ := proctree.Identity{PID: k, StartTime: p.StartTime}.Cmdline()
		return k, strings.Join(argv, " ")
	}
	return 0, ""
}

// programFilter turns names (processes, groups, group:*) into the set of
// namespecs to list; nil means all.
func (d *Daemon) programFilter(names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	want := map[string]bool{}
	for _, name := range names {
		g, p, ok := d.lookupLocked(name)
		switch {
		case !ok:
			// A program removed from the config may still have sessions.
			want[name] = true
		case p != nil:
			want[p.namespec()] = true
		default:
			for _, p := range g.procs {
				want[p.namespec()] = true
			}
		}
	}
	return want, nil
}

// cachedRecord is a parsed record file, valid while its size and time stay.
type cachedRecord struct {
	size  int64
	mod   time.Time
	rec   detach.Record
	owner uint32 // the file's owner
}

// dirListings keeps the listings of the session directories: a listing
// of every directory on every session listing (open, getdents, close, a
// stat of each record) was most of what listing 200 sessions cost.
type dirListings struct {
	dirs map[string]dirListing
}

// dirListing is a directory's filtered listing, sorted, with what tells
// the directory changed since: its inode and change time.
type dirListing struct {
	ino     uint64
	ctime   unix.Timespec
	settled bool // the change time was over settleTime before the listing
	names   []string
	used    time.Time
}

// settleTime is how old a directory's last change must be before its
// listing is kept: the change time ticks with the kernel's coarse clock,
// so a change soon after a listing may leave it as it was.
const settleTime = time.Second

// list returns the names in dir whose entries keep accepts, sorted, and
// whether they are those of a listing kept (the directory has not changed
// since). A change is any entry added, removed or renamed: the record
// files are written to a temporary name and renamed or linked in place.
// Only the change time is trusted, which no user can set.
func (l *dirListings) list(dir string, now time.Time, keep func(os.DirEntry) bool) ([]string, bool, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		delete(l.dirs, dir)
		return nil, false, &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	if c, ok := l.dirs[dir]; ok && c.settled && c.ino == st.Ino && c.ctime == st.Ctim {
		c.used = now
		l.dirs[dir] = c
		return c.names, true, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		delete(l.dirs, dir)
		return nil, false, err
	}
	var names []string
	for _, e := range ents {
		if keep(e) {
			names = append(names, e.Name())
		}
	}
	if l.dirs == nil {
		l.dirs = map[string]dirListing{}
	}
	changed := time.Unix(st.Ctim.Unix())
	l.dirs[dir] = dirListing{ino: st.Ino, ctime: st.Ctim, settled: now.Sub(changed) > settleTime, names: names, used: now}
	return names, false, nil
}

// forget drops the listings of directories not listed at now.
func (l *dirListings) forget(now time.Time) {
	for dir, c := range l.dirs {
		if !c.used.Equal(now) {
			delete(l.dirs, dir)
		}
	}
}

// liveRecords reads every record and keeps those whose master is still the
// same process and passes verifyRecord; the others are deleted, with, for a
// session verified while its master lived, its stale socket and what is
// left of its pty program.
func (d *Daemon) liveRecords(snap *proctree.Snapshot) ([]detach.Record, error) {
	now := time.Now()
	programs, _, err := d.recordDirs.list(d.sessionsRoot(), now, os.DirEntry.IsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	if d.verified == nil {
		d.verified = map[string]detach.Record{}
	}
	live := make([]detach.Record, 0, len(d.verified))
	seen := make(map[string]bool, len(d.verified))
	isRecord := func(e os.DirEntry) bool { return strings.HasSuffix(e.Name(), ".session") }
	for _, program := range programs {
		dir := filepath.Join(d.sessionsRoot(), program)
		files, same, _ := d.recordDirs.list(dir, now, isRecord)
		for _, name := range files {
			path := filepath.Join(dir, name)
			r, owner, err := d.readRecordCached(path, same)
			if errors.Is(err, detach.ErrBadRecord) {
				os.Remove(path)
				d.log.Warnf("session directory of %s: %v (file of uid %d); removed", program, err, owner)
				continue
			}
			if err != nil {
				continue
			}
			seen[path] = true
			v, trusted := d.verified[path]
			trusted = trusted && v.PID == r.PID && v.StartTime == r.StartTime
			if p, err := statIn(snap, r.PID); err == nil && p.StartTime == r.StartTime && !p.Zombie() {
				if !trusted {
					if why := d.verifyRecord(&r, p, program, dir, owner); why != "" {
						os.Remove(path)
						d.log.Warnf("session record %s (uid %d) dropped: %s", path, owner, why)
						continue
					}
					v = r
					d.verified[path] = v
				}
				live = append(live, v)
				continue
			}
			os.Remove(path)
			if !trusted {
				// Nothing it names was ever checked (a previous daemon's
				// record, or a forged one): no process is signalled on its
				// word, and its socket goes only if the program's user owns it.
				if socketOwner(r.Socket) == dirOwner(dir) {
					removeStaleSocket(r.Socket)
				}
				d.log.Infof("session record %s (uid %d) dropped: its master (pid %d) is gone", path, owner, r.PID)
				if d.orphanOfProgram(r, program, dir) {
					d.reapOrphanedPty(r)
				}
				continue
			}
			removeStaleSocket(v.Socket)
			d.log.Infof("session %s of %s ended (master pid %d): record dropped", v.Name, v.Program, v.PID)
			d.reapOrphanedPty(v)
		}
	}
	for path := range d.recordCache {
		if !seen[path] {
			delete(d.recordCache, path)
		}
	}
	for path := range d.verified {
		if !seen[path] {
			delete(d.verified, path)
		}
	}
	d.recordDirs.forget(now)
	return live, nil
}

// readRecordCached reads the record file at path, or takes it from the
// cache: when its directory has not changed since it was read (same), or
// its size and time are still those it had.
func (d *Daemon) readRecordCached(path string, same bool) (detach.Record, uint32, error) {
	c, ok := d.recordCache[path]
	if ok && same {
		return c.rec, c.owner, nil
	}
	info, err := os.Lstat(path)
	if err != nil {
		return detach.Record{}, 0, err
	}
	if ok && c.size == info.Size() && c.mod.Equal(info.ModTime()) {
		return c.rec, c.owner, nil
	}
	r, owner, err := detach.ReadRecordFile(path)
	if err != nil {
		return r, owner, err
	}
	if d.recordCache == nil {
		d.recordCache = map[string]cachedRecord{}
	}
	d.recordCache[path] = cachedRecord{size: info.Size(), mod: info.ModTime(), rec: r, owner: owner}
	return r, owner, nil
}

// verifyRecord checks a record's claim before the daemon lists the session
// or signals it: a program's user can write any record into its session
// directory, naming any process. The master p must be what discovery looks
// for (a session leader with no terminal, holding a pty master, listening
// on the recorded socket), belong to the program whose directory holds the
// record (started under it: it carries the program's mark), and run as the
// user that directory belongs to, a record the daemon or that user wrote. It returns why not, or "". The pty program it sets in
// r is the one running under p, whatever r said.
func (d *Daemon) verifyRecord(r *detach.Record, p proctree.Process, program, dir string, owner uint32) string {
	dirOwner := dirOwner(dir)
	procOwner := procOwner(p.PID)
	switch {
	case r.Program != program:
		return fmt.Sprintf("it names program %q but lies in %s's directory", r.Program, program)
	case owner != dirOwner && owner != uint32(os.Geteuid()):
		return fmt.Sprintf("written by uid %d, neither the program's user (%d) nor the daemon's", owner, dirOwner)
	case procOwner != dirOwner:
		return fmt.Sprintf("pid %d runs as uid %d, not as the program's user (%d)", p.PID, procOwner, dirOwner)
	case !hasProgramMark(p.PID, d.mark(), program):
		return fmt.Sprintf("pid %d was not started under %s (its environment lacks the program's mark)", p.PID, program)
	case !p.SessionLeader() || p.HasTTY():
		return fmt.Sprintf("pid %d is not a session master (a session leader without a terminal)", p.PID)
	case !holdsPtyMaster(p.PID):
		return fmt.Sprintf("pid %d holds no pty master", p.PID)
	case !sameSocket(masterSocket(p), r.Socket):
		return fmt.Sprintf("pid %d does not listen on %s", p.PID, r.Socket)
	}
	r.Child, r.ChildStart, r.Command = 0, 0, ""
	setPtyProgram(r)
	return ""
}

// notePtyProgram finds the pty program of a session verified before that
// program started, and keeps it with the verified record: if the master is
// killed later, that is the program liveRecords reaps.
func (d *Daemon) notePtyProgram(r detach.Record) detach.Record {
	setPtyProgram(&r)
	path := detach.RecordPath(d.sessionDir(r.Program), r.PID)
	if v, ok := d.verified[path]; ok && v.PID == r.PID && v.StartTime == r.StartTime {
		d.verified[path] = r
	}
	return r
}

// setPtyProgram notes in r the program on its master's pty, if it has
// started; r's master must be verified.
func setPtyProgram(r *detach.Record) {
	if child, command := ptyProgram(r.PID); child != 0 {
		if c, err := proctree.Stat(child); err == nil {
			r.Child, r.ChildStart, r.Command = child, c.StartTime, command
		}
	}
}

// mark is what the daemon puts in the environment of its programs, and so
// of everything they start: descendants carry it, with ProgramEnv naming
// their program.
func (d *Daemon) mark() []byte {
	return []byte(detach.DaemonEnv + "=" + d.cfg.Server.File + "\x00")
}

// orphanOfProgram reports whether the pty program an unverified record
// names (the record of a previous daemon, whose master died while none
// ran) is one of program's: a session leader (its terminal went with the
// master), of the program's user, started under the program (it carries
// its mark).
func (d *Daemon) orphanOfProgram(r detach.Record, program, dir string) bool {
	child, err := proctree.Stat(r.Child)
	return r.Child > 1 && err == nil && child.StartTime == r.ChildStart && !child.Zombie() &&
		r.Program == program && child.SessionLeader() &&
		procOwner(child.PID) == dirOwner(dir) && hasProgramMark(child.PID, d.mark(), program)
}

// procOwner is the uid a process runs as, or MaxUint32.
func procOwner(pid int) uint32 {
	if fi, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		return fi.Sys().(*syscall.Stat_t).Uid
	}
	return math.MaxUint32
}

// dirOwner is the uid that owns a program's session directory: the
// program's user (the daemon's when it cannot tell).
func dirOwner(dir string) uint32 {
	if fi, err := os.Stat(dir); err == nil {
		return fi.Sys().(*syscall.Stat_t).Uid
	}
	return uint32(os.Geteuid())
}

// socketOwner is the uid that owns the socket file at path, or MaxUint32.
func socketOwner(path string) uint32 {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return fi.Sys().(*syscall.Stat_t).Uid
	}
	return math.MaxUint32
}

// sameSocket reports whether two paths name the same socket file.
func sameSocket(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// removeStaleSocket removes a socket file nobody listens on.
func removeStaleSocket(path string) { removeDeadSocket(path, 0) }

// removeDeadSocket removes the socket file of a master that was just
// killed, waiting up to wait for its listener to close: a killed
// multithreaded process shows as a zombie once its first thread is gone,
// while the others may still hold its descriptors, so a connection can
// still be accepted into the dying listener's backlog for a moment.
func removeDeadSocket(path string, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSocket == 0 {
			return
		}
		c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
		if err != nil {
			os.Remove(path)
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// maxWalk bounds the walk down the daemon's tree.
const maxWalk = 100000

// discover finds masters of the real dtach started under this daemon's
// programs that have no record yet, and records them once verifyRecord
// accepts them. Such a master is in the daemon's tree: under the program, or re-parented to the daemon
// (a child subreaper); after a daemon restart only records find it.
func (d *Daemon) discover(known []detach.Record, snap *proctree.Snapshot) []detach.Record {
	recorded := map[int]bool{}
	for _, r := range known {
		recorded[r.PID] = true
	}
	mark := d.mark()
	var found []detach.Record
	// below looks at one process of the daemon's tree and says whether the
	// walk goes on below it: not below a known master, nor a master found
	// now (its pty program is the session's), nor a zombie.
	below := func(p proctree.Process) bool {
		if recorded[p.PID] || p.Zombie() {
			return false
		}
		if !p.SessionLeader() || p.HasTTY() {
			return true
		}
		r, ok := d.dtachMaster(p, mark)
		if !ok {
			return true
		}
		if why := d.verifyRecord(&r, p, r.Program, d.sessionDir(r.Program), uint32(os.Geteuid())); why != "" {
			d.log.Warnf("session master %d of %s not recorded: %s", p.PID, r.Program, why)
			return false
		}
		d.adoptMaster(r)
		d.verified[detach.RecordPath(d.sessionDir(r.Program), r.PID)] = r
		found = append(found, r)
		return false
	}
	self := os.Getpid()
	if snap != nil {
		var kids []int
		for _, k := range snap.Children(self) {
			kids = append(kids, k.PID)
		}
		snap.Subtrees(kids, func(p proctree.Process) bool { return !below(p) })
		return found
	}
	queue, _ := proctree.ChildrenOf(self)
	for visited := 0; len(queue) > 0 && visited < maxWalk; visited++ {
		pid := queue[0]
		queue = queue[1:]
		if recorded[pid] {
			continue
		}
		p, err := proctree.Stat(pid)
		if err == nil && below(p) {
			kids, _ := proctree.ChildrenOf(pid)
			queue = append(queue, kids...)
		}
	}
	return found
}

// adoptMaster records a dtach master found in the process table, unless
// the master already has a record.
func (d *Daemon) adoptMaster(r detach.Record) {
	if r.Program == "" || r.Program != filepath.Base(r.Program) || r.Program == ".." {
		// The name comes from the master's environment: never a path.
		d.log.Warnf("record session %s of %q (master pid %d): not a program's name", r.Name, r.Program, r.PID)
		return
	}
	added, err := detach.AddRecord(d.sessionDir(r.Program), r)
	if err != nil {
		d.log.Warnf("record session %s of %s: %v", r.Name, r.Program, err)
	}
	if added {
		d.log.Infof("found session %s of %s (dtach master pid %d)", r.Name, r.Program, r.PID)
	}
}

// dtachMaster reports whether p is a session master this daemon's
// programs started (a session leader with no terminal that carries the
// daemon's mark, holds a pty master and listens on a unix socket) and
// describes it.
func (d *Daemon) dtachMaster(p proctree.Process, mark []byte) (detach.Record, bool) {
	if d.isPtyMaster(p.PID) {
		return detach.Record{}, false // its program's, not a session
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.PID))
	if err != nil || !bytes.Contains(environ, mark) {
		return detach.Record{}, false
	}
	program := envValue(environ, detach.ProgramEnv)
	if program == "" || !holdsPtyMaster(p.PID) {
		return detach.Record{}, false
	}
	socket := masterSocket(p)
	if socket == "" {
		return detach.Record{}, false
	}
	r := detach.Record{Name: filepath.Base(socket), Socket: socket, Program: program, PID: p.PID,
		StartTime: p.StartTime, Created: p.StartedAt(), Maker: "dtach"}
	if child, command := ptyProgram(p.PID); child != 0 {
		r.Child, r.Command = child, command
		if c, err := proctree.Stat(child); err == nil {
			r.ChildStart = c.StartTime
		}
	}
	return r, true
}

func envValue(environ []byte, key string) string {
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(key+"=")); ok {
			return string(v)
		}
	}
	return ""
}

// holdsPtyMaster reports whether pid has /dev/ptmx open: a session
// master does, a daemon that merely left its session (ssh-agent) does not.
func holdsPtyMaster(pid int) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if link, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && link == "/dev/ptmx" {
			return true
		}
	}
	return false
}

// masterSocket finds the socket a master listens on as an absolute path.
// The kernel may report a relative name (dtach binds long paths after a
// chdir): the master's command line, which names the socket, settles it.
func masterSocket(p proctree.Process) string {
	listeners, _ := proctree.UnixListeners([]int{p.PID})
	paths := listeners[p.PID]
	if len(paths) == 0 {
		return ""
	}
	bound := paths[0]
	if filepath.IsAbs(bound) && !strings.HasPrefix(bound, "/proc/") {
		return bound
	}
	argv, _ := p.Identity().Cmdline()
	cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.PID))
	for _, a := range argv {
		if filepath.Base(a) != filepath.Base(bound) {
			continue
		}
		if !filepath.IsAbs(a) {
			a = filepath.Join(cwd, a)
		}
		return a
	}
	return ""
}

// KillSessions reaps the sessions completely: SIGHUP to the foreground
// group of each pty, SIGTERM to the master and everything in the pty's
// session, then after sessionGrace SIGKILL to all that is left. It returns
// the sessions reaped.
func (d *Daemon) KillSessions(names []string) ([]Session, error) {
	list, err := d.Sessions(names)
	if err != nil {
		return nil, err
	}
	d.reapSessions(list)
	return list, nil
}

// sessionProcesses lists everything a session consists of in snap: the
// master, its descendants, and every process in the session of the
// program on its pty (which may have left the master's tree); once the
// master is gone, the pty program s names, its session and descendants.
func sessionProcesses(snap *proctree.Snapshot, s Session) []proctree.Identity {
	seen := map[int]bool{}
	var ids []proctree.Identity
	add := func(p proctree.Process) {
		if !seen[p.PID] && !p.Zombie() {
			seen[p.PID] = true
			ids = append(ids, p.Identity())
		}
	}
	master, ok := snap.Get(s.PID)
	if !ok || master.StartTime != s.StartTime || master.Zombie() {
		// The master is gone (or dead, not yet reaped): what is left is its pty program (which
		// ignored the hangup), its session and its descendants.
		child, ok := snap.Get(s.Child)
		if !ok || s.Child <= 1 || child.StartTime != s.ChildStart {
			return nil
		}
		add(child)
		if child.SessionLeader() {
			for _, p := range snap.InSession(child.SID) {
				add(p)
			}
		}
		for _, p := range snap.Descendants(child.PID) {
			add(p)
		}
		return ids
	}
	add(master)
	for _, p := range snap.Descendants(s.PID) {
		add(p)
		if p.PPID == s.PID && p.SessionLeader() {
			for _, q := range snap.InSession(p.PID) {
				add(q)
			}
		}
	}
	return ids
}

func (d *Daemon) reapSessions(list []Session) {
	if len(list) == 0 {
		return
	}
	snap, err := proctree.Take()
	if err != nil {
		d.log.Errorf("kill sessions: %v", err)
		return
	}
	var all []proctree.Identity
	for _, s := range list {
		// The program in the pty's foreground hears a hangup first, as
		// when a terminal goes away.
		for _, c := range snap.Children(s.PID) {
			if c.HasTTY() && c.TPGID > 1 {
				_ = signalPid(-c.TPGID, unix.SIGHUP)
			}
		}
		all = append(all, sessionProcesses(snap, s)...)
	}
	for _, id := range all {
		if err := id.Signal(unix.SIGTERM); err != nil && !errors.Is(err, proctree.ErrNoProcess) {
			d.log.Warnf("kill sessions: %v", err)
		}
	}
	d.log.Debugf("kill sessions: SIGTERM to %d processes of %d sessions", len(all), len(list))
	if !waitGone(all, sessionGrace) {
		// Take a fresh look: whatever the session started meanwhile
		// goes too.
		if snap, err := proctree.Take(); err == nil {
			for _, s := range list {
				all = append(all, sessionProcesses(snap, s)...)
			}
		}
		for _, id := range all {
			if id.Alive() {
				_ = id.Signal(unix.SIGKILL)
			}
		}
		waitGone(all, sessionGrace)
	}
	for _, s := range list {
		detach.RemoveRecord(d.sessionDir(s.Program), s.PID)
		removeDeadSocket(s.Socket, sessionGrace)
		d.log.Infof("killed session %s of %s (master pid %d)", s.Name, s.Program, s.PID)
	}
}

// reapOrphanedPty kills what is left of a session whose master is gone: a
// pty program that ignored the hangup (and everything in its session, or
// descending from it) would otherwise run on untracked, with no terminal
// anyone can reach. It works in the background (a listing does not wait
// for it); the daemon waits for it before it exits.
func (d *Daemon) reapOrphanedPty(r detach.Record) {
	if r.Child <= 1 {
		return
	}
	snap, err := proctree.Take()
	if err != nil {
		return
	}
	ids := sessionProcesses(snap, Session{PID: r.PID, StartTime: r.StartTime, Child: r.Child, ChildStart: r.ChildStart})
	if len(ids) == 0 {
		return
	}
	d.log.Warnf("session %s of %s: pty program %d outlived its master; killing %d processes", r.Name, r.Program, r.Child, len(ids))
	d.orphanReaps.Add(1)
	go func() {
		defer d.orphanReaps.Done()
		killAll(ids, sessionGrace)
	}()
}

// killAll sends SIGTERM to ids, then SIGKILL to those left after grace.
func killAll(ids []proctree.Identity, grace time.Duration) {
	for _, id := range ids {
		_ = id.Signal(unix.SIGTERM)
	}
	if !waitGone(ids, grace) {
		for _, id := range ids {
			_ = id.Signal(unix.SIGKILL)
		}
		waitGone(ids, grace)
	}
}

// waitGone waits until none of ids is alive (a zombie is not), up to
// timeout; it reports whether all are gone.
func waitGone(ids []proctree.Identity, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		alive := false
		for _, id := range ids {
			if id.Alive() {
				alive = true
				break
			}
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sessionsMode resolves what a stop or shutdown does with sessions: the
// flag's mode when given, else the program's sessions= key.
func sessionsMode(flag string, cfg *ProcessConfig) Sessions {
	switch Sessions(flag) {
	case SessionsKeep, SessionsKill:
		return Sessions(flag)
	}
	return cfg.Sessions
}

// programRecord is where the daemon notes the identity of a program it
// runs, so that after a crash the next daemon stops it before starting a
// new one (no program runs twice).
func (d *Daemon) programRecord(p *process) string {
	return filepath.Join(d.stateDir, "programs", p.namespec()+".pid")
}

func (d *Daemon) recordProgram(p *process, pid int) {
	id, err := proctree.IdentityOf(pid)
	if err != nil {
		return
	}
	d.writeProgramRecord(p, id)
}

// recordIntent notes, before the fork, that p is being started: pid 0 and,
// as the earliest its processes may have started, the daemon's own start.
// A next daemon that finds it stops whatever carries p's mark and started
// since (recordProgram replaces it once the pid is known).
func (d *Daemon) recordIntent(p *process) {
	self, err := proctree.IdentityOf(os.Getpid())
	if err != nil {
		return
	}
	d.writeProgramRecord(p, proctree.Identity{PID: 0, StartTime: self.StartTime})
}

func (d *Daemon) writeProgramRecord(p *process, id proctree.Identity) {
	path := d.programRecord(p)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	_ = os.WriteFile(path, []byte(fmt.Sprintf("%d %d\n", id.PID, id.StartTime)), 0o600)
}

func (d *Daemon) forgetProgram(p *process) { os.Remove(d.programRecord(p)) }

// stopLeftovers stops program instances a previous daemon left running
// (it died without stopping them): each instance's whole tree, never its
// sessions, gets the stop signal, then SIGKILL after stopwaitsecs.
func (d *Daemon) stopLeftovers() {
	dir := filepath.Join(d.stateDir, "programs")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	byName := map[string]*process{}
	d.mu.Lock()
	for _, p := range d.processesLocked(false) {
		byName[p.namespec()] = p
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		b, err := readOwnFile(path, 128)
		if err != nil {
			os.Remove(path)
			d.log.Warnf("program record dropped: %v", err)
			continue
		}
		var id proctree.Identity
		// Pid 0 is an intent: the daemon died before it knew the pid.
		_, err = fmt.Sscanf(string(b), "%d %d", &id.PID, &id.StartTime)
		name := strings.TrimSuffix(e.Name(), ".pid")
		if err == nil && d.handedOverInstance(name, id) {
			continue // adopted (handover.go), its record kept
		}
		os.Remove(path)
		if err != nil || id.PID < 0 || id.PID == 1 {
			continue
		}
		sig, wait := unix.SIGTERM, 10*time.Second
		if p := byName[name]; p != nil {
			sig, wait = p.cfg.Stopsignal, p.cfg.Stopwait
		}
		switch {
		case id.PID == 0:
			d.log.Warnf("stopping what a previous daemon may have started of %s (it died while starting it)", name)
		case id.Alive():
			d.log.Warnf("stopping %s (pid %d) left running by a previous daemon", name, id.PID)
		}
		// Its workers may outlive it: the tree goes even if it is gone.
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.stopInstanceTree(name, id, sig, wait)
		}()
	}
	wg.Wait()
}

// reapAtShutdown reaps the sessions of every program whose mode, after the
// shutdown's own, is kill.
func (d *Daemon) reapAtShutdown() {
	d.mu.Lock()
	var names []string
	killAll := d.shutdownMode == SessionsKill
	for _, p := range d.processesLocked(false) {
		if killAll || (d.shutdownMode == "" && p.cfg.Sessions == SessionsKill) {
			names = append(names, p.namespec())
		}
	}
	d.mu.Unlock()
	var list []Session
	var err error
	switch {
	case killAll:
		// Every session, including those of programs no longer configured.
		list, err = d.Sessions(nil)
	case len(names) > 0:
		list, err = d.Sessions(names)
	}
	if err != nil {
		d.log.Errorf("kill sessions at shutdown: %v", err)
		return
	}
	d.reapSessions(list)
}
