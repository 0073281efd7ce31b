package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"keeper/supervise"
	"keeper/supervise/http1"
	"keeper/supervise/xmlrpc"
)

// rpcTimeout bounds one XML-RPC call, waiting calls such as
// startAllProcesses included.
const rpcTimeout = 60 * time.Second

// rpcConn is an XML-RPC client on keep-alive unix socket connections that
// times only the HTTP exchange: the request is encoded before the clock
// starts and the response decoded after it stops, the same for both daemons.
type rpcConn struct {
	sock  string
	http  *http1.Client
	body  []byte
	dials int
}

// dialRPC returns a client of the daemon's control socket sock and checks
// that it accepts a connection.
func dialRPC(sock string) (*rpcConn, error) {
	c := &rpcConn{sock: sock}
	c.http = &http1.Client{Dial: func(ctx context.Context) (net.Conn, error) {
		c.dials++
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("dial control socket: %w", err)
	}
	conn.Close()
	return c, nil
}

// redials counts the connections opened after the first: the server closed
// one after a response.
func (c *rpcConn) redials() int { return max(c.dials-1, 0) }

// close hangs up.
func (c *rpcConn) close() { c.http.Close() }

// header is what the benchmark sends with every call.
var header = http1.Header{"Content-Type": "text/xml", "User-Agent": "keeper-bench"}

// call makes one XML-RPC call and returns its decoded result and the time
// the HTTP exchange took. A fault is an error.
func (c *rpcConn) call(method string, args ...any) (any, time.Duration, error) {
	body, err := xmlrpc.AppendCall(c.body[:0], method, args...)
	if err != nil {
		return nil, 0, err
	}
	c.body = body
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	t0 := time.Now()
	resp, err := c.http.Do(ctx, "POST", "/RPC2", header, body)
	elapsed := time.Since(t0)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", method, err)
	}
	if resp.Status != 200 {
		return nil, 0, fmt.Errorf("%s: http status %d", method, resp.Status)
	}
	v, err := xmlrpc.DecodeResponse(resp.Body)
	if err != nil {
		return nil, elapsed, fmt.Errorf("%s: %w", method, err)
	}
	return v, elapsed, nil
}

// processInfo returns getProcessInfo(name).
func (c *rpcConn) processInfo(name string) (supervise.ProcessInfo, error) {
	v, _, err := c.call("supervisor.getProcessInfo", name)
	if err != nil {
		return supervise.ProcessInfo{}, err
	}
	return supervise.DecodeProcessInfo(v)
}

// allProcessInfo returns getAllProcessInfo().
func (c *rpcConn) allProcessInfo() ([]supervise.ProcessInfo, error) {
	v, _, err := c.call("supervisor.getAllProcessInfo")
	if err != nil {
		return nil, err
	}
	return supervise.DecodeProcessInfos(v)
}
