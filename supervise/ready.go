package supervise

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/supervise/http1"
)

// keeper's ready key: what makes a STARTING process RUNNING, instead of
// having stayed up for startsecs.

// ReadyCheck is a program's readiness check.
type ReadyCheck struct {
	// Kind is ReadyNotify, ReadyTCP, ReadyHTTP or ReadyExec; "" leaves it to startsecs.
	Kind string
	// Target is the tcp check's host:port, the http check's URL or the exec check's command.
	Target string
}

// The kinds of readiness check.
const (
	ReadyNotify = "notify" // the program sends READY=1 to its NOTIFY_SOCKET (systemd's Type=notify)
	ReadyTCP    = "tcp"    // a TCP connection to host:port succeeds
	ReadyHTTP   = "http"   // a GET of the URL answers 2xx
	ReadyExec   = "exec"   // the command (run by /bin/sh) exits 0
)

// defaultReadyTimeout is how long a program with a readiness check may take
// to become ready before the start counts as failed.
const defaultReadyTimeout = 60 * time.Second

// readyPoll is the wait between two probes of a tcp, http or exec check,
// and readyProbeTimeout bounds one probe.
const (
	readyPoll         = 100 * time.Millisecond
	readyProbeTimeout = 2 * time.Second
)

// String gives the check as the config writes it.
func (c ReadyCheck) String() string {
	switch c.Kind {
	case ReadyNotify:
		return ReadyNotify
	case ReadyHTTP:
		return c.Target
	}
	return c.Kind + ":" + c.Target
}

// parseReadyCheck reads a ready value: notify, tcp:HOST:PORT,
// http://HOST:PORT/PATH or exec:COMMAND.
func parseReadyCheck(v string) (ReadyCheck, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == ReadyNotify:
		return ReadyCheck{Kind: ReadyNotify}, nil
	case strings.HasPrefix(v, "tcp:"):
		addr := v[len("tcp:"):]
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return ReadyCheck{}, fmt.Errorf("%q: want tcp:HOST:PORT", v)
		}
		return ReadyCheck{Kind: ReadyTCP, Target: addr}, nil
	case strings.HasPrefix(v, "http://"):
		u, err := url.Parse(v)
		if err != nil || u.Host == "" {
			return ReadyCheck{}, fmt.Errorf("%q: want http://HOST:PORT/PATH", v)
		}
		return ReadyCheck{Kind: ReadyHTTP, Target: v}, nil
	case strings.HasPrefix(v, "exec:") && strings.TrimSpace(v[len("exec:"):]) != "":
		return ReadyCheck{Kind: ReadyExec, Target: strings.TrimSpace(v[len("exec:"):])}, nil
	}
	return ReadyCheck{}, fmt.Errorf("%q is not notify, tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND", v)
}

// awaitReady arms the check of a process just spawned with pid: the
// timeout, and for the polled kinds the prober. Called under the lock.
func (p *process) awaitReady(pid int) {
	check := p.cfg.Ready
	p.after(p.cfg.ReadyTimeout, func() {
		if p.state == Starting && p.pid == pid {
			p.notReady()
		}
	})
	if check.Kind == ReadyNotify {
		return // the notify socket's reader calls becomeReady
	}
	go func() {
		for {
			ok := p.d.probe(check, readyProbeTimeout)
			p.d.mu.Lock()
			waiting := p.state == Starting && p.pid == pid
			if waiting && ok {
				p.becomeReady(check.String())
			}
			p.d.mu.Unlock()
			if ok || !waiting {
				return
			}
			time.Sleep(readyPoll)
		}
	}()
}

// becomeReady makes a STARTING process RUNNING because its check passed.
func (p *process) becomeReady(why string) {
	p.stopTimer()
	p.backoff = 0
	// Logged first: the change may start the programs that depend on it.
	p.d.log.Infof("success: %s entered RUNNING state, ready (%s)", p.cfg.Name, why)
	p.changeState(Running)
	p.watchHealth(p.pid)
	p.watchdogAt = time.Now()
	p.watchWatchdog(p.pid)
}

// notReady gives up on a process not ready within ready_timeout: it is
// killed, and its exit counts as a failed start.
func (p *process) notReady() {
	p.readyFailed = true
	p.d.log.Warnf("%s not ready after %ss (ready = %s); killing it", p.cfg.Name, formatSeconds(p.cfg.ReadyTimeout), p.cfg.Ready)
	_ = p.d.starter.signal(-p.pid, sigKill)
	_ = p.d.starter.signal(p.pid, sigKill)
}

// probe runs one check of a tcp, http or exec kind.
func (d *Daemon) probe(c ReadyCheck, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	switch c.Kind {
	case ReadyTCP:
		var dialer net.Dialer
		conn, err := dialer.DialContext(ctx, "tcp", c.Target)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	case ReadyHTTP:
		u, err := url.Parse(c.Target)
		if err != nil {
			return false
		}
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
		client := &http1.Client{Dial: func(ctx context.Context) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, "tcp", host)
		}, MaxBodyBytes: 1 << 20}
		defer client.Close()
		resp, err := client.Do(ctx, "GET", u.RequestURI(), http1.Header{"Host": u.Host, "User-Agent": "keeper"}, nil)
		return err == nil && resp.Status >= 200 && resp.Status < 300
	case ReadyExec:
		cmd := exec.Command("/bin/sh", "-c", c.Target)
		cmd.Env = d.environ
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		exits, err := d.reaper.Start(cmd)
		if err != nil {
			return false
		}
		select {
		case exit := <-exits:
			return exit.Status.Exited() && exit.Status.ExitStatus() == 0
		case <-ctx.Done():
			_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
			<-exits
			return false
		}
	}
	return false
}

