package detach

// Screen replay. A keeper session master keeps the terminal's state itself,
// in a terminal emulator (package detach/vt) fed with the pty's output, and
// repaints every client that attaches: a reset, optionally the scrollback,
// the primary screen, the alternate screen over it, title, modes, scroll
// region, charsets, cursor and pen, then the bytes of a sequence the
// emulator holds half-read, so the program's next bytes complete it on the
// client too. The repaint is queued before any live output, under the lock
// that orders output, so the seam between the two is exact. It answers the
// attach handshake dtach's and keeper's clients both make, MsgAttach then
// MsgRedraw, and is made at the window size MsgRedraw carries (unless its
// method is none: then, as in dtach, the session keeps its size); a client
// that sends MsgAttach alone gets the bare output stream, as from dtach. It
// reaches a real dtach client as ordinary pty bytes; the redraw methods
// (-r none, ctrl_l, winch) keep dtach's meaning on top of it.
//
// Off the hot path. While a client is attached the output loop sends each
// batch first, then only copies it into a bounded ring of unparsed output
// (a small batch with nothing queued before it, an echo say, is parsed
// there and then: a few microseconds at most); the emulator parses the ring
// in the output loop's idle time (when the pty has nothing to read or every
// client is full), a chunk at a time, so forwarding never waits for a
// backlog to be parsed. The lowest priority GOMAXPROCS(1) can express is
// this: a separate goroutine kept runnable would keep the scheduler from
// polling the pty (it polls when nothing else is runnable, or every 10 ms).
// For the same reason the loop asks the kernel before each chunk whether a
// client sent keys or has room for output queued for it, and if one has,
// waits on the pty instead for a moment (inputYield): the keys go to the
// program and the output to the client at once, not after the backlog. It
// leaves the backlog alone while someone types (keysQuiet), so the echoes
// get the CPU. Every client being full is no idle time while a flood goes
// on (a full tty buffer read in the last parseQuiet): parsing then would
// take the CPU the clients need to catch up. While no client is attached
// the output is parsed as it is read. If the ring overruns (a flood faster
// than the parser or than every client, with a client attached), the
// bytes that fell out are lost to the emulator: the next
// client to attach still gets the best repaint the emulator has, and the
// program is then sent SIGWINCH so it redraws itself; the session's status
// says "stale" until then.
//
// Queries. While no client is attached the emulator answers the terminal
// queries a program may block on (DA1, DA2, DSR status and cursor position)
// by typing the replies into the pty, as tmux does; while a client is
// attached its own terminal answers, and the emulator keeps quiet.
//
// Client's choice. dtach's protocol has no field for it, so a client that
// wants something other than the default (the screen without scrollback)
// sends a MsgReplay packet before MsgAttach: its Len is ReplayNone,
// ReplayScreen or ReplayScrollback. A real dtach master ignores packet types
// it does not know, and a real dtach client sends none and gets the screen.
// A client that sends MsgStatus instead of attaching gets one line of JSON
// (SessionStatus) and the connection is closed.
//
// Turning it off. The emulator is on by default. KEEPER_SCREEN in the
// environment of "keeper dtach" (or of whatever spawns a master) configures
// it: "off" turns it off (the master then forwards output exactly as dtach
// does, with no ring and no emulator); "on" is the default; options may
// follow, comma-separated: "scrollback=SIZE" is the scrollback's byte budget
// (0 keeps none; default 1m), "ring=SIZE" the ring's (default 1m; it grows
// only as far as a burst needs and is let go after it), with SIZE a number
// of bytes and an optional k or m suffix. The master's command line shows
// the setting as "-s SPEC" when it is not the default.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"keeper/detach/vt"
)

// Packet types keeper adds to dtach's protocol; dtach's master ignores them.
const (
	// MsgReplay, sent before MsgAttach, says what the client wants repainted:
	// Len holds ReplayNone, ReplayScreen or ReplayScrollback.
	MsgReplay = 16
	// MsgStatus asks the master for its status: it answers one line of
	// JSON, a SessionStatus, and hangs up.
	MsgStatus = 17
)

