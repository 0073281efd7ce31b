package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keeper/detach"
	"keeper/internal/peer"
)

// tmuxServer is a tmux server on a socket in a test's directory: tmux is
// the terminal a client attaches from, and the oracle for the screen.
type tmuxServer struct {
	t    *testing.T
	bin  string
	sock string
}

func startTmuxServer(t *testing.T, dir string) *tmuxServer {
	t.Helper()
	s := &tmuxServer{t: t, bin: peer.Need(t, "tmux"), sock: filepath.Join(dir, "tmux")}
	// Registered after testDir's cleanup, so it runs first; testDir then
	// kills whatever is left (the server's command line names dir).
	t.Cleanup(func() { s.run("kill-server") })
	s.must("new-session", "-d", "-s", "keep", "-x", "80", "-y", "24", "sleep 600")
	return s
}

func (s *tmuxServer) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"-S", s.sock, "-f", "/dev/null"}, args...)...)
	cmd.Env = append(os.Environ(), "TMUX=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (s *tmuxServer) must(args ...string) string {
	s.t.Helper()
	out, err := s.run(args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// paneFlags is what the screen tests compare besides the cells.
const paneFlags = "#{cursor_x},#{cursor_y},#{cursor_flag},#{insert_flag},#{keypad_cursor_flag},#{keypad_flag}," +
	"#{wrap_flag},#{origin_flag},#{alternate_on},#{mouse_standard_flag},#{mouse_button_flag},#{mouse_any_flag}," +
	"#{mouse_sgr_flag},#{scroll_region_upper},#{scroll_region_lower},#{pane_title}"

// pane returns what a pane shows (trailing blanks left out: a written
// space and a cleared cell look the same): flags, the screen, the primary screen
// under the alternate one, and with history its scrollback.
func (s *tmuxServer) pane(name string, history bool) string {
	s.t.Helper()
	flags := s.must("display-message", "-p", "-t", name, paneFlags)
	out := "flags " + flags + "screen:\n" + s.must("capture-pane", "-p", "-e", "-t", name)
	if strings.Split(flags, ",")[8] == "1" {
		out += "primary:\n" + s.must("capture-pane", "-p", "-e", "-a", "-t", name)
	}
	if history {
		out += "history:\n" + s.must("capture-pane", "-p", "-e", "-S", "-", "-E", "-1", "-t", name)
	}
	return out
}

// waitTitle waits until the pane's title is title: the marker that ends
// every stream of these tests, so the pane has shown all of it.
func (s *tmuxServer) waitTitle(name, title string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := s.run("display-message", "-p", "-t", name, "#{pane_title}")
		if strings.TrimSpace(got) == title {
			return
		}
		if time.Now().After(deadline) {
			screen, _ := s.run("capture-pane", "-p", "-t", name)
			s.t.Fatalf("pane %s: title %q, want %q; screen:\n%s", name, strings.TrimSpace(got), title, screen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// feed shows data in a new 80x24 pane, raw, as the unbroken session's
// screen.
func (s *tmuxServer) feed(name, file string) {
	s.t.Helper()
	s.must("new-session", "-d", "-s", name, "-x", "80", "-y", "24", "sh", "-c", "stty raw -echo; cat "+file+"; exec sleep 600")
}

func loadScreenRecordings(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "detach", "vt", "testdata", "*.rec"))
	if len(files) == 0 {
		t.Fatal("no recordings in detach/vt/testdata")
	}
	recs := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs[strings.TrimSuffix(filepath.Base(f), ".rec")] = b
	}
	return recs
}

// replayCase is one mid-session attach: the session's program writes a
// recording's first k bytes with nobody attached, a client attaches from a
// tmux pane, and the program writes the rest.
type replayCase struct {
	rec    string
	k      int    // split point, -1 for the middle
	client string // "keeper" or "dtach"
	replay string // keeper attach --replay, "" for the default
}

// TestScreenReplayRecordings replays the emulator's recordings through a
// real session: the pane of a client that attached mid-session must show
// what a terminal that saw the whole output shows.
func TestScreenReplayRecordings(t *testing.T) {
	recs := loadScreenRecordings(t)
	var cases []replayCase
	for name := range recs {
		cases = append(cases, replayCase{rec: name, k: -1, client: "keeper"})
	}
	cases = append(cases,
		replayCase{rec: "vim", k: -1, client: "dtach"},
		replayCase{rec: "htop", k: len(recs["htop"])/3 + 1, client: "dtach"},
		replayCase{rec: "bash", k: 2*len(recs["bash"])/3 + 2, client: "keeper"},
		replayCase{rec: "vttest", k: len(recs["vttest"])/3 + 1, client: "keeper"},
		replayCase{rec: "less", k: len(recs["less"]) - 7, client: "keeper"},
		replayCase{rec: "lsR", k: -1, client: "keeper", replay: "scrollback"},
		replayCase{rec: "bash", k: -1, client: "keeper", replay: "scrollback"},
	)
	dir := testDir(t)
	tm := startTmuxServer(t, dir)
	for i, rc := range cases {
		data := recs[rc.rec]
		k := rc.k
		if k < 0 {
			k = len(data) / 2
		}
		name := fmt.Sprintf("%s-%d-%s-%s", rc.rec, k, rc.client, rc.replay)
		t.Run(name, func(t *testing.T) {
			if rc.client == "dtach" {
				peer.Need(t, "dtach")
			}
			t.Parallel()
			tm := *tm
			tm.t = t
			end := fmt.Sprintf("end-%d", i)
			tail := append(append([]byte{}, data[k:]...), "\x1b]2;"+end+"\x07"...)
			first, rest, whole := filepath.Join(dir, fmt.Sprintf("a%d", i)), filepath.Join(dir, fmt.Sprintf("b%d", i)), filepath.Join(dir, fmt.Sprintf("w%d", i))
			for f, b := range map[string][]byte{first: data[:k], rest: tail, whole: append(append([]byte{}, data[:k]...), tail...)} {
				if err := os.WriteFile(f, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}

			oracle := fmt.Sprintf("u%d", i)
			tm.feed(oracle, whole)

			sock := filepath.Join(dir, fmt.Sprintf("s%d", i))
			done1 := filepath.Join(dir, fmt.Sprintf("d%d", i))
			prog := fmt.Sprintf("stty raw -echo; cat %s; touch %s; dd bs=1 count=1 >/dev/null 2>&1; cat %s; exec sleep 600", first, done1, rest)
			if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh", "-c", prog); code != 0 {
				t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
			}
			waitFor(t, "the first part written", 5*time.Second, func() bool {
				_, err := os.Stat(done1)
				return err == nil
			})
			waitFor(t, "the master to read the first part", 5*time.Second, func() bool {
				st, err := detach.QueryStatus(sock, 2*time.Second)
				return err == nil && st.Output >= int64(k)
			})

			// -r none: ^L would be the program's go byte.
			client := keeperBin + " attach -r none "
			if rc.replay != "" {
				client += "--replay=" + rc.replay + " "
			}
			client += sock
			if rc.client == "dtach" {
				client = peer.Find("dtach") + " -a " + sock + " -r none"
			}
			pane := fmt.Sprintf("c%d", i)
			tm.must("new-session", "-d", "-s", pane, "-x", "80", "-y", "24", client)
			waitFor(t, "the client attached", 5*time.Second, func() bool {
				fi, err := os.Stat(sock)
				return err == nil && fi.Mode()&0o100 != 0
			})
			tm.must("send-keys", "-t", pane, "g")
			tm.waitTitle(pane, end)
			tm.waitTitle(oracle, end)
			history := rc.replay == "scrollback"
			want, got := tm.pane(oracle, history), tm.pane(pane, history)
			if got != want {
				t.Errorf("pane of the client that attached at byte %d of %d differs from the unbroken session's\n%s",
					k, len(data), lineDiff(want, got))
			}
		})
	}
}

// lineDiff shows the lines that differ, unbroken first.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  unbroken %q\n  attached %q\n", i, a, c)
		}
	}
	return b.String()
}

