package supervise

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"keeper/detach"
	"keeper/detach/vt"
	"keeper/supervise/http1"
)

// A session in the page (web_attach = true). The daemon attaches to the
// session's master as one more client, keeps the screen in an emulator of
// its own, and sends the page the screen's state, not the byte stream:
// a whole frame first, then the rows that changed, at most one frame per
// webFrame while output flows and nothing while nothing changes (mosh's
// idea; the page needs no terminal library). Keys come back as POSTs,
// pushed to the master as dtach -p pushes them; a resize as a POST too.
// Leaving the page closes the stream, which detaches that client only.
//
//	GET  /session/PROG/NAME                  the page
//	GET  /session/PROG/NAME/events?cols=&rows=  the frames (server-sent events)
//	POST /session/PROG/NAME/keys             the body is the keys' bytes
//	POST /session/PROG/NAME/resize           id=&cols=&rows=

// webFrame is the shortest time between two frames of one page.
const webFrame = 16 * time.Millisecond

// webMaxKeys bounds one POST of keys (a paste).
const webMaxKeys = 64 << 10

// serveSessionPage answers the paths of one session's page; program and
// session come from the URL and name a session only if the daemon's
// verified listing has it.
func (d *Daemon) serveSessionPage(w http1.ResponseWriter, r *http1.Request, program, session, sub string) {
	socket := ""
	if list, err := d.Sessions([]string{program}); err == nil {
		for _, s := range list {
			if s.Program == program && s.Name == session {
				socket = s.Socket
			}
		}
	}
	if socket == "" {
		notFound(w)
		return
	}
	switch sub {
	case "":
		d.sessionIndex(w, r, program, session)
	case "events":
		d.sessionEvents(w, r, socket)
	case "keys":
		d.sessionKeys(w, r, socket)
	case "resize":
		d.sessionResize(w, r)
	default:
		notFound(w)
	}
}

func (d *Daemon) sessionIndex(w http1.ResponseWriter, r *http1.Request, program, session string) {
	if r.Method != "GET" && r.Method != "HEAD" {
		methodNotAllowed(w, "GET")
		return
	}
	var b strings.Builder
	err := webTemplate.ExecuteTemplate(&b, "term.html", map[string]string{
		"Token": d.webToken, "Program": program, "Session": session, "Identification": "keeper " + Version})
	if err != nil {
		d.log.Errorf("web page: %v", err)
		w.WriteHeader(500)
		return
	}
	webHeaders(w, "text/html; charset=utf-8")
	w.WriteHeader(200)
	if r.Method == "GET" {
		w.Write([]byte(b.String()))
	}
}

// webTerm is one page's client of a session master.
type webTerm struct {
	conn  *os.File
	wmu   sync.Mutex // one write to conn at a time
	mu    sync.Mutex // guards term
	term  *vt.Terminal
	dirty chan struct{} // a token when the screen changed since the last frame
	ended chan struct{} // closed when the master's side closes
}

// webTerms are the pages attached now, by the id each page got.
type webTerms struct {
	mu   sync.Mutex
	byID map[string]*webTerm
}

func (ts *webTerms) add(t *webTerm) string {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.byID == nil {
		ts.byID = map[string]*webTerm{}
	}
	ts.byID[id] = t
	return id
}

func (ts *webTerms) get(id string) *webTerm {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.byID[id]
}

func (ts *webTerms) remove(id string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.byID, id)
}

// pageSize reads cols and rows from a query, bounded to what a page shows.
func pageSize(q url.Values) detach.Winsize {
	n := func(key string, lo, hi, def int) uint16 {
		v, err := strconv.Atoi(q.Get(key))
		if err != nil {
			v = def
		}
		return uint16(min(max(v, lo), hi))
	}
	return detach.Winsize{Cols: n("cols", 2, 500, 80), Rows: n("rows", 1, 200, 24)}
}

