package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"keeper/internal/peer"
	"keeper/supervise/xmlrpc"
)

// TestPtyProgram: a pty = true program runs on a terminal of its own (a
// session leader whose parent is its master, not the daemon); what it
// prints lands in its stdout log and its session_log; stop reaches it with
// its stopsignal and takes its master; start and restart give a new one;
// its exit status drives autorestart and exitcodes as any program's does.
func TestPtyProgram(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:counter]
command=/bin/sh -c 'trap "echo got SIGTERM; exit 5" TERM; echo tty=$(tty); i=0; while :; do i=$((i+1)); echo n=$i; @DIR@/sleepy 0.1; done'
pty=true
session_log=@DIR@/counter.cast
stdout_logfile=@DIR@/counter.log
stderr_logfile=@DIR@/counter.err
startsecs=0
exitcodes=5
stopwaitsecs=5

[program:flaky]
command=/bin/sh -c 'echo x >> @DIR@/flaky.count; [ $(wc -l < @DIR@/flaky.count) -ge 3 ] && exec @DIR@/sleepy 1000; echo bad exit; exit 4'
pty=true
stdout_logfile=@DIR@/flaky.log
startsecs=0
autorestart=unexpected

[program:once]
command=/bin/sh -c 'exit 6'
pty=true
startsecs=0
autorestart=false
`)
	k.start()
	s := k.waitState("counter", 10*time.Second, "RUNNING")
	pid := rpcField[int](s, "pid")
	st := procStat(pid)
	if st.SID != pid || st.PPID == k.cmd.Process.Pid {
		t.Errorf("counter (pid %d): session %d, parent %d (daemon %d); want its own session under its master", pid, st.SID, st.PPID, k.cmd.Process.Pid)
	}
	// Its master is the program's, not a session of it.
	if v := k.mustCall("keeper.getSessions"); !reflect.DeepEqual(v, []any{}) && v != nil {
		t.Errorf("keeper.getSessions = %v, want no session", v)
	}
	logPath := k.expand("@DIR@/counter.log")
	waitFor(t, "counter's output in its log", 10*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "tty=/dev/pts/") && strings.Contains(string(b), "n=3")
	})
	// The recording is written apart from the log, a few ms later.
	waitFor(t, "counter's output in its session_log", 5*time.Second, func() bool {
		b, _ := os.ReadFile(k.expand("@DIR@/counter.cast"))
		return strings.HasPrefix(string(b), `{"version":2`) && strings.Contains(string(b), "n=3")
	})

	k.mustCall("supervisor.stopProcess", "counter")
	s = k.waitState("counter", 10*time.Second, "STOPPED")
	if code := rpcField[int](s, "exitstatus"); code != 5 {
		t.Errorf("counter stopped with exit status %d, want 5 (its SIGTERM trap)", code)
	}
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "got SIGTERM") {
		t.Errorf("counter's log has no 'got SIGTERM':\n%s", b)
	}
	waitFor(t, "counter and its master to be gone", 10*time.Second, func() bool {
		return processGone(pid) && len(pidsMentioning(k.expand("@DIR@/keeper.state/pty/counter"))) == 0
	})
	if b, _ := os.ReadFile(k.expand("@DIR@/counter.err")); len(b) != 0 {
		t.Errorf("stderr log of a pty program: %q, want it empty (the terminal merges stderr)", b)
	}
	k.mustCall("supervisor.startProcess", "counter")
	s = k.waitState("counter", 10*time.Second, "RUNNING")
	if again := rpcField[int](s, "pid"); again == pid || again == 0 {
		t.Errorf("counter started again with pid %d, want a new one (was %d)", again, pid)
	}

	k.waitState("flaky", 10*time.Second, "RUNNING")
	waitFor(t, "flaky's third run", 10*time.Second, func() bool { return fileLines(k.expand("@DIR@/flaky.count")) == 3 })
	if l := k.logLines("exited: flaky "); len(l) != 2 || !strings.Contains(l[0], "(exit status 4; not expected)") {
		t.Errorf("flaky's exits logged as %q, want 2 with exit status 4", l)
	}
	if b, _ := os.ReadFile(k.expand("@DIR@/flaky.log")); strings.Count(string(b), "bad exit") != 2 {
		t.Errorf("flaky's log:\n%s\nwant 'bad exit' twice", b)
	}
	s = k.waitState("once", 10*time.Second, "EXITED")
	if code := rpcField[int](s, "exitstatus"); code != 6 {
		t.Errorf("once EXITED with %d, want 6", code)
	}
}

// ptyShell is a pty program's script: it says ready, answers each line,
// prints its terminal's size on "size" and says so when it gets SIGINT.
const ptyShell = `trap 'echo got SIGINT' INT
echo ready
while :; do
	read line || continue
	case "$line" in
	size) stty size ;;
	*) echo "said $line" ;;
	esac
