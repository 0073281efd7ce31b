package detach

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestClientReadRaw: the master's raw read of a client socket returns what
// the peer sent, waits in the poller until the read deadline, and says
// io.EOF once the peer hung up.
func TestClientReadRaw(t *testing.T) {
	c, peer := socketPair(t, func() {})
	buf := make([]byte, 64)
	if _, err := peer.Write([]byte("keys")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.read(buf); err != nil || string(buf[:n]) != "keys" {
		t.Fatalf("read = %q, %v; want \"keys\", nil", buf[:n], err)
	}
	c.conn.setReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := c.read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with nothing sent = %d, %v; want the deadline", n, err)
	}
	c.conn.setReadDeadline(time.Time{})
	peer.Close()
	if n, err := c.read(buf); err != io.EOF {
		t.Fatalf("read after hang-up = %d, %v; want io.EOF", n, err)
	}
}

// TestClientWriteAllRaw: a write far bigger than the socket's buffer goes
// out whole and in order, waiting in the poller while the peer catches up.
func TestClientWriteAllRaw(t *testing.T) {
	c, peer := socketPair(t, func() {})
	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(i % 251)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	if err := c.writeAll(want); err != nil {
		t.Fatalf("writeAll: %v", err)
	}
	c.close()
	select {
	case b := <-got:
		if !bytes.Equal(b, want) {
			t.Fatalf("peer read %d bytes, not the %d written in order", len(b), len(want))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("peer did not get the write in 10s")
	}
}

// TestClientsWaiting: the output loop sees a client's unread keys (and
// only those) without reading them, and a client whose socket has room
// for output queued for it, so it can stop parsing a backlog for them.
func TestClientsWaiting(t *testing.T) {
	m := testMaster(t)
	if m.clientsWaiting() {
		t.Fatal("clients waiting with no client")
	}
	c, peer := m.attachTest(t)
	if m.clientsWaiting() {
		t.Fatal("clients waiting before the client sent anything")
	}
	key := Packet{Type: MsgPush, Len: 1, Data: [payloadSize]byte{'k'}}.Encode()
	if _, err := peer.Write(key[:]); err != nil {
		t.Fatal(err)
	}
	if !m.clientsWaiting() {
		t.Fatal("a client's key not seen as waiting")
	}
	buf := make([]byte, PacketSize)
	if _, err := c.read(buf); err != nil {
		t.Fatal(err)
	}
	if m.clientsWaiting() {
		t.Fatal("clients waiting after the key was read")
	}

	// Output queued for a client whose writer has not run: waiting once
	// its socket has room, not while it is full.
	out, outPeer := socketPair(t, func() {})
	m.mu.Lock()
	m.clients[out] = struct{}{}
	m.mu.Unlock()
	if !out.send(make([]byte, 256<<10)) || out.queued() == 0 {
		t.Fatal("nothing queued behind a full socket")
	}
	if m.clientsWaiting() {
		t.Fatal("clients waiting while the socket with output queued is full")
	}
	if _, err := outPeer.Read(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if !m.clientsWaiting() {
		t.Fatal("queued output for a socket with room not seen as waiting")
	}
}

// TestFullTtyRead: a read of a pty master whose tty buffer is full returns
// at least ttyChunk bytes, which the output loop takes as "more is coming"
// and batches on. The kernel's buffer keeps one of its 4096 bytes free, so
// a full buffer alone gives 4095; more when the kernel refills it from the
// writer during the read (seen under load: 6144).
func TestFullTtyRead(t *testing.T) {
	ptmx, tty, err := openPty()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.close()
	defer tty.Close()
	flood := make([]byte, 4*ttyChunk)
	go tty.Write(flood) // ends when tty is closed
	fd := ptmx.fd()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		if n >= ttyChunk {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tty buffer holds %d bytes after 10s", n)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		unix.Poll(fds, 10)
	}
	buf := make([]byte, readBatch)
	if n, err := readNB(fd, buf); n < ttyChunk {
		t.Fatalf("read of a full tty = %d, %v; want at least %d bytes", n, err, ttyChunk)
	}
}

// TestKeysHold: the backlog waits keysQuiet after the last keys, and not
// at all before any were typed.
func TestKeysHold(t *testing.T) {
	m := testMaster(t)
	t0 := time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)
	if hold := m.keysHold(t0); hold > 0 {
		t.Fatalf("hold with no keys typed = %v; want none", hold)
	}
	m.lastKeys.Store(t0.UnixNano())
	for _, tc := range []struct {
		after time.Duration
		want  time.Duration
	}{
		{0, keysQuiet},
		{keysQuiet / 4, keysQuiet * 3 / 4},
		{keysQuiet, 0},
		{time.Second, keysQuiet - time.Second},
	} {
		if got := m.keysHold(t0.Add(tc.after)); got != tc.want {
			t.Errorf("hold %v after the keys = %v; want %v", tc.after, got, tc.want)
		}
	}
}

// TestClientIONoAllocs: a client's read, its try at a write and a whole
// write allocate nothing, so an echo makes no garbage.
func TestClientIONoAllocs(t *testing.T) {
	c, peer := socketPair(t, func() {})
	key := Packet{Type: MsgPush, Len: 1, Data: [payloadSize]byte{'k'}}.Encode()
	buf, echo := make([]byte, 16*PacketSize), []byte("k")
	for name, trip := range map[string]func() error{
		"read": func() error {
			if _, err := peer.Write(key[:]); err != nil {
				return err
			}
			_, err := c.read(buf)
			return err
		},
		"tryWrite": func() error {
			if _, ok := c.tryWrite(echo); !ok {
				return io.ErrClosedPipe
			}
			_, err := peer.Read(buf)
			return err
		},
		"writeAll": func() error {
			if err := c.writeAll(echo); err != nil {
				return err
			}
			_, err := peer.Read(buf)
			return err
		},
	} {
		var err error
		if allocs := testing.AllocsPerRun(200, func() { err = errors.Join(err, trip()) }); allocs != 0 || err != nil {
			t.Errorf("%s: %v allocations per call, %v; want none", name, allocs, err)
		}
	}
}
