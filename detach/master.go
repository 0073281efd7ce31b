package detach

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Output queue bounds per client. A client is paced like dtach's: while
// every attached client has highWater bytes or more queued, the master stops
// reading the pty and the program blocks. A client that falls maxQueue
// bytes behind the others (it stopped reading while another kept up) is
// dropped, so one stuck client never freezes the session.
const (
	highWater = 128 << 10
	maxQueue  = 1 << 20
)

// drainTimeout bounds how long an exiting master waits for attached clients
// to read the program's last output.
const drainTimeout = 2 * time.Second

// DefaultWinsize is the window size of a session created without a terminal
// to copy it from.
var DefaultWinsize = Winsize{Rows: 24, Cols: 80}

// MasterOptions configures a session master.
type MasterOptions struct {
	Socket     string        // path of the session socket
	Argv       []string      // the program and its arguments
	WaitAttach bool          // read no output until the first client attached (-c, -A)
	Redraw     byte          // default redraw method; RedrawUnspec means ctrl_l
	Termios    *unix.Termios // terminal settings for the pty, nil for the kernel's defaults
	Winsize    Winsize       // initial window size, zero for DefaultWinsize
	Progname   string        // name used in messages, dtach's argv[0]
	Screen     ScreenOptions // the terminal emulator that repaints attaching clients
	Log        string        // a file to record the session in (asciicast v2), "" for none
	Held       bool          // the master holds a supervised program (see MsgLog)
}

// StartError is a failure to start a session, with the text dtach prints
// for it and the stream it prints it on.
type StartError struct {
	Msg    string
	Stderr bool // exec failures go to stderr, socket failures to stdout
	Err    error
}

// Error returns dtach's message.
func (e *StartError) Error() string { return e.Msg }

// Unwrap returns the underlying error.
func (e *StartError) Unwrap() error { return e.Err }

// Master is a running session master: a program on a pty, served to
// clients on a unix socket.
type Master struct {
	opts  MasterOptions
	ln    *Listener
	pty   *pollFile // its writes keep each client's keystrokes whole
	ptyFd int       // for ioctls and poll(2); reads and writes go through pty
	prog  *os.Process
	state *os.ProcessState // the program's, once exit is closed
	exit  chan struct{}    // closed when the program was waited for
	die   chan os.Signal   // SIGTERM and SIGINT, caught from before the socket exists

	trimPending atomic.Bool  // a memory trim is scheduled
	lastKeys    atomic.Int64 // when a client last typed, in Unix nanoseconds
	lastFlood   time.Time    // the output loop's: when a read last found the tty's buffer full
	ptyRead     ptyRead      // the output loop's: readPty's

	scr     *screen     // the terminal's state, nil with the emulator off
	cast    *castWriter // the recording, nil without one
	feed    *logFeed    // a held master's output for its log client, nil when not held
	replies chan []byte // the emulator's answers to queries, for the program; under scr.mu

	mu          sync.Mutex
	clients     map[*client]struct{}
	attached    []*client     // attached clients, rebuilt on every change
	wasAttached bool          // socket mode currently says "attached"
	gate        chan struct{} // closed when output may be read
	room        chan struct{} // a client drained or the client set changed
}

// StartMaster creates the socket and starts the program on a new pty. On
// failure nothing is left behind: no socket file, no process.
func StartMaster(opts MasterOptions) (_ *Master, err error) {
	if opts.Redraw == RedrawUnspec {
		opts.Redraw = RedrawCtrlL
	}
	if opts.Winsize.Rows == 0 || opts.Winsize.Cols == 0 {
		opts.Winsize = DefaultWinsize
	}
	sockErr := func(err error) error {
		return &StartError{Msg: opts.Progname + ": " + opts.Socket + ": " + Strerror(err), Err: err}
	}
	if err := CheckSocketPath(opts.Socket); err != nil {
		return nil, &StartError{Msg: opts.Progname + ": " + err.Error(), Err: err}
	}
	// SIGTERM and SIGINT are caught before the socket is made, not only
	// once Serve runs: a master killed at any moment after its caller saw
	// it start still removes its socket (Serve acts on one caught early).
	die := make(chan os.Signal, 1)
	signal.Notify(die, syscall.SIGTERM, syscall.SIGINT)
	defer func() {
		if err != nil {
			signal.Stop(die)
		}
	}()
	ln, err := Listen(opts.Socket)
	if err != nil {
		return nil, sockErr(err)
	}
	m := &Master{
		opts:    opts,
		ln:      ln,
		exit:    make(chan struct{}),
		die:     die,
		clients: make(map[*client]struct{}),
		gate:    make(chan struct{}),
		room:    make(chan struct{}, 1),
	}
	if opts.Log != "" {
		c, err := openCast(opts.Log, opts.Winsize)
		if err != nil {
			ln.Close()
			os.Remove(opts.Socket)
			return nil, &StartError{Msg: opts.Progname + ": " + err.Error(), Err: err}
		}
		m.cast = c
	}
	if err := m.startProgram(); err != nil {
		ln.Close()
		os.Remove(opts.Socket)
		if m.cast != nil {
			m.cast.close()
		}
		return nil, err
	}
	if opts.Held {
		m.feed = newLogFeed(m.Pid())
	}
	if !opts.Screen.Off {
		m.scr = newScreen(opts.Screen, opts.Winsize)
	}
	if !opts.WaitAttach {
		close(m.gate)
	}
	return m, nil
}

