package proctree

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"keeper/internal/peer"
)

func pids(ps []Process) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.PID
	}
	return out
}

func TestTakeSelf(t *testing.T) {
	s := take(t)
	if s.Len() < 2 {
		t.Fatalf("snapshot has %d processes", s.Len())
	}
	me, ok := s.Get(os.Getpid())
	if !ok {
		t.Fatalf("own pid %d not in snapshot", os.Getpid())
	}
	if me.PPID != os.Getppid() || me.PGID != unix.Getpgrp() {
		t.Errorf("self = %+v, want ppid %d pgid %d", me, os.Getppid(), unix.Getpgrp())
	}
	if sid, _ := unix.Getsid(0); me.SID != sid {
		t.Errorf("self sid = %d, want %d", me.SID, sid)
	}
	if me.State != 'R' && me.State != 'S' {
		t.Errorf("self state = %q", me.State)
	}
	ps := s.Processes()
	if !slices.IsSortedFunc(ps, func(a, b Process) int { return a.PID - b.PID }) {
		t.Error("Processes not in pid order")
	}
	ps[0].PID = -1 // the caller's copy
	if p := s.Processes()[0]; p.PID == -1 {
		t.Error("Processes returned the snapshot's own slice")
	}
	if _, ok := s.Get(-5); ok {
		t.Error("Get(-5) found a process")
	}
}

// TestSetsid checks a process in its own session with no terminal.
func TestSetsid(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start(t, cmd)
	pid := cmd.Process.Pid
	var p Process
	eventually(t, "sleep to exec", func() bool {
		var ok bool
		p, ok = take(t).Get(pid)
		return ok && p.Comm == "sleep"
	})
	if p.PPID != os.Getpid() || p.SID != pid || p.PGID != pid || p.HasTTY() || !p.SessionLeader() || !p.GroupLeader() {
		t.Errorf("setsid sleep = %+v", p)
	}
	if p.TPGID != -1 {
		t.Errorf("tpgid = %d, want -1 without a terminal", p.TPGID)
	}
	s := take(t)
	if got := pids(s.InSession(pid)); !slices.Equal(got, []int{pid}) {
		t.Errorf("InSession(%d) = %v, want [%d]", pid, got, pid)
	}
	if got := pids(s.InGroup(pid)); !slices.Equal(got, []int{pid}) {
		t.Errorf("InGroup(%d) = %v, want [%d]", pid, got, pid)
	}
	if !slices.Contains(pids(s.Children(os.Getpid())), pid) {
		t.Errorf("Children(self) = %v, lacks %d", pids(s.Children(os.Getpid())), pid)
	}
	// It listens on nothing, so it is no session master.
	if ls, err := UnixListeners([]int{pid}); err != nil || len(ls) != 0 {
		t.Errorf("UnixListeners(sleep) = %v, %v; want none", ls, err)
	}
	if got := s.Descendants(pid); len(got) != 0 {
		t.Errorf("Descendants(sleep) = %v", got)
	}
}

