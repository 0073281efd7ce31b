package vt

// Resize changes the size to cols columns and rows rows, each clamped to 1..4096 and then the rows cut
// so the screen has at most 1,048,576 cells (see maxCells). There is no reflow: rows are cut or padded
// with blanks on the right; when rows are removed, blank rows below the cursor go first and then rows at
// the top go to the scrollback (on the primary screen); added rows are blank at the bottom. The scroll
// region is reset and the cursor kept inside the screen. Grids are allocated anew at the new size, and a
// shrink also gives back the grapheme pool and scratch space the larger screen needed.
func (t *Terminal) Resize(cols, rows int) {
	cols, rows = clampSize(cols, rows)
	if cols == t.cols && rows == t.rows {
		return
	}
	shrink := cols < t.cols || rows < t.rows
	t.resizeScreen(t.prim, cols, rows, !t.altOn)
	if t.alt != nil {
		y := t.y
		t.resizeScreen(t.alt, cols, rows, t.altOn)
		if !t.altOn {
			t.y = y
		}
	}
	t.altSave.x, t.altSave.y = min(t.altSave.x, cols-1), min(t.altSave.y, rows-1)
	t.saved.x, t.saved.y = min(t.saved.x, cols-1), min(t.saved.y, rows-1)

	tabs := make([]bool, cols)
	copy(tabs, t.tabs)
	for i := len(t.tabs); i < cols; i++ {
		tabs[i] = i%8 == 0
	}
	t.tabs = tabs
	t.cols, t.rows = cols, rows
	t.top, t.bot = 0, rows-1
	t.x = min(t.x, cols-1)
	t.pending = false
	if shrink {
		t.sbLine = nil // sized by the widest line pushed; it grows again as needed
		if len(t.graphemes) > 0 {
			t.compactGraphemes()
		}
	}
}

// resizeScreen resizes s; cur says s is shown, so the cursor row follows its rows.
func (t *Terminal) resizeScreen(s *screen, cols, rows int, cur bool) {
	ns := newScreen(cols, rows)
	old := s.lines
	// Rows to drop: blank ones at the bottom below the cursor first, then from the top.
	drop := len(old) - rows
	if drop > 0 {
		for drop > 0 && len(old)-1 > t.y && t.lineEmpty(old[len(old)-1]) {
			old = old[:len(old)-1]
			drop--
		}
		for i := 0; i < drop; i++ {
			if cur && s == t.prim {
				t.pushScrollback(old[i])
			}
		}
		old = old[drop:]
		if cur {
			t.y = max(t.y-drop, 0)
		}
	}
	for y, l := range old {
		if y >= rows {
			break
		}
		nl := ns.lines[y]
		copy(nl.cells, l.cells)
		nl.wrapped = l.wrapped
		if cols < len(l.cells) {
			nl.wrapped = false
			t.fixLineEnd(nl.cells)
		}
	}
	s.lines = ns.lines
	if cur {
		t.y = min(t.y, rows-1)
	}
}
