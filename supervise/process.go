package supervise

import (
	"fmt"
	"os"
	"strings"
	"time"

	"keeper/proctree"
	"keeper/supervise/logfile"
)

// process is one supervised process and its state machine, supervisord's
// Subprocess. Every field is guarded by the daemon's lock; transitions
// happen the moment their cause happens (an exit, a timer), never on a tick.
type process struct {
	d     *Daemon
	cfg   *ProcessConfig
	group string

	state      State
	pid        int
	laststart  time.Time
	laststop   time.Time
	spawnErr   string
	exitStatus int
	backoff    int
	retryAt    time.Time // when BACKOFF starts the next attempt
	// waitingDeps: a start waits for programs of depends_on to be RUNNING;
	// depFailure says why the last such start was given up.
	waitingDeps bool
	depFailure  string
	// readyFailed: the ready check timed out and the process was killed.
	readyFailed bool
	// restartAfterStop: the stop under way is a restart (failed health
	// checks, memory over memory_limit); restartNote says why in status.
	restartAfterStop bool
	restartNote      string
	// overMemorySince is when the tree went over memory_limit, zero when under.
	overMemorySince time.Time
	// notify is the NOTIFY_SOCKET of a ready=notify process, and
	// notifyStatus the last STATUS= it sent.
	notify       *notifySocket
	notifyStatus string
	// watchdogAt is when a watchdog_sec process last sent WATCHDOG=1.
	watchdogAt time.Time
	killing    bool
	// main is the identity of the running instance's main process, and
	// reaped says it has exited while the rest of its tree is stopped:
	// its pid may be reused and is never signalled again.
	main   proctree.Identity
	reaped bool
	// exitEvent is the exit finish is handling, for the events it causes.
	exitEvent struct {
		pid      int
		expected bool
	}
	// gen counts spawns and state changes that make pending timers and
	// exits stale: a timer or exit of an older generation does nothing.
	gen   int
	timer timer

	// copiers copy the running instance's output into its logs.
	copiers        []*copier
	stdin          *stdinQueue
	stdout, stderr *logfile.File

	// counts are the process's counters for /metrics.
	counts processCounts
}

func newProcess(d *Daemon, cfg *ProcessConfig) *process {
	return &process{d: d, cfg: cfg, group: cfg.Group}
}

func (p *process) namespec() string { return p.cfg.Namespec() }

// changeState moves to state s and wakes everyone waiting on a change.
// Entering BACKOFF counts a failed start and schedules the next attempt,
// or gives up (FATAL) after startretries.
func (p *process) changeState(s State) {
	if s == p.state {
		return
	}
	from := p.state
	p.state = s
	if s == Backoff {
		p.backoff++
		p.counts.backoffs++
	}
	p.d.processStateChanged(p, from)
	p.d.notifyLocked()
	if s != Backoff {
		return
	}
	if p.cfg.Startretries != RetryForever && p.backoff > p.cfg.Startretries {
		p.giveUp()
		return
	}
	delay := p.backoffDelay()
	p.retryAt = p.d.clock.Now().Add(delay)
	p.after(delay, func() {
		if p.state == Backoff && p.d.mood > MoodRestarting {
			p.spawn()
		}
	})
}

// backoffDelay is the wait before the next start attempt: supervisord's,
// one second more per failed attempt, capped by backoff_max.
func (p *process) backoffDelay() time.Duration {
	d := time.Duration(p.backoff) * time.Second
	if p.cfg.BackoffMax > 0 && d > p.cfg.BackoffMax {
		d = p.cfg.BackoffMax
	}
	return d
}

func (p *process) giveUp() {
	p.backoff = 0
	p.stopTimer()
	from := p.state
	p.state = Fatal
	p.counts.fatals++
	p.d.processStateChanged(p, from)
	p.d.notifyLocked()
	p.d.log.Infof("gave up: %s entered FATAL state, too many start retries too quickly", p.cfg.Name)
}

// after runs fn under the daemon's lock after delay, unless the process
// changed generation meanwhile. One timer per process is pending at most.
func (p *process) after(delay time.Duration, fn func()) {
	p.stopTimer()
	gen := p.gen
	p.timer = p.d.clock.AfterFunc(delay, func() {
		p.d.mu.Lock()
		defer p.d.mu.Unlock()
		if p.gen == gen {
			fn()
		}
	})
}

func (p *process) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.gen++
}

