package http1

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Response is a response whose body was read whole.
type Response struct {
	Status int
	Header Header
	Body   []byte
}

// Client sends requests to one server, keeping idle connections (up to
// maxIdle) for the next requests: supervisorctl sends several on one
// connection too.
type Client struct {
	// Dial opens a connection to the server.
	Dial func(ctx context.Context) (net.Conn, error)
	// MaxBodyBytes bounds a response body; 0 means 64 MiB.
	MaxBodyBytes int64

	mu   sync.Mutex
	idle []*clientConn
}

// maxIdle is how many idle connections a Client keeps.
const maxIdle = 4

type clientConn struct {
	c  net.Conn
	br *bufio.Reader
}

// Close closes the idle connection, if any.
func (cl *Client) Close() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, cc := range cl.idle {
		cc.c.Close()
	}
	cl.idle = nil
	return nil
}

func (cl *Client) conn(ctx context.Context) (cc *clientConn, reused bool, err error) {
	cl.mu.Lock()
	if n := len(cl.idle); n > 0 {
		cc, cl.idle = cl.idle[n-1], cl.idle[:n-1]
	}
	cl.mu.Unlock()
	if cc != nil {
		return cc, true, nil
	}
	c, err := cl.Dial(ctx)
	if err != nil {
		return nil, false, err
	}
	return &clientConn{c: c, br: bufio.NewReaderSize(c, 32<<10)}, false, nil
}

func (cl *Client) putIdle(cc *clientConn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if len(cl.idle) >= maxIdle {
		cc.c.Close()
		return
	}
	cl.idle = append(cl.idle, cc)
}

// Do sends a request and reads its response. A request on a reused
// connection that the server had closed meanwhile is sent again on a new
// one.
func (cl *Client) Do(ctx context.Context, method, target string, header Header, body []byte) (*Response, error) {
	for attempt := 0; ; attempt++ {
		cc, reused, err := cl.conn(ctx)
		if err != nil {
			return nil, err
		}
		resp, keep, sent, err := cl.roundTrip(ctx, cc, method, target, header, body)
		if err == nil {
			if keep {
				cl.putIdle(cc)
			} else {
				cc.c.Close()
			}
			return resp, nil
		}
		cc.c.Close()
		if reused && !sent && attempt == 0 {
			continue
		}
		return nil, err
	}
}

// roundTrip sends one request on cc; sent reports whether any byte of a
// response arrived (a request is only retried when none did).
func (cl *Client) roundTrip(ctx context.Context, cc *clientConn, method, target string, header Header, body []byte) (resp *Response, keep, sent bool, err error) {
	stop := context.AfterFunc(ctx, func() { cc.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := writeRequest(cc.c, method, target, header, body); err != nil {
		return nil, false, false, ctxErr(ctx, err)
	}
	if _, err := cc.br.Peek(1); err != nil {
		return nil, false, false, ctxErr(ctx, err)
	}
	start, h, err := readHeaderLines(cc.br)
	if err != nil {
		return nil, false, true, ctxErr(ctx, err)
	}
	proto, status, err := parseStatusLine(start)
	if err != nil {
		return nil, false, true, err
	}
	limit := cl.MaxBodyBytes
	if limit <= 0 {
		limit = 64 << 20
	}
	closes := wantsClose(proto, h)
	framed := h.Get("Content-Length") != "" || strings.EqualFold(h.Get("Transfer-Encoding"), "chunked")
	b, err := readBody(cc.br, h, limit, !framed && method != "HEAD")
	if err != nil {
		return nil, false, true, ctxErr(ctx, err)
	}
	return &Response{Status: status, Header: h, Body: b}, !closes && framed, true, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func writeRequest(c net.Conn, method, target string, header Header, body []byte) error {
	var b bytes.Buffer
	host := header.Get("Host")
	if host == "" {
		host = "localhost" // a unix socket's server does not route by it
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	for k, v := range header {
		if strings.EqualFold(k, "Host") {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != nil || method == "POST" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	_, err := c.Write(b.Bytes())
	return err
}

func parseStatusLine(line string) (proto string, status int, err error) {
	proto, rest, ok := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, convErr := strconv.Atoi(code)
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") || convErr != nil || status < 100 || status > 999 {
		return "", 0, fmt.Errorf("%w: status line %q", ErrMalformed, line)
	}
	return proto, status, nil
}

// Stream sends a GET for a stream (a followed log) on a connection of its
// own and returns the status, the header and the body as it comes; closing
// the body closes the connection.
func (cl *Client) Stream(ctx context.Context, target string, header Header) (int, Header, io.ReadCloser, error) {
	c, err := cl.Dial(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	fail := func(err error) (int, Header, io.ReadCloser, error) {
		stop()
		c.Close()
		return 0, nil, nil, ctxErr(ctx, err)
	}
	if err := writeRequest(c, "GET", target, header, nil); err != nil {
		return fail(err)
	}
	br := bufio.NewReader(c)
	start, h, err := readHeaderLines(br)
	if err != nil {
		return fail(err)
	}
	_, status, err := parseStatusLine(start)
	if err != nil {
		return fail(err)
	}
	var body io.Reader = br
	switch {
	case strings.EqualFold(h.Get("Transfer-Encoding"), "chunked"):
		body = newChunkedReader(br)
	case h.Get("Content-Length") != "":
		n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return fail(fmt.Errorf("%w: Content-Length %q", ErrMalformed, h.Get("Content-Length")))
		}
		body = io.LimitReader(br, n)
	}
	return status, h, &streamBody{r: body, c: c, stop: stop}, nil
}

type streamBody struct {
	r    io.Reader
	c    net.Conn
	stop func() bool
}

func (s *streamBody) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *streamBody) Close() error {
	s.stop()
	return s.c.Close()
}
