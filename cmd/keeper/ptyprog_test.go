package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"keeper/internal/peer"
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
	if b, _ := os.ReadFile(k.expand("@DIR@/counter.cast")); !strings.HasPrefix(string(b), `{"version":2`) || !strings.Contains(string(b), "n=3") {
		t.Errorf("session_log: %.200q, want an asciicast with the output", b)
	}

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
// output, and the detach key leaves the program running.
func TestFgPtyProgram(t *testing.T) {
	t.Parallel()
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
