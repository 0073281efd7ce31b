package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHealthCheck: a RUNNING program whose health check fails
// healthcheck_retries times in a row is restarted, within interval x
// retries (+ one interval), with the reason in status and the log.
func TestHealthCheck(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:svc]
command=@DIR@/sleepy 1000
startsecs=0
healthcheck=exec:test -e @DIR@/healthy
healthcheck_interval=1
healthcheck_retries=2
`)
	healthy := filepath.Join(k.dir, "healthy")
	if err := os.WriteFile(healthy, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k.start()
	pid := rpcField[int](k.waitState("svc", 5*time.Second, "RUNNING"), "pid")
	// Healthy checks pass and change nothing.
	k.waitLog("spawned: 'svc'", time.Second)
	if err := os.Remove(healthy); err != nil {
		t.Fatal(err)
	}
	unhealthy := time.Now()
	var s = k.info("svc")
	waitFor(t, "svc restarted for failing its health check", 10*time.Second, func() bool {
		s = k.info("svc")
		p := rpcField[int](s, "pid")
		return statename(s) == "RUNNING" && p != 0 && p != pid
	})
	if took := time.Since(unhealthy); took > 4*time.Second {
		t.Errorf("restarted %v after the check began to fail, want within 3s (+ slack)", took)
	}
	if desc := rpcField[string](s, "description"); !strings.Contains(desc, "restarted: 2 failed health checks (exec:test -e") {
		t.Errorf("description %q, want the health restart", desc)
	}
	if log := k.log(); !strings.Contains(log, "restarting svc: 2 failed health checks") {
		t.Errorf("log has no health restart:\n%s", log)
	}
}
