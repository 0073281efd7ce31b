package detach

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSunPath is the longest path a struct sockaddr_un holds, NUL excluded.
const maxSunPath = len(unix.RawSockaddrUnix{}.Path) - 1

// ErrNameTooLong reports a socket whose file name alone does not fit in a
// struct sockaddr_un, so no directory trick can reach it.
var ErrNameTooLong = errors.New("socket name too long")

// CheckSocketPath reports whether path can name a session socket. A long
// path is fine (it is reached through its directory, as dtach does); a file
// name longer than sun_path is not.
func CheckSocketPath(path string) error {
	if path == "" {
		return errors.New("check socket path: empty path")
	}
	if name := filepath.Base(path); len(name) > maxSunPath {
		return &wrapError{"check socket path " + path + ": " + ErrNameTooLong.Error() + ": the file name is " +
			strconv.Itoa(len(name)) + " bytes, at most " + strconv.Itoa(maxSunPath) + " fit in a unix socket address", ErrNameTooLong}
	}
	return nil
}

// withShortPath calls fn with an address for path that fits in sun_path.
// A path too long is reached through its directory, as dtach does with a
// chdir: fn runs on an OS thread of its own whose working directory (and only
// its own, after unshare(CLONE_FS)) is the socket's directory, and gets the
// bare file name. Any name dtach accepts, up to sun_path's 107 bytes, works.
func withShortPath(path string, fn func(addr string) error) error {
	if len(path) <= maxSunPath {
		return fn(path)
	}
	if err := CheckSocketPath(path); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread's working directory is no longer the
		// process's, so the runtime must end the thread with this goroutine
		// rather than reuse it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- wrap("reach the socket's directory "+filepath.Dir(path)+": unshare", err)
			return
		}
		if err := unix.Chdir(filepath.Dir(path)); err != nil {
			errc <- &os.PathError{Op: "chdir", Path: filepath.Dir(path), Err: err}
			return
		}
		errc <- fn(filepath.Base(path))
	}()
	return <-errc
}

// Dial connects to the session socket at path. Its errors carry dtach's
// errno: ENOENT when nothing is there, ENOTSOCK for a file that is not a
// socket and ECONNREFUSED for a socket nobody listens on (a stale one).
// The connection is a non-blocking socket in the runtime's poller, as a
// Listener's are.
func Dial(path string) (*os.File, error) {
	var conn *os.File
	err := withShortPath(path, func(addr string) error {
		c, err := dialUnix(addr)
		conn = c
		return err
	})
	if err == nil {
		return conn, nil
	}
	errno := errnoOf(err)
	if errno == syscall.ECONNREFUSED {
		// Connecting to a regular file is refused too: tell the two apart.
		if fi, statErr := os.Stat(path); statErr != nil {
			errno = errnoOf(statErr)
		} else if fi.Mode()&os.ModeSocket == 0 {
			errno = syscall.ENOTSOCK
		}
	}
	return nil, &os.PathError{Op: "connect", Path: path, Err: errno}
}

// dialUnix connects to addr; the connect blocks while the listener's
// backlog is full, as dtach's does.
func dialUnix(addr string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: addr})
		if err != unix.EINTR {
			break
		}
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("connect", err)
	}
	return os.NewFile(uintptr(fd), addr), nil
}

// Listen creates the session socket at path, mode 0600 from its first
// instant. An existing file, even a stale socket, is "address already in
// use", as in dtach; callers that want to replace a stale socket remove it
// first. The listener does not unlink the file when closed.
func Listen(path string) (*Listener, error) {
	var l *Listener
	err := withShortPath(path, func(addr string) error {
		// The umask makes bind create the file 0600 atomically. It is
		// process-wide: Listen runs while the master starts, before it
		// creates anything else.
		old := unix.Umask(0o177)
		defer unix.Umask(old)
		ln, err := listenUnix(addr)
		l = ln
		return err
	})
	if err != nil {
		return nil, &os.PathError{Op: "bind", Path: path, Err: errnoOf(err)}
	}
	return l, nil
}

// A Listener is a master's listening socket. It and the connections it
// accepts are plain non-blocking sockets in the runtime's poller, as
// *os.File: the net package would add 90 KB to the binary every master
// maps.
type Listener struct{ f *os.File }

func listenUnix(addr string) (*Listener, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Listener{f: os.NewFile(uintptr(fd), addr)}, nil
}

// Accept waits for a connection. Once the listener is closed it returns
// an error wrapping os.ErrClosed.
func (l *Listener) Accept() (*pollFile, error) {
	raw, err := l.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var acceptErr error
	err = raw.Read(func(fd uintptr) bool {
		for {
			nfd, _, acceptErr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC)
			if acceptErr != unix.EINTR {
				return acceptErr != unix.EAGAIN
			}
		}
	})
	switch {
	case err != nil:
		return nil, err
	case acceptErr != nil:
		return nil, os.NewSyscallError("accept4", acceptErr)
	}
	return newPollFile(nfd, "client")
}

// Close stops listening; the socket file stays.
func (l *Listener) Close() error { return l.f.Close() }

// errnoOf digs the errno out of err, or returns err itself.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// Strerror spells an error the way C's strerror does ("Connection
// refused"), for messages that must match dtach's.
func Strerror(err error) string {
	err = errnoOf(err)
	s := err.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
