package vt

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestReplayEverySplit cuts every probe at every byte, repaints the first part into a fresh terminal,
// feeds both the rest and compares everything: this covers the seam inside escape and UTF-8 sequences.
func TestReplayEverySplit(t *testing.T) {
	extra := []string{
		"\x1b[?1000h\x1b[?1005h\x1b[?1015h\x1b[?1004h\x1b[?12h\x1b[4 q\x1b[?9h", // modes not shown by tmux
		"\x1b(0\x0e\x1b)0lq\x0fx\x1b7\x1b[5;5H",                                 // charsets and a saved cursor
		"\x1b[3;5r\x1b[?6h\x1b[2;3H\x1b7\x1b[?6l\x1b[1;1H",                      // saved origin mode
		"ab\x1b[?1049h\x1b[31mcd\x1b[?1049l\x1b[?1049h",                         // alternate screen with a saved pen
		"\x1b[3g\x1b[4G\x1bH\x1b[13G\x1bH",                                      // tab stops
		"\x1b]2;long title here\x1b\\x\x1bPdata\x1b\\y\x1b]0;t\x07",             // strings
		"01234567890123456789\x1b[41m",                                          // pending wrap
		"0123456789012345678\x1b(0q\x1b(B",                                      // pending wrap on a graphics cell
		"012345678901234567中",                                                   // pending wrap on a wide cell
		"1\r\n2\r\n3\r\n4\r\n5\r\n6\r\n7\r\n8\r\n9\x1b[?7l\x1b[5n",              // scrollback, no autowrap
		"\x1b[?25l\x1b[?1h\x1b=\x1b[?2004h\x1b[4h\x1b[?1003h\x1b[?1006h",
		"0123456789012345678901234567890123456789abc", // wrapped lines
	}
	var ins []string
	for _, p := range probes {
		ins = append(ins, p.in)
	}
	ins = append(ins, extra...)
	for _, in := range ins {
		for k := 0; k <= len(in); k++ {
			a := New(probeCols, probeRows)
			a.Write([]byte(in[:k]))
			rep := a.Repaint(nil, RepaintOptions{Scrollback: -1})
			b := New(probeCols, probeRows)
			b.Write(rep)
			a.Write([]byte(in[k:]))
			b.Write([]byte(in[k:]))
			d := compareStates(ourState(a), ourState(b), true, false) + compareHidden(a, b)
			if d != "" {
				t.Fatalf("input %q cut at %d, repaint %q:\n%s", in, k, rep, d)
			}
		}
	}
}

func TestReplies(t *testing.T) {
	term := New(80, 24)
	term.Write([]byte("ab\x1b[c\x1b[>c\x1b[5n\x1b[3;7H\x1b[6n\x1b[2;4r\x1b[?6h\x1b[2;2H\x1b[6n\x1b[?6n"))
	want := "\x1b[?1;2c\x1b[>1;10;0c\x1b[0n\x1b[3;7R\x1b[2;2R\x1b[?2;2R"
	if got := string(term.TakeReplies()); got != want {
		t.Errorf("replies %q, want %q", got, want)
	}
	if got := term.TakeReplies(); len(got) != 0 {
		t.Errorf("replies not drained: %q", got)
	}
	// Replies nobody takes are bounded, and Write never blocks on them.
	for range 10000 {
		term.Write([]byte("\x1b[6n"))
	}
	if n := len(term.TakeReplies()); n > maxReplies {
		t.Errorf("%d bytes of replies kept", n)
	}
	var got []byte
	term = New(80, 24, WithReplyFunc(func(p []byte) { got = append(got, p...) }))
	term.Write([]byte("\x1b[6n"))
	if string(got) != "\x1b[1;1R" || len(term.TakeReplies()) != 0 {
		t.Errorf("reply func got %q", got)
	}
}

func TestHugeCountsClamped(t *testing.T) {
	inputs := []string{
		"\x1b[99999999999@", "\x1b[99999999999P", "\x1b[99999999999X", "\x1b[99999999999b",
		"\x1b[999999999;999999999r", "\x1b[999999999;999999999H", "\x1b[99999999999L", "\x1b[99999999999M",
		"\x1b[99999999999S", "\x1b[99999999999T", "\x1b[99999999999A", "\x1b[99999999999I", "\x1b[99999999999Z",
		"\x1b]2;" + strings.Repeat("t", 1<<20) + "\x07",
		"\x1bP" + strings.Repeat("d", 1<<20) + "\x1b\\",
		"\x1b[" + strings.Repeat("1;", 100000) + "m",
		"\x1b[" + strings.Repeat("9", 100000) + "m",
		"a" + strings.Repeat("\u0301", 100000),
	}
	for _, in := range inputs {
		term := New(80, 24)
		start := time.Now()
		term.Write([]byte("x\x1b[5;5H"))
		term.Write([]byte(in))
		term.Write([]byte("y"))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%.20q took %v", in, d)
		}
		if len(term.title) > maxTitle || cap(term.osc) > 2*maxOSC {
			t.Errorf("%.20q: title %d bytes, OSC buffer %d", in, len(term.title), cap(term.osc))
		}
		if len(term.graphemes) > 2*80*24+1024 {
			t.Errorf("%.20q: %d graphemes", in, len(term.graphemes))
		}
		rep := term.Repaint(nil, RepaintOptions{Scrollback: -1})
		if len(rep) > 1<<20 {
			t.Errorf("%.20q: repaint of %d bytes", in, len(rep))
		}
	}
	term := New(80, 24)
	term.Write([]byte("\x1b[999999999;999999999r\x1b[999999999;999999999H"))
	if term.top != 0 || term.bot != 23 || term.x != 79 || term.y != 23 {
		t.Errorf("region %d-%d cursor %d,%d", term.top, term.bot, term.x, term.y)
	}
	if term := New(1<<30, -5); term.cols != maxDim || term.rows != 1 {
		t.Errorf("size %dx%d", term.cols, term.rows)
	}
}

