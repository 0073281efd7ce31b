package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Request is one request, its body read whole.
type Request struct {
	Method string
	Target string // as sent: "/RPC2", "/logtail/web/stderr"
	Path   string // Target's path, unescaped
	Proto  string // "HTTP/1.1" or "HTTP/1.0"
	Header Header
	Body   []byte
	// RemoteAddr is the peer's address, host:port on TCP ("" on a unix socket).
	RemoteAddr string
	ctx        context.Context
}

// Context is done when the connection closes or the server shuts down.
func (r *Request) Context() context.Context { return r.ctx }

// ResponseWriter builds the answer to a request. Without Flush the body is
// buffered and sent with a Content-Length; Flush sends the header and what
// was written so far, and makes the rest of the body chunked (a stream).
type ResponseWriter interface {
	Header() Header
	WriteHeader(code int)
	Write(p []byte) (int, error)
	Flush() error
}

// Handler answers requests.
type Handler interface {
	ServeHTTP(w ResponseWriter, r *Request)
}

// HandlerFunc is a function that is a Handler.
type HandlerFunc func(w ResponseWriter, r *Request)

// ServeHTTP calls f.
func (f HandlerFunc) ServeHTTP(w ResponseWriter, r *Request) { f(w, r) }

// Server serves HTTP/1.x on the connections of a listener.
type Server struct {
	Handler Handler
	// MaxBodyBytes bounds a request body; 0 means DefaultMaxBody.
	MaxBodyBytes int64
	// IdleTimeout closes a connection that sends no request for this
	// long; 0 means never.
	IdleTimeout time.Duration
	// LogAcceptError, if set, is told the first error of each run of
	// temporary accept errors (out of descriptors, aborted connection)
	// that Serve waits out.
	LogAcceptError func(err error)
	// ReadTimeout closes a connection whose request, once begun, is not
	// read whole (header and body) within this long; 0 means never.
	ReadTimeout time.Duration

	mu       sync.Mutex
	listener net.Listener
	// conns are the open connections: true while a request is being
	// handled or none was read yet (its client may have sent one already:
	// Shutdown waits for it as for a request under way).
	conns  map[net.Conn]bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// served closes when Serve returns, so that Shutdown waits for a
	// connection Serve accepted as Shutdown began; nil before Serve.
	served chan struct{}
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("http1: server closed")

// Serve accepts connections on l and serves each on its own goroutine
// until l fails or the server is shut down. After Shutdown it closes l and
// returns ErrServerClosed at once: a Shutdown that came before Serve found
// no listener to close, and Serve would otherwise wait in Accept for good.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.conns = map[net.Conn]bool{}
	}
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listener = l
	s.served = make(chan struct{})
	defer close(s.served)
	s.mu.Unlock()
	var delay time.Duration // wait before the next accept; 0 outside a run of errors
	for {
		c, err := l.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return ErrServerClosed
			}
			if !temporaryAcceptError(err) {
				return err
			}
			// Back off like net/http: 5ms doubling to 1s, so a process out
			// of descriptors neither spins nor stops serving for good.
			if delay == 0 {
				delay = 5 * time.Millisecond
				if s.LogAcceptError != nil {
					s.LogAcceptError(err)
				}
			} else {
				delay = min(2*delay, time.Second)
			}
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		// Served even when Shutdown began meanwhile: its client may have
		// sent a request already, which Shutdown waits for.
		s.mu.Lock()
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Shutdown stops accepting, closes idle connections (ones that were
// answered and wait for their next request) and waits for the requests
// being handled and the first request of the connections just accepted
// (streams see their context done) until ctx ends; then it closes what is
// left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.conns = map[net.Conn]bool{}
	}
	s.cancel()
	if s.listener != nil {
		s.listener.Close()
	}
	for c, busy := range s.conns {
		if !busy {
			c.Close()
		}
	}
	served := s.served
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		if served != nil {
			<-served // no connection is added after
		}
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func (s *Server) setBusy(c net.Conn, busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil && !busy {
		return false
	}
	s.conns[c] = busy
	return true
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	br := bufio.NewReaderSize(c, 16<<10)
	bw := bufio.NewWriterSize(c, 16<<10)
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	for {
		if s.IdleTimeout > 0 {
			c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		if s.ReadTimeout > 0 {
			c.SetReadDeadline(time.Now().Add(s.ReadTimeout))
		} else {
			c.SetReadDeadline(time.Time{})
		}
		if !s.setBusy(c, true) {
			return
		}
		req, status := readRequest(br, limit)
		if status != 0 {
			writeError(bw, status)
			return
		}
		// A stream's handler watches the connection for its close.
		c.SetReadDeadline(time.Time{})
		reqCtx, reqCancel := context.WithCancel(ctx)
		req.ctx = reqCtx
		if a := c.RemoteAddr(); a != nil {
			req.RemoteAddr = a.String()
		}
		w := &responseWriter{bw: bw, header: Header{}, req: req, conn: c, cancel: reqCancel}
		s.Handler.ServeHTTP(w, req)
		err := w.finish()
		reqCancel()
		if err != nil || w.closeAfter {
			return
		}
		if !s.setBusy(c, false) {
			return
		}
	}
}

// readRequest reads one request; status is non-zero when it must be
// refused with that code (the connection is then closed).
func readRequest(br *bufio.Reader, limit int64) (*Request, int) {
	start, h, err := readHeaderLines(br)
	if err != nil {
		if errors.Is(err, errHeaderTooLarge) {
			return nil, 431
		}
		return nil, 400
	}
	parts := strings.Split(start, " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return nil, 400
	}
	req := &Request{Method: parts[0], Target: parts[1], Proto: parts[2], Header: h}
	if req.Proto != "HTTP/1.1" && req.Proto != "HTTP/1.0" {
		return nil, 505
	}
	path := req.Target
	if u, err := url.ParseRequestURI(req.Target); err == nil {
		path = u.Path
	}
	req.Path = path
	if te := h.Get("Transfer-Encoding"); te != "" && !strings.EqualFold(te, "chunked") {
		return nil, 501
	}
	body, err := readBody(br, h, limit, false)
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			return nil, 413
		}
		return nil, 400
	}
	req.Body = body
	return req, 0
}

