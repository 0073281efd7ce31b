package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"keeper/detach"
)

// ioTimeout bounds every blocking read and write of a benchmark client.
const ioTimeout = 20 * time.Second

// client is a dtach protocol client on a blocking unix socket, driven
// with plain system calls so the reader costs as little as possible and
// the same for both implementations.
type client struct {
	fd   int
	sock string
}

// dial connects to the session socket sock.
func dial(sock string) (*client, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dial %s: socket: %w", sock, err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dial %s: %w", sock, err)
	}
	tv := unix.NsecToTimeval(ioTimeout.Nanoseconds())
	for _, opt := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("dial %s: set timeout: %w", sock, err)
		}
	}
	return &client{fd: fd, sock: sock}, nil
}

// attach asks for the session's output, with no redraw and no repaint of
// the screen (keeper's MsgReplay, which dtach ignores): the figures count
// the program's bytes only.
func (c *client) attach() error {
	p := detach.Packet{Type: detach.MsgReplay, Len: detach.ReplayNone}.Encode()
	a := detach.Packet{Type: detach.MsgAttach}.Encode()
	r := detach.Packet{Type: detach.MsgRedraw, Len: detach.RedrawNone}.Encode()
	if err := c.send(append(append(p[:], a[:]...), r[:]...)); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return nil
}

// detach stops the session's output to this client.
func (c *client) detach() error {
	d := detach.Packet{Type: detach.MsgDetach}.Encode()
	if err := c.send(d[:]); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	return nil
}

// send writes b whole.
func (c *client) send(b []byte) error {
	if err := writeAll(c.fd, b); err != nil {
		return fmt.Errorf("write to %s: %w", c.sock, err)
	}
	return nil
}

// read makes one read; a timeout or hang-up is an error.
func (c *client) read(b []byte) (int, error) {
	n, err := readSome(c.fd, b)
	if err == unix.EAGAIN {
		return 0, fmt.Errorf("read from %s: no data for %v", c.sock, ioTimeout)
	}
	if err != nil {
		return 0, fmt.Errorf("read from %s: %w", c.sock, err)
	}
	return n, nil
}

// close hangs up.
func (c *client) close() {
	unix.Close(c.fd)
}
