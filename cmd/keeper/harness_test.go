package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"keeper/detach"
	"keeper/proctree"
	"keeper/supervise"
)

// keeperBin is the keeper binary built once for the end-to-end tests, and
// dtachLink a symlink to it named dtach.
var keeperBin, dtachLink string

func TestMain(m *testing.M) {
	// Orphaned session masters are re-parented to the test process, which
	// reaps them by pid: on these machines PID 1 would leave them zombies.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "set child subreaper:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "keeper-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keeperBin = filepath.Join(dir, "keeper")
	build := exec.Command("go", "build", "-o", keeperBin, ".")
	// Static, as make builds it: no libc mapped into every session master.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build keeper:", err)
		os.Exit(1)
	}
	// The session master alone, beside keeper, as make builds it.
	build = exec.Command("go", "build", "-o", filepath.Join(dir, detach.MasterBinary), "../keeper-master")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build keeper-master:", err)
		os.Exit(1)
	}
	linkDir := filepath.Join(dir, "path")
	os.Mkdir(linkDir, 0o755)
	dtachLink = filepath.Join(linkDir, "dtach")
	if err := os.Symlink(keeperBin, dtachLink); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cgroupsBefore := daemonCgroups()
	code := m.Run()
	removeCgroups(cgroupsBefore)
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemonCgroups lists the daemons' cgroup directories in the test
// process's cgroup, where the tests' daemons make theirs (none without
// cgroup v2).
func daemonCgroups() map[string]bool {
	own, err := supervise.OwnCgroup()
	if err != nil {
		return nil
	}
	dirs, _ := filepath.Glob(filepath.Join(own, supervise.CgroupPrefix+"*"))
	out := map[string]bool{}
	for _, d := range dirs {
		out[d] = true
	}
	return out
}

// removeCgroups removes the cgroup directories the tests' daemons left:
// one killed with SIGKILL cannot remove its own, and each test's socket
// names a directory of its own, which no later daemon takes over. Only
// directories made during the run go, and rmdir refuses any that still
// holds a process.
func removeCgroups(before map[string]bool) {
	for dir := range daemonCgroups() {
		if before[dir] {
			continue
		}
		var tree []string
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				tree = append(tree, path)
			}
			return nil
		})
		for _, d := range slices.Backward(tree) {
			os.Remove(d)
		}
	}
}

// testDir returns a short temporary directory (socket paths must stay
// under 108 bytes) and registers a cleanup that kills and reaps every
// process whose command line mentions it: session masters, their
// programs, daemons.
func testDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killMarked(t, dir)
		os.RemoveAll(dir)
	})
	return dir
}

// pidsMentioning lists the processes whose command line contains marker.
func pidsMentioning(marker string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(marker)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killMarked SIGKILLs every process mentioning marker, with its process
// group, and reaps those that are (or were re-parented as) our children.
func killMarked(t *testing.T, marker string) {
	for _, pid := range pidsMentioning(marker) {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid != syscall.Getpgrp() {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
	reapOrphans()
}

// reapOrphans waits for exited children that no exec.Cmd owns: masters and
// programs re-parented to the test process.
func reapOrphans() {
	deadline := time.Now().Add(2 * time.Second)
	for reapZombies() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// reapZombies reaps the test process's exited children that no exec.Cmd
// waits for, and reports whether any such child still runs. It only
// touches zombies that stayed zombies for zombieGrace: an exec.Cmd that
// no test registered (a plain cmd.Run) waits for its child as soon as it
// exits, and must not find it stolen (waitid: no child processes).
func reapZombies() (running bool) {
	for _, pid := range childrenOf(os.Getpid()) {
		p := procStat(pid)
		switch {
		case ownedByCmd(pid):
		case p.State == 'Z':
			first, _ := zombieSince.LoadOrStore(p.Identity(), time.Now())
			if time.Since(first.(time.Time)) < zombieGrace {
				running = true
				continue
			}
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			zombieSince.Delete(p.Identity())
		default:
			running = true
		}
	}
	return running
}

// zombieSince is when reapZombies first saw each zombie child, by identity.
var zombieSince sync.Map

// zombieGrace is how long a zombie child is left to the exec.Cmd that may
// own it.
const zombieGrace = 300 * time.Millisecond

var (
	cmdPidsMu sync.Mutex
	cmdPids   = map[int]bool{}
)

func ownedByCmd(pid int) bool {
	cmdPidsMu.Lock()
	defer cmdPidsMu.Unlock()
	return cmdPids[pid]
}

func childrenOf(ppid int) []int {
	kids, _ := proctree.ChildrenOf(ppid)
	return kids
}

// procStat returns pid's /proc stat, the zero Process when it is gone.
func procStat(pid int) proctree.Process {
	p, _ := proctree.Stat(pid)
	return p
}

// state returns pid's one-letter state, 0 when it is gone.
func state(pid int) byte { return procStat(pid).State }

// term is a command running on a real pty, with its output collected.
type term struct {
	t    *testing.T
	cmd  *exec.Cmd
	pty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // output before this offset was consumed by expect
	done chan struct{}
	exit int
}

// startTerm runs argv on a new pty of 80x24 in dir with the given extra
// environment.
func startTerm(t *testing.T, dir string, env []string, argv ...string) *term {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatalf("start %v on a pty: %v", argv, err)
	}
	cmdPidsMu.Lock()
	cmdPids[cmd.Process.Pid] = true
	cmdPidsMu.Unlock()
	tm := &term{t: t, cmd: cmd, pty: f, done: make(chan struct{}), exit: -1}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := f.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				break
			}
		}
	}()
	go func() {
		cmd.Wait()
		tm.exit = cmd.ProcessState.ExitCode()
		cmdPidsMu.Lock()
		delete(cmdPids, cmd.Process.Pid)
		cmdPidsMu.Unlock()
		close(tm.done)
	}()
	t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Process.Kill()
			<-tm.done
		}
		f.Close()
	})
	return tm
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.pty.Write([]byte(s)); err != nil {
		tm.t.Fatalf("type %q: %v", s, err)
	}
}

// expect waits until the output after the last match matches re, and
// returns the match.
func (tm *term) expect(re string, timeout time.Duration) string {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		tm.mu.Lock()
		rest := tm.out.Bytes()[tm.seen:]
		if loc := rx.FindIndex(rest); loc != nil {
			m := string(rest[loc[0]:loc[1]])
			tm.seen += loc[1]
			tm.mu.Unlock()
			return m
		}
		all := tm.out.String()
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			tm.t.Fatalf("no %q in output after %v; output so far:\n%q", re, timeout, all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wait waits for the command to exit and returns its exit status.
func (tm *term) wait(timeout time.Duration) int {
	tm.t.Helper()
	select {
	case <-tm.done:
		return tm.exit
	case <-time.After(timeout):
		tm.mu.Lock()
		defer tm.mu.Unlock()
		tm.t.Fatalf("%v still running after %v; output:\n%q", tm.cmd.Args, timeout, tm.out.String())
	}
	return -1
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// runCmd runs a command without a terminal and returns its combined output
// and exit status.
func runCmd(t *testing.T, dir string, argv ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run %v: %v", argv, err)
		}
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
