package xmlrpc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"keeper/supervise/http1"
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
// socket or TCP, keeping connections alive between calls. It is safe for
// concurrent use.
type Client struct {
	addr string // socket path or host:port
	opts Options
	http *http1.Client
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
	return NewClientAt("unix", socketPath, opts)
}

// NewClientAt returns a Client for address on network: "unix" and a socket
// path, or "tcp" and host:port (as ServerAddress gives them). It does not
// connect: the first Call does.
func NewClientAt(network, address string, opts Options) *Client {
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	return &Client{
		addr: address,
		opts: opts,
		http: &http1.Client{Dial: dial, MaxBodyBytes: opts.MaxResponseBytes + 1},
	}
}

// Addr returns the socket path or host:port the client calls.
func (c *Client) Addr() string { return c.addr }

// Close closes the client's idle connections. The client stays usable.
func (c *Client) Close() error {
	return c.http.Close()
}

// Call calls method with args and returns the value of the response, decoded
// as DecodeResponse does. A fault response gives an error wrapping the
// *Fault; a missing daemon gives one matching ErrNoDaemon; any other HTTP
// status gives one wrapping a *StatusError. Every error names the method and
// the socket or host:port: "call supervisor.getState on /tmp/keeper.sock: connection refused".
func (c *Client) Call(ctx context.Context, method string, args ...any) (any, error) {
	v, err := c.call(ctx, method, args)
	if err != nil {
		return nil, fmt.Errorf("call %s on %s: %w", method, c.addr, err)
	}
	return v, nil
}

func (c *Client) call(ctx context.Context, method string, args []any) (any, error) {
	body, err := AppendCall(nil, method, args...)
	if err != nil {
		return nil, err
	}
	// The host is not used for routing; supervisorctl sends "localhost" too.
	header := http1.Header{"Content-Type": "text/xml", "Accept": "text/xml", "User-Agent": "keeper"}
	if c.opts.Username != "" {
		header["Authorization"] = BasicAuth(c.opts.Username, c.opts.Password)
	}
	resp, err := c.http.Do(ctx, "POST", "/RPC2", header, body)
	if errors.Is(err, http1.ErrBodyTooLarge) {
		return nil, fmt.Errorf("response larger than %d bytes", c.opts.MaxResponseBytes)
	}
	if err != nil {
		return nil, transportError(err)
	}
	data := resp.Body
	if resp.Status != 200 {
		return nil, &StatusError{StatusCode: resp.Status, Status: fmt.Sprintf("%d %s", resp.Status, http1.StatusText(resp.Status))}
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
	return err
}

// ServerAddress returns where a supervisord-style server URL points, for
// NewClientAt: "unix:///tmp/keeper.sock" is network "unix" and the path
// (everything after "unix://", as supervisorctl reads it), and so is a plain
// absolute path; "http://host:port" ([inet_http_server]) is "tcp" and
// host:port, port 80 when it has none, as supervisorctl dials it.
func ServerAddress(serverURL string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(serverURL, "unix://"):
		p := serverURL[len("unix://"):]
		if p == "" {
			return "", "", fmt.Errorf("parse server url %q: empty socket path", serverURL)
		}
		return "unix", p, nil
	case strings.HasPrefix(serverURL, "/"):
		return "unix", serverURL, nil
	case strings.HasPrefix(serverURL, "http://"):
		u, err := url.Parse(serverURL)
		if err != nil || u.Hostname() == "" {
			return "", "", fmt.Errorf("parse server url %q: not http://HOST:PORT", serverURL)
		}
		port := u.Port()
		if port == "" {
			port = "80"
		}
		return "tcp", net.JoinHostPort(u.Hostname(), port), nil
	}
	return "", "", fmt.Errorf("parse server url %q: not unix:///PATH or http://HOST:PORT", serverURL)
}

// BasicAuth is the Authorization header value for a user and password.
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// Stream opens a stream (GET of a followed log, /logtail/NAME) on its own
// connection; the caller reads the body until it closes it.
func (c *Client) Stream(ctx context.Context, path string) (status int, body io.ReadCloser, err error) {
	header := http1.Header{}
	if c.opts.Username != "" {
		header["Authorization"] = BasicAuth(c.opts.Username, c.opts.Password)
	}
	status, _, body, err = c.http.Stream(ctx, path, header)
	if err != nil {
		return 0, nil, fmt.Errorf("get %s on %s: %w", path, c.addr, transportError(err))
	}
	return status, body, nil
}
