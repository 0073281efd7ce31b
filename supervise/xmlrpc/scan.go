package xmlrpc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file is the decoder's XML scanner: a hand-written tokenizer for the
// part of XML that XML-RPC documents use. It accepts and rejects what
// encoding/xml's strict decoder does (see FuzzDecodeDifferential), except for
// the choices documented there, without allocating per token.
//
// It returns start tags (attributes are checked, then dropped), end tags and
// character data (text, references and CDATA sections). Comments, processing
// instructions and directives such as <!DOCTYPE> are checked and skipped. The
// <?xml?> declaration may name utf-8, us-ascii or latin-1 as the encoding.

// tokKind is the kind of a token the scanner returns.
type tokKind uint8

const (
	tokEOF   tokKind = iota // end of input, outside any element
	tokStart                // start tag; local holds its local name
	tokEnd                  // end tag, or the end of an empty-element tag
	tokText                 // character data; see appendText
)

// span is a range of the scanner's buffer.
type span struct{ start, end int }

// openElem is an open element: its raw name and where its local name starts.
type openElem struct {
	name  span
	local int
}

// errNameChars is wrapped by the error for a name that holds a non-ASCII
// character XML 1.0 (fifth edition) does not allow in names.
var errNameChars = errors.New("character not allowed in a name")

// errCharsetTwice is wrapped by the error for a second latin-1 encoding
// declaration.
var errCharsetTwice = errors.New("second latin-1 encoding declaration")

// scanner splits an XML document into tokens. Its zero value plus buf is
// ready to use.
type scanner struct {
	buf []byte
	pos int

	// open holds the raw names of the open elements, innermost last, so
	// that end tags can be matched; openBuf keeps shallow documents from
	// allocating.
	open    []openElem
	openBuf [24]openElem

	// closeNext is set after an empty-element tag: the next token is its end.
	closeNext bool
	// latin1 is set once a latin-1 encoding declaration converted the rest
	// of buf to UTF-8.
	latin1 bool

	// localSpan is the local name (after any prefix) of the last start or
	// end tag. rawSpan is the last character data as it appears in buf;
	// cdata tells whether it was a CDATA section and plain whether it can be
	// used as is (no references and no carriage returns). They are spans
	// rather than slices to spare the garbage collector's write barriers.
	localSpan span
	rawSpan   span
	cdata     bool
	plain     bool
}

// local returns the local name of the last start or end tag.
func (s *scanner) local() []byte { return s.buf[s.localSpan.start:s.localSpan.end] }

// raw returns the last character data as it appears in the input.
func (s *scanner) raw() []byte { return s.buf[s.rawSpan.start:s.rawSpan.end] }

// syntaxError returns an error wrapping ErrMalformed that places msg at byte
// offset at of the input.
func (s *scanner) syntaxError(at int, msg string) error {
	line := 1 + bytes.Count(s.buf[:min(at, len(s.buf))], []byte{'\n'})
	return malformed("xml syntax error on line %d: %s", line, msg)
}

// eof is the error for input that ends inside markup.
func (s *scanner) eof() error {
	return s.syntaxError(len(s.buf), "unexpected end of input")
}

// next returns the next start tag, end tag or character data.
func (s *scanner) next() (tokKind, error) {
	if s.closeNext {
		s.closeNext = false
		return tokEnd, nil
	}
	for {
		if s.pos >= len(s.buf) {
			if len(s.open) > 0 {
				return tokEOF, s.eof()
			}
			return tokEOF, nil
		}
		if s.buf[s.pos] != '<' {
			return tokText, s.text()
		}
		if s.pos+1 >= len(s.buf) {
			return tokEOF, s.eof()
		}
		var err error
		switch s.buf[s.pos+1] {
		case '/':
			return tokEnd, s.endTag()
		case '?':
			err = s.procInst()
		case '!':
			var cdata bool
			if cdata, err = s.bang(); err == nil && cdata {
				return tokText, nil
			}
		default:
			return tokStart, s.startTag()
		}
		if err != nil {
			return tokEOF, err
		}
	}
}

// appendText appends the last character data, decoded, to dst.
func (s *scanner) appendText(dst []byte) []byte {
	if s.plain {
		return append(dst, s.raw()...)
	}
	return appendChars(dst, s.raw(), !s.cdata)
}

