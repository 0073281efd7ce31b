package main

// Tests of keeper as a system service: the LSB init script against the real
// start-stop-daemon and /lib/lsb/init-functions, the sd_notify protocol of
// keeper daemon -n under a NOTIFY_SOCKET, keeper as a container's PID 1
// (unshare --pid), and make install.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
)

// repoFile returns the absolute path of a file of the repository.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// service drives scripts/init.d/keeper on a config in a test directory,
// with its settings in a KEEPER_DEFAULTS file there.
type service struct {
	t                            *testing.T
	dir, conf, pidfile, defaults string
	script                       string
	// starting is held from the start of a child until it is marked as
	// owned, and by the zombie reaper: the reaper never takes the exit of
	// a child whose exec.Cmd is about to wait for it.
	starting sync.Mutex
}

// serviceConf is the daemon's config: one program that leaves a keeper
// dtach session (once), as Gate One leaves its terminals.
const serviceConf = `[unix_http_server]
file=@DIR@/k.sock

[supervisord]
logfile=@DIR@/keeper.log
pidfile=@DIR@/keeper.pid
childlogdir=@DIR@

[program:term]
command=/bin/sh -c '[ -S @DIR@/term.sock ] || @KEEPER@ dtach -n @DIR@/term.sock @DIR@/sleepy 1000; exec @DIR@/sleepy 1001'
startsecs=0
stopasgroup=true
`

func newService(t *testing.T) *service {
	t.Helper()
	peer.Need(t, "start-stop-daemon")
	peer.Need(t, "init-functions")
	dir := testDir(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sleep, filepath.Join(dir, "sleepy")); err != nil {
		t.Fatal(err)
	}
	s := &service{
		t:        t,
		dir:      dir,
		conf:     filepath.Join(dir, "keeper.conf"),
		pidfile:  filepath.Join(dir, "keeper.pid"),
		defaults: filepath.Join(dir, "default"),
		script:   repoFile(t, "scripts/init.d/keeper"),
	}
	conf := strings.NewReplacer("@DIR@", dir, "@KEEPER@", keeperBin).Replace(serviceConf)
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	defaults := fmt.Sprintf("KEEPER=%s\nKEEPER_CONF=%s\nSTOP_TIMEOUT=20\n", keeperBin, s.conf)
	if err := os.WriteFile(s.defaults, []byte(defaults), 0o644); err != nil {
		t.Fatal(err)
	}
	// Detached daemons started by the script are re-parented to the test
	// process: reap them (and what they leave) as they exit, so that the
	// script sees them gone.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			s.starting.Lock()
			reapZombies()
			s.starting.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		// Stop whatever daemon the test left, then the harness kills the
		// rest (sessions) by marker.
		s.keeper("shutdown", "--kill-sessions")
		waitFor(t, "the daemon to exit", 20*time.Second, func() bool {
			return len(s.daemonPids()) == 0
		})
		cancel()
		<-done
	})
	return s
}

// run runs the init script with an action.
func (s *service) run(args ...string) (string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{s.script}, args...)...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "KEEPER_DEFAULTS="+s.defaults)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	s.starting.Lock()
	if err := cmd.Start(); err != nil {
		s.starting.Unlock()
		s.t.Fatal(err)
	}
	ownChild(cmd.Process.Pid, true)
	s.starting.Unlock()
	if err := cmd.Wait(); err != nil && cmd.ProcessState == nil {
		s.t.Fatalf("init script %v: %v", args, err)
	}
	ownChild(cmd.Process.Pid, false)
	return out.String(), cmd.ProcessState.ExitCode()
}

// expect runs the init script and checks its exit status and output.
func (s *service) expect(wantCode int, wantOut string, args ...string) string {
	s.t.Helper()
	out, code := s.run(args...)
	if code != wantCode || !regexp.MustCompile(wantOut).MatchString(out) {
		s.t.Fatalf("init script %s: exit status %d, output %q; want %d and %q\ndaemon log:\n%s",
			strings.Join(args, " "), code, out, wantCode, wantOut, readFileOrEmpty(filepath.Join(s.dir, "keeper.log")))
	}
	return out
}

