package vt

import "unicode/utf8"

// RepaintOptions says what Repaint sends besides the screen.
type RepaintOptions struct {
	// Scrollback is how many of the most recent scrollback lines to send first, so they land in the
	// client's own scrollback: 0 sends none, a negative number all.
	Scrollback int
}

// Repaint appends to dst the bytes that, written to a freshly reset terminal of the same size, reproduce
// this terminal: a reset (RIS), scrollback lines if asked, the primary screen's rows, the alternate screen
// over it if shown, then title, tab stops, scroll region, saved cursor, modes, charsets, cursor and pen,
// and last the bytes of a sequence the parser holds half-read, so that the program's next bytes complete
// it on the client as they do here.
func (t *Terminal) Repaint(dst []byte, opt RepaintOptions) []byte {
	dst = append(dst, "\x1bc"...)
	var w sgrWriter

	if opt.Scrollback != 0 && t.sb.n > 0 {
		// Print the lines, then scroll them all off the screen into the client's scrollback. A line
		// wider than the screen (kept from before a resize) takes several rows.
		row := 0
		t.sb.each(opt.Scrollback, nil, func(rec []byte) {
			dst = append(dst, rec[1:]...)
			dst = append(dst, "\r\n"...)
			row = min(row+max(1, (recordWidth(rec[1:])+t.cols-1)/t.cols), t.rows-1)
		})
		dst = appendCSI(dst, 'H', t.rows, 1)
		for range row {
			dst = append(dst, '\n')
		}
	}

	dst = w.screen(dst, t, t.prim)
	if !t.altOn && t.altSave.valid {
		// A later 1049l restores this cursor and pen even though the alternate screen is off.
		dst = appendCSI(dst, 'H', t.altSave.y+1, t.altSave.x+1)
		dst = w.set(dst, t.altSave.pen)
		dst = append(dst, "\x1b[?1049h\x1b[?1049l"...)
	}
	if t.altOn {
		if t.altSave.valid {
			dst = appendCSI(dst, 'H', t.altSave.y+1, t.altSave.x+1)
			dst = w.set(dst, t.altSave.pen)
			dst = append(dst, "\x1b[?1049h"...)
		} else {
			dst = w.set(dst, t.altSave.pen)
			dst = append(dst, "\x1b[?1047h"...)
		}
		dst = w.screen(dst, t, t.alt)
	}
	if w.acs {
		dst = append(dst, "\x1b(B"...)
		w.acs = false
	}

	if t.title != "" {
		dst = append(dst, "\x1b]2;"...)
		dst = append(dst, t.title...)
		dst = append(dst, '\a')
	}
	defTabs := true
	for i, on := range t.tabs {
		if on != (i > 0 && i%8 == 0) {
			defTabs = false
		}
	}
	if !defTabs {
		dst = append(dst, "\x1b[3g"...)
		for i, on := range t.tabs {
			if on {
				dst = appendCSI(dst, 'H', 1, i+1)
				dst = append(dst, "\x1bH"...)
			}
		}
	}
	if t.top != 0 || t.bot != t.rows-1 {
		dst = appendCSI(dst, 'r', t.top+1, t.bot+1)
	}
	if t.saved != (savedCursor{}) {
		s := t.saved
		if s.origin {
			dst = append(dst, "\x1b[?6h"...)
			dst = appendCSI(dst, 'H', s.y-t.top+1, s.x+1)
		} else {
			dst = appendCSI(dst, 'H', s.y+1, s.x+1)
		}
		dst = w.set(dst, s.pen)
		dst = appendCharsets(dst, s.g, s.gl)
		dst = append(dst, "\x1b7"...)
		if s.g != [2]uint8{} || s.gl != 0 {
			dst = append(dst, "\x1b(B\x1b)B\x0f"...)
		}
		if s.origin {
			dst = append(dst, "\x1b[?6l"...)
		}
	}

	// Cursor position. The pending wrap state, and the last character that REP repeats, are reproduced
	// by printing the cell before the cursor again, once the modes are set (but insert mode) and
	// before the pen is.
	y := t.y
	if t.modes&modeOrigin != 0 {
		dst = append(dst, "\x1b[?6h"...)
		y -= t.top
	}
	reprint := -1
	switch {
	case t.pending:
		reprint = t.cols - 1
		if t.scr.lines[t.y].cells[reprint].flags&cellCont != 0 && reprint > 0 {
			reprint--
		}
	case t.hasLast && t.x > 0 && t.modes&modeInsert == 0:
		reprint = t.x - 1
	}
	if reprint >= 0 {
		dst = appendCSI(dst, 'H', y+1, reprint+1)
	} else {
		dst = appendCSI(dst, 'H', y+1, t.x+1)
	}

	dst = appendPrivateMode(dst, 1, t.modes&modeCursorKeys != 0)
	if t.modes&modeKeypad != 0 {
		dst = append(dst, "\x1b="...)
	}
	if t.mouse != 0 {
		dst = appendPrivateMode(dst, t.mouse, true)
	}
	dst = appendPrivateMode(dst, 1005, t.modes&modeMouseUTF8 != 0)
	dst = appendPrivateMode(dst, 1006, t.modes&modeMouseSGR != 0)
	dst = appendPrivateMode(dst, 1015, t.modes&modeMouseURXVT != 0)
	dst = appendPrivateMode(dst, 1004, t.modes&modeFocus != 0)
	dst = appendPrivateMode(dst, 2004, t.modes&modePaste != 0)
	dst = appendPrivateMode(dst, 12, t.modes&modeBlink != 0)
	if t.modes&modeWrap == 0 {
		dst = append(dst, "\x1b[?7l"...)
	}
	if t.style != 0 {
		dst = appendCSI(dst, 'q', t.style)
		dst = dst[:len(dst)-1]
		dst = append(dst, " q"...)
	}
	if t.modes&modeHidden != 0 {
		dst = append(dst, "\x1b[?25l"...)
	}
	if reprint >= 0 {
		c := t.scr.lines[t.y].cells[reprint]
		dst = w.set(dst, c)
		dst = t.appendCellText(dst, c)
		if w.acs {
			dst = append(dst, "\x1b(B"...)
			w.acs = false
		}
	}
	if t.modes&modeInsert != 0 {
		dst = append(dst, "\x1b[4h"...)
	}
	dst = w.set(dst, t.pen)
	dst = appendCharsets(dst, t.g, t.gl)
	return t.appendHeld(dst)
}

