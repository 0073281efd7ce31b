package supervise

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/detach"
	"keeper/proctree"
	"keeper/supervise/logfile"
)

// Version is the version keeper reports as supervisord's
// (supervisor.getSupervisorVersion); set by the command at start.
var Version = "0.1.0-dev"

// Daemon supervises the processes of a config. Its lock guards every
// process and group; state changes wake waiters through notifyLocked.
type Daemon struct {
	mu      sync.Mutex
	cfg     *Config // the config the active groups came from
	read    *Config // the config last read by reloadConfig (reread)
	groups  map[string]*groupState
	mood    Mood
	changed chan struct{} // closed and replaced on every state change

	reaper   *Reaper
	log      *logfile.Logger
	logFile  *logfile.File
	environ  []string // the daemon's environment plus [supervisord] environment
	stateDir string   // see StateDir
	// waiters counts processes waiting for their dependencies; releasing
	// guards releaseWaitersLocked against itself (it changes states).
	waiters   int
	releasing bool
	// usage is what one reading of resource usage keeps for the next;
	// procs takes its process snapshots, with the stat files kept open
	// from one to the next (closed when Run returns).
	usage usageCache
	procs proctree.Reader
	// syslogOnce logs syslog being unreachable once.
	syslogOnce sync.Once
	// metrics counts control requests for /metrics.
	metrics rpcMetrics
	// webToken is the web page's form token (web.go); webAttached the
	// sessions open in pages now (web_session.go).
	webToken    string
	webAttached webTerms
	webShared   webShared // the status the open pages share
	// methods is the XML-RPC interface Handle dispatches on.
	methods map[string]*rpcMethod
	// events hands state changes to the event listener pools.
	events *eventBus
	// stopMode overrides, for a stop under way, the program's sessions=.
	stopMode map[*process]Sessions
	// shutdownMode overrides sessions= for every program at shutdown.
	shutdownMode Sessions
	// keepPtyPrograms: the shutdown leaves pty programs running (ptyprog.go).
	keepPtyPrograms bool

	// sessionsMu serializes session listings, so two don't record the
	// same dtach master twice, and guards recordCache (parsed record
	// files by path).
	sessionsMu  sync.Mutex
	recordCache map[string]cachedRecord
	recordDirs  dirListings
	// verified holds the records whose masters passed verifyRecord, by
	// file, as verified: what the daemon lists and signals while the file
	// names the same master, whatever else it says later.
	verified map[string]detach.Record
	// orphanReaps counts the pty programs of ended sessions being killed
	// (see reapOrphanedPty): the daemon does not exit before they are.
	orphanReaps sync.WaitGroup

	stopped chan struct{} // closed when Run returns
	// reexec asks for an exec in place (Reexec); handedOver is what the
	// daemon that executed this one handed over, nil when none did.
	reexec     chan struct{}
	handedOver *handover
	// supervising: Run has taken over what a previous daemon left (adopt).
	supervising bool
	wake        chan struct{} // asks Run to act on a mood change
	// regrouped is closed and replaced when a group is added or removed:
	// the watchers that sleep while nothing needs them (ticks, session
	// events, memory limits) look again, so an idle daemon never wakes.
	regrouped chan struct{}

	clock   clock   // time for the processes' timers
	starter starter // starts and signals the processes
	// ptyMasters holds the pids of the masters of pty programs (ptyprog.go).
	ptyMasters sync.Map
	// stopTree stops what is left of a program instance once its main
	// process has exited (stopInstanceTree); nil leaves it running.
	stopTree func(namespec string, main proctree.Identity, sig syscall.Signal, wait time.Duration)
	track    *tracking // how a program's processes are told apart
}

// groupState is an active process group.
type groupState struct {
	cfg   *GroupConfig
	procs map[string]*process
}

// NewDaemon prepares a daemon for cfg: logs opened, processes created,
// none started. It changes nothing process-wide: the caller (Run) has made
// the process a child subreaper through reaper, raised its limits and
// dropped its privileges, once.
func NewDaemon(cfg *Config, reaper *Reaper, log *logfile.Logger, logFile *logfile.File) (*Daemon, error) {
	return newDaemon(cfg, reaper, log, logFile, nil)
}

