package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/supervise/logfile"
	"keeper/supervise/xmlrpc"
)

// APIVersion is the XML-RPC API version supervisord 4 reports, which
// supervisorctl checks before anything else.
const APIVersion = "3.0"

// Fault codes of supervisord's XML-RPC interface.
const (
	FaultUnknownMethod        = 1
	FaultIncorrectParameters  = 2
	FaultBadArguments         = 3
	FaultSignatureUnsupported = 4
	FaultShutdownState        = 6
	FaultBadName              = 10
	FaultBadSignal            = 11
	FaultNoFile               = 20
	FaultNotExecutable        = 21
	FaultFailed               = 30
	FaultAbnormalTermination  = 40
	FaultSpawnError           = 50
	FaultAlreadyStarted       = 60
	FaultNotRunning           = 70
	FaultSuccess              = 80
	FaultAlreadyAdded         = 90
	FaultStillRunning         = 91
	FaultCantReread           = 92
)

var faultNames = map[int]string{
	1: "UNKNOWN_METHOD", 2: "INCORRECT_PARAMETERS", 3: "BAD_ARGUMENTS", 4: "SIGNATURE_UNSUPPORTED",
	6: "SHUTDOWN_STATE", 10: "BAD_NAME", 11: "BAD_SIGNAL", 20: "NO_FILE", 21: "NOT_EXECUTABLE",
	30: "FAILED", 40: "ABNORMAL_TERMINATION", 50: "SPAWN_ERROR", 60: "ALREADY_STARTED",
	70: "NOT_RUNNING", 80: "SUCCESS", 90: "ALREADY_ADDED", 91: "STILL_RUNNING", 92: "CANT_REREAD",
}

// fault builds a supervisord fault: its string is the code's name, then
// ": extra" when given.
func fault(code int, extra ...any) *xmlrpc.Fault {
	text, ok := faultNames[code]
	if !ok {
		text = "UNKNOWN"
	}
	if len(extra) > 0 {
		text += ": " + fmt.Sprint(extra...)
	}
	return &xmlrpc.Fault{Code: code, String: text}
}

// rpcMethod is one XML-RPC method: its signature (return type first, for
// system.methodSignature), its help and its body.
type rpcMethod struct {
	signature []string
	help      string
	call      func(ctx context.Context, d *Daemon, args params) (any, error)
	// always runs even while the daemon is shutting down
	anyMood bool
}

// params gives typed access to a call's parameters, failing with
// INCORRECT_PARAMETERS as supervisord's dispatcher does.
type params []any

func (p params) str(i int) (string, error) {
	if i >= len(p) {
		return "", fault(FaultIncorrectParameters)
	}
	switch v := p[i].(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fault(FaultIncorrectParameters)
}

func (p params) integer(i int) (int, error) {
	if i >= len(p) {
		return 0, fault(FaultIncorrectParameters)
	}
	switch v := p[i].(type) {
	case int:
		return v, nil
	case string: // supervisord int()s its offsets
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err == nil {
			return n, nil
		}
	}
	return 0, fault(FaultIncorrectParameters)
}

// flag reads an optional boolean (wait=True by default).
func (p params) flag(i int, def bool) bool {
	if i >= len(p) {
		return def
	}
	switch v := p[i].(type) {
	case bool:
		return v
	case int:
		return v != 0
	}
	return def
}

// Handle answers one XML-RPC call; it is the control socket's handler.
func (d *Daemon) Handle(ctx context.Context, method string, args []any) (any, error) {
	m, ok := d.methods[method]
	if !ok {
		return nil, fault(FaultUnknownMethod)
	}
	defer d.metrics.observe(method, time.Now())
	if !m.anyMood {
		d.mu.Lock()
		mood := d.mood
		d.mu.Unlock()
		if mood < MoodRunning {
			return nil, fault(FaultShutdownState)
		}
	}
	return m.call(ctx, d, params(args))
}

// processInfoLocked returns p as supervisord's getProcessInfo record.
func (d *Daemon) processInfoLocked(p *process, now time.Time) ProcessInfo {
	logPath := func(f *logfile.File) string {
		if f == nil {
			return ""
		}
		return f.Path()
	}
	return ProcessInfo{
		Name:          p.cfg.Name,
		Group:         p.group,
		Start:         unixTime(p.laststart),
		Stop:          unixTime(p.laststop),
		Now:           unixTime(now),
		State:         p.state,
		StateName:     p.state.String(),
		SpawnErr:      p.spawnErr,
		ExitStatus:    p.exitStatus,
		Logfile:       logPath(p.stdout),
		StdoutLogfile: logPath(p.stdout),
		StderrLogfile: logPath(p.stderr),
		PID:           p.pid,
		Description:   p.description(now),
	}
}

func unixTime(t time.Time) int {
	if t.IsZero() {
		return 0
	}
	return int(t.Unix())
}

// result is one entry of a multi-process answer (startAllProcesses...).
func result(p *process, err error) xmlrpc.Struct {
	status, desc := FaultSuccess, "OK"
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		status, desc = f.Code, f.String
	} else if err != nil {
		status, desc = FaultFailed, "FAILED: "+err.Error()
	}
	return xmlrpc.Struct{
		{Name: "name", Value: p.cfg.Name},
		{Name: "group", Value: p.group},
		{Name: "status", Value: status},
		{Name: "description", Value: desc},
	}
}

