package vt

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"

	"keeper/internal/peer"
)

// tmuxServer is a tmux server on a private socket, used as the oracle: bytes are fed to a pane with cat
// and the pane's state is read back with capture-pane and display-message.
type tmuxServer struct {
	bin  string
	dir  string
	sock string
	n    int
}

func startTmux(t *testing.T) *tmuxServer {
	t.Helper()
	bin := peer.Need(t, "tmux")
	dir, err := os.MkdirTemp("", "vt")
	if err != nil {
		t.Fatal(err)
	}
	s := &tmuxServer{bin: bin, dir: dir, sock: filepath.Join(dir, "sock")}
	// history-limit only applies to panes made after it is set, so it goes in the configuration file.
	if err := os.WriteFile(filepath.Join(dir, "conf"), []byte("set -g history-limit 5000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		exec.CommandContext(ctx, s.bin, "-S", s.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	// A session that stays keeps the server up between the tests' own sessions.
	s.must(t, "new-session", "-d", "-s", "keep", "sleep 86400")
	return s
}

func (s *tmuxServer) tmux(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"-S", s.sock, "-f", filepath.Join(s.dir, "conf")}, args...)...)
	cmd.Env = append(os.Environ(), "TMUX=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (s *tmuxServer) must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.tmux(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// feed starts a new session of cols x rows whose pane gets data raw (no output processing) and
// returns its name once tmux has read all of it.
func (s *tmuxServer) feed(t testing.TB, cols, rows int, data []byte) string {
	t.Helper()
	s.n++
	name := fmt.Sprintf("p%d", s.n)
	file := filepath.Join(s.dir, name)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("stty -opost -echo; cat %s; %s -S %s wait-for -S %s; exec sleep 86400", file, s.bin, s.sock, name)
	s.must(t, "new-session", "-d", "-s", name, "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), "sh", "-c", script)
	s.must(t, "wait-for", name)
	// cat has written everything; wait until the pane's state stops changing so tmux has parsed it.
	prev := ""
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		cur := s.must(t, "capture-pane", "-p", "-e", "-N", "-t", name) + s.must(t, "display-message", "-p", "-t", name, tmuxFormat)
		if cur == prev {
			break
		}
		prev = cur
		time.Sleep(20 * time.Millisecond)
	}
	return name
}

const tmuxFormat = "#{cursor_x},#{cursor_y},#{cursor_flag},#{insert_flag},#{keypad_cursor_flag},#{keypad_flag}," +
	"#{wrap_flag},#{origin_flag},#{alternate_on},#{mouse_standard_flag},#{mouse_button_flag},#{mouse_any_flag}," +
	"#{mouse_all_flag},#{mouse_sgr_flag},#{scroll_region_upper},#{scroll_region_lower},#{history_size}"

// paneState is what the tests compare between tmux and the emulator.
type paneState struct {
	screen  [][]tcell // shown screen
	primary [][]tcell // primary screen under the alternate one, when it is shown
	history [][]tcell // scrollback, oldest first
	flags   string    // tmuxFormat's values
	title   string
}

// tcell is a cell as capture-pane -e shows it; a wide character is followed by a placeholder with text "".
type tcell struct {
	text   string
	fg, bg color
	attr   attr
}

func (s *tmuxServer) state(t testing.TB, name string) paneState {
	t.Helper()
	var st paneState
	st.flags = strings.TrimSpace(s.must(t, "display-message", "-p", "-t", name, tmuxFormat))
	st.title = strings.TrimSpace(s.must(t, "display-message", "-p", "-t", name, "#{pane_title}"))
	st.screen = parseCapture(s.must(t, "capture-pane", "-p", "-e", "-N", "-t", name))
	if strings.Split(st.flags, ",")[8] == "1" {
		st.primary = parseCapture(s.must(t, "capture-pane", "-p", "-e", "-N", "-a", "-t", name))
	}
	if hs := strings.Split(st.flags, ",")[16]; hs != "0" {
		st.history = parseCapture(s.must(t, "capture-pane", "-p", "-e", "-N", "-S", "-", "-E", "-1", "-t", name))
	}
	return st
}

// parseCapture reads capture-pane -p -e output into cells. Its SGR state goes on across lines, as tmux writes it.
func parseCapture(out string) [][]tcell {
	out = strings.TrimSuffix(out, "\n")
	var rows [][]tcell
	var pen tcell
	for _, ln := range strings.Split(out, "\n") {
		rows = append(rows, parseStyled(ln, &pen))
	}
	return rows
}

// parseStyled reads text with SGR sequences (and ESC ( charset switches, which it ignores) into cells.
func parseStyled(s string, pen *tcell) []tcell {
	var row []tcell
	for len(s) > 0 {
		// The DEC graphics charset: tmux shows it with SO and SI, the scrollback with ESC ( 0 and ESC ( B.
		if s[0] == 0x0e || s[0] == 0x0f {
			pen.attr = pen.attr&^attrACS | attr(0x0f-s[0])*attrACS
			s = s[1:]
			continue
		}
		if s[0] == 0x1b && len(s) >= 3 && s[1] == '(' {
			if s[2] == '0' {
				pen.attr |= attrACS
			} else {
				pen.attr &^= attrACS
			}
			s = s[3:]
			continue
		}
		if s[0] == 0x1b && len(s) >= 2 && s[1] == '[' {
			end := strings.IndexByte(s, 'm')
			if end < 0 {
				row = append(row, tcell{text: "<bad escape>"})
				break
			}
			applyTestSGR(pen, s[2:end])
			s = s[end+1:]
			continue
		}
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		w := runewidth.RuneWidth(r)
		if w == 0 && len(row) > 0 {
			i := len(row) - 1
			if row[i].text == "" && i > 0 {
				i--
			}
			row[i].text += string(r)
			continue
		}
		c := *pen
		c.text = string(r)
		row = append(row, c)
		if w == 2 {
			c.text = ""
			row = append(row, c)
		}
	}
	return row
}

// applyTestSGR is an SGR interpreter for the tests, written apart from the emulator's.
func applyTestSGR(pen *tcell, params string) {
	ps := strings.Split(params, ";")
	num := func(i int) int {
		if i >= len(ps) {
			return -1
		}
		n, err := strconv.Atoi(ps[i])
		if err != nil {
			return -1
		}
		return n
	}
	for i := 0; i < len(ps); i++ {
		p := ps[i]
		if strings.HasPrefix(p, "4:") {
			n, _ := strconv.Atoi(p[2:])
			pen.attr = pen.attr&^attrUnder | attr(n)<<underShift
			continue
		}
		n := num(i)
		switch {
		case p == "" || n == 0:
			pen.fg, pen.bg, pen.attr = 0, 0, pen.attr&attrACS
		case n == 1:
			pen.attr |= attrBold
		case n == 2:
			pen.attr |= attrDim
		case n == 3:
			pen.attr |= attrItalic
		case n == 4:
			pen.attr = pen.attr&^attrUnder | 1<<underShift
		case n == 5:
			pen.attr |= attrBlink
		case n == 7:
			pen.attr |= attrReverse
		case n == 8:
			pen.attr |= attrHidden
		case n == 9:
			pen.attr |= attrStrike
		case n == 53:
			pen.attr |= attrOverline
		case n >= 30 && n <= 37:
			pen.fg = colorANSI | color(n-30)
		case n >= 90 && n <= 97:
			pen.fg = colorANSI | color(n-90+8)
		case n == 39:
			pen.fg = 0
		case n >= 40 && n <= 47:
			pen.bg = colorANSI | color(n-40)
		case n >= 100 && n <= 107:
			pen.bg = colorANSI | color(n-100+8)
		case n == 49:
			pen.bg = 0
		case n == 38 || n == 48:
			var c color
			if num(i+1) == 5 {
				c = color256 | color(num(i+2))
				i += 2
			} else if num(i+1) == 2 {
				c = colorRGB | color(num(i+2))<<16 | color(num(i+3))<<8 | color(num(i+4))
				i += 4
			}
			if n == 38 {
				pen.fg = c
			} else {
				pen.bg = c
			}
		}
	}
}

// ourState renders the emulator's state the way the tests read tmux's.
func ourState(t *Terminal) paneState {
	var st paneState
	render := func(s *screen) [][]tcell {
		var rows [][]tcell
		for _, l := range s.lines {
			rows = append(rows, renderCells(t, l.cells))
		}
		return rows
	}
	st.screen = render(t.scr)
	if t.altOn {
		st.primary = render(t.prim)
	}
	var scratch []byte
	t.sb.each(-1, scratch, func(rec []byte) {
		var pen tcell
		st.history = append(st.history, parseStyled(string(rec[1:]), &pen))
	})
	cx := t.x
	if t.pending {
		cx = t.cols
	}
	b := func(m uint32) int {
		if t.modes&m != 0 {
			return 1
		}
		return 0
	}
	bi := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	st.flags = fmt.Sprintf("%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d",
		cx, t.y, 1-b(modeHidden), b(modeInsert), b(modeCursorKeys), b(modeKeypad),
		b(modeWrap), b(modeOrigin), bi(t.altOn), bi(t.mouse == 1000), bi(t.mouse == 1002), bi(t.mouse >= 1000), bi(t.mouse == 1003),
		b(modeMouseSGR), t.top, t.bot, t.sb.n)
	st.title = t.title
	return st
}

func renderCells(t *Terminal, cells []cell) []tcell {
	var row []tcell
	for _, c := range cells {
		tc := tcell{fg: c.fg, bg: c.bg, attr: c.attr}
		if c.flags&cellCont == 0 {
			tc.text = string(t.appendCellText(nil, c))
		}
		row = append(row, tc)
	}
	return row
}

// trimRow drops trailing default spaces, which capture-pane may or may not show. With bce, trailing
// blanks with only a background go too: tmux does not count cells erased with a colour as used, so
// capture-pane leaves them out.
func trimRow(row []tcell, bce bool) []tcell {
	for len(row) > 0 {
		c := row[len(row)-1]
		if c != (tcell{text: " "}) && !(bce && c == tcell{text: " ", bg: c.bg}) {
			break
		}
		row = row[:len(row)-1]
	}
	return row
}

// showRow renders a row for a failure message: text, then its style runs.
func showRow(row []tcell) string {
	var text strings.Builder
	var styles []string
	var last tcell
	for i, c := range row {
		text.WriteString(c.text)
		st := tcell{fg: c.fg, bg: c.bg, attr: c.attr}
		if i == 0 || st != last {
			styles = append(styles, fmt.Sprintf("%d:fg=%x,bg=%x,a=%x", i, uint32(c.fg), uint32(c.bg), uint16(c.attr)))
			last = st
		}
	}
	return fmt.Sprintf("%q %v", text.String(), styles)
}

// diffRows returns a description of the first differences between two screens, or "".
func diffRows(what string, want, got [][]tcell, bce bool) string {
	var b strings.Builder
	n := max(len(want), len(got))
	bad := 0
	for y := 0; y < n; y++ {
		var w, g []tcell
		if y < len(want) {
			w = trimRow(want[y], bce)
		}
		if y < len(got) {
			g = trimRow(got[y], bce)
		}
		if fmt.Sprint(w) != fmt.Sprint(g) {
			if bad < 4 {
				fmt.Fprintf(&b, "%s row %d:\n  tmux: %s\n  ours: %s\n", what, y, showRow(w), showRow(g))
			}
			bad++
		}
	}
	if bad > 4 {
		fmt.Fprintf(&b, "%s: %d rows differ\n", what, bad)
	}
	return b.String()
}

// compareStates returns the differences between tmux's state and ours, or "". bce: see trimRow.
func compareStates(tm, us paneState, checkHistory, bce bool) string {
	var b strings.Builder
	b.WriteString(diffRows("screen", tm.screen, us.screen, bce))
	b.WriteString(diffRows("primary under alternate", tm.primary, us.primary, bce))
	if checkHistory {
		b.WriteString(diffRows("history", tm.history, us.history, bce))
	}
	if tm.flags != us.flags {
		fmt.Fprintf(&b, "flags (%s):\n  tmux: %s\n  ours: %s\n", tmuxFormat, tm.flags, us.flags)
	}
	if us.title != "" && tm.title != us.title {
		fmt.Fprintf(&b, "title: tmux %q, ours %q\n", tm.title, us.title)
	}
	return b.String()
}