// TestScreenAnswersQueries: with nobody attached the master answers a
// program's cursor position and device attribute queries; with a client
// attached only the client's terminal answers.
func TestScreenAnswersQueries(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "q")
	reply := filepath.Join(dir, "reply")
	prog := fmt.Sprintf(`stty raw -echo; printf 'ab\033[6n\033[c'; head -c 13 > %s; dd bs=1 count=1 >/dev/null 2>&1; printf '\033[6n'; head -c 6 > %s.2; exec sleep 600`, reply, reply)
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh", "-c", prog); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	want := "\x1b[1;3R\x1b[?1;2c"
	waitFor(t, "the program to get the master's replies", 5*time.Second, func() bool {
		b, _ := os.ReadFile(reply)
		return string(b) == want
	})

	c := startTerm(t, dir, nil, keeperBin, "attach", "-r", "none", sock)
	waitFor(t, "the client attached", 5*time.Second, func() bool { return socketMode(t, sock)&0o100 != 0 })
	c.send("g")
	c.expect(`\x1b\[6n`, 5*time.Second)
	// A negative check: a reply from the master, which must not come,
	// would reach the program within this window, before the client's.
	time.Sleep(100 * time.Millisecond)
	c.send("\x1b[7;9R")
	waitFor(t, "the program to get the client's reply", 5*time.Second, func() bool {
		b, _ := os.ReadFile(reply + ".2")
		return len(b) == 6
	})
	if b, _ := os.ReadFile(reply + ".2"); string(b) != "\x1b[7;9R" {
		t.Errorf("with a client attached the program got %q, want only the client's reply", b)
	}
	c.send(detachKey)
	c.wait(5 * time.Second)

	// With the emulator off nobody answers, as with dtach.
	off := filepath.Join(dir, "off")
	cmd := exec.Command(keeperBin, "dtach", "-n", off, "sh", "-c", fmt.Sprintf(`stty raw -echo; printf '\033[6n'; head -c 1 > %s.off; exec sleep 600`, reply))
	cmd.Env = append(os.Environ(), "KEEPER_SCREEN=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("keeper dtach -n with KEEPER_SCREEN=off: %v: %s", err, out)
	}
	// A negative check: a reply, which must not come, would arrive within
	// this window.
	time.Sleep(300 * time.Millisecond)
	if b, _ := os.ReadFile(reply + ".off"); len(b) != 0 {
		t.Errorf("with the emulator off the program got a reply %q", b)
	}
}

// TestScreenReplayChoices: the repaint is the default, --replay=none and
// KEEPER_SCREEN=off leave it out, and the status says which.
func TestScreenReplayChoices(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "r")
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh", "-c", "printf 'hello-%s\\n' screen; exec sleep 600"); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	waitFor(t, "the program's output parsed", 5*time.Second, func() bool {
		st, err := detach.QueryStatus(sock, 2*time.Second)
		return err == nil && st.Screen == "on" && st.Cols == 80 && st.Rows == 24
	})

	c := startTerm(t, dir, nil, keeperBin, "attach", sock)
	c.expect(`\x1bc(.|\n)*hello-screen`, 5*time.Second)
	c.send(detachKey)
	c.wait(5 * time.Second)

	c = startTerm(t, dir, nil, keeperBin, "attach", "--replay=none", sock)
	waitFor(t, "the client attached", 5*time.Second, func() bool { return socketMode(t, sock)&0o100 != 0 })
	c.send(detachKey)
	c.wait(5 * time.Second)
	if out := c.output(); strings.Contains(out, "\x1bc") || strings.Contains(out, "hello") {
		t.Errorf("--replay=none repainted: %q", out)
	}
	if _, code := runCmd(t, dir, keeperBin, "attach", "--replay=sometimes", sock); code != 1 {
		t.Errorf("--replay=sometimes: exit %d, want 1", code)
	}

	off := filepath.Join(dir, "off")
	said := filepath.Join(dir, "said")
	cmd := exec.Command(keeperBin, "dtach", "-n", off, "sh", "-c", "echo hello-off; touch "+said+"; exec sleep 600")
	cmd.Env = append(os.Environ(), "KEEPER_SCREEN=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("keeper dtach -n with KEEPER_SCREEN=off: %v: %s", err, out)
	}
	found := false
	for _, pid := range pidsMentioning(off) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		found = found || bytes.Contains(b, []byte("\x00-s\x00off\x00"))
	}
	if !found {
		t.Error("no master with -s off on its command line")
	}
	if st, err := detach.QueryStatus(off, 2*time.Second); err != nil || st.Screen != "off" {
		t.Errorf("status of a session with the emulator off: %+v, %v", st, err)
	}
	// Attach once hello-off went by, so that only a repaint could show it.
	waitFor(t, "the program's first line", 5*time.Second, func() bool {
		_, err := os.Stat(said)
		return err == nil
	})
	c = startTerm(t, dir, nil, keeperBin, "attach", off)
	waitFor(t, "the client attached", 5*time.Second, func() bool { return socketMode(t, off)&0o100 != 0 })
	c.send("echo typed\r")
	c.expect("typed", 5*time.Second)
	c.send(detachKey)
	c.wait(5 * time.Second)
	if out := c.output(); strings.Contains(out, "\x1bc") || strings.Contains(out, "hello-off") {
		t.Errorf("KEEPER_SCREEN=off repainted: %q", out)
	}

	cmd = exec.Command(keeperBin, "dtach", "-n", filepath.Join(dir, "bad"), "true")
	cmd.Env = append(os.Environ(), "KEEPER_SCREEN=sometimes")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "KEEPER_SCREEN") {
		t.Errorf("KEEPER_SCREEN=sometimes: %v, %q; want a failure naming it", err, out)
	}
}

