package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DecodeCall decodes a methodCall document, as a server receives it, into the
// method name and its parameters. A missing <params> element means no
// parameters; params is never nil. A missing or empty method name, or anything
// that is not well-formed XML-RPC, gives an error wrapping ErrMalformed.
func DecodeCall(data []byte) (method string, params []any, err error) {
	m, err := decodeMessage(data, "methodCall")
	if err != nil {
		return "", nil, fmt.Errorf("decode call: %w", err)
	}
	if m.method == "" {
		return "", nil, fmt.Errorf("decode call: no method name: %w", ErrMalformed)
	}
	if m.params == nil {
		m.params = []any{}
	}
	return m.method, m.params, nil
}

// DecodeResponse decodes a methodResponse document, as a client receives it.
// It returns the single value the response carries (nil if <params> is
// empty), or a *Fault as the error for a fault response. Anything that is not
// well-formed XML-RPC gives an error wrapping ErrMalformed.
func DecodeResponse(data []byte) (any, error) {
	m, err := decodeMessage(data, "methodResponse")
	if err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	switch {
	case m.fault != nil:
		return nil, m.fault
	case m.params == nil:
		return nil, fmt.Errorf("decode response: no params and no fault: %w", ErrMalformed)
	case len(m.params) > 1:
		return nil, fmt.Errorf("decode response: %d params: %w", len(m.params), ErrMalformed)
	case len(m.params) == 0:
		return nil, nil
	}
	return m.params[0], nil
}

type message struct {
	method string
	params []any // nil when there is no <params> element
	fault  *Fault
}

// parser reads XML-RPC from the scanner's tokens. items and members are
// stacks shared by the arrays and structs being read, so that each array or
// struct is allocated once, at its final size.
type parser struct {
	s       scanner
	acc     []byte
	items   []any
	members []Member
}

func decodeMessage(data []byte, root string) (*message, error) {
	p := &parser{s: scanner{buf: data}}
	var m *message
	for {
		k, err := p.s.next()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokEOF:
			if m == nil {
				return nil, malformed("no <%s> element", root)
			}
			return m, nil
		case tokText:
			if !p.s.plain {
				p.acc = p.s.appendText(p.acc[:0])
				if !isSpace(p.acc) {
					return nil, malformed("text outside the root element")
				}
			} else if !isSpace(p.s.raw()) {
				return nil, malformed("text outside the root element")
			}
		case tokStart:
			if m != nil {
				return nil, malformed("more than one root element")
			}
			if string(p.s.local()) != root {
				return nil, malformed("root element is <%s>, want <%s>", p.s.local(), root)
			}
			if m, err = p.message(); err != nil {
				return nil, err
			}
		}
	}
}

// nextIn returns the next token inside an element, where the end of input
// is an error.
func (p *parser) nextIn() (tokKind, error) {
	k, err := p.s.next()
	if err == nil && k == tokEOF {
		err = malformed("unexpected end of input")
	}
	return k, err
}

// skip skips the rest of the element whose start tag was just read.
func (p *parser) skip() error {
	depth := 0
	for {
		k, err := p.nextIn()
		if err != nil {
			return err
		}
		switch k {
		case tokStart:
			depth++
		case tokEnd:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// message reads the children of <methodCall> or <methodResponse>. Unknown
// elements are skipped, as Python's decoder ignores them.
func (p *parser) message() (*message, error) {
	m := &message{}
	for {
		k, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokEnd:
			return m, nil
		case tokStart:
			switch string(p.s.local()) {
			case "methodName":
				if m.method, err = p.text("methodName"); err != nil {
					return nil, err
				}
			case "params":
				if m.params, err = p.paramList(); err != nil {
					return nil, err
				}
			case "fault":
				if m.fault, err = p.fault(); err != nil {
					return nil, err
				}
			default:
				if err := p.skip(); err != nil {
					return nil, err
				}
			}
		}
	}
}

// collect gathers the pieces of character data of one element. Most
// elements have one piece that needs no decoding; it is used as it lies in
// the input.
type collect struct {
	one []byte // the only piece so far, if it needed no decoding
	n   int    // pieces so far
}

// add adds the scanner's current character data.
func (p *parser) add(c *collect) {
	switch {
	case c.n == 0 && p.s.plain:
		c.one = p.s.raw()
	case c.n == 0:
		p.acc = p.s.appendText(p.acc[:0])
	default:
		if c.one != nil {
			p.acc = append(p.acc[:0], c.one...)
			c.one = nil
		}
		p.acc = p.s.appendText(p.acc)
	}
	c.n++
}

// bytes returns what was gathered; it is good until the next add.
func (p *parser) bytes(c *collect) []byte {
	switch {
	case c.n == 0:
		return nil
	case c.one != nil:
		return c.one
	}
	return p.acc
}

// text reads the character data of a leaf element up to its end tag.
func (p *parser) text(elem string) (string, error) {
	b, err := p.leaf(elem)
	return string(b), err
}

// leaf is text without the copy: the result is good until the next token.
func (p *parser) leaf(elem string) ([]byte, error) {
	var c collect
	for {
		k, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokText:
			p.add(&c)
		case tokStart:
			return nil, malformed("element <%s> inside <%s>", p.s.local(), elem)
		case tokEnd:
			return p.bytes(&c), nil
		}
	}
}

func (p *parser) paramList() ([]any, error) {
	params := []any{}
	for {
		k, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokEnd:
			return params, nil
		case tokStart:
			if string(p.s.local()) != "param" {
				if err := p.skip(); err != nil {
					return nil, err
				}
				continue
			}
			v, err := p.holder("param", 0)
			if err != nil {
				return nil, fmt.Errorf("param %d: %w", len(params)+1, err)
			}
			params = append(params, v)
		}
	}
}