// keeper runs a keeper client command on the config.
func (s *service) keeper(args ...string) (string, int) {
	s.t.Helper()
	// No reaping meanwhile: runKeeper marks its child as owned only once
	// started. The commands run here return without waiting for a zombie.
	s.starting.Lock()
	defer s.starting.Unlock()
	return runKeeper(s.t, s.dir, append([]string{keeperBin, "-c", s.conf}, args...)...)
}

// daemonPids lists the live keeper daemons running the test's config.
func (s *service) daemonPids() []int {
	var out []int
	for _, pid := range pidsMentioning(s.conf) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if processAlive(pid) && slices.Contains(strings.Split(string(b), "\x00"), "daemon") {
			out = append(out, pid)
		}
	}
	return out
}

// daemonPid waits for exactly one daemon and returns its pid.
func (s *service) daemonPid() int {
	s.t.Helper()
	var pids []int
	waitFor(s.t, "one keeper daemon", 10*time.Second, func() bool {
		pids = s.daemonPids()
		return len(pids) == 1
	})
	return pids[0]
}

// noDaemon waits until no daemon runs.
func (s *service) noDaemon() {
	s.t.Helper()
	waitFor(s.t, "no keeper daemon", 10*time.Second, func() bool { return len(s.daemonPids()) == 0 })
}

// session waits for the program's one session and returns it.
func (s *service) session() sessionJSON {
	s.t.Helper()
	var list []sessionJSON
	waitFor(s.t, "term's session to be listed", 15*time.Second, func() bool {
		out, code := s.keeper("sessions", "--json")
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
			return false
		}
		return len(list) == 1 && list[0].ChildPID != 0
	})
	return list[0]
}

// programPid returns the pid of the program term, as the daemon reports it.
func (s *service) programPid() int {
	s.t.Helper()
	out, code := s.keeper("pid", "term")
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if code != 0 || err != nil || pid <= 1 {
		s.t.Fatalf("keeper pid term: exit status %d, output %q", code, out)
	}
	return pid
}

