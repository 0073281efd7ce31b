package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"keeper/detach"
	"keeper/internal/peer"
)

func (tm *term) resize(rows, cols uint16) {
	tm.t.Helper()
	if err := pty.Setsize(tm.pty, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		tm.t.Fatal(err)
	}
}

// checkClient drives an attached client through keystrokes, window size
// changes and a detach, whichever side (keeper or dtach) plays master.
func checkClient(t *testing.T, c *term) {
	t.Helper()
	c.expect(`\x1b\[H\x1b\[J`, 5*time.Second)
	c.send("stty size\r")
	c.expect(`24 80`, 5*time.Second)
	c.resize(30, 100)
	// The client forwards SIGWINCH; give it a moment to reach the master
	// by asking until the new size shows.
	waitFor(t, "new window size", 5*time.Second, func() bool {
		c.send("stty size\r")
		time.Sleep(50 * time.Millisecond)
		return strings.Contains(c.output(), "30 100")
	})
	c.send("echo typed-$((6*7))\r")
	c.expect("typed-42", 5*time.Second)
	c.send(detachKey)
	c.expect(`\[detached\]`, 5*time.Second)
	if code := c.wait(5 * time.Second); code != 0 {
		t.Errorf("exit status after detach = %d, want 0", code)
	}
}

// TestRealDtachAttachesToKeeperSession: keeper's master speaks dtach's
// protocol to the real dtach client.
func TestRealDtachAttachesToKeeperSession(t *testing.T) {
	real := peer.Need(t, "dtach")
	dir := testDir(t)
	sock := filepath.Join(dir, "k")
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh"); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	checkClient(t, startTerm(t, dir, nil, real, "-a", sock))
	// And the session ends the way a dtach client expects.
	c := startTerm(t, dir, nil, real, "-a", sock)
	c.expect(`\x1b\[H\x1b\[J`, 5*time.Second)
	c.send("exit\r")
	c.expect(regexpQuote(eofLine), 5*time.Second)
	c.wait(5 * time.Second)
}

// TestKeeperAttachesToRealDtachSession: keeper's client speaks dtach's
// protocol to the real dtach master.
func TestKeeperAttachesToRealDtachSession(t *testing.T) {
	real := peer.Need(t, "dtach")
	dir := testDir(t)
	sock := filepath.Join(dir, "d")
	if out, code := runCmd(t, dir, real, "-n", sock, "sh"); code != 0 {
		t.Fatalf("dtach -n: exit %d: %s", code, out)
	}
	checkClient(t, startTerm(t, dir, nil, keeperBin, "dtach", "-a", sock))
	c := startTerm(t, dir, nil, keeperBin, "attach", sock)
	c.expect(`\x1b\[H\x1b\[J`, 5*time.Second)
	c.send("exit\r")
	c.expect(regexpQuote(eofLine), 5*time.Second)
	if code := c.wait(5 * time.Second); code != 0 {
		t.Errorf("exit status at session end = %d, want 0", code)
	}
}

// TestRedrawMethods: ctrl_l types ^L to a program reading raw keys, winch
// signals it, none does neither.
func TestRedrawMethods(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "r")
	// The program says when its terminal is raw: a ^L typed before that
	// would go to a cooked line, not to dd.
	ready := filepath.Join(dir, "raw")
	prog := `stty raw -echo; trap 'echo WINCHED' WINCH; touch ` + ready + `; while :; do c=$(dd bs=1 count=1 2>/dev/null | od -An -c); printf 'key[%s]\n' "$c"; done`
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh", "-c", prog); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	waitFor(t, "the program's raw terminal", 5*time.Second, func() bool { _, err := os.Stat(ready); return err == nil })
	c := startTerm(t, dir, nil, keeperBin, "attach", "-r", "ctrl_l", sock)
	c.expect(`key\[\s*\\f\]`, 5*time.Second)
	c.send(detachKey)
	c.wait(5 * time.Second)

	c = startTerm(t, dir, nil, keeperBin, "attach", "-r", "winch", sock)
	c.send("x")
	c.expect(`key\[\s*x\]`, 5*time.Second)
	if !strings.Contains(c.output(), "WINCHED") {
		c.expect("WINCHED", 5*time.Second)
	}
	c.send(detachKey)
	c.wait(5 * time.Second)

	// --replay=none: the repaint of the screen above would show both.
	c = startTerm(t, dir, nil, keeperBin, "attach", "-r", "none", "--replay=none", sock)
	c.send("y")
	c.expect(`key\[\s*y\]`, 5*time.Second)
	if out := c.output(); strings.Contains(out, `\f`) || strings.Contains(out, "WINCHED") {
		t.Errorf("-r none redrew anyway: %q", out)
	}
	c.send(detachKey)
	c.wait(5 * time.Second)
}

