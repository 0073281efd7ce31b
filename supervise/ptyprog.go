package supervise

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/detach"
	"keeper/proctree"
)

// A pty program (pty = true) runs on a terminal held by a keeper session
// master of its own, a held master (see detach.MsgLog): the daemon starts
// the master, which starts the program, and follows it as the master's log
// client. The program is what the daemon signals and shows; its output
// (stdout and stderr merged by the terminal) goes to the stdout log, and
// its exit status comes from the master, which keeps it until the daemon
// acknowledged it.

// ptySocketName is the socket's name in a pty program's directory.
const ptySocketName = "master"

// ptyDir is the directory of pty program namespec's master socket: its
// own, so a master that runs as the program's user can create it.
func (d *Daemon) ptyDir(namespec string) string {
	return filepath.Join(d.stateDir, "pty", namespec)
}

// PtySocket is the socket of pty program namespec's master (attach to it
// as to a session's).
func (d *Daemon) PtySocket(namespec string) string {
	return filepath.Join(d.ptyDir(namespec), ptySocketName)
}

// terminalSocket is the socket of pty program name's master, "" for a
// program that is not on a terminal of its own.
func (d *Daemon) terminalSocket(name string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, p, ok := d.lookupLocked(name)
	if !ok || p == nil {
		return "", fault(FaultBadName, name)
	}
	if !p.cfg.Pty {
		return "", nil
	}
	return d.PtySocket(p.namespec()), nil
}

// startPty starts p's program, prepared as cmd, under a held master and
// returns the program's pid and a channel for its exit.
func (d *Daemon) startPty(p *process, cmd *exec.Cmd) (int, <-chan Exit, error) {
	name := p.namespec()
	dir := d.ptyDir(name)
	// The state directory and pty/ must be traversable by the users
	// programs run as; each program's own directory is theirs.
	for _, parent := range []string{d.stateDir, filepath.Dir(dir)} {
		if err := os.MkdirAll(parent, 0o711); err == nil {
			_ = os.Chmod(parent, 0o711)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, nil, fmt.Errorf("create pty directory %s: %v", dir, err)
	}
	if cred := cmd.SysProcAttr.Credential; cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return 0, nil, fmt.Errorf("give pty directory %s to %s: %v", dir, p.cfg.User, err)
		}
	}
	argv := append([]string{cmd.Path}, cmd.Args[1:]...)
	if cmd.Path == "/proc/self/exe" {
		// The umask wrapper is keeper's: the master's binary may not be.
		exe, err := os.Executable()
		if err != nil {
			return 0, nil, fmt.Errorf("find keeper's binary for umask: %v", err)
		}
		argv[0] = exe
	}
	opts := detach.MasterOptions{Socket: filepath.Join(dir, ptySocketName), Argv: argv, Log: p.cfg.SessionLog}
	h, err := detach.PrepareHeldMaster(opts, cmd.Env, cmd.Dir)
	if err != nil {
		return 0, nil, err
	}
	h.Cmd.SysProcAttr.Credential = cmd.SysProcAttr.Credential

	masterExits, err := d.reaper.Start(h.Cmd)
	if err == nil {
		// Before anything can fail: a daemon killed from here on leaves a
		// master the next one finds.
		d.recordPtyMaster(name, h.Cmd.Process.Pid, p.laststart)
	}
	if startErr := h.Started(err == nil); err == nil {
		err = startErr
	}
	if err != nil {
		d.forgetPtyMaster(name)
		if masterExits != nil {
			_ = h.Cmd.Process.Kill()
			<-masterExits
		}
		return 0, nil, fmt.Errorf("start master of %s: %v", name, err)
	}
	link, err := dialPty(opts.Socket)
	if err != nil {
		d.forgetPtyMaster(name)
		_ = h.Cmd.Process.Kill()
		<-masterExits
		return 0, nil, err
	}
	master := h.Cmd.Process.Pid
	_ = h.Cmd.Process.Release()
	return link.pid, d.followPtyProgram(p, master, link, masterExits), nil
}

// ptyLink is the daemon's connection to a pty program's master, as its log
// client.
type ptyLink struct {
	conn   *os.File
	pid    int    // the program's
	offset uint64 // the output received, counted from the program's first byte
	mu     sync.Mutex
	left   atomic.Bool // the daemon let go of the program for the next one
}

func dialPty(socket string) (*ptyLink, error) {
	conn, pid, offset, err := detach.DialLog(socket)
	if err != nil {
		return nil, err
	}
	return &ptyLink{conn: conn, pid: pid, offset: offset}, nil
}

// send writes packets, whole: keys and acknowledgements come from
// different goroutines.
func (l *ptyLink) send(b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.conn.Write(b)
	return err
}

