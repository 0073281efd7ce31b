package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// impl is a dtach implementation under test.
type impl struct {
	name string   // "keeper" or "dtach"
	argv []string // command line before "-n SOCKET COMMAND..."
	env  []string // added to the environment its sessions start with
	// logDir is where its sessions record themselves (KEEPER_SESSION_LOG
	// in env), empty for none.
	logDir string
}

// session is a running session: its socket, its master and the program on
// its pty.
type session struct {
	impl   *impl
	sock   string
	master int
	progs  []int
}

// lab starts sessions and owns every process they make. The benchmark is
// a child subreaper, so a master whose launcher exits is re-parented to it
// and is killed and reaped here by pid.
type lab struct {
	dir  string   // short temporary directory holding the sockets
	tty  *os.File // raw-mode terminal given to launchers as stdin
	ptm  *os.File // the other side of tty, kept open
	self int

	mu       sync.Mutex
	seq      int
	sessions map[*session]struct{}
}

func newLab() (*lab, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	dir, err := os.MkdirTemp("/tmp", "kb")
	if err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	l := &lab{dir: dir, self: os.Getpid(), sessions: make(map[*session]struct{})}
	if err := l.openTerminal(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return l, nil
}

// openTerminal makes the terminal launchers run on. Both implementations
// copy the creating terminal's settings to a new session's pty, so a raw
// terminal here puts each session's pty in raw mode before its program
// starts: no keystroke sent early is echoed or held in a line buffer.
func (l *lab) openTerminal() error {
	ptm, tty, err := pty.Open()
	if err != nil {
		return fmt.Errorf("open launcher terminal: %w", err)
	}
	if err := makeRaw(int(tty.Fd())); err != nil {
		ptm.Close()
		tty.Close()
		return fmt.Errorf("launcher terminal: %w", err)
	}
	ws := &unix.Winsize{Row: 24, Col: 80}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		ptm.Close()
		tty.Close()
		return fmt.Errorf("launcher terminal: set window size: %w", err)
	}
	l.ptm, l.tty = ptm, tty
	return nil
}

// start runs "IMPL -n SOCKET argv..." and finds the master it left behind
// and the program on the master's pty.
func (l *lab) start(im *impl, argv ...string) (*session, error) {
	l.mu.Lock()
	l.seq++
	sock := filepath.Join(l.dir, fmt.Sprintf("%c%d", im.name[0], l.seq))
	l.mu.Unlock()

	args := append(append(append([]string{}, im.argv[1:]...), "-n", sock), argv...)
	cmd := exec.Command(im.argv[0], args...)
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = l.tty, &out, &out
	cmd.WaitDelay = 5 * time.Second
	if len(im.env) > 0 {
		cmd.Env = append(os.Environ(), im.env...)
	}
	if err := cmd.Run(); err != nil {
		l.adoptBySocket(im, sock)
		return nil, fmt.Errorf("start %s session %s: %v: %s", im.name, sock, err, strings.TrimSpace(out.String()))
	}
	s, err := l.adoptBySocket(im, sock)
	if err != nil {
		return nil, fmt.Errorf("start %s session %s: %w", im.name, sock, err)
	}
	return s, nil
}

