// Package webterm shows a session's terminal in a web page: it attaches to the session's master as one
// more client, keeps the screen in an emulator of its own and streams the screen's state, not the byte
// stream, as server-sent events (mosh's idea; the page needs no terminal library).
package webterm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"keeper/detach"
	"keeper/detach/vt"
	"keeper/supervise/http1"
)

// FrameInterval is the shortest time between two frames of one page while output flows.
const FrameInterval = 16 * time.Millisecond

// MaxKeys bounds the bytes of one push of keys (a paste).
const MaxKeys = 64 << 10

// Term is one page's client of a session master. Its emulator follows the master's output whether or
// not the page reads, so a page that stops reading never holds the session (the no-wedge rule).
type Term struct {
	socket string
	conn   *os.File
	mu     sync.Mutex // guards term
	term   *vt.Terminal
	dirty  chan struct{} // a token when the screen changed since the last frame
	ended  chan struct{} // closed when the master's side closes
}

// newTerm returns a Term of size ws on conn to socket, not yet reading.
func newTerm(socket string, conn *os.File, ws detach.Winsize) *Term {
	return &Term{
		socket: socket,
		conn:   conn,
		// Queries get no answer from here: the master's own emulator answers them.
		term:  vt.New(int(ws.Cols), int(ws.Rows), vt.WithScrollback(0), vt.WithReplyFunc(func([]byte) {})),
		dirty: make(chan struct{}, 1),
		ended: make(chan struct{}),
	}
}

// Attach connects to the master at socket, a path the caller took from its verified list of sessions,
// attaches with the window size ws and asks for a repaint, so the first frame is the whole screen.
func Attach(socket string, ws detach.Winsize) (*Term, error) {
	conn, err := detach.Dial(socket)
	if err != nil {
		return nil, fmt.Errorf("attach to session: %w", err)
	}
	var hello []byte
	for _, p := range []detach.Packet{{Type: detach.MsgAttach}, detach.WinsizePacket(detach.MsgRedraw, detach.RedrawUnspec, ws)} {
		b := p.Encode()
		hello = append(hello, b[:]...)
	}
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("attach to session %s: %w", socket, err)
	}
	t := newTerm(socket, conn, ws)
	go t.read()
	return t, nil
}

// Close detaches: it closes the connection to the master. The session and its other clients go on.
func (t *Term) Close() error { return t.conn.Close() }

// Resize gives the emulator and this client of the master the page's new size (a winch packet).
func (t *Term) Resize(ws detach.Winsize) error {
	t.mu.Lock()
	t.term.Resize(int(ws.Cols), int(ws.Rows))
	t.mu.Unlock()
	t.markDirty()
	b := detach.WinsizePacket(detach.MsgWinch, 0, ws).Encode()
	if _, err := t.conn.Write(b[:]); err != nil {
		return fmt.Errorf("resize session %s: %w", t.socket, err)
	}
	return nil
}

// Keys types keys into the session's program as dtach -p pushes them, over this client's own
// connection: the master reads one connection's packets in order, so keys sent one after another
// arrive in that order (separate connections would race) and after a resize sent before them.
func (t *Term) Keys(keys []byte) error {
	if len(keys) > MaxKeys {
		return fmt.Errorf("send keys to session %s: %d bytes, more than %d", t.socket, len(keys), MaxKeys)
	}
	// One Write per call: an os.File serializes whole writes, so a resize cannot cut into the keys.
	if _, err := t.conn.Write(detach.AppendPush(nil, keys)); err != nil {
		return fmt.Errorf("send keys to session %s: %w", t.socket, err)
	}
	return nil
}

// Socket returns the path of the session socket the Term is attached to.
func (t *Term) Socket() string { return t.socket }

// PageSize reads cols and rows from a query or form, bounded to what a page shows; 80x24 when absent.
func PageSize(q url.Values) detach.Winsize {
	n := func(key string, lo, hi, def int) uint16 {
		v, err := strconv.Atoi(q.Get(key))
		if err != nil {
			v = def
		}
		return uint16(min(max(v, lo), hi))
	}
	return detach.Winsize{Cols: n("cols", 2, 500, 80), Rows: n("rows", 1, 200, 24)}
}

// read feeds the master's output to the emulator until the master's side closes. It never waits for
// the page.
func (t *Term) read() {
	defer close(t.ended)
	buf := make([]byte, 32<<10)
	for {
		n, err := t.conn.Read(buf)
		if n > 0 {
			t.mu.Lock()
			t.term.Write(buf[:n])
			t.mu.Unlock()
			t.markDirty()
		}
		if err != nil {
			return
		}
	}
}

func (t *Term) markDirty() {
	select {
	case t.dirty <- struct{}{}:
	default:
	}
}

