package vt

// blank returns an erased cell: only the background of the pen is kept, as xterm and tmux do.
func (t *Terminal) blank() cell { return cell{bg: t.pen.bg} }

// printASCII prints a run of bytes 0x20-0x7e.
func (t *Terminal) printASCII(p []byte) {
	pen := t.pen
	t.last, t.hasLast = cell{r: rune(p[len(p)-1])}, true
	pen.flags = 0
	if t.g[t.gl] == csGraphics {
		pen.attr |= attrACS
	} else {
		pen.attr &^= attrACS
	}
	if t.modes&modeInsert != 0 || t.modes&modeWrap == 0 {
		for _, b := range p {
			c := pen
			c.r = rune(b)
			t.putCell(c, 1)
		}
		return
	}
	for len(p) > 0 {
		if t.pending {
			t.wrap()
		}
		cells := t.scr.lines[t.y].cells
		n := min(len(p), t.cols-t.x)
		x := t.x
		t.fixWideAt(cells, x)
		t.fixWideAt(cells, x+n-1)
		dst := cells[x : x+n]
		src := p[:n]
		for i := range dst {
			pen.r = rune(src[i])
			dst[i] = pen
		}
		p = p[n:]
		t.x += n
		if t.x >= t.cols {
			t.x = t.cols - 1
			t.pending = true
		}
	}
}

// fixWideAt blanks the other half of a wide character at x before x is overwritten.
func (t *Terminal) fixWideAt(cells []cell, x int) {
	if x < 0 || x >= len(cells) {
		return
	}
	switch {
	case cells[x].flags&cellCont != 0 && x > 0:
		cells[x-1] = cell{bg: cells[x-1].bg}
	case cells[x].flags&cellWide != 0 && x+1 < len(cells):
		cells[x+1] = cell{bg: cells[x+1].bg}
	}
}

// wrap moves to the start of the next line, marking the current one as wrapped.
func (t *Terminal) wrap() {
	t.scr.lines[t.y].wrapped = true
	t.pending = false
	t.x = 0
	t.linefeed()
}

// print prints a rune of any width.
func (t *Terminal) print(r rune) {
	w := runeWidth(r)
	if w == 0 {
		if r >= 0x20 {
			t.combine(r)
		}
		return
	}
	c := t.pen
	c.flags = 0
	c.attr &^= attrACS
	c.r = r
	t.putCell(c, w)
	t.hasLast = false
}

// putCell writes c (w columns wide) at the cursor, honouring pending wrap, autowrap and insert mode.
func (t *Terminal) putCell(c cell, w int) {
	if t.pending && t.modes&modeWrap != 0 {
		t.wrap()
	}
	t.pending = false
	if t.x+w > t.cols {
		if t.modes&modeWrap == 0 || w > t.cols {
			return // a wide character that cannot fit is dropped
		}
		// Blank what is left of the line and go on on the next one.
		cells := t.scr.lines[t.y].cells
		for x := t.x; x < t.cols; x++ {
			t.fixWideAt(cells, x)
			cells[x] = t.blank()
		}
		t.wrap()
	}
	if t.modes&modeInsert != 0 {
		t.insertCells(w)
	}
	cells := t.scr.lines[t.y].cells
	t.fixWideAt(cells, t.x)
	t.fixWideAt(cells, t.x+w-1)
	if w == 2 {
		c.flags |= cellWide
		cells[t.x] = c
		cells[t.x+1] = cell{fg: c.fg, bg: c.bg, attr: c.attr, flags: cellCont}
	} else {
		cells[t.x] = c
	}
	t.x += w
	if t.x >= t.cols {
		t.x = t.cols - 1
		t.pending = t.modes&modeWrap != 0
	}
}

