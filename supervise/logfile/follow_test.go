package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer collects what Follow writes and lets a test wait for it.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
	flushes int
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

func (b *syncBuffer) flush() {
	b.mu.Lock()
	b.flushes++
	b.mu.Unlock()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the output satisfies ok, failing after a timeout.
func (b *syncBuffer) waitFor(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		b.mu.Lock()
		s, ch := b.buf.String(), b.changed
		b.mu.Unlock()
		if ok(s) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; have %q", what, tail(s, 300))
		}
	}
}

func (b *syncBuffer) waitEqual(t *testing.T, want string) {
	t.Helper()
	b.waitFor(t, fmt.Sprintf("%d bytes", len(want)), func(s string) bool { return len(s) >= len(want) })
	if got := b.String(); got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("output differs at byte %d of %d/%d:\n got ...%q\nwant ...%q", i, len(got), len(want),
			got[max(i-40, 0):min(i+80, len(got))], want[max(i-40, 0):min(i+80, len(want))])
	}
}

func tail(s string, n int) string { return s[max(len(s)-n, 0):] }

// startFollow runs Follow in a goroutine; the returned stop cancels it and
// checks it returned nil.
func startFollow(t *testing.T, path string) (*syncBuffer, func()) {
	t.Helper()
	out := newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, path, out, out.flush) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Follow: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Follow did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return out, stop
}

// bothModes runs a test with inotify and with the poll fallback alone.
func bothModes(t *testing.T, f func(t *testing.T)) {
	t.Run("inotify", f)
	t.Run("poll", func(t *testing.T) {
		followNoInotify = true
		t.Cleanup(func() { followNoInotify = false }) // after Follow has stopped
		f(t)
	})
}

func TestFollowHeadAndAppends(t *testing.T) {
	bothModes(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.log")
		var old strings.Builder
		for i := range 300 {
			fmt.Fprintf(&old, "old line %03d\n", i)
		}
		os.WriteFile(path, []byte(old.String()), 0o644)
		out, stop := startFollow(t, path)
		want := old.String()[len(old.String())-1024:]
		out.waitEqual(t, want)

		f, err := Open(path, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := range 5 {
			line := fmt.Sprintf("new line %d\n", i)
			writeAll(t, f, line)
			want += line
			out.waitEqual(t, want)
		}
		stop()
		out.mu.Lock()
		defer out.mu.Unlock()
		if out.flushes == 0 {
			t.Error("flush never called")
		}
	})
}

func TestFollowShortFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(path, []byte("short\n"), 0o644)
	out, _ := startFollow(t, path)
	out.waitEqual(t, "short\n")
}

func TestFollowTruncation(t *testing.T) {
	bothModes(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.log")
		os.WriteFile(path, []byte("first\n"), 0o644)
		out, _ := startFollow(t, path)
		out.waitEqual(t, "first\n")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		want := "first\n" + TruncatedMarker
		out.waitEqual(t, want)
		f, err := Open(path, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		writeAll(t, f, "second\n")
		out.waitEqual(t, want+"second\n")
	})
}

// TestFollowBackupsZero: with no backups, supervisord truncates the log in
// place when it is full, and /logtail says so.
func TestFollowBackupsZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	f, err := Open(path, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, _ := startFollow(t, path)
	writeAll(t, f, "12345")
	out.waitEqual(t, "12345")
	writeAll(t, f, "67890") // full: truncated
	writeAll(t, f, "ab")
	// The follower may or may not see 67890 before the truncation.
	out.waitFor(t, "marker and ab", func(s string) bool { return strings.HasSuffix(s, TruncatedMarker+"ab") })
	if s := out.String(); s != "12345"+TruncatedMarker+"ab" && s != "1234567890"+TruncatedMarker+"ab" {
		t.Errorf("output %q", s)
	}
}

func TestFollowClear(t *testing.T) {
	bothModes(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.log")
		f, err := Open(path, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		writeAll(t, f, "before\n")
		out, _ := startFollow(t, path)
		out.waitEqual(t, "before\n")
		if err := f.Clear(); err != nil {
			t.Fatal(err)
		}
		writeAll(t, f, "after\n")
		out.waitEqual(t, "before\nafter\n")
	})
}

// TestFollowRotation: a writer rotating the log many times while Follow
// runs; Follow's output is exactly everything written, in order.
func TestFollowRotation(t *testing.T) {
	bothModes(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.log")
		f, err := Open(path, 4<<10, 1000)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		writeAll(t, f, "start\n")
		out, _ := startFollow(t, path)
		out.waitEqual(t, "start\n") // Follow is past its head
		var want strings.Builder
		want.WriteString("start\n")
		for i := range 20000 {
			line := fmt.Sprintf("line %d\n", i)
			writeAll(t, f, line)
			want.WriteString(line)
		}
		out.waitEqual(t, want.String())
		if _, err := os.Stat(path + ".30"); err != nil {
			t.Fatalf("expected many rotations: %v", err)
		}
	})
}

// TestFollowLogrotate: the file is moved away (logrotate's create mode), the
// program keeps writing to it until told to reopen, then writes the new one.
func TestFollowLogrotate(t *testing.T) {
	bothModes(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.log")
		f, err := Open(path, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		writeAll(t, f, "one\n")
		out, _ := startFollow(t, path)
		out.waitEqual(t, "one\n")
		if err := os.Rename(path, path+"-20261126"); err != nil {
			t.Fatal(err)
		}
		writeAll(t, f, "two\n") // to the moved file: still followed
		out.waitEqual(t, "one\ntwo\n")
		writeAll(t, f, "three\n")
		if err := f.Reopen(); err != nil {
			t.Fatal(err)
		}
		writeAll(t, f, "four\n")
		out.waitEqual(t, "one\ntwo\nthree\nfour\n")
	})
}

func TestFollowErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.log")
	err := Follow(context.Background(), missing, new(bytes.Buffer), nil)
	if !errors.Is(err, os.ErrNotExist) || err.Error() != "follow log "+missing+": no such file or directory" {
		t.Errorf("Follow(missing): %v", err)
	}
	// A failing writer ends Follow with its error.
	path := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(path, []byte("data"), 0o644)
	err = Follow(context.Background(), path, &failingWriter{}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "follow log "+path+": write: ") {
		t.Errorf("Follow(failing writer): %v", err)
	}
}

// TestFollowNotRegular: following a FIFO (as /dev/stdout is on a pipe) fails
// at once with ESPIPE instead of blocking in open or reading its data away.
func TestFollowNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Follow(context.Background(), fifo, new(bytes.Buffer), nil) }()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.ESPIPE) {
			t.Errorf("Follow(fifo): %v, want ESPIPE", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow of a FIFO without a writer blocked")
	}
}
