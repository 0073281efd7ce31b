package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

type parser struct {
	d *xml.Decoder
}

// malformed returns an error with the formatted description wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}

func decodeMessage(data []byte, root string) (*message, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader
	p := &parser{d: d}
	var m *message
	for {
		t, err := p.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.CharData:
			if !isSpace(t) {
				return nil, malformed("text outside the root element")
			}
		case xml.StartElement:
			if m != nil {
				return nil, malformed("more than one root element")
			}
			if t.Name.Local != root {
				return nil, malformed("root element is <%s>, want <%s>", t.Name.Local, root)
			}
			if m, err = p.message(); err != nil {
				return nil, err
			}
		}
	}
	if m == nil {
		return nil, malformed("no <%s> element", root)
	}
	return m, nil
}

// next returns the next start element, end element or character data,
// skipping comments, processing instructions and directives.
func (p *parser) next() (xml.Token, error) {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		switch t.(type) {
		case xml.StartElement, xml.EndElement, xml.CharData:
			return t, nil
		}
	}
}

// nextIn is next inside an element, where the end of input is an error.
func (p *parser) nextIn() (xml.Token, error) {
	t, err := p.next()
	if err == io.EOF {
		return nil, malformed("unexpected end of input")
	}
	return t, err
}

func (p *parser) skip() error {
	if err := p.d.Skip(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// message reads the children of <methodCall> or <methodResponse>. Unknown
// elements are skipped, as Python's decoder ignores them.
func (p *parser) message() (*message, error) {
	m := &message{}
	for {
		t, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return m, nil
		case xml.StartElement:
			switch t.Name.Local {
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

// text reads the character data of a leaf element up to its end tag.
func (p *parser) text(elem string) (string, error) {
	var s string
	var b []byte
	n := 0
	for {
		t, err := p.nextIn()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			// Usually there is exactly one piece; avoid the copy into b then.
			switch n {
			case 0:
				s = string(t)
			case 1:
				b = append([]byte(s), t...)
			default:
				b = append(b, t...)
			}
			n++
		case xml.StartElement:
			return "", malformed("element <%s> inside <%s>", t.Name.Local, elem)
		case xml.EndElement:
			if n > 1 {
				return string(b), nil
			}
			return s, nil
		}
	}
}

func (p *parser) paramList() ([]any, error) {
	params := []any{}
	for {
		t, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return params, nil
		case xml.StartElement:
			if t.Name.Local != "param" {
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
		t, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			if !seen {
				return nil, malformed("<%s> without <value>", elem)
			}
			return v, nil
		case xml.StartElement:
			if t.Name.Local != "value" {
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
	var text []byte
	var v any
	typed := false
	for {
		t, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.CharData:
			if !typed {
				text = append(text, t...)
			}
		case xml.StartElement:
			if typed {
				return nil, malformed("<value> with more than one element")
			}
			if v, err = p.typed(t.Name.Local, depth); err != nil {
				return nil, err
			}
			typed = true
		case xml.EndElement:
			if typed {
				return v, nil
			}
			return string(text), nil
		}
	}
}

func (p *parser) typed(name string, depth int) (any, error) {
	switch name {
	case "array":
		return p.array(depth)
	case "struct":
		return p.structure(depth)
	case "i1", "i2", "i4", "i8", "int", "biginteger", "boolean", "double", "float", "bigdecimal",
		"string", "base64", "dateTime.iso8601", "nil":
	default:
		return nil, malformed("unknown type <%s>", name)
	}
	s, err := p.text(name)
	if err != nil {
		return nil, err
	}
	switch name {
	case "string":
		return s, nil
	case "i1", "i2", "i4", "i8", "int", "biginteger":
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
		if err != nil {
			return nil, malformed("bad <%s> %.40q", name, s)
		}
		return int(i), nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, malformed("bad <boolean> %.40q", s)
	case "double", "float", "bigdecimal":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, malformed("bad <%s> %.40q", name, s)
		}
		return f, nil
	case "base64":
		return decodeBase64(s)
	case "dateTime.iso8601":
		return decodeTime(s)
	default: // nil
		if !isSpace([]byte(s)) {
			return nil, malformed("text inside <nil/>")
		}
		return nil, nil
	}
}

func (p *parser) array(depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, malformed("nesting deeper than %d", MaxDepth)
	}
	a := []any{}
	inData := false
	for {
		t, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			if inData {
				inData = false
				continue
			}
			return a, nil
		case xml.StartElement:
			switch {
			case t.Name.Local == "data" && !inData:
				inData = true
			case t.Name.Local == "value":
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
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
	s := Struct{}
	for {
		t, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return s, nil
		case xml.StartElement:
			if t.Name.Local != "member" {
				if err := p.skip(); err != nil {
					return nil, err
				}
				continue
			}
			m, err := p.member(depth)
			if err != nil {
				return nil, err
			}
			s = append(s, m)
		}
	}
}

// member reads <name> and <value> in either order; a missing name is "".
func (p *parser) member(depth int) (Member, error) {
	var m Member
	seen := false
	for {
		t, err := p.nextIn()
		if err != nil {
			return m, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			if !seen {
				return m, malformed("struct member %q without <value>", m.Name)
			}
			return m, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "name":
				if m.Name, err = p.text("name"); err != nil {
					return m, err
				}
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

func decodeBase64(s string) ([]byte, error) {
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

// charsetReader lets documents declare us-ascii or latin-1 besides utf-8.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "us-ascii", "ascii":
		return input, nil
	case "iso-8859-1", "latin-1", "latin1":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b)+len(b)/4)
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("charset %q not supported", charset)
}