// Replay choices carried in a MsgReplay packet's Len.
const (
	ReplayUnspec     = 0 // the master's default: ReplayScreen
	ReplayNone       = 1 // no repaint: the client starts from a blank screen, as with dtach
	ReplayScreen     = 2 // the screen, without scrollback
	ReplayScrollback = 3 // the scrollback, into the client's own scrollback, then the screen
)

// ParseReplay reads a replay choice name: none, screen or scrollback; ""
// means the master's default.
func ParseReplay(s string) (byte, error) {
	switch s {
	case "":
		return ReplayUnspec, nil
	case "none":
		return ReplayNone, nil
	case "screen":
		return ReplayScreen, nil
	case "scrollback":
		return ReplayScrollback, nil
	}
	return 0, fmt.Errorf("replay %q is not one of none, screen, scrollback", s)
}

// ScreenEnv is the environment variable that configures a master's terminal
// emulator (see ParseScreenSpec).
const ScreenEnv = "KEEPER_SCREEN"

// Defaults of the emulator's budgets.
const (
	defaultScrollback = 1 << 20
	defaultRing       = 1 << 20
	minRing           = 4 << 10
	parseChunk        = 2 << 10 // bytes parsed at a time in the output loop's idle time
)

// ScreenOptions configures a master's terminal emulator. The zero value is
// the default: on, with the default budgets.
type ScreenOptions struct {
	Off        bool
	Scrollback int // bytes of scrollback kept; 0 means the default, negative none
	Ring       int // bytes of unparsed output kept; 0 means the default
}

// ParseScreenSpec reads "off", "on" or "on,scrollback=SIZE,ring=SIZE" (the
// leading "on" may be left out); "" is the default.
func ParseScreenSpec(spec string) (ScreenOptions, error) {
	var o ScreenOptions
	for i, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		k, v, hasValue := strings.Cut(f, "=")
		switch {
		case f == "" && i == 0:
		case f == "off" && i == 0:
			o.Off = true
		case f == "on" && i == 0:
		case hasValue && (k == "scrollback" || k == "ring"):
			n, err := parseSize(v)
			if err != nil {
				return o, wrap(ScreenEnv+" "+strconv.Quote(spec)+": "+k, err)
			}
			if k == "ring" {
				o.Ring = max(n, minRing)
			} else if o.Scrollback = n; n == 0 {
				o.Scrollback = -1
			}
		default:
			return o, errors.New(ScreenEnv + " " + strconv.Quote(spec) + ": want off, on or on,scrollback=SIZE,ring=SIZE")
		}
	}
	return o, nil
}

// String returns the spec ParseScreenSpec reads back; "" for the default.
func (o ScreenOptions) String() string {
	if o.Off {
		return "off"
	}
	var parts []string
	if o.Scrollback != 0 {
		parts = append(parts, "scrollback="+strconv.Itoa(max(o.Scrollback, 0)))
	}
	if o.Ring != 0 {
		parts = append(parts, "ring="+strconv.Itoa(o.Ring))
	}
	if len(parts) == 0 {
		return ""
	}
	return "on," + strings.Join(parts, ",")
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<30/mult {
		return 0, errors.New("want a number of bytes with an optional k or m suffix")
	}
	return n * mult, nil
}

// screenFromEnv fills in opts.Screen from the environment when it is the default.
func screenFromEnv(opts *MasterOptions) error {
	if opts.Screen != (ScreenOptions{}) {
		return nil
	}
	s, err := ParseScreenSpec(os.Getenv(ScreenEnv))
	if err != nil {
		return err
	}
	opts.Screen = s
	return nil
}

