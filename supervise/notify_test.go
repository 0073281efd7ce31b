package supervise

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenNotify opens a unix datagram socket, as systemd's notify socket
// is, at addr (a path, or @name for an abstract one).
func listenNotify(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// receive reads one datagram, waiting at most a second.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

// noMore checks that no datagram is waiting.
func noMore(t *testing.T, conn *net.UnixConn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 4096)
	if n, err := conn.Read(buf); err == nil {
		t.Errorf("unexpected notification %q", buf[:n])
	}
}

// fields splits a notification into its assignments.
func fields(msg string) map[string]string {
	out := map[string]string{}
	for line := range strings.SplitSeq(msg, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

func TestSdNotify(t *testing.T) {
	dir := t.TempDir()
	for _, addr := range []string{
		filepath.Join(dir, "notify"),
		fmt.Sprintf("@keeper-test-notify-%d-%d", os.Getpid(), time.Now().UnixNano()),
	} {
		conn := listenNotify(t, addr)
		if err := sdNotify(addr, "READY=1\nMAINPID=42"); err != nil {
			t.Fatalf("sdNotify(%q): %v", addr, err)
		}
		if got := receive(t, conn); got != "READY=1\nMAINPID=42" {
			t.Errorf("%s received %q", addr, got)
		}
	}
	if err := sdNotify("", "READY=1"); err != nil {
		t.Errorf("sdNotify without a socket: %v, want nil", err)
	}
	if err := sdNotify("vsock:2:1234", "READY=1"); !errors.Is(err, errNotifySocket) {
		t.Errorf("sdNotify to a vsock address: %v, want %v", err, errNotifySocket)
	}
	if err := sdNotify(filepath.Join(dir, "absent"), "READY=1"); err == nil {
		t.Errorf("sdNotify to a missing socket: no error")
	}
}

func TestNotifierStates(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "notify")
	conn := listenNotify(t, addr)
	t.Setenv(NotifySocketEnv, addr)
	n := newNotifier()
	if v, ok := os.LookupEnv(NotifySocketEnv); ok {
		t.Errorf("NOTIFY_SOCKET still set (%q): programs would inherit it", v)
	}

	n.Reloading() // not ready yet: nothing to say
	noMore(t, conn)
	n.Ready()
	f := fields(receive(t, conn))
	if f["READY"] != "1" || f["MAINPID"] != fmt.Sprint(os.Getpid()) {
		t.Errorf("first notification %v, want READY=1 and MAINPID=%d", f, os.Getpid())
	}
	n.Ready()
	noMore(t, conn)

	n.Reloading()
	f = fields(receive(t, conn))
	if f["RELOADING"] != "1" || f["MONOTONIC_USEC"] == "" || f["MONOTONIC_USEC"] == "0" {
		t.Errorf("reload notification %v, want RELOADING=1 with MONOTONIC_USEC", f)
	}
	n.Reloading()
	noMore(t, conn)
	n.Ready()
	if f = fields(receive(t, conn)); f["READY"] != "1" {
		t.Errorf("after the reload: %v, want READY=1", f)
	}

	n.Stopping()
	if f = fields(receive(t, conn)); f["STOPPING"] != "1" {
		t.Errorf("at shutdown: %v, want STOPPING=1", f)
	}
	n.Stopping()
	n.Ready()
	n.Reloading()
	noMore(t, conn)
}

func TestNotifierWithoutSocket(t *testing.T) {
	t.Setenv(NotifySocketEnv, "")
	n := newNotifier()
	n.Ready()
	n.Reloading()
	n.Stopping()
}
