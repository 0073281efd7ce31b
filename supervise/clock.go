package supervise

import (
	"os"
	"time"
)

// clock is the time a process's state machine runs on: the real clock in
// the daemon, a fake one in tests that fires timers when told to.
type clock interface {
	Now() time.Time
	// AfterFunc runs fn in its own goroutine after d, as time.AfterFunc.
	AfterFunc(d time.Duration, fn func()) timer
}

// timer is a pending AfterFunc; Stop reports whether it stopped it
// before it ran.
type timer interface {
	Stop() bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, fn func()) timer { return time.AfterFunc(d, fn) }

// starter starts and signals the processes of programs: the real one
// forks and execs (Daemon.startCmd), a fake one in tests decides when and
// how its "processes" exit.
type starter interface {
	// start spawns p's program and returns its pid and a channel that
	// delivers its exit once.
	start(p *process) (pid int, exits <-chan Exit, err error)
	// signal sends sig to pid, or to the process group -pid.
	signal(pid int, sig os.Signal) error
}

// realStarter starts real processes for its daemon.
type realStarter struct{ d *Daemon }

func (s realStarter) start(p *process) (int, <-chan Exit, error) { return s.d.startCmd(p) }

func (realStarter) signal(pid int, sig os.Signal) error { return signalPid(pid, sig) }
