package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
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