// targetLocked resolves a namespec to one process, or to a group when the spec
// names a group ("group:*" or a group name): supervisord's
// _getGroupAndProcess.
func (d *Daemon) targetLocked(name string) (*groupState, *process, error) {
	g, p, ok := d.lookupLocked(name)
	if !ok {
		return nil, nil, fault(FaultBadName, name)
	}
	return g, p, nil
}

// startProcess starts one process and, with wait, answers once it is
// RUNNING or failed.
func (d *Daemon) startProcess(ctx context.Context, p *process, name string, wait bool) error {
	pending, err := d.beginStart(p, name)
	if err != nil || !pending || !wait {
		return err
	}
	return d.awaitStart(ctx, p, name)
}

// beginStart is the part of startProcess that answers at once: checks,
// then spawn. pending reports that the process is STARTING, so a waiting
// caller has to wait (with startsecs=0 it is RUNNING already).
func (d *Daemon) beginStart(p *process, name string) (pending bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	env := mergeEnv(d.environ, p.cfg.Environment)
	if _, err := resolveCommand(p.cfg.Argv, lookupEnv(env, "PATH")); err != nil {
		if strings.HasPrefix(err.Error(), "can't find") {
			return false, fault(FaultNoFile, err.Error())
		}
		return false, fault(FaultNotExecutable, err.Error())
	}
	if p.state.running() {
		return false, fault(FaultAlreadyStarted, name)
	}
	if p.state == Unknown {
		return false, fault(FaultFailed, name+" is in an unknown process state")
	}
	d.requestStartLocked(p)
	if p.spawnErr != "" {
		return false, fault(FaultSpawnError, name)
	}
	return p.state != Running, nil
}

// awaitStart waits for a started process to be RUNNING or to fail.
func (d *Daemon) awaitStart(ctx context.Context, p *process, name string) error {
	var err error
	d.waitFor(ctx, 24*time.Hour, func() bool {
		switch {
		case p.waitingDeps:
			return false
		case p.depFailure != "":
			err = fault(FaultSpawnError, name)
		case p.spawnErr != "":
			err = fault(FaultSpawnError, name)
		case p.state != Starting && p.state != Running:
			err = fault(FaultAbnormalTermination, name)
		case p.state == Running:
			err = nil
		default:
			return false
		}
		return true
	})
	return err
}

// stopProcess stops one process and, with wait, answers once it stopped.
func (d *Daemon) stopProcess(ctx context.Context, p *process, name string, wait bool) error {
	d.stopDependents(ctx, []*process{p})
	pending, err := d.beginStop(p, name)
	if err != nil || !pending || !wait {
		return err
	}
	return d.awaitStop(ctx, p)
}

// beginStop sends the stop signal; pending reports that the process has
// not stopped yet (a BACKOFF process stops at once).
func (d *Daemon) beginStop(p *process, name string) (pending bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p.waitingDeps {
		d.stopWaitingLocked(p, "")
		return false, nil
	}
	if !p.state.running() {
		return false, fault(FaultNotRunning, name)
	}
	if msg := p.stop(); msg != "" {
		return false, fault(FaultFailed, msg)
	}
	return !p.state.Stopped(), nil
}

func (d *Daemon) awaitStop(ctx context.Context, p *process) error {
	d.waitFor(ctx, 24*time.Hour, func() bool { return p.state.Stopped() })
	return nil
}

