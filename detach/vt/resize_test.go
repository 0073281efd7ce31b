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
