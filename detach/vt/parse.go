package vt

// Parser states, after the DEC/ANSI state machine (vt100.net/emu/dec_ansi_parser).
const (
	stGround    uint8 = iota
	stEsc             // after ESC
	stEscInter        // ESC and intermediates
	stCSI             // CSI parameters and intermediates
	stCSIIgnore       // malformed CSI: consume until the final byte
	stOSC             // OSC string
	stOSCEsc          // ESC inside an OSC string: ST or a new sequence
	stStr             // DCS, SOS, PM or APC string: ignored until ST
	stStrEsc          // ESC inside such a string
)

// Write parses p and updates the terminal. It never blocks and always returns len(p), nil.
func (t *Terminal) Write(p []byte) (int, error) {
	for i := 0; i < len(p); {
		if t.state == stGround && t.nutf8 == 0 {
			// Fast path: a run of printable ASCII.
			j := i
			for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f {
				j++
			}
			if j > i {
				t.printASCII(p[i:j])
				i = j
				continue
			}
		}
		t.step(p[i])
		i++
	}
	return len(p), nil
}

// step feeds one byte to the state machine.
func (t *Terminal) step(b byte) {
	// Bytes that act in every state but inside strings.
	if t.state != stOSC && t.state != stStr {
		switch {
		case b == 0x1b:
			t.abortUTF8()
			t.startSeq(stEsc, b)
			return
		case b == 0x18 || b == 0x1a: // CAN, SUB: abort the sequence
			t.abortUTF8()
			t.state = stGround
			return
		case b < 0x20:
			t.abortUTF8()
			t.hasLast = false
			t.execute(b)
			return
		}
	}
	switch t.state {
	case stGround:
		t.ground(b)
	case stEsc:
		t.keep(b)
		switch {
		case b >= 0x20 && b <= 0x2f:
			t.inter = b
			t.ninter = 1
			t.state = stEscInter
		case b == '[':
			t.nparams, t.sub, t.private, t.inter, t.ninter = 0, 0, 0, 0, 0
			t.params[0] = 0
			t.state = stCSI
		case b == ']':
			t.osc = t.osc[:0]
			t.state = stOSC
		case b == 'P' || b == 'X' || b == '^' || b == '_':
			t.state = stStr
		case b >= 0x30 && b < 0x7f:
			t.state = stGround
			t.hasLast = false
			t.escDispatch(b)
		default:
			t.state = stGround
		}
	case stEscInter:
		t.keep(b)
		switch {
		case b >= 0x20 && b <= 0x2f:
			t.ninter++
		case b >= 0x30 && b < 0x7f:
			t.state = stGround
			if t.ninter == 1 {
				t.escInterDispatch(t.inter, b)
			}
		default:
			t.state = stGround
		}
	case stCSI:
		t.keep(b)
		t.csiByte(b)
	case stCSIIgnore:
		t.keep(b)
		if b >= 0x40 && b < 0x7f {
			t.state = stGround
		}
	case stOSC:
		switch {
		case b == 0x07:
			t.oscDispatch()
			t.state = stGround
		case b == 0x1b:
			t.state = stOSCEsc
		case b == 0x18 || b == 0x1a:
			t.state = stGround
		case b < 0x20:
			// other C0 inside OSC are ignored
		default:
			if len(t.osc) < maxOSC {
				t.osc = append(t.osc, b)
			}
		}
	case stOSCEsc:
		t.oscDispatch() // ESC ends the string whether or not '\' follows
		t.state = stGround
		if b != '\\' {
			t.startSeq(stEsc, 0x1b)
			t.step(b)
		}
	case stStr:
		switch b {
		case 0x1b:
			t.state = stStrEsc
		case 0x18, 0x1a:
			t.state = stGround
		}
	case stStrEsc:
		t.state = stGround
		if b != '\\' {
			t.startSeq(stEsc, 0x1b)
			t.step(b)
		}
	}
}

// startSeq begins a sequence, remembering its raw bytes for a repaint's seam.
func (t *Terminal) startSeq(st uint8, b byte) {
	t.state = st
	t.raw[0] = b
	t.nraw = 1
}