// rawClient is a client speaking the wire protocol directly, as a test's
// stand-in for a terminal that stops reading.
func rawClient(t *testing.T, sock string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := detach.Packet{Type: detach.MsgAttach}.Encode()
	if _, err := conn.Write(p[:]); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestStuckClientDoesNotWedgeSession: dtach 0.9 freezes a session when one
// client stops reading. keeper keeps serving the others the complete
// stream and drops the stuck one.
func TestStuckClientDoesNotWedgeSession(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "flood")
	const lines = 400000 // about 2.7 MB, more than a client may fall behind
	quiet := filepath.Join(dir, "quiet")
	prog := fmt.Sprintf("stty -echo; touch %s; read go; seq 1 %d; sleep 60", quiet, lines)
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh", "-c", prog); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	stuck := rawClient(t, sock)
	// The socket's owner-execute bit says the stuck client is attached;
	// the reader's attach lands before its own "go" (packets of one
	// connection are handled in order), so both see the output from the start.
	waitFor(t, "the stuck client attached", 5*time.Second, func() bool { return socketMode(t, sock)&0o100 != 0 })
	reader := rawClient(t, sock)
	// "go" typed before stty -echo took effect would be echoed.
	waitFor(t, "the program's terminal not to echo", 5*time.Second, func() bool {
		_, err := os.Stat(quiet)
		return err == nil
	})
	if _, err := reader.Write(detach.AppendPush(nil, []byte("go\r"))); err != nil {
		t.Fatal(err)
	}

	reader.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(reader)
	next := 1
	for next <= lines {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reader stopped at line %d of %d: %v", next, lines, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		n, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("unexpected output %q before line %d", line, next)
		}
		if n != next {
			t.Fatalf("got line %d, want %d: output lost or reordered", n, next)
		}
		next++
	}

	// The stuck client was dropped: what it can still read ends in EOF,
	// well short of the whole stream.
	stuck.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, stuck)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("stuck client: %v after %d bytes, want EOF (dropped)", err, got)
	}
	if got > 3<<20 {
		t.Errorf("stuck client was sent %d bytes; it should have been dropped", got)
	}
	for _, pid := range pidsMentioning(sock) {
		if rss := rssKB(pid); rss > 40<<10 {
			t.Errorf("pid %d RSS %d kB after the flood", pid, rss)
		}
	}
}

func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return 0
}

// TestStaleSocketWithA: -A replaces a stale socket and starts anew.
func TestStaleSocketWithA(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "stale")
	makeStaleSocket(t, sock)
	c := startTerm(t, dir, []string{"PS1=$ "}, keeperBin, "dtach", "-A", sock, "sh")
	c.send("echo fresh-$((2+3))\r")
	c.expect("fresh-5", 5*time.Second)
	c.send(detachKey)
	c.wait(5 * time.Second)
}

