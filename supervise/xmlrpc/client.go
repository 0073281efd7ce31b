package xmlrpc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
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
// socket, keeping connections alive between calls. It is safe for concurrent
// use.
type Client struct {
	socketPath string
	opts       Options
	http       *http1.Client
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
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socketPath)
	}
	return &Client{
		socketPath: socketPath,
		opts:       opts,
		http:       &http1.Client{Dial: dial, MaxBodyBytes: opts.MaxResponseBytes + 1},
	}
}

// SocketPath returns the path of the unix socket the client calls.
func (c *Client) SocketPath() string { return c.socketPath }

// Close closes the client's idle connections. The client stays usable.
func (c *Client) Close() error {
	return c.http.Close()
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
		return 0, nil, fmt.Errorf("get %s on %s: %w", path, c.socketPath, transportError(err))
	}
	return status, body, nil
}
