// Package proctree takes immutable snapshots of the Linux process table (one
// pass over /proc) and answers family, session, group, identity and
// listening-socket questions about them.
//
// A [Snapshot] is a copy of every process's /proc/PID/stat taken by [Take];
// it never changes after Take returns, so it is safe for concurrent use and
// every query on it sees the same table. It is not atomic: processes that
// fork or exit while /proc is read may be missing or present, and a process
// whose parent exited during the scan may name a parent that is absent.
// Processes that vanish during the scan are skipped.
//
// A pid alone does not name a process across time, because pids are reused.
// An [Identity] is (pid, start time); check it with [Identity.Alive] or
// [Snapshot.Has] before acting on a pid found earlier, and signal with
// [Identity.Signal], which cannot hit a reused pid.
//
// A program's tree is found with [Snapshot.Subtrees] (from its main
// process, its process group's members ([Snapshot.InGroup]) and whatever
// else marks it, pruning its sessions), a session's processes with
// [Snapshot.Descendants] and [Snapshot.InSession], and the unix sockets a
// session master listens on with [UnixListeners].
//
// The package reads /proc directly and never forks (gopsutil's Children
// runs pgrep on every call).
package proctree

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Process is one process as /proc/PID/stat described it when the snapshot
// was taken.
type Process struct {
	PID   int
	PPID  int // parent pid; 0 for init and kthreadd
	PGID  int // process group
	SID   int // session
	TTYNr int // controlling terminal device number; 0 means none
	TPGID int // foreground process group of the controlling terminal; -1 if none
	// State is the one-letter state: R running, S sleeping, D disk sleep,
	// T stopped, t traced, Z zombie, X dead, I idle.
	State     byte
	Threads   int    // number of threads
	StartTime uint64 // clock ticks ([ClockTicks] per second) after boot
	// UTime and STime are the CPU time spent in user and kernel mode, in
	// clock ticks; RSSPages the resident set in pages. 0 when the stat line
	// ended before them.
	UTime, STime uint64
	RSSPages     uint64
	Comm         string // command name (at most 15 bytes for tasks; may hold spaces and parentheses)
}

// Identity returns the process's identity (pid and start time).
func (p Process) Identity() Identity { return Identity{PID: p.PID, StartTime: p.StartTime} }

// StartedAt returns the wall-clock time the process started, good to about a
// second (the boot time is kept in whole seconds), or the zero time if the
// boot time cannot be read.
func (p Process) StartedAt() time.Time { return startedAt(p.StartTime) }

// Zombie reports whether the process had exited and awaited its reaping
// (state Z, or X on its way out).
func (p Process) Zombie() bool { return p.State == 'Z' || p.State == 'X' }

// HasTTY reports whether the process has a controlling terminal.
func (p Process) HasTTY() bool { return p.TTYNr != 0 }

// SessionLeader reports whether the process leads its session (pid == sid).
func (p Process) SessionLeader() bool { return p.PID == p.SID }

// GroupLeader reports whether the process leads its process group.
func (p Process) GroupLeader() bool { return p.PID == p.PGID }

// Snapshot is an immutable copy of the process table. Its zero value is
// an empty table.
type Snapshot struct {
	procs    []Process // sorted by PID
	byParent []int32   // indexes into procs, sorted by (PPID, PID)
}

// Take reads /proc once and returns a snapshot of every process in the
// caller's pid namespace. Processes that exit during the scan are left out;
// so are processes whose stat file the caller may not read (hidepid).
func Take() (*Snapshot, error) { return takeWith(nil) }

// A Reader takes snapshots as [Take] does, keeping each process's stat
// file open from one snapshot to the next: reading an open file is one
// system call where opening, reading and closing it are three, and those
// system calls are most of a snapshot's cost. A file kept open still
// reads the process as it is now; once the process is reaped it reads
// nothing (ESRCH), even if its pid was reused, and is opened again by
// path. The zero Reader is ready to use; it is safe for concurrent use
// (snapshots are taken one at a time) and must be closed.
type Reader struct {
	mu      sync.Mutex
	files   map[int]statFile // by pid
	max     int              // files kept open at most; 0 until first used
	gen     uint64           // snapshots taken
	stats   []statRead       // the last snapshot's, for the next to reuse
	dirents []byte           // the buffer /proc was listed into, the same
	closed  bool
}

// statFile is an open /proc/PID/stat, with the number of the last
// snapshot that listed its pid.
type statFile struct {
	fd   int
	seen uint64
}

