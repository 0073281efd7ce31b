package xmlrpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"keeper/supervise/http1"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var errBoom = errors.New("boom")

func testHandler(ctx context.Context, method string, params []any) (any, error) {
	switch method {
	case "test.echo":
		return params, nil
	case "test.fault":
		return nil, fmt.Errorf("look up: %w", &Fault{Code: 10, String: "BAD_NAME: " + fmt.Sprint(params...)})
	case "test.boom":
		return nil, errBoom
	case "test.unencodable":
		return struct{}{}, nil
	case "test.slow":
		<-ctx.Done()
		return nil, ctx.Err()
	case "test.infos":
		infos := make([]Struct, 50)
		for i := range infos {
			infos[i] = processInfo("p"+strconv.Itoa(i), i)
		}
		return infos, nil
	}
	return nil, &Fault{Code: 1, String: "UNKNOWN_METHOD"}
}

// serve serves h on a fresh unix socket and returns its path and a count of
// accepted connections.
func serve(t *testing.T, h http1.Handler) (string, *atomic.Int32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	conns := new(atomic.Int32)
	srv := &http1.Server{Handler: h, MaxBodyBytes: DefaultMaxRequestBytes}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(countingListener{ln, conns})
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return path, conns
}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientServerKeepAlive(t *testing.T) {
	path, conns := serve(t, Serve(testHandler))
	c := Dial(path)
	defer c.Close()
	ctx := testContext(t)
	for i := range 5 {
		v, err := c.Call(ctx, "test.echo", i, "s<&>", Struct{{"b", true}, {"a", []any{1.5}}})
		if err != nil {
			t.Fatal(err)
		}
		want := []any{i, "s<&>", Struct{{"b", true}, {"a", []any{1.5}}}}
		if !reflect.DeepEqual(v, want) {
			t.Fatalf("echo = %#v, want %#v", v, want)
		}
	}
	// A fault keeps the connection too, as it is an HTTP 200.
	_, err := c.Call(ctx, "test.fault", "nope")
	var f *Fault
	if !errors.As(err, &f) || f.Code != 10 || f.String != "BAD_NAME: nope" {
		t.Fatalf("fault call: %v", err)
	}
	if want := "call test.fault on " + path + ": fault 10: BAD_NAME: nope"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	v, err := c.Call(ctx, "test.infos")
	if err != nil {
		t.Fatal(err)
	}
	if infos := v.([]any); len(infos) != 50 || !reflect.DeepEqual(infos[7], processInfo("p7", 7)) {
		t.Errorf("infos = %v", v)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 7 sequential calls, want 1", n)
	}
}

func TestClientConcurrent(t *testing.T) {
	path, conns := serve(t, Serve(testHandler))
	c := Dial(path)
	defer c.Close()
	ctx := testContext(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				v, err := c.Call(ctx, "test.echo", g, i)
				if err != nil {
					t.Error(err)
					return
				}
				if !reflect.DeepEqual(v, []any{g, i}) {
					t.Errorf("echo(%d, %d) = %v", g, i, v)
				}
			}
		})
	}
	wg.Wait()
	if n := conns.Load(); n > 8 {
		t.Errorf("%d connections for 80 calls from 4 goroutines", n)
	}
}

func TestClientErrors(t *testing.T) {
	path, _ := serve(t, Serve(testHandler))
	c := Dial(path)
	defer c.Close()
	ctx := testContext(t)

	var se *StatusError
	_, err := c.Call(ctx, "test.boom")
	if !errors.As(err, &se) || se.StatusCode != http.StatusInternalServerError {
		t.Errorf("boom: %v, want a 500 StatusError", err)
	}
	_, err = c.Call(ctx, "test.unencodable")
	if !errors.As(err, &se) || se.StatusCode != http.StatusInternalServerError {
		t.Errorf("unencodable: %v, want a 500 StatusError", err)
	}
	if _, err := c.Call(ctx, "test.echo", make(chan int)); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("unencodable argument: %v", err)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = c.Call(short, "test.slow")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow: %v, want deadline exceeded", err)
	}
	if want := "call test.slow on " + path + ": "; !strings.HasPrefix(fmt.Sprint(err), want) {
		t.Errorf("slow: error %q does not start with %q", err, want)
	}
}

func TestClientNoDaemon(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	refused := filepath.Join(dir, "dead.sock")
	ln, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	ctx := testContext(t)
	for _, tt := range []struct {
		path  string
		errno syscall.Errno
	}{{missing, syscall.ENOENT}, {refused, syscall.ECONNREFUSED}} {
		_, err := Dial(tt.path).Call(ctx, "supervisor.getState")
		if !errors.Is(err, ErrNoDaemon) || !errors.Is(err, tt.errno) {
			t.Errorf("%s: err = %v, want ErrNoDaemon and %v", tt.path, err, tt.errno)
		}
		if want := "call supervisor.getState on " + tt.path + ": " + tt.errno.Error(); fmt.Sprint(err) != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	}
}

