package supervise

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
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
	held    bool  // hold stopped the writer: Write queues, nothing is written
	wake    chan struct{}
	// writeMu is held by the goroutine from taking a chunk until it is
	// written or put back, so hold knows when the writer stopped.
	writeMu sync.Mutex
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
			done, more := q.writeChunk()
			if done {
				return
			}
			if !more {
				break
			}
		}
	}
}

// writeChunk writes what is queued; it reports whether the writer is done
// (the pipe closed or broke) and whether it wrote something, so more may
// come. A write cut short by hold puts the rest back at the head.
func (q *stdinQueue) writeChunk() (done, more bool) {
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	q.mu.Lock()
	chunk, err := q.buf, q.err
	if q.held {
		chunk = nil
	} else {
		q.buf = nil
	}
	q.writing = len(chunk)
	q.mu.Unlock()
	if err != nil {
		return true, false
	}
	if len(chunk) == 0 {
		return false, false
	}
	n, err := q.f.Write(chunk)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		q.mu.Lock()
		q.buf = append(chunk[n:len(chunk):len(chunk)], q.buf...)
		q.writing = 0
		q.mu.Unlock()
		return false, false
	}
	if err != nil {
		q.fail(errStdinClosed)
		return true, false
	}
	return false, true
}

// hold stops the writer between two writes (one blocked on a full pipe
// returns with what it wrote) so that what is still queued can be handed
// over with the pipe (pending); Write still queues meanwhile. Only a pipe
// (an *os.File) can be held.
func (q *stdinQueue) hold() {
	f, ok := q.f.(*os.File)
	if !ok {
		return
	}
	q.mu.Lock()
	q.held = true
	q.mu.Unlock()
	_ = f.SetWriteDeadline(time.Now())
	// Once the writer let go, it sees held and writes nothing more: the
	// deadline is cleared with no write under way.
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	_ = f.SetWriteDeadline(time.Time{})
}

// release lets the writer go on after hold (the exec failed).
func (q *stdinQueue) release() {
	q.mu.Lock()
	q.held = false
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pending returns what is queued and not written yet.
func (q *stdinQueue) pending() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]byte(nil), q.buf...)
}