func (m *Master) startProgram() error {
	ptmx, tty, err := openPty()
	if err != nil {
		return &StartError{Msg: m.opts.Progname + ": init_pty: " + Strerror(err), Err: err}
	}
	defer tty.Close()
	if m.opts.Termios != nil {
		// Best effort, as in dtach: a pty with default settings still works.
		_ = unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, m.opts.Termios)
	}

	ws := m.opts.Winsize
	_ = unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: ws.Rows, Col: ws.Cols, Xpixel: ws.XPixel, Ypixel: ws.YPixel})

	// os.StartProcess, not os/exec: a master linking os/exec for this one
	// call cost 14 KB more private memory, idle (see README, Measured).
	path, err := lookPath(m.opts.Argv[0])
	if err == nil {
		m.prog, err = os.StartProcess(path, m.opts.Argv, &os.ProcAttr{
			Files: []*os.File{tty, tty, tty},
			Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
		})
	}
	if err != nil {
		ptmx.close()
		return &StartError{
			Msg:    m.opts.Progname + ": could not execute " + m.opts.Argv[0] + ": " + Strerror(errnoOf(err)) + "\r\n",
			Stderr: true,
			Err:    err,
		}
	}
	m.pty = ptmx
	m.ptyFd = ptmx.fd()
	go func() {
		m.state = waitExit(m.prog)
		close(m.exit)
	}()
	return nil
}

// lookPath finds the program to run as execvp(3) does, which dtach calls: a
// name with a slash is used as it is; any other is searched for in $PATH,
// where an empty entry is the working directory (an unset $PATH is
// glibc's /bin:/usr/bin). When no entry holds an executable file, the
// error is EACCES if one held a file that is not executable, else ENOENT.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = "/bin:/usr/bin" // glibc's default
	}
	notFound := syscall.ENOENT
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" {
			dir = "."
		}
		prog := dir + "/" + name
		fi, err := os.Stat(prog)
		switch {
		case err != nil:
		case fi.Mode().IsRegular() && fi.Mode()&0o111 != 0:
			return prog, nil
		default:
			notFound = syscall.EACCES
		}
	}
	return "", notFound
}

// openPty opens a new pty: its master side as a pollFile, its terminal
// side as a file for the program.
func openPty() (*pollFile, *os.File, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0) // unlockpt
	}
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	ptmx, err := newPollFile(fd, "/dev/ptmx")
	if err != nil {
		return nil, nil, err
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(n), 10), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ptmx.close()
		return nil, nil, err
	}
	return ptmx, tty, nil
}

// waitExit waits for prog to exit and reaps it, without holding a
// thread in a blocking wait all the while: the program's pidfd becomes
// readable when it exits, and the runtime's poller waits for that as it
// waits for the pty. An idle master then runs on fewer threads, each of
// which costs it private memory. Where pidfds are missing, the wait
// blocks as before.
func waitExit(prog *os.Process) *os.ProcessState {
	if fd, err := unix.PidfdOpen(prog.Pid, unix.PIDFD_NONBLOCK); err == nil {
		pidfd := os.NewFile(uintptr(fd), "pidfd")
		if raw, err := pidfd.SyscallConn(); err == nil {
			woken := false
			_ = raw.Read(func(uintptr) bool {
				done := woken
				woken = true
				return done
			})
		}
		pidfd.Close()
	}
	st, _ := prog.Wait()
	return st
}