// TestGroupTree checks a shell with a child and a grandchild in its own
// process group.
func TestGroupTree(t *testing.T) {
	cmd := exec.Command("sh", "-c", `sh -c "sleep 1001 & wait" & wait`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start(t, cmd)
	pid := cmd.Process.Pid
	// Cleanup: kill the group, wait the shell, then reap the re-parented
	// descendants top down. Registered after start's, so it runs first.
	t.Cleanup(func() {
		desc, _ := Take()
		unix.Kill(-pid, unix.SIGKILL)
		cmd.Wait()
		if desc != nil {
			reap(t, pids(desc.Descendants(pid)))
		}
	})
	var s *Snapshot
	var desc []Process
	eventually(t, "sleep 1001 under the shell", func() bool {
		s = take(t)
		desc = s.Descendants(pid)
		return slices.ContainsFunc(desc, func(p Process) bool { return p.Comm == "sleep" })
	})

	if len(desc) < 2 {
		t.Fatalf("Descendants(%d) = %+v, want a child and a grandchild", pid, desc)
	}
	children := s.Children(pid)
	if len(children) != 1 || children[0].Comm != "sh" {
		t.Fatalf("Children(%d) = %+v, want one sh", pid, children)
	}
	inner := children[0].PID
	grand := s.Children(inner)
	if len(grand) != 1 || grand[0].Comm != "sleep" || grand[0].PPID != inner {
		t.Fatalf("Children(%d) = %+v, want one sleep", inner, grand)
	}
	if got, want := pids(desc), []int{inner, grand[0].PID}; !slices.Equal(got, want) {
		t.Errorf("Descendants(%d) = %v, want %v", pid, got, want)
	}
	if got, want := pids(s.InGroup(pid)), []int{pid, inner, grand[0].PID}; !slices.Equal(got, want) {
		t.Errorf("InGroup(%d) = %v, want %v (pid order)", pid, got, want)
	}
	sid, _ := unix.Getsid(0)
	inSess := pids(s.InSession(sid))
	for _, p := range []int{os.Getpid(), pid, inner, grand[0].PID} {
		if !slices.Contains(inSess, p) {
			t.Errorf("InSession(%d) = %v, lacks %d", sid, inSess, p)
		}
	}
	if got := pids(s.Descendants(os.Getpid())); !slices.Contains(got, grand[0].PID) {
		t.Errorf("Descendants(self) = %v lacks the grandchild", got)
	}
}

func TestDescendantsCycle(t *testing.T) {
	// An inconsistent snapshot (pid reuse during the scan) could link
	// parents in a cycle: 10 -> 11 -> 12 -> 10.
	s := &Snapshot{procs: []Process{
		{PID: 1, PPID: 0},
		{PID: 10, PPID: 12},
		{PID: 11, PPID: 10},
		{PID: 12, PPID: 11},
		{PID: 13, PPID: 11},
		{PID: 14, PPID: 14},
	}}
	s.index()
	if got, want := pids(s.Descendants(10)), []int{11, 12, 13}; !slices.Equal(got, want) {
		t.Errorf("Descendants(10) = %v, want %v", got, want)
	}
	if got, want := pids(s.Descendants(11)), []int{12, 13, 10}; !slices.Equal(got, want) {
		t.Errorf("Descendants(11) = %v, want %v", got, want)
	}
	if got := pids(s.Descendants(14)); len(got) != 0 {
		t.Errorf("Descendants(14) = %v, want none", got)
	}
	if got, want := pids(s.Descendants(0)), []int{1}; !slices.Equal(got, want) {
		t.Errorf("Descendants(0) = %v, want %v", got, want)
	}
	if got, want := pids(s.Children(11)), []int{12, 13}; !slices.Equal(got, want) {
		t.Errorf("Children(11) = %v, want %v", got, want)
	}
	var zero Snapshot
	if zero.Len() != 0 || len(zero.Descendants(1)) != 0 || len(zero.Children(0)) != 0 {
		t.Error("zero Snapshot not empty")
	}
}

// TestCommWithParens checks the stat parser on a real process named with
// spaces and parentheses.
func TestCommWithParens(t *testing.T) {
	const name = "a) (b c) 9 Z"
	cmd := startHelper(t, "comm="+name, nil)
	pid := cmd.Process.Pid
	s := take(t)
	p, ok := s.Get(pid)
	if !ok {
		t.Fatalf("helper %d not in snapshot", pid)
	}
	if p.Comm != name || p.PPID != os.Getpid() || p.State == 'Z' || p.Threads < 1 {
		t.Errorf("helper = %+v, want comm %q, ppid %d", p, name, os.Getpid())
	}
	id, err := IdentityOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	if id != p.Identity() {
		t.Errorf("IdentityOf = %v, snapshot says %v", id, p.Identity())
	}
}

func TestCmdline(t *testing.T) {
	args := []string{"x y", "", "(z)"}
	cmd := startHelper(t, "", nil, args...)
	pid := cmd.Process.Pid
	want := append([]string{os.Args[0]}, args...)
	p, _ := take(t).Get(pid)
	got, err := p.Identity().Cmdline()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Cmdline(%d) = %q, %v; want %q", pid, got, err, want)
	}
	if _, err := (Identity{PID: -1}).Cmdline(); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Cmdline of pid -1: error = %v, want ErrNoProcess", err)
	}
	// A kernel thread (kthreadd, pid 2, when visible) has no command line.
	if p, ok := take(t).Get(2); ok && p.PPID == 0 {
		got, err := p.Identity().Cmdline()
		if err != nil || len(got) != 0 {
			t.Errorf("Cmdline(2) = %q, %v; want empty", got, err)
		}
	}
	// An identity whose process is gone does not read a reused pid.
	cmd.Process.Kill()
	cmd.Wait()
	if got, err := p.Identity().Cmdline(); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Cmdline of reaped %d = %q, %v; want ErrNoProcess", pid, got, err)
	}
}