// text reads character data up to the next '<' or the end of input.
func (s *scanner) text() error {
	start := s.pos
	n, plain, bad, msg := checkChars(s.buf[start:], modeText)
	if bad >= 0 {
		return s.syntaxError(start+bad, msg)
	}
	s.pos = start + n
	s.rawSpan, s.cdata, s.plain = span{start, s.pos}, false, plain
	return nil
}

// bang reads markup starting "<!": a comment, a CDATA section (reporting
// true) or a directive.
func (s *scanner) bang() (cdata bool, err error) {
	start := s.pos
	i := start + 2
	if i >= len(s.buf) {
		return false, s.eof()
	}
	switch s.buf[i] {
	case '-':
		if i+1 >= len(s.buf) {
			return false, s.eof()
		}
		if s.buf[i+1] != '-' {
			return false, s.syntaxError(i, "invalid sequence <!- not part of <!--")
		}
		body := i + 2
		j := bytes.Index(s.buf[body:], []byte("--"))
		if j < 0 || body+j+2 >= len(s.buf) {
			return false, s.eof()
		}
		if s.buf[body+j+2] != '>' {
			return false, s.syntaxError(body+j, `"--" inside a comment`)
		}
		s.pos = body + j + 3
		return false, nil
	case '[':
		const open = "[CDATA["
		for k := 1; k < len(open); k++ {
			if i+k >= len(s.buf) {
				return false, s.eof()
			}
			if s.buf[i+k] != open[k] {
				return false, s.syntaxError(i, "invalid <![ sequence")
			}
		}
		body := i + len(open)
		j := bytes.Index(s.buf[body:], []byte("]]>"))
		if j < 0 {
			return false, s.eof()
		}
		s.rawSpan, s.cdata = span{body, body + j}, true
		s.pos = body + j + 3
		_, plain, bad, msg := checkChars(s.buf[body:body+j], modeCDATA)
		if bad >= 0 {
			return false, s.syntaxError(body+bad, msg)
		}
		s.plain = plain
		return true, nil
	}
	return false, s.directive()
}

// directive skips a directive such as <!DOCTYPE ...>: up to the first '>'
// outside quotes, nested angle brackets and comments. Like encoding/xml it
// takes the byte after "<!" as part of the directive whatever it is, and
// does not look inside it further.
func (s *scanner) directive() error {
	i := s.pos + 3 // past "<!" and the byte after it
	var quote byte
	depth := 0
	for {
		if i >= len(s.buf) {
			return s.eof()
		}
		c := s.buf[i]
		i++
		if quote == 0 && c == '>' && depth == 0 {
			s.pos = i
			return nil
		}
	again:
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			depth--
		case c == '<':
			// "<!--" starts a comment, which ends at the first "-->";
			// any other '<' nests, and the byte that showed it is not a
			// comment is looked at again.
			const open = "!--"
			for k := 0; k < len(open); k++ {
				if i >= len(s.buf) {
					return s.eof()
				}
				c = s.buf[i]
				i++
				if c != open[k] {
					depth++
					goto again
				}
			}
			j := bytes.Index(s.buf[i:], []byte("-->"))
			if j < 0 {
				return s.eof()
			}
			i += j + 3
		}
	}
}

// procInst skips a processing instruction, acting on the encoding named by
// an <?xml?> declaration.
func (s *scanner) procInst() error {
	start := s.pos
	i, target, _, err := s.name(start + 2)
	if err != nil {
		return err
	}
	if target.start == target.end {
		return s.syntaxError(i, "expected target name after <?")
	}
	i = s.space(i)
	j := bytes.Index(s.buf[i:], []byte("?>"))
	if j < 0 {
		return s.eof()
	}
	s.pos = i + j + 2
	if string(s.buf[target.start:target.end]) != "xml" {
		return nil
	}
	content := string(s.buf[i : i+j])
	if v := declParam("version", content); v != "" && v != "1.0" {
		return s.syntaxError(start, "unsupported xml version "+v)
	}
	enc := declParam("encoding", content)
	switch strings.ToLower(enc) {
	case "", "utf-8", "us-ascii", "ascii":
		// us-ascii needs no conversion: any byte above 0x7f is then
		// invalid UTF-8, and an error where it matters.
	case "iso-8859-1", "latin-1", "latin1":
		if s.latin1 {
			return fmt.Errorf("xml syntax error: %w: %w", errCharsetTwice, ErrMalformed)
		}
		s.latin1 = true
		// The bytes up to here stay, so the spans in s.open stay good.
		rest := s.buf[s.pos:]
		out := make([]byte, s.pos, s.pos+len(rest)+len(rest)/4)
		copy(out, s.buf[:s.pos])
		for _, c := range rest {
			out = utf8.AppendRune(out, rune(c))
		}
		s.buf = out
	default:
		return s.syntaxError(start, "unsupported encoding "+enc)
	}
	return nil
}

