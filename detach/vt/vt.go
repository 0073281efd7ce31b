// Package vt is a small terminal emulator that keeps a terminal's screen state and repaints it onto another terminal.
package vt

// The model follows tmux where terminals disagree, because tmux is the oracle of the tests and the
// terminal most often found on the attaching side:
//   - the alternate screen (47, 1047, 1049) is cleared on entry, and 1049 saves and restores the cursor
//     and pen in a slot of its own, not the DECSC one;
//   - ED 2 on the primary screen scrolls the used lines into the scrollback before clearing;
//   - text drawn with DEC special graphics is kept as ASCII with a charset attribute;
//   - the pending wrap after the last column is a flag, cleared by every cursor movement; erasing, ICH,
//     DCH and CUB in that state count from past the last column, as tmux does;
//   - rows scrolled out of any scroll region of the primary screen go to the scrollback, and ED 0 from
//     the home position clears like ED 2; DECCOLM clears the screen without changing the width;
//   - invalid UTF-8 is dropped, REP repeats only an ASCII character printed right before it, and there
//     is no CHT (CSI I) in tmux, though we have it.
//
// Resize keeps it simple: no reflow. Columns are cut or padded with blanks; when rows are removed, blank
// rows under the cursor go first and then top rows go to the scrollback; added rows are blank at the bottom.

const (
	maxDim       = 4096 // largest number of columns or rows
	maxParams    = 16   // CSI parameters kept; later ones are dropped
	maxParam     = 65535
	maxOSC       = 4096 // bytes of an OSC string kept
	maxTitle     = 1024 // bytes of a title kept
	maxReplies   = 4096 // bytes of query replies kept until taken
	maxGrapheme  = 32   // bytes of one cell's grapheme (base and combining marks)
	maxSeq       = 64   // raw bytes of an escape sequence kept for the seam of a repaint
	defScrollMax = 1 << 20
)

// maxCells caps columns times rows. Grids are allocated whole at 16 bytes a cell, twice with the alternate
// screen, so 4096x4096 would cost 512 MiB in every session master, and flipping sizes made masters of a
// gigabyte. A million cells (32 MiB for both screens) still holds any real window: an 8K display at a
// 5-pixel font is about 1536x432 (663,552 cells). tmux allows 10000 a side but allocates rows only as
// they are used. Past the cap the rows are cut, not the columns, so lines keep the width the program lays
// them out at.
const maxCells = 1 << 20

// color is a cell colour: 0 is the default, otherwise the kind in bits 24-25 and the value below.
type color uint32

const (
	colorANSI color = 1 << 24 // value 0-15: SGR 30-37 then 90-97 (and 40-47, 100-107)
	color256  color = 2 << 24 // value 0-255: SGR 38;5;n
	colorRGB  color = 3 << 24 // value 0xRRGGBB: SGR 38;2;r;g;b
	colorKind color = 3 << 24
)

// attr holds SGR attributes and the charset flag of a cell.
type attr uint16

const (
	attrBold attr = 1 << iota
	attrDim
	attrItalic
	attrBlink
	attrReverse
	attrHidden
	attrStrike
	attrOverline
	attrACS // drawn with the DEC special graphics charset; the rune is the ASCII byte

	underShift      = 12
	attrUnder  attr = 7 << underShift // underline style: 1 single, 2 double, 3 curly, 4 dotted, 5 dashed
)

// cell flags.
const (
	cellWide     uint8 = 1 << iota // first half of a two-column character
	cellCont                       // second half of a two-column character: holds nothing
	cellGrapheme                   // r indexes Terminal.graphemes (a base rune with combining marks)
)

// cell is one screen position, 16 bytes.
type cell struct {
	r     rune // 0 is a blank, drawn as a space
	fg    color
	bg    color
	attr  attr
	flags uint8
	_     uint8
}

// line is one row of cells; wrapped says the text went on to the next row by autowrap.
type line struct {
	cells   []cell
	wrapped bool
}

// screen is a grid of rows; scrolling moves row pointers, not cells.
type screen struct {
	lines []*line
}

func newScreen(cols, rows int) *screen {
	s := &screen{lines: make([]*line, rows)}
	backing := make([]cell, cols*rows)
	ls := make([]line, rows)
	for y := range s.lines {
		ls[y].cells = backing[y*cols : (y+1)*cols : (y+1)*cols]
		s.lines[y] = &ls[y]
	}
	return s
}

