package main

// End-to-end tests of keeper daemon against real processes: the state
// machine, spawning (environment, directory, umask, user=), the control
// socket's permissions, the programs' logs and the daemon's own lifecycle.
// Every test drives a real daemon over its control socket and polls for
// what it expects with an explicit timeout.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
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
	"keeper/supervise/xmlrpc"
)

// keeperd is a keeper daemon started by a test, with its config, socket,
// pidfile and logs in one directory.
type keeperd struct {
	t                        *testing.T
	dir, conf, sock, pidfile string
	logPath                  string
	client                   *xmlrpc.Client
	cmd                      *exec.Cmd           // the foreground daemon; nil when detached
	bin                      string              // the keeper binary; keeperBin when empty
	wrap                     []string            // a command that execs the daemon (prlimit ...)
	cred                     *syscall.Credential // the daemon's identity; the test's when nil
	exited                   chan struct{}
	output                   *lockedBuffer
	serverExtra, daemonExtra string
	body                     string
	detachedPid              int  // the detached daemon the test reaps
	killed                   bool // the test killed the daemon with SIGKILL on purpose
}

// lockedBuffer collects a daemon's output from its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newKeeperd prepares a daemon in a fresh test directory (with a "sleepy"
// symlink to sleep, so that every program's command line names the
// directory and the harness can find leftovers). body is the programs'
// part of the config; @DIR@ in it stands for the directory.
func newKeeperd(t *testing.T, body string) *keeperd {
	t.Helper()
	dir := testDir(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sleep, filepath.Join(dir, "sleepy")); err != nil {
		t.Fatal(err)
	}
	k := &keeperd{
		t:       t,
		dir:     dir,
		conf:    filepath.Join(dir, "keeper.conf"),
		sock:    filepath.Join(dir, "k.sock"),
		pidfile: filepath.Join(dir, "keeper.pid"),
		logPath: filepath.Join(dir, "keeper.log"),
		exited:  make(chan struct{}),
		output:  &lockedBuffer{},
	}
	k.client = xmlrpc.NewClient(k.sock, xmlrpc.Options{})
	t.Cleanup(func() { k.client.Close() })
	k.writeConf(body)
	return k
}

// again returns a daemon on k's directory and config, to start once k's
// has exited.
func (k *keeperd) again() *keeperd {
	k2 := *k
	k2.cmd, k2.detachedPid = nil, 0
	k2.exited, k2.output = make(chan struct{}), &lockedBuffer{}
	return &k2
}

// writeConf writes the config: the daemon's sections, then body.
func (k *keeperd) writeConf(body string) {
	k.t.Helper()
	k.body = body
	text := "[unix_http_server]\nfile=@DIR@/k.sock\n" + k.serverExtra +
		"\n[supervisord]\nlogfile=@DIR@/keeper.log\npidfile=@DIR@/keeper.pid\nchildlogdir=@DIR@\nloglevel=debug\n" + k.daemonExtra +
		"\n[supervisorctl]\nserverurl=unix://@DIR@/k.sock\n\n" + body
	if err := os.WriteFile(k.conf, []byte(strings.ReplaceAll(text, "@DIR@", k.dir)), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

// setSections adds lines to [unix_http_server] and [supervisord] and
// writes the config again.
func (k *keeperd) setSections(server, supervisord string) {
	k.t.Helper()
	k.serverExtra, k.daemonExtra = server, supervisord
	k.writeConf(k.body)
}

// expand replaces @DIR@ in s.
func (k *keeperd) expand(s string) string { return strings.ReplaceAll(s, "@DIR@", k.dir) }

// ownChild marks pid as waited for by the test itself, so that the
// harness's orphan reaper leaves it alone.
func ownChild(pid int, own bool) {
	cmdPidsMu.Lock()
	defer cmdPidsMu.Unlock()
	if own {
		cmdPids[pid] = true
	} else {
		delete(cmdPids, pid)
	}
}

// start runs the daemon in the foreground (keeper daemon -n) with extra
// environment, and waits until its control socket answers. Cleanup shuts
// it down with SIGTERM (SIGKILL after 15 s).
func (k *keeperd) start(env ...string) {
	k.t.Helper()
	bin := k.bin
	if bin == "" {
		bin = keeperBin
	}
	argv := append(slices.Clone(k.wrap), bin, "daemon", "-n", "-c", k.conf)
	k.cmd = exec.Command(argv[0], argv[1:]...)
	k.cmd.Dir = k.dir
	k.cmd.Env = append(os.Environ(), env...)
	if k.cred != nil {
		k.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: k.cred}
	}
	k.cmd.Stdout, k.cmd.Stderr = k.output, k.output
	if err := k.cmd.Start(); err != nil {
		k.t.Fatalf("start keeper daemon: %v", err)
	}
	ownChild(k.cmd.Process.Pid, true)
	go func() {
		k.cmd.Wait()
		ownChild(k.cmd.Process.Pid, false)
		close(k.exited)
	}()
	k.t.Cleanup(func() {
		k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(15 * time.Second):
			k.t.Errorf("daemon still running 15s after SIGTERM; killing it")
			k.cmd.Process.Kill()
			<-k.exited
		}
		// A clean exit, and no race report from a -race build of keeper.
		if code := k.cmd.ProcessState.ExitCode(); (code != 0 && !k.killed) || strings.Contains(k.output.String(), "DATA RACE") {
			k.t.Errorf("daemon exit status %d after SIGTERM; output:\n%s", code, k.output)
		}
	})
	k.waitAnswers(10 * time.Second)
}

