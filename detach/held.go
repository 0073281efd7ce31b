package detach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A held master (MasterOptions.Held) holds a program a supervisor runs on
// its own terminal. On top of dtach's protocol it serves one keeper-only
// client, the supervisor's log client: a connection that sends MsgLog
// instead of MsgAttach gets the program's pid, every byte of its output
// and, once it exited, its wait status, as frames (LogFrame). The master
// keeps that status, and itself, until a log client sends MsgExitAck, so a
// supervisor that was down when the program exited still learns how.
//
// The no-wedge rule holds: output for the log client is appended to a
// buffer the pty reader never waits on. While no log client is connected,
// or one does not keep up, the buffer keeps the last LogBacklog bytes,
// which the next log client gets first.
const (
	MsgLog     = 18 // keeper: this connection is the supervisor's log client
	MsgExitAck = 19 // keeper: the log client has the program's exit status
	MsgLogAck  = 20 // keeper: the log client has the output up to Data's offset (uint64, big-endian)
)

// LogBacklog is the most output a held master keeps for its log client.
const LogBacklog = 1 << 20

// Kinds of the frames a held master sends its log client.
const (
	FramePid    = 'p' // Data: the program's pid (4 bytes), the offset of the output that follows (8)
	FrameOutput = 'o' // Data: output of the program's terminal
	FrameExit   = 'x' // Data: the program's wait status, 4 bytes
)

// logFrameHeader is a frame's kind and its data's length (4 bytes).
const logFrameHeader = 5

// LogFrame is one message from a held master to its log client.
type LogFrame struct {
	Kind byte
	Data []byte
}

// Uint32 returns the number a FrameExit frame carries, or a FramePid
// frame's pid.
func (f LogFrame) Uint32() uint32 {
	if len(f.Data) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(f.Data)
}

// Offset returns the offset a FramePid frame carries.
func (f LogFrame) Offset() uint64 {
	if len(f.Data) != 12 {
		return 0
	}
	return binary.BigEndian.Uint64(f.Data[4:])
}

func appendFrameHeader(dst []byte, kind byte, n int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, kind), uint32(n))
}

func uint32Frame(kind byte, v uint32) []byte {
	return binary.BigEndian.AppendUint32(appendFrameHeader(nil, kind, 4), v)
}

// maxFrame bounds a frame's data, so a garbled stream cannot make the
// reader allocate without bound.
const maxFrame = LogBacklog + readBatch

// ReadLogFrame reads one frame from r.
func ReadLogFrame(r io.Reader) (LogFrame, error) {
	var h [logFrameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return LogFrame{}, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return LogFrame{}, errors.New("read log frame: " + strconv.FormatUint(uint64(n), 10) + " bytes, more than " + strconv.Itoa(maxFrame))
	}
	f := LogFrame{Kind: h[0], Data: make([]byte, n)}
	if _, err := io.ReadFull(r, f.Data); err != nil {
		return LogFrame{}, wrap("read log frame", io.ErrUnexpectedEOF)
	}
	return f, nil
}

// OutputAck is what a log client sends once it has the output up to
// offset (counted from the program's first byte): the master lets it go.
func OutputAck(offset uint64) []byte {
	p := Packet{Type: MsgLogAck}
	binary.BigEndian.PutUint64(p.Data[:], offset)
	b := p.Encode()
	return b[:]
}

// LogHello is what a log client sends first.
func LogHello() []byte {
	b := Packet{Type: MsgLog}.Encode()
	return b[:]
}

// ExitAck is what a log client sends once it has the exit status.
func ExitAck() []byte {
	b := Packet{Type: MsgExitAck}.Encode()
	return b[:]
}