// forEach starts an operation on each process, one after the other in the
// given order (begin), then waits for those still pending concurrently
// (await, when non-nil) and collects supervisord's per-process results in
// supervisord's order: first the results known at once (failures, and
// successes that needed no wait, such as a startsecs=0 start), in process
// order, then the waited-for ones. supervisord lists those in the order
// they finish, which is racy; keeper keeps process order for them.
func forEach(procs []*process, begin func(p *process) (bool, error), await func(p *process) error) []any {
	errs := make([]error, len(procs))
	pending := make([]bool, len(procs))
	for i, p := range procs {
		pending[i], errs[i] = begin(p)
		pending[i] = pending[i] && errs[i] == nil && await != nil
	}
	var wg sync.WaitGroup
	for i, p := range procs {
		if pending[i] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = await(p)
			}()
		}
	}
	wg.Wait()
	out := make([]any, 0, len(procs))
	for _, later := range []bool{false, true} {
		for i, p := range procs {
			if pending[i] == later {
				out = append(out, result(p, errs[i]))
			}
		}
	}
	return out
}

func (d *Daemon) selectLocked(procs []*process, keep func(p *process) bool) []*process {
	var out []*process
	for _, p := range procs {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// rpcSignals are the signal names supervisord's signalProcess takes
// (anything Python's signal module has as SIG*) beyond those of the
// config's parseSignal.
var rpcSignals = map[string]syscall.Signal{
	"CLD": syscall.SIGCHLD, "PWR": syscall.SIGPWR, "STKFLT": syscall.SIGSTKFLT,
	"RTMIN": sigRTMin, "RTMAX": sigRTMax,
}

// The real-time signals as glibc (and so Python) numbers them: the kernel's
// 32 and 33 are kept by the C library's threads.
const (
	sigRTMin syscall.Signal = 34
	sigRTMax syscall.Signal = 64
)

// signalFault reads a signal argument, answering BAD_SIGNAL for a bad one.
// Like supervisord it takes 0 (signal 0 only checks that the process
// exists: supervisord accepts it because Python's SIG_DFL is 0) and the
// real-time signals; keeper takes every one of SIGRTMIN..SIGRTMAX by number
// where supervisord knows only 34 and 64.
func signalFault(s string) (syscall.Signal, error) {
	v := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(v); err == nil {
		if n == 0 || n >= int(sigRTMin) && n <= int(sigRTMax) {
			return syscall.Signal(n), nil
		}
	} else if sig, ok := rpcSignals[strings.TrimPrefix(v, "SIG")]; ok {
		return sig, nil
	}
	sig, err := parseSignal(s)
	if err != nil || unix.SignalName(sig) == "" {
		return 0, fault(FaultBadSignal, s)
	}
	return sig, nil
}

// configInfo is one entry of getAllConfigInfo, in supervisord's member
// order, plus autorestart. active is the running process of that config,
// nil when its group is not in use.
func configInfo(pc *ProcessConfig, g *GroupConfig, inUse bool, active *process) xmlrpc.Struct {
	orNone := func(s string) string {
		if s == "" {
			return "none"
		}
		return s
	}
	logName := func(lc LogConfig, f *logfile.File) string {
		switch lc.Mode {
		case LogAuto:
			// supervisord names an AUTO log when it reads the config and
			// reports that name; keeper names it when the group becomes
			// active, so only an active process has one to report.
			if f != nil {
				return f.Path()
			}
			return "auto"
		case LogNone:
			return "none"
		}
		return lc.Path
	}
	var stdoutLog, stderrLog *logfile.File
	if active != nil && active.cfg.Stdout.Mode == pc.Stdout.Mode && active.cfg.Stderr.Mode == pc.Stderr.Mode {
		stdoutLog, stderrLog = active.stdout, active.stderr
	}
	var uid any = "none"
	if pc.User != "" {
		if a, err := lookupAccount(pc.User); err == nil {
			uid = int(a.uid)
		}
	}
	exitcodes := make([]any, len(pc.Exitcodes))
	for i, c := range pc.Exitcodes {
		exitcodes[i] = c
	}
	// supervisord turns an unset or AUTO serverurl into None, which
	// getAllConfigInfo writes as "none".
	serverURL := pc.ServerURL
	if serverURL == "" || strings.EqualFold(strings.TrimSpace(serverURL), "auto") {
		serverURL = "none"
	}
	return xmlrpc.Struct{
		{Name: "autostart", Value: pc.Autostart},
		{Name: "directory", Value: orNone(pc.Directory)},
		{Name: "uid", Value: uid},
		{Name: "command", Value: pc.Command},
		{Name: "exitcodes", Value: exitcodes},
		{Name: "group", Value: g.Name},
		{Name: "group_prio", Value: g.Priority},
		{Name: "inuse", Value: inUse},
		{Name: "killasgroup", Value: pc.Killasgroup},
		{Name: "name", Value: pc.Name},
		{Name: "process_prio", Value: pc.Priority},
		{Name: "redirect_stderr", Value: pc.RedirectStderr},
		{Name: "startretries", Value: pc.Startretries},
		{Name: "startsecs", Value: int(pc.Startsecs / time.Second)},
		{Name: "stdout_capture_maxbytes", Value: pc.Stdout.CaptureMaxBytes},
		{Name: "stdout_events_enabled", Value: pc.Stdout.Events},
		{Name: "stdout_logfile", Value: logName(pc.Stdout, stdoutLog)},
		{Name: "stdout_logfile_backups", Value: pc.Stdout.Backups},
		{Name: "stdout_logfile_maxbytes", Value: pc.Stdout.MaxBytes},
		{Name: "stdout_syslog", Value: pc.Stdout.Syslog},
		{Name: "stopsignal", Value: int(pc.Stopsignal)},
		{Name: "stopwaitsecs", Value: int(pc.Stopwait / time.Second)},
		{Name: "stderr_capture_maxbytes", Value: pc.Stderr.CaptureMaxBytes},
		{Name: "stderr_events_enabled", Value: pc.Stderr.Events},
		{Name: "stderr_logfile", Value: logName(pc.Stderr, stderrLog)},
		{Name: "stderr_logfile_backups", Value: pc.Stderr.Backups},
		{Name: "stderr_logfile_maxbytes", Value: pc.Stderr.MaxBytes},
		{Name: "stderr_syslog", Value: pc.Stderr.Syslog},
		{Name: "serverurl", Value: serverURL},
		{Name: "autorestart", Value: string(pc.Autorestart)},
	}
}

// Reread reads the config file again and returns the names of the groups
// added, changed and removed compared with the active ones.
func (d *Daemon) Reread() (added, changed, removed []string, err error) {
	cfg, err := LoadConfig(d.cfg.Path)
	if err != nil {
		return nil, nil, nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.read = cfg
	for _, w := range cfg.Warnings {
		d.log.Warnf("%s", w.String())
	}
	seen := map[string]bool{}
	for _, g := range cfg.Groups {
		seen[g.Name] = true
		active, ok := d.groups[g.Name]
		switch {
		case !ok:
			added = append(added, g.Name)
		case !active.cfg.Equal(g):
			changed = append(changed, g.Name)
		}
	}
	for name := range d.groups {
		if !seen[name] {
			removed = append(removed, name)
		}
	}
	sort.Strings(added)
	sort.Strings(changed)
	sort.Strings(removed)
	return added, changed, removed, nil
}

// AddGroup activates a group of the last read config and starts its
// autostart processes.
func (d *Daemon) AddGroup(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var g *GroupConfig
	for _, c := range d.read.Groups {
		if c.Name == name {
			g = c
		}
	}
	if g == nil {
		return fault(FaultBadName, name)
	}
	if _, ok := d.groups[name]; ok {
		return fault(FaultAlreadyAdded, name)
	}
	if err := d.addGroupLocked(g); err != nil {
		return fault(FaultFailed, err.Error())
	}
	d.log.Infof("added process group %s", name)
	d.startAutostartLocked(map[string]bool{name: true})
	return nil
}

// RemoveGroup deactivates a group whose processes are all stopped.
func (d *Daemon) RemoveGroup(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[name]
	if !ok {
		return fault(FaultBadName, name)
	}
	for _, p := range g.procs {
		if !p.state.Stopped() {
			return fault(FaultStillRunning, name)
		}
	}
	for _, p := range g.procs {
		p.stopTimer()
		p.closeLogs()
	}
	delete(d.groups, name)
	d.groupRemovedLocked(name)
	d.log.Infof("removed process group %s", name)
	return nil
}

// mainLogPath is the daemon's own log file, "" when it has none.
func (d *Daemon) mainLogPath() string {
	if d.logFile == nil {
		return ""
	}
	return d.logFile.Path()
}

func readLogFault(err error) error {
	switch {
	case errors.Is(err, logfile.ErrBadArguments):
		return fault(FaultBadArguments)
	default:
		return fault(FaultFailed)
	}
}

func exists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil
}