// screen is a session's terminal state. Lock order: screen.mu, then
// Master.mu. Every write to term happens under mu; the ring is changed under
// Master.mu only (the output loop pushes to it while holding that lock, so
// what the ring holds and what clients were sent stay in step).
type screen struct {
	mu      sync.Mutex
	term    *vt.Terminal
	scratch []byte // a chunk taken from the ring, being parsed
	output  int64  // bytes of the program's output parsed or queued to be
	sbOpt   int    // RepaintOptions.Scrollback for ReplayScrollback

	// Guarded by Master.mu.
	ring     []byte // circular; grows up to ringMax
	head, n  int    // unparsed bytes: n of them from head
	ringMax  int
	overruns int  // times bytes fell out of the ring unparsed
	stale    bool // bytes fell out since the last attach

	backlog atomic.Bool // n > 0, read by the output loop without locks
}

func newScreen(o ScreenOptions, ws Winsize) *screen {
	sb := defaultScrollback
	switch {
	case o.Scrollback < 0:
		sb = 0
	case o.Scrollback > 0:
		sb = o.Scrollback
	}
	ring := o.Ring
	if ring == 0 {
		ring = defaultRing
	}
	return &screen{
		term:    vt.New(int(ws.Cols), int(ws.Rows), vt.WithScrollback(sb)),
		ringMax: ring,
		sbOpt:   -1,
	}
}

// push appends output to the ring, dropping the oldest unparsed bytes when
// it is full. Master.mu is held.
func (s *screen) push(p []byte) {
	if len(p) == 0 {
		return
	}
	if len(p) >= s.ringMax {
		if s.n > 0 || len(p) > s.ringMax {
			s.overrun()
		}
		p = p[len(p)-s.ringMax:]
		s.head, s.n = 0, 0
	}
	if need := s.n + len(p); need > len(s.ring) && len(s.ring) < s.ringMax {
		s.grow(need)
	}
	if drop := s.n + len(p) - len(s.ring); drop > 0 {
		s.head = (s.head + drop) % len(s.ring)
		s.n -= drop
		s.overrun()
	}
	tail := (s.head + s.n) % len(s.ring)
	c := copy(s.ring[tail:], p)
	copy(s.ring, p[c:])
	s.n += len(p)
	s.backlog.Store(true)
}

func (s *screen) overrun() {
	s.overruns++
	s.stale = true
}

// grow makes the ring at least need bytes (at most ringMax), keeping its contents.
func (s *screen) grow(need int) {
	size := max(len(s.ring), minRing)
	for size < need {
		size *= 2
	}
	size = min(size, s.ringMax)
	r := make([]byte, size)
	s.copyOut(r, s.n)
	s.ring, s.head = r, 0
}

// copyOut copies the first k unparsed bytes to dst.
func (s *screen) copyOut(dst []byte, k int) {
	if k == 0 {
		return
	}
	c := copy(dst[:k], s.ring[s.head:])
	copy(dst[c:k], s.ring)
}

// take moves up to len(dst) unparsed bytes to dst. Master.mu is held.
func (s *screen) take(dst []byte) int {
	k := min(len(dst), s.n)
	s.copyOut(dst, k)
	s.n -= k
	if s.n == 0 {
		s.head = 0
		s.backlog.Store(false)
	} else {
		s.head = (s.head + k) % len(s.ring)
	}
	return k
}

// release lets the ring go when it holds nothing. Master.mu is held.
func (s *screen) release() {
	if s.n == 0 {
		s.ring, s.head = nil, 0
	}
}

// drainLocked parses everything in the ring; s.mu and Master.mu are held.
// Replies to queries in it are dropped: a client was attached when that
// output went out, and its terminal answered.
func (s *screen) drainLocked() {
	for s.n > 0 {
		k := min(s.n, parseChunk)
		s.copyOut(s.chunk(k), k)
		s.n -= k
		s.head = (s.head + k) % len(s.ring)
		s.term.Write(s.scratch[:k])
		s.term.TakeReplies()
	}
	s.head = 0
	s.backlog.Store(false)
}