func TestIdentity(t *testing.T) {
	before := time.Now()
	cmd := exec.Command("sleep", "1000")
	start(t, cmd)
	pid := cmd.Process.Pid
	id, err := IdentityOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	if id.PID != pid || id.StartTime == 0 {
		t.Fatalf("IdentityOf(%d) = %v", pid, id)
	}
	if !id.Alive() || !id.Same(id) {
		t.Errorf("%v not alive or not same as itself", id)
	}
	if !take(t).Has(id) {
		t.Errorf("snapshot lacks %v", id)
	}
	// btime is whole seconds, so allow a little more than that.
	if at := id.StartedAt(); at.Before(before.Add(-2*time.Second)) || at.After(time.Now().Add(2*time.Second)) {
		t.Errorf("StartedAt = %v, want about %v", at, before)
	}

	// The same pid with another start time: a reused pid.
	reused := Identity{PID: pid, StartTime: id.StartTime + 1}
	if reused.Alive() || reused.Same(id) || id.Same(reused) || take(t).Has(reused) {
		t.Errorf("%v counted as %v", reused, id)
	}
	if _, err := reused.Process(); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Process of %v: %v, want ErrNoProcess", reused, err)
	}
	if err := reused.Signal(unix.SIGKILL); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Signal of %v: %v, want ErrNoProcess", reused, err)
	}
	if !id.Alive() {
		t.Fatalf("signalling %v killed %v", reused, id)
	}

	// The real identity's signal arrives.
	if err := id.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("sleep ended with %v, want SIGTERM", err)
	}
	if id.Alive() {
		t.Errorf("%v alive after being reaped", id)
	}
	if err := id.Signal(unix.SIGTERM); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Signal of reaped %v: %v, want ErrNoProcess", id, err)
	}
}

func TestIdentityOfMissing(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	max, err := strconv.Atoi(string(b[:len(b)-1]))
	if err != nil {
		t.Fatal(err)
	}
	// Pids are below pid_max, so pid_max names no process.
	_, err = IdentityOf(max)
	if !errors.Is(err, ErrNoProcess) {
		t.Fatalf("IdentityOf(%d) error = %v, want ErrNoProcess", max, err)
	}
	if want := "identify process " + strconv.Itoa(max) + ": read /proc/" + strconv.Itoa(max) + "/stat: no such process"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if (Identity{PID: max}).Alive() {
		t.Errorf("pid %d alive", max)
	}
}

// TestZombie checks that an exited, unreaped child is not alive.
func TestZombie(t *testing.T) {
	cmd := exec.Command("true")
	start(t, cmd)
	pid := cmd.Process.Pid
	id, err := IdentityOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "true to become a zombie", func() bool {
		p, err := id.Process()
		return err == nil && p.State == 'Z'
	})
	if id.Alive() {
		t.Errorf("zombie %v alive", id)
	}
	p, ok := take(t).Get(pid)
	if !ok || !p.Zombie() {
		t.Errorf("snapshot has zombie as %+v, %v", p, ok)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := id.Process(); !errors.Is(err, ErrNoProcess) {
		t.Errorf("reaped %v: %v, want ErrNoProcess", id, err)
	}
}