// Pid returns the pid of the program on the pty.
func (m *Master) Pid() int { return m.prog.Pid }

// Serve runs the session until the program's side of the pty is closed or
// the master gets SIGTERM or SIGINT, then removes the socket. It returns the
// program's exit status, or 1 when the program did not exit by itself.
func (m *Master) Serve() int {
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGXFSZ)
	defer signal.Stop(m.die)

	if m.feed == nil {
		// A held master is its program's, not a session of it.
		defer m.announce()()
	}
	if m.cast != nil {
		defer m.cast.close()
	}
	go m.acceptLoop()
	ended := make(chan struct{})
	go func() {
		m.pump()
		close(ended)
	}()

	if m.feed != nil {
		return m.serveHeld(ended, m.die)
	}
	select {
	case <-ended:
	case <-m.die:
		os.Remove(m.opts.Socket)
		return 1
	}
	m.ln.Close()
	os.Remove(m.opts.Socket)
	m.flushClients()
	select {
	case <-m.exit:
	case <-time.After(drainTimeout):
		return 1
	}
	if st := m.state; st != nil && st.Exited() {
		return st.ExitCode()
	}
	return 1
}

// pump copies the pty's output to the attached clients until the pty
// closes. This loop is the single place output passes through. When the
// pty has nothing to read and the emulator has output left to parse, it
// parses a chunk: the emulator only ever gets the time forwarding leaves.
// Keys a client sent go first: the loop then waits on the pty a moment,
// which lets the goroutine reading them run, and it leaves the backlog
// alone while someone types (keysQuiet).
func (m *Master) pump() {
	<-m.gate
	m.ptyRead.fn = m.readPtySome
	buf := make([]byte, readBatch)
	var sinceTrim int
	yielding := false
	for {
		n, idle, err := m.readPty(buf, !yielding)
		if yielding {
			yielding = false
			_ = m.pty.setReadDeadline(time.Time{})
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
		}
		if idle {
			now := time.Now()
			wait := m.keysHold(now)
			if wait <= 0 && m.clientsWaiting() {
				wait = inputYield
			}
			if wait > 0 {
				// Wait on the pty instead: the scheduler then polls,
				// and a client's keys go in and its output goes out
				// now, not after the backlog was parsed.
				yielding = m.pty.setReadDeadline(now.Add(wait)) == nil
			}
			if !yielding {
				m.parseSome()
			}
			continue
		}
		if n >= ttyChunk {
			m.lastFlood = time.Now()
		}
		if n > 0 {
			if m.feed != nil {
				m.feed.output(buf[:n])
			}
			m.broadcast(buf[:n])
			if m.cast != nil {
				m.cast.output(buf[:n])
			}
			sinceTrim += n
			if sinceTrim > trimAfter && m.trimPending.CompareAndSwap(false, true) {
				sinceTrim = 0
				time.AfterFunc(trimDelay, m.trim)
			}
		}
		if err != nil {
			return
		}
	}
}

// inputYield is how long the output loop, with a backlog to parse, stops
// parsing when a client sent something: long enough for the client's
// keys to reach the program, which answers by waking the loop anyway.
const inputYield = time.Millisecond

// keysQuiet is how long after a client's last keys the output loop leaves
// the emulator's backlog alone: while someone types, the CPU goes to the
// keys and their echoes, and the emulator catches up in the pauses.
const keysQuiet = 10 * time.Millisecond

// keysHold returns how long from now the backlog waits for keysQuiet to
// pass since the last keys; 0 or less when it need not.
func (m *Master) keysHold(now time.Time) time.Duration {
	return time.Unix(0, m.lastKeys.Load()).Add(keysQuiet).Sub(now)
}

// parseQuiet is how long after a flood's last full read the output loop,
// waiting for a full client, starts parsing the emulator's backlog again.
const parseQuiet = 5 * time.Millisecond

