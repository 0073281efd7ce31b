package detach

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// startHeld starts a held master for argv in this process and returns it
// with the channel that gets Serve's result.
func startHeld(t *testing.T, argv ...string) (*Master, string, <-chan int) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	m, err := StartMaster(MasterOptions{Socket: sock, Argv: argv, Held: true, Progname: "test"})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan int, 1)
	ended := make(chan struct{})
	go func() {
		served <- m.Serve()
		close(ended)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(m.Pid(), syscall.SIGKILL)
		if conn, _, _, err := DialLog(sock); err == nil {
			readUntilExit(t, conn)
			_, _ = conn.Write(ExitAck())
			conn.Close()
		}
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Error("held master did not end")
		}
	})
	return m, sock, served
}

// readUntilExit reads a log client's frames up to the exit frame and
// returns the output and the wait status.
func readUntilExit(t *testing.T, conn *os.File) ([]byte, syscall.WaitStatus) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []byte
	for {
		f, err := ReadLogFrame(conn)
		if err != nil {
			t.Fatalf("read frames: %v (output so far %q)", err, out)
		}
		switch f.Kind {
		case FrameOutput:
			out = append(out, f.Data...)
		case FrameExit:
			return out, syscall.WaitStatus(f.Uint32())
		}
	}
}

func TestHeldMasterReportsOutputAndExit(t *testing.T) {
	m, sock, served := startHeld(t, "/bin/sh", "-c", "read x; echo got $x; exit 3")
	conn, pid, _, err := DialLog(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if pid != m.Pid() {
		t.Errorf("pid frame %d, want the program's %d", pid, m.Pid())
	}
	// Keys still reach the program through the same socket.
	if _, err := conn.Write(AppendPush(nil, []byte("hello\r"))); err != nil {
		t.Fatal(err)
	}
	out, st := readUntilExit(t, conn)
	if !bytes.Contains(out, []byte("got hello")) || st.ExitStatus() != 3 {
		t.Errorf("output %q, exit %d; want got hello, 3", out, st.ExitStatus())
	}
	// The master waits for the acknowledgement.
	select {
	case code := <-served:
		t.Fatalf("master ended (%d) before the exit was acknowledged", code)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := conn.Write(ExitAck()); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-served:
		if code != 3 {
			t.Errorf("master's status %d, want 3", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("master did not end after the acknowledgement")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

// A log client that connects after the program exited (the supervisor was
// down) gets the backlog and the kept status; one that hangs up without
// acknowledging leaves what it did not acknowledge for the next.
func TestHeldMasterKeepsBacklogAndStatus(t *testing.T) {
	m, sock, _ := startHeld(t, "/bin/sh", "-c", "echo before; exit 7")
	select {
	case <-m.exit:
	case <-time.After(10 * time.Second):
		t.Fatal("the program did not exit")
	}
	for i, tt := range []struct {
		ack      bool
		want     string
		atOffset bool // the stream starts after the acknowledged output
	}{
		{false, "before", false},
		{true, "before", false}, // not acknowledged: sent again
		{false, "", true},
	} {
		conn, _, offset, err := DialLog(sock)
		if err != nil {
			t.Fatal(err)
		}
		out, st := readUntilExit(t, conn)
		if tt.ack {
			if _, err := conn.Write(OutputAck(offset + uint64(len(out)))); err != nil {
				t.Fatal(err)
			}
			// The acknowledgement is applied before the next client's
			// hello: the master reads one connection's packets in order,
			// and the exit acknowledgement it does not send comes after.
			conn.Write(LogHello())
			f, _ := ReadLogFrame(conn)
			if f.Offset() != offset+uint64(len(out)) {
				t.Errorf("round %d: offset %d after the acknowledgement, want %d", i, f.Offset(), offset+uint64(len(out)))
			}
		}
		conn.Close()
		if !bytes.Contains(out, []byte(tt.want)) || st.ExitStatus() != 7 || (tt.want == "" && len(out) > 0) {
			t.Errorf("round %d: output %q, exit %d; want %q, 7", i, out, st.ExitStatus(), tt.want)
		}
		if tt.atOffset && offset == 0 {
			t.Errorf("round %d: stream starts at offset 0, want after the acknowledged output", i)
		}
	}
}

func TestLogFeedBacklogIsBounded(t *testing.T) {
	f := &logFeed{wake: make(chan struct{}, 1), acked: make(chan struct{})}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for range 2 * LogBacklog / len(chunk) {
		f.output(chunk)
	}
	f.output([]byte("last"))
	if len(f.buf) != LogBacklog || !bytes.HasSuffix(f.buf, []byte("last")) {
		t.Errorf("backlog %d bytes ending %q; want %d ending last", len(f.buf), f.buf[len(f.buf)-4:], LogBacklog)
	}
}

func TestDialLogRefusedByPlainMaster(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	m, err := StartMaster(MasterOptions{Socket: sock, Argv: []string{"/bin/sleep", "30"}, Progname: "test"})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan int, 1)
	go func() { served <- m.Serve() }()
	defer func() {
		_ = syscall.Kill(m.Pid(), syscall.SIGKILL)
		<-served
	}()
	conn, _, _, err := DialLog(sock)
	if err == nil {
		conn.Close()
		t.Fatal("a plain session master took a log client")
	}
}
