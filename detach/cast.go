package detach

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// A session's recording: the terminal's output with timing, as an asciicast
// v2 file (asciinema's format: a header line, then one JSON array per event,
// [seconds, "o", text] for output and [seconds, "r", "COLSxROWS"] for a
// resize), rotated by size like program logs.
//
// The master runs on one processor, so whatever the recording costs is
// taken from the session's throughput. The output path only copies each
// chunk into a pending batch under a lock, with one clock read, and yields
// to the writer once a batch is full; the writer, a goroutine of its own,
// takes every pending batch at once, encodes each into a reused buffer and
// writes it in one system call. Batches are bounded (castFlushBytes) and
// their buffers reused while output goes on (never allocated per chunk,
// not grown into fresh memory by a flood), so a flood's copies stay in
// the cache. A slow disk never delays
// the session: past castMaxPending it loses recording (counted in the
// status) instead.

// SessionLogEnv names a file to record a session in when keeper dtach is
// not given --log.
const SessionLogEnv = "KEEPER_SESSION_LOG"

// Rotation of recordings: at castMaxBytes the file becomes PATH.1 (PATH.2
// ..., castBackups kept) and a new one starts with its own header.
const (
	castMaxBytes = 50 << 20
	castBackups  = 5
)

// How output waits to be written. Output is in the file at most
// castFlushDelay after it was read (promptly: keeper tail -f looks every
// 200 ms), or as soon as castFlushBytes of it wait. Chunks read within
// castCoalesce of an event's first one join that event: a burst is one
// "o" event, timed by its first byte, up to castMaxEvent bytes of output
// (a line a reader can hold). Past castMaxPending bytes waiting (the disk
// does not keep up), output is lost to the recording.
const (
	castFlushDelay = 20 * time.Millisecond
	castFlushBytes = 256 << 10
	castCoalesce   = 5 * time.Millisecond
	castMaxEvent   = 64 << 10
	castMaxPending = 8 << 20
	// castIdleRelease after its last output, a recording lets go of its
	// buffers; until then it keeps castFreeBatches written batches to
	// reuse.
	castIdleRelease = time.Second
	castFreeBatches = 4
)

// castChunk is one event waiting to be written: output, whose bytes run
// in its batch's data from the previous chunk's end to its own, or a
// resize to ws.
type castChunk struct {
	at     time.Time
	end    int
	resize bool
	ws     Winsize
}

// castBatch is output waiting to be written, and then being written.
type castBatch struct {
	data   []byte // every output chunk's bytes, in order
	chunks []castChunk
}

// joins says whether n bytes of output read at now join the batch's last
// event rather than start one.
func (b *castBatch) joins(now time.Time, n int, coalesce time.Duration) bool {
	last := len(b.chunks) - 1
	if last < 0 || b.chunks[last].resize || now.Sub(b.chunks[last].at) >= coalesce {
		return false
	}
	start := 0
	if last > 0 {
		start = b.chunks[last-1].end
	}
	return b.chunks[last].end-start+n <= castMaxEvent
}

// castWriter records one session.
type castWriter struct {
	path     string
	maxBytes int64
	backups  int
	coalesce time.Duration    // castCoalesce; tests change it
	now      func() time.Time // time.Now; tests set their own clock

	kick  chan struct{} // wakes the writer, never blocks (room for one)
	timer *time.Timer   // kicks the writer castFlushDelay after output
	done  chan struct{}

	mu      sync.Mutex
	pending []castBatch // in order; only the last is not full
	waiting int         // bytes of output in them
	free    []castBatch // written, for reuse (their buffers are warm)
	closing bool
	dropped int   // chunks lost to a full batch
	err     error // why recording stopped

	// Owned by the writer goroutine.
	f     *os.File
	size  int64
	start time.Time
	ws    Winsize   // the size the recording is at
	out   []byte    // the encoded batch
	wrote time.Time // when the last batch was written
	tail  []byte    // an incomplete UTF-8 sequence held for the next chunk
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
	c := &castWriter{path: path, maxBytes: castMaxBytes, backups: castBackups, coalesce: castCoalesce,
		now: time.Now, kick: make(chan struct{}, 1), done: make(chan struct{}), ws: ws}
	if err := c.openFile(c.now()); err != nil {
		return nil, wrap("record session", err)
	}
	c.timer = time.AfterFunc(castFlushDelay, c.wake)
	go c.run()
	return c, nil
}