// keep remembers a raw byte of the current sequence; a sequence too long to keep is ignored.
func (t *Terminal) keep(b byte) {
	if t.nraw < len(t.raw) {
		t.raw[t.nraw] = b
		t.nraw++
		return
	}
	if t.state == stCSI {
		t.state = stCSIIgnore
	}
}

// csiByte handles one byte of a CSI sequence's parameters, intermediates or final byte.
func (t *Terminal) csiByte(b byte) {
	switch {
	case b >= '0' && b <= '9':
		if t.ninter > 0 {
			t.state = stCSIIgnore
			return
		}
		if t.nparams == 0 {
			t.nparams = 1
		}
		if t.nparams <= maxParams {
			v := &t.params[t.nparams-1]
			*v = min(*v*10+int32(b-'0'), maxParam)
		}
	case b == ';' || b == ':':
		if t.ninter > 0 {
			t.state = stCSIIgnore
			return
		}
		if t.nparams == 0 {
			t.nparams = 1
		}
		if t.nparams < maxParams {
			t.params[t.nparams] = 0
			if b == ':' {
				t.sub |= 1 << t.nparams
			}
		}
		t.nparams++ // counts past maxParams so later digits are dropped
	case b >= '<' && b <= '?':
		if t.nparams > 0 || t.private != 0 || t.ninter > 0 {
			t.state = stCSIIgnore
			return
		}
		t.private = b
	case b >= 0x20 && b <= 0x2f:
		t.inter = b
		t.ninter++
	case b >= 0x40 && b < 0x7f:
		t.state = stGround
		t.nparams = min(t.nparams, maxParams)
		if t.ninter <= 1 {
			t.csiDispatch(b)
		}
		t.hasLast = false
	default:
		t.state = stCSIIgnore
	}
}

// param returns parameter i, or def when it is missing or 0.
func (t *Terminal) param(i int, def int) int {
	if i < t.nparams && t.params[i] != 0 {
		return int(t.params[i])
	}
	return def
}

// ground handles a byte in the ground state: UTF-8 decoding and printing.
func (t *Terminal) ground(b byte) {
	if t.nutf8 > 0 {
		if b&0xc0 == 0x80 {
			t.utf8[t.nutf8] = b
			t.nutf8++
			if t.nutf8 == t.utf8want {
				r := decodeUTF8(t.utf8[:t.nutf8])
				t.nutf8 = 0
				if r >= 0 {
					t.print(r)
				}
			}
			return
		}
		t.nutf8 = 0 // invalid UTF-8 is dropped, as tmux does; b starts something new

	}
	switch {
	case b < 0x80:
		if b == 0x7f {
			return // DEL is ignored
		}
		t.printASCII([]byte{b})
	case b >= 0xc2 && b <= 0xdf:
		t.utf8[0], t.nutf8, t.utf8want = b, 1, 2
	case b >= 0xe0 && b <= 0xef:
		t.utf8[0], t.nutf8, t.utf8want = b, 1, 3
	case b >= 0xf0 && b <= 0xf4:
		t.utf8[0], t.nutf8, t.utf8want = b, 1, 4
	}
}

// abortUTF8 drops an incomplete UTF-8 sequence cut by a control.
func (t *Terminal) abortUTF8() { t.nutf8 = 0 }

// decodeUTF8 decodes a complete sequence, or returns -1 for an overlong or out of range one.
func decodeUTF8(p []byte) rune {
	var r rune
	switch len(p) {
	case 2:
		r = rune(p[0]&0x1f)<<6 | rune(p[1]&0x3f)
		if r < 0x80 {
			return -1
		}
	case 3:
		r = rune(p[0]&0x0f)<<12 | rune(p[1]&0x3f)<<6 | rune(p[2]&0x3f)
		if r < 0x800 || (r >= 0xd800 && r <= 0xdfff) {
			return -1
		}
	case 4:
		r = rune(p[0]&0x07)<<18 | rune(p[1]&0x3f)<<12 | rune(p[2]&0x3f)<<6 | rune(p[3]&0x3f)
		if r < 0x10000 || r > 0x10ffff {
			return -1
		}
	}
	return r
}

