package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"keeper/supervise/xmlrpc"
)

// rpcTimeout bounds one XML-RPC call, waiting calls such as
// startAllProcesses included.
const rpcTimeout = 60 * time.Second

// rpcConn is a minimal HTTP/1.1 XML-RPC client on one keep-alive unix
// socket connection, written on net.Conn rather than net/http so that a
// timed call costs the server's work plus one write and a few reads here,
// the same for both daemons.
type rpcConn struct {
	sock    string
	conn    net.Conn
	br      *bufio.Reader
	req     []byte
	body    []byte
	redials int // connections the server closed after a response
}

// dialRPC connects to the daemon's control socket sock.
func dialRPC(sock string) (*rpcConn, error) {
	c := &rpcConn{sock: sock}
	if err := c.dial(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *rpcConn) dial() error {
	conn, err := net.Dial("unix", c.sock)
	if err != nil {
		return fmt.Errorf("dial control socket: %w", err)
	}
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 64<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

// close hangs up.
func (c *rpcConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// call makes one XML-RPC call and returns its decoded result and the time
// from writing the request's first byte to reading the response's last
// byte. Encoding and decoding are not timed. A fault is an error.
func (c *rpcConn) call(method string, args ...any) (any, time.Duration, error) {
	body, err := xmlrpc.AppendCall(c.body[:0], method, args...)
	if err != nil {
		return nil, 0, err
	}
	c.body = body
	c.req = append(c.req[:0], "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: keeper-bench\r\n"+
		"Content-Type: text/xml\r\nAccept-Encoding: identity\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return nil, 0, err
		}
	}
	if err := c.conn.SetDeadline(time.Now().Add(rpcTimeout)); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", method, err)
	}
	t0 := time.Now()
	if _, err := c.conn.Write(c.req); err != nil {
		c.close()
		return nil, 0, fmt.Errorf("%s: write request: %w", method, err)
	}
	resp, keep, err := c.readResponse()
	elapsed := time.Since(t0)
	if err != nil {
		c.close()
		return nil, 0, fmt.Errorf("%s: %w", method, err)
	}
	if !keep {
		c.close()
		c.redials++
	}
	v, err := xmlrpc.DecodeResponse(resp)
	if err != nil {
		return nil, elapsed, fmt.Errorf("%s: %w", method, err)
	}
	return v, elapsed, nil
}

// readResponse reads one HTTP response and returns its body and whether
// the connection stays open.
func (c *rpcConn) readResponse() (body []byte, keepAlive bool, err error) {
	line, err := c.br.ReadString('\n')
	if err != nil {
		return nil, false, fmt.Errorf("read status line: %w", err)
	}
	proto, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	code, _, _ := strings.Cut(rest, " ")
	if code != "200" {
		return nil, false, fmt.Errorf("http status %q", strings.TrimSpace(rest))
	}
	keepAlive = proto == "HTTP/1.1"
	length, chunked := -1, false
	for {
		h, err := c.br.ReadString('\n')
		if err != nil {
			return nil, false, fmt.Errorf("read headers: %w", err)
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			if length, err = strconv.Atoi(v); err != nil {
				return nil, false, fmt.Errorf("bad content-length %q", v)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		case "connection":
			switch strings.ToLower(v) {
			case "close":
				keepAlive = false
			case "keep-alive":
				keepAlive = true
			}
		}
	}
	switch {
	case chunked:
		body, err = c.readChunked()
	case length >= 0:
		body = make([]byte, length)
		_, err = io.ReadFull(c.br, body)
	default:
		body, err = io.ReadAll(c.br)
		keepAlive = false
	}
	if err != nil {
		return nil, false, fmt.Errorf("read body: %w", err)
	}
	return body, keepAlive, nil
}

func (c *rpcConn) readChunked() ([]byte, error) {
	var out bytes.Buffer
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		sz, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sz, 16, 32)
		if err != nil {
			return nil, fmt.Errorf("bad chunk size %q", sz)
		}
		if n == 0 {
			for { // trailers up to the blank line
				t, err := c.br.ReadString('\n')
				if err != nil {
					return nil, err
				}
				if strings.TrimRight(t, "\r\n") == "" {
					return out.Bytes(), nil
				}
			}
		}
		if _, err := io.CopyN(&out, c.br, n+2); err != nil { // the chunk and its CRLF
			return nil, err
		}
		out.Truncate(out.Len() - 2)
	}
}

// procInfo is what the benchmark reads of a process info struct.
type procInfo struct {
	name  string
	state int
	pid   int
}

// stateRunning is supervisord's RUNNING state code.
const stateRunning = 20

func toProcInfo(v any) (procInfo, error) {
	s, ok := v.(xmlrpc.Struct)
	if !ok {
		return procInfo{}, fmt.Errorf("process info is a %T, not a struct", v)
	}
	var p procInfo
	name, _ := s.Get("name")
	p.name, _ = name.(string)
	state, _ := s.Get("state")
	p.state = toInt(state)
	pid, _ := s.Get("pid")
	p.pid = toInt(pid)
	return p, nil
}

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int32:
		return int(x)
	case int64:
		return int(x)
	}
	return -1
}

// processInfo returns getProcessInfo(name).
func (c *rpcConn) processInfo(name string) (procInfo, error) {
	v, _, err := c.call("supervisor.getProcessInfo", name)
	if err != nil {
		return procInfo{}, err
	}
	return toProcInfo(v)
}

// allProcessInfo returns getAllProcessInfo().
func (c *rpcConn) allProcessInfo() ([]procInfo, error) {
	v, _, err := c.call("supervisor.getAllProcessInfo")
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("getAllProcessInfo: result is a %T, not an array", v)
	}
	out := make([]procInfo, 0, len(arr))
	for _, e := range arr {
		p, err := toProcInfo(e)
		if err != nil {
			return nil, fmt.Errorf("getAllProcessInfo: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
