package supervise

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"keeper/supervise/logfile"
)

// NotifySocketEnv names the environment variable through which a service
// manager (systemd, Type=notify) tells the daemon where to send its state.
const NotifySocketEnv = "NOTIFY_SOCKET"

// errNotifySocket reports a NOTIFY_SOCKET that is not a unix socket path.
var errNotifySocket = errors.New("not a unix socket path or @abstract name")

// sdNotify sends state, newline-separated KEY=VALUE assignments, as one
// datagram to the service manager's socket at addr, as sd_notify(3) does:
// addr is a file system path, or an abstract socket name written with a
// leading '@'. An empty addr sends nothing.
func sdNotify(addr, state string) error {
	if addr == "" {
		return nil
	}
	if addr[0] != '/' && addr[0] != '@' {
		return fmt.Errorf("notify %s: %w", addr, errNotifySocket)
	}
	// Go maps a leading '@' to Linux's abstract namespace.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify %s: %w", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify %s: %w", addr, err)
	}
	return nil
}

// notifier tells a service manager the daemon's state: READY=1 once the
// control socket answers and the autostart programs are spawned,
// RELOADING=1 when a restart (SIGHUP, reload) begins and READY=1 again
// after it, STOPPING=1 when the shutdown begins. Once stopping, it sends
// nothing more. Without NOTIFY_SOCKET it does nothing.
type notifier struct {
	mu       sync.Mutex
	addr     string
	log      *logfile.Logger
	ready    bool // the last state sent was READY=1
	stopping bool
}

// newNotifier takes NOTIFY_SOCKET out of the environment, so that no
// program the daemon starts inherits it (systemd's convention), and returns
// a notifier sending to it.
func newNotifier() *notifier {
	addr := os.Getenv(NotifySocketEnv)
	os.Unsetenv(NotifySocketEnv)
	return &notifier{addr: addr}
}

// setLog sets where send failures are reported.
func (n *notifier) setLog(log *logfile.Logger) {
	n.mu.Lock()
	n.log = log
	n.mu.Unlock()
}

func (n *notifier) sendLocked(state string) {
	if err := sdNotify(n.addr, state); err != nil && n.log != nil {
		n.log.Warnf("%v", err)
	}
}

// Ready reports the daemon ready, with its pid as the main one.
func (n *notifier) Ready() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping || n.ready {
		return
	}
	n.ready = true
	n.sendLocked(fmt.Sprintf("READY=1\nMAINPID=%d\nSTATUS=supervising", os.Getpid()))
}

// Reloading reports a restart begun; Ready ends it.
func (n *notifier) Reloading() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping || !n.ready {
		return
	}
	n.ready = false
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	n.sendLocked(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=restarting", ts.Nano()/1000))
}

// Stopping reports the shutdown begun.
func (n *notifier) Stopping() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping {
		return
	}
	n.stopping = true
	n.sendLocked("STOPPING=1\nSTATUS=shutting down")
}
