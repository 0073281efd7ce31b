package detach

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketPair returns the master's end of a connected unix stream socket,
// as a client, and the peer's end, with small kernel buffers so the
// client's own queue takes what the peer does not read.
func socketPair(t *testing.T, onDrain func()) (*client, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	conn, err := newPollFile(fds[0], "master end")
	if err != nil {
		t.Fatalf("newPollFile: %v", err)
	}
	peer := os.NewFile(uintptr(fds[1]), "peer end")
	c := newClient(conn, onDrain)
	t.Cleanup(func() {
		c.close()
		peer.Close()
	})
	return c, peer
}

func (c *client) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending - c.bonus
}

// waitUntil waits for cond, which other goroutines make true, up to 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		runtime.Gosched()
	}
}

// TestClientQueueBounds fills a client whose peer does not read: it has
// room until highWater bytes are queued, still queues past that (pacing is
// the master's), and is dropped, hung up on, once maxQueue is exceeded.
func TestClientQueueBounds(t *testing.T) {
	c, peer := socketPair(t, func() {})
	chunk := bytes.Repeat([]byte{'x'}, 4096)
	for i := 0; c.hasRoom(); i++ {
		if i > 1000 {
			t.Fatalf("still room after %d chunks, %d bytes queued", i, c.queued())
		}
		if !c.send(chunk) {
			t.Fatalf("client dropped with %d bytes queued, below highWater", c.queued())
		}
	}
	if q := c.queued(); q < highWater || q >= highWater+len(chunk) {
		t.Fatalf("no room with %d bytes queued, want from %d up to a chunk more", q, highWater)
	}
	for c.send(chunk) {
		if c.queued() > maxQueue {
			t.Fatalf("%d bytes queued, more than maxQueue %d", c.queued(), maxQueue)
		}
	}
	if q := c.queued(); q+len(chunk) <= maxQueue {
		t.Fatalf("dropped with %d bytes queued, want only past maxQueue %d", q, maxQueue)
	}
	if !c.isClosed() || c.hasRoom() {
		t.Fatal("dropped client not closed")
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, peer); err != nil {
		t.Fatalf("peer of a dropped client: %v, want end of file", err)
	}
}