// Write types a pty program's stdin (sendProcessStdin) on its terminal.
func (l *ptyLink) Write(b []byte) (int, error) {
	if err := l.send(detach.AppendPush(nil, b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close leaves the connection, which followPty owns, open: it is the
// stdin queue's.
func (l *ptyLink) Close() error { return nil }

// followPtyProgram makes p's instance the program under master, whose log
// client link is, and returns the channel of its exit.
func (d *Daemon) followPtyProgram(p *process, master int, link *ptyLink, masterExits <-chan Exit) <-chan Exit {
	d.ptyMasters.Store(master, true)
	p.main, _ = proctree.IdentityOf(link.pid)
	p.stdin = newStdinQueue(link)
	exits := make(chan Exit, 1)
	out := d.outputWriter(p, link.pid, "stdout", p.logWriter(p.stdout, p.cfg.Stdout), p.cfg.Stdout)
	go d.followPty(p.namespec(), link, out, d.masterGone(masterExits), exits)
	return exits
}

// isPtyMaster reports whether pid is the master of a pty program: its
// program's mark is in its environment, yet it is never part of the
// program's tree.
func (d *Daemon) isPtyMaster(pid int) bool {
	_, ok := d.ptyMasters.Load(pid)
	return ok
}

// masterGone passes on a master's exit, once it is no longer one.
func (d *Daemon) masterGone(exits <-chan Exit) <-chan Exit {
	out := make(chan Exit, 1)
	go func() {
		e := <-exits
		d.ptyMasters.Delete(e.Pid)
		out <- e
	}()
	return out
}

// followPty copies a pty program's output to out until its master reports
// its exit, which goes to exits and is acknowledged. A master that ends
// without reporting (killed) reports its own status for the program.
// Output is acknowledged once written to the log, so what a daemon killed
// meanwhile did not log comes again to the next.
func (d *Daemon) followPty(name string, link *ptyLink, out io.Writer, masterExits <-chan Exit, exits chan<- Exit) {
	defer link.conn.Close()
	pid := link.pid
	for {
		f, err := detach.ReadLogFrame(link.conn)
		if err != nil && link.left.Load() {
			return // the next daemon's now
		}
		if err != nil {
			m := <-masterExits
			d.forgetPtyMaster(name)
			d.log.Warnf("the master of %s (pid %d) ended without reporting its program's exit: %v", name, m.Pid, err)
			exits <- Exit{Pid: pid, Status: m.Status}
			return
		}
		switch f.Kind {
		case detach.FrameOutput:
			_, _ = out.Write(f.Data)
			link.offset += uint64(len(f.Data))
			_ = link.send(detach.OutputAck(link.offset))
		case detach.FrameExit:
			d.forgetPtyMaster(name)
			exits <- Exit{Pid: pid, Status: syscall.WaitStatus(f.Uint32())}
			_ = link.send(detach.ExitAck())
			go func() { <-masterExits }() // reaped; nothing more to learn
			return
		}
	}
}

// ptyMasterRecord is the record of pty program namespec's master, "PID
// STARTTIME STARTED": the master's identity and when the daemon started
// the program (unix nanoseconds, so an adopting daemon shows the uptime
// the first one did, not one rounded from the process table); in pty/,
// which only the daemon writes (the program's own directory is its
// user's).
func (d *Daemon) ptyMasterRecord(namespec string) string {
	return filepath.Join(d.stateDir, "pty", namespec+".master")
}

func (d *Daemon) recordPtyMaster(namespec string, master int, started time.Time) {
	id, err := proctree.IdentityOf(master)
	if err != nil {
		return
	}
	path := d.ptyMasterRecord(namespec)
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d %d %d\n", id.PID, id.StartTime, started.UnixNano())), 0o600); err != nil {
		d.log.Warnf("record the master of %s: %v", namespec, err)
	}
}

func (d *Daemon) forgetPtyMaster(namespec string) { os.Remove(d.ptyMasterRecord(namespec)) }

// adoptPtyPrograms takes over the pty programs a previous daemon left
// running (a shutdown that kept them, a kill -9, a crash), from the
// records of their masters, each checked against the process table: the
// master is the recorded process, and the pid it gives is its child. A
// configured pty program is RUNNING again with its pid and its uptime; an
// exit that happened meanwhile comes from its master's kept status and is
// handled as any exit. One no longer configured as a pty program is
// stopped.
func (d *Daemon) adoptPtyPrograms() {
	dir := filepath.Join(d.stateDir, "pty")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".master")
		if !ok {
			continue
		}
		master, started, link, err := d.reconnectPty(name)
		if err != nil {
			d.forgetPtyMaster(name)
			d.log.Warnf("pty program %s not adopted: %v", name, err)
			if master.PID > 1 {
				// A master of ours that cannot be followed is ended: its
				// socket would stand in the way of the next start.
				_ = master.Signal(syscall.SIGTERM)
			}
			continue
		}
		d.mu.Lock()
		_, p, _ := d.lookupLocked(name)
		if p != nil && p.cfg.Pty && p.pid == 0 {
			d.adoptPtyLocked(p, master, started, link)
			d.mu.Unlock()
			continue
		}
		d.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.stopUnconfiguredPty(name, master, link)
		}()
	}
	wg.Wait()
}