// wake has the writer take what is pending.
func (c *castWriter) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// output records a chunk of the program's output; it never blocks. Once
// a batch's worth waits, it yields the processor so that the writer takes
// it: a flood keeps the pump busy, and batches left to grow would be
// copied to fresh memory and out of the cache.
func (c *castWriter) output(p []byte) {
	if c.add(p) {
		runtime.Gosched()
	}
}

// add puts p in the pending batch and says whether the batch is full.
func (c *castWriter) add(p []byte) (full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.err != nil {
		return false
	}
	if c.waiting+len(p) > castMaxPending {
		c.dropped++
		return false
	}
	now, first := c.now(), len(c.pending) == 0
	b := c.batch()
	if b.joins(now, len(p), c.coalesce) {
		b.chunks[len(b.chunks)-1].end += len(p)
	} else {
		b.chunks = append(b.chunks, castChunk{at: now, end: len(b.data) + len(p)})
	}
	b.data = append(b.data, p...)
	c.waiting += len(p)
	return c.flushLater(first)
}

// batch returns the batch being filled, a new one if the last is full.
// A batch grows to castFlushBytes at most (and one chunk): a full one
// waits as it is and the next chunk goes to the next, whose buffer is one
// written before when there is one. A new one starts small: the output of
// a session used interactively needs little. Called with c.mu held.
func (c *castWriter) batch() *castBatch {
	if n := len(c.pending); n > 0 && len(c.pending[n-1].data) < castFlushBytes {
		return &c.pending[n-1]
	}
	var b castBatch
	if n := len(c.free); n > 0 {
		b, c.free = c.free[n-1], c.free[:n-1]
	}
	c.pending = append(c.pending, b)
	return &c.pending[len(c.pending)-1]
}

// resize records a new window size.
func (c *castWriter) resize(ws Winsize) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.err != nil {
		return
	}
	first := len(c.pending) == 0
	b := c.batch()
	b.chunks = append(b.chunks, castChunk{at: c.now(), end: len(b.data), resize: true, ws: ws})
	c.flushLater(first)
}

// flushLater makes sure what is pending gets written: now if there is
// enough of it (then it says so), else castFlushDelay after the first of
// it (first: this call added it). Called with c.mu held.
func (c *castWriter) flushLater(first bool) (now bool) {
	if c.waiting >= castFlushBytes {
		c.wake()
		return true
	}
	if first {
		c.timer.Reset(castFlushDelay)
	}
	return false
}

// close writes what is pending and closes the file.
func (c *castWriter) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.wake()
	<-c.done
	c.timer.Stop()
}

// state says how the recording goes, for the session's status.
func (c *castWriter) state() (dropped int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped, c.err
}

func (c *castWriter) run() {
	defer close(c.done)
	var batches []castBatch // taken from c.pending; its next storage
	for range c.kick {
		c.mu.Lock()
		if len(c.pending) == 0 && !c.closing {
			// Nothing since the last batch. An idle recording keeps no
			// buffers (a flood's are large), but a flood that pauses
			// keeps them: new ones would cost it page faults.
			if idle := time.Since(c.wrote); idle < castIdleRelease {
				c.timer.Reset(castIdleRelease - idle)
			} else {
				c.free, c.out = nil, nil
			}
			c.mu.Unlock()
			continue
		}
		batches, c.pending = c.pending, batches[:0]
		c.waiting = 0
		closing := c.closing
		c.mu.Unlock()

		var err error
		for _, b := range batches {
			if err = c.writeBatch(b); err != nil {
				break
			}
		}
		if err == nil && closing && len(c.tail) > 0 {
			// Output ended inside a character: its bytes are invalid.
			c.out = c.appendEvent(c.out[:0], c.now(), 'o', nil)
			err = c.write(c.out)
		}
		if err != nil {
			c.mu.Lock()
			c.err = wrap("record session", err) // err names the file
			c.mu.Unlock()
		}
		if err != nil || closing {
			if c.f != nil {
				c.f.Close()
			}
			return
		}
		c.wrote = time.Now()
		c.mu.Lock()
		for _, b := range batches {
			if len(c.free) < castFreeBatches {
				c.free = append(c.free, castBatch{data: b.data[:0], chunks: b.chunks[:0]})
			}
		}
		clear(batches) // the rest are garbage
		if len(c.pending) == 0 {
			c.timer.Reset(castIdleRelease) // look again: idle then?
		}
		c.mu.Unlock()
	}
}