// Stream writes frames to w as server-sent events ("frame", and "end" when the session goes) until ctx
// is done, the master's side closes or a write fails. Frames are computed from the screen as it is
// when one is due, so a slow page gets fewer frames, never a queue of stale ones: a change after a
// quiet spell (an echo) goes out at once, changes in a row at most one frame per FrameInterval, and
// nothing while nothing changes.
func (t *Term) Stream(ctx context.Context, w http1.ResponseWriter) {
	var sent sentState
	var last time.Time
	for {
		if frame := t.frame(&sent); frame != nil {
			if !SendEvent(w, "frame", frame) {
				return
			}
			last = time.Now()
		}
		select {
		case <-t.dirty:
		case <-t.ended:
			SendEvent(w, "end", []byte(`{}`))
			return
		case <-ctx.Done():
			return
		}
		if wait := FrameInterval - time.Since(last); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
	}
}

// SendEvent writes one server-sent event and flushes it; data must hold no newline (JSON does not).
// It reports whether the page is still there.
func SendEvent(w http1.ResponseWriter, name string, data []byte) bool {
	msg := make([]byte, 0, len(data)+len(name)+16)
	msg = append(msg, "event: "...)
	msg = append(msg, name...)
	msg = append(msg, "\ndata: "...)
	msg = append(msg, data...)
	msg = append(msg, "\n\n"...)
	_, err := w.Write(msg)
	return err == nil && w.Flush() == nil
}

// sentState is what the page was last sent: each row's spans and the frame's other fields.
type sentState struct {
	cols int
	rows [][]vt.Span
	meta string
}

// Frame is the JSON of one frame. Lines maps a row number to its spans; a frame that is not Full
// carries only the rows that changed.
type Frame struct {
	Cols          int                        `json:"cols"`
	Rows          int                        `json:"rows"`
	Cursor        [2]int                     `json:"cursor"` // column and row, from 0
	CursorVisible bool                       `json:"cursorVisible"`
	CursorKeys    bool                       `json:"cursorKeys"` // application cursor keys (DECCKM)
	Paste         bool                       `json:"paste"`      // bracketed paste
	AltScreen     bool                       `json:"altScreen"`
	Title         string                     `json:"title"`
	Full          bool                       `json:"full"`
	Lines         map[string]json.RawMessage `json:"lines,omitempty"`
}

// frame encodes the screen as the page must see it after sent, or returns nil when the page already
// shows it, and records what it returned in sent. A frame is Full when the page has no rows yet or
// the size changed.
func (t *Term) frame(sent *sentState) []byte {
	t.mu.Lock()
	cols, rows := t.term.Size()
	x, y, visible := t.term.Cursor()
	f := Frame{Cols: cols, Rows: rows, Cursor: [2]int{x, y}, CursorVisible: visible,
		CursorKeys: t.term.CursorKeys(), Paste: t.term.BracketedPaste(), AltScreen: t.term.AltScreen(),
		Title: t.term.Title(), Full: len(sent.rows) != rows || sent.cols != cols}
	// Rows are compared as spans and only the changed ones encoded, outside the lock: encoding every
	// row of a big screen made each frame cost ten times as much.
	now := make([][]vt.Span, rows)
	var changed []int
	for row := range rows {
		now[row] = t.term.Spans(row)
		if f.Full || !slices.Equal(sent.rows[row], now[row]) {
			changed = append(changed, row)
		}
	}
	t.mu.Unlock()
	lines := make(map[string]json.RawMessage, len(changed))
	for _, row := range changed {
		lines[strconv.Itoa(row)] = json.RawMessage(encodeRow(now[row]))
	}
	full := f.Full
	f.Full = false // meta is the rest of the frame
	head, _ := json.Marshal(f)
	sent.cols, sent.rows = cols, now
	if len(lines) == 0 && string(head) == sent.meta {
		return nil
	}
	sent.meta = string(head)
	f.Full, f.Lines = full, lines
	b, _ := json.Marshal(f)
	return b
}

// Attribute bits of a span in a frame.
const (
	AttrBold = 1 << iota
	AttrDim
	AttrItalic
	AttrUnderline
	AttrBlink
	AttrReverse
	AttrHidden
	AttrStrike
	AttrOverline
)

// encodeRow writes a row as JSON: [[text, cols, fg, bg, attrs], ...], colours 0xRRGGBB or -1 for the
// default, attrs the Attr bits.
func encodeRow(spans []vt.Span) string {
	out := make([][5]any, len(spans))
	for i, s := range spans {
		a := 0
		for bit, on := range []bool{s.Style.Bold, s.Style.Dim, s.Style.Italic, s.Style.Underline, s.Style.Blink,
			s.Style.Reverse, s.Style.Hidden, s.Style.Strike, s.Style.Overline} {
			if on {
				a |= 1 << bit
			}
		}
		out[i] = [5]any{s.Text, s.Cols, s.Style.FG, s.Style.BG, a}
	}
	b, _ := json.Marshal(out)
	return string(b)
}
