package supervise

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keeper/supervise/http1"
	"keeper/supervise/logfile"
	"keeper/supervise/xmlrpc"
)

// lockedBuffer collects a Logger's records for a test to read.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startInet serves c's [inet_http_server] on a free loopback port with
// short limits; the handler answers "ok" behind c's authentication.
func startInet(t *testing.T, c InetConfig) (*inetServer, string, *lockedBuffer) {
	t.Helper()
	var logs lockedBuffer
	log := logfile.NewLogger(nil, &logs, logfile.LevelInfo)
	s := newInetServer(log)
	s.maxConns, s.idle, s.reading = 2, 200*time.Millisecond, 200*time.Millisecond
	c.Host, c.Port = "127.0.0.1", freePort(t)
	if err := s.open(c); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{log: log}
	s.serve(d.authenticate(c.Username, c.Password, http1.HandlerFunc(func(w http1.ResponseWriter, r *http1.Request) {
		w.Write([]byte("ok"))
	})))
	t.Cleanup(func() { s.shutdown(context.Background()) })
	return s, c.Addr(), &logs
}

// freePort returns a loopback port nothing listens on (it listened on :0).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// exchange sends raw on a new connection and returns everything the server
// sent until it closed the connection, or what came within 3 s.
func exchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, raw)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	// A reset is a close too: the kernel resets a connection closed with
	// our request still unread.
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("%q: the server kept the connection open: %v (read %q)", raw, err, b)
	}
	return string(b)
}

func TestInetAuthentication(t *testing.T) {
	_, addr, logs := startInet(t, InetConfig{Username: "user", Password: "{SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}) // "test"
	post := func(auth string) string {
		h := ""
		if auth != "" {
			h = "Authorization: " + auth + "\r\n"
		}
		return "POST /RPC2 HTTP/1.1\r\nHost: x\r\n" + h + "Content-Length: 0\r\nConnection: close\r\n\r\n"
	}
	for _, tt := range []struct {
		name, auth string
		ok         bool
		log        string
	}{
		{"no credentials", "", false, "refused POST /RPC2 from 127.0.0.1:%d: no Basic authentication"},
		{"wrong password", xmlrpc.BasicAuth("user", "wrong"), false, `refused POST /RPC2 from 127.0.0.1:%d: wrong username or password (user "user")`},
		{"wrong user", xmlrpc.BasicAuth("root", "test"), false, `refused POST /RPC2 from 127.0.0.1:%d: wrong username or password (user "root")`},
		{"not base64", "Basic !!!", false, "refused POST /RPC2 from 127.0.0.1:%d: no Basic authentication"},
		{"right", xmlrpc.BasicAuth("user", "test"), true, ""},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, post(tt.auth))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		got := string(b)
		if err != nil {
			t.Errorf("%s: connection not closed: %v", tt.name, err)
		}
		if tt.ok {
			if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\nok") {
				t.Errorf("%s: answer %q, want 200 and the handler's body", tt.name, got)
			}
			continue
		}
		if !strings.HasPrefix(got, "HTTP/1.1 401 Unauthorized\r\n") ||
			!strings.Contains(got, "\r\nWww-Authenticate: Basic realm=\"default\"\r\n") ||
			!strings.Contains(got, "\r\nConnection: close\r\n") {
			t.Errorf("%s: answer %q, want 401 with a Basic challenge for realm default and the close", tt.name, got)
		}
		want := fmt.Sprintf(tt.log, c.LocalAddr().(*net.TCPAddr).Port)
		if !strings.Contains(logs.String(), want) {
			t.Errorf("%s: log %q does not have %q", tt.name, logs.String(), want)
		}
	}
	if strings.Contains(logs.String(), "test") {
		t.Errorf("the log shows a password: %q", logs.String())
	}
}

// TestInetLimits: an idle connection, a request that never ends and a body
// over the limit are closed; connections beyond the cap are closed at once
// until one ends.
func TestInetLimits(t *testing.T) {
	s, addr, logs := startInet(t, InetConfig{})

	start := time.Now()
	if got := exchange(t, addr, ""); got != "" {
		t.Errorf("idle connection: got %q", got)
	}
	if got := exchange(t, addr, "POST /RPC2 HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"); !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("unfinished request: got %q, want 400 and the close", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle and unfinished connections closed after %v, want about 2×200ms", d)
	}
	big := fmt.Sprintf("POST /RPC2 HTTP/1.1\r\nContent-Length: %d\r\n\r\n", InetMaxBody+1)
	if got := exchange(t, addr, big); !strings.HasPrefix(got, "HTTP/1.1 413 ") {
		t.Errorf("oversized request: got %q, want 413 and the close", got)
	}

	// The cap: s.maxConns connections held open, the next one is closed.
	var held []net.Conn
	for range s.maxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A request answered proves the connection was accepted.
		io.WriteString(c, "GET /x HTTP/1.1\r\n\r\n")
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Fatalf("connection %d: %q, %v", len(held), line, err)
		}
		held = append(held, c)
	}
	if got := exchange(t, addr, "GET /x HTTP/1.1\r\n\r\n"); got != "" {
		t.Errorf("connection over the cap: got %q, want it closed unanswered", got)
	}
	if !strings.Contains(logs.String(), "[inet_http_server] serves at most 2 connections at once") {
		t.Errorf("log %q does not tell of the cap", logs.String())
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(exchange(t, addr, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n"), "HTTP/1.1 200") {
		if time.Now().After(deadline) {
			t.Fatal("a connection closed did not free its slot")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInetOpen(t *testing.T) {
	s, addr, _ := startInet(t, InetConfig{})
	host, port, _ := net.SplitHostPort(addr)
	other := newInetServer(s.log)
	err := other.open(InetConfig{Host: host, Port: atoi(t, port)})
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "listen on "+addr+" for [inet_http_server]") {
		t.Errorf("open a port in use: %v", err)
	}

	// Another address (a restart with a changed port) closes the old
	// listener; the new one serves once it has its handler.
	next := InetConfig{Host: "127.0.0.1", Port: freePort(t)}
	if err := s.open(next); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Errorf("the old address %s still accepts", addr)
	}
	s.serve(http1.HandlerFunc(func(w http1.ResponseWriter, r *http1.Request) { w.Write([]byte("new")) }))
	if got := exchange(t, next.Addr(), "GET / HTTP/1.0\r\n\r\n"); !strings.HasSuffix(got, "\r\n\r\nnew") {
		t.Errorf("new address: got %q", got)
	}
	// No section: nothing listens.
	if err := s.open(InetConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", next.Addr()); err == nil {
		t.Errorf("%s still accepts without [inet_http_server]", next.Addr())
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
