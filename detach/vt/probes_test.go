package vt

import (
	"strings"
	"testing"
)

// Probes run on a 20x6 terminal; want is the screen's text, one string per row (trailing blanks trimmed),
// and cursor the expected cursor column and row.
const probeCols, probeRows = 20, 6

type probe struct {
	name   string
	in     string
	want   []string
	cursor [2]int
	noTmux string // why tmux is not the oracle for this probe
}

var probes = []probe{
	{"plain", "hello", []string{"hello"}, [2]int{5, 0}, ""},
	{"crlf", "ab\r\ncd", []string{"ab", "cd"}, [2]int{2, 1}, ""},
	{"lf keeps column", "ab\ncd", []string{"ab", "  cd"}, [2]int{4, 1}, ""},
	{"backspace", "abc\b\bX", []string{"aXc"}, [2]int{2, 0}, ""},
	{"tab stops", "a\tb\tc", []string{"a       b       c"}, [2]int{17, 0}, ""},
	{"tab at end", "\x1b[19G\t\tx", []string{"                   x"}, [2]int{19, 0}, ""},
	{"hts tbc", "\x1b[3g\x1b[5GX\x1bH\r\tY", []string{"    XY"}, [2]int{6, 0}, ""},
	{"autowrap pending", "01234567890123456789", []string{"01234567890123456789"}, [2]int{19, 0}, ""},
	{"autowrap", "01234567890123456789ab", []string{"01234567890123456789", "ab"}, [2]int{2, 1}, ""},
	{"pending wrap cr", "01234567890123456789\rX", []string{"X1234567890123456789"}, [2]int{1, 0}, ""},
	{"no autowrap", "\x1b[?7l01234567890123456789ab", []string{"0123456789012345678b"}, [2]int{19, 0}, ""},
	{"scroll", "1\r\n2\r\n3\r\n4\r\n5\r\n6\r\n7", []string{"2", "3", "4", "5", "6", "7"}, [2]int{1, 5}, ""},
	{"cup", "\x1b[3;5HX\x1b[HY", []string{"Y", "", "    X"}, [2]int{1, 0}, ""},
	{"cup clamp", "\x1b[99;99HX", []string{"", "", "", "", "", "                   X"}, [2]int{19, 5}, ""},
	{"cuu cud cuf cub", "\x1b[3;3H\x1b[AA\x1b[2BB\x1b[3CC\x1b[9DD", []string{"", "  A", "", "D  B   C"}, [2]int{1, 3}, ""},
	{"cnl cpl", "ab\x1b[2Ecd\x1b[Fef", []string{"ab", "ef", "cd"}, [2]int{2, 1}, ""},
	{"cha vpa hvp", "\x1b[5GA\x1b[3dB\x1b[2;2fC", []string{"    A", " C", "     B"}, [2]int{2, 1}, ""},
	{"el", "abcdef\x1b[3D\x1b[K", []string{"abc"}, [2]int{3, 0}, ""},
	{"el1 el2", "abcdef\x1b[3D\x1b[1K\r\nxyz\x1b[2K", []string{"    ef"}, [2]int{3, 1}, ""},
	{"ed", "aaa\r\nbbb\r\nccc\x1b[2;2H\x1b[J", []string{"aaa", "b"}, [2]int{1, 1}, ""},
	{"ed1", "aaa\r\nbbb\r\nccc\x1b[2;2H\x1b[1J", []string{"", "  b", "ccc"}, [2]int{1, 1}, ""},
	{"ed2", "aaa\r\nbbb\x1b[2J", []string{}, [2]int{3, 1}, ""},
	{"ich", "abcdef\x1b[3G\x1b[2@", []string{"ab  cdef"}, [2]int{2, 0}, ""},
	{"dch", "abcdef\x1b[2G\x1b[2P", []string{"adef"}, [2]int{1, 0}, ""},
	{"ech", "abcdef\x1b[2G\x1b[3X", []string{"a   ef"}, [2]int{1, 0}, ""},
	{"il dl", "1\r\n2\r\n3\r\n4\x1b[2;1H\x1b[L\x1b[4;1H\x1b[2M", []string{"1", "", "2"}, [2]int{0, 3}, ""},
	{"decstbm scroll", "\x1b[2;4r\x1b[4;1H1\n2\n3", []string{"", "1", " 2", "  3"}, [2]int{3, 3}, ""},
	{"decstbm ri", "a\r\nb\r\nc\x1b[2;3r\x1b[2;1H\x1bMX", []string{"a", "X", "b"}, [2]int{1, 1}, ""},
	{"su sd", "1\r\n2\r\n3\x1b[S\x1b[2T", []string{"", "", "2", "3"}, [2]int{1, 2}, ""},
	{"ind nel", "a\x1bDb\x1bEc", []string{"a", " b", "c"}, [2]int{1, 2}, ""},
	{"origin", "\x1b[3;5r\x1b[?6h\x1b[1;1HX\x1b[9;1HY", []string{"", "", "X", "", "Y"}, [2]int{1, 4}, ""},
	{"insert mode", "abc\r\x1b[4hXY\x1b[4lZ", []string{"XYZbc"}, [2]int{3, 0}, ""},
	{"decsc decrc", "\x1b[2;3H\x1b[31m\x1b7\x1b[5;5H\x1b[mX\x1b8Y", []string{"", "  Y", "", "", "    X"}, [2]int{3, 1}, ""},
	{"rep", "ab\x1b[3b", []string{"abbbb"}, [2]int{5, 0}, ""},
	{"decaln", "\x1b#8", []string{"EEEEEEEEEEEEEEEEEEEE", "EEEEEEEEEEEEEEEEEEEE", "EEEEEEEEEEEEEEEEEEEE", "EEEEEEEEEEEEEEEEEEEE", "EEEEEEEEEEEEEEEEEEEE", "EEEEEEEEEEEEEEEEEEEE"}, [2]int{0, 0}, ""},
	{"ris", "abc\x1b[31m\x1b[2;3r\x1bcX", []string{"X"}, [2]int{1, 0}, ""},
	{"sgr", "\x1b[1;2;3;4;5;7;8;9mA\x1b[22;23;24;25;27;28;29mB\x1b[31;42mC\x1b[91;102mD\x1b[38;5;200;48;5;17mE\x1b[38;2;1;2;3;48;2;4;5;6mF\x1b[0mG", []string{"ABCDEFG"}, [2]int{7, 0}, ""},
	{"sgr colon", "\x1b[4:3mA\x1b[38:2::10:20:30mB\x1b[38:5:99mC\x1b[21mD", []string{"ABCD"}, [2]int{4, 0}, ""},
	{"wide", "a中b", []string{"a中b"}, [2]int{4, 0}, ""},
	{"wide wrap", "\x1b[20G中", []string{"", "中"}, [2]int{2, 1}, ""},
	{"wide overwrite", "中文\x1b[2GX", []string{" X文"}, [2]int{2, 0}, "tmux keeps the first half of a wide character whose second half is overwritten; xterm blanks it, so do we"},
	{"combining", "e\u0301a\u0308", []string{"e\u0301a\u0308"}, [2]int{2, 0}, ""},
	{"dec graphics", "\x1b(0lqqk\x1b(B x\x0e\x1b)0q\x0fq", []string{"lqqk xqq"}, [2]int{8, 0}, ""},
	{"c0 inside csi", "\x1b[2\r;5HX", []string{"", "    X"}, [2]int{5, 1}, ""},
	{"can aborts", "\x1b[31\x18mX", []string{"mX"}, [2]int{2, 0}, ""},
	{"osc title", "\x1b]2;my title\x07ab\x1b]0;other\x1b\\c", []string{"abc"}, [2]int{3, 0}, ""},
	{"dcs ignored", "\x1bPq#0;1;2\x1b\\ok", []string{"ok"}, [2]int{2, 0}, ""},
	{"alt screen 1049", "main\x1b[?1049halt\x1b[?1049l", []string{"main"}, [2]int{4, 0}, ""},
	{"alt screen shown", "main\x1b[?1049h\x1b[2;1Halt", []string{"", "alt"}, [2]int{3, 1}, ""},
	{"alt screen 47", "main\x1b[?47hX\x1b[?47lY", []string{"main Y"}, [2]int{6, 0}, ""},
	{"modes", "\x1b[?1h\x1b=\x1b[?1002h\x1b[?1006h\x1b[?2004h\x1b[?25l", []string{}, [2]int{0, 0}, ""},
	{"cbt", "\x1b[15G\x1b[ZA\x1b[2ZB", []string{"B       A"}, [2]int{1, 0}, ""},
	{"cht", "\x1b[15G\x1b[ZA\x1b[2IB", []string{"        A          B"}, [2]int{19, 0}, "tmux 3.3 has no CHT"},
	{"bs reverse wrap", "01234567890123456789a\b\bX", []string{"0123456789012345678X", "a"}, [2]int{19, 0}, ""},
	{"utf8 split", "\xe4\xb8", []string{}, [2]int{0, 0}, ""},
	{"invalid utf8", "a\xff\xe4\xb8b", []string{"ab"}, [2]int{2, 0}, ""},
}