func TestGraphemePoolBounded(t *testing.T) {
	term := New(10, 2)
	for i := range 100000 {
		term.Write([]byte(fmt.Sprintf("%c\u0301", 'a'+rune(i%26)+rune(i/26%50)*0x100)))
	}
	if n := len(term.graphemes); n > 1024+1 {
		t.Errorf("%d graphemes kept for a 10x2 screen", n)
	}
	// What is shown survived the compactions.
	for y := range 2 {
		for _, r := range term.Line(y) {
			_ = r
		}
		if !strings.Contains(term.Line(y), "\u0301") {
			t.Errorf("row %d lost its combining marks: %q", y, term.Line(y))
		}
	}
}

func TestScrollbackBudget(t *testing.T) {
	term := New(80, 24, WithScrollback(10000))
	for i := range 5000 {
		fmt.Fprintf(term, "\x1b[3%dmline %d\x1b[m\r\n", i%8, i)
	}
	if term.sb.used > 10000 || len(term.sb.buf) > 10000 {
		t.Errorf("scrollback uses %d bytes in %d", term.sb.used, len(term.sb.buf))
	}
	var last []string
	var pen tcell
	term.sb.each(3, nil, func(rec []byte) {
		var s strings.Builder
		for _, c := range parseStyled(string(rec[1:]), &pen) {
			s.WriteString(c.text)
		}
		last = append(last, s.String())
	})
	if strings.Join(last, "|") != "line 4974|line 4975|line 4976" {
		t.Errorf("last scrollback lines %q", last)
	}
	none := New(80, 24, WithScrollback(0))
	for range 100 {
		none.Write([]byte("x\r\n"))
	}
	if none.ScrollbackLines() != 0 {
		t.Errorf("scrollback kept with a budget of 0")
	}
}

func TestRepaintScrollback(t *testing.T) {
	a := New(20, 5)
	for i := range 12 {
		fmt.Fprintf(a, "\x1b[1mline\x1b[m %d\r\n", i)
	}
	for _, n := range []int{0, 3, -1} {
		b := New(20, 5)
		b.Write(a.Repaint(nil, RepaintOptions{Scrollback: n}))
		want := n
		if n < 0 {
			want = a.ScrollbackLines()
		}
		if b.ScrollbackLines() != want {
			t.Errorf("scrollback %d: %d lines arrived, want %d", n, b.ScrollbackLines(), want)
		}
		if d := diffRows("screen", ourState(a).screen, ourState(b).screen, false); d != "" {
			t.Errorf("scrollback %d: %s", n, d)
		}
	}
}

func TestResize(t *testing.T) {
	term := New(10, 5)
	term.Write([]byte("1\r\n2\r\n3\r\n4中文字\x1b[3;1H"))
	term.Resize(6, 3) // rows 4 and 5 are blank below the cursor... only row 5 is; row 1 goes to the scrollback
	if got := term.Line(0) + "|" + term.Line(1) + "|" + term.Line(2); got != "2|3|4中文" {
		t.Errorf("after shrink: %q", got)
	}
	if x, y, _ := term.Cursor(); x != 0 || y != 1 || term.ScrollbackLines() != 1 {
		t.Errorf("cursor %d,%d scrollback %d", x, y, term.ScrollbackLines())
	}
	term.Resize(12, 6)
	if got := term.Line(2); got != "4中文" {
		t.Errorf("after grow: %q", got)
	}
	term.Write([]byte("\x1b[6;12Hx\x1b[2;5r\x1b[?1049h"))
	term.Resize(4, 2)
	term.Write([]byte("abcdefgh\x1b[?1049l"))
	if c, r := term.Size(); c != 4 || r != 2 || term.top != 0 || term.bot != 1 {
		t.Errorf("size %dx%d region %d-%d", c, r, term.top, term.bot)
	}
	var buf bytes.Buffer
	buf.Write(term.Repaint(nil, RepaintOptions{}))
	b := New(4, 2)
	b.Write(buf.Bytes())
	if d := diffRows("screen", ourState(term).screen, ourState(b).screen, false); d != "" {
		t.Error(d)
	}
}
