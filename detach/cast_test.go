package detach

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readCast parses a recording: its header and events.
func readCast(t *testing.T, path string) (header map[string]any, events [][]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if header == nil {
			if err := json.Unmarshal(sc.Bytes(), &header); err != nil {
				t.Fatalf("header %q: %v", sc.Text(), err)
			}
			continue
		}
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		events = append(events, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return header, events
}

func TestCastWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	c, err := openCast(path, Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	euro := []byte("€") // three bytes, split across two reads
	c.output([]byte("a" + string(euro[:1])))
	c.output(append(euro[1:], "b\xffc"...))
	c.resize(Winsize{Rows: 50, Cols: 132})
	c.output([]byte("end\r\n"))
	c.close()

	header, events := readCast(t, path)
	if header["version"] != 2.0 || header["width"] != 80.0 || header["height"] != 24.0 {
		t.Errorf("header %v", header)
	}
	var out strings.Builder
	last := -1.0
	for _, ev := range events {
		at := ev[0].(float64)
		if at < last {
			t.Errorf("time went back: %v after %v", at, last)
		}
		last = at
		switch ev[1] {
		case "o":
			out.WriteString(ev[2].(string))
		case "r":
			if ev[2] != "132x50" {
				t.Errorf("resize event %v, want 132x50", ev[2])
			}
		}
	}
	if want := "a€b\uFFFDcend\r\n"; out.String() != want {
		t.Errorf("recorded output %q, want %q", out.String(), want)
	}
}

func TestCastRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	c, err := openCast(path, Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	c.maxBytes, c.backups, c.coalesce = 300, 2, 0
	for range 40 {
		c.output([]byte("0123456789abcdefghij\r\n"))
	}
	c.close()
	for _, p := range []string{path, path + ".1", path + ".2"} {
		if header, _ := readCast(t, p); header["version"] != 2.0 {
			t.Errorf("%s: header %v, want each file playable on its own", p, header)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("a third backup with backups=2: %v", err)
	}
}

// castText is what a recording's output events say, in order.
func castText(t *testing.T, events [][]any) string {
	t.Helper()
	var out strings.Builder
	for _, ev := range events {
		if ev[1] == "o" {
			out.WriteString(ev[2].(string))
		}
	}
	return out.String()
}

// TestCastSplitOutput: however the output is split into chunks, and
// whether or not chunks join one event, the recording says what
// encoding/json says of the whole (a character split between reads whole,
// invalid UTF-8 as U+FFFD byte by byte, an incomplete character at the end
// too).
func TestCastSplitOutput(t *testing.T) {
	texts := append([]string{"€😀x", "a\xe2\x82", "\xf0\x9f\x98", "\xe2\x82\xe2\x82\xac\xff"}, hostile...)
	for _, text := range texts {
		theirs, _ := json.Marshal(text)
		var want string
		json.Unmarshal(theirs, &want)
		for _, coalesce := range []time.Duration{0, time.Hour} {
			for i := 0; i <= len(text); i++ {
				for j := i; j <= len(text); j++ {
					path := filepath.Join(t.TempDir(), "s.cast")
					c, err := openCast(path, DefaultWinsize)
					if err != nil {
						t.Fatal(err)
					}
					c.coalesce = coalesce
					for _, chunk := range []string{text[:i], text[i:j], text[j:]} {
						if chunk != "" {
							c.output([]byte(chunk))
						}
					}
					c.close()
					if _, events := readCast(t, path); castText(t, events) != want {
						t.Fatalf("%q split at %d and %d (coalesce %v): recorded %q, want %q", text, i, j, coalesce, castText(t, events), want)
					}
				}
			}
		}
	}
}

// TestCastCoalesces: output read within castCoalesce of an event's first
// chunk joins that event, later output starts another, a resize ends one;
// each event is timed by its first chunk.
func TestCastCoalesces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	c, err := openCast(path, DefaultWinsize)
	if err != nil {
		t.Fatal(err)
	}
	var at time.Duration
	c.now = func() time.Time { return c.start.Add(at) }
	for _, step := range []struct {
		at     time.Duration
		output string
	}{{10 * time.Millisecond, "a"}, {12 * time.Millisecond, "b"}, {14 * time.Millisecond, "c"},
		{16 * time.Millisecond, "d"}, {17 * time.Millisecond, ""}, {18 * time.Millisecond, "e"}} {
		at = step.at
		if step.output == "" {
			c.resize(Winsize{Rows: 30, Cols: 100})
		} else {
			c.output([]byte(step.output))
		}
	}
	c.close()
	_, events := readCast(t, path)
	var got []string
	for _, ev := range events {
		got = append(got, strings.TrimSuffix(string(must(json.Marshal(ev))), "\n"))
	}
	want := []string{`[0.01,"o","abc"]`, `[0.016,"o","d"]`, `[0.017,"r","100x30"]`, `[0.018,"o","e"]`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", got, want)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestCastFlushesPromptly: output is in the file soon after it was read,
// with no more output to push it and no close, so keeper tail -f shows it
// (castFlushDelay is 20 ms; the deadline is for a loaded machine).
func TestCastFlushesPromptly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	c, err := openCast(path, DefaultWinsize)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.output([]byte("hello\r\n"))
	start := time.Now()
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if text, _, _ := CastOutput(bytes.NewReader(b), 0); string(text) == "hello\r\n" {
			t.Logf("in the file after %v", time.Since(start))
			return
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("output not in the file after %v: %q", time.Since(start), b)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCastKeepsUpWithFlood: the recording of a burst handed over as fast
// as it comes (below castMaxPending) loses none of it, across rotations.
func TestCastKeepsUpWithFlood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	c, err := openCast(path, DefaultWinsize)
	if err != nil {
		t.Fatal(err)
	}
	c.maxBytes = 1 << 20
	chunk := termText(readBatch)
	const n = 64 // 4 MiB and more once encoded: rotated four times
	for range n {
		c.output(chunk)
	}
	c.close()
	if dropped, err := c.state(); dropped != 0 || err != nil {
		t.Fatalf("lost %d chunks (%v)", dropped, err)
	}
	var text []byte
	for i := castBackups; i >= 0; i-- {
		p := path
		if i > 0 {
			p = fmt.Sprintf("%s.%d", path, i)
		}
		if _, err := os.Stat(p); err != nil {
			continue
		}
		_, events := readCast(t, p)
		text = append(text, castText(t, events)...)
	}
	if want := bytes.Repeat(chunk, n); !bytes.Equal(text, want) {
		t.Errorf("recorded %d bytes, not the %d of output", len(text), len(want))
	}
}

// TestCastIdleKeepsNoBuffers: once output stops, the recording lets go of
// the buffers a flood made it grow (an idle master's memory counts), but
// not during a pause shorter than castIdleRelease (a flood that pauses
// would pay for new ones).
func TestCastIdleKeepsNoBuffers(t *testing.T) {
	c, err := openCast(filepath.Join(t.TempDir(), "s.cast"), DefaultWinsize)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	chunk := floodText(readBatch)
	for range 32 {
		c.output(chunk)
	}
	held := func() (n int) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, b := range c.pending {
			n += cap(b.data)
		}
		for _, b := range c.free {
			n += cap(b.data)
		}
		return n
	}
	start := time.Now()
	time.Sleep(10 * castFlushDelay) // the pause
	if held() == 0 && time.Since(start) < castIdleRelease/2 {
		t.Errorf("buffers let go %v into a pause", time.Since(start))
	}
	for {
		held := held()
		if held == 0 {
			return
		}
		if time.Since(start) > castIdleRelease+5*time.Second {
			t.Fatalf("%d bytes of buffer held %v after the output stopped", held, time.Since(start))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCastWriteError: a recording whose file cannot be written stops, says
// why in the session's status, and never blocks the output path.
func TestCastWriteError(t *testing.T) {
	c, err := openCast(filepath.Join(t.TempDir(), "s.cast"), DefaultWinsize)
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	c.f.Close()
	c.f = full // before any output: the writer has not touched it yet
	c.output([]byte("lost\r\n"))
	start := time.Now()
	for {
		if _, err := c.state(); err != nil {
			if !strings.Contains(err.Error(), "record session") || !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("status says %q, want the recording's ENOSPC", err)
			}
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatal("no error in the status 2 s after a write to /dev/full")
		}
		time.Sleep(time.Millisecond)
	}
	for range 10 {
		c.output(floodText(readBatch))
	}
	c.close()
}
