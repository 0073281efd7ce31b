package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRetryForever: a program with startretries=infinite that keeps failing
// stays in BACKOFF past supervisord's FATAL, with its attempt and the wait
// (capped by backoff_max) in status, and runs once it can.
func TestRetryForever(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:flaky]
command=/bin/sh -c '[ -e @DIR@/ok ] && exec @DIR@/sleepy 1000; exit 1'
startsecs=1
startretries=infinite
backoff_max=1
`)
	k.start()
	waitFor(t, "six failed starts", 20*time.Second, func() bool {
		return len(k.logLines("spawned: 'flaky'")) >= 6
	})
	s := k.info("flaky")
	if st := statename(s); st != "BACKOFF" && st != "STARTING" {
		t.Fatalf("after 6 failed starts flaky is %s, want BACKOFF or STARTING (supervisord's FATAL comes after 4)", st)
	}
	if log := k.log(); strings.Contains(log, "gave up") {
		t.Errorf("a program that retries forever gave up:\n%s", log)
	}
	s = k.waitState("flaky", 5*time.Second, "BACKOFF")
	if desc := rpcField[string](s, "description"); !strings.Contains(desc, "(attempt ") || !strings.Contains(desc, "next in 1s)") && !strings.Contains(desc, "next in 0s)") {
		t.Errorf("BACKOFF description %q, want the attempt and a wait of at most backoff_max", desc)
	}
	if err := os.WriteFile(filepath.Join(k.dir, "ok"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k.waitState("flaky", 10*time.Second, "RUNNING")
}
