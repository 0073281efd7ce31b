package supervise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/detach"
	"keeper/proctree"
)

// keeper reexec executes the daemon's binary again in its own pid: its
// programs stay its children, and the listening sockets (control and
// [inet_http_server]), the programs' pipes and their notify sockets cross
// the exec as inherited descriptors. The old daemon writes a handover file
// in the state directory naming them, the programs' states and the event
// bus's (handover_events.go); the new one, told by HandoverEnv, adopts them
// instead of listening and spawning anew.

// HandoverEnv names, in a re-executed daemon's environment, the handover
// file it takes over from.
const HandoverEnv = "KEEPER_HANDOVER"

// ReexecSignal asks the daemon to execute its binary again in place (one
// supervisord leaves unused).
const ReexecSignal = syscall.SIGUSR1

// handoverName is the handover file's name in the state directory.
const handoverName = "handover.json"

// handoverLimit caps the handover file a new daemon reads.
const handoverLimit = 4 << 20

// execs counts this process's execs in place (handed over from the
// daemon that executed it); lastExecErr is why the last one failed.
var (
	execs       atomic.Int64
	lastExecErr atomic.Pointer[string]
)

// ErrReexecUnsettled refuses a reexec while a program is between states.
var ErrReexecUnsettled = errors.New("a program is starting, stopping or backing off")

// handover is what a daemon hands to the binary it executes in its place.
type handover struct {
	// Execs counts the execs in place since the daemon started, this one
	// included.
	Execs int
	// Control is the control socket listener's descriptor.
	Control   int
	Processes []handedProcess
	// Verified is the daemon's verified session records, by file: the
	// next daemon trusts them as its own instead of checking every master
	// again, which took most of a reexec's CPU with 200 sessions.
	Verified map[string]detach.Record `json:",omitempty"`
	// MovedSessions is the session masters already moved to the sessions
	// cgroup (pid to start time): they are not moved again.
	MovedSessions map[int]uint64 `json:",omitempty"`
	// Events is the event bus: nil in a handover whose pipes are gone
	// (orphanedHandover).
	Events *handedEvents `json:",omitempty"`
	// Inet is the [inet_http_server] listener, nil for none.
	Inet *handedInet `json:",omitempty"`
	// PtyNotify are the NOTIFY_SOCKETs of pty programs, which are not in
	// Processes: the new daemon reconnects to their masters first
	// (adoptPtyPrograms), then takes these.
	PtyNotify []handedPtyNotify `json:",omitempty"`
}

// handedPtyNotify is a running pty program's NOTIFY_SOCKET.
type handedPtyNotify struct {
	Name string // namespec
	Pid  int
	handedNotify
}

// handedProcess is one program's state across the exec. Descriptors are
// -1 when the program has none.
type handedProcess struct {
	Name       string // namespec
	State      State
	Pid        int
	StartTime  uint64 // the pid's start time (proctree.Identity)
	Laststart  time.Time
	Laststop   time.Time
	ExitStatus int
	Backoff    int
	SpawnErr   string
	Starts     int
	Stdin      int
	Stdout     int
	Stderr     int
	// StdinPending is what sendProcessStdin (or the event bus, for a
	// listener) queued and the old daemon had not written yet.
	StdinPending []byte `json:",omitempty"`
	// Notify is a ready=notify program's NOTIFY_SOCKET, nil for none.
	Notify *handedNotify `json:",omitempty"`
	// StdoutLog and StderrLog are the log files' paths, so AUTO logs keep
	// their names.
	StdoutLog, StderrLog string
}

// handedNotify is a program's NOTIFY_SOCKET across the exec: the socket
// (bound to an address with the daemon's pid, the same after the exec)
// and what the program said on it.
type handedNotify struct {
	Fd         int
	Addr       string
	UID        uint32 // the program's user: the only sender accepted, with root
	Status     string // the last STATUS=
	WatchdogAt time.Time
}

func encodeHandover(h *handover) ([]byte, error) { return json.Marshal(h) }

func decodeHandover(b []byte) (*handover, error) {
	var h handover
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("decode handover: %w", err)
	}
	return &h, nil
}

// readHandover reads the handover file at path with the state directory's
// rules (a plain file of the daemon's user) and removes it.
func readHandover(path string) (*handover, error) {
	b, err := readOwnFile(path, handoverLimit)
	if err != nil {
		return nil, err
	}
	return decodeHandover(b)
}

// inherit clears FD_CLOEXEC on f's descriptor, so it survives the exec,
// and returns it; -1 for no file.
func inherit(f *os.File) (int, error) {
	if f == nil {
		return -1, nil
	}
	return inheritConn(f)
}