// TestScreenOverrunFallsBackToWinch: when output outruns the emulator's
// ring with a client attached, the status says so and the next client to
// attach gets the program's own redraw (SIGWINCH) on top of the repaint.
func TestScreenOverrunFallsBackToWinch(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "o")
	prog := `trap 'echo WINCHED' WINCH; stty -echo; read go; seq 1 100000; while :; do sleep 0.05; done`
	cmd := exec.Command(keeperBin, "dtach", "-n", sock, "sh", "-c", prog)
	cmd.Env = append(os.Environ(), "KEEPER_SCREEN=ring=4k")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("keeper dtach -n: %v: %s", err, out)
	}
	c := startTerm(t, dir, nil, keeperBin, "attach", "-r", "none", sock)
	waitFor(t, "the client attached", 5*time.Second, func() bool { return socketMode(t, sock)&0o100 != 0 })
	c.send("go\r")
	c.expect(`100000`, 10*time.Second)
	st, err := detach.QueryStatus(sock, 2*time.Second)
	if err != nil || st.Screen != "stale" || st.Overruns == 0 {
		t.Fatalf("status after a flood through a 4 KiB ring: %+v, %v; want stale", st, err)
	}
	if strings.Contains(c.output(), "WINCHED") {
		t.Fatal("WINCHED before the next attach")
	}
	c.send(detachKey)
	c.wait(5 * time.Second)

	c = startTerm(t, dir, nil, keeperBin, "attach", "-r", "none", sock)
	c.expect(`\x1bc(.|\n)*100000(.|\n)*WINCHED`, 5*time.Second)
	if st, err := detach.QueryStatus(sock, 2*time.Second); err != nil || st.Screen != "on" {
		t.Errorf("status after the redraw: %+v, %v; want on", st, err)
	}
	c.send(detachKey)
	c.wait(5 * time.Second)
}

