package vt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Recordings are real programs' output captured with tmux pipe-pane in an 80x24 pane. They are made by
//
//	VT_RECORD=1 go test -run TestMakeRecordings ./detach/vt/
//
// which skips a program that is not installed; the tests below only need tmux and the files.
const recCols, recRows = 80, 24

var recordings = []struct {
	name  string
	need  string   // program that must be installed
	steps []string // typed into an interactive bash, one step at a time
}{
	{"bash", "bash", []string{
		"printf '\\033]2;a title\\007'\r",
		"echo -e '\\e[1;31mbold red\\e[0m \\e[4munder\\e[24m \\e[3mitalic\\e[0m \\e[38;5;208m256\\e[0m \\e[38;2;10;200;30mrgb\\e[0m \\e[7mrev\\e[0m \\e[9mstrike\\e[0m \\e[2mdim\\e[0m'\r",
		"printf 'CJK: 中文字符 かな ｶﾅ e\\xcc\\x81 wide at edge:%*s中\\n' 60 ''\r",
		"ls --color=always -la /usr/share/doc | head -30\r",
		"printf '\\033[41m%s\\033[K\\033[m\\n' 'red to the end'\r",
		"echo done\r",
	}},
	{"lsR", "ls", []string{"ls -laR --color=always /usr/share/doc | head -300\r"}},
	{"vim", "vim", []string{
		"vim -u NONE -N -i NONE /etc/services\r", ":set nu\r", ":split\r", ":vsplit\r", "G", "ohello 中文 world\x1b",
		":syntax on\r", "gg", ":qa!\r", "echo back in bash\r",
	}},
	{"less", "less", []string{"less /etc/services\r", " ", " ", "/tcp\r", "n", "q", "echo after less\r"}},
	{"top", "top", []string{"top -d 0.5\r", "", "", "q"}},
	{"htop", "htop", []string{"htop -d 5\r", "", "", "q"}},
	{"dialog", "dialog", []string{
		"dialog --title Box --checklist 'Pick some' 12 40 4 a one on b two off c three off\r", " ", "\x1b[B", " ", "\r",
		"echo after dialog\r",
	}},
	{"vttest", "vttest", []string{"vttest\r", "1\r", "\r", "\r", "\r", "\r", "\r", "0\r", "echo after vttest\r"}},
}

func TestMakeRecordings(t *testing.T) {
	if os.Getenv("VT_RECORD") == "" {
		t.Skip("set VT_RECORD=1 to record testdata/*.rec")
	}
	tm := startTmux(t)
	for _, r := range recordings {
		t.Run(r.name, func(t *testing.T) {
			if _, err := exec.LookPath(r.need); err != nil {
				t.Skipf("%s not installed", r.need)
			}
			out, err := filepath.Abs(filepath.Join("testdata", r.name+".rec"))
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(out)
			name := "rec-" + r.name
			ps1 := `\[\e[1;32m\]user@host\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ `
			script := fmt.Sprintf("%s -S %s wait-for go; cd /tmp; PS1='%s' exec bash --norc --noprofile -i", tm.bin, tm.sock, ps1)
			tm.must(t, "new-session", "-d", "-s", name, "-x", "80", "-y", "24", "sh", "-c", script)
			tm.must(t, "pipe-pane", "-o", "-t", name, "cat >> "+out)
			tm.must(t, "wait-for", "-S", "go")
			settle(t, tm, name)
			for _, k := range r.steps {
				if k != "" {
					tm.must(t, "send-keys", "-t", name, "-l", k)
				}
				settle(t, tm, name)
			}
			tm.must(t, "pipe-pane", "-t", name)
			tm.must(t, "kill-session", "-t", name)
		})
	}
}

// settle waits until the pane's screen has not changed for a while (at most a few seconds).
func settle(t *testing.T, tm *tmuxServer, name string) {
	prev, same := "", 0
	for i := 0; i < 60 && same < 4; i++ {
		time.Sleep(100 * time.Millisecond)
		cur := tm.must(t, "capture-pane", "-p", "-e", "-t", name)
		if cur == prev {
			same++
		} else {
			same = 0
		}
		prev = cur
	}
}