// inheritConn clears FD_CLOEXEC on c's descriptor and returns it.
func inheritConn(c syscall.Conn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var ferr error
	if err := raw.Control(func(u uintptr) {
		fd = int(u)
		_, ferr = unix.FcntlInt(u, unix.F_SETFD, 0)
	}); err != nil {
		return -1, err
	}
	return fd, ferr
}

// adoptFile makes an inherited descriptor a file again (non-blocking, so
// reads can be interrupted) and closes it on the next exec.
func adoptFile(fd int, name string) *os.File {
	if fd < 0 {
		return nil
	}
	unix.CloseOnExec(fd)
	_ = unix.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

// reexecCheckLocked says why the daemon cannot hand over now.
func (d *Daemon) reexecCheckLocked() error {
	if d.mood != MoodRunning {
		return errors.New("the daemon is shutting down or restarting")
	}
	if !d.supervising {
		return errors.New("the daemon is still starting; try again")
	}
	for _, p := range d.processesLocked(false) {
		switch {
		case p.state == Starting || p.state == Stopping || p.state == Backoff || p.waitingDeps:
			return fmt.Errorf("%s is %s: %w; try again when it settled", p.namespec(), p.state, ErrReexecUnsettled)
		}
	}
	return nil
}

// quiesce stops the programs' output copiers where they are: what they have
// read is written, what they have not stays in the pipes for the next
// daemon. It stops the writers of their stdin queues too, so what is queued
// and not written can be handed over (handoverLocked). It returns once
// every copier and writer stopped.
func (d *Daemon) quiesce() {
	d.mu.Lock()
	var copiers []*copier
	var stdins []*stdinQueue
	var notifies []*notifySocket
	for _, p := range d.processesLocked(false) {
		copiers = append(copiers, p.copiers...)
		if p.stdin != nil && !p.cfg.Pty {
			stdins = append(stdins, p.stdin)
		}
		if p.notify != nil {
			notifies = append(notifies, p.notify)
		}
	}
	d.mu.Unlock()
	for _, c := range copiers {
		c.pause()
	}
	for _, q := range stdins {
		q.hold()
	}
	for _, ns := range notifies {
		ns.pause()
	}
}

// resume restarts the copiers and writers quiesce stopped (the exec failed).
func (d *Daemon) resume() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.processesLocked(false) {
		for _, c := range p.copiers {
			c.resume()
		}
		if p.stdin != nil && !p.cfg.Pty {
			p.stdin.release()
		}
		if p.notify != nil {
			p.notify.resume(d, p)
		}
	}
}

// handoverLocked describes every program for the next daemon, making the
// descriptors it names inheritable.
func (d *Daemon) handoverLocked(control *os.File) (*handover, error) {
	fd, err := inherit(control)
	if err != nil {
		return nil, fmt.Errorf("hand over control socket: %w", err)
	}
	h := &handover{Execs: int(execs.Load()) + 1, Control: fd, Events: d.events.handOver()}
	for _, p := range d.processesLocked(false) {
		if p.cfg.Pty {
			// Its master holds it, not the daemon: the next daemon
			// reconnects to the master (adoptPtyPrograms).
			if p.pid != 0 && p.notify != nil {
				hn, err := p.handOverNotify()
				if err != nil {
					return nil, err
				}
				h.PtyNotify = append(h.PtyNotify, handedPtyNotify{Name: p.namespec(), Pid: p.pid, handedNotify: *hn})
			}
			continue
		}
		hp := handedProcess{Name: p.namespec(), State: p.state, Pid: p.pid, StartTime: p.main.StartTime,
			Laststart: p.laststart, Laststop: p.laststop, ExitStatus: p.exitStatus, Backoff: p.backoff,
			SpawnErr: p.spawnErr, Starts: p.counts.starts, Stdin: -1, Stdout: -1, Stderr: -1}
		if p.stdout != nil {
			hp.StdoutLog = p.stdout.Path()
		}
		if p.stderr != nil {
			hp.StderrLog = p.stderr.Path()
		}
		if p.pid != 0 {
			if p.stdin != nil {
				if hp.Stdin, err = inherit(p.stdin.f.(*os.File)); err != nil {
					return nil, fmt.Errorf("hand over stdin of %s: %w", p.namespec(), err)
				}
				hp.StdinPending = p.stdin.pending()
			}
			if p.notify != nil {
				if hp.Notify, err = p.handOverNotify(); err != nil {
					return nil, err
				}
			}
			for _, c := range p.copiers {
				if !c.paused {
					continue // the program closed it
				}
				fd, err := inherit(c.r)
				if err != nil {
					return nil, fmt.Errorf("hand over %s of %s: %w", c.channel, p.namespec(), err)
				}
				if c.channel == "stdout" {
					hp.Stdout = fd
				} else {
					hp.Stderr = fd
				}
			}
		}
		h.Processes = append(h.Processes, hp)
	}
	return h, nil
}