// adoptBySocket finds the master serving sock and the program it runs,
// and records them for cleanup.
func (l *lab) adoptBySocket(im *impl, sock string) (*session, error) {
	s := &session{impl: im, sock: sock}
	deadline := time.Now().Add(2 * time.Second)
	for {
		procs, err := scanProcs()
		if err != nil {
			return nil, err
		}
		s.master, s.progs = 0, nil
		for _, p := range procs {
			if p.pid != l.self && p.sid == p.pid && p.hasArg(sock) {
				s.master = p.pid
			}
		}
		if s.master != 0 {
			for _, p := range procs {
				if p.ppid == s.master {
					s.progs = append(s.progs, p.pid)
				}
			}
		}
		if s.master != 0 && len(s.progs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			if s.master != 0 {
				l.record(s)
				return nil, fmt.Errorf("master %d runs no program", s.master)
			}
			return nil, errors.New("no master process holds the socket")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.record(s)
	return s, nil
}

func (l *lab) record(s *session) {
	l.mu.Lock()
	l.sessions[s] = struct{}{}
	l.mu.Unlock()
}

// kill ends a session: SIGKILL to the master, reaped by pid, then to its
// program, which the kernel re-parented to this process when the master
// died; then the socket is removed.
func (l *lab) kill(s *session) {
	l.mu.Lock()
	delete(l.sessions, s)
	l.mu.Unlock()
	l.killReap(s.master)
	for _, pid := range s.progs {
		l.killReap(pid)
	}
	os.Remove(s.sock)
}

// killReap sends SIGKILL to pid and reaps it, if it is a child of this
// process; anything else is left alone.
func (l *lab) killReap(pid int) {
	if p, err := readProc(pid); err != nil || p.ppid != l.self {
		return
	}
	_ = unix.Kill(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// close kills every session still recorded, then every remaining child of
// this process (a master whose session was never recorded, its program),
// each by pid, until no child is left; then it removes the socket directory.
func (l *lab) close() {
	l.mu.Lock()
	var all []*session
	for s := range l.sessions {
		all = append(all, s)
	}
	l.mu.Unlock()
	for _, s := range all {
		l.kill(s)
	}
	for range 100 {
		procs, err := scanProcs()
		if err != nil {
			break
		}
		left := 0
		for _, p := range procs {
			if p.ppid == l.self {
				left++
				l.killReap(p.pid)
			}
		}
		if left == 0 {
			break
		}
	}
	if l.ptm != nil {
		l.ptm.Close()
		l.tty.Close()
	}
	os.RemoveAll(l.dir)
}

// proc is what the benchmark needs of one /proc entry.
type proc struct {
	pid, ppid, sid int
	args           []string
}

func (p proc) hasArg(a string) bool {
	for _, x := range p.args {
		if x == a {
			return true
		}
	}
	return false
}

// scanProcs reads every process's stat and command line; processes that
// exit during the scan are skipped.
func scanProcs() ([]proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := readProc(pid)
		if err != nil {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// readProc reads the parent, session and command line of pid.
func readProc(pid int) (proc, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return proc{}, err
	}
	// The command name may hold spaces and parentheses: the fields
	// start after its last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return proc{}, fmt.Errorf("parse %s/stat: no command name", dir)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 4 {
		return proc{}, fmt.Errorf("parse %s/stat: %d fields", dir, len(f))
	}
	p := proc{pid: pid}
	p.ppid, _ = strconv.Atoi(f[1])
	p.sid, _ = strconv.Atoi(f[3])
	if cmdline, err := os.ReadFile(dir + "/cmdline"); err == nil {
		p.args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	}
	return p, nil
}

// rssBytes returns the VmRSS of pid in bytes.
func rssBytes(pid int) (int64, error) {
	return statusBytes(pid, "VmRSS:")
}

// statusBytes reads a kB figure from /proc/PID/status.
func statusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("read memory of %d: no %s in status", pid, field)
}

// memDetail describes pid's resident memory: anonymous and file-backed
// (the binary's pages) parts, and its thread count.
func memDetail(pid int) string {
	anon, err1 := statusBytes(pid, "RssAnon:")
	file, err2 := statusBytes(pid, "RssFile:")
	if err1 != nil || err2 != nil {
		return "breakdown unknown"
	}
	threads := "?"
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
				threads = strings.TrimSpace(rest)
			}
		}
	}
	return fmt.Sprintf("anon %.2f + file %.2f MB, %s threads", mbytes(anon), mbytes(file), threads)
}

// cpuTime returns the CPU time pid's live threads have used so far, in
// nanoseconds from /proc/PID/task/*/schedstat (the tick-grained times in
// /proc/PID/stat are too coarse for a few thousand round trips). Time of
// threads that already exited is missing; neither master ends threads.
func cpuTime(pid int) (time.Duration, error) {
	cpu, _, err := schedStat(pid)
	return cpu, err
}

// schedStat returns the CPU time pid's live threads have used so far and
// how many times they were put on a CPU (each a wake-up or a switch back),
// from /proc/PID/task/*/schedstat.
func schedStat(pid int) (cpu time.Duration, runs int64, err error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, fmt.Errorf("read CPU time of %d: %w", pid, err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) < 3 {
			continue
		}
		ns, err1 := strconv.ParseInt(f[0], 10, 64)
		n, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("read CPU time of %d: bad schedstat %q", pid, b)
		}
		cpu += time.Duration(ns)
		runs += n
	}
	return cpu, runs, nil
}
