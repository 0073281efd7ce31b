package supervise

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"keeper/supervise/logfile"
)

// fakeClock is a clock whose time moves only when a test advances it;
// timers that come due then run in the test's goroutine, in time order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	fn      func()
	pending bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, fn func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), fn: fn, pending: true}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.pending
	t.pending = false
	return was
}

// pending counts the timers set and not yet run or stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.pending {
			n++
		}
	}
	return n
}

// advance moves the time on by d, running every timer that comes due,
// including timers those timers set.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var due *fakeTimer
		for _, t := range c.timers {
			if t.pending && !t.at.After(end) && (due == nil || t.at.Before(due.at)) {
				due = t
			}
		}
		if due == nil {
			break
		}
		due.pending = false
		c.now = due.at
		c.mu.Unlock()
		due.fn()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// fakeStarter "starts" processes that exit when a test says so, and
// records the signals sent to them.
type fakeStarter struct {
	mu      sync.Mutex
	nextPid int
	fail    error // the next start fails with it
	exits   map[int]chan Exit
	signals []string // "TERM 1001", "KILL -1001"
}

func (s *fakeStarter) start(*process) (int, <-chan Exit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail; err != nil {
		s.fail = nil
		return 0, nil, err
	}
	s.nextPid++
	ch := make(chan Exit, 1)
	s.exits[s.nextPid] = ch
	return s.nextPid, ch, nil
}

func (s *fakeStarter) signal(pid int, sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signals = append(s.signals, fmt.Sprintf("%s %d", signalName(sig), pid))
	return nil
}

func (s *fakeStarter) started() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextPid
}

// machine is one process on a fake clock and starter.
type machine struct {
	t       *testing.T
	p       *process
	clock   *fakeClock
	starter *fakeStarter
}

func newMachine(t *testing.T, cfg ProcessConfig) *machine {
	clock := &fakeClock{now: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	starter := &fakeStarter{nextPid: 1000, exits: map[int]chan Exit{}}
	d := &Daemon{
		mood:     MoodRunning,
		changed:  make(chan struct{}),
		log:      logfile.NewLogger(nil, nil, logfile.LevelCritical),
		stateDir: t.TempDir(),
		stopMode: map[*process]Sessions{},
		clock:    clock,
		starter:  starter,
	}
	cfg.Name, cfg.Group = "prog", "prog"
	cfg.Sessions = SessionsKeep
	return &machine{t: t, p: newProcess(d, &cfg), clock: clock, starter: starter}
}

// locked runs fn under the daemon's lock, as the daemon's callers do.
func (m *machine) locked(fn func()) {
	m.p.d.mu.Lock()
	defer m.p.d.mu.Unlock()
	fn()
}

// exit makes the running "process" end with status and waits until the
// daemon has handled it (every exit changes the state).
func (m *machine) exit(status syscall.WaitStatus) {
	m.t.Helper()
	var pid int
	var changed chan struct{}
	m.locked(func() { pid, changed = m.p.pid, m.p.d.changed })
	if pid == 0 {
		m.t.Fatalf("exit: no process running (state %s)", m.p.state)
	}
	m.starter.exits[pid] <- Exit{Pid: pid, Status: status}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		m.t.Fatalf("exit of pid %d: no state change within 10s", pid)
	}
	// The handler changes the state, then goes on (a BACKOFF sets its
	// timer) under the lock: once the lock is free, it is done.
	m.locked(func() {})
}

func exitCode(code int) syscall.WaitStatus           { return syscall.WaitStatus(code << 8) }
func killedBy(sig syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(sig) }

// step is one thing that happens to a process, and what must hold after.
type step struct {
	do      func(m *machine)
	state   State    // the state after it
	starts  int      // processes started so far; 0: not checked
	signals []string // signals sent so far; nil: not checked
}

func spawn(m *machine) { m.locked(m.p.spawn) }
func stop(m *machine)  { m.locked(func() { m.p.stop() }) }
func advance(d time.Duration) func(*machine) {
	return func(m *machine) { m.clock.advance(d) }
}
func exitWith(code int) func(*machine) {
	return func(m *machine) { m.exit(exitCode(code)) }
}