// handOverNotify describes p's NOTIFY_SOCKET for the next daemon, making
// its descriptor inheritable.
func (p *process) handOverNotify() (*handedNotify, error) {
	fd, err := inheritConn(p.notify.conn)
	if err != nil {
		return nil, fmt.Errorf("hand over NOTIFY_SOCKET of %s: %w", p.namespec(), err)
	}
	return &handedNotify{Fd: fd, Addr: p.notify.addr, UID: p.notify.uid, Status: p.notifyStatus, WatchdogAt: p.watchdogAt}, nil
}

// handoverPath is where the daemon writes its handover.
func (d *Daemon) handoverPath() string { return filepath.Join(d.stateDir, handoverName) }

// Reexec asks the daemon to execute its binary again in place, once the
// reply is on its way; it refuses while a program is between states.
func (d *Daemon) Reexec() error {
	d.mu.Lock()
	err := d.reexecCheckLocked()
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("reexec: %w", err)
	}
	select {
	case d.reexec <- struct{}{}:
	default: // one is under way
	}
	return nil
}

// inetHandOverWait bounds how long a reexec waits for the requests under
// way on [inet_http_server] before it executes (and cuts them).
const inetHandOverWait = time.Second

// execInPlace hands the daemon over to its binary (re-resolved, so one
// replaced by an install is the new one) in the same pid. It returns only
// when the exec failed, with the daemon running on as before.
func (d *Daemon) execInPlace(control *net.UnixListener, inet *inetServer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("reexec: find own binary: %w", err)
	}
	ctl, err := control.File() // a duplicate: the listener goes on serving
	if err != nil {
		return fmt.Errorf("reexec: hand over control socket: %w", err)
	}
	defer ctl.Close()
	// A copy, taken apart from the other locks: a session that ends in the
	// meantime is found ended by the next daemon as by this one. A listing
	// under way is not waited for: the next daemon verifies afresh.
	var verified map[string]detach.Record
	var moved map[int]uint64
	if d.sessionsMu.TryLock() {
		verified, moved = maps.Clone(d.verified), maps.Clone(d.track.moved)
		d.sessionsMu.Unlock()
	}
	// Unlike the control socket's, [inet_http_server]'s requests under way
	// are answered before the exec (a TCP client does not retry), and the
	// listening socket is kept in inetFile.
	ctx, cancel := context.WithTimeout(context.Background(), inetHandOverWait)
	inetFile, hi, err := inet.handOver(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("reexec: %w", err)
	}
	if inetFile != nil {
		defer inetFile.Close()
		defer inet.takeBack(inetFile, hi) // the exec failed
	}
	d.reaper.hold()
	defer d.reaper.release()
	d.quiesce()
	defer d.resume()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.reexecCheckLocked(); err != nil {
		return fmt.Errorf("reexec: %w", err)
	}
	h, err := d.handoverLocked(ctl)
	if err != nil {
		return fmt.Errorf("reexec: %w", err)
	}
	h.Verified, h.MovedSessions = verified, moved
	if inetFile != nil {
		if hi.Fd, err = inherit(inetFile); err != nil {
			return fmt.Errorf("reexec: hand over [inet_http_server]: %w", err)
		}
		h.Inet = hi
	}
	b, err := encodeHandover(h)
	if err != nil {
		return fmt.Errorf("reexec: %w", err)
	}
	path := d.handoverPath()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("reexec: write %s: %w", path, err)
	}
	d.log.Infof("reexec: executing %s in place (pid %d)", exe, os.Getpid())
	env := setEnv(os.Environ(), HandoverEnv, path)
	err = unix.Exec(exe, os.Args, env)
	// Still here: the old daemon carries on, its descriptors closed on
	// the next exec again.
	os.Remove(path)
	h.closeOnExec()
	err = fmt.Errorf("reexec: exec %s: %w; the daemon carries on", exe, err)
	msg := err.Error()
	lastExecErr.Store(&msg)
	return err
}