// combine attaches a zero-width rune (combining mark, joiner, variation selector) to the cell before the cursor.
func (t *Terminal) combine(r rune) {
	x := t.x
	if !t.pending {
		x--
	}
	if x < 0 {
		return
	}
	cells := t.scr.lines[t.y].cells
	if cells[x].flags&cellCont != 0 && x > 0 {
		x--
	}
	c := &cells[x]
	if c.r == 0 && c.flags&cellGrapheme == 0 {
		return
	}
	var buf [maxGrapheme + 4]byte
	s := t.appendCellText(buf[:0], *c)
	if len(s)+4 > maxGrapheme {
		return
	}
	s = appendRune(s, r)
	c.r = t.grapheme(string(s))
	c.flags |= cellGrapheme
}

// repeat handles REP: the last printed character again n times.
func (t *Terminal) repeat(n int) {
	if !t.hasLast {
		return
	}
	// As tmux: only an ASCII character printed right before, at most to the end of the line.
	if t.pending {
		return
	}
	b := [1]byte{byte(t.last.r)}
	for range min(n, t.cols-t.x) {
		t.printASCII(b[:])
	}
}

// linefeed moves down a line, scrolling at the bottom of the region.
func (t *Terminal) linefeed() {
	t.pending = false
	switch {
	case t.y == t.bot:
		t.scrollUp(t.top, t.bot, 1, true)
	case t.y < t.rows-1:
		t.y++
	}
}

// reverseIndex moves up a line, scrolling down at the top of the region.
func (t *Terminal) reverseIndex() {
	t.pending = false
	switch {
	case t.y == t.top:
		t.scrollDown(t.top, t.bot, 1)
	case t.y > 0:
		t.y--
	}
}

// scrollUp scrolls rows top..bot up by n. When history is set, rows leaving the primary screen's
// region go to the scrollback, whatever the region (tmux does so, which keeps the history of programs
// with a status line).
func (t *Terminal) scrollUp(top, bot, n int, history bool) {
	n = min(n, bot-top+1)
	if n <= 0 {
		return
	}
	ls := t.scr.lines
	if history && !t.altOn {
		for _, l := range ls[top : top+n] {
			t.pushScrollback(l)
		}
	}
	rotate(ls[top:bot+1], n)
	for _, l := range ls[bot-n+1 : bot+1] {
		t.clearLine(l)
	}
}

// scrollDown scrolls rows top..bot down by n, blank rows coming in at the top.
func (t *Terminal) scrollDown(top, bot, n int) {
	n = min(n, bot-top+1)
	if n <= 0 {
		return
	}
	ls := t.scr.lines
	rotate(ls[top:bot+1], bot-top+1-n)
	for _, l := range ls[top : top+n] {
		t.clearLine(l)
	}
}

// rotate moves the first k elements of s to its end, in place.
func rotate(s []*line, k int) {
	reverse(s[:k])
	reverse(s[k:])
	reverse(s)
}

func reverse(s []*line) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func (t *Terminal) clearLine(l *line) {
	b := t.blank()
	for i := range l.cells {
		l.cells[i] = b
	}
	l.wrapped = false
}

// clearCells erases cells [from, to) of row y.
func (t *Terminal) clearCells(y, from, to int) {
	l := t.scr.lines[y]
	from, to = max(from, 0), min(to, t.cols)
	if from >= to {
		return
	}
	t.fixWideAt(l.cells, from)
	t.fixWideAt(l.cells, to-1)
	b := t.blank()
	for i := from; i < to; i++ {
		l.cells[i] = b
	}
	if from == 0 && to == t.cols {
		l.wrapped = false
	}
}

// cx is the cursor column for erasing: past the last column in the pending wrap state, as in tmux,
// so that erasing after a full line keeps its last character.
func (t *Terminal) cx() int {
	if t.pending {
		return t.cols
	}
	return t.x
}

func (t *Terminal) eraseLine(mode int) {
	x := t.cx()
	t.pending = false
	switch mode {
	case 0:
		t.clearCells(t.y, x, t.cols)
	case 1:
		t.clearCells(t.y, 0, x+1)
	case 2:
		t.clearCells(t.y, 0, t.cols)
	}
}