// waitAnswers waits until the control socket answers supervisor.getState.
func (k *keeperd) waitAnswers(timeout time.Duration) {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := k.call("supervisor.getState")
		if err == nil {
			return
		}
		if k.exited != nil && k.cmd != nil {
			select {
			case <-k.exited:
				k.t.Fatalf("daemon exited (%v) before answering; output:\n%s", k.cmd.ProcessState, k.output)
			default:
			}
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("daemon not answering after %v: %v; output:\n%s\nlog:\n%s", timeout, err, k.output, k.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// call calls an XML-RPC method on the daemon, with a timeout.
func (k *keeperd) call(method string, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return k.client.Call(ctx, method, args...)
}

// mustCall calls method and fails the test on an error.
func (k *keeperd) mustCall(method string, args ...any) any {
	k.t.Helper()
	v, err := k.call(method, args...)
	if err != nil {
		k.t.Fatalf("%v\nlog:\n%s", err, k.log())
	}
	return v
}

// info returns supervisor.getProcessInfo of name.
func (k *keeperd) info(name string) xmlrpc.Struct {
	k.t.Helper()
	s, ok := k.mustCall("supervisor.getProcessInfo", name).(xmlrpc.Struct)
	if !ok {
		k.t.Fatalf("getProcessInfo %s: not a struct", name)
	}
	return s
}

// rpcField returns the member name of s as a T (T's zero value if absent).
func rpcField[T any](s xmlrpc.Struct, name string) T {
	v, _ := s.Get(name)
	t, _ := v.(T)
	return t
}

// statename returns the state name in a process info struct.
func statename(s xmlrpc.Struct) string { return rpcField[string](s, "statename") }

// waitState polls name's state until it is one of states, and returns the
// process info then.
func (k *keeperd) waitState(name string, timeout time.Duration, states ...string) xmlrpc.Struct {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := k.info(name)
		if slices.Contains(states, statename(s)) {
			return s
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("%s is %s (%s) after %v, want %v; log:\n%s", name, statename(s),
				rpcField[string](s, "description"), timeout, states, k.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// log returns the daemon's log.
func (k *keeperd) log() string {
	b, _ := os.ReadFile(k.logPath)
	return string(b)
}

// logLines returns the lines of the daemon's log containing substr.
func (k *keeperd) logLines(substr string) []string {
	var out []string
	for _, line := range strings.Split(k.log(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// waitLog waits until the daemon's log has a line containing substr.
func (k *keeperd) waitLog(substr string, timeout time.Duration) string {
	k.t.Helper()
	var line string
	waitForLog(k.t, k, "log line "+strconv.Quote(substr), timeout, func() bool {
		lines := k.logLines(substr)
		if len(lines) > 0 {
			line = lines[0]
		}
		return len(lines) > 0
	})
	return line
}

// waitForLog is waitFor with the daemon's log in the failure message.
func waitForLog(t *testing.T, k *keeperd, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; log:\n%s", timeout, what, k.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logTime parses the timestamp of a daemon log line.
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	if len(line) < 23 {
		t.Fatalf("no timestamp in log line %q", line)
	}
	ts, err := time.ParseInLocation("2006-01-02 15:04:05,000", line[:23], time.Local)
	if err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	return ts
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	s := state(pid)
	return s != 0 && s != 'Z'
}

// processGone reports whether no process (not even a zombie) has pid.
func processGone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return errors.Is(err, os.ErrNotExist)
}

// readPidFile waits for a file holding a pid and returns it.
func readPidFile(t *testing.T, path string, timeout time.Duration) int {
	t.Helper()
	var pid int
	waitFor(t, "pid in "+path, timeout, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// killPid kills a process the test knows by pid (never 0, 1 or -1), and its
// group when it leads one of its own.
func killPid(pid int) {
	if pid <= 1 {
		return
	}
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// fileLines counts the lines of a file.
func fileLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// TestDaemonAutorestart checks exits after a successful start: autorestart
// unexpected (with exitcodes), true and false, and how fast a crashed
// program comes back.
func TestDaemonAutorestart(t *testing.T) {
	t.Parallel()
	// Each program appends a line to its count file per run; the ones that
	// are restarted stay up from their third run on.
	k := newKeeperd(t, `
[program:expected]
command=/bin/sh -c 'echo x >> @DIR@/expected.count; exit 3'
startsecs=0
autorestart=unexpected
exitcodes=0,3

[program:unexpected]
command=/bin/sh -c 'echo x >> @DIR@/unexpected.count; [ $(wc -l < @DIR@/unexpected.count) -ge 3 ] && exec @DIR@/sleepy 1000; exit 4'
startsecs=0
autorestart=unexpected
exitcodes=0,3

[program:always]
command=/bin/sh -c 'echo x >> @DIR@/always.count; [ $(wc -l < @DIR@/always.count) -ge 3 ] && exec @DIR@/sleepy 1000; exit 0'
startsecs=0
autorestart=true

[program:never]
command=/bin/sh -c 'echo x >> @DIR@/never.count; exit 4'
startsecs=0
autorestart=false
`)
	k.start()
	for _, name := range []string{"unexpected", "always"} {
		waitForLog(t, k, name+" spawned 3 times", 5*time.Second, func() bool { return len(k.logLines("spawned: '"+name+"'")) == 3 })
		s := k.waitState(name, 5*time.Second, "RUNNING")
		waitForLog(t, k, name+"'s third run", 5*time.Second, func() bool { return fileLines(k.expand("@DIR@/"+name+".count")) == 3 })
		if pid := rpcField[int](s, "pid"); pid == 0 {
			t.Errorf("%s RUNNING without a pid", name)
		}
		// Respawn latency: from each exit to the next spawn (no tick).
		exits := k.logLines("exited: " + name + " ")
		spawns := k.logLines("spawned: '" + name + "'")
		if len(exits) != 2 || len(spawns) != 3 {
			t.Fatalf("%s: %d exits and %d spawns logged, want 2 and 3; log:\n%s", name, len(exits), len(spawns), k.log())
		}
		for i, e := range exits {
			d := logTime(t, spawns[i+1]).Sub(logTime(t, e))
			t.Logf("%s: respawned %v after its exit", name, d)
			if d > 500*time.Millisecond {
				t.Errorf("%s: respawned %v after its exit, want it at once", name, d)
			}
		}
	}
	if l := k.logLines("exited: unexpected "); len(l) == 0 || !strings.Contains(l[0], "(exit status 4; not expected)") {
		t.Errorf("unexpected exit logged as %q", l)
	}
	if l := k.logLines("exited: always "); len(l) == 0 || !strings.Contains(l[0], "(exit status 0; expected)") {
		t.Errorf("always exit logged as %q", l)
	}

	s := k.waitState("expected", 5*time.Second, "EXITED")
	if got := rpcField[int](s, "exitstatus"); got != 3 {
		t.Errorf("expected: exitstatus %d, want 3", got)
	}
	s = k.waitState("never", 5*time.Second, "EXITED")
	if got := rpcField[int](s, "exitstatus"); got != 4 {
		t.Errorf("never: exitstatus %d, want 4", got)
	}
	if got := rpcField[string](s, "spawnerr"); got != "Bad exit code 4" {
		t.Errorf("never: spawnerr %q, want %q", got, "Bad exit code 4")
	}
	// No wait for a respawn: the daemon decides autorestart in the step
	// that records EXITED, so a respawn would have run again (and counted)
	// before the EXITED read above.
	for _, name := range []string{"unexpected", "always"} {
		if n := fileLines(k.expand("@DIR@/" + name + ".count")); n != 3 {
			t.Errorf("%s ran %d times, want 3", name, n)
		}
	}
	for _, name := range []string{"expected", "never"} {
		if n := fileLines(k.expand("@DIR@/" + name + ".count")); n != 1 {
			t.Errorf("%s ran %d times, want once (no restart)", name, n)
		}
		if s := k.info(name); statename(s) != "EXITED" {
			t.Errorf("%s is %s, want EXITED", name, statename(s))
		}
	}
}

// TestDaemonFlapping checks a program that never stays up for startsecs:
// BACKOFF with a linear backoff (1 s, 2 s, ...) between attempts, then FATAL
// after startretries retries.
func TestDaemonFlapping(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:flap]
command=/bin/sh -c 'echo flapping; exit 1'
startsecs=1
startretries=3
`)
	k.start()
	k.waitState("flap", 5*time.Second, "BACKOFF")
	s := k.waitState("flap", 12*time.Second, "FATAL")
	if got, want := rpcField[string](s, "description"), "Exited too quickly (process log may have details)"; got != want {
		t.Errorf("FATAL description %q, want %q", got, want)
	}
	spawns := k.logLines("spawned: 'flap'")
	if len(spawns) != 4 {
		t.Fatalf("%d spawns logged, want 4 (1 + startretries 3); log:\n%s", len(spawns), k.log())
	}
	for i := 1; i < len(spawns); i++ {
		gap := logTime(t, spawns[i]).Sub(logTime(t, spawns[i-1]))
		want := time.Duration(i) * time.Second
		if gap < want || gap > want+1500*time.Millisecond {
			t.Errorf("attempt %d came %v after the one before, want %v (linear backoff)", i+1, gap, want)
		}
	}
	if len(k.logLines("gave up: flap entered FATAL state, too many start retries too quickly")) != 1 {
		t.Errorf("no 'gave up' line; log:\n%s", k.log())
	}
	// FATAL is final: giving up cancels the retry timer in the same step
	// (TestProcessStateMachine in supervise checks that no attempt follows
	// on a clock it advances), so the count is checked at once.
	if n := len(k.logLines("spawned: 'flap'")); n != 4 {
		t.Errorf("%d spawns after FATAL, want 4", n)
	}
	// A start from FATAL tries again, and fails again: SPAWN_ERROR (50).
	_, err := k.call("supervisor.startProcess", "flap", true)
	if fault := (*xmlrpc.Fault)(nil); !errors.As(err, &fault) || fault.Code != 50 {
		t.Errorf("startProcess of a program that cannot stay up: %v, want fault 50 (SPAWN_ERROR)", err)
	}
	if n := len(k.logLines("spawned: 'flap'")); n != 5 {
		t.Errorf("%d spawns after a start from FATAL, want 5", n)
	}
}

// TestDaemonStartsecs checks STARTING -> RUNNING exactly at startsecs.
func TestDaemonStartsecs(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:slow]
command=@DIR@/sleepy 1000
startsecs=2
`)
	k.start()
	// The foreground daemon answers before it spawns its programs.
	k.waitState("slow", 5*time.Second, "STOPPED", "STARTING")
	k.waitState("slow", 5*time.Second, "STARTING")
	k.waitState("slow", 5*time.Second, "RUNNING")
	spawned := logTime(t, k.waitLog("spawned: 'slow'", time.Second))
	running := logTime(t, k.waitLog("success: slow entered RUNNING state, process has stayed up for > than 2 seconds (startsecs)", time.Second))
	if d := running.Sub(spawned); d < 2*time.Second || d > 3*time.Second {
		t.Errorf("RUNNING %v after the spawn, want 2s (startsecs)", d)
	}
}

// TestDaemonStop checks stopping: a program that ignores SIGTERM is
// killed after stopwaitsecs, one that exits while stopping is STOPPED (not
// EXITED, not restarted), and stopasgroup/killasgroup reach the children a
// program forked.
func TestDaemonStop(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:stubborn]
command=/bin/sh -c 'trap "" TERM; exec @DIR@/sleepy 1000'
stopwaitsecs=1
startsecs=0

[program:graceful]
command=/bin/sh -c 'trap "echo bye; exit 7" TERM; echo $$ > @DIR@/graceful.ready; while :; do @DIR@/sleepy 0.05; done'
stopwaitsecs=5
startsecs=0
autorestart=true

[program:asgroup]
command=/bin/sh -c '@DIR@/sleepy 1000 & echo $! > @DIR@/asgroup.child; wait'
stopasgroup=true
startsecs=0

[program:killgroup]
command=/bin/sh -c 'trap "" TERM; @DIR@/sleepy 1000 & echo $! > @DIR@/killgroup.child; wait'
killasgroup=true
stopwaitsecs=1
startsecs=0

[program:plain]
command=/bin/sh -c '@DIR@/sleepy 1000 & echo $! > @DIR@/plain.child; wait'
startsecs=0
leftovers=keep

[program:whole]
command=/bin/sh -c '@DIR@/sleepy 1000 & echo $! > @DIR@/whole.child; wait'
startsecs=0

[program:starting]
command=@DIR@/sleepy 1000
startsecs=30
`)
	k.start()
	// Each program has set its traps once it wrote its file.
	readPidFile(t, k.expand("@DIR@/graceful.ready"), 5*time.Second)
	children := map[string]int{}
	for _, name := range []string{"asgroup", "killgroup", "plain", "whole"} {
		children[name] = readPidFile(t, k.expand("@DIR@/"+name+".child"), 5*time.Second)
	}
	t.Cleanup(func() { killPid(children["plain"]) })
	pids := map[string]int{}
	for _, name := range []string{"stubborn", "graceful", "asgroup", "killgroup", "plain", "whole"} {
		pids[name] = rpcField[int](k.waitState(name, 5*time.Second, "RUNNING"), "pid")
	}
	waitExecSleepy(t, pids["stubborn"])

	var wg sync.WaitGroup
	stop := func(name string) (time.Duration, error) {
		begin := time.Now()
		_, err := k.call("supervisor.stopProcess", name, true)
		return time.Since(begin), err
	}
	wg.Go(func() {
		d, err := stop("stubborn")
		if err != nil {
			t.Errorf("stop stubborn: %v", err)
		}
		if d < time.Second || d > 3*time.Second {
			t.Errorf("stubborn stopped in %v, want stopwaitsecs (1s) then SIGKILL", d)
		}
	})
	wg.Go(func() {
		d, err := stop("graceful")
		if err != nil {
			t.Errorf("stop graceful: %v", err)
		}
		if d > 2*time.Second {
			t.Errorf("graceful stopped in %v, want at once", d)
		}
	})
	for _, name := range []string{"asgroup", "killgroup", "plain", "whole", "starting"} {
		wg.Go(func() {
			if _, err := stop(name); err != nil {
				t.Errorf("stop %s: %v", name, err)
			}
		})
	}
	wg.Wait()

	for name, pid := range pids {
		if s := k.info(name); statename(s) != "STOPPED" {
			t.Errorf("%s is %s after stop, want STOPPED", name, statename(s))
		}
		waitFor(t, name+" reaped", 2*time.Second, func() bool { return processGone(pid) })
	}
	if s := k.info("starting"); statename(s) != "STOPPED" {
		t.Errorf("starting is %s after a stop while STARTING, want STOPPED", statename(s))
	}
	if l := k.logLines(fmt.Sprintf("killing 'stubborn' (%d) with SIGKILL", pids["stubborn"])); len(l) != 1 {
		t.Errorf("no SIGKILL logged for stubborn; log:\n%s", k.log())
	}
	if len(k.logLines("stopped: stubborn (terminated by SIGKILL)")) != 1 {
		t.Errorf("stubborn's stop not logged as terminated by SIGKILL; log:\n%s", k.log())
	}
	if len(k.logLines("stopped: graceful (exit status 7)")) != 1 || len(k.logLines("killing 'graceful'")) != 0 {
		t.Errorf("graceful's stop not logged as exit status 7 without SIGKILL; log:\n%s", k.log())
	}
	if s := k.info("graceful"); rpcField[int](s, "exitstatus") != 7 {
		t.Errorf("graceful exitstatus %d, want 7", rpcField[int](s, "exitstatus"))
	}
	// stopasgroup and killasgroup leave nothing, and neither does a stop
	// without them: once the program exited, the rest of its tree is
	// stopped. With leftovers=keep the stop signals the program alone,
	// so its child lives on (as in supervisord), adopted and later reaped
	// by the daemon.
	for _, name := range []string{"asgroup", "killgroup", "whole"} {
		waitFor(t, name+"'s child killed and reaped", 3*time.Second, func() bool { return processGone(children[name]) })
	}
	if !processAlive(children["plain"]) {
		t.Errorf("plain's child died with a stop under leftovers=keep; only the program should be signalled")
	}
	if ppid := procStat(children["plain"]).PPID; ppid != k.cmd.Process.Pid {
		t.Errorf("plain's orphaned child has parent %d, want the daemon %d (child subreaper)", ppid, k.cmd.Process.Pid)
	}
	syscall.Kill(children["plain"], syscall.SIGKILL)
	waitFor(t, "the daemon to reap an adopted orphan", 3*time.Second, func() bool { return processGone(children["plain"]) })
	// Nothing restarted after an administrative stop: a restart would have
	// been logged in the step that logged the stop, before the reap above.
	for name := range pids {
		if n := len(k.logLines("spawned: '" + name + "'")); n != 1 {
			t.Errorf("%s spawned %d times, want once", name, n)
		}
	}
}

// TestDaemonPriority checks that programs start in priority order and stop
// in the reverse order at shutdown, which also removes socket and pidfile.
func TestDaemonPriority(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:p30]
command=@DIR@/sleepy 1000
priority=30
startsecs=0

[program:p10]
command=@DIR@/sleepy 1001
priority=10
startsecs=0

[program:p20]
command=/bin/sh -c 'trap "sleep 0.2; exit 0" TERM; while :; do @DIR@/sleepy 0.05; done'
priority=20
startsecs=0
`)
	k.start()
	for _, name := range []string{"p10", "p20", "p30"} {
		k.waitState(name, 5*time.Second, "RUNNING")
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon still running 10s after SIGTERM; log:\n%s", k.log())
	}
	if code := k.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("daemon exit status %d after SIGTERM, want 0", code)
	}
	order := func(prefix string) []string {
		var names []string
		for _, line := range k.logLines(prefix) {
			rest := strings.TrimPrefix(line[strings.Index(line, prefix):], prefix)
			names = append(names, strings.Trim(strings.Fields(rest)[0], "'"))
		}
		return names
	}
	if got, want := order("spawned: "), []string{"p10", "p20", "p30"}; !slices.Equal(got, want) {
		t.Errorf("start order %v, want %v", got, want)
	}
	if got, want := order("stopped: "), []string{"p30", "p20", "p10"}; !slices.Equal(got, want) {
		t.Errorf("stop order %v, want %v; log:\n%s", got, want, k.log())
	}
	for _, path := range []string{k.sock, k.pidfile} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after shutdown (%v)", path, err)
		}
	}
}

// TestDaemonSpawnEnvironment checks what a program is started with:
// environment= over [supervisord] environment= over the daemon's own, the
// SUPERVISOR_* variables, directory=, umask= (through the re-exec
// trampoline, keeping the pid) and redirect_stderr.
func TestDaemonSpawnEnvironment(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[group:grp]
programs=envprog

[program:envprog]
command=/bin/sh -c 'env > @DIR@/env.out; pwd > @DIR@/pwd.out; echo $$ > @DIR@/envprog.pid; touch @DIR@/m027; echo to-stdout; echo to-stderr >&2; exec @DIR@/sleepy 1000'
environment=FOO="bar baz",OVERRIDDEN="program",EMPTY=""
directory=@DIR@/work
umask=027
redirect_stderr=true
stdout_logfile=@DIR@/envprog.log
startsecs=0

[program:m077]
command=/bin/sh -c 'touch @DIR@/m077; exec @DIR@/sleepy 1000'
umask=077
startsecs=0

[program:mdefault]
command=/bin/sh -c 'touch @DIR@/mdefault; exec @DIR@/sleepy 1000'
startsecs=0

[program:nodir]
command=@DIR@/sleepy 1000
directory=@DIR@/nosuch
startretries=0
`)
	k.setSections("", "environment=FROM_SUPERVISORD=\"sd value\",OVERRIDDEN=supervisord\n")
	if err := os.Mkdir(filepath.Join(k.dir, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	k.start("KEEPER_TEST_INHERITED=yes", "OVERRIDDEN=environ")
	s := k.waitState("grp:envprog", 5*time.Second, "RUNNING")
	if got := readPidFile(t, k.expand("@DIR@/envprog.pid"), 5*time.Second); got != rpcField[int](s, "pid") {
		t.Errorf("the program's pid is %d, the daemon reports %d (the umask trampoline must exec in place)", got, rpcField[int](s, "pid"))
	}
	waitFor(t, "env.out", 5*time.Second, func() bool { return strings.Contains(readFileOrEmpty(k.expand("@DIR@/env.out")), "\n") })
	env := map[string]string{}
	for _, kv := range strings.Split(readFileT(t, k.expand("@DIR@/env.out")), "\n") {
		if key, v, ok := strings.Cut(kv, "="); ok {
			env[key] = v
		}
	}
	for key, want := range map[string]string{
		"FOO":                     "bar baz",
		"EMPTY":                   "",
		"OVERRIDDEN":              "program",
		"FROM_SUPERVISORD":        "sd value",
		"KEEPER_TEST_INHERITED":   "yes",
		"SUPERVISOR_ENABLED":      "1",
		"SUPERVISOR_PROCESS_NAME": "envprog",
		"SUPERVISOR_GROUP_NAME":   "grp",
		"SUPERVISOR_SERVER_URL":   "unix://" + k.sock,
	} {
		if got, ok := env[key]; !ok || got != want {
			t.Errorf("the program sees %s=%q (set: %v), want %q", key, got, ok, want)
		}
	}
	// No descriptor of the daemon leaks into the program (sleepy by now).
	// sleep opens locale files for a moment after its exec, so the check
	// waits for a leak-free moment: a leaked descriptor stays open for good.
	waitExecSleepy(t, rpcField[int](s, "pid"))
	var fdNames []string
	var fdErr error
	deadline := time.Now().Add(5 * time.Second)
	for {
		fdNames, fdErr = openDescriptors(rpcField[int](s, "pid"))
		if (fdErr == nil && len(fdNames) == 3) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if fdErr != nil || len(fdNames) != 3 {
		t.Errorf("the program has descriptors %q open (%v), want only 0, 1 and 2", fdNames, fdErr)
	}
	if got := strings.TrimSpace(readFileT(t, k.expand("@DIR@/pwd.out"))); got != k.expand("@DIR@/work") {
		t.Errorf("the program runs in %s, want directory= %s", got, k.expand("@DIR@/work"))
	}
	k.waitState("m077", 5*time.Second, "RUNNING")
	k.waitState("mdefault", 5*time.Second, "RUNNING")
	for name, want := range map[string]os.FileMode{"m027": 0o640, "m077": 0o600, "mdefault": 0o644} {
		var fi os.FileInfo
		waitFor(t, name+" created", 5*time.Second, func() bool {
			var err error
			fi, err = os.Stat(k.expand("@DIR@/" + name))
			return err == nil
		})
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("file created by the program with %s has mode %04o, want %04o", name, got, want)
		}
	}
	waitFor(t, "stdout and stderr in one log", 5*time.Second, func() bool {
		return readFileOrEmpty(k.expand("@DIR@/envprog.log")) == "to-stdout\nto-stderr\n"
	})
	if got := rpcField[string](s, "stderr_logfile"); got != "" {
		t.Errorf("stderr_logfile %q with redirect_stderr, want none", got)
	}
	// A directory that does not exist is a spawn error naming it.
	s = k.waitState("nodir", 5*time.Second, "FATAL")
	if got, want := rpcField[string](s, "description"), "couldn't chdir to "+k.expand("@DIR@/nosuch")+": ENOENT"; got != want {
		t.Errorf("nodir: description %q, want %q", got, want)
	}
}

// readFileT returns a file's contents, failing the test if it can't.
func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readFileOrEmpty returns a file's contents, or "" if it can't be read.
func readFileOrEmpty(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestDaemonLogs checks the programs' logs: AUTO files in childlogdir and
// explicit paths for stdout and stderr, rotation with supervisord's naming
// under a fast writer with no line lost, and SIGUSR2 reopening every log.
func TestDaemonLogs(t *testing.T) {
	t.Parallel()
	const lines = 200000
	k := newKeeperd(t, fmt.Sprintf(`
[program:auto]
command=/bin/sh -c 'echo auto-out; echo auto-err >&2; exec @DIR@/sleepy 1000'
startsecs=0

[program:explicit]
command=/bin/sh -c 'echo explicit-out; echo explicit-err >&2; exec @DIR@/sleepy 1000'
stdout_logfile=@DIR@/explicit.out
stderr_logfile=@DIR@/explicit.err
startsecs=0

[program:none]
command=/bin/sh -c 'echo none-out; exec @DIR@/sleepy 1000'
stdout_logfile=NONE
stderr_logfile=NONE
startsecs=0

[program:fast]
command=seq -f "line %%%%07g" 1 %d
stdout_logfile=@DIR@/fast.log
stdout_logfile_maxbytes=64KB
stdout_logfile_backups=100
startsecs=0
autorestart=false

[program:fewbackups]
command=seq -f "line %%%%07g" 1 %d
stdout_logfile=@DIR@/few.log
stdout_logfile_maxbytes=64KB
stdout_logfile_backups=3
startsecs=0
autorestart=false

[program:tick]
command=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo "tick $i"; @DIR@/sleepy 0.01; done'
stdout_logfile=@DIR@/tick.log
startsecs=0
`, lines, lines))
	k.start()

	var want bytes.Buffer
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&want, "line %07d\n", i)
	}

	t.Run("auto", func(t *testing.T) {
		s := k.waitState("auto", 5*time.Second, "RUNNING")
		for _, ch := range []string{"stdout", "stderr"} {
			path := rpcField[string](s, ch+"_logfile")
			if ok, _ := regexp.MatchString(`^`+regexp.QuoteMeta(k.dir)+`/auto-`+ch+`---supervisor-[0-9a-f]+\.log$`, path); !ok {
				t.Errorf("AUTO %s log at %q, want childlogdir/auto-%s---supervisor-RANDOM.log", ch, path, ch)
			}
			want := map[string]string{"stdout": "auto-out\n", "stderr": "auto-err\n"}[ch]
			waitFor(t, "the AUTO "+ch+" log", 5*time.Second, func() bool { return readFileOrEmpty(path) == want })
		}
	})
	t.Run("explicit", func(t *testing.T) {
		s := k.waitState("explicit", 5*time.Second, "RUNNING")
		for ch, want := range map[string]string{"out": "explicit-out\n", "err": "explicit-err\n"} {
			path := k.expand("@DIR@/explicit." + ch)
			if got := rpcField[string](s, "std"+ch+"_logfile"); got != path {
				t.Errorf("std%s_logfile %q, want %q", ch, got, path)
			}
			waitFor(t, path, 5*time.Second, func() bool { return readFileOrEmpty(path) == want })
		}
		s = k.waitState("none", 5*time.Second, "RUNNING")
		if a, b := rpcField[string](s, "stdout_logfile"), rpcField[string](s, "stderr_logfile"); a != "" || b != "" {
			t.Errorf("NONE logs reported as %q and %q", a, b)
		}
	})
	t.Run("rotation", func(t *testing.T) {
		k.waitState("fast", 10*time.Second, "EXITED")
		var files []string
		waitFor(t, "every line in fast.log and its backups", 10*time.Second, func() bool {
			var got []byte
			got, files = rotatedLogs(k.expand("@DIR@/fast.log"))
			return bytes.Equal(got, want.Bytes())
		})
		if len(files) < 20 {
			t.Errorf("%d files after rotation, want ~40 (64KB each)", len(files))
		}
		for i, f := range files[:len(files)-1] {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() < 64<<10 || fi.Size() > 64<<10+128<<10 {
				t.Errorf("backup %s holds %d bytes, want maxbytes (64KB) plus at most one write", f, fi.Size())
			}
			if want := k.expand("@DIR@/fast.log.") + strconv.Itoa(len(files)-1-i); f != want {
				t.Errorf("backup %d is %s, want %s", i, f, want)
			}
		}

		k.waitState("fewbackups", 10*time.Second, "EXITED")
		var got []byte
		waitFor(t, "the last lines in few.log and 3 backups", 10*time.Second, func() bool {
			got, files = rotatedLogs(k.expand("@DIR@/few.log"))
			return len(files) == 4 && len(got) > 3*64<<10 && bytes.HasSuffix(want.Bytes(), got)
		})
		if _, err := os.Stat(k.expand("@DIR@/few.log.4")); err == nil {
			t.Errorf("few.log.4 exists with stdout_logfile_backups=3")
		}
	})
	t.Run("reopen", func(t *testing.T) {
		path := k.expand("@DIR@/tick.log")
		k.waitState("tick", 5*time.Second, "RUNNING")
		waitFor(t, "ticks", 5*time.Second, func() bool { return fileLines(path) >= 5 })
		if err := os.Rename(path, path+".moved"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(k.logPath, k.logPath+".moved"); err != nil {
			t.Fatal(err)
		}
		k.cmd.Process.Signal(syscall.SIGUSR2)
		waitFor(t, "ticks in a new tick.log", 5*time.Second, func() bool { return fileLines(path) >= 5 })
		waitFor(t, "a new daemon log", 5*time.Second, func() bool { _, err := os.Stat(k.logPath); return err == nil })
		if _, err := k.call("supervisor.stopProcess", "tick", true); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(readFileT(t, k.logPath), "stopped: tick") {
			t.Errorf("the daemon's log after SIGUSR2 does not have the later lines; moved log:\n%s", readFileOrEmpty(k.logPath+".moved"))
		}
		all := readFileT(t, path+".moved") + readFileT(t, path)
		ticks := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
		for i, line := range ticks {
			if want := fmt.Sprintf("tick %d", i+1); line != want {
				t.Fatalf("line %d of the moved and new tick logs is %q, want %q", i+1, line, want)
			}
		}
	})
}

// rotatedLogs returns the contents of path's backups, oldest first, and of
// path itself, concatenated, and the files read.
func rotatedLogs(path string) ([]byte, []string) {
	var files []string
	for n := 1; ; n++ {
		if _, err := os.Stat(path + "." + strconv.Itoa(n)); err != nil {
			break
		}
		files = append([]string{path + "." + strconv.Itoa(n)}, files...)
	}
	files = append(files, path)
	var all []byte
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	return all, files
}

// runKeeper runs argv in dir with a timeout and returns its combined
// output and exit status. The process is marked as the test's own child so
// that no orphan reaper takes its exit status.
func runKeeper(t *testing.T, dir string, argv ...string) (string, int) {
	t.Helper()
	return runAs(t, dir, nil, argv...)
}

// runAs is runKeeper with the given credentials (nil: the test's own).
func runAs(t *testing.T, dir string, cred *syscall.Credential, argv ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/", "LANG=C.UTF-8"}
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	ownChild(cmd.Process.Pid, true)
	err := cmd.Wait()
	ownChild(cmd.Process.Pid, false)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %q: %v", argv, err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// waitExit waits for pid, a child of the test process (a detached daemon
// re-parented to it), to exit, reaps it and returns its status; ok is
// false if someone else reaped it.
func waitExit(t *testing.T, pid int, timeout time.Duration) (ws syscall.WaitStatus, ok bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if got == pid {
			return ws, true
		}
		if errors.Is(err, syscall.ECHILD) {
			return ws, false
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still running after %v", pid, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startDetached runs keeper daemon -c CONF (detaching) and returns its
// output and status.
func (k *keeperd) startDetached() (string, int) {
	k.t.Helper()
	return runKeeper(k.t, k.dir, keeperBin, "daemon", "-c", k.conf)
}

// adopt takes charge of the detached daemon with pid: it is re-parented to
// the test process, which reaps it; cleanup stops it if it still runs.
func (k *keeperd) adopt(pid int) {
	k.t.Helper()
	if pid <= 1 || procStat(pid).PPID != os.Getpid() {
		k.t.Fatalf("detached daemon %d is not re-parented to the test (parent %d)", pid, procStat(pid).PPID)
	}
	ownChild(pid, true)
	k.detachedPid = pid
	k.t.Cleanup(func() {
		if k.detachedPid != pid {
			return
		}
		syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(15 * time.Second)
		for !(state(pid) == 'Z' || processGone(pid)) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		killPid(pid)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		ownChild(pid, false)
	})
}

// reapDetached waits for the adopted daemon to exit and reaps it.
func (k *keeperd) reapDetached(timeout time.Duration) syscall.WaitStatus {
	k.t.Helper()
	ws, _ := waitExit(k.t, k.detachedPid, timeout)
	ownChild(k.detachedPid, false)
	k.detachedPid = 0
	return ws
}

// programPids returns the pids of every process the daemon runs.
func (k *keeperd) programPids() map[string]int {
	k.t.Helper()
	pids := map[string]int{}
	for _, v := range rpcField[[]any](xmlrpc.Struct{{Name: "all", Value: k.mustCall("supervisor.getAllProcessInfo")}}, "all") {
		s, _ := v.(xmlrpc.Struct)
		if pid := rpcField[int](s, "pid"); pid > 1 {
			pids[rpcField[string](s, "name")] = pid
		}
	}
	return pids
}

// TestDaemonDetached checks the daemon's lifecycle: keeper daemon returns
// once the socket answers (status works at once), the pidfile, a second
// daemon refused, SIGHUP re-reading the config, a daemon killed with
// SIGKILL whose stale socket and pidfile the next one cleans up, and
// SIGTERM stopping everything and removing socket and pidfile.
func TestDaemonDetached(t *testing.T) {
	supervisorctl := peer.Need(t, "supervisorctl")
	t.Parallel()
	k := newKeeperd(t, `
[program:a]
command=@DIR@/sleepy 1000
startsecs=0
`)
	out, code := k.startDetached()
	if code != 0 {
		t.Fatalf("keeper daemon: exit status %d: %s\nlog:\n%s", code, out, k.log())
	}
	// No wait: the command returned once the daemon answered, and with
	// its programs started.
	all, err := k.call("supervisor.getAllProcessInfo")
	if err != nil {
		t.Errorf("the daemon does not answer right after keeper daemon returned: %v", err)
	} else if list, _ := all.([]any); len(list) != 1 || statename(list[0].(xmlrpc.Struct)) != "RUNNING" {
		t.Errorf("right after keeper daemon returned, the programs are %v, want a RUNNING", all)
	}
	out, code = runKeeper(t, k.dir, supervisorctl, "-c", k.conf, "status")
	pid := readPidFile(t, k.pidfile, time.Second)
	k.adopt(pid)
	if ok, _ := regexp.MatchString(`^a\s+RUNNING\s+pid [0-9]+, uptime 0:00:0[0-9]\n$`, out); code != 0 || !ok {
		t.Errorf("supervisorctl status right after keeper daemon: exit status %d, output %q", code, out)
	}
	if got := rpcField[int](xmlrpc.Struct{{Name: "pid", Value: k.mustCall("supervisor.getPID")}}, "pid"); got != pid {
		t.Errorf("pidfile holds %d, the daemon says its pid is %d", pid, got)
	}
	if sid := procStat(pid).SID; sid != pid {
		t.Errorf("the detached daemon's session is %d, want its own (%d)", sid, pid)
	}
	// Neither the readiness pipe nor any other descriptor reaches programs.
	for name, p := range k.programPids() {
		if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p)); err != nil || len(fds) != 3 {
			t.Errorf("%s has %d descriptors open (%v), want 3", name, len(fds), err)
		}
	}

	// A second daemon on the same socket refuses to start, and leaves the
	// first one's socket and pidfile alone.
	for _, args := range [][]string{{"daemon", "-c", k.conf}, {"daemon", "-n", "-c", k.conf}} {
		out, code := runKeeper(t, k.dir, append([]string{keeperBin}, args...)...)
		if code == 0 || !strings.Contains(out, "another keeper daemon is running") || !strings.Contains(out, k.sock) {
			t.Errorf("keeper %s with a daemon running: exit status %d, output %q", strings.Join(args, " "), code, out)
		}
	}
	if got := readPidFile(t, k.pidfile, time.Second); got != pid {
		t.Errorf("pidfile holds %d after a refused second daemon, want %d", got, pid)
	}
	k.mustCall("supervisor.getState")

	// SIGHUP re-reads the config.
	k.writeConf(k.body + "\n[program:added]\ncommand=@DIR@/sleepy 1001\nstartsecs=0\n")
	syscall.Kill(pid, syscall.SIGHUP)
	waitForLog(t, k, "added RUNNING after SIGHUP", 10*time.Second, func() bool {
		v, err := k.call("supervisor.getProcessInfo", "added")
		s, _ := v.(xmlrpc.Struct)
		return err == nil && statename(s) == "RUNNING"
	})
	k.waitState("a", 5*time.Second, "RUNNING")

	// A config broken meanwhile is reported, naming file and line, and the
	// daemon goes on with the config it had.
	good := k.body
	k.writeConf(good + "\n[program:broken]\ncommand=@DIR@/sleepy 1002\nautorestart=maybe\n")
	lineNo := strings.Count(readFileT(t, k.conf), "\n")
	syscall.Kill(pid, syscall.SIGHUP)
	k.waitLog(fmt.Sprintf("%s:%d: [program:broken] autorestart", k.conf, lineNo), 10*time.Second)
	// The restart goes on with the old config: until it is up, calls are
	// answered SHUTDOWN_STATE.
	waitForLog(t, k, "added RUNNING after the broken config", 10*time.Second, func() bool {
		v, err := k.call("supervisor.getProcessInfo", "added")
		s, _ := v.(xmlrpc.Struct)
		return err == nil && statename(s) == "RUNNING"
	})
	k.waitState("a", 5*time.Second, "RUNNING")
	k.writeConf(good)

	// SIGKILL leaves the programs (re-parented to the test process, which
	// kills them) and a stale socket and pidfile.
	progs := k.programPids()
	if len(progs) != 2 {
		t.Fatalf("programs running: %v, want a and added", progs)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	k.reapDetached(5 * time.Second)
	for _, p := range progs {
		killPid(p)
		waitExit(t, p, 5*time.Second)
	}
	for _, path := range []string{k.sock, k.pidfile} {
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("no stale %s after SIGKILL: %v", path, err)
		}
	}
	out, code = k.startDetached()
	if code != 0 {
		t.Fatalf("keeper daemon after a SIGKILLed one: exit status %d: %s\nlog:\n%s", code, out, k.log())
	}
	pid2 := readPidFile(t, k.pidfile, time.Second)
	k.adopt(pid2)
	if pid2 == pid {
		t.Errorf("pidfile still holds the dead daemon's pid %d", pid)
	}
	k.waitLog("removed stale socket "+k.sock, time.Second)
	k.waitState("added", 5*time.Second, "RUNNING")

	// SIGTERM stops every program, then removes the socket and pidfile.
	progs = k.programPids()
	syscall.Kill(pid2, syscall.SIGTERM)
	ws := k.reapDetached(15 * time.Second)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("daemon ended with %v after SIGTERM, want exit status 0", ws)
	}
	for name, p := range progs {
		if !processGone(p) {
			t.Errorf("%s (pid %d) left running after the daemon's SIGTERM", name, p)
		}
		// a was stopped by both SIGHUPs too, added by the second.
		if want := map[string]int{"a": 3, "added": 2}[name]; len(k.logLines("stopped: "+name+" (terminated by SIGTERM)")) != want {
			t.Errorf("%s's stops not logged; log:\n%s", name, k.log())
		}
	}
	for _, path := range []string{k.sock, k.pidfile} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after SIGTERM (%v)", path, err)
		}
	}
}

// TestDaemonBadConfig checks that a config error keeps the daemon from
// starting, in the foreground or detached, naming file and line.
func TestDaemonBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, line, want string
		noLine           bool // the error names the section, not the line
	}{
		{"value", "autorestart=maybe", `autorestart: "maybe" is not one of true, false, unexpected`, false},
		{"syntax", "this line has no value", `line is not "key = value" or a [section]`, false},
		{"expansion", "directory=%(ENV_KEEPER_TEST_NO_SUCH_VARIABLE)s", "KEEPER_TEST_NO_SUCH_VARIABLE", false},
		{"logdir", "stdout_logfile=/nonexistent/dir/a.log", "daemon: open stdout log of [program:a]: open log /nonexistent/dir/a.log: no such file or directory", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newKeeperd(t, "[program:a]\ncommand=@DIR@/sleepy 1000\n"+tc.line+"\n")
			lineNo := 0
			for i, l := range strings.Split(readFileT(t, k.conf), "\n") {
				if l == tc.line {
					lineNo = i + 1
				}
			}
			for _, args := range [][]string{{"daemon", "-c", k.conf}, {"daemon", "-n", "-c", k.conf}} {
				out, code := runKeeper(t, k.dir, append([]string{keeperBin}, args...)...)
				where := fmt.Sprintf("%s:%d", k.conf, lineNo)
				if tc.noLine {
					where = ""
				}
				if code == 0 || !strings.Contains(out, where) || !strings.Contains(out, tc.want) {
					t.Errorf("keeper %s: exit status %d, output %q; want an error naming %s and %q", strings.Join(args, " "), code, out, where, tc.want)
				}
			}
			for _, path := range []string{k.sock, k.pidfile} {
				if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s created by a daemon that refused to start (%v)", path, err)
				}
			}
			if pids := pidsMentioning(k.conf); len(pids) != 0 {
				t.Errorf("processes left running: %v", pids)
			}
		})
	}
}

// testUser is an unprivileged user created for a test, with a
// supplementary group of its own.
type testUser struct {
	name, group    string
	uid, gid, sgid uint32 // uid, primary gid, supplementary group's gid
	home, shell    string
}

// newTestUser creates a system user keeper-test-XXXX (no home, nologin)
// belonging to a new group keeper-tg-XXXX; cleanup deletes both.
func newTestUser(t *testing.T) *testUser {
	t.Helper()
	peer.NeedRoot(t)
	useradd, userdel := peer.Need(t, "useradd"), peer.Need(t, "userdel")
	groupadd, groupdel := peer.Need(t, "groupadd"), peer.Need(t, "groupdel")
	suffix := strconv.FormatInt(time.Now().UnixNano()%0xffffff, 16) + strconv.Itoa(os.Getpid()%100)
	u := &testUser{name: "keeper-test-" + suffix, group: "keeper-tg-" + suffix}
	admin := func(argv ...string) {
		t.Helper()
		var out string
		var code int
		// useradd and userdel fail while another one holds /etc/passwd's lock.
		for try := 0; try < 50; try++ {
			if out, code = runKeeper(t, "/", argv...); code == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: exit status %d: %s", strings.Join(argv, " "), code, out)
	}
	admin(groupadd, "--system", u.group)
	t.Cleanup(func() { admin(groupdel, u.group) })
	admin(useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups", u.group, u.name)
	t.Cleanup(func() { admin(userdel, u.name) })
	pw, err := user.Lookup(u.name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroup(u.group)
	if err != nil {
		t.Fatal(err)
	}
	atoi := func(s string) uint32 { n, _ := strconv.ParseUint(s, 10, 32); return uint32(n) }
	u.uid, u.gid, u.sgid, u.home = atoi(pw.Uid), atoi(pw.Gid), atoi(g.Gid), pw.HomeDir
	u.shell = "/usr/sbin/nologin"
	return u
}

// TestDaemonUser runs as root only: programs run as an unprivileged user
// (uid, gid, groups and the login variables), a user that does not exist is
// a spawn error naming it, and the control socket's mode, owner and peer
// checks refuse other users unless they belong to the socket's group.
func TestDaemonUser(t *testing.T) {
	peer.NeedRoot(t)
	t.Parallel()
	u := newTestUser(t)

	t.Run("program", func(t *testing.T) {
		t.Parallel()
		k := newKeeperd(t, `
[program:asuser]
command=/bin/sh -c 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"; echo "HOME=$HOME USER=$USER LOGNAME=$LOGNAME SHELL=$SHELL"; exec @DIR@/sleepy 1000'
user=`+u.name+`
stdout_logfile=@DIR@/asuser.log
startsecs=0

[program:umask]
command=/bin/sh -c 'touch @DIR@/own/m007; exec @DIR@/sleepy 1000'
user=`+u.name+`
umask=007
startsecs=0

[program:nouser]
command=@DIR@/sleepy 1000
user=`+u.name+`-nosuch
startretries=1
`)
		// The user must reach sleepy.
		if err := os.Chmod(k.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(k.expand("@DIR@/own"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(k.expand("@DIR@/own"), int(u.uid), int(u.gid)); err != nil {
			t.Fatal(err)
		}
		k.start("HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/bash")
		s := k.waitState("asuser", 5*time.Second, "RUNNING")
		if got := procStat(rpcField[int](s, "pid")).PPID; got != k.cmd.Process.Pid {
			t.Errorf("asuser's parent is %d, want the daemon", got)
		}
		want := fmt.Sprintf("uid=%d gid=%d groups=%d %d\nHOME=%s USER=%s LOGNAME=%s SHELL=%s\n",
			u.uid, u.gid, u.gid, u.sgid, u.home, u.name, u.name, u.shell)
		waitFor(t, "asuser's output", 5*time.Second, func() bool { return strings.Count(readFileOrEmpty(k.expand("@DIR@/asuser.log")), "\n") == 2 })
		if got := readFileT(t, k.expand("@DIR@/asuser.log")); got != want {
			t.Errorf("the program as %s printed\n%s\nwant\n%s", u.name, got, want)
		}

		// umask= goes through keeper re-executed as the user, wherever the
		// keeper binary lies.
		k.waitState("umask", 5*time.Second, "RUNNING")
		var st syscall.Stat_t
		waitFor(t, "a file created by the program as the user with umask=007", 5*time.Second, func() bool {
			return syscall.Stat(k.expand("@DIR@/own/m007"), &st) == nil
		})
		if st.Mode&0o777 != 0o660 || st.Uid != u.uid || st.Gid != u.gid {
			t.Errorf("the file created as %s with umask=007 has mode %04o owner %d:%d, want 0660 %d:%d",
				u.name, st.Mode&0o777, st.Uid, st.Gid, u.uid, u.gid)
		}

		s = k.waitState("nouser", 10*time.Second, "FATAL")
		if got := rpcField[string](s, "description"); !strings.Contains(got, u.name+"-nosuch") {
			t.Errorf("FATAL description %q does not name the user", got)
		}
		if n := len(k.logLines("spawnerr: ")); n != 2 {
			t.Errorf("%d spawn errors logged, want 2 (startretries=1); log:\n%s", n, k.log())
		}
		if fi, err := os.Stat(k.sock); err != nil || fi.Mode().Perm() != 0o700 || fi.Mode().Type() != os.ModeSocket {
			t.Errorf("control socket %v (%v), want a socket with the default mode 0700", fi.Mode(), err)
		}
	})

	// ctl runs supervisorctl status as the test user, with or without its
	// supplementary group, or with that group as its primary one.
	ctl := func(t *testing.T, k *keeperd, groups []uint32, gid uint32) (string, int) {
		t.Helper()
		return runAs(t, "/", &syscall.Credential{Uid: u.uid, Gid: gid, Groups: groups},
			peer.Find("supervisorctl"), "-s", "unix://"+k.sock, "status")
	}
	statusLine := regexp.MustCompile(`(?m)^prog\s+RUNNING\s+pid [0-9]+`)

	// A daemon run by the user itself may run programs as that user, not
	// as anyone else, and lets that user control it.
	t.Run("nonroot-daemon", func(t *testing.T) {
		peer.Need(t, "supervisorctl")
		t.Parallel()
		k := newKeeperd(t, `
[program:self]
command=/bin/sh -c 'id -u; exec @DIR@/sleepy 1000'
user=`+u.name+`
stdout_logfile=@DIR@/self.log
startsecs=0

[program:asroot]
command=@DIR@/sleepy 1000
user=root
startretries=0
`)
		// The user needs a keeper it can run and a directory of its own.
		k.bin = filepath.Join(k.dir, "keeper")
		if out, code := runKeeper(t, k.dir, "cp", keeperBin, k.bin); code != 0 {
			t.Fatalf("cp: %s", out)
		}
		for _, path := range []string{k.dir, k.conf} {
			if err := os.Chown(path, int(u.uid), int(u.gid)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(k.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		k.cred = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{u.sgid}}
		k.start()
		k.waitState("self", 5*time.Second, "RUNNING")
		waitFor(t, "self's output", 5*time.Second, func() bool {
			return readFileOrEmpty(k.expand("@DIR@/self.log")) == fmt.Sprintf("%d\n", u.uid)
		})
		s := k.waitState("asroot", 5*time.Second, "FATAL")
		if got := rpcField[string](s, "description"); !strings.Contains(got, "'root'") {
			t.Errorf("asroot: description %q, want a spawn error naming root", got)
		}
		// Exit status 3: asroot is not running.
		if out, code := ctl(t, k, nil, u.gid); code != 3 || !regexp.MustCompile(`(?m)^self\s+RUNNING`).MatchString(out) {
			t.Errorf("supervisorctl as the daemon's own user: exit status %d, output %q", code, out)
		}
		if l := k.logLines("refused control connection"); len(l) != 0 {
			t.Errorf("the daemon's own user refused: %q", l)
		}
	})

	t.Run("socket-refused", func(t *testing.T) {
		peer.Need(t, "supervisorctl")
		t.Parallel()
		k := newKeeperd(t, "[program:prog]\ncommand=@DIR@/sleepy 1000\nstartsecs=0\n")
		k.setSections("chmod=0777\nweb=true\n", "")
		if err := os.Chmod(k.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		k.start()
		k.waitState("prog", 5*time.Second, "RUNNING")
		if fi, err := os.Stat(k.sock); err != nil || fi.Mode().Perm() != 0o777 {
			t.Fatalf("control socket mode %v (%v), want chmod=0777", fi.Mode(), err)
		}
		// The file mode lets the user connect; the daemon refuses it.
		out, code := ctl(t, k, nil, u.gid)
		if code == 0 || statusLine.MatchString(out) {
			t.Errorf("supervisorctl as %s: exit status %d, output %q; want refused", u.name, code, out)
		}
		k.waitLog(fmt.Sprintf("refused control connection from uid %d", u.uid), 5*time.Second)
		// The web page on the socket (web = true) is behind the same rule:
		// the user's GET / is closed unanswered.
		get := `import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    answer = s.recv(4096)
except (ConnectionResetError, BrokenPipeError):
    answer = b""
print("answer:", repr(answer[:12]))`
		out, _ = runAs(t, "/", &syscall.Credential{Uid: u.uid, Gid: u.gid}, peer.Find("python3"), "-c", get, k.sock)
		if !strings.Contains(out, "answer: b''") {
			t.Errorf("GET / on the control socket as %s: %q, want the connection closed unanswered", u.name, out)
		}
		if n := len(k.logLines(fmt.Sprintf("refused control connection from uid %d", u.uid))); n < 2 {
			t.Errorf("%d refusals logged, want supervisorctl's and the page's", n)
		}
		// Root still may.
		k.mustCall("supervisor.getState")
	})

	t.Run("socket-group", func(t *testing.T) {
		peer.Need(t, "supervisorctl")
		t.Parallel()
		k := newKeeperd(t, "[program:prog]\ncommand=@DIR@/sleepy 1000\nstartsecs=0\n")
		k.setSections("chmod=0770\nchown=root:"+u.group+"\n", "")
		if err := os.Chmod(k.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		k.start()
		k.waitState("prog", 5*time.Second, "RUNNING")
		var st syscall.Stat_t
		if err := syscall.Stat(k.sock, &st); err != nil || st.Mode&0o777 != 0o770 || st.Uid != 0 || st.Gid != u.sgid {
			t.Fatalf("control socket mode %04o owner %d:%d (%v), want 0770 root:%d", st.Mode&0o777, st.Uid, st.Gid, err, u.sgid)
		}
		// A member of the socket's group, as a supplementary group or as
		// its primary one, is allowed.
		for _, c := range []struct {
			groups []uint32
			gid    uint32
		}{{[]uint32{u.sgid}, u.gid}, {nil, u.sgid}} {
			out, code := ctl(t, k, c.groups, c.gid)
			if code != 0 || !statusLine.MatchString(out) {
				t.Errorf("supervisorctl as %s (gid %d, groups %v): exit status %d, output %q; want prog RUNNING",
					u.name, c.gid, c.groups, code, out)
			}
		}
		// Without the group, the socket's mode keeps the user out.
		if out, code := ctl(t, k, nil, u.gid); code == 0 || statusLine.MatchString(out) {
			t.Errorf("supervisorctl as %s outside the socket's group: exit status %d, output %q", u.name, code, out)
		}
		if l := k.logLines("refused control connection"); len(l) != 0 {
			t.Errorf("refusals logged for allowed peers: %q", l)
		}
	})
}

// openDescriptors lists pid's open descriptors as "N -> target".
func openDescriptors(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var names []string
	for _, fd := range fds {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		names = append(names, fd.Name()+" -> "+link)
	}
	return names, err
}

// waitExecSleepy waits until pid has exec'd the test directory's sleepy
// (its argv[0], not its whole command line: a shell's -c text names sleepy
// before the shell has set its traps and exec'd).
func waitExecSleepy(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("pid %d to exec sleepy", pid), 5*time.Second, func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		argv0, _, _ := bytes.Cut(b, []byte{0})
		return bytes.HasSuffix(argv0, []byte("/sleepy"))
	})
}

// TestDaemonShutdown checks SIGINT shutting down a daemon whose programs
// are in every state: one ignoring SIGTERM (killed after stopwaitsecs), one
// in BACKOFF, one STARTING; nothing is left behind.
func TestDaemonShutdown(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:stubborn]
command=/bin/sh -c 'trap "" TERM; exec @DIR@/sleepy 1000'
stopwaitsecs=1
startsecs=0

[program:flap]
command=/bin/sh -c 'exit 1; : @DIR@'
startsecs=1
startretries=100

[program:starting]
command=@DIR@/sleepy 1001
startsecs=100
`)
	k.start()
	pid := rpcField[int](k.waitState("stubborn", 5*time.Second, "RUNNING"), "pid")
	waitExecSleepy(t, pid)
	k.waitState("flap", 5*time.Second, "BACKOFF")
	starting := rpcField[int](k.waitState("starting", 5*time.Second, "STARTING"), "pid")
	begin := time.Now()
	k.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon still running 10s after SIGINT; log:\n%s", k.log())
	}
	if d := time.Since(begin); d < time.Second || d > 4*time.Second {
		t.Errorf("shutdown took %v, want stubborn's stopwaitsecs (1s) and little more", d)
	}
	if code := k.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("daemon exit status %d after SIGINT, want 0", code)
	}
	for _, p := range []int{pid, starting} {
		if !processGone(p) {
			t.Errorf("program %d left after the shutdown", p)
		}
	}
	for _, want := range []string{"received INT indicating exit request", "killing 'stubborn' (" + strconv.Itoa(pid) + ") with SIGKILL", "stopped: starting (terminated by SIGTERM)"} {
		if len(k.logLines(want)) != 1 {
			t.Errorf("no %q in the log:\n%s", want, k.log())
		}
	}
	if pids := pidsMentioning(k.dir); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
}

// TestDaemonManyExits checks that no exit is lost when many programs die
// at once (SIGCHLDs coalesce): 20 processes each exit 4 times and are
// respawned until they stay up.
func TestDaemonManyExits(t *testing.T) {
	t.Parallel()
	const procs, runs = 20, 5
	k := newKeeperd(t, fmt.Sprintf(`
[program:many]
command=/bin/sh -c 'echo x >> @DIR@/%%(process_num)02d.count; [ $(wc -l < @DIR@/%%(process_num)02d.count) -ge %d ] && exec @DIR@/sleepy 1000; exit 0'
process_name=%%(program_name)s_%%(process_num)02d
numprocs=%d
startsecs=0
autorestart=true
`, runs, procs))
	k.start()
	for i := 0; i < procs; i++ {
		name := fmt.Sprintf("many:many_%02d", i)
		k.waitState(name, 10*time.Second, "RUNNING")
		waitForLog(t, k, name+" spawned "+strconv.Itoa(runs)+" times", 10*time.Second, func() bool {
			return len(k.logLines(fmt.Sprintf("spawned: 'many_%02d'", i))) == runs
		})
	}
	waitForLog(t, k, "every run counted", 5*time.Second, func() bool {
		for i := 0; i < procs; i++ {
			if fileLines(k.expand(fmt.Sprintf("@DIR@/%02d.count", i))) != runs {
				return false
			}
		}
		return true
	})
}
