package detach

import (
	"io"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// keepCap is the largest output buffer a client keeps for reuse; bigger
// ones, grown during a flood, are let go so an idle master stays small.
const keepCap = 64 << 10

// client is the master's side of one connection: an output queue bounded
// by maxQueue and a goroutine writing it to the socket.
type client struct {
	conn    *pollFile
	fd      int    // conn's descriptor, for polling it alongside others
	onDrain func() // called after each batch written

	// read's, kept here so that a read allocates nothing.
	rbuf   []byte
	rn     int
	rerr   error
	readFn func(fd int) bool

	attached bool // guarded by Master.mu

	// Owned by the goroutine reading the client's packets.
	keys          [payloadSize]byte // a MsgPush's keys, on their way to the pty
	replay        byte              // the client's MsgReplay choice
	pendingAttach bool              // MsgAttach seen, repaint waits for the MsgRedraw that follows it

	mu      sync.Mutex
	queue   []byte // output not yet handed to the writer
	spare   []byte // the writer's last batch, reused
	pending int    // bytes queued or being written
	bonus   int    // bytes of a repaint still queued: not counted against the bounds
	busy    bool   // the writer holds a batch
	closing bool   // the master is ending: write what is queued, then hang up
	closed  bool
	wake    chan struct{}
	done    chan struct{} // the writer goroutine has returned
}

func newClient(conn *pollFile, onDrain func()) *client {
	c := &client{
		conn:    conn,
		fd:      conn.fd(),
		onDrain: onDrain,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	c.readFn = c.readSome
	return c
}

func (c *client) hasRoom() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && c.pending-c.bonus < highWater
}

// pollEvents is what the output loop polls the client's socket for: keys
// to read, and room while output waits; 0 once the client is closed.
func (c *client) pollEvents() int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return 0
	case c.pending > 0:
		return unix.POLLIN | unix.POLLOUT
	}
	return unix.POLLIN
}

func (c *client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// send queues p for the client, writing it straight to the socket when
// nothing is queued before it. It reports false when the client is gone or
// was dropped for falling maxQueue bytes behind.
func (c *client) send(p []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendLocked(p, false)
}

// sendFirst queues a repaint, which no output precedes: it does not count
// against the queue's bounds, so a large scrollback never gets the client
// dropped, and it is the first thing the client reads.
func (c *client) sendFirst(p []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendLocked(p, true)
}

func (c *client) sendLocked(p []byte, first bool) bool {
	if c.closed {
		return false
	}
	if !c.busy && c.pending == 0 {
		n, ok := c.tryWrite(p)
		if !ok {
			c.closeLocked()
			return false
		}
		p = p[n:]
		if len(p) == 0 {
			return true
		}
	}
	if first {
		c.bonus += len(p)
	} else if c.pending-c.bonus+len(p) > maxQueue {
		c.closeLocked()
		return false
	}
	c.queue = append(c.queue, p...)
	c.pending += len(p)
	c.kick()
	return true
}

// tryWrite makes one non-blocking write and reports how much went out; ok
// is false when the connection failed.
func (c *client) tryWrite(p []byte) (n int, ok bool) {
	n, err := c.conn.tryWrite(p)
	switch {
	case err == syscall.EAGAIN:
		return 0, true
	case err != nil:
		return 0, false
	}
	return n, true
}

// writeAll writes p whole, waiting in the runtime's poller while the
// socket is full, until the write deadline.
func (c *client) writeAll(p []byte) error { return c.conn.writeAll(p) }

// read reads what the client sent, waiting in the runtime's poller until
// there is something: io.EOF when it hung up, os.ErrDeadlineExceeded past
// the read deadline. Only the goroutine reading the client calls it.
func (c *client) read(p []byte) (n int, err error) {
	c.rbuf, c.rn, c.rerr = p, 0, nil
	err = c.conn.readWith(c.readFn)
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case c.rerr != nil:
		return 0, c.rerr
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

func (c *client) readSome(fd int) bool {
	for {
		c.rn, c.rerr = readNB(fd, c.rbuf)
		if c.rerr != syscall.EINTR {
			return c.rerr != syscall.EAGAIN
		}
	}
}

func (c *client) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued output in batches until the client closes.
func (c *client) writeLoop() {
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed && !c.closing {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if c.closed || (c.closing && len(c.queue) == 0) {
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = c.spare[:0]
		c.spare = nil
		c.busy = true
		c.mu.Unlock()

		err := c.writeAll(batch)

		c.mu.Lock()
		c.busy = false
		c.pending -= len(batch)
		c.bonus -= min(c.bonus, len(batch))
		if cap(batch) <= keepCap {
			c.spare = batch[:0]
		}
		if err != nil {
			c.closeLocked()
		}
		c.mu.Unlock()
		c.onDrain()
	}
}

func (c *client) close() {
	c.mu.Lock()
	c.closeLocked()
	c.mu.Unlock()
}

func (c *client) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.queue, c.spare = nil, nil
	c.conn.close()
	c.kick()
}

// finish lets the client read what is queued, until deadline, then hangs up.
func (c *client) finish(deadline time.Time) {
	c.mu.Lock()
	c.closing = true
	c.kick()
	c.mu.Unlock()
	_ = c.conn.setWriteDeadline(deadline)
	select {
	case <-c.done:
	case <-time.After(time.Until(deadline)):
	}
	c.close()
}
