package supervise

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"keeper/detach"
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

	d.recordIntent(p)
	masterExits, err := d.reaper.Start(h.Cmd)
	if startErr := h.Started(err == nil); err == nil {
		err = startErr
	}
	if err != nil {
		d.forgetProgram(p)
		if masterExits != nil {
			_ = h.Cmd.Process.Kill()
			<-masterExits
		}
		return 0, nil, fmt.Errorf("start master of %s: %v", name, err)
	}
	conn, pid, err := detach.DialLog(opts.Socket)
	if err != nil {
		d.forgetProgram(p)
		_ = h.Cmd.Process.Kill()
		<-masterExits
		return 0, nil, err
	}
	master := h.Cmd.Process.Pid
	_ = h.Cmd.Process.Release()
	d.ptyMasters.Store(master, true)
	d.processStarted(p, pid)
	p.stdin = newStdinQueue(keysWriter{conn})
	exits := make(chan Exit, 1)
	out := d.outputWriter(p, pid, "stdout", p.logWriter(p.stdout, p.cfg.Stdout), p.cfg.Stdout)
	go d.followPty(name, pid, conn, out, d.forgetPtyMaster(masterExits), exits)
	return pid, exits, nil
}

// isPtyMaster reports whether pid is the master of a pty program: its
// program's mark is in its environment, yet it is never part of the
// program's tree.
func (d *Daemon) isPtyMaster(pid int) bool {
	_, ok := d.ptyMasters.Load(pid)
	return ok
}

// forgetPtyMaster passes on a master's exit, once it is no longer one.
func (d *Daemon) forgetPtyMaster(exits <-chan Exit) <-chan Exit {
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
func (d *Daemon) followPty(name string, pid int, conn *os.File, out io.Writer, masterExits <-chan Exit, exits chan<- Exit) {
	defer conn.Close()
	for {
		f, err := detach.ReadLogFrame(conn)
		if err != nil {
			m := <-masterExits
			d.log.Warnf("the master of %s (pid %d) ended without reporting its program's exit: %v", name, m.Pid, err)
			exits <- Exit{Pid: pid, Status: m.Status}
			return
		}
		switch f.Kind {
		case detach.FrameOutput:
			_, _ = out.Write(f.Data)
		case detach.FrameExit:
			exits <- Exit{Pid: pid, Status: syscall.WaitStatus(f.Uint32())}
			_, _ = conn.Write(detach.ExitAck())
			go func() { <-masterExits }() // reaped; nothing more to learn
			return
		}
	}
}

// keysWriter types a pty program's stdin (sendProcessStdin) on its
// terminal through its master. Closing it leaves the connection, which
// followPty owns, open.
type keysWriter struct{ conn *os.File }

func (w keysWriter) Write(b []byte) (int, error) {
	if _, err := w.conn.Write(detach.AppendPush(nil, b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (keysWriter) Close() error { return nil }