// TestLongSocketPath: a path longer than sun_path works through its
// directory, with keeper's client and dtach's; a name too long is refused
// before anything starts.
func TestLongSocketPath(t *testing.T) {
	dir := testDir(t)
	long := filepath.Join(dir, strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(long, "s")
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh"); code != 0 {
		t.Fatalf("keeper dtach -n on a %d-byte path: exit %d: %s", len(sock), code, out)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("no socket at the long path: %v", err)
	}
	c := startTerm(t, dir, nil, keeperBin, "attach", sock)
	c.send("echo long-$((1+2))\r")
	c.expect("long-3", 5*time.Second)
	c.send(detachKey)
	c.wait(5 * time.Second)
	t.Run("dtach -a", func(t *testing.T) {
		c := startTerm(t, dir, nil, peer.Need(t, "dtach"), "-a", sock)
		c.send("echo real-$((2+2))\r")
		c.expect("real-4", 5*time.Second)
		c.send(detachKey)
		c.wait(5 * time.Second)
	})

	// Names of 91 to 107 bytes in a long path: the directory trick must
	// not cost any of sun_path, since dtach's chdir costs none.
	for _, n := range []int{91, 100, 107} {
		t.Run(fmt.Sprintf("%d-byte name", n), func(t *testing.T) {
			dtach := peer.Need(t, "dtach")
			for _, master := range []string{"keeper", "dtach"} {
				sock := filepath.Join(long, strings.Repeat(master[:1], n))
				argv := []string{keeperBin, "dtach", "-n", sock, "sh"}
				if master == "dtach" {
					argv = []string{dtach, "-n", sock, "sh"}
				}
				if out, code := runCmd(t, dir, argv...); code != 0 {
					t.Fatalf("%s -n on a %d-byte name: exit %d: %s", master, n, code, out)
				}
				for _, client := range [][]string{{keeperBin, "attach", sock}, {dtach, "-a", sock}} {
					c := startTerm(t, dir, nil, client...)
					c.send("echo name-$((" + strconv.Itoa(n) + "+1))\r")
					c.expect("name-"+strconv.Itoa(n+1), 5*time.Second)
					c.send(detachKey)
					c.wait(5 * time.Second)
				}
			}
		})
	}

	name := filepath.Join(dir, strings.Repeat("n", 120))
	out, code := runCmd(t, dir, keeperBin, "dtach", "-n", name, "sh")
	if code != 1 || !strings.Contains(out, "socket name too long") {
		t.Errorf("over-long socket name: exit %d, %q; want exit 1 and a clear message", code, out)
	}
	if pids := pidsMentioning(name); len(pids) > 0 {
		t.Errorf("an over-long socket name still started processes %v", pids)
	}
}

// TestForegroundReturnsExitStatus: -N runs the master in the foreground
// and returns the program's exit status (dtach 0.9 always returned 1).
func TestForegroundReturnsExitStatus(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "n")
	out, code := runCmd(t, dir, keeperBin, "dtach", "-N", sock, "sh", "-c", "exit 7")
	if code != 7 {
		t.Errorf("dtach -N exit status = %d (%q), want 7", code, out)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind after -N: %v", err)
	}
}

// TestPush: -p types standard input into the session.
func TestPush(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "p")
	marker := filepath.Join(dir, "pushed")
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh"); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	cmd := fmt.Sprintf("echo 'touch %s' | %s dtach -p %s", marker, keeperBin, sock)
	if out, code := runCmd(t, dir, "sh", "-c", cmd); code != 0 {
		t.Fatalf("dtach -p: exit %d: %s", code, out)
	}
	waitFor(t, "the pushed command to run", 5*time.Second, func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
}

// TestSignalRemovesSocket: a master killed with SIGTERM or SIGINT removes
// its socket, and its program gets the terminal's hang-up, as with dtach.
// This is why a master catches signals at all, and why os/signal's threads
// are in every master's memory (README, Measured: gosleep-sigterm).
func TestSignalRemovesSocket(t *testing.T) {
	real := peer.Need(t, "dtach")
	dir := testDir(t)
	masters := []struct{ name, bin string }{{"dtach", real}, {"keeper", dtachLink}}
	signals := []struct {
		name string
		sig  syscall.Signal
	}{{"SIGTERM", syscall.SIGTERM}, {"SIGINT", syscall.SIGINT}}
	for _, m := range masters {
		for _, s := range signals {
			bin, sig, name := m.bin, s.sig, m.name+"-"+s.name
			t.Run(name, func(t *testing.T) {
				sock := filepath.Join(dir, name)
				t.Cleanup(func() { killMarked(t, sock) })
				if out, code := runCmd(t, dir, bin, "-n", sock, "sleep", "600"); code != 0 {
					t.Fatalf("%s -n: exit %d: %s", bin, code, out)
				}
				pids := pidsMentioning(sock)
				if len(pids) != 1 {
					t.Fatalf("%d processes mention %s, want its master alone", len(pids), sock)
				}
				master := pids[0]
				program := childrenOf(master)
				if len(program) != 1 {
					t.Fatalf("master %d has %d children, want its program", master, len(program))
				}
				syscall.Kill(master, sig)
				waitFor(t, "the socket removed", 5*time.Second, func() bool {
					_, err := os.Lstat(sock)
					return os.IsNotExist(err)
				})
				waitFor(t, "the master and its program gone", 5*time.Second, func() bool {
					reapZombies()
					return syscall.Kill(master, 0) != nil && syscall.Kill(program[0], 0) != nil
				})
			})
		}
	}
}
