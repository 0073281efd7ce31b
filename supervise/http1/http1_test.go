package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"keeper/internal/peer"
)

// serve starts a Server with h on a unix socket and returns its path and
// a counter of accepted connections.
func serve(t *testing.T, h Handler) (string, *atomic.Int32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	s := &Server{Handler: h, MaxBodyBytes: 1 << 20}
	go s.Serve(countingListener{l, &conns})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return path, &conns
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

func echo() Handler {
	return HandlerFunc(func(w ResponseWriter, r *Request) {
		w.Header().Set("X-Path", r.Path)
		fmt.Fprintf(w, "%s %s %d:%s", r.Method, r.Target, len(r.Body), r.Body)
	})
}

func client(path string) *Client {
	return &Client{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
}

func TestKeepAlive(t *testing.T) {
	path, conns := serve(t, echo())
	cl := client(path)
	defer cl.Close()
	for i := 0; i < 5; i++ {
		body := []byte(strings.Repeat("x", i*1000))
		resp, err := cl.Do(context.Background(), "POST", "/RPC2", Header{"Content-Type": "text/xml"}, body)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("POST /RPC2 %d:%s", len(body), body)
		if resp.Status != 200 || string(resp.Body) != want || resp.Header.Get("x-path") != "/RPC2" {
			t.Fatalf("response %d %q %v", resp.Status, resp.Body, resp.Header)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 requests used %d connections, want 1 (keep-alive)", n)
	}
}

func TestRefusals(t *testing.T) {
	path, _ := serve(t, echo())
	tests := []struct {
		name, raw string
		status    int
	}{
		{"garbage", "hello\r\n\r\n", 400},
		{"bad header", "GET / HTTP/1.1\r\nno colon\r\n\r\n", 400},
		{"version", "GET / HTTP/2.0\r\n\r\n", 400},
		{"too big", "POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413},
		{"header too big", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\n", 431},
		{"bad length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
		{"gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tt.raw)
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, fmt.Sprintf("HTTP/1.1 %d ", tt.status)) {
				t.Errorf("answer %q, %v; want status %d", line, err, tt.status)
			}
		})
	}
}

// TestChunkedRequest: a chunked request body is read (Python's clients
// may send one).
func TestChunkedRequest(t *testing.T) {
	path, _ := serve(t, echo())
	c, _ := net.Dial("unix", path)
	defer c.Close()
	io.WriteString(c, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "POST /x 5:abcde" {
		t.Errorf("body %q", b)
	}
}

// TestStream: Flush makes a chunked stream that net/http's reader and our
// Stream both read as it comes, and its context ends at shutdown.
func TestStream(t *testing.T) {
	next := make(chan string)
	path, _ := serve(t, HandlerFunc(func(w ResponseWriter, r *Request) {
		w.Flush() // the header goes out before any data
		for {
			select {
			case s, ok := <-next:
				if !ok {
					return
				}
				io.WriteString(w, s)
				w.Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	status, h, body, err := client(path).Stream(context.Background(), "/logtail/x", nil)
	if err != nil || status != 200 || !strings.EqualFold(h.Get("Transfer-Encoding"), "chunked") {
		t.Fatalf("stream: %d %v %v", status, h, err)
	}
	defer body.Close()
	for _, s := range []string{"one\n", "two\n", "three\n"} {
		next <- s
		buf := make([]byte, len(s))
		if _, err := io.ReadFull(body, buf); err != nil || string(buf) != s {
			t.Fatalf("read %q, %v; want %q", buf, err, s)
		}
	}
	close(next)
	if rest, err := io.ReadAll(body); err != nil || len(rest) != 0 {
		t.Errorf("end of stream: %q, %v", rest, err)
	}
}

// TestRetryOnClosedIdle: the server closing an idle connection does not
// fail the next request.
func TestRetryOnClosedIdle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, _ := net.Listen("unix", path)
	s := &Server{Handler: echo(), IdleTimeout: 50 * time.Millisecond}
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	cl := client(path)
	defer cl.Close()
	for i := 0; i < 3; i++ {
		if _, err := cl.Do(context.Background(), "POST", "/RPC2", nil, []byte("x")); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		time.Sleep(120 * time.Millisecond)
	}
}

// TestNetHTTPInterop: net/http's client (Go tools) and Python's
// http.client (supervisorctl's XML-RPC) talk to the server.
func TestNetHTTPInterop(t *testing.T) {
	path, conns := serve(t, echo())
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	for i := 0; i < 3; i++ {
		resp, err := hc.Post("http://x/RPC2", "text/xml", strings.NewReader("<a/>"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "POST /RPC2 4:<a/>" {
			t.Fatalf("net/http got %q", b)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("net/http used %d connections, want 1", n)
	}
	python := peer.Need(t, "python3")
	script := `
import http.client, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
c = C("localhost")
for i in range(3):
    c.request("POST", "/RPC2", body=b"<b/>", headers={"Content-Type": "text/xml", "Host": ""})
    r = c.getresponse(); print(r.status, r.read().decode())
`
	out, err := exec.Command(python, "-c", script, path).CombinedOutput()
	if err != nil || strings.Count(string(out), "200 POST /RPC2 4:<b/>") != 3 {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("python used %d connections for 3 requests, want 1", n-1)
	}
}

// TestStreamIgnoresTrailingBytes: bytes a client sends after its request
// (a spare CRLF) do not end a stream; closing the connection does.
func TestStreamIgnoresTrailingBytes(t *testing.T) {
	ended := make(chan struct{})
	path, _ := serve(t, HandlerFunc(func(w ResponseWriter, r *Request) {
		w.Flush()
		<-r.Context().Done()
		close(ended)
	}))
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /logtail/x HTTP/1.1\r\nHost: \r\n\r\n")
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("status line %q, %v", line, err)
	}
	io.WriteString(c, "\r\n")
	select {
	case <-ended:
		t.Fatal("a spare CRLF ended the stream")
	case <-time.After(200 * time.Millisecond):
	}
	c.Close()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the connection did not end the stream")
	}
}

// TestReadTimeout: a request begun but not finished (a slow or hostile
// client) is answered 400 and its connection closed after ReadTimeout,
// while a stream that outlives ReadTimeout goes on, and the peer's address
// reaches the handler.
func TestReadTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var remote atomic.Value
	s := &Server{ReadTimeout: 100 * time.Millisecond, Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		remote.Store(r.RemoteAddr)
		if r.Path == "/stream" {
			w.Flush()
			time.Sleep(300 * time.Millisecond)
		}
		w.Write([]byte("done"))
	})}
	go s.Serve(l)
	defer s.Shutdown(context.Background())

	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST /RPC2 HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(got), "HTTP/1.1 400 ") {
		t.Fatalf("stalled request: read %q, %v; want a 400 and the close", got, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stalled request closed after %v, want about 100ms", d)
	}

	c2, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "GET /stream HTTP/1.1\r\n\r\n")
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ = io.ReadAll(c2)
	if !strings.Contains(string(got), "done") {
		t.Errorf("stream longer than ReadTimeout: read %q, want its body", got)
	}
	if r, _ := remote.Load().(string); r != c2.LocalAddr().String() {
		t.Errorf("RemoteAddr %q, want %q", r, c2.LocalAddr())
	}
}

// TestServeAfterShutdown: a Shutdown that comes before its Serve (a
// listener replaced as soon as it was opened) still stops it.
func TestServeAfterShutdown(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := &Server{Handler: echo()}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	select {
	case err := <-served:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		l.Close()
		<-served
		t.Fatal("Serve after Shutdown still accepts after 5 s")
	}
	if _, err := l.Accept(); err == nil {
		t.Error("Serve after Shutdown left its listener open")
	}
}

// TestShutdownAnswersAcceptedConn: a connection accepted before Shutdown
// whose request comes after it is answered, not closed: its client may
// have sent it already (what keeper reexec relies on when it stops the
// old daemon's [inet_http_server]).
func TestShutdownAnswersAcceptedConn(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	s := &Server{Handler: echo()}
	go s.Serve(countingListener{l, &accepted})
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for accepted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	// Shutdown under way: the listener is closed once it has begun.
	for time.Now().Before(deadline) {
		probe, err := net.Dial("unix", l.Addr().String())
		if err != nil {
			break
		}
		probe.Close()
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintf(c, "GET /late HTTP/1.1\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.Contains(string(got), "GET /late 0:") {
		t.Errorf("the request of a connection accepted before Shutdown got %q, want its answer", got)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v, want nil once the request was answered", err)
	}
}

// lateListener returns a connection it accepted only once it is closed:
// what Serve sees when Shutdown begins as Accept returns.
type lateListener struct {
	net.Listener
	accepted, closed chan struct{}
}

func (l lateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- struct{}{}
	}
	<-l.closed
	return c, err
}

func (l lateListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return l.Listener.Close()
}

// TestShutdownAnswersConnAcceptedMeanwhile: a connection Serve accepts as
// Shutdown begins is answered, not closed with its request unread.
func TestShutdownAnswersConnAcceptedMeanwhile(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: echo()}
	served := make(chan error, 1)
	accepted := make(chan struct{}, 1)
	go func() { served <- s.Serve(lateListener{l, accepted, make(chan struct{})}) }()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /meanwhile HTTP/1.1\r\n\r\n")
	<-accepted
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v, want nil once the request was answered", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.Contains(string(got), "GET /meanwhile 0:") {
		t.Errorf("the request of a connection accepted as Shutdown began got %q, want its answer", got)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}
