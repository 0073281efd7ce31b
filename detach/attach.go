package detach

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// eos moves the cursor to the bottom of the screen before a status line.
const eos = "\033[999H"

// DefaultDetachChar is dtach's detach key, ^\.
const DefaultDetachChar = 0x1c

// NoDetachChar disables the detach key (dtach -E).
const NoDetachChar = -1

// AttachOptions configures a client attaching a terminal to a session.
type AttachOptions struct {
	Socket     string
	DetachChar int  // a byte value, or NoDetachChar
	Redraw     byte // redraw method asked of the master
	Replay     byte // what a keeper master repaints on attach (MsgReplay); ReplayUnspec sends nothing
	NoSuspend  bool // pass the suspend key to the program (dtach -z)
	In, Out    *os.File
}

// Attach connects the terminal on opts.In and opts.Out to the session and
// relays keys and output until the user detaches, the session ends or a
// signal arrives. The terminal's settings are restored on every path. It
// returns dtach's exit status; a connection failure is returned as an
// error (a *os.PathError holding the errno) before the terminal is touched.
func Attach(opts AttachOptions) (int, error) {
	conn, err := Dial(opts.Socket)
	if err != nil {
		return 1, err
	}
	defer conn.Close()
	return attachConn(conn, opts)
}

// attachment is one attached terminal's state.
type attachment struct {
	opts    AttachOptions
	conn    *os.File
	inFd    int
	orig    unix.Termios
	raw     unix.Termios
	hasOrig bool
	packets []byte
}

func attachConn(conn *os.File, opts AttachOptions) (int, error) {
	a := &attachment{opts: opts, conn: conn, inFd: int(opts.In.Fd())}
	if t, err := unix.IoctlGetTermios(a.inFd, unix.TCGETS); err == nil {
		a.orig, a.hasOrig = *t, true
	}
	a.raw = makeRaw(a.orig)
	a.setTerm(&a.raw)
	// Like dtach's atexit handler: runs after the last status line.
	defer a.restoreTerm()

	signal.Ignore(syscall.SIGPIPE, syscall.SIGXFSZ)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGWINCH)
	defer signal.Stop(sigs)

	// Clear the screen (assumes a VT100), then ask to attach and redraw.
	io.WriteString(opts.Out, "\033[H\033[J")
	a.sendAttach()

	type ending struct {
		msg  string
		code int
	}
	done := make(chan ending, 2)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if _, werr := opts.Out.Write(buf[:n]); werr != nil {
					done <- ending{"", 1}
					return
				}
			}
			if err == io.EOF {
				done <- ending{eos + "\r\n[EOF - dtach terminating]\r\n", 0}
				return
			}
			if err != nil {
				done <- ending{eos + "\r\n[read returned an error]\r\n", 1}
				return
			}
		}
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := opts.In.Read(buf)
			if n <= 0 || err != nil && n == 0 {
				done <- ending{"", 1}
				return
			}
			if msg, code, stop := a.keys(buf[:n]); stop {
				done <- ending{msg, code}
				return
			}
		}
	}()

	for {
		select {
		case e := <-done:
			io.WriteString(opts.Out, e.msg)
			return e.code, nil
		case sig := <-sigs:
			switch sig {
			case syscall.SIGWINCH:
				a.send(WinsizePacket(MsgWinch, 0, a.winsize()))
			case syscall.SIGHUP, syscall.SIGINT:
				io.WriteString(opts.Out, eos+"\r\n[detached]\r\n")
				return 1, nil
			default:
				fmt.Fprintf(opts.Out, eos+"\r\n[got signal %d - dying]\r\n", sig.(syscall.Signal))
				return 1, nil
			}
		}
	}
}

// keys handles one read from the keyboard: the detach and suspend keys
// act, everything else goes to the program. stop is true when the client
// is to exit with msg and code.
func (a *attachment) keys(b []byte) (msg string, code int, stop bool) {
	suspend := -1
	if !a.opts.NoSuspend && a.hasOrig {
		suspend = int(a.orig.Cc[unix.VSUSP])
	}
	redraw := false
	for i, c := range b {
		switch int(c) {
		case a.opts.DetachChar:
			a.push(b[:i])
			return eos + "\r\n[detached]\r\n", 0, true
		case suspend:
			a.push(b[:i])
			a.suspend()
			return a.keys(b[i+1:])
		case '\f':
			// The user asked the program to repaint: make sure it
			// has the right size first, as dtach does.
			redraw = true
		}
	}
	a.push(b)
	if redraw {
		a.send(WinsizePacket(MsgWinch, 0, a.winsize()))
	}
	return "", 0, false
}

func (a *attachment) push(keys []byte) {
	if len(keys) == 0 {
		return
	}
	a.packets = AppendPush(a.packets[:0], keys)
	a.conn.Write(a.packets)
}

func (a *attachment) send(p Packet) {
	b := p.Encode()
	a.conn.Write(b[:])
}

// sendAttach asks to attach, in one write so the master sees the window
// size with the attach: the replay choice (a dtach master ignores it), the
// attach, the redraw with the window size.
func (a *attachment) sendAttach() {
	var b []byte
	if a.opts.Replay != ReplayUnspec {
		p := Packet{Type: MsgReplay, Len: a.opts.Replay}.Encode()
		b = append(b, p[:]...)
	}
	p := Packet{Type: MsgAttach}.Encode()
	b = append(b, p[:]...)
	p = WinsizePacket(MsgRedraw, a.opts.Redraw, a.winsize()).Encode()
	b = append(b, p[:]...)
	a.conn.Write(b)
}

// suspend stops this client with the shell's job control, detached from
// the session meanwhile.
func (a *attachment) suspend() {
	a.send(Packet{Type: MsgDetach})
	a.setTerm(&a.orig)
	io.WriteString(a.opts.Out, eos+"\r\n")
	// In a Go process the thread that sends itself SIGTSTP may run on
	// before the stop takes hold: wait for the SIGCONT that ends it, or
	// the attach below would reach the master before the stop.
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, syscall.SIGCONT)
	_ = syscall.Kill(os.Getpid(), syscall.SIGTSTP)
	<-cont
	signal.Stop(cont)
	a.setTerm(&a.raw)
	a.sendAttach()
}

func (a *attachment) winsize() Winsize {
	w, err := unix.IoctlGetWinsize(a.inFd, unix.TIOCGWINSZ)
	if err != nil {
		return Winsize{}
	}
	return Winsize{Rows: w.Row, Cols: w.Col, XPixel: w.Xpixel, YPixel: w.Ypixel}
}

func (a *attachment) setTerm(t *unix.Termios) {
	if a.hasOrig {
		_ = unix.IoctlSetTermios(a.inFd, unix.TCSETSW, t)
	}
}

// restoreTerm puts the terminal back as it was and the cursor on.
func (a *attachment) restoreTerm() {
	a.setTerm(&a.orig)
	io.WriteString(a.opts.Out, "\033[?25h")
}

// makeRaw returns t in the raw mode dtach's client uses.
func makeRaw(t unix.Termios) unix.Termios {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VLNEXT] = 0 // _POSIX_VDISABLE
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return t
}