// reconnectPty checks the recorded master of pty program name and
// connects to it as its log client. master is zero unless the record
// names a live master.
func (d *Daemon) reconnectPty(name string) (master proctree.Identity, started time.Time, link *ptyLink, err error) {
	b, err := readOwnFile(d.ptyMasterRecord(name), 128)
	if err != nil {
		return master, started, nil, err
	}
	var id proctree.Identity
	var nanos int64
	n, _ := fmt.Sscanf(string(b), "%d %d %d", &id.PID, &id.StartTime, &nanos)
	if n < 2 || id.PID <= 1 {
		return master, started, nil, fmt.Errorf("garbled master record %q", b)
	}
	if n == 3 && nanos > 0 {
		started = time.Unix(0, nanos)
	}
	master, link, err = d.linkPty(name, id)
	return master, started, link, err
}

// linkPty connects to master id of pty program name as its log client,
// once the process table agrees it is that program's master.
func (d *Daemon) linkPty(name string, id proctree.Identity) (master proctree.Identity, link *ptyLink, err error) {
	if !id.Alive() {
		return master, nil, fmt.Errorf("its master (pid %d) is gone", id.PID)
	}
	master = id
	link, err = dialPty(d.PtySocket(name))
	if err != nil {
		return master, nil, err
	}
	// The socket is in a directory of the program's user: only the
	// process table says the pid is the master's child. A program that
	// exited meanwhile has no entry; its master reports the exit.
	st, err := proctree.Stat(link.pid)
	if (err == nil && st.PPID != master.PID) || link.pid <= 1 || !master.Alive() {
		link.conn.Close()
		return master, nil, fmt.Errorf("pid %d is not the program of master %d", link.pid, master.PID)
	}
	return master, link, nil
}

// adoptPtyLocked makes p RUNNING as the program pid under master, its
// uptime counted from the program's start.
func (d *Daemon) adoptPtyLocked(p *process, master proctree.Identity, started time.Time, link *ptyLink) {
	pid := link.pid
	p.stopTimer()
	if st, err := proctree.Stat(pid); err == nil {
		p.laststart = st.StartedAt()
		// The daemon's own reading, when the record has one that the
		// process table agrees with (to the second it rounds to).
		if diff := p.laststart.Sub(started); !started.IsZero() && diff > -2*time.Second && diff < 2*time.Second {
			p.laststart = started
		}
	} else {
		p.laststart = d.clock.Now()
	}
	p.pid = pid
	p.reaped = false
	p.counts.starts++
	// Its exit is seen by the master, which has no wait4 for the daemon.
	masterExits := make(chan Exit)
	exits := d.followPtyProgram(p, master.PID, link, masterExits)
	go func() {
		awaitGone(master)
		masterExits <- Exit{Pid: master.PID, Status: syscall.WaitStatus(syscall.SIGKILL)}
	}()
	p.changeState(Running)
	p.d.log.Infof("adopted: '%s' with pid %d (master pid %d), left running by a previous daemon", p.cfg.Name, pid, master.PID)
	p.awaitExit(exits)
	p.watchHealth(pid)
}

// awaitGone returns once id, a process that is not the daemon's child,
// has exited: its pidfd becomes readable then.
func awaitGone(id proctree.Identity) {
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	if !id.Alive() {
		return // the pid is another process's now
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

// stopUnconfiguredPty stops a pty program left running that is no longer
// configured as one: SIGTERM to its group, SIGKILL after 10 seconds, and
// its master's kept status acknowledged.
func (d *Daemon) stopUnconfiguredPty(name string, master proctree.Identity, link *ptyLink) {
	conn, pid := link.conn, link.pid
	defer conn.Close()
	d.log.Warnf("stopping pty program %s (pid %d) left running by a previous daemon: it is no longer in the config", name, pid)
	signal := func(sig syscall.Signal) {
		// Only while the pid is still the master's child.
		if st, err := proctree.Stat(pid); err == nil && st.PPID == master.PID {
			_ = syscall.Kill(-pid, sig)
			_ = syscall.Kill(pid, sig)
		}
	}
	signal(syscall.SIGTERM)
	kill := time.AfterFunc(10*time.Second, func() { signal(syscall.SIGKILL) })
	defer kill.Stop()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		f, err := detach.ReadLogFrame(conn)
		if err != nil {
			d.log.Warnf("stop pty program %s: its master %d did not report the exit: %v", name, master.PID, err)
			break
		}
		if f.Kind == detach.FrameExit {
			_, _ = conn.Write(detach.ExitAck())
			break
		}
	}
	d.forgetPtyMaster(name)
}

// leavePtyPrograms lets go of the running pty programs when the shutdown
// keeps them (keeper shutdown --keep-programs): they stay under their
// masters, which keep their output and exit for the next daemon.
func (d *Daemon) leavePtyPrograms() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.keepPtyPrograms {
		return
	}
	for _, p := range d.processesLocked(false) {
		if !p.cfg.Pty || p.pid == 0 || !p.state.signallable() {
			continue
		}
		d.log.Infof("leaving %s (pid %d) running on its terminal for the next daemon", p.cfg.Name, p.pid)
		p.stopTimer() // its exit, if it comes now, is the next daemon's
		if link, ok := p.stdin.f.(*ptyLink); ok {
			link.left.Store(true)
			link.conn.Close()
		}
		p.pid = 0
		p.state = Stopped
	}
}