func writeError(bw *bufio.Writer, status int) {
	text := StatusText(status)
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n",
		status, text, len(text)+1, text)
	bw.Flush()
}

// responseWriter answers one request on a connection.
type responseWriter struct {
	bw         *bufio.Writer
	req        *Request
	header     Header
	status     int
	body       []byte
	streaming  bool // the header went out: the body is chunked
	raw        bool // an HTTP/1.0 stream: plain bytes until the close
	closeAfter bool
	err        error
	conn       net.Conn
	cancel     context.CancelFunc // ends the request's context
}

func (w *responseWriter) Header() Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.streaming {
		w.body = append(w.body, p...)
		return len(p), nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.raw {
		_, w.err = w.bw.Write(p)
		return len(p), w.err
	}
	fmt.Fprintf(w.bw, "%x\r\n", len(p))
	w.bw.Write(p)
	_, w.err = w.bw.WriteString("\r\n")
	return len(p), w.err
}

// writeHead sends the status line and the header fields.
func (w *responseWriter) writeHead(length int) {
	if w.status == 0 {
		w.status = 200
	}
	w.closeAfter = w.closeAfter || wantsClose(w.req.Proto, w.req.Header) || w.header.Get("Connection") == "close"
	fmt.Fprintf(w.bw, "HTTP/1.1 %d %s\r\n", w.status, StatusText(w.status))
	if w.header.Get("Content-Type") == "" {
		w.header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	switch {
	case length >= 0:
		w.header.Set("Content-Length", strconv.Itoa(length))
	case !w.raw:
		w.header.Set("Transfer-Encoding", "chunked")
	}
	if w.closeAfter {
		w.header.Set("Connection", "close")
	} else if w.req.Proto == "HTTP/1.0" {
		w.header.Set("Connection", "keep-alive")
	}
	for k, v := range w.header {
		fmt.Fprintf(w.bw, "%s: %s\r\n", k, v)
	}
	w.bw.WriteString("\r\n")
}

func (w *responseWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	if !w.streaming {
		if w.req.Proto == "HTTP/1.0" {
			// No chunked encoding in 1.0: the stream ends with the
			// connection.
			w.closeAfter, w.raw = true, true
		}
		// A stream ends its connection, and a client going away ends
		// the stream: watch the connection for its close.
		w.closeAfter = true
		go func(c net.Conn, cancel context.CancelFunc) {
			// Bytes the client still sends (supervisorctl ends its
			// request with a spare CRLF) are dropped; only the end of
			// the connection ends the stream.
			var b [512]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					cancel()
					return
				}
			}
		}(w.conn, w.cancel)
		w.writeHead(-1)
		w.streaming = true
		body := w.body
		w.body = nil
		if len(body) > 0 {
			w.Write(body)
		}
	}
	w.err = w.bw.Flush()
	return w.err
}

// finish completes the response: the buffered body with its length, or
// the last chunk of a stream.
func (w *responseWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	switch {
	case w.raw:
	case w.streaming:
		w.bw.WriteString("0\r\n\r\n")
	default:
		w.writeHead(len(w.body))
		w.bw.Write(w.body)
	}
	return w.bw.Flush()
}

// discard is an io.Writer for bodies nobody reads.
var _ io.Writer = (*responseWriter)(nil)

// temporaryAcceptError reports whether an accept error passes by itself:
// a timeout, descriptors exhausted (EMFILE, ENFILE), a connection aborted
// before it was accepted, or no buffer space.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