// sessionEvents attaches to the master and streams frames until the page
// goes away or the session ends.
func (d *Daemon) sessionEvents(w http1.ResponseWriter, r *http1.Request, socket string) {
	if r.Method != "GET" {
		methodNotAllowed(w, "GET")
		return
	}
	if why := crossSite(r); why != "" {
		d.refuseWeb(w, r, why)
		return
	}
	query := url.Values{}
	if u, err := url.ParseRequestURI(r.Target); err == nil {
		query = u.Query()
	}
	ws := pageSize(query)
	conn, err := detach.Dial(socket)
	if err != nil {
		w.WriteHeader(502)
		w.Write([]byte("502 session unreachable: " + err.Error() + "\n"))
		return
	}
	defer conn.Close()
	t := &webTerm{conn: conn, term: vt.New(int(ws.Cols), int(ws.Rows), vt.WithScrollback(0), vt.WithReplyFunc(func([]byte) {})),
		dirty: make(chan struct{}, 1), ended: make(chan struct{})}
	var attach []byte
	for _, p := range []detach.Packet{{Type: detach.MsgAttach}, detach.WinsizePacket(detach.MsgRedraw, detach.RedrawUnspec, ws)} {
		b := p.Encode()
		attach = append(attach, b[:]...)
	}
	if _, err := conn.Write(attach); err != nil {
		w.WriteHeader(502)
		return
	}
	id := d.webAttached.add(t)
	defer d.webAttached.remove(id)
	go t.read()

	webHeaders(w, "text/event-stream")
	w.WriteHeader(200)
	hello, _ := json.Marshal(map[string]string{"id": id})
	if !sendEvent(w, "hello", hello) {
		return
	}
	ctx := r.Context()
	var sent []string // each row's spans as last sent
	var meta string   // the rest of the last frame
	var last time.Time
	for {
		var frame []byte
		frame, sent, meta = t.frame(sent, meta)
		if frame != nil {
			if !sendEvent(w, "frame", frame) {
				return
			}
			last = time.Now()
		}
		select {
		case <-t.dirty:
		case <-t.ended:
			sendEvent(w, "end", []byte(`{}`))
			return
		case <-ctx.Done():
			return
		case <-d.stopped:
			return
		}
		// A change after a quiet spell (an echo) goes out at once; while
		// output flows, frames are webFrame apart.
		if wait := webFrame - time.Since(last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
		}
	}
}

func sendEvent(w http1.ResponseWriter, name string, data []byte) bool {
	msg := make([]byte, 0, len(data)+len(name)+16)
	msg = append(msg, "event: "...)
	msg = append(msg, name...)
	msg = append(msg, "\ndata: "...)
	msg = append(msg, data...)
	msg = append(msg, "\n\n"...)
	_, err := w.Write(msg)
	return err == nil && w.Flush() == nil
}