// TestServiceInitScript drives scripts/init.d/keeper through start, status,
// reload, stop (the session stays), a stale pidfile, a daemon started by
// hand, restart and kill-sessions, with the real start-stop-daemon and LSB
// functions.
func TestServiceInitScript(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	// Not parallel: the test reaps every unowned zombie child while it runs.
	s := newService(t)

	s.expect(3, `keeper is not running`, "status")
	s.expect(0, `^Starting process supervisor: keeper[^\n]*\.\n$`, "start")
	pid := s.daemonPid()
	if got := readPidFile(t, s.pidfile, time.Second); got != pid {
		t.Fatalf("pidfile holds %d, the daemon is %d", got, pid)
	}
	ownChild(pid, false)
	sess := s.session()
	s.expect(0, fmt.Sprintf(`keeper is running \(pid %d\).*\n(?s:.*)term\s+RUNNING\s+pid \d+`, pid), "status")
	// Already running is success, and starts nothing.
	s.expect(0, `Starting`, "start")
	if got := s.daemonPid(); got != pid {
		t.Fatalf("second start: daemon %d, want %d", got, pid)
	}

	// reload: SIGHUP restarts the program; the session stays.
	prog := s.programPid()
	s.expect(0, `Reloading process supervisor configuration: keeper\.`, "reload")
	waitFor(t, "term restarted by the reload", 10*time.Second, func() bool {
		out, code := s.keeper("pid", "term")
		p, _ := strconv.Atoi(strings.TrimSpace(out))
		return code == 0 && p > 1 && p != prog
	})
	if got := s.daemonPid(); got != pid {
		t.Fatalf("reload replaced the daemon %d with %d", pid, got)
	}
	if again := s.session(); again.PID != sess.PID {
		t.Fatalf("the reload changed the session: %+v, was %+v", again, sess)
	}

	// stop: programs and daemon go, the session stays; the pidfile goes.
	prog = s.programPid()
	s.expect(0, `Stopping process supervisor \(sessions stay\): keeper\.`, "stop")
	s.noDaemon()
	if processAlive(prog) {
		t.Errorf("program term (pid %d) still runs after stop", prog)
	}
	if !processAlive(sess.PID) || !processAlive(sess.ChildPID) {
		t.Fatalf("stop killed the session %+v", sess)
	}
	if _, err := os.Stat(s.pidfile); err == nil {
		t.Errorf("pidfile left after stop")
	}
	s.expect(3, `keeper is not running`, "status")
	s.expect(0, `Stopping`, "stop") // not running is success

	// A stale pidfile naming a live process that is no daemon (the
	// session's master, itself a keeper process): status says so, start
	// starts, and nothing signals the master.
	os.WriteFile(s.pidfile, []byte(fmt.Sprintf("%d\n", sess.PID)), 0o644)
	s.expect(1, `keeper is not running but .*keeper.pid exists`, "status")
	s.expect(0, `Starting`, "start")
	pid = s.daemonPid()
	if got := readPidFile(t, s.pidfile, time.Second); got != pid {
		t.Fatalf("after a stale pidfile: pidfile holds %d, the daemon is %d", got, pid)
	}
	if again := s.session(); again.PID != sess.PID {
		t.Fatalf("the new daemon did not re-adopt the session: %+v, was %+v", again, sess)
	}
	// A pidfile whose process is gone.
	s.expect(0, `Stopping`, "stop")
	s.noDaemon()
	os.WriteFile(s.pidfile, []byte("4194304\n"), 0o644)
	s.expect(1, `exists`, "status")
	s.expect(0, `Starting`, "start")
	s.daemonPid()
	s.expect(0, `Stopping`, "stop")
	s.noDaemon()

	// A daemon started by hand, global -c before the command, its pidfile
	// then lost: status and stop find it by its control socket.
	if out, code := s.keeper("daemon"); code != 0 {
		t.Fatalf("keeper -c CONF daemon: exit status %d: %s", code, out)
	}
	pid = s.daemonPid()
	os.Remove(s.pidfile)
	s.expect(0, fmt.Sprintf(`keeper is running \(pid %d\)`, pid), "status")
	s.expect(0, `Stopping`, "stop")
	s.noDaemon()
	if !processAlive(sess.PID) {
		t.Fatalf("stop of the daemon started by hand killed the session")
	}

	// restart from stopped, then while running: a new daemon, same session.
	s.expect(0, `^Restarting process supervisor \(sessions stay\): keeper[^\n]*\.\n$`, "restart")
	pid = s.daemonPid()
	s.expect(0, `Restarting`, "restart")
	if got := s.daemonPid(); got == pid {
		t.Fatalf("restart kept the daemon %d", pid)
	}
	if again := s.session(); again.PID != sess.PID {
		t.Fatalf("restart changed the session: %+v, was %+v", again, sess)
	}
	s.expect(0, `Reloading`, "force-reload")

	// upgrade: the daemon executes its binary again in its pid, the
	// program and the session stay as they are.
	waitFor(t, "term running again after the reload", 10*time.Second, func() bool {
		_, code := s.keeper("pid", "term")
		return code == 0
	})
	pid, prog = s.daemonPid(), s.programPid()
	s.expect(0, `^Upgrading process supervisor in place \(programs stay\): keeper\.\n$`, "upgrade")
	if got := s.daemonPid(); got != pid {
		t.Fatalf("upgrade replaced the daemon %d with %d", pid, got)
	}
	if got := s.programPid(); got != prog {
		t.Fatalf("upgrade restarted term: pid %d, was %d", got, prog)
	}
	if out, _ := s.keeper("status"); !strings.Contains(out, "RUNNING") {
		t.Fatalf("after upgrade: %s", out)
	}

	// kill-sessions reaps the session, program and daemon stay.
	s.expect(0, fmt.Sprintf(`term: session term.sock killed \(master pid %d`, sess.PID), "kill-sessions")
	waitFor(t, "the session's processes to go", 10*time.Second, func() bool {
		return !processAlive(sess.PID) && !processAlive(sess.ChildPID)
	})
	s.expect(0, `term\s+RUNNING`, "status")
	s.expect(0, `Stopping`, "stop")
	s.noDaemon()
	s.expect(7, `failed`, "reload")
	s.expect(7, `failed`, "upgrade")
	// force-reload starts a stopped daemon.
	s.expect(0, `Reloading`, "force-reload")
	s.daemonPid()
	s.expect(0, `Stopping`, "stop")
	s.noDaemon()

	// A broken config: start fails saying why, status is unknown.
	good := readFileT(t, s.conf)
	os.WriteFile(s.conf, []byte(good+"autorestart=maybe\n"), 0o644)
	s.expect(1, `failed!\n(?s:.*)keeper.conf:\d+: \[program:term\] autorestart`, "start")
	s.expect(4, `cannot read`, "status")
	os.WriteFile(s.conf, []byte(good), 0o644)
	s.expect(3, `Usage: `, "frobnicate")
	if pids := s.daemonPids(); len(pids) != 0 {
		t.Errorf("daemons left running: %v", pids)
	}
}

