package vt

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzWrite feeds arbitrary bytes: no panic, no hang (each input must be parsed in well under a second),
// bounded memory, and the repaint must reproduce the screen in a fresh terminal.
func FuzzWrite(f *testing.F) {
	for _, p := range probes {
		f.Add([]byte(p.in), uint8(20), uint8(6))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.rec"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && len(b) > 1024 {
			f.Add(b[:1024], uint8(80), uint8(24))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, cols, rows uint8) {
		start := time.Now()
		// A hang would stall the fuzzer silently: crash the worker instead, so the input is reported.
		watchdog := time.AfterFunc(10*time.Second, func() { panic("Write or Repaint hangs") })
		defer watchdog.Stop()
		term := New(int(cols%100), int(rows%50), WithScrollback(1<<16))
		half := len(data) / 2
		term.Write(data[:half])
		term.Resize(int(rows%60), int(cols%40))
		term.Write(data[half:])
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%d bytes took %v", len(data), d)
		}
		if len(term.replies) > maxReplies || len(term.title) > maxTitle || len(term.osc) > maxOSC {
			t.Fatalf("unbounded buffers: replies %d title %d osc %d", len(term.replies), len(term.title), len(term.osc))
		}
		if term.x < 0 || term.x >= term.cols || term.y < 0 || term.y >= term.rows || term.top > term.bot {
			t.Fatalf("cursor %d,%d region %d-%d on %dx%d", term.x, term.y, term.top, term.bot, term.cols, term.rows)
		}
		rep := term.Repaint(nil, RepaintOptions{Scrollback: -1})
		b := New(term.cols, term.rows)
		b.Write(rep)
		if d := diffRows("screen", ourState(term).screen, ourState(b).screen, false); d != "" {
			t.Fatalf("repaint %q does not reproduce the screen:\n%s", rep, d)
		}
		if !bytes.HasPrefix(rep, []byte("\x1bc")) {
			t.Fatal("repaint does not start with a reset")
		}
	})
}