// clientsWaiting reports whether a client sent something not yet read,
// or has output queued and room for it in its socket. With GOMAXPROCS=1
// the goroutines reading and writing clients run only once the output
// loop waits, so while the loop parses a backlog it asks the kernel
// itself.
func (m *Master) clientsWaiting() bool {
	var fds [8]unix.PollFd
	m.mu.Lock()
	polled := fds[:0]
	for c := range m.clients {
		if len(polled) == len(fds) {
			break
		}
		// A closed client's descriptor number may be another file's by now.
		if events := c.pollEvents(); events != 0 {
			polled = append(polled, unix.PollFd{Fd: int32(c.fd), Events: events})
		}
	}
	m.mu.Unlock()
	if n, err := unix.Poll(polled, 0); err != nil || n == 0 {
		return false
	}
	for _, p := range polled {
		if p.Revents&(unix.POLLIN|unix.POLLOUT) != 0 {
			return true
		}
	}
	return false
}

// After a burst of output (trimAfter bytes) the master hands the memory
// its client queues grew back to the kernel once trimDelay has passed, so
// an idle session stays small; a quiet session never pays for it.
const (
	trimAfter = 1 << 20
	trimDelay = 2 * time.Second
)

func (m *Master) trim() {
	if m.scr != nil {
		m.mu.Lock()
		m.scr.release()
		m.mu.Unlock()
	}
	debug.FreeOSMemory()
	m.trimPending.Store(false)
}

// ttyChunk is what one read of a full pty master returns: the tty layer's
// buffer is 4096 bytes and keeps one free (n_tty's receive room), so a
// read that got ttyChunk bytes or more (the kernel may refill the buffer
// during the read) found it full, and more is coming.
// readBatch is how much output is gathered before it is sent.
const (
	ttyChunk  = 4096 - 1
	readBatch = 16 * ttyChunk
)

// readPty reads what the pty holds into buf, several reads to one batch so
// a flood costs fewer writes to clients, and waits in the runtime's poller
// only when nothing at all was read: an interactive echo goes out at once.
// Instead of waiting it reports idle when the emulator has output to parse
// (unless mayIdle is false). Only the output loop calls it.
func (m *Master) readPty(buf []byte, mayIdle bool) (n int, idle bool, readErr error) {
	r := &m.ptyRead
	r.buf, r.n, r.idle, r.err, r.mayIdle = buf, 0, false, nil, mayIdle
	err := m.pty.readWith(r.fn)
	r.buf = nil
	if r.err == nil {
		r.err = err
	}
	return r.n, r.idle, r.err
}

// ptyRead is readPty's state, kept in the Master so that a read allocates
// nothing.
type ptyRead struct {
	buf     []byte
	n       int
	idle    bool
	err     error
	mayIdle bool
	fn      func(fd int) bool // m.readPtySome, bound once by pump
}

func (m *Master) readPtySome(fd int) bool {
	r := &m.ptyRead
	for r.n+ttyChunk <= len(r.buf) {
		c, err := readNB(fd, r.buf[r.n:])
		switch {
		case c > 0:
			r.n += c
			if r.n < ttyChunk {
				// A first read that came back short emptied the
				// tty's buffer (a keystroke's echo, say): send now
				// rather than pay a read that finds nothing.
				return true
			}
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			if r.n == 0 && r.mayIdle && m.scr != nil && m.scr.backlog.Load() {
				r.idle = true
				return true
			}
			return r.n > 0
		case err == nil:
			r.err = io.EOF
			return true
		default:
			r.err = err
			return true
		}
	}
	return true
}