// recordWidth returns the number of columns a serialized line takes.
func recordWidth(rec []byte) int {
	w := 0
	for i := 0; i < len(rec); {
		switch b := rec[i]; {
		case b == 0x1b && i+1 < len(rec) && rec[i+1] == '[':
			i += 2
			for i < len(rec) && (rec[i] < 0x40 || rec[i] > 0x7e) {
				i++
			}
			i++
		case b == 0x1b:
			i += 3 // ESC ( 0 or ESC ( B
		case b < 0x80:
			w++
			i++
		default:
			r, n := utf8.DecodeRune(rec[i:])
			w += runeWidth(r)
			i += n
		}
	}
	return w
}

// appendHeld appends the bytes of a sequence the parser is in the middle of.
func (t *Terminal) appendHeld(dst []byte) []byte {
	switch t.state {
	case stGround:
		return append(dst, t.utf8[:t.nutf8]...)
	case stEsc, stEscInter, stCSI, stCSIIgnore:
		return append(dst, t.raw[:t.nraw]...)
	case stOSC, stOSCEsc:
		dst = append(dst, "\x1b]"...)
		dst = append(dst, t.osc...)
		if t.state == stOSCEsc {
			dst = append(dst, 0x1b)
		}
		return dst
	case stStr, stStrEsc:
		dst = append(dst, t.raw[:2]...)
		if t.state == stStrEsc {
			dst = append(dst, 0x1b)
		}
	}
	return dst
}

// appendCharsets designates G0 and G1 and shifts to one of them; a reset terminal has ASCII in both and G0 in use.
func appendCharsets(dst []byte, g [2]uint8, gl uint8) []byte {
	for i, cs := range g {
		if cs != csASCII {
			dst = append(dst, 0x1b, "()"[i], '0')
		}
	}
	if gl == 1 {
		dst = append(dst, 0x0e)
	}
	return dst
}

func appendPrivateMode(dst []byte, mode int, on bool) []byte {
	if !on {
		return dst
	}
	dst = append(dst, "\x1b[?"...)
	dst = appendInt(dst, mode)
	return append(dst, 'h')
}

// appendCSI appends ESC [ params final.
func appendCSI(dst []byte, final byte, params ...int) []byte {
	dst = append(dst, 0x1b, '[')
	for i, p := range params {
		if i > 0 {
			dst = append(dst, ';')
		}
		dst = appendInt(dst, p)
	}
	return append(dst, final)
}

// sgrWriter writes cells, emitting SGR and charset changes relative to what it wrote before.
type sgrWriter struct {
	pen cell // fg, bg and attr (without attrACS) in effect
	acs bool // G0 is DEC special graphics
}

