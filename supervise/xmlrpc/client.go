package xmlrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// ErrNoDaemon is matched (with errors.Is) by a Call error when nothing listens
// on the socket: the socket file is missing or the connection is refused.
var ErrNoDaemon = errors.New("no daemon listening")

// DefaultMaxResponseBytes bounds a response body when Options.MaxResponseBytes is 0.
const DefaultMaxResponseBytes = 64 << 20

// Options configure a Client made by NewClient.
type Options struct {
	// Username and Password, when Username is not empty, are sent as HTTP
	// Basic authentication on every call.
	Username string
	Password string
	// MaxResponseBytes bounds a response body; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Client calls XML-RPC methods with HTTP/1.1 POSTs to /RPC2 over a unix
// socket, keeping connections alive between calls. It is safe for concurrent
// use.
type Client struct {
	socketPath string
	opts       Options
	transport  *http.Transport
	http       *http.Client
}

// StatusError is the error (found with errors.As) for an HTTP answer other
// than 200 OK, such as 401 when authentication fails.
type StatusError struct {
	StatusCode int
	Status     string // as the server sent it, e.g. "401 Unauthorized"
}

// Error returns "http status " followed by the status line.
func (e *StatusError) Error() string { return "http status " + e.Status }

// Dial returns a Client for the unix socket at socketPath with default
// options. It does not connect: the first Call does.
func Dial(socketPath string) *Client {
	return NewClient(socketPath, Options{})
}

// NewClient returns a Client for the unix socket at socketPath. It does not
// connect: the first Call does.
func NewClient(socketPath string, opts Options) *Client {
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
	}
	return &Client{
		socketPath: socketPath,
		opts:       opts,
		transport:  tr,
		http:       &http.Client{Transport: tr},
	}
}

// SocketPath returns the path of the unix socket the client calls.
func (c *Client) SocketPath() string { return c.socketPath }

// Close closes the client's idle connections. The client stays usable.
func (c *Client) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

// Call calls method with args and returns the value of the response, decoded
// as DecodeResponse does. A fault response gives an error wrapping the
// *Fault; a missing daemon gives one matching ErrNoDaemon; any other HTTP
// status gives one wrapping a *StatusError. Every error names the method and
// the socket: "call supervisor.getState on /tmp/keeper.sock: connection refused".
func (c *Client) Call(ctx context.Context, method string, args ...any) (any, error) {
	v, err := c.call(ctx, method, args)
	if err != nil {
		return nil, fmt.Errorf("call %s on %s: %w", method, c.socketPath, err)
	}
	return v, nil
}

func (c *Client) call(ctx context.Context, method string, args []any) (any, error) {
	body, err := AppendCall(nil, method, args...)
	if err != nil {
		return nil, err
	}
	// The host is not used for routing; supervisorctl sends "localhost" too.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost/RPC2", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("Accept", "text/xml")
	req.Header.Set("User-Agent", "keeper")
	if c.opts.Username != "" {
		req.SetBasicAuth(c.opts.Username, c.opts.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
	if err != nil {
		return nil, transportError(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if int64(len(data)) > c.opts.MaxResponseBytes {
		return nil, fmt.Errorf("response larger than %d bytes", c.opts.MaxResponseBytes)
	}
	return DecodeResponse(data)
}

// noDaemonError reads as the system error ("connection refused") and
// matches both that errno and ErrNoDaemon.
type noDaemonError struct{ errno syscall.Errno }

func (e noDaemonError) Error() string        { return e.errno.Error() }
func (e noDaemonError) Unwrap() error        { return e.errno }
func (e noDaemonError) Is(target error) bool { return target == ErrNoDaemon }

// transportError strips net/http's wrapping ("Post \"http://localhost/RPC2\": dial
// unix ...") and recognises a missing daemon.
func transportError(err error) error {
	var op *net.OpError
	var errno syscall.Errno
	if errors.As(err, &op) && op.Op == "dial" && errors.As(err, &errno) &&
		(errno == syscall.ECONNREFUSED || errno == syscall.ENOENT) {
		return noDaemonError{errno}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// SocketPathFromURL returns the socket path of a supervisord-style server URL,
// "unix:///tmp/keeper.sock" (everything after "unix://", as supervisorctl
// reads it). A plain absolute path is returned as is. Other schemes, such as
// http://, are not supported.
func SocketPathFromURL(serverURL string) (string, error) {
	switch {
	case strings.HasPrefix(serverURL, "unix://"):
		p := serverURL[len("unix://"):]
		if p == "" {
			return "", fmt.Errorf("parse server url %q: empty socket path", serverURL)
		}
		return p, nil
	case strings.HasPrefix(serverURL, "/"):
		return serverURL, nil
	}
	return "", fmt.Errorf("parse server url %q: only unix:// urls are supported", serverURL)
}
