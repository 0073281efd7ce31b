package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keeper/internal/peer"
)

// TestMemoryLimit: a program growing past memory_limit is restarted within
// grace + one reading, with the figure in the log and status, counted in
// the metrics and told to event listeners; one under its limit is left
// alone.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	python := peer.Need(t, "python3-supervisor")
	recorder, err := filepath.Abs("testdata/events/recorder.py")
	if err != nil {
		t.Fatal(err)
	}
	k := newKeeperd(t, fmt.Sprintf(`
[eventlistener:limits]
command=%[1]s %[2]s @DIR@/limits.txt
events=KEEPER_MEMORY_LIMIT_EXCEEDED

[program:grower]
command=%[1]s @DIR@/grow.py
startsecs=0
memory_limit=60MB
memory_limit_grace=1

[program:modest]
command=%[1]s @DIR@/grow.py 10
startsecs=0
memory_limit=60MB
memory_limit_grace=1
`, python, recorder))
	script := "import sys, time\nmb = int(sys.argv[1]) if len(sys.argv) > 1 else 100\nb = bytearray(mb << 20)\nb[::4096] = b'x' * len(b[::4096])\ntime.sleep(1000)\n"
	if err := os.WriteFile(filepath.Join(k.dir, "grow.py"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	k.start()
	grower := rpcField[int](k.waitState("grower", 5*time.Second, "RUNNING"), "pid")
	modest := rpcField[int](k.waitState("modest", 5*time.Second, "RUNNING"), "pid")
	var desc string
	waitFor(t, "grower restarted for its memory", 20*time.Second, func() bool {
		s := k.info("grower")
		desc = rpcField[string](s, "description")
		return statename(s) == "RUNNING" && rpcField[int](s, "pid") != grower
	})
	if !strings.Contains(desc, "restarted: memory ") || !strings.Contains(desc, "over memory_limit 60.0MB for 1s") {
		t.Errorf("grower's description %q, want the memory restart", desc)
	}
	if log := k.log(); !strings.Contains(log, "grower uses ") || !strings.Contains(log, "over its memory_limit of 60.0MB") {
		t.Errorf("the log does not give the figure:\n%s", log)
	}
	if v, ok := value(scrape(t, k), "keeper_process_restarts_total", map[string]string{"program": "grower", "reason": "memory_limit"}); !ok || v < 1 {
		t.Errorf("keeper_process_restarts_total{grower,memory_limit} = %v, %v; want the restart counted", v, ok)
	}
	var event string
	waitFor(t, "KEEPER_MEMORY_LIMIT_EXCEEDED", 10*time.Second, func() bool {
		event = readFileOrEmpty(filepath.Join(k.dir, "limits.txt"))
		return strings.Contains(event, "KEEPER_MEMORY_LIMIT_EXCEEDED")
	})
	if !strings.Contains(event, "processname=grower") || !strings.Contains(event, "over memory_limit 60.0MB for 1s") {
		t.Errorf("the event lacks the program or the figure:\n%s", event)
	}
	if strings.Contains(event, "processname=modest") {
		t.Errorf("an event for modest, under its limit:\n%s", event)
	}
	if pid := rpcField[int](k.info("modest"), "pid"); pid != modest {
		t.Errorf("modest (10 MB of its 60 MB) was restarted: pid %d, was %d", pid, modest)
	}
}