// Take reads /proc once, as [Take] does.
func (r *Reader) Take() (*Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return takeWith(nil)
	}
	if r.max == 0 {
		// A quarter of the descriptors the process may open, so the
		// files never crowd out what the rest of it needs.
		var lim unix.Rlimit
		r.max = 256
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur/4 > 256 {
			r.max = int(min(lim.Cur/4, 1<<20))
		}
		r.files = map[int]statFile{}
	}
	r.gen++
	return takeWith(r)
}

// Close closes the files kept open; a later Take opens none.
func (r *Reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		unix.Close(f.fd)
	}
	r.files = nil
	r.closed = true
}

// keep notes the files the snapshot read through, opened or kept open,
// and closes those of pids it did not list.
func (r *Reader) keep(stats []statRead) {
	for _, st := range stats {
		if st.fd >= 0 {
			r.files[st.pid] = statFile{st.fd, r.gen}
		} else {
			delete(r.files, st.pid) // its file, if any, was closed
		}
	}
	for pid, f := range r.files {
		if f.seen != r.gen {
			unix.Close(f.fd)
			delete(r.files, pid)
		}
	}
}

// statRead is one process's stat to read in a snapshot, and what came of it.
type statRead struct {
	pid int
	fd  int  // its file, open to read or kept open after the read; -1 for none
	ok  bool // the process was read (it exists)
}

// readStats reads the stats of part into procs (one for each), relative
// to dirfd; room counts the files it may open and keep, nil to keep none.
func readStats(dirfd int, part []statRead, procs []Process, room *atomic.Int64) error {
	buf := make([]byte, 1024)
	path := make([]byte, 0, 32)
	for i := range part {
		st := &part[i]
		var b []byte
		var err error
		if st.fd >= 0 {
			b, err = preadAll(st.fd, buf)
			if err != nil || len(b) == 0 {
				// Reaped (and maybe the pid reused): open what the
				// pid is now.
				unix.Close(st.fd)
				st.fd = -1
			}
		}
		if st.fd < 0 {
			path = strconv.AppendInt(path[:0], int64(st.pid), 10)
			path = append(path, "/stat"...)
			if room != nil && room.Add(-1) >= 0 {
				var fd int
				if fd, err = openAt(dirfd, string(path)); err == nil {
					if b, err = preadAll(fd, buf); err == nil && len(b) > 0 {
						st.fd = fd
					} else {
						unix.Close(fd)
					}
				}
			} else {
				b, err = readLineAt(dirfd, string(path), buf)
			}
		}
		if err != nil || len(b) == 0 {
			if err == nil || gone(err) {
				continue
			}
			return fmt.Errorf("take process snapshot: read /proc/%s: %w", path, err)
		}
		buf = b[:cap(b)]
		if procs[i], err = parseStat(b); err != nil {
			return fmt.Errorf("take process snapshot: parse /proc/%d/stat: %w", st.pid, err)
		}
		st.ok = true
	}
	return nil
}

// takeWith is Take, through r's open files when r is not nil.
func takeWith(r *Reader) (*Snapshot, error) {
	dirfd, err := openAt(unix.AT_FDCWD, "/proc")
	if err != nil {
		return nil, fmt.Errorf("take process snapshot: %w", err)
	}
	defer unix.Close(dirfd)

	var stats []statRead
	var room *atomic.Int64
	var dirents []byte
	if r != nil {
		stats, dirents = r.stats[:0], r.dirents
		room = new(atomic.Int64)
		room.Store(int64(r.max - len(r.files)))
	}
	if dirents == nil {
		dirents = make([]byte, 32<<10)
	}
	err = readPIDs(dirfd, dirents, func(pid int) {
		st := statRead{pid: pid, fd: -1}
		if r != nil {
			if f, ok := r.files[pid]; ok {
				st.fd = f.fd
			}
		}
		stats = append(stats, st)
	})
	if err != nil {
		return nil, fmt.Errorf("take process snapshot: read /proc: %w", err)
	}
	// The reads are system calls, most of a snapshot's time: split among
	// the processors, they take that much less.
	procs := make([]Process, len(stats))
	parts := min(runtime.GOMAXPROCS(0), 1+len(stats)/minPart)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(stats)/parts, (i+1)*len(stats)/parts
		wg.Go(func() { errs[i] = readStats(dirfd, stats[lo:hi], procs[lo:hi], room) })
	}
	wg.Wait()
	if r != nil {
		r.keep(stats)
		r.stats, r.dirents = stats, dirents
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	// The processes that were read, in place.
	n := 0
	for i, st := range stats {
		if st.ok {
			procs[n] = procs[i]
			n++
		}
	}
	s := &Snapshot{procs: procs[:n]}
	s.index()
	return s, nil
}

// minPart is the fewest processes worth a goroutine of their own in a
// snapshot.
const minPart = 128

