package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
)

// TestReadyChecks: ready=tcp is RUNNING once its port answers (not after
// startsecs) and its dependent starts only then; ready=notify is RUNNING on
// READY=1 from systemd-notify, with its STATUS= in status; a program that
// never notifies fails its start after ready_timeout.
func TestReadyChecks(t *testing.T) {
	t.Parallel()
	python := peer.Need(t, "python3")
	notify := peer.Need(t, "systemd-notify")
	port := freePort(t)
	k := newKeeperd(t, fmt.Sprintf(`
[program:web]
command=%[1]s -c 'import socket, time; time.sleep(2); s = socket.socket(); s.bind(("127.0.0.1", %[2]d)); s.listen(); time.sleep(1000)'
ready=tcp:127.0.0.1:%[2]d

[program:after]
command=@DIR@/sleepy 1000
depends_on=web
startsecs=0

[program:notifier]
command=/bin/sh -c '@DIR@/sleepy 1; %[3]s --ready --status="serving 3 terminals"; exec @DIR@/sleepy 1000'
ready=notify

[program:gated]
command=@DIR@/sleepy 1000
ready=exec:test -e @DIR@/gate

[program:site]
command=%[1]s -m http.server --bind 127.0.0.1 --directory @DIR@ %[4]d
ready=http://127.0.0.1:%[4]d/

[program:silent]
command=@DIR@/sleepy 1000
ready=notify
ready_timeout=1
startretries=0
`, python, port, notify, freePort(t)))
	start := time.Now()
	k.start()
	// RUNNING once the port answers, though startsecs (1) passed before.
	k.waitState("web", 10*time.Second, "RUNNING")
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("web RUNNING %v after the start, before its port opened at 2s", took)
	}
	k.waitState("after", 5*time.Second, "RUNNING")
	log := k.log()
	ready, spawned := strings.Index(log, "web entered RUNNING state, ready (tcp:"), strings.Index(log, "spawned: 'after'")
	if ready < 0 || spawned < ready {
		t.Errorf("after was spawned (log offset %d) before web was ready (%d):\n%s", spawned, ready, log)
	}

	s := k.waitState("notifier", 10*time.Second, "RUNNING")
	if desc := rpcField[string](s, "description"); !strings.HasSuffix(desc, ", serving 3 terminals") {
		t.Errorf("notifier's description %q, want its STATUS= at the end", desc)
	}
	k.waitState("site", 10*time.Second, "RUNNING")
	if st := statename(k.info("gated")); st != "STARTING" {
		t.Errorf("gated is %s before its gate file exists, want STARTING", st)
	}
	if err := os.WriteFile(filepath.Join(k.dir, "gate"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k.waitState("gated", 10*time.Second, "RUNNING")
	s = k.waitState("silent", 10*time.Second, "FATAL")
	if desc := rpcField[string](s, "description"); !strings.Contains(desc, "not ready within 1s (ready = notify)") {
		t.Errorf("silent's description %q, want the ready timeout", desc)
	}
}

// TestReadyNotifyRefusesOtherUsers: a READY=1 sent to a program's
// NOTIFY_SOCKET by another user (the socket is abstract: anyone can reach
// it) is ignored and logged; the program's own READY=1 counts.
func TestReadyNotifyRefusesOtherUsers(t *testing.T) {
	t.Parallel()
	notify := peer.Need(t, "systemd-notify")
	u := newTestUser(t)
	k := newKeeperd(t, `
[program:waiting]
command=/bin/sh -c 'while [ ! -e @DIR@/go ]; do @DIR@/sleepy 0.05; done; `+notify+` --ready; exec @DIR@/sleepy 1000'
ready=notify
`)
	k.start()
	pid := rpcField[int](k.waitState("waiting", 5*time.Second, "STARTING"), "pid")
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	var addr string
	for _, kv := range strings.Split(string(environ), "\x00") {
		if v, ok := strings.CutPrefix(kv, "NOTIFY_SOCKET="); ok {
			addr = v
		}
	}
	if !strings.HasPrefix(addr, "@") {
		t.Fatalf("the program's NOTIFY_SOCKET is %q, want an abstract socket", addr)
	}
	out, code := runAs(t, "/", &syscall.Credential{Uid: u.uid, Gid: u.gid}, "/usr/bin/env", "NOTIFY_SOCKET="+addr, notify, "--ready")
	if code != 0 {
		t.Logf("systemd-notify as %s: exit %d: %s", u.name, code, out)
	}
	k.waitLog("ignored: only the program's user may send", 5*time.Second)
	if st := statename(k.info("waiting")); st != "STARTING" {
		t.Fatalf("after another user's READY=1 the program is %s, want STARTING", st)
	}
	if err := os.WriteFile(filepath.Join(k.dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k.waitState("waiting", 10*time.Second, "RUNNING")
}

// TestReadyWatchdog: a ready=notify program with watchdog_sec gets
// WATCHDOG_USEC, stays up while it sends WATCHDOG=1, and is restarted once
// it stops sending.
func TestReadyWatchdog(t *testing.T) {
	t.Parallel()
	notify := peer.Need(t, "systemd-notify")
	k := newKeeperd(t, `
[program:dog]
command=/bin/sh -c 'echo $WATCHDOG_USEC > @DIR@/usec; `+notify+` --ready; for i in 1 2 3 4; do @DIR@/sleepy 0.4; `+notify+` WATCHDOG=1; done; touch @DIR@/quiet; exec @DIR@/sleepy 1000'
ready=notify
watchdog_sec=1
`)
	k.start()
	pid := rpcField[int](k.waitState("dog", 10*time.Second, "RUNNING"), "pid")
	waitFor(t, "the program to stop sending WATCHDOG=1", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(k.dir, "quiet"))
		return err == nil
	})
	if p := rpcField[int](k.info("dog"), "pid"); p != pid {
		t.Fatalf("dog was restarted while it sent WATCHDOG=1 every 0.4 s")
	}
	// Read before the restart, whose shell truncates the file again.
	if b, _ := os.ReadFile(filepath.Join(k.dir, "usec")); strings.TrimSpace(string(b)) != "1000000" {
		t.Errorf("WATCHDOG_USEC %q, want 1000000", b)
	}
	var desc string
	waitFor(t, "dog restarted for its silent watchdog", 10*time.Second, func() bool {
		s := k.info("dog")
		desc = rpcField[string](s, "description")
		return rpcField[int](s, "pid") != pid
	})
	waitFor(t, "the reason in status", 10*time.Second, func() bool {
		desc = rpcField[string](k.info("dog"), "description")
		return strings.Contains(desc, "no WATCHDOG=1 for")
	})
}
