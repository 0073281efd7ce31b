package webterm

import (
	"fmt"
	"testing"

	"keeper/detach"
)

// BenchmarkFrame is one frame of a busy 200x50 page: a full screen of
// coloured text, one row changed since the last frame. Every row is encoded
// and compared, so this is what a frame costs the daemon while output flows.
func BenchmarkFrame(b *testing.B) {
	term := newTerm("", nil, detach.Winsize{Cols: 200, Rows: 50})
	for y := range 50 {
		fmt.Fprintf(term.term, "\x1b[%d;1H", y+1)
		for x := 0; x < 190; x += 19 {
			fmt.Fprintf(term.term, "\x1b[3%dm%-19s", x/19%8, "some output text")
		}
	}
	var sent sentState
	term.frame(&sent)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		fmt.Fprintf(term.term, "\x1b[25;1H%d", i)
		if term.frame(&sent) == nil {
			b.Fatal("no frame for a changed row")
		}
	}
}