// declParam returns the value of param in the content of an <?xml?>
// declaration, or "". It looks for param immediately followed by '=' and a
// quote, as encoding/xml does: no spaces around '=' are taken, and after an
// occurrence that is not followed by a quote the search goes on after the
// byte that follows the '='.
func declParam(param, content string) string {
	key := param + "="
	for i := 0; i < len(content); {
		k := strings.Index(content[i:], key)
		if k < 0 || i+k+len(key) >= len(content) {
			return ""
		}
		q := content[i+k+len(key)]
		i += k + len(key) + 1
		if q == '\'' || q == '"' {
			if j := strings.IndexByte(content[i:], q); j >= 0 {
				return content[i : i+j]
			}
			return ""
		}
	}
	return ""
}

// startTag reads a start tag or an empty-element tag.
func (s *scanner) startTag() error {
	i, name, err := s.nsName(s.pos+1, "element")
	if err != nil {
		return err
	}
	for {
		i = s.space(i)
		if i >= len(s.buf) {
			return s.eof()
		}
		switch s.buf[i] {
		case '/':
			if i+1 >= len(s.buf) {
				return s.eof()
			}
			if s.buf[i+1] != '>' {
				return s.syntaxError(i, "expected /> in element")
			}
			s.pos = i + 2
			s.closeNext = true
			return nil
		case '>':
			s.pos = i + 1
			if s.open == nil {
				s.open = s.openBuf[:0]
			}
			s.open = append(s.open, openElem{name, s.localSpan.start})
			return nil
		}
		if i, err = s.attr(i); err != nil {
			return err
		}
	}
}

// attr checks an attribute name="value" starting at i and returns the
// offset after it.
func (s *scanner) attr(i int) (int, error) {
	local := s.localSpan
	i, _, err := s.nsName(i, "attribute")
	s.localSpan = local
	if err != nil {
		return 0, err
	}
	i = s.space(i)
	if i >= len(s.buf) {
		return 0, s.eof()
	}
	if s.buf[i] != '=' {
		return 0, s.syntaxError(i, "attribute name without = in element")
	}
	i = s.space(i + 1)
	if i >= len(s.buf) {
		return 0, s.eof()
	}
	q := s.buf[i]
	if q != '"' && q != '\'' {
		return 0, s.syntaxError(i, "unquoted or missing attribute value in element")
	}
	i++
	j := bytes.IndexByte(s.buf[i:], q)
	if j < 0 {
		return 0, s.eof()
	}
	if _, _, bad, msg := checkChars(s.buf[i:i+j], modeAttr); bad >= 0 {
		return 0, s.syntaxError(i+bad, msg)
	}
	return i + j + 1, nil
}

// endTag reads an end tag and matches it with the innermost open element.
func (s *scanner) endTag() error {
	// Most end tags close the innermost element by its name, which its
	// start tag already checked.
	if n := len(s.open); n > 0 {
		top := s.open[n-1]
		i := s.pos + 2 + top.name.end - top.name.start
		if i < len(s.buf) && nameClass[s.buf[i]] == classOther &&
			bytes.Equal(s.buf[s.pos+2:i], s.buf[top.name.start:top.name.end]) {
			if i = s.space(i); i < len(s.buf) && s.buf[i] == '>' {
				s.localSpan = span{s.pos + 2 + top.local - top.name.start, i}
				s.localSpan.end = s.localSpan.start + top.name.end - top.local
				s.open = s.open[:n-1]
				s.pos = i + 1
				return nil
			}
		}
	}
	i, name, err := s.nsName(s.pos+2, "element")
	if err != nil {
		return err
	}
	i = s.space(i)
	if i >= len(s.buf) {
		return s.eof()
	}
	if s.buf[i] != '>' {
		return s.syntaxError(i, "invalid characters between </"+string(s.buf[name.start:name.end])+" and >")
	}
	n := len(s.open)
	if n == 0 {
		return s.syntaxError(s.pos, "unexpected end element </"+string(s.buf[name.start:name.end])+">")
	}
	top := s.open[n-1].name
	if !bytes.Equal(s.buf[top.start:top.end], s.buf[name.start:name.end]) {
		return s.syntaxError(s.pos, "element <"+string(s.buf[top.start:top.end])+"> closed by </"+string(s.buf[name.start:name.end])+">")
	}
	s.open = s.open[:n-1]
	s.pos = i + 1
	return nil
}