// mode bits.
const (
	modeInsert     uint32 = 1 << iota // IRM
	modeOrigin                        // DECOM
	modeWrap                          // DECAWM
	modeCursorKeys                    // DECCKM
	modeKeypad                        // DECKPAM
	modeHidden                        // cursor hidden (DECTCEM reset)
	modeBlink                         // cursor blinking (12)
	modeMouseUTF8                     // 1005
	modeMouseSGR                      // 1006
	modeMouseURXVT                    // 1015
	modeFocus                         // 1004
	modePaste                         // bracketed paste, 2004
)

// charset designations.
const (
	csASCII    uint8 = iota
	csGraphics       // DEC special graphics (ESC ( 0)
)

// savedCursor is what DECSC saves and DECRC restores.
type savedCursor struct {
	x, y   int
	pen    cell
	origin bool
	g      [2]uint8
	gl     uint8
}

// Terminal is the state of one terminal: screens, cursor, modes and scrollback. It is not safe for
// concurrent use.
type Terminal struct {
	cols, rows int
	prim, alt  *screen
	scr        *screen // prim or alt
	altOn      bool

	x, y    int
	pending bool // pending wrap: the last column was written and the next character wraps
	pen     cell // current colours and attributes (r and flags unused)
	modes   uint32
	mouse   int // 0, 9, 1000, 1002 or 1003
	style   int // DECSCUSR cursor style, 0-6
	top     int // scroll region, inclusive
	bot     int
	tabs    []bool
	g       [2]uint8 // G0 and G1
	gl      uint8    // 0: G0 is in use (SI), 1: G1 (SO)
	saved   savedCursor
	altSave struct { // 1049's own slot, as tmux keeps it
		x, y  int
		pen   cell
		valid bool
	}
	title   string
	last    cell // last printed graphic character, for REP
	hasLast bool

	graphemes   []string
	graphemeIdx map[string]int32

	sb     scrollback
	sbLine []byte // scratch for serializing a line into the scrollback

	replies []byte
	onReply func([]byte)

	// parser
	state    uint8
	raw      [maxSeq]byte // bytes of the escape sequence being read, replayed at a repaint's seam
	nraw     int
	params   [maxParams]int32
	nparams  int
	sub      uint32 // bit i: parameter i followed a ':'
	private  byte   // '?', '>', '<' or '=' right after CSI
	inter    byte   // one intermediate byte
	ninter   int
	osc      []byte
	utf8     [4]byte
	nutf8    int
	utf8want int
}

// Option configures a Terminal made by New.
type Option func(*Terminal)

// WithScrollback sets the byte budget of the primary screen's scrollback (0 keeps none); the default is 1 MiB.
// Lines are kept serialized, so a budget holds several thousand typical lines.
func WithScrollback(bytes int) Option {
	return func(t *Terminal) { t.sb.max = max(bytes, 0) }
}

// WithReplyFunc makes the terminal call f with each reply to a query (DA1, DA2, DSR) instead of
// buffering it for TakeReplies. f is called from Write and must not block; p is only valid during the call.
func WithReplyFunc(f func(p []byte)) Option {
	return func(t *Terminal) { t.onReply = f }
}

// New returns a terminal of cols columns and rows rows (clamped as Resize does) in its power-on state.
func New(cols, rows int, opts ...Option) *Terminal {
	t := &Terminal{sb: scrollback{max: defScrollMax}}
	for _, o := range opts {
		o(t)
	}
	t.cols, t.rows = clampSize(cols, rows)
	t.prim = newScreen(t.cols, t.rows)
	t.scr = t.prim
	t.tabs = make([]bool, t.cols)
	t.resetState()
	return t
}

// clampSize brings each side to 1..maxDim, then the rows down to fit maxCells.
func clampSize(cols, rows int) (int, int) {
	cols, rows = clampDim(cols), clampDim(rows)
	return cols, min(rows, maxCells/cols)
}

func clampDim(n int) int { return min(max(n, 1), maxDim) }

