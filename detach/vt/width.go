package vt

//go:generate go run ./internal/genwidth

// interval is an inclusive range of runes.
type interval struct{ first, last rune }

// runeWidth returns how many cells r takes: 0 for combining marks and other zero-width runes (which join
// the previous cell), 1 or 2. It agrees with go-runewidth (non East Asian, strict emoji neutral) without
// building go-runewidth's 2.2 MB lookup table.
func runeWidth(r rune) int {
	switch {
	case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0xad:
		return 0
	case r < 0x300:
		return 1
	case inTable(r, width0Table):
		return 0
	case inTable(r, width2Table):
		return 2
	}
	return 1
}

func inTable(r rune, t []interval) bool {
	lo, hi := 0, len(t)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch {
		case r < t[m].first:
			hi = m
		case r > t[m].last:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}