// logFeed is a held master's output for its log client: a bounded buffer
// appended to by the pty reader, written out by a goroutine of its own.
// Output stays in the buffer until the client acknowledged it (MsgLogAck),
// not merely until it was written: bytes in the socket of a supervisor that
// died unread are sent again to the next one.
type logFeed struct {
	pid int

	mu       sync.Mutex
	buf      []byte    // output not yet acknowledged
	base     uint64    // the offset in the whole output of buf[0]
	sent     int       // bytes of buf written to the current client
	conn     *pollFile // the current log client, nil while none
	greeted  bool      // the current client got the pid frame
	exit     []byte    // the exit frame, once the program was waited for
	exitSent bool      // the current client got the exit frame
	wake     chan struct{}
	acked    chan struct{} // closed when a log client acknowledged the exit
	ackOnce  sync.Once
}

func newLogFeed(pid int) *logFeed {
	f := &logFeed{pid: pid, wake: make(chan struct{}, 1), acked: make(chan struct{})}
	go f.writeLoop()
	return f
}

// output keeps p for the log client, dropping the oldest bytes beyond
// LogBacklog. It never waits for the client.
func (f *logFeed) output(p []byte) {
	f.mu.Lock()
	f.buf = append(f.buf, p...)
	if over := len(f.buf) - LogBacklog; over > 0 {
		f.dropLocked(over)
	}
	f.mu.Unlock()
	f.kick()
}

func (f *logFeed) dropLocked(n int) {
	f.buf = append(f.buf[:0], f.buf[n:]...)
	f.base += uint64(n)
	f.sent = max(0, f.sent-n)
}

// ackOutput records that the log client has the output up to offset.
func (f *logFeed) ackOutput(offset uint64) {
	f.mu.Lock()
	if offset > f.base {
		f.dropLocked(int(min(offset-f.base, uint64(f.sent))))
	}
	f.mu.Unlock()
}

// exited records the program's wait status for the log client.
func (f *logFeed) exited(status syscall.WaitStatus) {
	f.mu.Lock()
	f.exit = uint32Frame(FrameExit, uint32(status))
	f.mu.Unlock()
	f.kick()
}

// connect makes conn the log client, replacing an earlier one: it gets
// every byte not acknowledged yet.
func (f *logFeed) connect(conn *pollFile) {
	f.mu.Lock()
	old := f.conn
	f.conn, f.greeted, f.sent, f.exitSent = conn, false, 0, false
	f.mu.Unlock()
	if old != nil && old != conn {
		old.close()
	}
	f.kick()
}

func (f *logFeed) ack() { f.ackOnce.Do(func() { close(f.acked) }) }

func (f *logFeed) kick() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes the buffer to the log client as output frames, the pid
// frame (with the offset of the first byte that follows) first on every
// new connection, and the exit frame once everything else went out.
func (f *logFeed) writeLoop() {
	for range f.wake {
		for {
			f.mu.Lock()
			conn := f.conn
			if conn == nil || (f.greeted && f.sent == len(f.buf) && (f.exit == nil || f.exitSent)) {
				f.mu.Unlock()
				break
			}
			var msg []byte
			if !f.greeted {
				msg = appendFrameHeader(nil, FramePid, 12)
				msg = binary.BigEndian.AppendUint32(msg, uint32(f.pid))
				msg = binary.BigEndian.AppendUint64(msg, f.base+uint64(f.sent))
				f.greeted = true
			}
			if batch := f.buf[f.sent:]; len(batch) > 0 {
				msg = appendFrameHeader(msg, FrameOutput, len(batch))
				msg = append(msg, batch...)
				f.sent = len(f.buf)
			} else if f.exit != nil {
				msg = append(msg, f.exit...)
				f.exitSent = true
			}
			f.mu.Unlock()

			if err := conn.writeAll(msg); err != nil {
				f.mu.Lock()
				if f.conn == conn {
					f.conn = nil
				}
				f.mu.Unlock()
				conn.close()
			}
		}
	}
}

// HeldMaster is a held master's process, prepared by PrepareHeldMaster:
// the caller sets its credentials and starts it with its own reaper.
type HeldMaster struct {
	Cmd    *exec.Cmd
	opts   MasterOptions
	parent *os.File
	child  *os.File
}