// closeOnExec marks the descriptors h names close-on-exec again.
func (h *handover) closeOnExec() {
	fds := []int{h.Control}
	if h.Inet != nil {
		fds = append(fds, h.Inet.Fd)
	}
	for _, hp := range h.Processes {
		fds = append(fds, hp.Stdin, hp.Stdout, hp.Stderr)
		if hp.Notify != nil {
			fds = append(fds, hp.Notify.Fd)
		}
	}
	for _, pn := range h.PtyNotify {
		fds = append(fds, pn.Fd)
	}
	for _, fd := range fds {
		if fd >= 0 {
			unix.CloseOnExec(fd)
		}
	}
}

// ReexecStatus is how many times this daemon was executed in place since
// it started, and why the last attempt failed ("" when it did not).
func ReexecStatus() (count int, lastErr string) {
	if p := lastExecErr.Load(); p != nil {
		lastErr = *p
	}
	return int(execs.Load()), lastErr
}

// adopt takes over the programs a daemon handed over by executing this
// binary: each one still running (same pid and start time) is this
// daemon's child again, with its state, uptime and pipes; one that exited
// during the exec is a zombie the reaper collects and handles as any exit.
func (d *Daemon) adopt() {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.handedOver
	if h == nil {
		d.supervising = true
		return
	}
	if h.Events != nil {
		// Before the listeners' connections are made, which may send
		// what is buffered.
		d.events.takeOver(h.Events, d.log.Warnf)
	}
	var adopted int
	for _, hp := range h.Processes {
		_, p, ok := d.lookupLocked(hp.Name)
		notifyFd := -1
		if hp.Notify != nil {
			notifyFd = hp.Notify.Fd
		}
		files := []*os.File{adoptFile(hp.Stdin, "stdin"), adoptFile(hp.Stdout, "stdout"), adoptFile(hp.Stderr, "stderr"),
			adoptFile(notifyFd, "notify")}
		if !ok || p == nil {
			if hp.Pid != 0 {
				d.log.Warnf("reexec: %s (pid %d) is not in the config any more; left running unsupervised", hp.Name, hp.Pid)
			}
			closeFiles(files)
			continue
		}
		p.state, p.laststart, p.laststop = hp.State, hp.Laststart, hp.Laststop
		p.exitStatus, p.backoff, p.spawnErr, p.counts.starts = hp.ExitStatus, hp.Backoff, hp.SpawnErr, hp.Starts
		if hp.Pid == 0 {
			continue
		}
		p.pid = hp.Pid
		p.main = proctree.Identity{PID: hp.Pid, StartTime: hp.StartTime}
		// A listener's place in the protocol, once its stdout is
		// captured: without a connection (it exited, or its stdout was
		// not handed over) its event goes back to the pool's buffer.
		takeOverListener := func() {
			if pool := d.poolOf(p); pool != nil {
				pool.takeOverListener(p.cfg.Name, h.Events.listener(p.group, p.cfg.Name))
			}
		}
		if id, err := proctree.IdentityOf(hp.Pid); err != nil || id != p.main {
			// Reaped by the old daemon before it handed over: the exit
			// status went with it.
			d.log.Warnf("reexec: %s (pid %d) exited during the handover; its exit status is unknown", hp.Name, hp.Pid)
			closeFiles(files)
			takeOverListener()
			p.finish(p.gen, Exit{Pid: hp.Pid, Status: unknownExit})
			continue
		}
		exits, ok := d.watchAdopted(hp.Pid)
		if !ok {
			closeFiles(files)
			takeOverListener()
			continue
		}
		if files[0] != nil {
			p.stdin = newStdinQueue(files[0])
			if len(hp.StdinPending) > 0 {
				_ = p.stdin.Write(hp.StdinPending)
			}
		}
		(&pipes{stdout: files[1], stderr: files[2]}).capture(p, hp.Pid)
		takeOverListener()
		if files[3] != nil {
			d.adoptNotifyLocked(p, files[3], hp.Notify)
		}
		p.awaitExit(exits)
		if p.state == Running {
			p.watchHealth(p.pid)
			if p.notify != nil {
				p.watchWatchdog(p.pid)
			}
		}
		adopted++
	}
	for _, pn := range h.PtyNotify {
		f := adoptFile(pn.Fd, "notify")
		// Reconnected to its master by adoptPtyPrograms, still running.
		if _, p, ok := d.lookupLocked(pn.Name); ok && p != nil && p.cfg.Pty && p.pid == pn.Pid && p.notify == nil {
			d.adoptNotifyLocked(p, f, &pn.handedNotify)
			if p.state == Running && p.notify != nil {
				p.watchWatchdog(p.pid)
			}
			continue
		}
		f.Close()
	}
	d.log.Infof("reexec: keeper %s took over %d running programs", Version, adopted)
	d.events.dispatch()
	d.supervising = true
	// Taken over: a daemon started after this one's death stops them as
	// leftovers again.
	os.Remove(d.handoverPath())
	// An exit during the exec left a zombie and no SIGCHLD for us.
	go d.reaper.reap()
}