// newDaemon is NewDaemon taking over from h, when not nil: AUTO logs keep
// the names h gives them.
func newDaemon(cfg *Config, reaper *Reaper, log *logfile.Logger, logFile *logfile.File, h *handover) (*Daemon, error) {
	d := &Daemon{
		handedOver: h,
		cfg:        cfg,
		read:       cfg,
		groups:     make(map[string]*groupState),
		mood:       MoodRunning,
		changed:    make(chan struct{}),
		reaper:     reaper,
		log:        log,
		logFile:    logFile,
		stopped:    make(chan struct{}),
		wake:       make(chan struct{}, 1),
		regrouped:  make(chan struct{}),
		reexec:     make(chan struct{}, 1),
		methods:    newMethodTable(),
		webToken:   newWebToken(),
	}
	d.clock = realClock{}
	d.starter = realStarter{d}
	d.stopTree = d.stopInstanceTree
	d.track = newTracking(cfg.Server.File)
	d.stateDir = StateDir(cfg)
	if err := checkStateDir(d.stateDir); err != nil {
		return nil, err
	}
	d.stopMode = make(map[*process]Sessions)
	if h != nil {
		d.verified, d.track.moved = h.Verified, h.MovedSessions
	}
	d.events = newEventBus()
	d.environ = mergeEnv(os.Environ(), cfg.Supervisord.Environment)
	if !cfg.Supervisord.Nocleanup && h == nil {
		d.cleanAutoLogs()
	}
	for _, g := range cfg.Groups {
		if err := d.addGroupLocked(g); err != nil {
			d.closeAll()
			return nil, err
		}
	}
	return d, nil
}

// notifyLocked wakes everyone waiting for a state change.
func (d *Daemon) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
	d.releaseWaitersLocked()
}

// waitFor blocks until cond (called under the lock) holds, ctx is done or
// timeout passes; it reports whether cond held.
func (d *Daemon) waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		ok := cond()
		ch := d.changed
		d.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		}
	}
}

func (d *Daemon) addGroupLocked(g *GroupConfig) error {
	gs := &groupState{cfg: g, procs: make(map[string]*process)}
	for _, pc := range g.Processes {
		p := newProcess(d, pc)
		if err := d.openLogs(p); err != nil {
			for _, q := range gs.procs {
				q.closeLogs()
			}
			return err
		}
		gs.procs[pc.Name] = p
	}
	d.groups[g.Name] = gs
	d.groupAddedLocked(g)
	return nil
}

// autoLogPath names an AUTO log as supervisord does:
// NAME-CHANNEL---IDENTIFIER-RANDOM.log in childlogdir.
func (d *Daemon) autoLogPath(name, channel string) string {
	// Unique, not secret: math/rand spares the binary crypto/rand.
	return filepath.Join(d.cfg.Supervisord.Childlogdir,
		fmt.Sprintf("%s-%s---%s-%08x.log", name, channel, d.cfg.Supervisord.Identifier, rand.Uint32()))
}

func (d *Daemon) cleanAutoLogs() {
	pattern := filepath.Join(d.cfg.Supervisord.Childlogdir, "*---"+d.cfg.Supervisord.Identifier+"-*.log*")
	matches, _ := filepath.Glob(pattern)
	for _, m := range matches {
		os.Remove(m)
	}
}

func (d *Daemon) openLogs(p *process) error {
	open := func(lc LogConfig, channel string) (*logfile.File, error) {
		var path string
		switch lc.Mode {
		case LogNone:
			return nil, nil
		case LogAuto:
			path = d.handedOver.logPath(p.namespec(), channel)
			if path == "" {
				path = d.autoLogPath(p.cfg.Name, channel)
			}
		default:
			path = lc.Path
		}
		f, err := logfile.Open(path, lc.MaxBytes, lc.Backups)
		if err != nil {
			return nil, fmt.Errorf("open %s log of [program:%s]: %w", channel, p.cfg.Program, err)
		}
		return f, nil
	}
	var err error
	if p.stdout, err = open(p.cfg.Stdout, "stdout"); err != nil {
		return err
	}
	if !p.cfg.RedirectStderr {
		if p.stderr, err = open(p.cfg.Stderr, "stderr"); err != nil {
			p.closeLogs()
			return err
		}
	}
	return nil
}

func (p *process) closeLogs() {
	if p.stdout != nil {
		p.stdout.Close()
	}
	if p.stderr != nil {
		p.stderr.Close()
	}
}

func (d *Daemon) closeAll() {
	for _, g := range d.groups {
		for _, p := range g.procs {
			p.closeLogs()
		}
	}
}

