package vt

import (
	"reflect"
	"testing"
)

func TestSpans(t *testing.T) {
	plain := Style{FG: -1, BG: -1}
	red := Style{FG: 0xcd0000, BG: -1, Bold: true}
	for _, tc := range []struct {
		name, input string
		want        []Span
	}{
		{"empty", "", nil},
		{"plain", "hello", []Span{{"hello", 5, plain}}},
		{"colours", "\x1b[1;31mred\x1b[0m plain", []Span{{"red", 3, red}, {" plain", 6, plain}}},
		{"256 and truecolor", "\x1b[38;5;196mA\x1b[48;2;1;2;3mB", []Span{
			{"A", 1, Style{FG: 0xff0000, BG: -1}}, {"B", 1, Style{FG: 0xff0000, BG: 0x010203}}}},
		{"line drawing", "\x1b(0lqk\x1b(B", []Span{{"┌─┐", 3, plain}}},
		{"wide", "日本x", []Span{{"日本x", 5, plain}}},
		{"inverse and underline", "\x1b[7;4mX", []Span{{"X", 1, Style{FG: -1, BG: -1, Reverse: true, Underline: true}}}},
		{"trailing coloured blanks stay", "\x1b[44m  ", []Span{{"  ", 2, Style{FG: -1, BG: 0x0000ee}}}},
	} {
		term := New(20, 2)
		term.Write([]byte(tc.input))
		if got := term.Spans(0); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Spans(0) = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	term := New(4, 2)
	if term.Spans(-1) != nil || term.Spans(2) != nil {
		t.Error("rows out of range give spans")
	}
	term.Write([]byte("\x1b[?1h\x1b[?2004h"))
	if !term.CursorKeys() || !term.BracketedPaste() {
		t.Error("DECCKM or bracketed paste not reported")
	}
}

func TestXterm256(t *testing.T) {
	for n, want := range map[int]int32{0: 0, 1: 0xcd0000, 15: 0xffffff, 16: 0, 21: 0x0000ff, 196: 0xff0000, 231: 0xffffff, 232: 0x080808, 255: 0xeeeeee} {
		if got := xterm256(n); got != want {
			t.Errorf("xterm256(%d) = %06x, want %06x", n, got, want)
		}
	}
}