// holder reads an element that must hold exactly one <value> (a <param> or a
// <fault>), skipping unknown elements.
func (p *parser) holder(elem string, depth int) (any, error) {
	var v any
	seen := false
	for {
		k, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokEnd:
			if !seen {
				return nil, malformed("<%s> without <value>", elem)
			}
			return v, nil
		case tokStart:
			if string(p.s.local()) != "value" {
				if err := p.skip(); err != nil {
					return nil, err
				}
				continue
			}
			if seen {
				return nil, malformed("<%s> with more than one <value>", elem)
			}
			if v, err = p.value(depth); err != nil {
				return nil, err
			}
			seen = true
		}
	}
}

func (p *parser) fault() (*Fault, error) {
	v, err := p.holder("fault", 0)
	if err != nil {
		return nil, fmt.Errorf("fault: %w", err)
	}
	s, ok := v.(Struct)
	if !ok {
		return nil, malformed("fault value is %T, want struct", v)
	}
	f := &Fault{}
	if c, ok := s.Get("faultCode"); ok {
		if f.Code, ok = c.(int); !ok {
			return nil, malformed("faultCode is %T, want int", c)
		}
	}
	if str, ok := s.Get("faultString"); ok {
		if f.String, ok = str.(string); !ok {
			return nil, malformed("faultString is %T, want string", str)
		}
	}
	return f, nil
}

// value reads the content of a <value> element whose start tag was consumed:
// one typed element, or bare text, which is a string.
func (p *parser) value(depth int) (any, error) {
	var c collect
	var v any
	typed := false
	for {
		k, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokText:
			if !typed {
				p.add(&c)
			}
		case tokStart:
			if typed {
				return nil, malformed("<value> with more than one element")
			}
			if v, err = p.typed(depth); err != nil {
				return nil, err
			}
			typed = true
		case tokEnd:
			if typed {
				return v, nil
			}
			return string(p.bytes(&c)), nil
		}
	}
}

// typed reads the element whose start tag was just read inside a <value>.
func (p *parser) typed(depth int) (any, error) {
	switch string(p.s.local()) {
	case "array":
		return p.array(depth)
	case "struct":
		return p.structure(depth)
	case "string":
		return p.text("string")
	case "i1", "i2", "i4", "i8", "int", "biginteger":
		name := typeName(p.s.local())
		b, err := p.leaf(name)
		if err != nil {
			return nil, err
		}
		i, ok := parseInt(b)
		if !ok {
			return nil, malformed("bad <%s> %.40q", name, b)
		}
		return i, nil
	case "boolean":
		b, err := p.leaf("boolean")
		if err != nil {
			return nil, err
		}
		switch string(trimSpace(b)) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, malformed("bad <boolean> %.40q", b)
	case "double", "float", "bigdecimal":
		name := typeName(p.s.local())
		b, err := p.leaf(name)
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(string(trimSpace(b)), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, malformed("bad <%s> %.40q", name, b)
		}
		return f, nil
	case "base64":
		b, err := p.leaf("base64")
		if err != nil {
			return nil, err
		}
		return decodeBase64(b)
	case "dateTime.iso8601":
		s, err := p.text("dateTime.iso8601")
		if err != nil {
			return nil, err
		}
		return decodeTime(s)
	case "nil":
		b, err := p.leaf("nil")
		if err != nil {
			return nil, err
		}
		if !isSpace(b) {
			return nil, malformed("text inside <nil/>")
		}
		return nil, nil
	}
	return nil, malformed("unknown type <%s>", p.s.local())
}