// execute runs a C0 control.
func (t *Terminal) execute(b byte) {
	switch b {
	case 0x07: // BEL
	case 0x08: // BS
		t.backspace()
	case 0x09: // HT
		t.tab(1)
	case 0x0a, 0x0b, 0x0c: // LF, VT, FF
		t.linefeed()
	case 0x0d: // CR
		t.x = 0
		t.pending = false
	case 0x0e: // SO
		t.gl = 1
	case 0x0f: // SI
		t.gl = 0
	}
}

// escDispatch runs ESC followed by a final byte.
func (t *Terminal) escDispatch(b byte) {
	switch b {
	case 'D': // IND
		t.linefeed()
	case 'E': // NEL
		t.x = 0
		t.pending = false
		t.linefeed()
	case 'H': // HTS
		t.tabs[t.x] = true
	case 'M': // RI
		t.reverseIndex()
	case '7': // DECSC
		t.saveCursor()
	case '8': // DECRC
		t.restoreCursor()
	case '=': // DECKPAM
		t.modes |= modeKeypad
	case '>': // DECKPNM
		t.modes &^= modeKeypad
	case 'c': // RIS
		t.reset()
	}
}

// escInterDispatch runs ESC, one intermediate and a final byte.
func (t *Terminal) escInterDispatch(inter, b byte) {
	switch inter {
	case '(', ')': // designate G0 or G1
		cs := csASCII
		if b == '0' {
			cs = csGraphics
		}
		t.g[inter-'('] = cs
	case '#':
		if b == '8' {
			t.alignmentTest()
		}
	}
}

// oscDispatch runs a finished OSC string: only titles are kept.
func (t *Terminal) oscDispatch() {
	s := t.osc
	n := 0
	for len(s) > 0 && s[0] >= '0' && s[0] <= '9' && n < 1000 {
		n = n*10 + int(s[0]-'0')
		s = s[1:]
	}
	if len(s) == 0 || s[0] != ';' || (n != 0 && n != 2) {
		return
	}
	s = s[1:]
	if len(s) > maxTitle {
		s = s[:maxTitle]
	}
	t.title = string(s)
}

// csiDispatch runs a finished CSI sequence.
func (t *Terminal) csiDispatch(final byte) {
	if t.private == '?' {
		switch final {
		case 'h':
			t.setPrivateModes(true)
		case 'l':
			t.setPrivateModes(false)
		case 'J':
			t.eraseDisplay(t.param(0, 0))
		case 'K':
			t.eraseLine(t.param(0, 0))
		case 'n':
			if t.param(0, 0) == 6 { // DECXCPR
				t.reportCursor(true)
			}
		}
		return
	}
	if t.private == '>' {
		if final == 'c' && t.param(0, 0) == 0 { // DA2
			t.reply([]byte("\x1b[>1;10;0c"))
		}
		return
	}
	if t.private != 0 {
		return
	}
	if t.ninter == 1 {
		switch {
		case t.inter == ' ' && final == 'q': // DECSCUSR
			if s := t.param(0, 0); s <= 6 {
				t.style = s
			}
		case t.inter == '!' && final == 'p': // DECSTR
			t.softReset()
		}
		return
	}
	n := t.param(0, 1)
	switch final {
	case '@': // ICH
		t.insertCells(n)
	case 'A': // CUU
		t.cursorUp(n)
	case 'B', 'e': // CUD, VPR
		t.cursorDown(n)
	case 'C', 'a': // CUF, HPR
		t.moveTo(t.x+n, t.y)
	case 'D': // CUB, from past the last column in the pending wrap state as tmux does
		t.moveTo(t.cx()-n, t.y)
	case 'E': // CNL
		t.cursorDown(n)
		t.x = 0
	case 'F': // CPL
		t.cursorUp(n)
		t.x = 0
	case 'G', '`': // CHA, HPA
		t.moveTo(n-1, t.y)
	case 'H', 'f': // CUP, HVP
		t.cursorPosition(t.param(0, 1), t.param(1, 1))
	case 'I': // CHT
		t.tab(n)
	case 'J':
		t.eraseDisplay(t.param(0, 0))
	case 'K':
		t.eraseLine(t.param(0, 0))
	case 'L':
		t.insertLines(n)
	case 'M':
		t.deleteLines(n)
	case 'P':
		t.deleteCells(n)
	case 'S':
		t.scrollUp(t.top, t.bot, n, true)
	case 'T':
		t.scrollDown(t.top, t.bot, n)
	case 'X':
		t.eraseCells(n)
	case 'Z': // CBT
		t.backTab(n)
	case 'b': // REP
		t.repeat(n)
	case 'c': // DA1
		if t.param(0, 0) == 0 {
			t.reply([]byte("\x1b[?1;2c"))
		}
	case 'd': // VPA
		t.cursorPosition(n, t.x+1)
	case 'g': // TBC
		switch t.param(0, 0) {
		case 0:
			t.tabs[t.x] = false
		case 3:
			clear(t.tabs)
		}
	case 'h':
		t.setModes(true)
	case 'l':
		t.setModes(false)
	case 'm':
		t.sgr()
	case 'n':
		switch t.param(0, 0) {
		case 5:
			t.reply([]byte("\x1b[0n"))
		case 6:
			t.reportCursor(false)
		}
	case 'r': // DECSTBM
		top, bot := t.param(0, 1), t.param(1, t.rows)
		if bot > t.rows {
			bot = t.rows
		}
		if top < bot {
			t.top, t.bot = top-1, bot-1
			t.cursorPosition(1, 1)
		}
	case 's': // SCOSC
		if t.nparams == 0 {
			t.saveCursor()
		}
	case 'u': // SCORC
		if t.nparams == 0 {
			t.restoreCursor()
		}
	}
}

