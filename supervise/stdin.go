package supervise

import (
	"errors"
	"io"
	"sync"
)

// maxStdinPending bounds what sendProcessStdin may queue for a program that
// does not read its stdin. supervisord's buffer is unbounded.
const maxStdinPending = 1 << 20

// errStdinFull and errStdinClosed are what a write to a program's stdin
// queue can fail with: too much already waiting, or the program closed its
// end (EPIPE) or exited.
var (
	errStdinFull   = errors.New("stdin queue full")
	errStdinClosed = errors.New("stdin closed")
)

// stdinQueue writes to a program's stdin pipe from a goroutine of its own, so
// that a program that does not read never blocks the daemon (a pipe holds
// 64 KiB; supervisord also buffers and writes when the pipe is writable).
type stdinQueue struct {
	f   io.WriteCloser
	mu  sync.Mutex
	buf []byte // written by the goroutine, in order
	// writing counts the bytes the goroutine took and has not written yet:
	// they count toward the bound.
	writing int
	err     error // set once the pipe is closed or broken
	wake    chan struct{}
}

// newStdinQueue starts writing to f, the parent's end of the stdin pipe (or
// a pty program's keys to its master).
func newStdinQueue(f io.WriteCloser) *stdinQueue {
	q := &stdinQueue{f: f, wake: make(chan struct{}, 1)}
	go q.run()
	return q
}

// Write queues b and returns at once; the bytes reach the program in order.
func (q *stdinQueue) Write(b []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	if q.writing+len(q.buf)+len(b) > maxStdinPending {
		return errStdinFull
	}
	q.buf = append(q.buf, b...)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close drops what is still queued and closes the pipe; a write blocked on
// a full pipe returns.
func (q *stdinQueue) Close() {
	q.fail(errStdinClosed)
	q.f.Close()
}

func (q *stdinQueue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.buf = nil
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *stdinQueue) run() {
	for range q.wake {
		for {
			q.mu.Lock()
			chunk, err := q.buf, q.err
			q.buf, q.writing = nil, len(chunk)
			q.mu.Unlock()
			if err != nil {
				return
			}
			if len(chunk) == 0 {
				break
			}
			if _, err := q.f.Write(chunk); err != nil {
				q.fail(errStdinClosed)
				return
			}
		}
	}
}
