package vt

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
)

// plainText is what cat of a text file sends: lines of ASCII with CRLF.
func plainText() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "%5d  The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs.\r\n", i)
	}
	return b.Bytes()
}

func BenchmarkWritePlain(b *testing.B) {
	data := plainText()
	term := New(80, 24)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		term.Write(data)
	}
}

func BenchmarkWriteRecordings(b *testing.B) {
	recs := loadRecordings(b)
	var all []byte
	for _, n := range sortedNames(recs) {
		all = append(all, recs[n]...)
		all = append(all, "\x1bc"...)
	}
	term := New(80, 24)
	b.SetBytes(int64(len(all)))
	b.ReportAllocs()
	for b.Loop() {
		term.Write(all)
	}
}

func BenchmarkRepaint(b *testing.B) {
	recs := loadRecordings(b)
	term := New(80, 24)
	term.Write(recs["lsR"])
	term.Write(recs["vim"][:len(recs["vim"])/2])
	buf := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		buf = term.Repaint(buf[:0], RepaintOptions{})
	}
	b.ReportMetric(float64(len(buf)), "bytes/repaint")
}

// TestWriteNoAllocs checks the ground state allocates nothing per byte (nor per line, once the
// scrollback ring has grown to its budget).
func TestWriteNoAllocs(t *testing.T) {
	data := plainText()[:64<<10]
	term := New(80, 24, WithScrollback(32<<10))
	term.Write(data)
	if n := testing.AllocsPerRun(10, func() { term.Write(data) }); n != 0 {
		t.Errorf("%v allocations per 64 KiB of plain text", n)
	}
}

// TestFootprint measures what an idle 80x24 terminal with empty scrollback holds on the heap.
func TestFootprint(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	terms := make([]*Terminal, 100)
	for i := range terms {
		terms[i] = New(80, 24)
		terms[i].Write([]byte("hello \x1b[1mworld\x1b[m 中文\r\n"))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (after.HeapAlloc - before.HeapAlloc) / uint64(len(terms))
	t.Logf("idle 80x24 terminal: %d bytes of heap", per)
	if per > 512<<10 {
		t.Errorf("idle 80x24 terminal holds %d bytes", per)
	}
	runtime.KeepAlive(terms)
}