func (s *screen) chunk(k int) []byte {
	if cap(s.scratch) < k {
		s.scratch = make([]byte, parseChunk)
	}
	return s.scratch[:k]
}

// parseSome parses one chunk of the ring; the output loop calls it when it
// has nothing else to do.
func (m *Master) parseSome() {
	s := m.scr
	s.mu.Lock()
	m.mu.Lock()
	k := s.take(s.chunk(parseChunk))
	m.mu.Unlock()
	if k > 0 {
		s.term.Write(s.scratch[:k])
		s.term.TakeReplies()
	}
	s.mu.Unlock()
}

// inlineParse is the most output parsed right after it was sent, when
// the emulator has no backlog: an echo or a small update costs no trip
// through the ring. More goes to the ring.
const inlineParse = 512

// broadcastScreen is broadcast with the emulator on. With no client
// attached it parses p at once and answers the queries in it; otherwise it
// sends p, then parses it if it is small and nothing waits before it, or
// pushes it to the ring.
func (m *Master) broadcastScreen(p []byte) {
	s := m.scr
	for {
		s.mu.Lock()
		m.mu.Lock()
		if len(m.attached) == 0 {
			if s.n > 0 {
				s.drainLocked()
			}
			m.mu.Unlock()
			s.term.Write(p)
			if r := s.term.TakeReplies(); len(r) > 0 {
				if m.replies == nil {
					// Started on the first answer: most sessions never
					// ask, and an idle goroutine costs every master.
					m.replies = make(chan []byte, 8)
					go m.replyLoop()
				}
				select {
				case m.replies <- r:
				default: // the program is not reading its input: drop, as a full tty would
				}
			}
			s.output += int64(len(p))
			s.mu.Unlock()
			return
		}
		if m.anyRoomLocked() {
			inline := s.n == 0 && len(p) <= inlineParse
			if !inline {
				s.push(p)
			}
			m.sendLocked(p)
			m.mu.Unlock()
			if inline {
				s.term.Write(p)
				s.term.TakeReplies()
			}
			s.output += int64(len(p))
			s.mu.Unlock()
			return
		}
		m.mu.Unlock()
		s.mu.Unlock()
		m.waitRoom()
	}
}

// replyLoop types the emulator's answers into the program.
func (m *Master) replyLoop() {
	for r := range m.replies {
		m.writePty(r)
	}
}

// resizeScreen brings the emulator to ws, once it has parsed everything
// sent at the old size, and sets the pty's size under the same locks so
// output read after it is parsed at the new size.
func (m *Master) resizeScreen(ws Winsize) {
	s := m.scr
	s.mu.Lock()
	m.mu.Lock()
	s.drainLocked()
	s.term.Resize(int(ws.Cols), int(ws.Rows))
	m.setPtySize(ws)
	m.mu.Unlock()
	s.mu.Unlock()
}

// attachWithRepaint attaches c after queueing its repaint: the emulator
// first parses everything sent so far, then is brought to the client's
// window size ws (when not nil), then repainted into c's queue ahead of any
// live output. It reports whether the program must be asked to redraw
// itself because the ring overran since the last attach.
func (m *Master) attachWithRepaint(c *client, ws *Winsize) (stale bool) {
	s := m.scr
	s.mu.Lock()
	defer s.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	s.drainLocked()
	if ws != nil {
		s.term.Resize(int(ws.Cols), int(ws.Rows))
		m.setPtySize(*ws)
	}
	opt := vt.RepaintOptions{}
	if c.replay == ReplayScrollback {
		opt.Scrollback = s.sbOpt
	}
	c.sendFirst(s.term.Repaint(nil, opt))
	m.setAttachedLocked(c, true)
	stale, s.stale = s.stale, false
	return stale
}