// readPIDs calls fn with each pid listed in the directory dirfd (/proc),
// read with getdents into buf: os.File.Readdirnames reads 8 KB at a time
// and makes a string of every name, where a buffer of 32 KB takes a
// thousand processes in one system call.
func readPIDs(dirfd int, buf []byte, fn func(pid int)) error {
	for {
		n, err := unix.Getdents(dirfd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: inode (8 bytes), offset (8), record
		// length (2), type (1), then the name, NUL-terminated.
		for b := buf[:n]; len(b) > 0; {
			if len(b) < 20 {
				return fmt.Errorf("%w: directory entry of %d bytes", errMalformed, len(b))
			}
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 20 || reclen > len(b) {
				return fmt.Errorf("%w: directory entry of %d bytes", errMalformed, reclen)
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if pid, ok := atou(name); ok && pid > 0 && pid <= math.MaxInt32 {
				fn(int(pid))
			}
			b = b[reclen:]
		}
	}
}

// index sorts procs by pid and builds the parent index.
func (s *Snapshot) index() {
	cmpPID := func(a, b Process) int { return cmp.Compare(a.PID, b.PID) }
	if !slices.IsSortedFunc(s.procs, cmpPID) {
		slices.SortFunc(s.procs, cmpPID)
	}
	s.byParent = make([]int32, len(s.procs))
	for i := range s.byParent {
		s.byParent[i] = int32(i)
	}
	slices.SortStableFunc(s.byParent, func(a, b int32) int {
		return cmp.Compare(s.procs[a].PPID, s.procs[b].PPID)
	})
}

// find returns the index of pid in procs, or -1.
func (s *Snapshot) find(pid int) int {
	i, ok := slices.BinarySearchFunc(s.procs, pid, func(p Process, pid int) int { return cmp.Compare(p.PID, pid) })
	if !ok {
		return -1
	}
	return i
}

// children returns the indexes of pid's children, in pid order.
func (s *Snapshot) children(pid int) []int32 {
	lo, _ := slices.BinarySearchFunc(s.byParent, pid, func(i int32, pid int) int { return cmp.Compare(s.procs[i].PPID, pid) })
	hi := lo
	for hi < len(s.byParent) && s.procs[s.byParent[hi]].PPID == pid {
		hi++
	}
	return s.byParent[lo:hi]
}

// Len returns the number of processes in the snapshot.
func (s *Snapshot) Len() int { return len(s.procs) }

// Processes returns every process in the snapshot, in pid order. The slice
// is the caller's.
func (s *Snapshot) Processes() []Process { return slices.Clone(s.procs) }

// Get returns the process with that pid, and whether it was in the snapshot.
func (s *Snapshot) Get(pid int) (Process, bool) {
	i := s.find(pid)
	if i < 0 {
		return Process{}, false
	}
	return s.procs[i], true
}

// Has reports whether the snapshot holds the process with that identity:
// same pid and same start time.
func (s *Snapshot) Has(id Identity) bool {
	p, ok := s.Get(id.PID)
	return ok && p.StartTime == id.StartTime
}

// Children returns the processes whose parent is pid, in pid order.
func (s *Snapshot) Children(pid int) []Process {
	idx := s.children(pid)
	out := make([]Process, len(idx))
	for k, i := range idx {
		out[k] = s.procs[i]
	}
	return out
}

// Descendants returns every process below pid (children, their children
// and so on), breadth first, without pid itself. Each process is listed
// once even if the parent links of an inconsistent snapshot form a cycle:
// as every process has one parent, the walk down from pid can only come
// back to pid itself, through a cycle pid is on.
func (s *Snapshot) Descendants(pid int) []Process {
	var out []Process
	// out is the queue too: the parents whose children come next.
	for next, parent := 0, pid; ; next++ {
		for _, i := range s.children(parent) {
			if s.procs[i].PID != pid {
				out = append(out, s.procs[i])
			}
		}
		if next == len(out) {
			return out
		}
		parent = out[next].PID
	}
}

// Subtrees returns the processes of roots and every process below them,
// each once, in the order found (the roots' own order, then breadth
// first). A process for which prune returns true is left out with
// everything below it; roots not in the snapshot are ignored.
func (s *Snapshot) Subtrees(roots []int, prune func(Process) bool) []Process {
	seen := make([]bool, len(s.procs))
	var out []Process
	var queue []int
	visit := func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		if prune(s.procs[i]) {
			return
		}
		out = append(out, s.procs[i])
		queue = append(queue, s.procs[i].PID)
	}
	for _, pid := range roots {
		if i := s.find(pid); i >= 0 {
			visit(i)
		}
	}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		for _, i := range s.children(parent) {
			visit(int(i))
		}
	}
	return out
}