func TestProcessStateMachine(t *testing.T) {
	ms := time.Millisecond
	base := ProcessConfig{
		Startsecs:    time.Second,
		Startretries: 3,
		Autorestart:  AutorestartUnexpected,
		Exitcodes:    []int{0},
		Stopsignal:   syscall.SIGTERM,
		Stopwait:     10 * time.Second,
	}
	tests := []struct {
		name  string
		cfg   func(*ProcessConfig)
		steps []step
	}{
		{"running after startsecs", nil, []step{
			{do: spawn, state: Starting, starts: 1},
			{do: advance(999 * ms), state: Starting},
			{do: advance(ms), state: Running, starts: 1},
		}},
		{"startsecs=0 runs at once", func(c *ProcessConfig) { c.Startsecs = 0 }, []step{
			{do: spawn, state: Running, starts: 1},
			{do: exitWith(0), state: Exited, starts: 1},
		}},
		{"backoff 1s 2s 3s then fatal", nil, []step{
			{do: spawn, state: Starting},
			{do: exitWith(0), state: Backoff, starts: 1},
			{do: advance(999 * ms), state: Backoff, starts: 1},
			{do: advance(ms), state: Starting, starts: 2},
			{do: exitWith(0), state: Backoff},
			{do: advance(1999 * ms), state: Backoff, starts: 2},
			{do: advance(ms), state: Starting, starts: 3},
			{do: exitWith(1), state: Backoff},
			{do: advance(2999 * ms), state: Backoff, starts: 3},
			{do: advance(ms), state: Starting, starts: 4},
			{do: exitWith(1), state: Fatal, starts: 4},
			{do: advance(time.Minute), state: Fatal, starts: 4},
		}},
		{"startretries=0 fails at once", func(c *ProcessConfig) { c.Startretries = 0 }, []step{
			{do: spawn, state: Starting},
			{do: exitWith(0), state: Fatal, starts: 1},
		}},
		{"running resets the backoff", func(c *ProcessConfig) { c.Startretries = 1 }, []step{
			{do: spawn, state: Starting},
			{do: exitWith(1), state: Backoff},
			{do: advance(time.Second), state: Starting, starts: 2},
			{do: advance(time.Second), state: Running},
			{do: exitWith(1), state: Starting, starts: 3},
			{do: exitWith(1), state: Backoff, starts: 3},
		}},
		{"startretries=-1 never gives up, waits capped by backoff_max", func(c *ProcessConfig) {
			c.Startretries, c.BackoffMax = RetryForever, 3*time.Second
		}, []step{
			{do: spawn, state: Starting},
			{do: exitWith(1), state: Backoff, starts: 1},
			{do: advance(time.Second), state: Starting, starts: 2},
			{do: exitWith(1), state: Backoff},
			{do: advance(2 * time.Second), state: Starting, starts: 3},
			{do: exitWith(1), state: Backoff},
			{do: advance(3 * time.Second), state: Starting, starts: 4},
			{do: exitWith(1), state: Backoff}, // supervisord's FATAL; the wait stays at the 3s cap
			{do: advance(2999 * ms), state: Backoff, starts: 4},
			{do: advance(ms), state: Starting, starts: 5},
			{do: exitWith(1), state: Backoff},
			{do: advance(3 * time.Second), state: Starting, starts: 6},
			{do: advance(time.Second), state: Running}, // a start that stays up resets the wait
			{do: exitWith(1), state: Starting, starts: 7},
			{do: exitWith(1), state: Backoff},
			{do: advance(time.Second), state: Starting, starts: 8},
		}},
		{"spawn error backs off", nil, []step{
			{do: func(m *machine) { m.starter.fail = errors.New("no such file"); spawn(m) }, state: Backoff, starts: 0},
			{do: advance(time.Second), state: Starting, starts: 1},
		}},
		{"expected exit, autorestart=unexpected", nil, []step{
			{do: spawn, state: Starting},
			{do: advance(time.Second), state: Running},
			{do: exitWith(0), state: Exited, starts: 1},
		}},
		{"unexpected exit, autorestart=unexpected", nil, []step{
			{do: spawn, state: Starting},
			{do: advance(time.Second), state: Running},
			{do: exitWith(1), state: Starting, starts: 2},
		}},
		{"exitcodes lists 2", func(c *ProcessConfig) { c.Exitcodes = []int{0, 2} }, []step{
			{do: spawn, state: Starting},
			{do: advance(time.Second), state: Running},
			{do: exitWith(2), state: Exited, starts: 1},
		}},
		{"killed by a signal is unexpected", nil, []step{
			{do: spawn, state: Starting},
			{do: advance(time.Second), state: Running},
			{do: func(m *machine) { m.exit(killedBy(syscall.SIGSEGV)) }, state: Starting, starts: 2},
		}},
		{"autorestart=true restarts an expected exit", func(c *ProcessConfig) { c.Autorestart = AutorestartTrue }, []step{
			{do: spawn, state: Starting},
			{do: advance(time.Second), state: Running},
			{do: exitWith(0), state: Starting, starts: 2},
		}},
		{"autorestart=false keeps an unexpected exit", func(c *ProcessConfig) { c.Autorestart = AutorestartFalse }, []step{
			{do: spawn, state: Starting},
			{do: advance(time.Second), state: Running},
			{do: exitWith(1), state: Exited, starts: 1},
		}},
		{"stop: stopsignal, then SIGKILL after stopwaitsecs", nil, []step{
			{do: spawn, state: Starting},
			{do: advance(time.Second), state: Running},
			{do: stop, state: Stopping, signals: []string{"TERM 1001"}},
			{do: advance(9999 * ms), state: Stopping, signals: []string{"TERM 1001"}},
			{do: advance(ms), state: Stopping, signals: []string{"TERM 1001", "KILL 1001"}},
			{do: func(m *machine) { m.exit(killedBy(syscall.SIGKILL)) }, state: Stopped, starts: 1},
		}},
		{"stop: exit before stopwaitsecs, no SIGKILL", func(c *ProcessConfig) { c.Stopsignal = syscall.SIGINT }, []step{
			{do: spawn, state: Starting},
			{do: advance(time.Second), state: Running},
			{do: stop, state: Stopping, signals: []string{"INT 1001"}},
			{do: func(m *machine) { m.exit(killedBy(syscall.SIGINT)) }, state: Stopped},
			{do: advance(time.Minute), state: Stopped, starts: 1, signals: []string{"INT 1001"}},
		}},
		{"stop: stopasgroup signals the group", func(c *ProcessConfig) { c.Stopasgroup, c.Killasgroup = true, true }, []step{
			{do: spawn, state: Starting},
			{do: stop, state: Stopping, signals: []string{"TERM -1001"}},
			{do: advance(10 * time.Second), state: Stopping, signals: []string{"TERM -1001", "KILL -1001"}},
			{do: func(m *machine) { m.exit(killedBy(syscall.SIGKILL)) }, state: Stopped},
		}},
		{"stop while starting", nil, []step{
			{do: spawn, state: Starting},
			{do: stop, state: Stopping, signals: []string{"TERM 1001"}},
			{do: exitWith(0), state: Stopped, starts: 1},
			{do: advance(time.Minute), state: Stopped, starts: 1},
		}},
		{"stop during backoff", nil, []step{
			{do: spawn, state: Starting},
			{do: exitWith(1), state: Backoff},
			{do: stop, state: Stopped, signals: []string{}},
			{do: advance(time.Minute), state: Stopped, starts: 1, signals: []string{}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Exitcodes = slices.Clone(base.Exitcodes)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			m := newMachine(t, cfg)
			for i, s := range tt.steps {
				s.do(m)
				var state State
				m.locked(func() { state = m.p.state })
				if state != s.state {
					t.Fatalf("step %d: state %s, want %s", i, state, s.state)
				}
				if s.starts != 0 && m.starter.started()-1000 != s.starts {
					t.Fatalf("step %d: %d starts, want %d", i, m.starter.started()-1000, s.starts)
				}
				if s.signals != nil && !slices.Equal(m.starter.signals, s.signals) {
					t.Fatalf("step %d: signals %q, want %q", i, m.starter.signals, s.signals)
				}
			}
		})
	}
}

// TestBackoffDescription: with startretries=-1 status shows the attempt and
// the wait before the next; otherwise supervisord's line is unchanged.
func TestBackoffDescription(t *testing.T) {
	for _, tt := range []struct {
		retries int
		want    string
	}{
		{RetryForever, "Exited too quickly (process log may have details) (attempt 2, next in 2s)"},
		{5, "Exited too quickly (process log may have details)"},
	} {
		m := newMachine(t, ProcessConfig{Startsecs: time.Second, Startretries: tt.retries, Exitcodes: []int{0}, Stopsignal: syscall.SIGTERM})
		spawn(m)
		m.exit(exitCode(1))
		m.clock.advance(time.Second)
		m.exit(exitCode(1))
		var got string
		m.locked(func() { got = m.p.description(m.clock.Now()) })
		if got != tt.want {
			t.Errorf("startretries=%d: description %q, want %q", tt.retries, got, tt.want)
		}
	}
}