// screen paints the non-blank rows of s with absolute positioning. A row that autowrapped is written
// to its last column and the next row follows without positioning, so the client marks it wrapped too.
func (w *sgrWriter) screen(dst []byte, t *Terminal, s *screen) []byte {
	for y, l := range s.lines {
		cont := y > 0 && s.lines[y-1].wrapped
		minCells := 0
		switch {
		case l.wrapped && y < t.rows-1:
			minCells = t.cols
		case cont:
			minCells = 1
		}
		if !cont {
			if minCells == 0 && t.lineEmpty(l) {
				continue
			}
			dst = appendCSI(dst, 'H', y+1, 1)
		}
		dst = w.line(dst, t, l.cells, minCells)
	}
	return dst
}

// line writes cells, leaving out trailing default blanks beyond the first minCells.
func (w *sgrWriter) line(dst []byte, t *Terminal, cells []cell, minCells int) []byte {
	n := len(cells)
	for n > minCells && (cells[n-1] == cell{} || cells[n-1] == cell{r: ' '}) {
		n--
	}
	for _, c := range cells[:n] {
		if c.attr == w.pen.attr && c.fg == w.pen.fg && c.bg == w.pen.bg && !w.acs && c.flags == 0 && c.r < 0x80 {
			// Fast path: ASCII or a blank in the current pen.
			b := byte(c.r)
			if b == 0 {
				b = ' '
			}
			dst = append(dst, b)
			continue
		}
		if c.flags&cellCont != 0 {
			continue
		}
		dst = w.set(dst, c)
		dst = t.appendCellText(dst, c)
	}
	return dst
}

// reset returns to the default pen and charset.
func (w *sgrWriter) reset(dst []byte) []byte {
	if w.acs {
		dst = append(dst, "\x1b(B"...)
	}
	if w.pen != (cell{}) {
		dst = append(dst, "\x1b[m"...)
	}
	*w = sgrWriter{}
	return dst
}

// sgrCodes are the SGR attribute codes, in the order they are written.
var sgrCodes = [...]struct {
	a    attr
	code string
}{
	{attrBold, "1"}, {attrDim, "2"}, {attrItalic, "3"}, {attrBlink, "5"}, {attrReverse, "7"},
	{attrHidden, "8"}, {attrStrike, "9"}, {attrOverline, "53"},
}

// set makes c's colours, attributes and charset current.
func (w *sgrWriter) set(dst []byte, c cell) []byte {
	if acs := c.attr&attrACS != 0; acs != w.acs {
		if acs {
			dst = append(dst, "\x1b(0"...)
		} else {
			dst = append(dst, "\x1b(B"...)
		}
		w.acs = acs
	}
	a, old := c.attr&^attrACS, w.pen.attr
	if a == old && c.fg == w.pen.fg && c.bg == w.pen.bg {
		return dst
	}
	dst = append(dst, 0x1b, '[')
	start := len(dst)
	sep := func() {
		if len(dst) > start {
			dst = append(dst, ';')
		}
	}
	oldFg, oldBg := w.pen.fg, w.pen.bg
	if (old&^a)&^attrUnder != 0 || (old&attrUnder != 0 && a&attrUnder == 0) {
		dst = append(dst, '0')
		old, oldFg, oldBg = 0, 0, 0
	}
	for _, s := range sgrCodes {
		if a&s.a != 0 && old&s.a == 0 {
			sep()
			dst = append(dst, s.code...)
		}
	}
	if u := a & attrUnder; u != old&attrUnder {
		sep()
		dst = append(dst, '4')
		if u>>underShift != 1 {
			dst = append(dst, ':', byte('0'+u>>underShift))
		}
	}
	if c.fg != oldFg {
		sep()
		dst = appendColor(dst, c.fg, 30)
	}
	if c.bg != oldBg {
		sep()
		dst = appendColor(dst, c.bg, 40)
	}
	w.pen = cell{fg: c.fg, bg: c.bg, attr: a}
	return append(dst, 'm')
}

// appendColor appends the SGR parameters of colour c, base 30 for the foreground or 40 for the background.
func appendColor(dst []byte, c color, base int) []byte {
	v := int(c & 0xffffff)
	switch c & colorKind {
	case colorANSI:
		if v < 8 {
			return appendInt(dst, base+v)
		}
		return appendInt(dst, base+60+v-8)
	case color256:
		dst = appendInt(dst, base+8)
		dst = append(dst, ";5;"...)
		return appendInt(dst, v)
	case colorRGB:
		dst = appendInt(dst, base+8)
		dst = append(dst, ";2;"...)
		dst = appendInt(dst, v>>16)
		dst = append(dst, ';')
		dst = appendInt(dst, v>>8&0xff)
		dst = append(dst, ';')
		return appendInt(dst, v&0xff)
	}
	return appendInt(dst, base+9)
}
