package webterm

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/detach"
	"keeper/detach/vt"
	"keeper/supervise/http1"
)

func TestEncodeRow(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
	}{
		{"blank", "", `[]`},
		{"plain", "hi", `[["hi",2,-1,-1,0]]`},
		{"bold red then plain", "\x1b[1;31mred\x1b[0m ok", `[["red",3,13434880,-1,1],[" ok",3,-1,-1,0]]`},
		{"truecolor background, underline, inverse", "\x1b[4;7;48;2;1;2;3mX", `[["X",1,-1,66051,40]]`},
		{"italic", "\x1b[3mi", `[["i",1,-1,-1,4]]`},
		{"html stays text", "<b>&", `[["\u003cb\u003e\u0026",4,-1,-1,0]]`},
	} {
		term := vt.New(20, 2)
		term.Write([]byte(tc.input))
		if got := encodeRow(term.Spans(0)); got != tc.want {
			t.Errorf("%s: encodeRow = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// decode parses a frame, failing the test on bad JSON.
func decode(t *testing.T, b []byte) Frame {
	t.Helper()
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

// rowKeys lists a frame's rows in order.
func rowKeys(f Frame) string {
	var keys []string
	for y := range f.Rows {
		if _, ok := f.Lines[strconvI(y)]; ok {
			keys = append(keys, strconvI(y))
		}
	}
	return strings.Join(keys, ",")
}

func strconvI(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestFrames(t *testing.T) {
	term := newTerm("", nil, detach.Winsize{Cols: 10, Rows: 3})
	var sent sentState
	write := func(s string) { term.term.Write([]byte(s)) }

	write("a\r\nb")
	f := decode(t, term.frame(&sent))
	if !f.Full || rowKeys(f) != "0,1,2" || f.Cols != 10 || f.Rows != 3 || f.Cursor != [2]int{1, 1} || !f.CursorVisible {
		t.Fatalf("first frame %+v: want full, all rows, 10x3, cursor at 1,1 and visible", f)
	}
	if b := term.frame(&sent); b != nil {
		t.Fatalf("frame with nothing changed = %s, want none", b)
	}

	write("\x1b[3;1Hc")
	f = decode(t, term.frame(&sent))
	if f.Full || rowKeys(f) != "2" || string(f.Lines["2"]) != `[["c",1,-1,-1,0]]` {
		t.Fatalf("frame after writing row 2 = %+v, want row 2 only", f)
	}

	write("\x1b[?25l\x1b[?1h\x1b[?2004h\x1b]2;top\a")
	f = decode(t, term.frame(&sent))
	if f.Full || len(f.Lines) != 0 || f.CursorVisible || !f.CursorKeys || !f.Paste || f.Title != "top" {
		t.Fatalf("frame after mode changes = %+v, want no rows, cursor hidden, cursor keys, paste, title", f)
	}

	write("\x1b[?1049h")
	f = decode(t, term.frame(&sent))
	if !f.AltScreen || rowKeys(f) != "0,1,2" || string(f.Lines["0"]) != `[]` {
		t.Fatalf("frame after entering the alternate screen = %+v, want it flagged and every row blank", f)
	}

	term.term.Resize(12, 3)
	if f = decode(t, term.frame(&sent)); !f.Full || f.Cols != 12 {
		t.Fatalf("frame after a resize to the same rows = %+v, want full at 12 columns", f)
	}
}

func TestPageSize(t *testing.T) {
	for query, want := range map[string]detach.Winsize{
		"":                   {Cols: 80, Rows: 24},
		"cols=100&rows=30":   {Cols: 100, Rows: 30},
		"cols=0&rows=-5":     {Cols: 2, Rows: 1},
		"cols=9999&rows=999": {Cols: 500, Rows: 200},
		"cols=x&rows=":       {Cols: 80, Rows: 24},
	} {
		q, _ := url.ParseQuery(query)
		if got := PageSize(q); got != want {
			t.Errorf("PageSize(%q) = %+v, want %+v", query, got, want)
		}
	}
}

// startMaster runs a keeper session master with sh on its pty and returns its socket. The program is
// killed and the master waited for when the test ends.
func startMaster(t *testing.T) (*detach.Master, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	t.Setenv("PS1", "$ ")
	t.Setenv("ENV", "")
	m, err := detach.StartMaster(detach.MasterOptions{Socket: sock, Argv: []string{"/bin/sh"}, Progname: "webterm-test"})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { m.Serve(); close(served) }()
	t.Cleanup(func() {
		syscall.Kill(m.Pid(), syscall.SIGKILL)
		select {
		case <-served:
		case <-time.After(20 * time.Second):
			t.Error("the master did not end after its program was killed")
		}
	})
	return m, sock
}

// waitScreen waits until cond holds for the Term's screen, re-checking each time the screen changes.
func waitScreen(t *testing.T, term *Term, what string, cond func(*vt.Terminal) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		term.mu.Lock()
		ok := cond(term.term)
		term.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-term.dirty:
		case <-term.ended:
			t.Fatalf("waiting for %s: the master closed the connection", what)
		case <-deadline:
			term.mu.Lock()
			defer term.mu.Unlock()
			t.Fatalf("waiting for %s: timed out; screen:\n%s", what, screenText(term.term))
		}
	}
}

func screenText(term *vt.Terminal) string {
	_, rows := term.Size()
	var b strings.Builder
	for y := range rows {
		b.WriteString(term.Line(y) + "\n")
	}
	return b.String()
}

// hasLine reports whether a row ends with want (a prompt may come before output: the pty echoes
// what was typed before the shell prints its prompt).
func hasLine(term *vt.Terminal, want string) bool {
	_, rows := term.Size()
	for y := range rows {
		if strings.HasSuffix(term.Line(y), want) {
			return true
		}
	}
	return false
}

func TestAgainstMaster(t *testing.T) {
	_, sock := startMaster(t)

	// The screen drawn before the page attached: a box and a red word, seen drawn by another client
	// (attached as keeper attach attaches, once its repaint came, so it misses no output).
	watch, err := Attach(sock, detach.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	select {
	case <-watch.dirty:
	case <-time.After(20 * time.Second):
		t.Fatal("no repaint for a client that attached")
	}
	if err := watch.Keys([]byte("printf '\\033(0lqk\\033(B \\033[31mRED\\033[0m\\n'\n")); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, watch, "the box and the red word on the other client", func(v *vt.Terminal) bool { return hasLine(v, "lqk RED") })

	// A page attaching now gets the whole screen at once, in colour.
	term, err := Attach(sock, detach.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	waitScreen(t, term, "the repaint", func(v *vt.Terminal) bool { return hasLine(v, "lqk RED") })
	f := decode(t, term.frame(&sentState{}))
	var found bool
	for _, row := range f.Lines {
		if bytes.Contains(row, []byte(`┌─┐ ",`)) && bytes.HasSuffix(row, []byte(`,["RED",3,13434880,-1,0]]`)) {
			found = true
		}
	}
	if !found {
		t.Errorf("first frame %s has no row with the box and a red RED", term.frame(&sentState{}))
	}

	// Keys typed one by one, as a page sends them, arrive in order.
	for _, key := range strings.SplitAfter("echo hel''lo\n", "") {
		if err := term.Keys([]byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	waitScreen(t, term, "hello", func(v *vt.Terminal) bool { return hasLine(v, "hello") })

	if err := term.Resize(detach.Winsize{Cols: 100, Rows: 30}); err != nil {
		t.Fatal(err)
	}
	if err := term.Keys([]byte("stty size\n")); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, term, "stty size to say 30 100", func(v *vt.Terminal) bool { return hasLine(v, "30 100") })

	// Leaving the page detaches that client only: the session and the other client go on.
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	if err := watch.Keys([]byte("echo still''here\n")); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, watch, "the other client to see output after the page left", func(v *vt.Terminal) bool { return hasLine(v, "stillhere") })
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("the session's socket went with the page: %v", err)
	}
}

// stuckPage is a page that takes the stream's header and then nothing: every write blocks until the
// test ends.
type stuckPage struct {
	header  http1.Header
	blocked chan struct{} // a token when a write blocks
	release chan struct{}
}

func (p *stuckPage) Header() http1.Header { return p.header }
func (p *stuckPage) WriteHeader(int)      {}
func (p *stuckPage) Flush() error         { return nil }
func (p *stuckPage) Write(b []byte) (int, error) {
	select {
	case p.blocked <- struct{}{}:
	default:
	}
	<-p.release
	return 0, os.ErrClosed
}

// TestStuckPage: a page that stops reading its stream holds neither the session nor its other
// clients (the no-wedge rule), and its emulator still follows the output.
func TestStuckPage(t *testing.T) {
	_, sock := startMaster(t)
	other, err := Attach(sock, detach.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	term, err := Attach(sock, detach.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	page := &stuckPage{header: http1.Header{}, blocked: make(chan struct{}, 1), release: make(chan struct{})}
	streamed := make(chan struct{})
	go func() { term.Stream(context.Background(), page); close(streamed) }()
	defer func() { close(page.release); <-streamed }()
	select {
	case <-page.blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("the stream wrote no first frame")
	}

	// Far more output than the socket buffers hold, then a marker.
	if err := other.Keys([]byte("i=0; while [ $i -lt 3000 ]; do echo line $i of output to fill the buffers; i=$((i+1)); done; echo all''written\n")); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, other, "the other client to see the end of the output", func(v *vt.Terminal) bool { return hasLine(v, "allwritten") })
	// Polled, not waited on with waitScreen, which would take the page's dirty tokens in its place.
	deadline := time.Now().Add(20 * time.Second)
	for {
		term.mu.Lock()
		ok := hasLine(term.term, "allwritten")
		term.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stuck page's emulator stopped following the output")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