func TestClientBasicAuth(t *testing.T) {
	auth := func(next http1.Handler) http1.Handler {
		return http1.HandlerFunc(func(w http1.ResponseWriter, r *http1.Request) {
			if r.Header.Get("Authorization") != BasicAuth("user", "s3cret:x") {
				w.Header().Set("WWW-Authenticate", `Basic realm="default"`)
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte("unauthorized\n"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	path, _ := serve(t, auth(Serve(testHandler)))
	ctx := testContext(t)

	c := NewClient(path, Options{Username: "user", Password: "s3cret:x"})
	defer c.Close()
	if v, err := c.Call(ctx, "test.echo", "hi"); err != nil || !reflect.DeepEqual(v, []any{"hi"}) {
		t.Errorf("with auth: %v, %v", v, err)
	}
	anon := Dial(path)
	defer anon.Close()
	_, err := anon.Call(ctx, "test.echo")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Errorf("without auth: %v, want 401", err)
	}
	if want := "call test.echo on " + path + ": http status 401 Unauthorized"; fmt.Sprint(err) != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestClientResponseLimit(t *testing.T) {
	path, _ := serve(t, Serve(testHandler))
	c := NewClient(path, Options{MaxResponseBytes: 100})
	defer c.Close()
	if _, err := c.Call(testContext(t), "test.infos"); err == nil || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Errorf("err = %v, want a size error", err)
	}
}

// TestServerRaw speaks HTTP/1.1 by hand on one connection, as supervisorctl
// does: an empty Host header, keep-alive across answers of every kind.
func TestServerRaw(t *testing.T) {
	path, conns := serve(t, &Server{Handler: testHandler, MaxRequestBytes: 1000})
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)

	echo, _ := AppendCall(nil, "test.echo", "x")
	want, _ := AppendResponse(nil, []any{"x"})
	fault, _ := AppendCall(nil, "nope.nope")
	tests := []struct {
		method, path string
		body         string
		status       int
		respBody     string // checked when not empty
	}{
		{"POST", "/RPC2", string(echo), 200, string(want)},
		{"POST", "/RPC2", string(fault), 200, string(AppendFault(nil, &Fault{Code: 1, String: "UNKNOWN_METHOD"}))},
		{"POST", "/RPC2", "<methodCall><methodName>x", 400, ""},
		{"POST", "/RPC2", "<methodCall></methodCall>", 400, ""},
		{"GET", "/RPC2", "", 405, ""},
		{"POST", "/logtail/x", string(echo), 404, ""},
		{"POST", "/RPC2/anything", string(echo), 200, string(want)},
		// Last: the server closes the connection after an oversized body.
		{"POST", "/RPC2", "<methodCall><methodName>test.echo</methodName><params><param><value>" + strings.Repeat("x", 1000) + "</value></param></params></methodCall>", 413, ""},
	}
	for i, tt := range tests {
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: \r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s",
			tt.method, tt.path, len(tt.body), tt.body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s %.30q: status %d, want %d (%s)", tt.method, tt.path, tt.body, resp.StatusCode, tt.status, body)
		}
		if tt.respBody != "" && string(body) != tt.respBody {
			t.Errorf("%s %s: body %q, want %q", tt.method, tt.path, body, tt.respBody)
		}
		if tt.status == 200 {
			if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
				t.Errorf("Content-Type = %q", ct)
			}
			if resp.ContentLength != int64(len(body)) {
				t.Errorf("Content-Length = %d, body %d bytes", resp.ContentLength, len(body))
			}
		}
		if tt.status == 405 && resp.Header.Get("Allow") != "POST" {
			t.Errorf("405 without Allow: POST")
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestServerAddress(t *testing.T) {
	tests := []struct {
		in, network, addr string
		ok                bool
	}{
		{"unix:///tmp/keeper.sock", "unix", "/tmp/keeper.sock", true},
		{"unix://relative.sock", "unix", "relative.sock", true},
		{"/run/keeper.sock", "unix", "/run/keeper.sock", true},
		{"unix://", "", "", false},
		{"http://127.0.0.1:9001", "tcp", "127.0.0.1:9001", true},
		{"http://localhost:9001/", "tcp", "localhost:9001", true},
		{"http://localhost", "tcp", "localhost:80", true},
		{"http://[::1]:9001", "tcp", "[::1]:9001", true},
		{"http://:9001", "", "", false},
		{"https://127.0.0.1:9001", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		network, addr, err := ServerAddress(tt.in)
		if (err == nil) != tt.ok || network != tt.network || addr != tt.addr {
			t.Errorf("ServerAddress(%q) = %q, %q, %v", tt.in, network, addr, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "parse server url ") {
			t.Errorf("error %q does not start with the operation", err)
		}
	}
}
