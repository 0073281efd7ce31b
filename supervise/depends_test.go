package supervise

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// newChain makes processes named by programs, each depending on the one
// before it, in one daemon on the fake clock and starter.
func newChain(t *testing.T, programs ...string) (*machine, map[string]*process) {
	m := newMachine(t, ProcessConfig{})
	d := m.p.d
	d.groups = map[string]*groupState{}
	procs := map[string]*process{}
	for i, name := range programs {
		cfg := &ProcessConfig{Name: name, Group: name, Program: name, Startsecs: time.Second,
			Startretries: 0, Exitcodes: []int{0}, Stopsignal: syscall.SIGTERM, Stopwait: time.Second, Sessions: SessionsKeep}
		if i > 0 {
			cfg.DependsOn = []string{programs[i-1]}
		}
		p := newProcess(d, cfg)
		d.groups[name] = &groupState{cfg: &GroupConfig{Name: name, Priority: 999 - i}, procs: map[string]*process{name: p}}
		procs[name] = p
	}
	return m, procs
}

func states(m *machine, procs map[string]*process, names ...string) string {
	var out []string
	m.locked(func() {
		for _, n := range names {
			out = append(out, n+"="+procs[n].state.String())
		}
	})
	return strings.Join(out, " ")
}

func TestDependsStartOrder(t *testing.T) {
	m, procs := newChain(t, "a", "b", "c")
	m.locked(func() { m.p.d.requestStartLocked(procs["c"]) })
	for i, want := range []string{
		"a=STARTING b=STOPPED c=STOPPED",
		"a=RUNNING b=STARTING c=STOPPED",
		"a=RUNNING b=RUNNING c=STARTING",
		"a=RUNNING b=RUNNING c=RUNNING",
	} {
		if got := states(m, procs, "a", "b", "c"); got != want {
			t.Fatalf("after %ds: %s, want %s", i, got, want)
		}
		m.clock.advance(time.Second)
	}
	var desc string
	m.locked(func() { desc = procs["c"].description(m.clock.Now()) })
	if strings.Contains(desc, "waiting") {
		t.Errorf("c RUNNING still says %q", desc)
	}
}

func TestDependsFatalDependency(t *testing.T) {
	m, procs := newChain(t, "a", "b", "c")
	m.locked(func() { m.p.d.requestStartLocked(procs["c"]) })
	var desc string
	m.locked(func() { desc = procs["c"].description(m.clock.Now()) })
	if desc != "waiting for b" {
		t.Errorf("c while b waits: %q, want %q", desc, "waiting for b")
	}
	// a exits at once: startretries=0 makes it FATAL, and b and c give up.
	m.p = procs["a"]
	m.exit(exitCode(1))
	if got, want := states(m, procs, "a", "b", "c"), "a=FATAL b=STOPPED c=STOPPED"; got != want {
		t.Fatalf("after a failed: %s, want %s", got, want)
	}
	m.locked(func() { desc = procs["c"].description(m.clock.Now()) })
	if !strings.Contains(desc, "not started: b, which it depends on, is STOPPED (a, which it depends on, is FATAL)") {
		t.Errorf("c's description %q, want the chain of reasons", desc)
	}
	m.clock.advance(time.Minute)
	if got := m.starter.started() - 1000; got != 1 {
		t.Errorf("%d starts, want only a's", got)
	}
}
