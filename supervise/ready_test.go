package supervise

import (
	"strings"
	"testing"
	"time"
)

func TestParseReadyCheck(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ReadyCheck
		err  string
	}{
		{in: "notify", want: ReadyCheck{Kind: ReadyNotify}},
		{in: " tcp:127.0.0.1:8080 ", want: ReadyCheck{Kind: ReadyTCP, Target: "127.0.0.1:8080"}},
		{in: "tcp:[::1]:22", want: ReadyCheck{Kind: ReadyTCP, Target: "[::1]:22"}},
		{in: "http://localhost:9000/health?x=1", want: ReadyCheck{Kind: ReadyHTTP, Target: "http://localhost:9000/health?x=1"}},
		{in: "exec: pg_isready -q", want: ReadyCheck{Kind: ReadyExec, Target: "pg_isready -q"}},
		{in: "tcp:8080", err: "want tcp:HOST:PORT"},
		{in: "http://", err: "want http://HOST:PORT/PATH"},
		{in: "exec:", err: "is not notify"},
		{in: "https://x/", err: "is not notify"},
	} {
		got, err := parseReadyCheck(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want an error with %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestLoadReady(t *testing.T) {
	c, _ := mustLoad(t, "[program:a]\ncommand=x\nready=tcp:127.0.0.1:80\n\n[program:b]\ncommand=x\nready=notify\nready_timeout=5\n")
	a, b := c.Processes[0], c.Processes[1]
	if a.Ready.Kind != ReadyTCP || a.ReadyTimeout != defaultReadyTimeout || b.Ready.Kind != ReadyNotify || b.ReadyTimeout != 5*time.Second {
		t.Errorf("ready: %+v %v, %+v %v", a.Ready, a.ReadyTimeout, b.Ready, b.ReadyTimeout)
	}
	_, _, err := load(t, "[program:a]\ncommand=x\nready=sometimes\n")
	if err == nil || !strings.Contains(err.Error(), ":3: [program:a] ready:") {
		t.Errorf("a bad ready: %v, want an error with file:line", err)
	}
}

func TestLoadHealthCheck(t *testing.T) {
	c, _ := mustLoad(t, "[program:a]\ncommand=x\nhealthcheck=http://127.0.0.1:8080/health\nhealthcheck_retries=5\n\n[program:b]\ncommand=x\n")
	want := HealthCheck{Check: ReadyCheck{Kind: ReadyHTTP, Target: "http://127.0.0.1:8080/health"}, Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 5}
	if got := c.Processes[0].Health; got != want {
		t.Errorf("healthcheck: %+v, want %+v", got, want)
	}
	if got := c.Processes[1].Health; got.Check.Kind != "" {
		t.Errorf("no healthcheck: %+v", got)
	}
	_, _, err := load(t, "[program:a]\ncommand=x\nhealthcheck=notify\n")
	if err == nil || !strings.Contains(err.Error(), ":3: [program:a] healthcheck:") {
		t.Errorf("healthcheck=notify: %v, want an error with file:line", err)
	}
}

func TestLoadMemoryLimit(t *testing.T) {
	c, _ := mustLoad(t, "[supervisord]\nmemory_limit=1GB\n\n[program:a]\ncommand=x\n\n[program:b]\ncommand=x\nmemory_limit=512MB\nmemory_limit_grace=30\n")
	a, b := c.Processes[0], c.Processes[1]
	if a.MemoryLimit != 1<<30 || a.MemoryLimitGrace != 10*time.Second || b.MemoryLimit != 512<<20 || b.MemoryLimitGrace != 30*time.Second {
		t.Errorf("memory_limit: a %d %v, b %d %v", a.MemoryLimit, a.MemoryLimitGrace, b.MemoryLimit, b.MemoryLimitGrace)
	}
}