func TestUnixListeners(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "with space.sock")
	abstract := "@proctree-test-" + strconv.Itoa(os.Getpid())
	spec := "listen=" + path + ",listen=" + abstract +
		",listenrel=" + sub + "/rel.sock" + // reported as "rel.sock"
		",listenfd=" + dir + "/fd.sock" + // reported as /proc/self/fd/N/fd.sock
		",dgram=" + filepath.Join(dir, "dgram.sock") // bound, not listening
	cmd := startHelper(t, spec, &syscall.SysProcAttr{Setsid: true})
	pid := cmd.Process.Pid
	plain := startHelper(t, "", nil)

	got, err := UnixListeners([]int{pid, plain.Process.Pid, os.Getpid(), -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("UnixListeners = %v, want only %d", got, pid)
	}
	paths := got[pid]
	if len(paths) != 4 {
		t.Fatalf("listeners of %d = %q, want 4", pid, paths)
	}
	want := []string{path, abstract, "rel.sock"}
	for _, w := range want {
		if !slices.Contains(paths, w) {
			t.Errorf("listeners of %d = %q, lacks %q", pid, paths, w)
		}
	}
	if m, _ := filepath.Match("/proc/self/fd/*/fd.sock", paths[0]); !m {
		t.Errorf("listeners of %d = %q, want /proc/self/fd/N/fd.sock first", pid, paths)
	}

}

// TestDtachSession finds a session made by the real dtach.
func TestDtachSession(t *testing.T) {
	dtach := peer.Need(t, "dtach")
	sock := filepath.Join(t.TempDir(), "d.sock")
	// dtach -n forks the master and exits; the master is re-parented to
	// us (child subreaper).
	cmd := exec.Command(dtach, "-n", sock, "sleep", "1002")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, os.Stderr
	// Cleanup: kill the dtach master listening on sock and what it runs,
	// then reap them top down (they are re-parented to us).
	t.Cleanup(func() {
		s, err := Take()
		if err != nil {
			t.Error(err)
			return
		}
		for _, p := range s.Descendants(os.Getpid()) {
			ls, _ := UnixListeners([]int{p.PID})
			if p.Comm != "dtach" || !slices.Contains(ls[p.PID], sock) {
				continue
			}
			tree := append([]Process{p}, s.Descendants(p.PID)...)
			for _, q := range tree {
				q.Identity().Signal(unix.SIGKILL)
			}
			reap(t, pids(tree))
		}
	})
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	// The master is a session leader with no terminal below us,
	// listening on the socket, with the program on the pty below it.
	var master Process
	var s *Snapshot
	eventually(t, "dtach master listening", func() bool {
		s = take(t)
		for _, p := range s.Descendants(os.Getpid()) {
			if !p.SessionLeader() || p.HasTTY() {
				continue
			}
			if ls, _ := UnixListeners([]int{p.PID}); slices.Equal(ls[p.PID], []string{sock}) {
				master = p
				return len(s.Descendants(p.PID)) > 0
			}
		}
		return false
	})
	tree := append([]Process{master}, s.Descendants(master.PID)...)
	if master.Comm != "dtach" {
		t.Errorf("master listening on %s = %+v, want dtach", sock, master)
	}
	// The program on the pty has its own session and the pty as its tty.
	prog := tree[1]
	if prog.Comm != "sleep" || !prog.SessionLeader() || !prog.HasTTY() || prog.SID == master.SID {
		t.Errorf("program under dtach = %+v", prog)
	}
}

func TestNoDescriptorLeak(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := count()
	for range 5 {
		s := take(t)
		if _, err := UnixListeners(pids(s.Processes())); err != nil {
			t.Fatal(err)
		}
	}
	if after := count(); after != before {
		t.Errorf("open descriptors: %d before, %d after", before, after)
	}
}
