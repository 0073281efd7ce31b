package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// TestStdinQueueNeverBlocks: writes to a pipe nobody reads return at once
// up to the bound, then fail with errStdinFull; Close ends the writer.
func TestStdinQueueNeverBlocks(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	q := newStdinQueue(w)
	chunk := bytes.Repeat([]byte("x"), 100<<10) // more than a pipe holds
	var queued int
	for {
		if err := q.Write(chunk); err != nil {
			if !errors.Is(err, errStdinFull) {
				t.Fatalf("write %d: %v, want errStdinFull", queued, err)
			}
			break
		}
		queued += len(chunk)
		if queued > 2*maxStdinPending {
			t.Fatalf("queued %d bytes to a pipe nobody reads, bound is %d", queued, maxStdinPending)
		}
	}
	if queued < maxStdinPending-len(chunk) {
		t.Errorf("refused after %d bytes, want about %d", queued, maxStdinPending)
	}
	q.Close()
	if err := q.Write([]byte("y")); !errors.Is(err, errStdinClosed) {
		t.Errorf("write after close: %v, want errStdinClosed", err)
	}
}

// TestStdinQueueOrder: what is queued reaches the reader whole and in order.
func TestStdinQueueOrder(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	q := newStdinQueue(w)
	var want bytes.Buffer
	for i := range 2000 {
		line := []byte(string(rune('a'+i%26)) + "0123456789\n")
		want.Write(line)
		if err := q.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("the reader got the bytes out of order or changed")
	}
	q.Close()
	r.Close()
}

// TestStdinQueueBrokenPipe: once the program closes its stdin, writes fail
// with errStdinClosed (supervisord's NO_FILE).
func TestStdinQueueBrokenPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	q := newStdinQueue(w)
	defer q.Close()
	deadline := time.Now().Add(5 * time.Second)
	for q.Write([]byte("z")) == nil {
		if time.Now().After(deadline) {
			t.Fatal("writes to a closed pipe still succeed after 5s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := q.Write([]byte("z")); !errors.Is(err, errStdinClosed) {
		t.Errorf("write to a broken pipe: %v, want errStdinClosed", err)
	}
}

// TestStdinQueueHold: hold stops the writer blocked on a full pipe, and
// what the pipe holds followed by pending is every byte queued, once and
// in order (what reexec hands over); release writes the rest.
func TestStdinQueueHold(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	q := newStdinQueue(w)
	defer q.Close()
	var want bytes.Buffer
	for i := range 20000 { // about 200 KiB: more than a pipe holds
		line := fmt.Appendf(nil, "%d\n", i)
		want.Write(line)
		if err := q.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	q.hold()
	if err := q.Write([]byte("after\n")); err != nil { // queued, not written
		t.Fatal(err)
	}
	want.WriteString("after\n")
	pending := q.pending()
	// Read what the pipe holds, without waiting for more.
	var inPipe bytes.Buffer
	buf := make([]byte, 64<<10)
	_ = r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		n, err := r.Read(buf)
		inPipe.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if got := append(inPipe.Bytes(), pending...); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the pipe held %d bytes and %d were pending: not the %d queued, in order", inPipe.Len(), len(pending), want.Len())
	}
	if len(pending) == 0 {
		t.Fatal("nothing was pending: the test did not fill the pipe")
	}
	q.release()
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(pending))
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, pending) {
		t.Fatalf("after release the reader got %q, %v; want the pending bytes", got, err)
	}
}
