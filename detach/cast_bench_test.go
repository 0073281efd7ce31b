package detach

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// floodText is output as keeper-bench's flood prints it: printable ASCII.
func floodText(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// termText is output as a shell's listing prints it: short lines, colour
// escapes, some UTF-8.
func termText(n int) []byte {
	line := "\x1b[01;34mdrwxr-xr-x\x1b[0m  2 root root  4096 déc.  5 18:51 \"quoted\" ünïcode → file.txt\r\n"
	return []byte(strings.Repeat(line, n/len(line)+1)[:n])
}

// BenchmarkAppendJSONString is the cost of escaping a recording's output.
func BenchmarkAppendJSONString(b *testing.B) {
	for _, c := range []struct {
		name string
		text []byte
	}{{"flood", floodText(64 << 10)}, {"terminal", termText(64 << 10)}} {
		b.Run(c.name, func(b *testing.B) {
			s := string(c.text)
			dst := make([]byte, 0, 2*len(s))
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				dst = appendJSONString(dst[:0], s)
			}
		})
	}
}

// BenchmarkCastOutput is what recording costs per byte of output, handed
// over in chunks of the sizes the master reads (one pty read, a full
// batch), including the writer's encoding and file writes (run it with
// GOMAXPROCS=1, as the master runs). Chunks the recording lost are
// reported: a recording that drops is no faster.
func BenchmarkCastOutput(b *testing.B) {
	for _, c := range []struct {
		name string
		text []byte
	}{{"flood/4KiB", floodText(ttyChunk)}, {"flood/64KiB", floodText(readBatch)}, {"terminal/4KiB", termText(ttyChunk)}} {
		b.Run(c.name, func(b *testing.B) {
			c0, err := openCast(filepath.Join(b.TempDir(), "s.cast"), DefaultWinsize)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				c0.output(c.text)
				// The master's pump waits for the pty between reads,
				// which lets the writer run on its one processor.
				runtime.Gosched()
			}
			c0.close()
			dropped, err := c0.state()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(dropped), "lost")
		})
	}
}