func (t *Terminal) eraseDisplay(mode int) {
	x := t.cx()
	t.pending = false
	if mode == 0 && x == 0 && t.y == 0 {
		mode = 2 // tmux treats it as a clear screen, scrolling into the scrollback
	}
	switch mode {
	case 0:
		t.clearCells(t.y, x, t.cols)
		for y := t.y + 1; y < t.rows; y++ {
			t.clearCells(y, 0, t.cols)
		}
	case 1:
		for y := 0; y < t.y; y++ {
			t.clearCells(y, 0, t.cols)
		}
		t.clearCells(t.y, 0, x+1)
	case 2:
		if !t.altOn {
			// As tmux does: the used rows go to the scrollback first.
			last := 0
			for y, l := range t.scr.lines {
				if !t.lineEmpty(l) {
					last = y + 1
				}
			}
			for y := range last {
				t.pushScrollback(t.scr.lines[y])
			}
		}
		for y := 0; y < t.rows; y++ {
			t.clearCells(y, 0, t.cols)
		}
	case 3:
		t.sb.clear()
	}
}

// lineEmpty reports whether l holds only default blanks.
func (t *Terminal) lineEmpty(l *line) bool {
	for _, c := range l.cells {
		if c != (cell{}) {
			return false
		}
	}
	return true
}

// insertCells handles ICH: n blanks at the cursor, the rest of the line shifting right.
func (t *Terminal) insertCells(n int) {
	if t.pending {
		return
	}
	cells := t.scr.lines[t.y].cells
	n = min(n, t.cols-t.x)
	t.fixWideAt(cells, t.x)
	copy(cells[t.x+n:], cells[t.x:])
	b := t.blank()
	for i := t.x; i < t.x+n; i++ {
		cells[i] = b
	}
	t.fixLineEnd(cells)
}

// deleteCells handles DCH: n cells at the cursor go, the rest shifting left, blanks coming in at the end.
func (t *Terminal) deleteCells(n int) {
	if t.pending {
		return
	}
	cells := t.scr.lines[t.y].cells
	n = min(n, t.cols-t.x)
	t.fixWideAt(cells, t.x)
	t.fixWideAt(cells, t.x+n-1)
	copy(cells[t.x:], cells[t.x+n:])
	b := t.blank()
	for i := t.cols - n; i < t.cols; i++ {
		cells[i] = b
	}
}

// fixLineEnd blanks a wide character cut in half at the end of a line.
func (t *Terminal) fixLineEnd(cells []cell) {
	if last := len(cells) - 1; cells[last].flags&cellWide != 0 {
		cells[last] = cell{bg: cells[last].bg}
	}
}

// eraseCells handles ECH.
func (t *Terminal) eraseCells(n int) {
	x := t.cx()
	t.pending = false
	t.clearCells(t.y, x, x+min(n, t.cols))
}

func (t *Terminal) insertLines(n int) {
	t.pending = false
	if t.y < t.top || t.y > t.bot {
		t.scrollDown(t.y, t.rows-1, n)
		return
	}
	t.scrollDown(t.y, t.bot, n)
}

func (t *Terminal) deleteLines(n int) {
	t.pending = false
	if t.y < t.top || t.y > t.bot {
		t.scrollUp(t.y, t.rows-1, n, false)
		return
	}
	t.scrollUp(t.y, t.bot, n, false)
}

// moveTo moves the cursor, clamped to the screen.
func (t *Terminal) moveTo(x, y int) {
	t.x = min(max(x, 0), t.cols-1)
	t.y = min(max(y, 0), t.rows-1)
	t.pending = false
}

// cursorPosition handles CUP with 1-based row and column, relative to the region in origin mode.
func (t *Terminal) cursorPosition(row, col int) {
	y := row - 1
	if t.modes&modeOrigin != 0 {
		y = min(t.top+y, t.bot)
	}
	t.moveTo(col-1, y)
}