// spawn starts the process: STOPPED/EXITED/FATAL/BACKOFF -> STARTING, or
// -> BACKOFF with spawnErr set when it cannot be started.
func (p *process) spawn() {
	if p.pid != 0 {
		p.d.log.Warnf("process '%s' already running", p.cfg.Name)
		return
	}
	p.stopTimer()
	p.killing = false
	p.readyFailed = false
	p.notifyStatus = ""
	p.spawnErr = ""
	p.exitStatus = 0
	p.laststart = p.d.clock.Now()
	p.changeState(Starting)

	pid, exits, err := p.d.starter.start(p)
	if err != nil {
		p.recordSpawnErr(err.Error())
		p.changeState(Backoff)
		return
	}
	p.pid = pid
	p.reaped = false
	p.counts.starts++
	p.d.log.Infof("spawned: '%s' with pid %d", p.cfg.Name, pid)
	p.awaitExit(exits)
	if p.cfg.Ready.Kind != "" {
		p.awaitReady(pid)
		return
	}
	if p.cfg.Startsecs <= 0 {
		p.toRunning()
		return
	}
	p.after(p.cfg.Startsecs, func() {
		if p.state == Starting {
			p.toRunning()
		}
	})
}

// awaitExit handles the exit of the instance of this generation when it
// comes.
func (p *process) awaitExit(exits <-chan Exit) {
	gen := p.gen
	go func() {
		exit := <-exits
		p.stopRest(exit)
		p.d.mu.Lock()
		defer p.d.mu.Unlock()
		p.finish(gen, exit)
	}()
}

func (p *process) toRunning() {
	p.backoff = 0
	p.changeState(Running)
	p.watchHealth(p.pid)
	p.d.log.Infof("success: %s entered RUNNING state, process has stayed up for > than %s seconds (startsecs)",
		p.cfg.Name, formatSeconds(p.cfg.Startsecs))
}

func (p *process) recordSpawnErr(msg string) {
	p.spawnErr = msg
	p.d.log.Infof("spawnerr: %s", msg)
}

// finish handles the exit of the process started in generation gen.
func (p *process) finish(gen int, exit Exit) {
	if p.pid != exit.Pid {
		return
	}
	p.closePipes()
	now := p.d.clock.Now()
	p.laststop = now
	code, how := describeExit(exit.Status)
	p.counts.exit(exit.Status)
	expected := contains(p.cfg.Exitcodes, code)
	tooQuickly := now.Sub(p.laststart) < p.cfg.Startsecs
	p.pid = 0
	p.reaped = false
	p.exitEvent.pid, p.exitEvent.expected = exit.Pid, expected
	defer func() { p.exitEvent.pid, p.exitEvent.expected = 0, false }()
	p.stopTimer()
	switch {
	case p.killing:
		p.killing = false
		p.exitStatus = code
		p.changeState(Stopped)
		if expected {
			p.d.log.Infof("stopped: %s (%s)", p.cfg.Name, how)
		} else {
			p.d.log.Warnf("stopped: %s (%s)", p.cfg.Name, how)
		}
		if p.restartAfterStop {
			p.restartAfterStop = false
			if p.d.mood == MoodRunning {
				p.spawn()
			}
		}
	case p.readyFailed:
		p.readyFailed = false
		p.exitStatus = 0
		p.spawnErr = fmt.Sprintf("not ready within %ss (ready = %s)", formatSeconds(p.cfg.ReadyTimeout), p.cfg.Ready)
		p.changeState(Backoff)
	case p.state == Starting && (tooQuickly || p.cfg.Ready.Kind != ""):
		// Exited before startsecs, or before its ready check passed.
		p.exitStatus = 0
		p.spawnErr = "Exited too quickly (process log may have details)"
		p.d.log.Warnf("exited: %s (%s; not expected)", p.cfg.Name, how)
		p.changeState(Backoff)
	default:
		p.backoff = 0
		p.exitStatus = code
		if p.state == Starting {
			p.changeState(Running)
		}
		if expected {
			p.d.log.Infof("exited: %s (%s; expected)", p.cfg.Name, how)
		} else {
			p.spawnErr = fmt.Sprintf("Bad exit code %d", code)
			p.d.log.Warnf("exited: %s (%s; not expected)", p.cfg.Name, how)
		}
		p.changeState(Exited)
		p.maybeRestart(expected)
	}
	p.d.processExited(p)
}

// maybeRestart applies autorestart to a process that just EXITED.
func (p *process) maybeRestart(expected bool) {
	if p.d.mood <= MoodRestarting {
		return
	}
	switch p.cfg.Autorestart {
	case AutorestartTrue:
		p.spawn()
	case AutorestartUnexpected:
		if !expected {
			p.spawn()
		}
	}
}