func loadRecordings(t testing.TB) map[string][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.rec"))
	if len(files) == 0 {
		t.Fatal("no recordings in testdata")
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

func sortedNames(m map[string][]byte) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestRecordingsTmux feeds each recording to tmux and to the emulator and compares the whole state,
// scrollback included.
func TestRecordingsTmux(t *testing.T) {
	recs := loadRecordings(t)
	tm := startTmux(t)
	for _, name := range sortedNames(recs) {
		data := recs[name]
		t.Run(name, func(t *testing.T) {
			pane := tm.feed(t, recCols, recRows, data)
			term := New(recCols, recRows)
			term.Write(data)
			if d := compareStates(tm.state(t, pane), ourState(term), true, true); d != "" {
				t.Errorf("differs from tmux:\n%s", d)
			}
			tm.must(t, "kill-session", "-t", pane)
		})
	}
}

// splitPoints returns where a recording is cut for the mid-session attach tests: quarters, and odd
// offsets that are likely to fall inside escape or UTF-8 sequences.
func splitPoints(n int) []int {
	return []int{n / 4, n / 2, 3 * n / 4, n/3 + 1, 2*n/3 + 2, n - 7}
}

// TestReplayEmulator is the mid-session attach on our side: the emulator fed a recording's first part is
// repainted into a fresh emulator, both then get the rest, and their states must be identical.
func TestReplayEmulator(t *testing.T) {
	recs := loadRecordings(t)
	for _, name := range sortedNames(recs) {
		data := recs[name]
		for _, k := range splitPoints(len(data)) {
			t.Run(fmt.Sprintf("%s/%d", name, k), func(t *testing.T) {
				a := New(recCols, recRows)
				a.Write(data[:k])
				b := New(recCols, recRows)
				b.Write(a.Repaint(nil, RepaintOptions{Scrollback: -1}))
				a.Write(data[k:])
				b.Write(data[k:])
				if d := compareStates(ourState(a), ourState(b), true, false); d != "" {
					t.Errorf("replayed emulator differs (tmux = unbroken, ours = replayed):\n%s", d)
				}
				if d := compareHidden(a, b); d != "" {
					t.Error(d)
				}
			})
		}
	}
}

// compareHidden compares state that ourState does not show.
func compareHidden(a, b *Terminal) string {
	type hidden struct {
		modes      uint32
		mouse      int
		style      int
		tabs       string
		g          [2]uint8
		gl         uint8
		pen        cell
		title      string
		saved      savedCursor
		altSaveXY  [2]int
		altSavePen cell
	}
	h := func(t *Terminal) hidden {
		h := hidden{modes: t.modes, mouse: t.mouse, style: t.style, tabs: fmt.Sprint(t.tabs), g: t.g, gl: t.gl,
			pen: t.pen, title: t.title, saved: t.saved}
		if t.altSave.valid {
			h.altSaveXY, h.altSavePen = [2]int{t.altSave.x, t.altSave.y}, t.altSave.pen
		}
		return h
	}
	if ha, hb := h(a), h(b); ha != hb {
		return fmt.Sprintf("hidden state differs:\nunbroken %+v\nreplayed %+v", ha, hb)
	}
	return ""
}

// TestReplayTmux is the mid-session attach against tmux: the repaint of the first part followed by the
// rest, fed to a fresh tmux pane, must give the same pane as the whole recording.
func TestReplayTmux(t *testing.T) {
	recs := loadRecordings(t)
	tm := startTmux(t)
	for _, name := range sortedNames(recs) {
		data := recs[name]
		whole := tm.feed(t, recCols, recRows, data)
		want := tm.state(t, whole)
		tm.must(t, "kill-session", "-t", whole)
		for _, k := range splitPoints(len(data)) {
			t.Run(fmt.Sprintf("%s/%d", name, k), func(t *testing.T) {
				a := New(recCols, recRows)
				a.Write(data[:k])
				replay := a.Repaint(nil, RepaintOptions{Scrollback: -1})
				replay = append(replay, data[k:]...)
				pane := tm.feed(t, recCols, recRows, replay)
				if d := compareStates(want, tm.state(t, pane), true, true); d != "" {
					t.Errorf("tmux pane replayed from the split differs (tmux = unbroken, ours = replayed):\n%s", d)
				}
				tm.must(t, "kill-session", "-t", pane)
			})
		}
	}
}