// resetState sets modes, region, tabs, charsets, pen and saved cursor to their power-on values.
func (t *Terminal) resetState() {
	t.modes = modeWrap
	t.mouse = 0
	t.style = 0
	t.top, t.bot = 0, t.rows-1
	t.resetTabs()
	t.g = [2]uint8{}
	t.gl = 0
	t.pen = cell{}
	t.saved = savedCursor{}
	t.hasLast = false
}

func (t *Terminal) resetTabs() {
	for i := range t.tabs {
		t.tabs[i] = i > 0 && i%8 == 0
	}
}

// Size returns the number of columns and rows.
func (t *Terminal) Size() (cols, rows int) { return t.cols, t.rows }

// Cursor returns the cursor's column and row (from 0) and whether it is visible.
func (t *Terminal) Cursor() (x, y int, visible bool) { return t.x, t.y, t.modes&modeHidden == 0 }

// Title returns the title set by OSC 0 or OSC 2.
func (t *Terminal) Title() string { return t.title }

// AltScreen reports whether the alternate screen is shown.
func (t *Terminal) AltScreen() bool { return t.altOn }

// ScrollbackLines returns how many lines the scrollback holds.
func (t *Terminal) ScrollbackLines() int { return t.sb.n }

// Line returns the text of row y of the shown screen, without trailing blanks (empty if y is out of range).
func (t *Terminal) Line(y int) string {
	if y < 0 || y >= t.rows {
		return ""
	}
	var b []byte
	for _, c := range t.scr.lines[y].cells {
		if c.flags&cellCont != 0 {
			continue
		}
		b = t.appendCellText(b, c)
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// TakeReplies returns the replies to queries made since the last call (what the terminal would have
// sent back to the program) and empties the buffer. The buffer keeps at most 4 KiB; more is dropped.
func (t *Terminal) TakeReplies() []byte {
	r := t.replies
	t.replies = nil
	return r
}

func (t *Terminal) reply(p []byte) {
	if t.onReply != nil {
		t.onReply(p)
		return
	}
	if len(t.replies)+len(p) <= maxReplies {
		t.replies = append(t.replies, p...)
	}
}

// appendCellText appends what c shows: its rune or grapheme, a space for a blank.
func (t *Terminal) appendCellText(b []byte, c cell) []byte {
	switch {
	case c.flags&cellGrapheme != 0:
		if int(c.r) < len(t.graphemes) {
			return append(b, t.graphemes[c.r]...)
		}
		return append(b, ' ')
	case c.r == 0:
		return append(b, ' ')
	case c.r < 0x80:
		return append(b, byte(c.r))
	}
	return appendRune(b, c.r)
}

func appendRune(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xc0|byte(r>>6), 0x80|byte(r)&0x3f)
	case r < 0x10000:
		return append(b, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	}
	return append(b, 0xf0|byte(r>>18), 0x80|byte(r>>12)&0x3f, 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
}

// grapheme returns the pool index of s, adding it if needed. The pool is compacted when it grows past
// what the screens can hold, so it stays bounded.
func (t *Terminal) grapheme(s string) int32 {
	if i, ok := t.graphemeIdx[s]; ok {
		return i
	}
	if len(t.graphemes) >= max(1024, 2*t.cols*t.rows) {
		t.compactGraphemes()
	}
	if t.graphemeIdx == nil {
		t.graphemeIdx = make(map[string]int32)
	}
	i := int32(len(t.graphemes))
	t.graphemes = append(t.graphemes, s)
	t.graphemeIdx[s] = i
	return i
}

// compactGraphemes drops the pool entries no cell refers to any more.
func (t *Terminal) compactGraphemes() {
	old := t.graphemes
	t.graphemes = nil
	t.graphemeIdx = make(map[string]int32)
	for _, s := range []*screen{t.prim, t.alt} {
		if s == nil {
			continue
		}
		for _, l := range s.lines {
			for i := range l.cells {
				c := &l.cells[i]
				if c.flags&cellGrapheme == 0 {
					continue
				}
				str := ""
				if int(c.r) < len(old) {
					str = old[c.r]
				}
				j, ok := t.graphemeIdx[str]
				if !ok {
					j = int32(len(t.graphemes))
					t.graphemes = append(t.graphemes, str)
					t.graphemeIdx[str] = j
				}
				c.r = j
			}
		}
	}
}