// notifySocket is a program's NOTIFY_SOCKET: an abstract unix datagram
// socket of its own that accepts messages only from the program's user (or
// root), checked with SCM_CREDENTIALS.
type notifySocket struct {
	conn *net.UnixConn
	addr string
	uid  uint32 // the program's user
	// done closes when the reader returns; paused says it was stopped by
	// pause, the socket still open.
	done   chan struct{}
	paused bool
}

// openNotifySocket makes p's notify socket and starts reading it.
func (d *Daemon) openNotifySocket(p *process, uid uint32) (*notifySocket, error) {
	addr := fmt.Sprintf("@keeper/%d/notify/%s/%d", os.Getpid(), p.namespec(), time.Now().UnixNano())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("open NOTIFY_SOCKET for %s: %w", p.namespec(), err)
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		ctlErr := raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		})
		if ctlErr != nil {
			err = ctlErr
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open NOTIFY_SOCKET for %s: %w", p.namespec(), err)
	}
	ns := &notifySocket{conn: conn, addr: addr, uid: uid}
	ns.start(d, p)
	return ns, nil
}

// adoptNotifySocket takes over f, the notify socket at addr that a daemon
// that executed this one handed over for p, and starts reading it.
func (d *Daemon) adoptNotifySocket(p *process, f *os.File, addr string, uid uint32) (*notifySocket, error) {
	c, err := net.FileConn(f) // a duplicate, close-on-exec
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("adopt NOTIFY_SOCKET of %s: %w", p.namespec(), err)
	}
	conn, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("adopt NOTIFY_SOCKET of %s: not a unix socket", p.namespec())
	}
	ns := &notifySocket{conn: conn, addr: addr, uid: uid}
	ns.start(d, p)
	return ns, nil
}

func (ns *notifySocket) start(d *Daemon, p *process) {
	ns.paused = false
	ns.done = make(chan struct{})
	go d.readNotify(p, ns)
}

// pause stops the reader between two datagrams, so that what it has not
// read stays in the socket for the next daemon, and waits for it.
func (ns *notifySocket) pause() {
	_ = ns.conn.SetReadDeadline(time.Now())
	<-ns.done
	_ = ns.conn.SetReadDeadline(time.Time{})
}

// resume starts a paused reader again (the exec failed).
func (ns *notifySocket) resume(d *Daemon, p *process) {
	if ns.paused {
		ns.start(d, p)
	}
}

// readNotify handles the datagrams of p's notify socket until it closes or
// is paused: READY=1 makes a STARTING process RUNNING, STATUS= is shown in
// status.
func (d *Daemon) readNotify(p *process, ns *notifySocket) {
	defer close(ns.done)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := ns.conn.ReadMsgUnix(buf, oob)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			ns.paused = true
			return
		}
		if err != nil {
			return
		}
		sender, ok := senderUID(oob[:oobn])
		if !ok || (sender != 0 && sender != ns.uid) {
			d.log.Warnf("%s: NOTIFY_SOCKET message from uid %d ignored: only the program's user may send", p.namespec(), sender)
			continue
		}
		d.mu.Lock()
		if p.notify == ns {
			for line := range strings.SplitSeq(string(buf[:n]), "\n") {
				switch {
				case line == "READY=1" && p.state == Starting:
					p.becomeReady("READY=1")
				case line == "WATCHDOG=1":
					p.watchdogAt = time.Now()
				case strings.HasPrefix(line, "STATUS="):
					p.notifyStatus = strings.TrimPrefix(line, "STATUS=")
					d.notifyLocked()
				}
			}
		}
		d.mu.Unlock()
	}
}

// senderUID reads the uid of a datagram's SCM_CREDENTIALS.
func senderUID(oob []byte) (uint32, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			return cred.Uid, true
		}
	}
	return 0, false
}

func (ns *notifySocket) close() { ns.conn.Close() }

// watchWatchdog restarts the process running as pid, a ready=notify
// process with watchdog_sec, when it goes watchdog_sec without sending
// WATCHDOG=1 (systemd's Watchdog) since watchdogAt. Called under the lock.
func (p *process) watchWatchdog(pid int) {
	every := p.cfg.Watchdog
	if every <= 0 {
		return
	}
	go func() {
		for {
			time.Sleep(every / 4)
			p.d.mu.Lock()
			if p.pid != pid || p.state != Running {
				p.d.mu.Unlock()
				return
			}
			if silent := time.Since(p.watchdogAt); silent > every {
				p.restart(fmt.Sprintf("no WATCHDOG=1 for %s (watchdog_sec = %s)", silent.Round(time.Second), formatSeconds(every)), eventHealthcheckFailed)
				p.d.mu.Unlock()
				return
			}
			p.d.mu.Unlock()
		}
	}()
}