// typeName returns the name of a numeric type element without allocating.
func typeName(b []byte) string {
	for _, n := range [...]string{"i1", "i2", "i4", "i8", "int", "biginteger", "double", "float", "bigdecimal"} {
		if string(b) == n {
			return n
		}
	}
	return string(b)
}

func (p *parser) array(depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, malformed("nesting deeper than %d", MaxDepth)
	}
	base := len(p.items)
	inData := false
	for {
		k, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokEnd:
			if inData {
				inData = false
				continue
			}
			a := make([]any, len(p.items)-base)
			copy(a, p.items[base:])
			clear(p.items[base:])
			p.items = p.items[:base]
			return a, nil
		case tokStart:
			switch local := string(p.s.local()); {
			case local == "data" && !inData:
				inData = true
			case local == "value":
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				p.items = append(p.items, v)
			default:
				if err := p.skip(); err != nil {
					return nil, err
				}
			}
		}
	}
}

func (p *parser) structure(depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, malformed("nesting deeper than %d", MaxDepth)
	}
	base := len(p.members)
	for {
		k, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokEnd:
			s := make(Struct, len(p.members)-base)
			copy(s, p.members[base:])
			clear(p.members[base:])
			p.members = p.members[:base]
			return s, nil
		case tokStart:
			if string(p.s.local()) != "member" {
				if err := p.skip(); err != nil {
					return nil, err
				}
				continue
			}
			m, err := p.member(depth)
			if err != nil {
				return nil, err
			}
			p.members = append(p.members, m)
		}
	}
}

// member reads <name> and <value> in either order; a missing name is "".
func (p *parser) member(depth int) (Member, error) {
	var m Member
	seen := false
	for {
		k, err := p.nextIn()
		if err != nil {
			return m, err
		}
		switch k {
		case tokEnd:
			if !seen {
				return m, malformed("struct member %q without <value>", m.Name)
			}
			return m, nil
		case tokStart:
			switch string(p.s.local()) {
			case "name":
				b, err := p.leaf("name")
				if err != nil {
					return m, err
				}
				m.Name = memberName(b)
			case "value":
				if seen {
					return m, malformed("struct member with more than one <value>")
				}
				if m.Value, err = p.value(depth + 1); err != nil {
					return m, err
				}
				seen = true
			default:
				if err := p.skip(); err != nil {
					return m, err
				}
			}
		}
	}
}

// memberName returns b as a string, without allocating for the member
// names of supervisord's structs and of faults.
func memberName(b []byte) string {
	switch string(b) {
	case "name":
		return "name"
	case "group":
		return "group"
	case "description":
		return "description"
	case "start":
		return "start"
	case "stop":
		return "stop"
	case "now":
		return "now"
	case "state":
		return "state"
	case "statename":
		return "statename"
	case "spawnerr":
		return "spawnerr"
	case "exitstatus":
		return "exitstatus"
	case "logfile":
		return "logfile"
	case "stdout_logfile":
		return "stdout_logfile"
	case "stderr_logfile":
		return "stderr_logfile"
	case "pid":
		return "pid"
	case "status":
		return "status"
	case "statecode":
		return "statecode"
	case "faultCode":
		return "faultCode"
	case "faultString":
		return "faultString"
	}
	return string(b)
}

// parseInt parses an XML-RPC integer as strconv.ParseInt does after
// strings.TrimSpace: an optionally signed decimal number that fits an int.
func parseInt(b []byte) (int, bool) {
	b = trimSpace(b)
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	const limit = uint64(1) << (strconv.IntSize - 1) // -limit is the smallest int
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > limit/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > limit {
			return 0, false
		}
	}
	if neg {
		return int(-n), true
	}
	if n == limit {
		return 0, false
	}
	return int(n), true
}

// trimSpace trims what strings.TrimSpace does from b.
func trimSpace(b []byte) []byte {
	return bytes.TrimSpace(b)
}

// malformed returns an error with the formatted description wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}

func decodeBase64(s []byte) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			clean = append(clean, c)
		}
	}
	out, err := base64.StdEncoding.AppendDecode([]byte{}, clean)
	if err != nil {
		// Python's decoder also takes data without its padding.
		if out, err = base64.RawStdEncoding.AppendDecode([]byte{}, clean); err != nil {
			return nil, malformed("bad <base64>: %v", err)
		}
	}
	return out, nil
}

var timeLayouts = []string{"20060102T15:04:05", "2006-01-02T15:04:05", "20060102T150405"}

func decodeTime(s string) (time.Time, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "Z")
	for _, layout := range timeLayouts {
		if len(s) != len(layout) {
			continue
		}
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, malformed("bad <dateTime.iso8601> %.40q", s)
}

func isSpace(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}