// processesLocked lists active processes: by group then process priority
// (start order), or lexically by group and name.
func (d *Daemon) processesLocked(lexical bool) []*process {
	groups := make([]*groupState, 0, len(d.groups))
	for _, g := range d.groups {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if !lexical && groups[i].cfg.Priority != groups[j].cfg.Priority {
			return groups[i].cfg.Priority < groups[j].cfg.Priority
		}
		return groups[i].cfg.Name < groups[j].cfg.Name
	})
	var out []*process
	for _, g := range groups {
		out = append(out, g.sorted(lexical)...)
	}
	return out
}

func (g *groupState) sorted(lexical bool) []*process {
	procs := make([]*process, 0, len(g.procs))
	for _, p := range g.procs {
		procs = append(procs, p)
	}
	sort.Slice(procs, func(i, j int) bool {
		if !lexical && procs[i].cfg.Priority != procs[j].cfg.Priority {
			return procs[i].cfg.Priority < procs[j].cfg.Priority
		}
		return procs[i].cfg.Name < procs[j].cfg.Name
	})
	return procs
}

// lookupLocked resolves a namespec: "name", "group:name" or "group:*"
// (process nil then).
func (d *Daemon) lookupLocked(namespec string) (*groupState, *process, bool) {
	groupName, procName, hasColon := strings.Cut(namespec, ":")
	if !hasColon {
		procName = groupName
	}
	g, ok := d.groups[groupName]
	if !ok {
		return nil, nil, false
	}
	if procName == "*" || procName == "" {
		return g, nil, true
	}
	p, ok := g.procs[procName]
	return g, p, ok
}

// startAutostartLocked spawns, in priority order, the processes of groups that
// are set to start by themselves and never started.
func (d *Daemon) startAutostartLocked(groups map[string]bool) {
	for _, p := range d.processesLocked(false) {
		if groups != nil && !groups[p.group] {
			continue
		}
		if p.cfg.Autostart && p.laststart.IsZero() && p.state == Stopped && !p.waitingDeps {
			d.requestStartLocked(p)
		}
	}
}

// processStarted is called under the lock once a process was spawned.
func (d *Daemon) processStarted(p *process, pid int) {
	p.main, _ = proctree.IdentityOf(pid)
	d.recordProgram(p, pid)
}

// processExited is called under the lock after a process's exit was
// handled: its identity record goes, and, when the stop asked for it, its
// sessions are reaped (in the background: reaping waits on processes).
func (d *Daemon) processExited(p *process) {
	if p.pid == 0 { // not already restarted: the record is the new instance's
		d.forgetProgram(p)
	}
	mode, ok := d.stopMode[p]
	delete(d.stopMode, p)
	if !ok {
		mode = p.cfg.Sessions
	}
	// A shutdown reaps (or keeps) sessions itself once everything stopped;
	// a restart always keeps them.
	if p.state == Stopped && mode == SessionsKill && d.mood == MoodRunning {
		name := p.namespec()
		go func() {
			if _, err := d.KillSessions([]string{name}); err != nil {
				d.log.Errorf("kill sessions of %s: %v", name, err)
			}
		}()
	}
}

// stopAll stops every process in reverse priority order, a group at a
// time, waiting for each group to stop before the next one.
func (d *Daemon) stopAll(ctx context.Context) {
	d.mu.Lock()
	procs := d.processesLocked(false)
	withDeps := d.hasDependenciesLocked()
	d.mu.Unlock()
	if withDeps {
		// depends_on wins over priority: dependents stop first.
		d.stopInWaves(ctx, procs)
		return
	}
	// Group processes by group priority, in reverse.
	for i := len(procs) - 1; i >= 0; {
		j := i
		for j >= 0 && procs[j].group == procs[i].group {
			j--
		}
		batch := procs[j+1 : i+1]
		d.mu.Lock()
		for k := len(batch) - 1; k >= 0; k-- {
			if batch[k].state.running() {
				batch[k].stop()
			}
		}
		d.mu.Unlock()
		d.waitFor(ctx, time.Hour, func() bool {
			for _, p := range batch {
				if !p.state.Stopped() {
					return false
				}
			}
			return true
		})
		i = j
	}
}