// TestScreenResize: the emulator follows the client's window size, and a
// repaint is made at the size of the client that attaches.
func TestScreenResize(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "z")
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh"); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	c := startTerm(t, dir, nil, keeperBin, "attach", "-r", "winch", sock)
	c.resize(30, 100)
	waitFor(t, "the new size", 5*time.Second, func() bool {
		st, err := detach.QueryStatus(sock, 2*time.Second)
		return err == nil && st.Cols == 100 && st.Rows == 30
	})
	c.send(detachKey)
	c.wait(5 * time.Second)
	// The client is gone; the master takes its hang-up in its own time,
	// which under load can come after the next connection's query.
	waitFor(t, "one client (the query), none attached", 5*time.Second, func() bool {
		st, err := detach.QueryStatus(sock, 2*time.Second)
		return err == nil && st.Attach == 0 && st.Clients == 1
	})
	// startTerm's terminals are 80x24.
	c = startTerm(t, dir, nil, keeperBin, "attach", "-r", "winch", sock)
	waitFor(t, "the attaching client's size", 5*time.Second, func() bool {
		st, err := detach.QueryStatus(sock, 2*time.Second)
		return err == nil && st.Cols == 80 && st.Rows == 24
	})
	c.send(detachKey)
	c.wait(5 * time.Second)
}
