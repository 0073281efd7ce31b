package supervise

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"keeper/proctree"
)

// treeStopper stands for stopInstanceTree: each call is announced on
// called and returns when the test sends on release.
type treeStopper struct {
	called  chan string
	release chan struct{}
}

func newTreeStopper(m *machine) *treeStopper {
	ts := &treeStopper{called: make(chan string, 1), release: make(chan struct{})}
	m.p.d.stopTree = func(namespec string, _ proctree.Identity, sig syscall.Signal, wait time.Duration) {
		ts.called <- namespec + " " + signalName(sig) + " " + wait.String()
		<-ts.release
	}
	return ts
}

// exitNoWait delivers the running process's exit without waiting for the
// state to change.
func (m *machine) exitNoWait(status syscall.WaitStatus) {
	m.t.Helper()
	var pid int
	m.locked(func() { pid = m.p.pid })
	m.starter.exits[pid] <- Exit{Pid: pid, Status: status}
}

func (ts *treeStopper) waitCalled(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-ts.called:
		if got != want {
			t.Fatalf("rest of the tree stopped with %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rest of the tree was not stopped after the main process exited")
	}
}

func (m *machine) waitState(want State) {
	m.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var s State
		m.locked(func() { s = m.p.state })
		if s == want {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("state %s, want %s", s, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func (m *machine) state() State {
	var s State
	m.locked(func() { s = m.p.state })
	return s
}

func TestStopWaitsForTheRestOfTheTree(t *testing.T) {
	m := newMachine(t, ProcessConfig{Startsecs: time.Second, Startretries: 3, Autorestart: AutorestartTrue,
		Exitcodes: []int{0}, Stopsignal: syscall.SIGINT, Stopwait: 3 * time.Second, Leftovers: LeftoversStop})
	ts := newTreeStopper(m)
	spawn(m)
	m.clock.advance(time.Second)
	stop(m)
	m.exitNoWait(killedBy(syscall.SIGINT))
	ts.waitCalled(t, "prog INT 3s")
	// The main process is reaped: its stopwaitsecs passing sends no
	// SIGKILL to a pid that may be reused, and the state stays STOPPING.
	m.clock.advance(time.Minute)
	if s := m.state(); s != Stopping {
		t.Fatalf("state %s while the rest of the tree is stopped, want STOPPING", s)
	}
	m.locked(func() { m.p.signal(syscall.SIGHUP); m.p.stop() })
	if want := []string{"INT 1001"}; !slices.Equal(m.starter.signals, want) {
		t.Fatalf("signals %q, want %q", m.starter.signals, want)
	}
	ts.release <- struct{}{}
	m.waitState(Stopped)
	if n := m.starter.started() - 1000; n != 1 {
		t.Fatalf("%d starts, want 1", n)
	}
}

func TestRestartWaitsForTheRestOfTheTree(t *testing.T) {
	m := newMachine(t, ProcessConfig{Startsecs: time.Second, Startretries: 3, Autorestart: AutorestartTrue,
		Exitcodes: []int{0}, Stopsignal: syscall.SIGTERM, Stopwait: 10 * time.Second, Leftovers: LeftoversStop})
	ts := newTreeStopper(m)
	spawn(m)
	m.clock.advance(time.Second)
	m.exitNoWait(killedBy(syscall.SIGSEGV))
	ts.waitCalled(t, "prog TERM 10s")
	if n := m.starter.started() - 1000; n != 1 || m.state() != Running {
		t.Fatalf("%d starts, state %s while the old tree is stopped; want 1, RUNNING", n, m.state())
	}
	ts.release <- struct{}{}
	m.waitState(Starting)
	if n := m.starter.started() - 1000; n != 2 {
		t.Fatalf("%d starts after the old tree is gone, want 2", n)
	}
}

func TestLeftoversKeep(t *testing.T) {
	m := newMachine(t, ProcessConfig{Startsecs: time.Second, Startretries: 3, Autorestart: AutorestartFalse,
		Exitcodes: []int{0}, Stopsignal: syscall.SIGTERM, Stopwait: 10 * time.Second, Leftovers: LeftoversKeep})
	ts := newTreeStopper(m)
	spawn(m)
	m.clock.advance(time.Second)
	stop(m)
	m.exit(killedBy(syscall.SIGTERM))
	if s := m.state(); s != Stopped {
		t.Fatalf("state %s, want STOPPED", s)
	}
	select {
	case got := <-ts.called:
		t.Fatalf("leftovers=keep stopped the rest of the tree (%s)", got)
	default:
	}
}