// restart stops the process and starts it again once it stopped, saying
// why in the log and at the end of its status line; the event, keeper's
// own, tells listeners first.
func (p *process) restart(why, event string) {
	p.restartNote = "restarted: " + why
	p.d.log.Warnf("restarting %s: %s", p.cfg.Name, why)
	p.d.publishLocked(restartEvent(event, p, why))
	if p.counts.restarts == nil {
		p.counts.restarts = map[string]int{}
	}
	p.counts.restarts[event]++
	p.restartAfterStop = true
	p.stop()
}

// stop is an administrative stop: stopsignal now, SIGKILL after stopwait.
// It returns an error message when there is nothing to stop.
func (p *process) stop() string {
	return p.kill(p.cfg.Stopsignal)
}

// kill signals the process intending it to exit, as supervisord's kill.
func (p *process) kill(sig os.Signal) string {
	if p.state == Backoff {
		p.stopTimer()
		p.changeState(Stopped)
		return ""
	}
	if p.pid == 0 {
		return fmt.Sprintf("attempted to kill %s with sig %s but it wasn't running", p.cfg.Name, signalName(sig))
	}
	asGroup := p.cfg.Stopasgroup
	if p.state == Stopping {
		asGroup = p.cfg.Killasgroup
	}
	p.killing = true
	p.changeState(Stopping)
	if p.reaped {
		return "" // the main process is gone; its tree is being stopped
	}
	target := p.pid
	if asGroup {
		target = -p.pid
	}
	p.d.log.Debugf("killing %s (pid %d) with signal %s", p.cfg.Name, p.pid, signalName(sig))
	if err := p.d.starter.signal(target, sig); err != nil {
		p.d.log.Debugf("unable to signal %s (pid %d), it probably just exited on its own: %v", p.cfg.Name, p.pid, err)
	}
	p.after(p.cfg.Stopwait, func() {
		if p.state == Stopping && p.pid != 0 && !p.reaped {
			p.d.log.Warnf("killing '%s' (%d) with SIGKILL", p.cfg.Name, p.pid)
			p.kill(sigKill)
		}
	})
	return ""
}

// signal sends sig without intending the process to exit.
func (p *process) signal(sig os.Signal) string {
	if p.pid == 0 {
		return fmt.Sprintf("attempted to send %s sig %s but it wasn't running", p.cfg.Name, signalName(sig))
	}
	if p.reaped {
		return ""
	}
	p.d.log.Debugf("sending %s (pid %d) sig %s", p.cfg.Name, p.pid, signalName(sig))
	_ = p.d.starter.signal(p.pid, sig)
	return ""
}

func (p *process) closePipes() {
	p.d.listenerExitedLocked(p)
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
	if p.notify != nil {
		p.notify.close()
		p.notify = nil
	}
}

// description is the status line supervisorctl prints for the process.
func (p *process) description(now time.Time) string {
	switch p.state {
	case Running:
		up := now.Truncate(time.Second).Sub(p.laststart.Truncate(time.Second))
		if up < 0 {
			up = 0
		}
		desc := fmt.Sprintf("pid %d, uptime %s", p.pid, formatUptime(up))
		if p.notifyStatus != "" {
			desc += ", " + p.notifyStatus
		}
		if p.restartNote != "" {
			desc += ", " + p.restartNote
		}
		return desc
	case Fatal, Backoff:
		why := p.spawnErr
		if why == "" {
			why = fmt.Sprintf("unknown error (try \"tail %s\")", p.cfg.Name)
		}
		if p.state == Backoff && p.cfg.Startretries == RetryForever {
			// keeper's own: supervisord's lines stay as they are without it.
			next := max(p.retryAt.Sub(now), 0).Round(time.Second)
			why += fmt.Sprintf(" (attempt %d, next in %ss)", p.backoff, formatSeconds(next))
		}
		return why
	case Stopped, Exited:
		if p.waitingDeps {
			return "waiting for " + strings.Join(p.cfg.DependsOn, ", ")
		}
		if p.depFailure != "" {
			return "not started: " + p.depFailure
		}
		if p.laststart.IsZero() {
			return "Not started"
		}
		return p.laststop.Local().Format("Jan 02 03:04 PM")
	}
	return ""
}

// formatUptime writes a duration as Python's str(timedelta) does:
// "0:00:05", "1 day, 2:03:04".
func formatUptime(d time.Duration) string {
	secs := int64(d / time.Second)
	days := secs / 86400
	secs %= 86400
	hms := fmt.Sprintf("%d:%02d:%02d", secs/3600, secs%3600/60, secs%60)
	switch days {
	case 0:
		return hms
	case 1:
		return "1 day, " + hms
	}
	return fmt.Sprintf("%d days, %s", days, hms)
}

// formatSeconds writes a duration in seconds as supervisord's messages do.
func formatSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprint(int64(d / time.Second))
	}
	return fmt.Sprint(d.Seconds())
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
