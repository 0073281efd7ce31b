package detach

import (
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
)

// The few JSON documents a master writes (its session record, its status,
// a recording's header and events) are built by hand: encoding/json's
// reflection would add 0.4 MB to the keeper-master binary, whose pages
// count in every idle master's RSS. Readers use encoding/json.

// jsonObject appends the fields of one JSON object to b.
type jsonObject struct{ b []byte }

func (o *jsonObject) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

func (o *jsonObject) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *jsonObject) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// time writes t as encoding/json does (RFC 3339 with nanoseconds).
func (o *jsonObject) time(k string, t time.Time) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = t.AppendFormat(o.b, time.RFC3339Nano)
	o.b = append(o.b, '"')
}

// raw writes v, a JSON value already encoded.
func (o *jsonObject) raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}

// bytes closes the object and returns it.
func (o *jsonObject) bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

// appendJSONString appends s as a JSON string. As with encoding/json,
// invalid UTF-8 becomes U+FFFD, byte by byte, and U+2028 and U+2029 are
// escaped (JavaScript reads them as line ends).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends s escaped as the inside of a JSON string (see
// appendJSONString).
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		// A run that needs no escaping goes in whole: a recording's
		// output is mostly such runs. A terminal's are short (between
		// escapes and line ends), a flood's long.
		j := i
		for j < min(len(s), i+16) && plain(s[j]) {
			j++
		}
		if j == i+16 {
			j += plainRun(s[j:])
		}
		if j > i {
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// plain says whether c goes into a JSON string as it is: printable ASCII
// other than '"' and '\\'.
func plain(c byte) bool {
	return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\'
}

// plainRun returns how many bytes at the start of s are plain. It looks
// at eight bytes at a time in one word, which makes a long run cost little
// more than its copy.
func plainRun[T string | []byte](s T) int {
	rest := s
	for len(rest) >= 8 {
		if m := escapes(word(rest)); m != 0 {
			return len(s) - len(rest) + bits.TrailingZeros64(m)/8
		}
		rest = rest[8:]
		for len(rest) >= 32 && escapes(word(rest))|escapes(word(rest[8:]))|escapes(word(rest[16:]))|escapes(word(rest[24:])) == 0 {
			rest = rest[32:] // a long run: four words a turn
		}
	}
	i := len(s) - len(rest)
	for i < len(s) && plain(s[i]) {
		i++
	}
	return i
}

// word reads the first eight bytes of s as a little-endian word.
func word[T string | []byte](s T) uint64 {
	_ = s[7] // one bounds check; the compiler then makes this one load
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// escapes has the high bit of each byte of w that cannot go into a JSON
// string as it is (above 0x7f, below 0x20, '"' or '\\') set, and maybe of
// bytes after the first such: it tests the eight at once with the "has a
// byte less than n" and "has a zero byte" tricks of Bit Twiddling Hacks,
// exact up to the first byte they find (a borrow only runs upwards, from a
// byte below 0x20 or equal to the one looked for, itself found). A byte
// above 0x7f has its own high bit set, so the tricks' "and not w" is
// left out.
func escapes(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^('"'*ones), w^('\\'*ones) // a zero byte where w has one
	return (w | (w - 0x20*ones) | (quote - ones) | (backslash - ones)) & highs
}