done
`

// TestFgPtyProgram: keeper fg attaches a terminal to a pty program's: the
// screen is repainted, keys and Ctrl-C reach the program, the window size
// follows, keeper attach NAME joins as a second client that sees the same
// startPtyShell starts a daemon with one pty program, shell, running
// ptyShell.
func startPtyShell(t *testing.T) *keeperd {
	t.Helper()
	k := newKeeperd(t, `
[program:shell]
command=/bin/sh @DIR@/shell.sh
pty=true
startsecs=0
`)
	if err := os.WriteFile(k.expand("@DIR@/shell.sh"), []byte(ptyShell), 0o644); err != nil {
		t.Fatal(err)
	}
	k.start()
	return k
}

// output, and the detach key leaves the program running.
func TestFgPtyProgram(t *testing.T) {
	t.Parallel()
	k := startPtyShell(t)
	pid := rpcField[int](k.waitState("shell", 10*time.Second, "RUNNING"), "pid")
	waitForLog(t, k, "the shell's ready", 10*time.Second, func() bool {
		v, err := k.call("supervisor.readProcessStdoutLog", "shell", 0, 0)
		return err == nil && strings.Contains(v.(string), "ready")
	})

	fg := startTerm(t, k.dir, nil, keeperBin, "-c", k.conf, "fg", "shell")
	fg.expect("ready", 10*time.Second) // the repaint
	fg.send("hello\r")
	fg.expect("said hello", 10*time.Second)
	fg.send("\x03")
	fg.expect("got SIGINT", 10*time.Second)
	if err := pty.Setsize(fg.pty, &pty.Winsize{Rows: 30, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new size to reach the program", 10*time.Second, func() bool {
		fg.send("size\r")
		rx := regexp.MustCompile(`30 100`)
		return rx.MatchString(fg.output())
	})

	other := startTerm(t, k.dir, nil, keeperBin, "-c", k.conf, "attach", "shell")
	other.expect("said hello", 10*time.Second)
	fg.send("both\r")
	fg.expect("said both", 10*time.Second)
	other.expect("said both", 10*time.Second)

	fg.send("\x1c")
	if code := fg.wait(10 * time.Second); code != 0 {
		t.Errorf("fg exit status %d after the detach key, want 0", code)
	}
	other.send("\x1c")
	other.wait(10 * time.Second)
	if s := k.info("shell"); statename(s) != "RUNNING" || rpcField[int](s, "pid") != pid {
		t.Errorf("after detaching: shell %s pid %d, want RUNNING pid %d", statename(s), rpcField[int](s, "pid"), pid)
	}
}

// TestSupervisorctlFgPtyProgram: the real supervisorctl's fg works on a
// pty program as on any program: its log is followed and a typed line is
// typed on its terminal.
func TestSupervisorctlFgPtyProgram(t *testing.T) {
	t.Parallel()
	ctl := peer.Need(t, "supervisorctl")
	k := startPtyShell(t)
	k.waitState("shell", 10*time.Second, "RUNNING")

	real := startTerm(t, k.dir, nil, ctl, "-c", k.conf, "fg", "shell")
	real.expect(`==> Press Ctrl-C to exit <==`, 10*time.Second)
	real.send("viactl\r")
	real.expect("said viactl", 10*time.Second)
	real.send("\x03")
	real.expect("Exiting foreground", 10*time.Second)
	// supervisorctl's log thread notices its kill only when it next runs
	// (new output, or asyncore's 30 s poll): the cleanup ends it.
}

// kill9 kills the daemon with SIGKILL, as a crash would, and waits for it.
func (k *keeperd) kill9() {
	k.t.Helper()
	k.killed = true
	if err := k.cmd.Process.Kill(); err != nil {
		k.t.Fatal(err)
	}
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
		k.t.Fatal("the daemon did not die of SIGKILL")
	}
}

// TestPtyProgramOutlivesDaemon: pty programs survive kill -9 of the daemon;
// the next daemon re-adopts them with their pid and uptime and their log
// goes on (what they printed meanwhile included); an exit while no daemon
// ran is reported then: restarted with autorestart, EXITED with its code
// without; a pty program dropped from the config is stopped.
func TestPtyProgramOutlivesDaemon(t *testing.T) {
	t.Parallel()
	const body = `