// TestServiceStoppedDaemon: a daemon stopped with SIGSTOP does not hang its
// clients nor the init script. keeper status gives up after KEEPER_TIMEOUT
// with status 4, the script's status says 4 from the pidfile, and its stop
// shuts the daemon down (SIGTERM, then SIGCONT) with the session kept.
func TestServiceStoppedDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	// Not parallel: the test reaps every unowned zombie child while it runs.
	s := newService(t)
	f, err := os.OpenFile(s.defaults, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "KEEPER_TIMEOUT=1")
	f.Close()

	s.expect(0, `Starting`, "start")
	pid := s.daemonPid()
	ownChild(pid, false)
	sess := s.session()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })

	start := time.Now()
	out, code := runKeeper(t, s.dir, "/usr/bin/env", "KEEPER_TIMEOUT=1", keeperBin, "-c", s.conf, "status")
	if code != 4 || !strings.Contains(out, "not answering") {
		t.Errorf("keeper status of a stopped daemon: exit %d, %q; want 4 and \"not answering\"", code, out)
	}
	out, code = runKeeper(t, s.dir, "/usr/bin/env", "KEEPER_TIMEOUT=1", keeperBin, "-c", s.conf, "pid")
	if code == 0 || !strings.Contains(out, "not answering") {
		t.Errorf("keeper pid of a stopped daemon: exit %d, %q; want a failure saying it is not answering", code, out)
	}
	t.Logf("two client commands gave up on the stopped daemon in %v", time.Since(start).Round(time.Millisecond))

	s.expect(4, fmt.Sprintf(`keeper \(pid %d\) is running but its control socket does not answer`, pid), "status")
	s.expect(0, `Stopping`, "stop")
	s.noDaemon()
	if !processAlive(sess.PID) {
		t.Errorf("stop of a stopped daemon killed the session master %d", sess.PID)
	}
}

