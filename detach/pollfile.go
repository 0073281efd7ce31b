package detach

import (
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollFile is a non-blocking descriptor the master reads and writes with
// raw system calls (readNB, writeNB) and waits on through two epoll
// instances of its own, which sit in the runtime's poller in its place.
//
// The runtime's poller watches every descriptor for input and for room,
// edge-triggered, and wakes on either. A client reading an echo, or the
// program reading a key, gives the master's descriptor room, and so woke
// the idle master for nothing: with the pty and the clients watched
// through in, for input only, an echo wakes the master once for the key
// and once for its echo, as dtach's select loop does. out watches the
// descriptor for room only while a writer waits, during a flood.
//
// Its calls allocate nothing: the functions they hand the runtime are
// made once, with the pollFile, and keep their state in it, so an echo
// costs the garbage collector nothing.
type pollFile struct {
	f   *os.File // outside the runtime's poller: keeps fd open while in use
	raw syscall.RawConn
	in  *os.File // epoll instance: f for input, always
	out *os.File // epoll instance: f for room, only while a write waits

	inRaw, outRaw syscall.RawConn

	rd pollOp // the reader's: one goroutine reads at a time

	writeMu sync.Mutex // one writer at a time, for wr and unsent
	wr      pollOp
	unsent  []byte // what writeAll has left to write
	werr    error  // how writeAll's last write failed
	writeFn func(fd int) bool

	tryBuf []byte // tryWrite's, under its caller's lock
	tryN   int
	tryErr error
	tryFn  func(fd uintptr)
}

// pollOp runs a step (a read or a write of the descriptor that reports
// whether it is done) until done, waiting on an epoll instance between
// tries. Its functions are bound once, in init.
type pollOp struct {
	raw  syscall.RawConn // the descriptor's
	step func(fd int) bool
	done bool
	err  error // the descriptor was closed
	ctl  func(fd uintptr)
	try  func(uintptr) bool
}

func (o *pollOp) init(raw syscall.RawConn) {
	o.raw = raw
	o.ctl = o.control
	o.try = o.tryOnce
}

func (o *pollOp) control(fd uintptr) { o.done = o.step(int(fd)) }

// tryOnce runs the step on the descriptor, kept open meanwhile.
func (o *pollOp) tryOnce(uintptr) bool {
	if o.err = o.raw.Control(o.ctl); o.err != nil {
		return true
	}
	return o.done
}

// run runs step until it is done, waiting for on between tries.
func (o *pollOp) run(on syscall.RawConn, step func(fd int) bool) error {
	o.step, o.done, o.err = step, false, nil
	err := on.Read(o.try)
	o.step = nil
	if err != nil {
		return err
	}
	return o.err
}

// newPollFile takes fd, an open descriptor in blocking mode that no
// os.File holds yet, and makes it non-blocking. On error fd is closed.
func newPollFile(fd int, name string) (*pollFile, error) {
	// os.NewFile puts a non-blocking descriptor in the runtime's poller,
	// so f is made while fd still blocks.
	p := &pollFile{f: os.NewFile(uintptr(fd), name)}
	p.raw, _ = p.f.SyscallConn()
	if err := unix.SetNonblock(fd, true); err != nil {
		p.f.Close()
		return nil, err
	}
	var err error
	if p.in, p.inRaw, err = newEpoll(name, fd, unix.EPOLLIN|unix.EPOLLRDHUP); err != nil {
		p.f.Close()
		return nil, err
	}
	if p.out, p.outRaw, err = newEpoll(name, -1, 0); err != nil {
		p.in.Close()
		p.f.Close()
		return nil, err
	}
	p.rd.init(p.raw)
	p.wr.init(p.raw)
	p.writeFn = p.writeSome
	p.tryFn = p.tryWriteOnce
	return p, nil
}

// newEpoll makes an epoll instance in the runtime's poller, watching fd
// for events (level-triggered) unless fd is -1.
func newEpoll(name string, fd int, events uint32) (*os.File, syscall.RawConn, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, nil, os.NewSyscallError("epoll_create1", err)
	}
	if fd >= 0 {
		ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(ep)
			return nil, nil, os.NewSyscallError("epoll_ctl", err)
		}
	}
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, nil, err
	}
	f := os.NewFile(uintptr(ep), name+" (epoll)")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, raw, nil
}

// readWith calls step with the descriptor until it returns true, waiting
// for input between calls, like syscall.RawConn's Read. It fails once the
// file is closed or past the read deadline. One goroutine reads at a time;
// a step made once (a method value kept in a field) allocates nothing.
func (p *pollFile) readWith(step func(fd int) bool) error {
	return p.rd.run(p.inRaw, step)
}

// writeAll writes b whole, waiting while the descriptor is full, until
// the write deadline.
func (p *pollFile) writeAll(b []byte) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.unsent, p.werr = b, nil
	err := p.write(p.writeFn)
	p.unsent = nil
	if err != nil {
		return err
	}
	return p.werr
}

func (p *pollFile) writeSome(fd int) bool {
	for len(p.unsent) > 0 {
		n, err := writeNB(fd, p.unsent)
		switch {
		case n > 0:
			p.unsent = p.unsent[n:]
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return false
		case err == nil:
			p.werr = io.ErrShortWrite
			return true
		default:
			p.werr = err
			return true
		}
	}
	return true
}

// write calls step with the descriptor until it returns true, waiting for
// room between calls; p.writeMu is held.
func (p *pollFile) write(step func(fd int) bool) error {
	p.wr.step, p.wr.done = step, false
	if err := p.raw.Control(p.wr.ctl); err != nil || p.wr.done {
		return err
	}
	// Full: watch the descriptor for room while waiting, and only then.
	fd, ep := p.fd(), -1
	if err := p.outRaw.Control(func(f uintptr) { ep = int(f) }); err != nil {
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	defer unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, fd, nil)
	return p.wr.run(p.outRaw, step)
}

// tryWrite makes one non-blocking write of b, not waiting for room:
// syscall.EAGAIN when there is none. Its caller keeps calls apart.
func (p *pollFile) tryWrite(b []byte) (int, error) {
	p.tryBuf, p.tryN, p.tryErr = b, 0, nil
	err := p.raw.Control(p.tryFn)
	p.tryBuf = nil
	if err != nil {
		return 0, err
	}
	return p.tryN, p.tryErr
}

func (p *pollFile) tryWriteOnce(fd uintptr) {
	for {
		p.tryN, p.tryErr = writeNB(int(fd), p.tryBuf)
		if p.tryErr != syscall.EINTR {
			return
		}
	}
}

// fd returns the descriptor, for poll(2) and ioctls; it stays valid until
// close.
func (p *pollFile) fd() int {
	fd := -1
	_ = p.raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// setReadDeadline and setWriteDeadline bound waits for input and room.
func (p *pollFile) setReadDeadline(t time.Time) error  { return p.in.SetReadDeadline(t) }
func (p *pollFile) setWriteDeadline(t time.Time) error { return p.out.SetReadDeadline(t) }

// close ends every wait with an error (the poller's "use of closed
// file") and closes the descriptor once no call uses it.
func (p *pollFile) close() error {
	p.in.Close()
	p.out.Close()
	return p.f.Close()
}
