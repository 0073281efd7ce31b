package detach

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// A session's recording: the terminal's output with timing, as an asciicast
// v2 file (asciinema's format: a header line, then one JSON array per event,
// [seconds, "o", text] for output and [seconds, "r", "COLSxROWS"] for a
// resize), rotated by size like program logs. The output path only hands
// bytes to a goroutine: a slow disk never delays the session, it loses
// recording (counted in the status) instead.

// SessionLogEnv names a file to record a session in when keeper dtach is
// not given --log.
const SessionLogEnv = "KEEPER_SESSION_LOG"

// Rotation of recordings: at castMaxBytes the file becomes PATH.1 (PATH.2
// ..., castBackups kept) and a new one starts with its own header.
const (
	castMaxBytes = 50 << 20
	castBackups  = 5
	castQueue    = 256 // output chunks waiting for the writer
)

type castEvent struct {
	at   time.Time
	kind byte // 'o' or 'r'
	data []byte
}

// castWriter records one session.
type castWriter struct {
	path     string
	maxBytes int64
	backups  int

	events  chan castEvent
	done    chan struct{}
	mu      sync.Mutex
	dropped int   // chunks lost to a full queue
	err     error // the first write error; recording stopped
	ws      Winsize

	// Owned by the writer goroutine.
	f     *os.File
	w     *bufio.Writer
	size  int64
	start time.Time
	tail  []byte // an incomplete UTF-8 sequence held for the next chunk
}

// logFromEnv takes the recording's file from $KEEPER_SESSION_LOG when none
// was given, as an absolute path (the master may run elsewhere). A
// directory there gets one file per session, SOCKETNAME.cast.
func logFromEnv(opts *MasterOptions) {
	if opts.Log == "" {
		opts.Log = os.Getenv(SessionLogEnv)
	}
	if opts.Log == "" {
		return
	}
	if fi, err := os.Stat(opts.Log); err == nil && fi.IsDir() {
		opts.Log = filepath.Join(opts.Log, filepath.Base(opts.Socket)+".cast")
	}
	if abs, err := filepath.Abs(opts.Log); err == nil {
		opts.Log = abs
	}
}

// openCast starts recording to path, for a terminal of size ws.
func openCast(path string, ws Winsize) (*castWriter, error) {
	c := &castWriter{path: path, maxBytes: castMaxBytes, backups: castBackups,
		events: make(chan castEvent, castQueue), done: make(chan struct{}), ws: ws}
	if err := c.openFile(time.Now()); err != nil {
		return nil, err
	}
	go c.run()
	return c, nil
}

// output records a chunk of the program's output; it never blocks.
func (c *castWriter) output(p []byte) {
	c.send(castEvent{at: time.Now(), kind: 'o', data: append([]byte(nil), p...)})
}

// resize records a new window size.
func (c *castWriter) resize(ws Winsize) {
	c.mu.Lock()
	c.ws = ws
	c.mu.Unlock()
	c.send(castEvent{at: time.Now(), kind: 'r', data: fmt.Appendf(nil, "%dx%d", ws.Cols, ws.Rows)})
}

func (c *castWriter) send(ev castEvent) {
	select {
	case c.events <- ev:
	default:
		c.mu.Lock()
		c.dropped++
		c.mu.Unlock()
	}
}

// close flushes what is queued and closes the file.
func (c *castWriter) close() {
	close(c.events)
	<-c.done
}

// state says how the recording goes, for the session's status.
func (c *castWriter) state() (dropped int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped, c.err
}

func (c *castWriter) run() {
	defer close(c.done)
	for ev := range c.events {
		if c.f == nil {
			continue // stopped by an error: drain
		}
		if err := c.write(ev); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			c.f.Close()
			c.f = nil
			continue
		}
		if len(c.events) == 0 {
			if err := c.w.Flush(); err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
			}
		}
	}
	if c.f != nil {
		c.w.Flush()
		c.f.Close()
	}
}

func (c *castWriter) write(ev castEvent) error {
	data := ev.data
	if ev.kind == 'o' {
		// JSON strings are UTF-8: a sequence split between two reads
		// waits for its end.
		data = append(c.tail, data...)
		cut := len(data)
		for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
			if utf8.RuneStart(data[i]) {
				if !utf8.FullRune(data[i:]) {
					cut = i
				}
				break
			}
		}
		c.tail = append([]byte(nil), data[cut:]...)
		data = data[:cut]
		if len(data) == 0 {
			return nil
		}
	}
	line := strconv.AppendFloat([]byte{'['}, ev.at.Sub(c.start).Seconds(), 'f', 6, 64)
	line = append(line, `, "`...)
	line = append(line, ev.kind)
	line = append(line, `", `...)
	line = appendJSONString(line, string(data)) // invalid UTF-8 becomes U+FFFD
	line = append(line, "]\n"...)
	n, err := c.w.Write(line)
	c.size += int64(n)
	if err != nil {
		return err
	}
	if c.maxBytes > 0 && c.size >= c.maxBytes {
		return c.rotate(ev.at)
	}
	return nil
}

// rotate moves PATH to PATH.1 (and older ones up to castBackups) and starts
// a new recording.
func (c *castWriter) rotate(now time.Time) error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	c.f.Close()
	for i := c.backups - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", c.path, i), fmt.Sprintf("%s.%d", c.path, i+1))
	}
	if c.backups > 0 {
		os.Rename(c.path, c.path+".1")
	} else {
		os.Remove(c.path)
	}
	return c.openFile(now)
}

// openFile creates the recording file and writes its header.
func (c *castWriter) openFile(now time.Time) error {
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("record session: %w", err)
	}
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	var env jsonObject
	env.str("TERM", os.Getenv("TERM"))
	var header jsonObject
	header.int("version", 2)
	header.int("width", int64(ws.Cols))
	header.int("height", int64(ws.Rows))
	header.int("timestamp", now.Unix())
	header.raw("env", env.bytes())
	b := header.bytes()
	c.f, c.w, c.start = f, bufio.NewWriterSize(f, 32<<10), now
	n, err := c.w.Write(append(b, '\n'))
	c.size = int64(n)
	if err == nil {
		err = c.w.Flush()
	}
	if err != nil {
		f.Close()
		c.f = nil
		return fmt.Errorf("record session %s: %w", c.path, err)
	}
	return nil
}

// CastOutput reads the output events of a recording from r, which starts
// at offset of the file (0: at its header), and returns their text and the
// offset after the last complete line read: a follower reads on from there.
func CastOutput(r io.Reader, offset int64) (text []byte, next int64, err error) {
	br := bufio.NewReader(r)
	next = offset
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return text, next, nil // a partial last line waits for its end
		}
		if err != nil {
			return text, next, err
		}
		next += int64(len(line))
		if offset == 0 && next == int64(len(line)) {
			continue // the header
		}
		var ev []json.RawMessage
		if json.Unmarshal(line, &ev) != nil || len(ev) != 3 || string(ev[1]) != `"o"` {
			continue
		}
		var data string
		if json.Unmarshal(ev[2], &data) == nil {
			text = append(text, data...)
		}
	}
}