// TestClientDrainRestoresRoom: a full client gets room again as its peer
// reads, and each drained batch is reported.
func TestClientDrainRestoresRoom(t *testing.T) {
	drained := make(chan struct{}, 1)
	c, peer := socketPair(t, func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	go c.writeLoop()
	chunk := bytes.Repeat([]byte{'y'}, 4096)
	sent := 0
	for c.hasRoom() {
		if !c.send(chunk) {
			t.Fatal("client dropped before highWater")
		}
		sent += len(chunk)
	}
	got := make(chan int64)
	go func() {
		n, _ := io.CopyN(io.Discard, peer, int64(sent))
		got <- n
	}()
	select {
	case n := <-got:
		if n != int64(sent) {
			t.Fatalf("peer read %d bytes, want %d", n, sent)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("peer read less than the %d bytes sent in 10s", sent)
	}
	waitUntil(t, "the queue to empty", func() bool { return c.queued() == 0 })
	// The writer reports a drain after it has taken the batch off the
	// queue, so the report may come a moment after the queue shows empty.
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("drain not reported in 10s")
	}
	if !c.hasRoom() {
		t.Fatal("no room after the peer read everything")
	}
}

// testMaster is a master with no program: only what broadcast needs.
func testMaster(t *testing.T) *Master {
	sock := filepath.Join(t.TempDir(), "sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Master{
		opts:    MasterOptions{Socket: sock},
		clients: map[*client]struct{}{},
		room:    make(chan struct{}, 1),
		gate:    make(chan struct{}),
	}
}

// attachTest attaches a client over a socketpair and returns it and its
// peer's end.
func (m *Master) attachTest(t *testing.T) (*client, *os.File) {
	c, peer := socketPair(t, m.signalRoom)
	m.mu.Lock()
	m.clients[c] = struct{}{}
	m.setAttachedLocked(c, true)
	m.mu.Unlock()
	go c.writeLoop()
	return c, peer
}

// pattern is chunk i of a broadcast stream, so a reader can check order.
func pattern(i int) []byte { return bytes.Repeat([]byte{byte(i % 251)}, 16<<10) }

const broadcastChunks = 256 // 4 MiB

// readPattern reads the whole broadcast stream from peer and reports how
// many bytes arrived in order.
func readPattern(peer *os.File) <-chan int {
	done := make(chan int, 1)
	go func() {
		buf := make([]byte, 16<<10)
		n := 0
		for i := 0; i < broadcastChunks; i++ {
			if _, err := io.ReadFull(peer, buf); err != nil || !bytes.Equal(buf, pattern(i)) {
				break
			}
			n += len(buf)
		}
		done <- n
	}()
	return done
}

// broadcastStream broadcasts the whole stream from a goroutine and
// returns a channel closed when it is done.
func broadcastStream(m *Master) <-chan struct{} {
	sent := make(chan struct{})
	go func() {
		for i := 0; i < broadcastChunks; i++ {
			m.broadcast(pattern(i))
		}
		close(sent)
	}()
	return sent
}

// wantWholeStream fails the test unless readPattern's reader got the whole
// stream, in order, within 20s.
func wantWholeStream(t *testing.T, got <-chan int) {
	t.Helper()
	select {
	case n := <-got:
		if n != broadcastChunks*16<<10 {
			t.Fatalf("client read %d bytes in order, want %d", n, broadcastChunks*16<<10)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("client did not read the whole stream in 20s")
	}
}

// TestBroadcastPacesAtHighWater: with its only client not reading, the
// master stops at highWater instead of dropping it; once the client reads,
// all output arrives, in order.
func TestBroadcastPacesAtHighWater(t *testing.T) {
	m := testMaster(t)
	c, peer := m.attachTest(t)
	sent := broadcastStream(m)
	waitUntil(t, "the queue to reach highWater", func() bool { return !c.hasRoom() })
	// The producer is now waiting for room; unpaced it would go on past
	// maxQueue and drop the client before the reader starts.
	if c.isClosed() {
		t.Fatal("the only client was dropped instead of pacing the output")
	}
	wantWholeStream(t, readPattern(peer))
	<-sent
}

// TestBroadcastDropsClientFarBehind: a client that stops reading while
// another keeps up is dropped once maxQueue behind; the other gets every
// byte and the master never waits on the stuck one.
func TestBroadcastDropsClientFarBehind(t *testing.T) {
	m := testMaster(t)
	_, fast := m.attachTest(t)
	stuck, _ := m.attachTest(t) // its peer never reads
	got := readPattern(fast)
	broadcastStream(m)
	wantWholeStream(t, got)
	if !stuck.isClosed() {
		t.Fatal("the client that stopped reading was not dropped")
	}
	m.mu.Lock()
	attached := len(m.attached)
	m.mu.Unlock()
	if attached != 1 {
		t.Fatalf("%d clients attached, want only the reading one", attached)
	}
}

// TestWaitRoomParsesOnlyAfterFlood: waiting for a full client, the output
// loop parses the emulator's backlog meanwhile, but not while a flood goes
// on (its bytes are mostly overwritten before anyone looks); either way it
// returns once a client has room.
func TestWaitRoomParsesOnlyAfterFlood(t *testing.T) {
	for _, flooding := range []bool{true, false} {
		m := testMaster(t)
		m.scr = newScreen(ScreenOptions{}, DefaultWinsize)
		m.mu.Lock()
		m.scr.push(bytes.Repeat([]byte("backlog line\r\n"), 4096))
		m.mu.Unlock()
		if flooding {
			m.lastFlood = time.Now().Add(time.Hour) // a flood that goes on
		}
		done := make(chan struct{})
		go func() {
			m.waitRoom()
			close(done)
		}()
		if flooding {
			// Not an event to wait for: the time in which the old loop
			// parsed the whole backlog, and this one must parse none.
			time.Sleep(50 * time.Millisecond)
		} else {
			waitUntil(t, "the backlog parsed", func() bool { return !m.scr.backlog.Load() })
		}
		m.signalRoom()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("flooding %v: waitRoom did not return once there was room", flooding)
		}
		if flooding && !m.scr.backlog.Load() {
			t.Error("the backlog was parsed while a flood went on")
		}
	}
}