// PrepareHeldMaster prepares the master of a supervised program: env and
// dir are the program's, and the master runs in a session of its own with
// stdio on /dev/null. Start it, then call Started.
func PrepareHeldMaster(opts MasterOptions, env []string, dir string) (*HeldMaster, error) {
	opts.Held = true
	exe, err := masterExecutable()
	if err != nil {
		return nil, fmt.Errorf("prepare master of %s: %w", opts.Argv[0], err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("prepare master of %s: %w", opts.Argv[0], err)
	}
	h := &HeldMaster{
		opts:   opts,
		parent: os.NewFile(uintptr(fds[0]), "master-status"),
		child:  os.NewFile(uintptr(fds[1]), "master-status"),
	}
	h.Cmd = &exec.Cmd{
		Path:        exe,
		Args:        masterArgs("keeper", opts, false),
		Env:         masterEnv(env),
		Dir:         dir,
		ExtraFiles:  []*os.File{h.child},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	return h, nil
}

// Started hands the started master its settings and waits for its report:
// nil once the socket listens and the program runs. Call it (with started
// false when the start failed) to release the start-up channel.
func (h *HeldMaster) Started(started bool) error {
	h.child.Close()
	defer h.parent.Close()
	if !started {
		return nil
	}
	s := setup{Winsize: DefaultWinsize}
	if err := binary.Write(h.parent, binary.NativeEndian, &s); err != nil {
		return fmt.Errorf("start master of %s: send settings: %w", h.opts.Argv[0], err)
	}
	report, err := io.ReadAll(h.parent)
	if err != nil || len(report) == 0 {
		return fmt.Errorf("start master of %s: it exited before reporting (%v)", h.opts.Argv[0], err)
	}
	switch report[0] {
	case reportOK:
		return nil
	case reportStdout, reportStderr:
		return &StartError{Msg: string(report[1:]), Stderr: report[0] == reportStderr}
	}
	return fmt.Errorf("start master of %s: garbled report %q", h.opts.Argv[0], report)
}

// ErrNotHeld is the answer of a master that holds no supervised program.
var ErrNotHeld = errors.New("the master holds no supervised program")

// dialLogTimeout bounds the wait for a master's pid frame.
const dialLogTimeout = 2 * time.Second

// DialLog connects to a held master's socket as its log client and reads
// the pid frame that opens the stream: the program's pid, and the offset
// of the output that follows, for OutputAck.
func DialLog(socket string) (conn *os.File, pid int, offset uint64, err error) {
	conn, err = Dial(socket)
	if err != nil {
		return nil, 0, 0, err
	}
	if _, err := conn.Write(LogHello()); err != nil {
		conn.Close()
		return nil, 0, 0, fmt.Errorf("connect to master %s: %w", socket, err)
	}
	// A master that is not held ignores the hello and never answers.
	_ = conn.SetReadDeadline(time.Now().Add(dialLogTimeout))
	f, err := ReadLogFrame(conn)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil || f.Kind != FramePid {
		conn.Close()
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
			err = ErrNotHeld
		}
		return nil, 0, 0, fmt.Errorf("connect to master %s: %w", socket, err)
	}
	return conn, int(f.Uint32()), f.Offset(), nil
}

// serveHeld is Serve for a held master. The program's exit, not the end of
// its terminal (it may leave children holding it), decides: its last output
// is read, then its status goes to the log client, and the master ends once
// a log client acknowledged it. SIGTERM or SIGINT end it at once.
func (m *Master) serveHeld(ended <-chan struct{}, die <-chan os.Signal) int {
	select {
	case <-m.exit:
	case <-die:
		os.Remove(m.opts.Socket)
		return 1
	}
	select {
	case <-ended:
	case <-time.After(drainTimeout):
	}
	st := m.state
	m.feed.exited(st.Sys().(syscall.WaitStatus))
	select {
	case <-m.feed.acked:
	case <-die:
	}
	m.ln.Close()
	os.Remove(m.opts.Socket)
	m.flushClients()
	if st.Exited() {
		return st.ExitCode()
	}
	return 1
}