// broadcast hands p to every attached client, waiting while all of them
// are full, and to the emulator's ring. With nobody attached the emulator
// parses the output at once; without an emulator it is dropped, as dtach
// does.
func (m *Master) broadcast(p []byte) {
	if m.scr != nil {
		m.broadcastScreen(p)
		return
	}
	for {
		m.mu.Lock()
		if len(m.attached) == 0 {
			m.mu.Unlock()
			return
		}
		if m.anyRoomLocked() {
			m.sendLocked(p)
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		<-m.room
	}
}

// sendLocked hands p to every attached client; m.mu is held.
func (m *Master) sendLocked(p []byte) {
	dropped := false
	for _, c := range m.attached {
		if !c.send(p) {
			dropped = true
		}
	}
	if dropped {
		m.refreshAttachedLocked()
	}
}

// waitRoom waits until a client drained or the client set changed,
// parsing the emulator's backlog meanwhile, unless a client waits,
// someone types (keysQuiet) or a flood goes on (output read a full tty
// buffer at a time): parsing then takes the CPU the clients need to catch
// up, for bytes mostly overwritten before anyone looks.
func (m *Master) waitRoom() {
	for m.scr.backlog.Load() && !m.clientsWaiting() {
		now := time.Now()
		if wait := max(m.lastFlood.Add(parseQuiet).Sub(now), m.keysHold(now)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-m.room:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		select {
		case <-m.room:
			return
		default:
		}
		m.parseSome()
	}
	<-m.room
}

func (m *Master) anyRoomLocked() bool {
	for _, c := range m.attached {
		if c.hasRoom() {
			return true
		}
	}
	return false
}

// signalRoom wakes a broadcast waiting for room, without blocking.
func (m *Master) signalRoom() {
	select {
	case m.room <- struct{}{}:
	default:
	}
}

// refreshAttachedLocked rebuilds the attached list and keeps the socket's
// owner-execute bit in step with it.
func (m *Master) refreshAttachedLocked() {
	m.attached = m.attached[:0]
	for c := range m.clients {
		if c.attached && !c.isClosed() {
			m.attached = append(m.attached, c)
		}
	}
	now := len(m.attached) > 0
	if now != m.wasAttached {
		m.wasAttached = now
		setOwnerExec(m.opts.Socket, now)
	}
}

func setOwnerExec(path string, on bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	mode := fi.Mode().Perm()
	if on {
		mode |= 0o100
	} else {
		mode &^= 0o100
	}
	if mode != fi.Mode().Perm() {
		_ = os.Chmod(path, mode)
	}
}

func (m *Master) acceptLoop() {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// EMFILE and the like: back off rather than spin.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c := newClient(conn, m.signalRoom)
		m.mu.Lock()
		m.clients[c] = struct{}{}
		m.mu.Unlock()
		go c.writeLoop()
		go m.readClient(c)
	}
}

// attachGrace is how long an attach waits for the MsgRedraw that carries
// the client's window size (dtach's client writes the two packets one after
// the other). The repaint answers that handshake, made at the client's
// size; a client that sends MsgAttach alone gets the bare output stream, as
// from dtach.
const attachGrace = 30 * time.Millisecond

// readClient applies one client's packets until it hangs up.
func (m *Master) readClient(c *client) {
	var framer Framer
	buf := make([]byte, 16*PacketSize)
	graced := false
	for {
		n, err := c.read(buf)
		framer.Feed(buf[:n], func(p Packet) { m.handle(c, p) })
		if err != nil {
			if c.pendingAttach && errors.Is(err, os.ErrDeadlineExceeded) {
				_ = c.conn.setReadDeadline(time.Time{})
				graced = false
				c.pendingAttach = false
				m.setAttached(c, true)
				continue
			}
			break
		}
		switch {
		case c.pendingAttach:
			_ = c.conn.setReadDeadline(time.Now().Add(attachGrace))
			graced = true
		case graced:
			_ = c.conn.setReadDeadline(time.Time{})
			graced = false
		}
	}
	c.close()
	m.mu.Lock()
	delete(m.clients, c)
	m.refreshAttachedLocked()
	m.mu.Unlock()
	m.signalRoom()
}

func (m *Master) handle(c *client, p Packet) {
	if c.pendingAttach && p.Type != MsgRedraw && p.Type != MsgWinch {
		// Not the attach handshake: attach with no repaint.
		c.pendingAttach = false
		m.setAttached(c, true)
	}
	switch p.Type {
	case MsgPush:
		// Copied out, so that p stays on the stack: no garbage per key.
		if n := copy(c.keys[:], p.Keys()); n > 0 {
			m.lastKeys.Store(time.Now().UnixNano())
			m.writePty(c.keys[:n])
		}
	case MsgAttach:
		if m.scr != nil && c.replay != ReplayNone {
			// Repainted once the MsgRedraw that follows says the
			// client's window size.
			c.pendingAttach = true
			return
		}
		m.setAttached(c, true)
	case MsgDetach:
		m.setAttached(c, false)
	case MsgWinch:
		m.setWinsize(p.Winsize())
	case MsgRedraw:
		if c.pendingAttach {
			method := m.redrawMethod(p.Len)
			var ws *Winsize
			if w := p.Winsize(); method != RedrawNone && w.Rows > 0 && w.Cols > 0 {
				ws = &w
			}
			m.finishAttach(c, ws, method)
		}
		m.redraw(p.Len, p.Winsize())
	case MsgReplay:
		c.replay = p.Len
	case MsgLog:
		if m.feed != nil && !c.attached {
			m.feed.connect(c.conn)
		}
	case MsgExitAck:
		if m.feed != nil {
			m.feed.ack()
		}
	case MsgLogAck:
		if m.feed != nil {
			m.feed.ackOutput(binary.BigEndian.Uint64(p.Data[:]))
		}
	case MsgStatus:
		if !c.attached {
			c.send(append(m.status().json(), '\n'))
			c.finish(time.Now().Add(drainTimeout))
		}
	}
	// Unknown packet types are ignored, as in dtach.
}

func (m *Master) setAttached(c *client, on bool) {
	m.mu.Lock()
	m.setAttachedLocked(c, on)
	m.mu.Unlock()
	m.signalRoom()
}

func (m *Master) setAttachedLocked(c *client, on bool) {
	c.attached = on
	if on {
		select {
		case <-m.gate:
		default:
			close(m.gate)
		}
	}
	m.refreshAttachedLocked()
}

// finishAttach attaches a client with a repaint, made at window size ws
// when not nil. When output was lost to the emulator since the last
// attach, the program is asked to redraw itself too (unless the client's
// redraw method does that anyway).
func (m *Master) finishAttach(c *client, ws *Winsize, method byte) {
	c.pendingAttach = false
	stale := m.attachWithRepaint(c, ws)
	m.signalRoom()
	if stale && method != RedrawWinch {
		m.signalProgram(syscall.SIGWINCH)
	}
}

// writePty types b into the program, waiting while its input is full.
func (m *Master) writePty(b []byte) {
	_ = m.pty.writeAll(b)
}

// setWinsize sets the pty's window size and brings the emulator to it (a
// size with no rows or columns is left to the pty alone).
func (m *Master) setWinsize(ws Winsize) {
	if m.cast != nil && ws.Rows > 0 && ws.Cols > 0 {
		m.cast.resize(ws)
	}
	if m.scr != nil && ws.Rows > 0 && ws.Cols > 0 {
		m.resizeScreen(ws)
		return
	}
	m.setPtySize(ws)
}

func (m *Master) setPtySize(ws Winsize) {
	_ = unix.IoctlSetWinsize(m.ptyFd, unix.TIOCSWINSZ, &unix.Winsize{
		Row: ws.Rows, Col: ws.Cols, Xpixel: ws.XPixel, Ypixel: ws.YPixel,
	})
}

// redraw asks the program to repaint, as dtach's master does: the window
// size is set, then ^L is typed (only for a program reading raw keys with
// echo off) or SIGWINCH sent.
func (m *Master) redraw(method byte, ws Winsize) {
	method = m.redrawMethod(method)
	if method == RedrawNone {
		return
	}
	m.setWinsize(ws)
	switch method {
	case RedrawCtrlL:
		t, err := unix.IoctlGetTermios(m.ptyFd, unix.TCGETS)
		if err == nil && t.Lflag&(unix.ECHO|unix.ICANON) == 0 && t.Cc[unix.VMIN] == 1 {
			m.writePty([]byte{'\f'})
		}
	case RedrawWinch:
		m.signalProgram(syscall.SIGWINCH)
	}
}

func (m *Master) redrawMethod(method byte) byte {
	if method == RedrawUnspec {
		return m.opts.Redraw
	}
	return method
}

// signalProgram sends sig to the pty's foreground process group.
func (m *Master) signalProgram(sig syscall.Signal) {
	if err := unix.IoctlSetPointerInt(m.ptyFd, unix.TIOCSIG, int(sig)); err == nil {
		return
	}
	if pgrp, err := unix.IoctlGetInt(m.ptyFd, unix.TIOCGPGRP); err == nil && pgrp > 0 {
		if syscall.Kill(-pgrp, sig) == nil {
			return
		}
	}
	_ = syscall.Kill(-m.prog.Pid, sig)
}

// flushClients gives attached clients a bounded time to read the last
// output, then hangs up on every client so each sees the end.
func (m *Master) flushClients() {
	deadline := time.Now().Add(drainTimeout)
	m.mu.Lock()
	clients := make([]*client, 0, len(m.clients))
	for c := range m.clients {
		clients = append(clients, c)
	}
	m.mu.Unlock()
	for _, c := range clients {
		c.finish(deadline)
	}
}