// reportCursor answers DSR 6 (or DECXCPR) with the cursor position, relative to the region in origin mode.
func (t *Terminal) reportCursor(dec bool) {
	y := t.y
	if t.modes&modeOrigin != 0 {
		y -= t.top
	}
	b := make([]byte, 0, 24)
	b = append(b, "\x1b["...)
	if dec {
		b = append(b, '?')
	}
	b = appendInt(b, y+1)
	b = append(b, ';')
	b = appendInt(b, t.x+1)
	b = append(b, 'R')
	t.reply(b)
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// setModes handles SM and RM.
func (t *Terminal) setModes(on bool) {
	for i := 0; i < t.nparams; i++ {
		if t.params[i] == 4 {
			t.setMode(modeInsert, on)
		}
	}
}

// setPrivateModes handles DECSET and DECRST.
func (t *Terminal) setPrivateModes(on bool) {
	for i := 0; i < t.nparams; i++ {
		switch p := t.params[i]; p {
		case 1:
			t.setMode(modeCursorKeys, on)
		case 3: // DECCOLM: the width does not change, but the screen is cleared as tmux does
			t.cursorPosition(1, 1)
			t.eraseDisplay(2)
		case 6:
			t.setMode(modeOrigin, on)
			t.cursorPosition(1, 1)
		case 7:
			t.setMode(modeWrap, on)
			if !on {
				t.pending = false
			}
		case 12:
			t.setMode(modeBlink, on)
		case 25:
			t.setMode(modeHidden, !on)
		case 9, 1000, 1002, 1003:
			t.mouse = 0
			if on {
				t.mouse = int(p)
			}
		case 1001:
			if !on {
				t.mouse = 0
			}
		case 1004:
			t.setMode(modeFocus, on)
		case 1005:
			t.setMode(modeMouseUTF8, on)
		case 1006:
			t.setMode(modeMouseSGR, on)
		case 1015:
			t.setMode(modeMouseURXVT, on)
		case 2004:
			t.setMode(modePaste, on)
		case 47, 1047:
			t.setAlt(on, false)
		case 1049:
			t.setAlt(on, true)
		}
	}
}

func (t *Terminal) setMode(m uint32, on bool) {
	if on {
		t.modes |= m
	} else {
		t.modes &^= m
	}
}

// sgr handles Select Graphic Rendition, with ':' sub-parameters for colours and underline styles.
func (t *Terminal) sgr() {
	if t.nparams == 0 {
		t.pen = cell{}
		return
	}
	for i := 0; i < t.nparams; i++ {
		// Gather p's sub-parameters (38:2::r:g:b, 4:3).
		j := i + 1
		for j < t.nparams && t.sub&(1<<j) != 0 {
			j++
		}
		if j > i+1 {
			t.sgrColon(t.params[i:j])
			i = j - 1
			continue
		}
		switch p := t.params[i]; {
		case p == 0:
			t.pen = cell{}
		case p == 1:
			t.pen.attr |= attrBold
		case p == 2:
			t.pen.attr |= attrDim
		case p == 3:
			t.pen.attr |= attrItalic
		case p == 4:
			t.pen.attr = t.pen.attr&^attrUnder | 1<<underShift
		case p == 5 || p == 6:
			t.pen.attr |= attrBlink
		case p == 7:
			t.pen.attr |= attrReverse
		case p == 8:
			t.pen.attr |= attrHidden
		case p == 9:
			t.pen.attr |= attrStrike
		case p == 21:
			t.pen.attr = t.pen.attr&^attrUnder | 2<<underShift
		case p == 22:
			t.pen.attr &^= attrBold | attrDim
		case p == 23:
			t.pen.attr &^= attrItalic
		case p == 24:
			t.pen.attr &^= attrUnder
		case p == 25:
			t.pen.attr &^= attrBlink
		case p == 27:
			t.pen.attr &^= attrReverse
		case p == 28:
			t.pen.attr &^= attrHidden
		case p == 29:
			t.pen.attr &^= attrStrike
		case p >= 30 && p <= 37:
			t.pen.fg = colorANSI | color(p-30)
		case p == 39:
			t.pen.fg = 0
		case p >= 40 && p <= 47:
			t.pen.bg = colorANSI | color(p-40)
		case p == 49:
			t.pen.bg = 0
		case p == 53:
			t.pen.attr |= attrOverline
		case p == 55:
			t.pen.attr &^= attrOverline
		case p >= 90 && p <= 97:
			t.pen.fg = colorANSI | color(p-90+8)
		case p >= 100 && p <= 107:
			t.pen.bg = colorANSI | color(p-100+8)
		case p == 38 || p == 48 || p == 58:
			// 38;5;n and 38;2;r;g;b with ';'
			c, used, ok := extColor(t.params[i+1 : t.nparams])
			i += used
			if ok {
				t.setExtColor(p, c)
			}
		}
	}
}

// extColor reads the colour after 38/48/58 from ps (5;n or 2;r;g;b) and how many parameters it used.
func extColor(ps []int32) (c color, used int, ok bool) {
	if len(ps) == 0 {
		return 0, 0, false
	}
	switch ps[0] {
	case 5:
		if len(ps) < 2 {
			return 0, 1, false
		}
		if ps[1] > 255 {
			return 0, 2, true // out of range: default, as tmux does
		}
		return color256 | color(ps[1]), 2, true
	case 2:
		if len(ps) < 4 {
			return 0, len(ps), false
		}
		if ps[1] > 255 || ps[2] > 255 || ps[3] > 255 {
			return 0, 1, false
		}
		return colorRGB | color(ps[1])<<16 | color(ps[2])<<8 | color(ps[3]), 4, true
	}
	return 0, 1, false
}

func (t *Terminal) setExtColor(p int32, c color) {
	switch p {
	case 38:
		t.pen.fg = c
	case 48:
		t.pen.bg = c
	}
}

// sgrColon handles one SGR parameter with ':' sub-parameters.
func (t *Terminal) sgrColon(ps []int32) {
	switch ps[0] {
	case 4:
		if len(ps) == 2 && ps[1] <= 5 {
			t.pen.attr = t.pen.attr&^attrUnder | attr(ps[1])<<underShift
		}
	case 38, 48, 58:
		rest := ps[1:]
		var buf [4]int32
		if len(rest) >= 5 && rest[0] == 2 { // 38:2:colourspace:r:g:b
			buf[0] = 2
			copy(buf[1:], rest[2:5])
			rest = buf[:]
		}
		if c, _, ok := extColor(rest); ok {
			t.setExtColor(ps[0], c)
		}
	}
}
