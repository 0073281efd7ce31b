package vt

import (
	"testing"

	"github.com/mattn/go-runewidth"
)

// TestWidthTable checks the generated table against go-runewidth for every rune (go generate refreshes it).
func TestWidthTable(t *testing.T) {
	cond := &runewidth.Condition{EastAsianWidth: false, StrictEmojiNeutral: true}
	bad := 0
	for r := rune(0x20); r < 0x110000; r++ {
		if r >= 0x7f && r <= 0x9f {
			continue
		}
		if got, want := runeWidth(r), cond.RuneWidth(r); got != want {
			if bad < 5 {
				t.Errorf("width of %U: %d, go-runewidth says %d", r, got, want)
			}
			bad++
		}
	}
}
