package vt

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// retained counts the bytes a terminal's grow-able parts hold by capacity: the cells and rows of both
// screens, tab stops, the scrollback ring, the scratch line and the grapheme pool (a string header, its
// bytes and its map entry, about twice the string, per entry). Capacities, not lengths: a backing array
// kept after a shrink is what the issue is about.
func retained(t *Terminal) int {
	n := 0
	for _, s := range []*screen{t.prim, t.alt} {
		if s == nil {
			continue
		}
		n += cap(s.lines) * int(unsafe.Sizeof(&line{}))
		for _, l := range s.lines {
			n += int(unsafe.Sizeof(*l)) + cap(l.cells)*int(unsafe.Sizeof(cell{}))
		}
	}
	n += cap(t.tabs) + cap(t.sb.buf) + cap(t.sbLine)
	for _, g := range t.graphemes {
		n += 2 * (int(unsafe.Sizeof(g)) + len(g))
	}
	return n
}

// TestResizeFlipsBounded flips a terminal between a huge window and 1x1, drawing on both screens and
// making many distinct graphemes at the large size, as a program answering every SIGWINCH does. At the
// large size it may hold two grids of at most a million cells (the alternate screen is on: 32 MiB)
// plus its scrollback budget; back at 1x1 it must give the large grids, the grapheme pool and the scratch line back and
// hold little more than its scrollback budget.
func TestResizeFlipsBounded(t *testing.T) {
	const sbBudget = 64 << 10
	term := New(80, 24, WithScrollback(sbBudget))
	var marks strings.Builder
	for i := range 3000 { // distinct graphemes: a letter and a combining mark
		fmt.Fprintf(&marks, "%c%c", 'a'+rune(i%26), 0x300+rune(i/26))
	}
	fill := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 100)
	big := 2*(1<<20)*int(unsafe.Sizeof(cell{})) + sbBudget + 4<<20 // 4 MiB for rows, tabs and the pool
	small := sbBudget + 16<<10
	for _, size := range [][2]int{{4096, 4096}, {1 << 30, 1 << 30}, {4096, 1}, {1, 4096}} {
		for flip := range 3 {
			term.Resize(size[0], size[1])
			term.Write([]byte("\x1b[?1049l" + fill + "\r\n" + marks.String() + "\x1b[?1049h" + fill + marks.String()))
			if n := retained(term); n > big {
				cols, rows := term.Size()
				t.Fatalf("%dx%d (asked %dx%d), flip %d: %d bytes retained, want at most %d", cols, rows, size[0], size[1], flip, n, big)
			}
			term.Resize(1, 1)
			term.Write([]byte("x"))
			if n := retained(term); n > small {
				t.Fatalf("1x1 after %dx%d, flip %d: %d bytes retained, want at most %d", size[0], size[1], flip, n, small)
			}
		}
	}
}

func TestClampSize(t *testing.T) {
	for _, c := range []struct{ cols, rows, wantCols, wantRows int }{
		{80, 24, 80, 24},
		{1536, 432, 1536, 432}, // an 8K display at a 5-pixel font
		{1024, 1024, 1024, 1024},
		{4096, 4096, 4096, 256}, // the rows give way, not the columns
		{2000, 1000, 2000, 524},
		{1 << 30, -5, 4096, 1},
		{0, 1 << 30, 1, 4096},
	} {
		cols, rows := clampSize(c.cols, c.rows)
		if cols != c.wantCols || rows != c.wantRows || cols*rows > maxCells {
			t.Errorf("clampSize(%d, %d) = %d, %d, want %d, %d", c.cols, c.rows, cols, rows, c.wantCols, c.wantRows)
		}
		if cols, rows := New(c.cols, c.rows).Size(); cols != c.wantCols || rows != c.wantRows {
			t.Errorf("New(%d, %d) is %dx%d", c.cols, c.rows, cols, rows)
		}
	}
}

// TestShrinkKeepsGraphemes checks the pool compaction of a shrink keeps what is still shown.
func TestShrinkKeepsGraphemes(t *testing.T) {
	term := New(20, 4)
	term.Write([]byte("e\u0301a\u0300xxi\u0302\r\no\u0302"))
	term.Resize(3, 2) // the blank rows below the cursor go, and the columns from the fourth on
	if got := term.Line(0) + "|" + term.Line(1); got != "e\u0301a\u0300x|o\u0302" {
		t.Errorf("after shrink: %q", got)
	}
	if n := len(term.graphemes); n != 3 {
		t.Errorf("%d graphemes kept, want the 3 shown", n)
	}
}