// writeBatch encodes b's events and writes them, rotating the file when
// it reaches maxBytes.
func (c *castWriter) writeBatch(b castBatch) error {
	out := c.out[:0]
	from := 0
	for _, ch := range b.chunks {
		if ch.resize {
			c.ws = ch.ws
			out = c.appendEvent(out, ch.at, 'r', []byte(strconv.Itoa(int(ch.ws.Cols))+"x"+strconv.Itoa(int(ch.ws.Rows))))
		} else {
			out = c.appendEvent(out, ch.at, 'o', b.data[from:ch.end])
			from = ch.end
		}
		if c.maxBytes > 0 && c.size+int64(len(out)) >= c.maxBytes {
			if err := c.write(out); err != nil {
				return err
			}
			out = out[:0]
			if err := c.rotate(ch.at); err != nil {
				return err
			}
		}
	}
	c.out = out
	return c.write(out)
}

// write appends p to the file.
func (c *castWriter) write(p []byte) error {
	n, err := c.f.Write(p)
	c.size += int64(n)
	return err
}

// appendEvent appends the event [seconds, "kind", data] to out, nothing
// for output that is only the start of a character. Output's text starts
// with the incomplete UTF-8 sequence held from the last output and holds
// back its own (JSON strings are UTF-8, and a character may be split
// between two reads); invalid UTF-8 becomes U+FFFD.
func (c *castWriter) appendEvent(out []byte, at time.Time, kind byte, data []byte) []byte {
	var head []byte // c.tail and the bytes of data that end its character
	if kind == 'o' {
		if len(c.tail) > 0 {
			var joined [2 * utf8.UTFMax]byte
			head = append(append(joined[:0], c.tail...), data[:min(len(data), utf8.UTFMax)]...)
			i := 0
			for i < len(c.tail) && utf8.FullRune(head[i:]) {
				_, size := utf8.DecodeRune(head[i:])
				i += size
			}
			if i < len(c.tail) && len(data) > 0 {
				c.tail = append(c.tail[:0], head...) // still incomplete
				return out
			}
			head, data = head[:max(i, len(c.tail))], data[max(i-len(c.tail), 0):]
			c.tail = c.tail[:0]
		}
		cut := len(data)
		for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
			if utf8.RuneStart(data[i]) {
				if !utf8.FullRune(data[i:]) {
					cut = i
				}
				break
			}
		}
		c.tail = append(c.tail[:0], data[cut:]...)
		data = data[:cut]
		if len(head) == 0 && len(data) == 0 {
			return out
		}
	}
	out = append(out, '[')
	out = strconv.AppendFloat(out, at.Sub(c.start).Seconds(), 'f', 6, 64)
	out = append(out, ", \""...)
	out = append(out, kind)
	out = append(out, "\", \""...)
	out = appendEscaped(out, head)
	out = appendEscaped(out, data)
	return append(out, "\"]\n"...)
}

// rotate moves PATH to PATH.1 (and older ones up to castBackups) and starts
// a new recording.
func (c *castWriter) rotate(now time.Time) error {
	c.f.Close()
	for i := c.backups - 1; i >= 1; i-- {
		os.Rename(c.path+"."+strconv.Itoa(i), c.path+"."+strconv.Itoa(i+1))
	}
	if c.backups > 0 {
		os.Rename(c.path, c.path+".1")
	} else {
		os.Remove(c.path)
	}
	return c.openFile(now)
}

// openFile creates the recording file and writes its header; its errors
// name the file.
func (c *castWriter) openFile(now time.Time) error {
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		c.f = nil
		return err
	}
	var env jsonObject
	env.str("TERM", os.Getenv("TERM"))
	var header jsonObject
	header.int("version", 2)
	header.int("width", int64(c.ws.Cols))
	header.int("height", int64(c.ws.Rows))
	header.int("timestamp", now.Unix())
	header.raw("env", env.bytes())
	c.f, c.start, c.size = f, now, 0
	if err := c.write(append(header.bytes(), '\n')); err != nil {
		f.Close()
		c.f = nil
		return err
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