[program:counter]
command=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo n=$i; @DIR@/sleepy 0.1; done'
pty=true
stdout_logfile=@DIR@/counter.log
startsecs=0

[program:quitter]
command=/bin/sh -c 'echo run >> @DIR@/quitter.count; trap "exit 3" TERM; while :; do @DIR@/sleepy 0.1; done'
pty=true
startsecs=0
autorestart=true

[program:final]
command=/bin/sh -c 'trap "exit 9" TERM; while :; do @DIR@/sleepy 0.1; done'
pty=true
startsecs=0
autorestart=false
`
	const dropped = `
[program:dropped]
command=/bin/sh -c 'while :; do @DIR@/sleepy 0.1; done'
pty=true
startsecs=0
`
	k := newKeeperd(t, body+dropped)
	k.start()
	before := map[string]xmlrpc.Struct{}
	for _, name := range []string{"counter", "quitter", "final", "dropped"} {
		before[name] = k.waitState(name, 10*time.Second, "RUNNING")
	}
	// Uptime counts in seconds: let a second pass so a reset would show.
	waitFor(t, "a second of uptime", 10*time.Second, func() bool {
		return time.Since(time.Unix(int64(rpcField[int](k.info("counter"), "start")), 0)) > 1500*time.Millisecond
	})
	k.kill9()

	pid := func(name string) int { return rpcField[int](before[name], "pid") }
	for _, name := range []string{"quitter", "final"} {
		if err := syscall.Kill(pid(name), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "quitter and final to exit while no daemon runs", 10*time.Second, func() bool {
		return processGone(pid("quitter")) && processGone(pid("final"))
	})
	logPath := k.expand("@DIR@/counter.log")
	linesBefore := fileLines(logPath)
	if !processAlive(pid("counter")) || !processAlive(pid("dropped")) {
		t.Fatal("a pty program died with its daemon")
	}

	k2 := k.again()
	k2.writeConf(body)
	k2.start()
	s := k2.waitState("counter", 10*time.Second, "RUNNING")
	if got := rpcField[int](s, "pid"); got != pid("counter") {
		t.Errorf("counter re-adopted with pid %d, want %d", got, pid("counter"))
	}
	if got, want := rpcField[int](s, "start"), rpcField[int](before["counter"], "start"); got < want-1 || got > want+1 {
		t.Errorf("counter's start %d after re-adoption, want its original %d", got, want)
	}
	last := linesBefore + 10
	waitFor(t, "counter's log to go on", 10*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), fmt.Sprintf("n=%d\r\n", last))
	})
	// Every number, what it printed while no daemon ran included.
	b, _ := os.ReadFile(logPath)
	for i := 1; i < last; i++ {
		if !strings.Contains(string(b), fmt.Sprintf("n=%d\r\n", i)) {
			t.Errorf("counter's log lacks n=%d:\n%s\ndaemon log:\n%s", i, b, k2.log())
			break
		}
	}

	waitFor(t, "quitter restarted by the new daemon", 10*time.Second, func() bool {
		return fileLines(k.expand("@DIR@/quitter.count")) == 2
	})
	k2.waitState("quitter", 10*time.Second, "RUNNING")
	if l := k2.logLines("exited: quitter "); len(l) != 1 || !strings.Contains(l[0], "exit status 3") {
		t.Errorf("quitter's exit logged as %q, want exit status 3", l)
	}
	s = k2.waitState("final", 10*time.Second, "EXITED")
	if code := rpcField[int](s, "exitstatus"); code != 9 {
		t.Errorf("final EXITED with %d, want 9", code)
	}
	waitFor(t, "dropped, no longer configured, to be stopped", 10*time.Second, func() bool {
		return processGone(pid("dropped"))
	})
}

// TestShutdownKeepPrograms: keeper shutdown --keep-programs stops the other
// programs and leaves a pty program running, which the next daemon adopts
// with its pid; a plain shutdown then stops it and its master.
func TestShutdownKeepPrograms(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:term]
command=/bin/sh -c 'while :; do echo tick; @DIR@/sleepy 0.2; done'
pty=true
startsecs=0

[program:plain]
command=@DIR@/sleepy 1000
startsecs=0
`)
	k.start()
	pid := rpcField[int](k.waitState("term", 10*time.Second, "RUNNING"), "pid")
	plain := rpcField[int](k.waitState("plain", 10*time.Second, "RUNNING"), "pid")
	if out, code := runCmd(t, k.dir, keeperBin, "-c", k.conf, "shutdown", "--keep-programs"); code != 0 || out != "Shut down\n" {
		t.Fatalf("shutdown --keep-programs: %q, status %d", out, code)
	}
	select {
	case <-k.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not exit")
	}
	if !processGone(plain) || !processAlive(pid) {
		t.Fatalf("after shutdown --keep-programs: plain alive %v, term alive %v; want only term", !processGone(plain), processAlive(pid))
	}
	k2 := k.again()
	k2.start()
	if got := rpcField[int](k2.waitState("term", 10*time.Second, "RUNNING"), "pid"); got != pid {
		t.Errorf("term adopted with pid %d, want %d", got, pid)
	}
	if out, code := runCmd(t, k.dir, keeperBin, "-c", k.conf, "shutdown"); code != 0 {
		t.Fatalf("shutdown: %q, status %d", out, code)
	}
	select {
	case <-k2.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the second daemon did not exit")
	}
	waitFor(t, "term and its master gone after a plain shutdown", 10*time.Second, func() bool {
		return processGone(pid) && len(pidsMentioning(k.expand("@DIR@/keeper.state/pty/term"))) == 0
	})
}