// executedInPlace reports whether this daemon took over from the one that
// executed it (keeper reexec), not from one that died.
func (d *Daemon) executedInPlace() bool { return d.handedOver != nil && d.handedOver.Control >= 0 }

// adoptNotifyLocked makes f, the handed-over NOTIFY_SOCKET of p, p's
// again, with what the program last said on it; the watchdog goes on from
// the last WATCHDOG=1.
func (d *Daemon) adoptNotifyLocked(p *process, f *os.File, hn *handedNotify) {
	ns, err := d.adoptNotifySocket(p, f, hn.Addr, hn.UID)
	if err != nil {
		d.log.Warnf("reexec: %v; its STATUS= and WATCHDOG=1 are not read any more", err)
		return
	}
	p.notify, p.notifyStatus, p.watchdogAt = ns, hn.Status, hn.WatchdogAt
	if p.watchdogAt.IsZero() {
		p.watchdogAt = time.Now()
	}
}

// handedOverInstance reports whether id is a program instance handed over
// by the daemon that executed this one: not a leftover to stop.
func (d *Daemon) handedOverInstance(name string, id proctree.Identity) bool {
	if d.handedOver == nil {
		return false
	}
	for _, hp := range d.handedOver.Processes {
		if hp.Name == name && hp.Pid == id.PID && hp.StartTime == id.StartTime {
			return true
		}
	}
	return false
}

// unknownExit is the wait status of an exit keeper could not collect:
// describeExit words it "unknown termination cause".
const unknownExit = syscall.WaitStatus(0xffff)

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// logPath is the log file h names for a program's channel, "" for none.
func (h *handover) logPath(name, channel string) string {
	if h == nil {
		return ""
	}
	for _, hp := range h.Processes {
		if hp.Name == name {
			if channel == "stdout" {
				return hp.StdoutLog
			}
			return hp.StderrLog
		}
	}
	return ""
}

// handedOverName reports whether program name was running when the daemon
// that executed this one handed it over.
func (d *Daemon) handedOverName(name string) bool {
	if d.handedOver == nil {
		return false
	}
	for _, hp := range d.handedOver.Processes {
		if hp.Name == name && hp.Pid != 0 {
			return true
		}
	}
	return false
}

// orphanedHandover reads a handover left in the state directory by a
// reexec whose new binary died before taking over: its programs were
// re-parented away and its descriptors are gone, so only the states are
// taken; nil when there is none.
func orphanedHandover(stateDir string, log interface{ Warnf(string, ...any) }) *handover {
	path := filepath.Join(stateDir, handoverName)
	if _, err := os.Lstat(path); err != nil {
		return nil
	}
	h, err := readHandover(path)
	if err != nil {
		log.Warnf("reexec: %v; its programs are stopped as leftovers", err)
		os.Remove(path)
		return nil
	}
	h.Control, h.Inet, h.PtyNotify = -1, nil, nil
	h.Events = nil // its listeners' pipes are gone: they are sent nothing more
	for i := range h.Processes {
		hp := &h.Processes[i]
		if hp.Pid != 0 {
			log.Warnf("reexec: re-adopting %s (pid %d) from a daemon that died while executing its new binary; "+
				"its output from now on is lost (the pipes went with that daemon) until it is restarted", hp.Name, hp.Pid)
		}
		hp.Stdin, hp.Stdout, hp.Stderr, hp.StdinPending, hp.Notify = -1, -1, -1, nil, nil
	}
	return h
}

// watchAdopted subscribes to the exit of an adopted pid: through the
// reaper when it is the daemon's child, else through a pidfd, which tells
// that it ended but not how (the exit is reported as unknown).
func (d *Daemon) watchAdopted(pid int) (<-chan Exit, bool) {
	if st, err := proctree.Stat(pid); err == nil && st.PPID == os.Getpid() {
		return d.reaper.Watch(pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		d.log.Warnf("reexec: watch pid %d: %v", pid, err)
		return nil, false
	}
	ch := make(chan Exit, 1)
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		ch <- Exit{Pid: pid, Status: unknownExit}
	}()
	return ch, true
}