// InSession returns the processes of session sid, in pid order.
func (s *Snapshot) InSession(sid int) []Process {
	return s.filter(func(p *Process) bool { return p.SID == sid })
}

// InGroup returns the processes of process group pgid, in pid order.
func (s *Snapshot) InGroup(pgid int) []Process {
	return s.filter(func(p *Process) bool { return p.PGID == pgid })
}

func (s *Snapshot) filter(keep func(*Process) bool) []Process {
	var out []Process
	for i := range s.procs {
		if keep(&s.procs[i]) {
			out = append(out, s.procs[i])
		}
	}
	return out
}

// splitCmdline splits the NUL-separated contents of /proc/PID/cmdline.
func splitCmdline(b []byte) []string {
	if len(b) == 0 {
		return []string{}
	}
	str := strings.TrimSuffix(string(b), "\x00")
	return strings.Split(str, "\x00")
}

// Identity names one process across time: a pid is reused after its
// process is reaped, a (pid, start time) pair is not.
type Identity struct {
	PID       int
	StartTime uint64 // clock ticks after boot, /proc/PID/stat field 22
}

// IdentityOf returns the identity of the process now running as pid,
// reading /proc/PID/stat once. The error wraps [ErrNoProcess] if there is
// none.
func IdentityOf(pid int) (Identity, error) {
	p, err := readStat(pid)
	if err != nil {
		return Identity{}, fmt.Errorf("identify process %d: %w", pid, err)
	}
	return p.Identity(), nil
}

// String returns "PID@STARTTIME".
func (id Identity) String() string {
	return strconv.Itoa(id.PID) + "@" + strconv.FormatUint(id.StartTime, 10)
}

// Same reports whether id and other name the same process: same pid and
// same start time. A pid reused by a later process is not the same.
func (id Identity) Same(other Identity) bool { return id == other }

// Alive reports whether the process still runs: its pid exists, has the
// same start time (it was not reused) and is not a zombie.
func (id Identity) Alive() bool {
	p, err := readStat(id.PID)
	return err == nil && p.StartTime == id.StartTime && !p.Zombie()
}

// StartedAt returns the wall-clock time the process started, good to about a
// second (the boot time is kept in whole seconds), or the zero time if the
// boot time cannot be read.
func (id Identity) StartedAt() time.Time { return startedAt(id.StartTime) }

// Process reads the process's /proc/PID/stat now. The error wraps
// [ErrNoProcess] if the pid is gone or belongs to another process. A
// zombie is returned with State 'Z'.
func (id Identity) Process() (Process, error) {
	p, err := readStat(id.PID)
	if err != nil {
		return Process{}, fmt.Errorf("read process %v: %w", id, err)
	}
	if p.StartTime != id.StartTime {
		return Process{}, fmt.Errorf("read process %v: pid reused (started at tick %d): %w", id, p.StartTime, ErrNoProcess)
	}
	return p, nil
}

// Cmdline reads the process's command line now; the error wraps
// [ErrNoProcess] if the pid is gone or was reused.
func (id Identity) Cmdline() ([]string, error) {
	path := "/proc/" + strconv.Itoa(id.PID) + "/cmdline"
	b, err := os.ReadFile(path)
	if err != nil {
		if gone(err) {
			err = ErrNoProcess
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	// Checked after the read: if the identity still holds now, it held
	// while the file was read.
	if _, err := id.Process(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return splitCmdline(b), nil
}

// Signal sends sig to the process if, and only if, it is still this
// identity. It opens a pidfd, which pins the pid, checks the start time and
// signals through the pidfd, so a pid reused in between is never hit (on
// kernels before 5.3, without pidfds, it falls back to check-then-kill,
// which leaves a short window). The error wraps [ErrNoProcess] if the
// process is gone or the pid was reused. A zombie accepts signals and
// ignores them.
func (id Identity) Signal(sig unix.Signal) error {
	if id.PID <= 0 {
		return fmt.Errorf("signal %v: invalid pid: %w", id, ErrNoProcess)
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err == unix.ENOSYS {
		fd = -1
	} else if err != nil {
		if err == unix.ESRCH {
			err = ErrNoProcess
		}
		return fmt.Errorf("signal %v: pidfd_open: %w", id, err)
	} else {
		defer unix.Close(fd)
	}
	if _, err := id.Process(); err != nil {
		return fmt.Errorf("signal %v: %w", id, err)
	}
	if fd < 0 {
		err = unix.Kill(id.PID, sig)
	} else {
		err = unix.PidfdSendSignal(fd, sig, nil, 0)
	}
	if err != nil {
		if err == unix.ESRCH {
			err = ErrNoProcess
		}
		return fmt.Errorf("signal %v: %w", id, err)
	}
	return nil
}