// TestReexecKeepsPtyProgram: keeper reexec leaves a pty program to its
// master; the daemon executed again reconnects to it: same pid and start,
// its log going on.
func TestReexecKeepsPtyProgram(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:counter]
command=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo n=$i; @DIR@/sleepy 0.1; done'
pty=true
stdout_logfile=@DIR@/counter.log
startsecs=0
`)
	k.start()
	before := k.waitState("counter", 10*time.Second, "RUNNING")
	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "reexec"); code != 0 {
		t.Fatalf("reexec: exit %d: %q\nlog:\n%s", code, out, k.log())
	}
	after := k.waitState("counter", 10*time.Second, "RUNNING")
	for _, field := range []string{"pid", "start"} {
		if rpcField[int](after, field) != rpcField[int](before, field) {
			t.Errorf("counter's %s %d before the reexec, %d after", field, rpcField[int](before, field), rpcField[int](after, field))
		}
	}
	logPath := k.expand("@DIR@/counter.log")
	last := fileLines(logPath) + 10
	waitFor(t, "counter's log to go on", 10*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), fmt.Sprintf("n=%d\r\n", last))
	})
	b, _ := os.ReadFile(logPath)
	for i := 1; i < last; i++ {
		if n := strings.Count(string(b), fmt.Sprintf("n=%d\r\n", i)); n != 1 {
			t.Errorf("n=%d %d times in counter's log, want once", i, n)
		}
	}
	if len(k.logLines("adopted: 'counter'")) != 1 {
		t.Errorf("counter not adopted after the reexec; log:\n%s", k.log())
	}
}