// read feeds the master's output to the emulator until the master's side
// closes. It never waits for the page, so a page that stops reading
// cannot hold the session (the no-wedge rule).
func (t *webTerm) read() {
	defer close(t.ended)
	buf := make([]byte, 32<<10)
	for {
		n, err := t.conn.Read(buf)
		if n > 0 {
			t.mu.Lock()
			t.term.Write(buf[:n])
			t.mu.Unlock()
			select {
			case t.dirty <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// frame encodes the screen: the cursor, the title and the modes the keys
// depend on, and the rows whose spans differ from sent (every row when
// sent is nil or of another size). It returns nil when nothing changed
// since the frame whose rows were sent and whose meta was meta, and the
// rows and meta as they are now.
func (t *webTerm) frame(sent []string, meta string) ([]byte, []string, string) {
	t.mu.Lock()
	cols, rows := t.term.Size()
	x, y, visible := t.term.Cursor()
	f := webFrameJSON{Cols: cols, Rows: rows, Cursor: [2]int{x, y}, CursorVisible: visible,
		CursorKeys: t.term.CursorKeys(), Paste: t.term.BracketedPaste(), Title: t.term.Title(),
		Full: len(sent) != rows, Lines: map[string]json.RawMessage{}}
	now := make([]string, rows)
	for row := range rows {
		now[row] = encodeSpans(t.term.Spans(row))
		if f.Full || sent[row] != now[row] {
			f.Lines[strconv.Itoa(row)] = json.RawMessage(now[row])
		}
	}
	t.mu.Unlock()
	lines := f.Lines
	f.Lines = nil
	head, _ := json.Marshal(f)
	if !f.Full && len(lines) == 0 && string(head) == meta {
		return nil, now, meta
	}
	f.Lines = lines
	b, _ := json.Marshal(f)
	return b, now, string(head)
}

type webFrameJSON struct {
	Cols          int                        `json:"cols"`
	Rows          int                        `json:"rows"`
	Cursor        [2]int                     `json:"cursor"`
	CursorVisible bool                       `json:"cursorVisible"`
	CursorKeys    bool                       `json:"cursorKeys"`
	Paste         bool                       `json:"paste"`
	Title         string                     `json:"title"`
	Full          bool                       `json:"full"`
	Lines         map[string]json.RawMessage `json:"lines,omitempty"`
}

// encodeSpans writes a row as JSON: [[text, cols, fg, bg, attrs], ...],
// attrs a bit set (1 bold, 2 dim, 4 italic, 8 underline, 16 blink,
// 32 reverse, 64 hidden, 128 strike, 256 overline).
func encodeSpans(spans []vt.Span) string {
	type row [5]any
	out := make([]row, len(spans))
	for i, s := range spans {
		a := 0
		for bit, on := range []bool{s.Style.Bold, s.Style.Dim, s.Style.Italic, s.Style.Underline, s.Style.Blink,
			s.Style.Reverse, s.Style.Hidden, s.Style.Strike, s.Style.Overline} {
			if on {
				a |= 1 << bit
			}
		}
		out[i] = row{s.Text, s.Cols, s.Style.FG, s.Style.BG, a}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// write sends packets to the master on the page's connection, where the
// master reads them in order: keys typed after a resize reach the program
// after it.
func (t *webTerm) write(p []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	_, err := t.conn.Write(p)
	return err
}

// sessionKeys pushes the body's bytes to the session's program, as
// dtach -p does: on the page's own connection (?id=), else on one of
// their own.
func (d *Daemon) sessionKeys(w http1.ResponseWriter, r *http1.Request, socket string) {
	if r.Method != "POST" {
		methodNotAllowed(w, "POST")
		return
	}
	if !d.checkWebRequest(w, r, r.Header.Get("X-Keeper-Token")) {
		return
	}
	if len(r.Body) > webMaxKeys {
		w.WriteHeader(413)
		return
	}
	keys := detach.AppendPush(nil, r.Body)
	if u, err := url.ParseRequestURI(r.Target); err == nil {
		if t := d.webAttached.get(u.Query().Get("id")); t != nil {
			if t.write(keys) != nil {
				w.WriteHeader(502)
				return
			}
			w.WriteHeader(204)
			return
		}
	}
	conn, err := detach.Dial(socket)
	if err != nil {
		w.WriteHeader(502)
		w.Write([]byte("502 session unreachable: " + err.Error() + "\n"))
		return
	}
	defer conn.Close()
	if _, err := conn.Write(keys); err != nil {
		w.WriteHeader(502)
		return
	}
	w.WriteHeader(204)
}

// sessionResize gives the page's client of the master a new window size.
func (d *Daemon) sessionResize(w http1.ResponseWriter, r *http1.Request) {
	if r.Method != "POST" {
		methodNotAllowed(w, "POST")
		return
	}
	form, _ := url.ParseQuery(string(r.Body))
	if !d.checkWebRequest(w, r, r.Header.Get("X-Keeper-Token")) {
		return
	}
	t := d.webAttached.get(form.Get("id"))
	if t == nil {
		notFound(w)
		return
	}
	ws := pageSize(form)
	t.mu.Lock()
	t.term.Resize(int(ws.Cols), int(ws.Rows))
	t.mu.Unlock()
	b := detach.WinsizePacket(detach.MsgWinch, 0, ws).Encode()
	if err := t.write(b[:]); err != nil {
		w.WriteHeader(502)
		return
	}
	select {
	case t.dirty <- struct{}{}:
	default:
	}
	w.WriteHeader(204)
}