func (t *Terminal) cursorUp(n int) {
	limit := 0
	if t.y >= t.top {
		limit = t.top
	}
	t.moveTo(t.x, max(t.y-n, limit))
}

func (t *Terminal) cursorDown(n int) {
	limit := t.rows - 1
	if t.y <= t.bot {
		limit = t.bot
	}
	t.moveTo(t.x, min(t.y+min(n, t.rows), limit))
}

func (t *Terminal) backspace() {
	switch {
	case t.pending:
		t.pending = false
	case t.x > 0:
		t.x--
	case t.y > 0 && t.scr.lines[t.y-1].wrapped:
		// tmux goes back over an autowrap
		t.y--
		t.x = t.cols - 1
	}
}

// tab moves to the n-th next tab stop, or the last column.
func (t *Terminal) tab(n int) {
	if t.pending {
		return
	}
	for ; n > 0 && t.x < t.cols-1; n-- {
		t.x++
		for t.x < t.cols-1 && !t.tabs[t.x] {
			t.x++
		}
	}
}

// backTab handles CBT.
func (t *Terminal) backTab(n int) {
	t.pending = false
	for ; n > 0 && t.x > 0; n-- {
		t.x--
		for t.x > 0 && !t.tabs[t.x] {
			t.x--
		}
	}
}

func (t *Terminal) saveCursor() {
	t.saved = savedCursor{x: t.x, y: t.y, pen: t.pen, origin: t.modes&modeOrigin != 0, g: t.g, gl: t.gl}
}

func (t *Terminal) restoreCursor() {
	s := t.saved
	t.pen = s.pen
	t.g, t.gl = s.g, s.gl
	t.setMode(modeOrigin, s.origin)
	t.moveTo(s.x, s.y)
}

// setAlt switches the alternate screen on or off; cursor says whether 1049 saves and restores the cursor.
func (t *Terminal) setAlt(on, cursor bool) {
	if on {
		if t.altOn {
			return
		}
		if cursor {
			t.altSave.x, t.altSave.y, t.altSave.valid = t.x, t.y, true
		}
		t.altSave.pen = t.pen
		if t.alt == nil {
			t.alt = newScreen(t.cols, t.rows)
		}
		t.altOn = true
		t.scr = t.alt
		for _, l := range t.alt.lines {
			clear(l.cells)
			l.wrapped = false
		}
		return
	}
	if cursor && t.altSave.valid {
		t.x, t.y = min(t.altSave.x, t.cols-1), min(t.altSave.y, t.rows-1)
		t.pen = t.altSave.pen
		t.pending = false
	}
	if !t.altOn {
		return
	}
	t.altOn = false
	t.scr = t.prim
	t.alt = nil // an idle terminal keeps only one screen
	t.x, t.y = min(t.x, t.cols-1), min(t.y, t.rows-1)
}

// reset handles RIS: power-on state; the screen's rows go to the scrollback as with ED 2 (tmux does so).
func (t *Terminal) reset() {
	t.resetState()
	t.pending = false
	t.eraseDisplay(2)
	t.x, t.y = 0, 0
}

// softReset handles DECSTR.
func (t *Terminal) softReset() {
	t.modes &^= modeInsert | modeOrigin | modeCursorKeys | modeKeypad | modeHidden
	t.modes |= modeWrap
	t.top, t.bot = 0, t.rows-1
	t.g, t.gl = [2]uint8{}, 0
	t.pen = cell{}
	t.saved = savedCursor{}
	t.pending = false
}

// alignmentTest handles DECALN: the screen filled with E, the region reset, the cursor home.
func (t *Terminal) alignmentTest() {
	for _, l := range t.scr.lines {
		for i := range l.cells {
			l.cells[i] = cell{r: 'E'}
		}
		l.wrapped = false
	}
	t.top, t.bot = 0, t.rows-1
	t.moveTo(0, 0)
}
