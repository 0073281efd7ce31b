package vt

import "unicode/utf8"

// A Span is a run of a row's cells that look alike, for a renderer that
// draws the screen itself (keeper's web page) rather than replaying it on
// a terminal: Text is what the cells show (DEC line drawing as Unicode),
// Cols how many columns it covers (a wide character takes two).
type Span struct {
	Text  string
	Cols  int
	Style Style
}

// Style is how a span is drawn. Colours are 0xRRGGBB, or -1 for the
// terminal's default; indexed colours come from xterm's palette. Reverse
// is left to the renderer, which knows its default colours.
type Style struct {
	FG, BG                                       int32
	Bold, Dim, Italic, Underline, Blink, Reverse bool
	Hidden, Strike, Overline                     bool
}

// Spans returns row y of the shown screen as spans, trailing blanks with
// default colours left out (nil if y is out of range).
func (t *Terminal) Spans(y int) []Span {
	if y < 0 || y >= t.rows {
		return nil
	}
	cells := t.scr.lines[y].cells
	end := len(cells)
	for end > 0 && cells[end-1].r == 0 && cells[end-1].bg == 0 && cells[end-1].attr&^attrACS == 0 && cells[end-1].flags == 0 {
		end--
	}
	var out []Span
	text := make([]byte, 0, 2*len(cells))
	var cur cell
	cols := 0
	flush := func() {
		if cols > 0 {
			out = append(out, Span{Text: string(text), Cols: cols, Style: styleOf(cur)})
		}
		text, cols = text[:0], 0 // string(text) copied the bytes: the buffer is free again
	}
	for x := 0; x < end; x++ {
		c := cells[x]
		if c.flags&cellCont != 0 {
			cols++ // the second half of a wide character drawn by the span already
			continue
		}
		if cols > 0 && (c.fg != cur.fg || c.bg != cur.bg || c.attr&^attrACS != cur.attr&^attrACS) {
			flush()
		}
		cur = c
		switch {
		case c.attr&attrACS != 0 && c.r >= 0x5f && c.r <= 0x7e:
			text = utf8.AppendRune(text, decGraphics[c.r-0x5f])
		default:
			text = t.appendCellText(text, c)
		}
		cols++
	}
	flush()
	return out
}

// decGraphics maps DEC special graphics (ESC ( 0), 0x5f to 0x7e, to Unicode.
var decGraphics = [...]rune{
	' ', '◆', '▒', '␉', '␌', '␍', '␊', '°', '±', '␤', '␋', '┘', '┐', '┌', '└', '┼',
	'⎺', '⎻', '─', '⎼', '⎽', '├', '┤', '┴', '┬', '│', '≤', '≥', 'π', '≠', '£', '·',
}

// CursorKeys reports whether the program asked for application cursor keys
// (DECCKM): arrows then send ESC O A rather than ESC [ A.
func (t *Terminal) CursorKeys() bool { return t.modes&modeCursorKeys != 0 }

// BracketedPaste reports whether the program asked for pasted text to come
// between ESC [ 200 ~ and ESC [ 201 ~.
func (t *Terminal) BracketedPaste() bool { return t.modes&modePaste != 0 }

func styleOf(c cell) Style {
	return Style{
		FG: rgbOf(c.fg), BG: rgbOf(c.bg),
		Bold: c.attr&attrBold != 0, Dim: c.attr&attrDim != 0, Italic: c.attr&attrItalic != 0,
		Underline: c.attr&attrUnder != 0, Blink: c.attr&attrBlink != 0, Reverse: c.attr&attrReverse != 0,
		Hidden: c.attr&attrHidden != 0, Strike: c.attr&attrStrike != 0, Overline: c.attr&attrOverline != 0,
	}
}

// rgbOf turns a cell colour into 0xRRGGBB, -1 for the default.
func rgbOf(c color) int32 {
	v := int32(c &^ colorKind)
	switch c & colorKind {
	case colorRGB:
		return v
	case colorANSI, color256:
		return xterm256(int(v))
	}
	return -1
}

// ansi16 is xterm's default palette for colours 0-15.
var ansi16 = [16]int32{
	0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd, 0x00cdcd, 0xe5e5e5,
	0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00, 0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff,
}

// xterm256 is colour n of xterm's 256: the 16 above, a 6x6x6 cube, then
// 24 greys.
func xterm256(n int) int32 {
	switch {
	case n < 16:
		return ansi16[n&15]
	case n < 232:
		n -= 16
		level := func(i int) int32 {
			if i == 0 {
				return 0
			}
			return int32(55 + 40*i)
		}
		return level(n/36)<<16 | level(n/6%6)<<8 | level(n%6)
	default:
		g := int32(8 + 10*(n-232))
		return g<<16 | g<<8 | g
	}
}
