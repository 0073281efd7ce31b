package vt

// scrollback is a ring of serialized lines under a byte budget: each record is a uvarint length then the
// line as repaint bytes (SGR and text) after one flag byte. The ring grows up to the budget, then the oldest
// lines make room, so a steady stream of output allocates nothing.
type scrollback struct {
	max   int    // byte budget
	buf   []byte // ring storage, len(buf) <= max
	start int    // offset of the oldest record
	used  int    // bytes in use
	n     int    // records
}

// sbWrapped is the line flag byte of a line that wraps into the next.
const sbWrapped = 1

func (s *scrollback) clear() { s.start, s.used, s.n = 0, 0, 0 }

// push appends one record, dropping the oldest ones as needed. A record larger than the budget is dropped.
func (s *scrollback) push(rec []byte) {
	var hdr [10]byte
	h := putUvarint(hdr[:], uint64(len(rec)))
	need := h + len(rec)
	if need > s.max {
		return
	}
	for s.used+need > len(s.buf) {
		if len(s.buf) < s.max {
			s.grow(need)
			continue
		}
		s.dropOldest()
	}
	s.write(hdr[:h])
	s.write(rec)
	s.n++
}

// grow doubles the storage (at most to the budget), laying the records out from offset 0.
func (s *scrollback) grow(need int) {
	size := min(max(2*len(s.buf), 4096, s.used+need), s.max)
	nb := make([]byte, size)
	s.copyOut(nb, 0, s.used)
	s.buf, s.start = nb, 0
}

func (s *scrollback) dropOldest() {
	l, h := s.uvarintAt(0)
	s.start = (s.start + h + int(l)) % len(s.buf)
	s.used -= h + int(l)
	s.n--
	if s.n == 0 {
		s.start, s.used = 0, 0
	}
}

// write appends p at the end of the used part, wrapping around.
func (s *scrollback) write(p []byte) {
	end := (s.start + s.used) % len(s.buf)
	n := copy(s.buf[end:], p)
	copy(s.buf, p[n:])
	s.used += len(p)
}

// copyOut copies n bytes from logical offset off into dst.
func (s *scrollback) copyOut(dst []byte, off, n int) {
	if n == 0 {
		return
	}
	from := (s.start + off) % len(s.buf)
	k := copy(dst[:n], s.buf[from:])
	copy(dst[k:n], s.buf)
}

func (s *scrollback) byteAt(off int) byte { return s.buf[(s.start+off)%len(s.buf)] }

// uvarintAt decodes the length at logical offset off and returns it with its size.
func (s *scrollback) uvarintAt(off int) (uint64, int) {
	var v uint64
	for i := 0; i < 10; i++ {
		b := s.byteAt(off + i)
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, i + 1
		}
	}
	return v, 10
}

// each calls f with the last n records (all if n < 0), oldest first. rec is only valid during the call.
func (s *scrollback) each(n int, scratch []byte, f func(rec []byte)) []byte {
	skip := 0
	if n >= 0 && n < s.n {
		skip = s.n - n
	}
	off := 0
	for i := 0; i < s.n; i++ {
		l, h := s.uvarintAt(off)
		if i >= skip {
			scratch = append(scratch[:0], make([]byte, l)...)[:l]
			s.copyOut(scratch, off+h, int(l))
			f(scratch)
		}
		off += h + int(l)
	}
	return scratch
}

func putUvarint(b []byte, v uint64) int {
	i := 0
	for v >= 0x80 {
		b[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	b[i] = byte(v)
	return i + 1
}

// pushScrollback serializes l into the scrollback.
func (t *Terminal) pushScrollback(l *line) {
	if t.sb.max == 0 {
		return
	}
	var flag byte
	if l.wrapped {
		flag = sbWrapped
	}
	b := append(t.sbLine[:0], flag)
	w := sgrWriter{}
	b = w.line(b, t, l.cells, 0)
	b = w.reset(b)
	t.sbLine = b
	t.push(b)
}

func (t *Terminal) push(rec []byte) { t.sb.push(rec) }