// nsName reads the name of an element or attribute at i: a name with at
// most one colon. It sets s.localSpan to the part after the colon, if the colon
// has something on both sides, else to the whole name.
func (s *scanner) nsName(i int, what string) (int, span, error) {
	end, name, colon, err := s.name(i)
	if err != nil {
		return 0, name, err
	}
	if name.start == name.end || colon == -2 {
		return 0, name, s.syntaxError(i, "expected "+what+" name")
	}
	s.localSpan = name
	if colon > name.start && colon < name.end-1 {
		s.localSpan.start = colon + 1
	}
	return end, name, nil
}

// name reads a name at i: the bytes up to the first ASCII byte that cannot
// be part of a name. An empty span means there is none; a name with
// characters XML does not allow is an error. colon is the offset of the
// name's colon, -1 if it has none, -2 if it has more than one.
func (s *scanner) name(i int) (end int, n span, colon int, err error) {
	start := i
	ascii := true
	colon = -1
scan:
	for {
		for i < len(s.buf) && nameClass[s.buf[i]] == className {
			i++
		}
		if i >= len(s.buf) {
			return 0, span{}, 0, s.eof()
		}
		switch nameClass[s.buf[i]] {
		case classColon:
			if colon == -1 {
				colon = i
			} else {
				colon = -2
			}
		case classNonASCII:
			ascii = false
		default:
			break scan
		}
		i++
	}
	n = span{start, i}
	if start == i {
		return i, n, colon, nil
	}
	raw := s.buf[start:i]
	if ascii {
		if c := raw[0]; c == '-' || c == '.' || c >= '0' && c <= '9' {
			return 0, n, 0, s.syntaxError(start, "invalid name "+string(raw))
		}
		return i, n, colon, nil
	}
	for k := 0; k < len(raw); {
		r, size := utf8.DecodeRune(raw[k:])
		if r == utf8.RuneError && size == 1 {
			return 0, n, 0, s.syntaxError(start, "invalid UTF-8 in name")
		}
		if !isNameRune(r, k == 0) {
			return 0, n, 0, fmt.Errorf("xml syntax error: name %q: %w: %w", raw, errNameChars, ErrMalformed)
		}
		k += size
	}
	return i, n, colon, nil
}

// isNameRune tells whether r may start a name (first) or continue one, by
// the NameStartChar and NameChar productions of XML 1.0, fifth edition.
func isNameRune(r rune, first bool) bool {
	if r < utf8.RuneSelf {
		c := byte(r)
		if first {
			return nameByte[c] && c != '-' && c != '.' && (c < '0' || c > '9')
		}
		return nameByte[c]
	}
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	case first:
		return false
	}
	return r == 0xB7 || r >= 0x300 && r <= 0x36F || r >= 0x203F && r <= 0x2040
}

// Classes of bytes in names.
const (
	classOther    = iota // ends a name
	className            // ASCII letters, digits, '_', '.', '-'
	classColon           // ':'
	classNonASCII        // a byte of a multi-byte character
)

// nameClass classifies bytes for names.
var nameClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = classNonASCII
		case c == ':':
			t[c] = classColon
		case nameByte[c]:
			t[c] = className
		}
	}
	return t
}()

// nameByte tells which ASCII bytes can be part of a name.
var nameByte = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == ':' || c == '.' || c == '-'
	}
	return t
}()