// TestServiceNotify runs keeper daemon -n under a NOTIFY_SOCKET, as
// systemd's Type=notify does, and checks the datagrams: READY=1 with
// MAINPID once the socket answers, RELOADING=1 then READY=1 across a
// SIGHUP, STOPPING=1 on a shutdown asked over the control socket; and that
// programs do not inherit NOTIFY_SOCKET.
func TestServiceNotify(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:env]
command=/bin/sh -c 'env > @DIR@/env.$$; exec @DIR@/sleepy 1000'
startsecs=0
`)
	addr := filepath.Join(k.dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	next := func(what string) map[string]string {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		f := map[string]string{}
		for line := range strings.SplitSeq(string(buf[:n]), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				f[k] = v
			}
		}
		return f
	}
	k.start("NOTIFY_SOCKET=" + addr)
	f := next("READY=1")
	if f["READY"] != "1" || f["MAINPID"] != strconv.Itoa(k.cmd.Process.Pid) {
		t.Fatalf("first notification %v, want READY=1 and MAINPID=%d", f, k.cmd.Process.Pid)
	}
	// Ready means the program is started.
	if s := statename(k.info("env")); s != "RUNNING" {
		t.Errorf("at READY=1 env is %s, want RUNNING", s)
	}
	// RUNNING comes at the spawn: a SIGHUP now could stop the shell before
	// it wrote its environment.
	waitFor(t, "the program's environment", 10*time.Second, func() bool {
		envs, _ := filepath.Glob(filepath.Join(k.dir, "env.*"))
		if len(envs) != 1 {
			return false
		}
		b, _ := os.ReadFile(envs[0])
		return strings.Contains(string(b), "PATH=")
	})
	k.cmd.Process.Signal(syscall.SIGHUP)
	if f := next("RELOADING=1"); f["RELOADING"] != "1" || f["MONOTONIC_USEC"] == "" {
		t.Fatalf("after SIGHUP: %v, want RELOADING=1 with MONOTONIC_USEC", f)
	}
	if f := next("READY=1 after the reload"); f["READY"] != "1" {
		t.Fatalf("after the reload: %v, want READY=1", f)
	}
	k.waitState("env", 5*time.Second, "RUNNING")
	// RUNNING comes at the spawn (startsecs=0): wait for the program to
	// have written its environment before shutting it down.
	waitFor(t, "the restarted program's environment", 10*time.Second, func() bool {
		envs, _ := filepath.Glob(filepath.Join(k.dir, "env.*"))
		for _, p := range envs {
			if b, _ := os.ReadFile(p); !strings.Contains(string(b), "PATH=") {
				return false
			}
		}
		return len(envs) == 2
	})
	if _, err := k.call("supervisor.shutdown"); err != nil {
		t.Fatal(err)
	}
	if f := next("STOPPING=1"); f["STOPPING"] != "1" {
		t.Fatalf("after shutdown: %v, want STOPPING=1", f)
	}
	select {
	case <-k.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("daemon still running 15s after shutdown")
	}
	envs, _ := filepath.Glob(filepath.Join(k.dir, "env.*"))
	if len(envs) != 2 {
		t.Fatalf("env ran %d times, want 2 (start and reload)", len(envs))
	}
	for _, p := range envs {
		if env := readFileT(t, p); strings.Contains(env, "NOTIFY_SOCKET") || !strings.Contains(env, "PATH=") {
			t.Errorf("a program's environment carries NOTIFY_SOCKET (or is empty):\n%s", env)
		}
	}
}

// TestServicePID1 runs keeper daemon as PID 1 of a new pid namespace (a
// container's init): it stays in the foreground even without -n, reaps
// every orphan that exits, and shuts down cleanly on SIGTERM.
func TestServicePID1(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	unshare := peer.Need(t, "unshare")
	if err := exec.Command(unshare, "--pid", "--fork", "--mount-proc", "true").Run(); err != nil {
		t.Skipf("unshare --pid --fork --mount-proc is not permitted here: %v", err)
	}
	// Each round, the program leaves 10 orphans that exit 0.5 s later:
	// only the namespace's init can reap them.
	k := newKeeperd(t, `
