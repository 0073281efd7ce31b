package detach

import (
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
type pollFile struct {
	f   *os.File // outside the runtime's poller: keeps fd open while in use
	raw syscall.RawConn
	in  *os.File // epoll instance: f for input, always
	out *os.File // epoll instance: f for room, only while a write waits

	inRaw, outRaw syscall.RawConn
	writeMu       sync.Mutex // one writer waits on out at a time
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

// read calls fn with the descriptor until it returns true, waiting for
// input between calls, like syscall.RawConn's Read. It fails once the
// file is closed or past the read deadline.
func (p *pollFile) read(fn func(fd int) bool) error {
	return p.waitOn(p.inRaw, fn)
}

// write calls fn with the descriptor until it returns true, waiting for
// room between calls, like syscall.RawConn's Write. It fails once the
// file is closed or past the write deadline.
func (p *pollFile) write(fn func(fd int) bool) error {
	done := false
	if err := p.raw.Control(func(fd uintptr) { done = fn(int(fd)) }); err != nil || done {
		return err
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	var fd int
	_ = p.raw.Control(func(f uintptr) { fd = int(f) })
	var ep int
	if err := p.outRaw.Control(func(f uintptr) { ep = int(f) }); err != nil {
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	defer unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, fd, nil)
	return p.waitOn(p.outRaw, fn)
}

// waitOn calls fn with the descriptor until it returns true, waiting for
// the epoll instance on between calls.
func (p *pollFile) waitOn(on syscall.RawConn, fn func(fd int) bool) error {
	var cerr error
	err := on.Read(func(uintptr) bool {
		done := false
		if cerr = p.raw.Control(func(fd uintptr) { done = fn(int(fd)) }); cerr != nil {
			return true
		}
		return done
	})
	if err != nil {
		return err
	}
	return cerr
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

// close wakes every wait with os.ErrClosed and closes the descriptor once
// no call uses it.
func (p *pollFile) close() error {
	p.in.Close()
	p.out.Close()
	return p.f.Close()
}