func TestProbes(t *testing.T) {
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			term := New(probeCols, probeRows)
			term.Write([]byte(p.in))
			var got []string
			for y := range probeRows {
				got = append(got, term.Line(y))
			}
			for len(got) > 0 && got[len(got)-1] == "" {
				got = got[:len(got)-1]
			}
			if strings.Join(got, "|") != strings.Join(p.want, "|") {
				t.Errorf("screen:\n got %q\nwant %q", got, p.want)
			}
			x, y, _ := term.Cursor()
			if [2]int{x, y} != p.cursor {
				t.Errorf("cursor %d,%d, want %d,%d", x, y, p.cursor[0], p.cursor[1])
			}
		})
	}
}

// TestProbesTmux checks every probe's whole state (cells with attributes, primary screen under the
// alternate, scrollback, modes, cursor, region, title) against tmux's.
func TestProbesTmux(t *testing.T) {
	tm := startTmux(t)
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			if p.noTmux != "" {
				t.Skip(p.noTmux)
			}
			name := tm.feed(t, probeCols, probeRows, []byte(p.in))
			term := New(probeCols, probeRows)
			term.Write([]byte(p.in))
			if d := compareStates(tm.state(t, name), ourState(term), true, true); d != "" {
				t.Errorf("input %q differs from tmux:\n%s", p.in, d)
			}
			tm.must(t, "kill-session", "-t", name)
		})
	}
}