// SessionStatus is what a master answers a MsgStatus packet with.
type SessionStatus struct {
	PID     int `json:"pid"`
	Clients int `json:"clients"` // connected
	Attach  int `json:"attached"`
	// Screen is "off" (no emulator), "on", or "stale": output was lost to
	// the emulator since the last attach, and the next client to attach
	// gets the program's own redraw (SIGWINCH) on top of the repaint.
	Screen   string `json:"screen"`
	Overruns int    `json:"overruns,omitempty"` // times output was lost to the emulator
	// Output counts the bytes of the program's output the master has read
	// (and, once the status is taken, parsed).
	Output     int64  `json:"output_bytes,omitempty"`
	Cols       int    `json:"cols,omitempty"`
	Rows       int    `json:"rows,omitempty"`
	Scrollback int    `json:"scrollback_lines,omitempty"`
	AltScreen  bool   `json:"alt_screen,omitempty"`
	Title      string `json:"title,omitempty"`
	// Log is the recording's file; LogDropped counts output chunks it
	// lost to a slow disk, LogError says why it stopped.
	Log        string `json:"log,omitempty"`
	LogDropped int    `json:"log_dropped,omitempty"`
	LogError   string `json:"log_error,omitempty"`
}

// json encodes st as encoding/json would from its field tags.
func (st SessionStatus) json() []byte {
	var o jsonObject
	o.int("pid", int64(st.PID))
	o.int("clients", int64(st.Clients))
	o.int("attached", int64(st.Attach))
	o.str("screen", st.Screen)
	for _, f := range []struct {
		key   string
		value int64
	}{{"overruns", int64(st.Overruns)}, {"output_bytes", st.Output}, {"cols", int64(st.Cols)}, {"rows", int64(st.Rows)}, {"scrollback_lines", int64(st.Scrollback)}} {
		if f.value != 0 {
			o.int(f.key, f.value)
		}
	}
	if st.AltScreen {
		o.bool("alt_screen", true)
	}
	if st.Title != "" {
		o.str("title", st.Title)
	}
	if st.Log != "" {
		o.str("log", st.Log)
	}
	if st.LogDropped != 0 {
		o.int("log_dropped", int64(st.LogDropped))
	}
	if st.LogError != "" {
		o.str("log_error", st.LogError)
	}
	return o.bytes()
}

func (m *Master) status() SessionStatus {
	st := SessionStatus{PID: os.Getpid(), Screen: "off"}
	if s := m.scr; s != nil {
		s.mu.Lock()
		m.mu.Lock()
		s.drainLocked()
		st.Screen = "on"
		if s.stale {
			st.Screen = "stale"
		}
		st.Overruns = s.overruns
		st.Output = s.output
		st.Cols, st.Rows = s.term.Size()
		st.Scrollback = s.term.ScrollbackLines()
		st.AltScreen = s.term.AltScreen()
		st.Title = s.term.Title()
		m.mu.Unlock()
		s.mu.Unlock()
	}
	m.mu.Lock()
	st.Clients, st.Attach = len(m.clients), len(m.attached)
	m.mu.Unlock()
	if m.cast != nil {
		st.Log = m.cast.path
		dropped, err := m.cast.state()
		st.LogDropped = dropped
		if err != nil {
			st.LogError = err.Error()
		}
	}
	return st
}

// QueryStatus asks the master on socket for its status. A real dtach
// master does not answer; that is an error after timeout.
func QueryStatus(socket string, timeout time.Duration) (SessionStatus, error) {
	var st SessionStatus
	conn, err := Dial(socket)
	if err != nil {
		return st, fmt.Errorf("query session %s: %w", socket, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	p := Packet{Type: MsgStatus}.Encode()
	if _, err := conn.Write(p[:]); err != nil {
		return st, fmt.Errorf("query session %s: %w", socket, err)
	}
	if err := json.NewDecoder(conn).Decode(&st); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return st, fmt.Errorf("query session %s: no answer (not a keeper master?)", socket)
		}
		return st, fmt.Errorf("query session %s: %w", socket, err)
	}
	return st, nil
}