[program:orphans]
command=/bin/sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do (@DIR@/sleepy 0.5 &); done; exec @DIR@/sleepy 1000'
startsecs=0
`)
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", keeperBin, "daemon", "-c", k.conf)
	cmd.Dir = k.dir
	cmd.Stdout, cmd.Stderr = k.output, k.output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ownChild(cmd.Process.Pid, true)
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		ownChild(cmd.Process.Pid, false)
		close(exited)
	}()
	t.Cleanup(func() {
		// unshare ignores SIGTERM; killing it does not end the namespace.
		for _, kid := range childrenOf(cmd.Process.Pid) {
			killPid(kid)
		}
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	k.waitAnswers(10 * time.Second)
	var init int
	waitFor(t, "keeper as the namespace's init", 5*time.Second, func() bool {
		kids := childrenOf(cmd.Process.Pid)
		if len(kids) != 1 {
			return false
		}
		init = kids[0]
		return true
	})
	if ns := nspid(init); !strings.HasSuffix(ns, "\t1") {
		t.Fatalf("keeper (pid %d) is not PID 1 of its namespace: NSpid %q", init, ns)
	}

	// orphans lists the program's orphans, which must be the init's
	// children.
	orphans := func() []int {
		var out []int
		for _, pid := range pidsMentioning(filepath.Join(k.dir, "sleepy")) {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.HasSuffix(string(b), "\x000.5\x00") {
				out = append(out, pid)
			}
		}
		return out
	}
	// Three rounds of orphans: the program restarted twice.
	for round := 0; round < 3; round++ {
		if round > 0 {
			k.mustCall("supervisor.stopProcess", "orphans", true)
			k.mustCall("supervisor.startProcess", "orphans", true)
		}
		k.waitState("orphans", 5*time.Second, "RUNNING")
	}
	waitFor(t, "the orphans to be re-parented to keeper", 5*time.Second, func() bool {
		list := orphans()
		for _, pid := range list {
			if procStat(pid).PPID != init {
				return false
			}
		}
		return len(list) > 0
	})
	waitFor(t, "every orphan to exit and be reaped", 10*time.Second, func() bool {
		if len(orphans()) > 0 {
			return false
		}
		for _, pid := range childrenOf(init) {
			if state(pid) == 'Z' {
				return false
			}
		}
		return true
	})

	// SIGTERM, as docker stop sends it, is a shutdown: exit status 0.
	syscall.Kill(init, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("keeper as PID 1 still running 15s after SIGTERM; log:\n%s", k.log())
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("keeper as PID 1 exited with status %d after SIGTERM; output:\n%s", code, k.output)
	}
	if !strings.Contains(k.log(), "received TERM indicating exit request") || !strings.Contains(k.log(), "stopped: orphans") {
		t.Errorf("no clean shutdown in the log:\n%s", k.log())
	}
}

// nspid returns the NSpid line of a process's status: its pid in each
// namespace, outermost first.
func nspid(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			return strings.TrimRight(v, " ")
		}
	}
	return ""
}

// TestServiceInstall runs make install and make install-dtach into a
// DESTDIR and checks the files, their modes and the paths written in them,
// and that a second install keeps the admin's config.
func TestServiceInstall(t *testing.T) {
	t.Parallel()
	makeBin := peer.Need(t, "make")
	root := repoFile(t, "Makefile")
	root = filepath.Dir(root)
	dest := t.TempDir()
	make := func(args ...string) string {
		t.Helper()
		// -o build: install the binary the tests built, as it is.
		cmd := exec.Command(makeBin, append([]string{"-s", "-o", "build", "BIN=" + keeperBin, "DESTDIR=" + dest}, args...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	make("install", "PREFIX=/usr")
	want := map[string]os.FileMode{
		"etc/default/keeper":                    0o644,
		"etc/init.d/keeper":                     0o755,
		"etc/keeper/keeper.conf":                0o644,
		"usr/bin/keeper":                        0o755,
		"usr/bin/keeper-master":                 0o755,
		"usr/lib/systemd/system/keeper.service": 0o644,
	}
	files := map[string]os.FileMode{}
	filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, _ := d.Info()
			rel, _ := filepath.Rel(dest, p)
			files[rel] = info.Mode()
		}
		return nil
	})
	if fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("make install PREFIX=/usr installed\n%v\nwant\n%v", files, want)
	}
	if fi, err := os.Stat(filepath.Join(dest, "etc/keeper/conf.d")); err != nil || !fi.IsDir() {
		t.Errorf("no etc/keeper/conf.d: %v", err)
	}
	for path, line := range map[string]string{
		"etc/init.d/keeper":                     "KEEPER=/usr/bin/keeper ",
		"etc/default/keeper":                    "KEEPER=/usr/bin/keeper\n",
		"usr/lib/systemd/system/keeper.service": "ExecStart=/usr/bin/keeper -c /etc/keeper/keeper.conf daemon -n\n",
	} {
		if b := readFileT(t, filepath.Join(dest, path)); !strings.Contains(b, line) || strings.Contains(b, "/usr/local/bin") {
			t.Errorf("%s does not name /usr/bin/keeper only (want %q)", path, line)
		}
	}
	// The installed config is one the installed keeper reads.
	if out, code := runKeeper(t, dest, filepath.Join(dest, "usr/bin/keeper"), "daemon", "-c", filepath.Join(dest, "etc/keeper/keeper.conf"), "--print-pidfile"); code != 0 || out != "/run/keeper.pid\n" {
		t.Errorf("keeper daemon --print-pidfile on the installed config: exit status %d, output %q", code, out)
	}

	// The admin's config and settings are kept; the dtach link is opt-in.
	conf := filepath.Join(dest, "etc/keeper/keeper.conf")
	os.WriteFile(conf, []byte("; mine\n"), 0o644)
	if out := make("install-dtach", "PREFIX=/usr"); !strings.Contains(out, "keeping "+conf) {
		t.Errorf("make install over an existing config does not say it kept it:\n%s", out)
	}
	if b := readFileT(t, conf); b != "; mine\n" {
		t.Errorf("make install replaced the admin's config with:\n%s", b)
	}
	if target, err := os.Readlink(filepath.Join(dest, "usr/bin/dtach")); err != nil || target != "keeper" {
		t.Errorf("usr/bin/dtach: %q, %v; want a symlink to keeper", target, err)
	}
	// PREFIX defaults to /usr/local.
	make("install")
	if _, err := os.Stat(filepath.Join(dest, "usr/local/bin/keeper")); err != nil {
		t.Errorf("make install without PREFIX: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "usr/local/bin/dtach")); err == nil {
		t.Errorf("make install made the dtach link without install-dtach")
	}
}

// TestServiceUnit checks the systemd unit: notify type, only the daemon
// killed on stop (the sessions stay), the stop and reload commands; and,
// where systemd-analyze is installed, that systemd parses it cleanly.
func TestServiceUnit(t *testing.T) {
	t.Parallel()
	unit := readFileT(t, repoFile(t, "scripts/systemd/keeper.service"))
	for _, line := range []string{
		"Type=notify",
		"ExecStart=/usr/local/bin/keeper -c /etc/keeper/keeper.conf daemon -n",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"# `keeper reexec` or `systemctl kill -s USR1 keeper`, and the daemon",
		"ExecStop=/usr/local/bin/keeper -c /etc/keeper/keeper.conf shutdown --keep-sessions",
		"KillMode=process",
		"Delegate=yes",
		"WantedBy=multi-user.target",
	} {
		if !slices.Contains(strings.Split(unit, "\n"), line) {
			t.Errorf("keeper.service has no line %q", line)
		}
	}
	analyze := peer.Need(t, "systemd-analyze")
	path := filepath.Join(t.TempDir(), "keeper.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/keeper", keeperBin)), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify keeper.service: %v\n%s", err, out)
	}
}