// setMood changes the daemon's state and tells Run.
func (d *Daemon) setMood(m Mood) {
	d.mu.Lock()
	d.mood = m
	d.notifyLocked()
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Shutdown asks the daemon to stop every process and exit.
func (d *Daemon) Shutdown() { d.setMood(MoodShutdown) }

// Restart asks the daemon to stop every process, read its config again and
// start over (supervisorctl reload, SIGHUP).
func (d *Daemon) Restart() { d.setMood(MoodRestarting) }

// Run starts the autostart processes and supervises until a shutdown or a
// restart is asked for; then it stops every process. It reports whether
// the caller should start over with a freshly read config.
func (d *Daemon) Run(ctx context.Context) (restart bool) {
	defer close(d.stopped)
	defer d.procs.Close()
	// No program runs twice: what a dead daemon left running stops first,
	// but for pty programs, which are taken over.
	d.adoptPtyPrograms()
	d.stopLeftovers()
	d.adopt() // what the daemon that executed this one handed over
	d.stopOrphanedCgroups()
	// After an exec in place the daemon before has listed the sessions:
	// doing it again would only slow the new one's first moments.
	if !d.executedInPlace() {
		if list, err := d.Sessions(nil); err != nil {
			d.log.Warnf("find sessions: %v", err)
		} else if len(list) > 0 {
			d.log.Infof("tracking %d sessions", len(list))
		}
	}
	d.mu.Lock()
	if !d.executedInPlace() { // a reexec is no start (handover_events.go)
		d.publishLocked(supervisorStateEvent(eventSupervisorRunning))
	}
	d.startAutostartLocked(nil)
	d.mu.Unlock()
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	go d.watchMemory(watchCtx)
	go d.runTicks()
	go d.watchSessions()
	for {
		select {
		case <-ctx.Done():
			d.setMood(MoodShutdown)
		case <-d.wake:
		}
		d.mu.Lock()
		mood := d.mood
		d.mu.Unlock()
		if mood > MoodRestarting {
			continue
		}
		d.log.Infof("%s", map[bool]string{true: "restarting", false: "shutting down"}[mood == MoodRestarting])
		d.mu.Lock()
		d.publishLocked(supervisorStateEvent(eventSupervisorStopping))
		d.mu.Unlock()
		if mood == MoodShutdown {
			d.leavePtyPrograms()
		}
		d.stopAll(context.Background())
		if mood == MoodShutdown {
			d.reapAtShutdown()
		}
		if cg := d.track.cgroups(); cg != nil {
			if err := cg.release(); err != nil {
				d.log.Warnf("release cgroups: %v", err)
			}
		}
		d.orphanReaps.Wait()
		d.mu.Lock()
		d.closeAll()
		d.mu.Unlock()
		return mood == MoodRestarting
	}
}

// ReopenLogs reopens every log file (SIGUSR2, for logrotate).
func (d *Daemon) ReopenLogs() {
	d.log.Infof("supervisord logreopen")
	if d.logFile != nil {
		d.logFile.Reopen()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.groups {
		for _, p := range g.procs {
			for _, f := range []*logfile.File{p.stdout, p.stderr} {
				if f != nil {
					if err := f.Reopen(); err != nil {
						d.log.Errorf("reopen %s: %v", f.Path(), err)
					}
				}
			}
		}
	}
}

func (d *Daemon) serverURLFor(cfg *ProcessConfig) string {
	if cfg.ServerURL != "" {
		return cfg.ServerURL
	}
	return "unix://" + d.cfg.Server.File
}

// signalPid sends sig to pid (a negative pid is a process group). It never
// signals pid 0, 1 or -1 (which would mean "everything"), whatever bug
// might ask for it.
func signalPid(pid int, sig os.Signal) error {
	if pid >= -1 && pid <= 1 {
		return fmt.Errorf("refuse to signal pid %d", pid)
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("not a unix signal")
	}
	return syscall.Kill(pid, s)
}

// signalName names sig as supervisord does (TERM, KILL, ...).
func signalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		if name := unixSignalName(s); name != "" {
			return strings.TrimPrefix(name, "SIG")
		}
	}
	return sig.String()
}

// describeExit returns the exit code and supervisord's wording of how a
// process ended ("exit status 3", "terminated by SIGTERM").
func describeExit(ws syscall.WaitStatus) (code int, how string) {
	switch {
	case ws.Exited():
		return ws.ExitStatus(), fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		how = "terminated by " + unixSignalName(ws.Signal())
		if ws.CoreDump() {
			how += " (core dumped)"
		}
		return -1, how
	}
	return -1, "unknown termination cause 0x" + fmt.Sprintf("%04x", int(ws))
}

func unixSignalName(s syscall.Signal) string { return unix.SignalName(s) }