// space returns the offset of the first byte at or after i that is not
// XML white space.
func (s *scanner) space(i int) int {
	for i < len(s.buf) {
		switch s.buf[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// charMode says where character data is: in text, an attribute value or a
// CDATA section.
type charMode uint8

const (
	modeText charMode = iota
	modeAttr
	modeCDATA
)

// checkChars checks raw character data: valid UTF-8 of characters XML
// allows, valid references (outside CDATA) and no "]]>" in text. In text it
// stops at the first '<' and returns its offset as end (else len(raw)). It
// returns whether the data is plain (can be used without decoding), or the
// offset of the first error and its description.
func checkChars(raw []byte, mode charMode) (end int, plain bool, bad int, msg string) {
	plain = true
	i := 0
	for {
		for i < len(raw) && charClass[raw[i]] == 0 {
			i++
		}
		if i >= len(raw) {
			return i, plain, -1, ""
		}
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				return i, false, i, "invalid UTF-8"
			}
			if !isChar(r) {
				return i, false, i, "illegal character"
			}
			i += size
			continue
		}
		switch {
		case c == '<':
			switch mode {
			case modeText:
				return i, plain, -1, ""
			case modeAttr:
				return i, false, i, "unescaped < inside quoted string"
			}
		case c == '&':
			if mode == modeCDATA {
				break
			}
			n, r := reference(raw[i:])
			if n == 0 || !isChar(r) && !isSurrogate(r) {
				return i, false, i, "invalid character reference"
			}
			plain = false
			i += n
			continue
		case c == ']':
			if mode == modeText && i+2 < len(raw) && raw[i+1] == ']' && raw[i+2] == '>' {
				return i, false, i, "unescaped ]]> not in CDATA section"
			}
		case c == '\r':
			plain = false
		case c < 0x20 && c != '\t' && c != '\n':
			return i, false, i, "illegal character"
		}
		i++
	}
}

// charClass is 0 for the bytes checkChars passes over without a second
// look: printable ASCII other than '<', '&' and ']', tab and newline.
var charClass = func() (t [256]uint8) {
	for c := range t {
		if c >= utf8.RuneSelf || c < 0x20 && c != '\t' && c != '\n' || c == '<' || c == '&' || c == ']' || c == '\r' {
			t[c] = 1
		}
	}
	return t
}()

// reference parses the reference at the start of b ("&lt;", "&#10;",
// "&#x1F600;"...) and returns its length and the character it stands for,
// or 0 if it is not one of the five predefined entities or a character
// reference ending in ';'. A character reference to a surrogate stands for
// U+FFFD, as in encoding/xml.
func reference(b []byte) (int, rune) {
	if len(b) < 3 {
		return 0, 0
	}
	if b[1] != '#' {
		end := bytes.IndexByte(b[:min(len(b), 6)], ';')
		if end < 0 {
			return 0, 0
		}
		switch string(b[1:end]) {
		case "lt":
			return end + 1, '<'
		case "gt":
			return end + 1, '>'
		case "amp":
			return end + 1, '&'
		case "apos":
			return end + 1, '\''
		case "quot":
			return end + 1, '"'
		}
		return 0, 0
	}
	i, base := 2, rune(10)
	if b[i] == 'x' {
		i, base = 3, 16
	}
	start := i
	var r rune
	for ; i < len(b); i++ {
		d := rune(-1)
		switch c := b[i]; {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		}
		if d < 0 {
			break
		}
		if r <= utf8.MaxRune {
			r = r*base + d
		}
	}
	if i == start || i >= len(b) || b[i] != ';' || r > utf8.MaxRune {
		return 0, 0
	}
	return i + 1, r
}

// isChar tells whether XML allows r in a document.
func isChar(r rune) bool {
	return r >= 0x20 && r <= 0xD7FF || r == '\t' || r == '\n' || r == '\r' ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}

func isSurrogate(r rune) bool { return r >= 0xD800 && r <= 0xDFFF }

// appendChars appends character data checked by checkChars to dst,
// replacing references (when refs is set) and turning "\r\n" and a lone
// "\r" into "\n", as XML's end-of-line handling asks.
func appendChars(dst, raw []byte, refs bool) []byte {
	for len(raw) > 0 {
		i := 0
		for i < len(raw) && raw[i] != '\r' && (raw[i] != '&' || !refs) {
			i++
		}
		dst = append(dst, raw[:i]...)
		if i == len(raw) {
			break
		}
		if raw[i] == '\r' {
			dst = append(dst, '\n')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
		} else {
			n, r := reference(raw[i:])
			dst = utf8.AppendRune(dst, r)
			i += n
		}
		raw = raw[i:]
	}
	return dst
}
