package xmlrpc

// This file keeps the decoder keeper used before the hand-written scanner:
// the same XML-RPC rules on top of encoding/xml. FuzzDecodeDifferential feeds
// it and the real decoder the same input; they must agree.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// refDecodeCall is DecodeCall on top of encoding/xml.
func refDecodeCall(data []byte) (method string, params []any, err error) {
	m, err := refDecodeMessage(data, "methodCall")
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

// refDecodeResponse is DecodeResponse on top of encoding/xml.
func refDecodeResponse(data []byte) (any, error) {
	m, err := refDecodeMessage(data, "methodResponse")
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

type refParser struct {
	d *xml.Decoder
}

func refDecodeMessage(data []byte, root string) (*message, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = refCharsetReader
	p := &refParser{d: d}
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
func (p *refParser) next() (xml.Token, error) {
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
func (p *refParser) nextIn() (xml.Token, error) {
	t, err := p.next()
	if err == io.EOF {
		return nil, malformed("unexpected end of input")
	}
	return t, err
}

func (p *refParser) skip() error {
	if err := p.d.Skip(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// message reads the children of <methodCall> or <methodResponse>. Unknown
// elements are skipped, as Python's decoder ignores them.
func (p *refParser) message() (*message, error) {
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
func (p *refParser) text(elem string) (string, error) {
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

func (p *refParser) paramList() ([]any, error) {
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
func (p *refParser) holder(elem string, depth int) (any, error) {
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

func (p *refParser) fault() (*Fault, error) {
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
func (p *refParser) value(depth int) (any, error) {
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

func (p *refParser) typed(name string, depth int) (any, error) {
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
		return decodeBase64([]byte(s))
	case "dateTime.iso8601":
		return decodeTime(s)
	default: // nil
		if !isSpace([]byte(s)) {
			return nil, malformed("text inside <nil/>")
		}
		return nil, nil
	}
}

func (p *refParser) array(depth int) (any, error) {
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

func (p *refParser) structure(depth int) (any, error) {
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
func (p *refParser) member(depth int) (Member, error) {
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

// refCharsetReader lets documents declare us-ascii or latin-1 besides utf-8.
func refCharsetReader(charset string, input io.Reader) (io.Reader, error) {
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

// FuzzDecodeDifferential feeds the decoder and the encoding/xml reference the
// same input: both must fail, or both give the same value (or fault).
//
// Where they may differ, by choice:
//   - Names (of elements, attributes, processing instructions) with non-ASCII
//     characters are checked against XML 1.0 fifth edition's NameStartChar and
//     NameChar, which expat and today's parsers use; encoding/xml uses the first
//     edition's tables (Appendix B). Such a name decides nothing XML-RPC reads.
//   - A second latin-1 encoding declaration is an error: encoding/xml decodes
//     the rest of the input from latin-1 again (mojibake), and a run of them
//     makes the input grow exponentially.
func FuzzDecodeDifferential(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		resp("<value><string>&lt;&amp;&#x263A;&#13;<![CDATA[<x>]]></string></value>"),
		resp("<value><string>a<!-- c -->b<?pi x?>c\r\nd\re</string></value>"),
		resp("<value><ex:nil xmlns:ex='http://ws.apache.org/xmlrpc/namespaces/extensions'/></value>"),
		resp("<value a=\"1\" b = '&quot;'><i4> 7 </i4>tail</value>"),
		resp("<value><struct><member><value>v</value><name>a</name></member><junk><x/></junk></struct></value>"),
		resp("<value><array><data><value><int>1</int></value><value>x</value></data></array></value>"),
		resp("<value><base64>\naGVs\nbG8=\n</base64></value>"),
		resp("<value><dateTime.iso8601>20240229T23:59:58</dateTime.iso8601></value>"),
		resp("<value><double>-1.5e3</double><boolean>1</boolean></value>"),
		"<?xml version='1.0' encoding='ISO-8859-1'?><methodResponse><params><param><value>caf\xe9</value></param></params></methodResponse>",
		"<!DOCTYPE methodResponse [<!ENTITY x 'y'> <!-- c --> ]><methodResponse><params/></methodResponse>",
		"<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>2</int></value></member><member><name>faultString</name><value>x</value></member></struct></value></fault></methodResponse>",
		"<methodCall><methodName>a.b</methodName><params><param><value><i8>-9223372036854775808</i8></value></param></params></methodCall>",
		" &#32;<methodCall>&#x41;<methodName>m</methodName></methodCall>\n",
		// Corners of the XML syntax, where both decoders must agree.
		resp("<value><a:b:c/>x</value>"),
		resp("<value>&#X41;</value>"),
		resp("<value>&#xD800;&#x10FFFF;&#0065;</value>"),
		resp("<value>&#x110000;</value>"),
		resp("<value>&#xFFFE;</value>"),
		resp("<value>]]></value>"),
		resp("<value>]]&gt;]&#93;></value>"),
		resp("<value><![CDATA[]]]]><![CDATA[>\r\n\r]]></value>"),
		resp("<value><!---></value>"),
		resp("<value><!-- a -- b --></value>"),
		resp("<value a='<'/>"),
		resp("<value a=b/>"),
		resp("<value a/>"),
		resp("<value a='1'b='2'/>"),
		resp("<value/ >"),
		resp("<value></value >"),
		resp("<value></ value>"),
		resp("<value><:nil/></value>"),
		resp("<value><nil:/></value>"),
		resp("<value><x:int>1</x:int></value>"),
		resp("<value><x:int>1</y:int></value>"),
		resp("<value>\u00e9<\u00e9/></value>"),
		resp("<value><\u20ac/></value>"),
		resp("<value>\xef\xbf\xbe</value>"),
		resp("<value>\xed\xa0\x80</value>"),
		resp("<value>\x7f</value>"),
		"<!>><methodResponse><params/></methodResponse>",
		"<!DOCTYPE x [<!-- > --> <y> '>' ]><methodResponse><params/></methodResponse>",
		"<!DOCTYPE x <<!a>>><methodResponse><params/></methodResponse>",
		"<?xml version='1.1'?><methodResponse><params/></methodResponse>",
		"<?xml version = '1.1'?><methodResponse><params/></methodResponse>",
		"<?xml encoding='us-ascii'?><methodResponse><params><param><value>\xe9</value></param></params></methodResponse>",
		"<?xml encoding='utf8'?><methodResponse><params/></methodResponse>",
		"<methodResponse><?xml encoding='latin1'?><params><param><value>\xe9</value></param></params></methodResponse>",
		"<?xml encoding='latin1'?><methodResponse><?xml encoding='latin1'?><params><param><value>\xe9</value></param></params></methodResponse>",
		"<?xml?><?xmlx?><?xml:a b?><methodResponse><params/></methodResponse>",
		"<? xml?><methodResponse><params/></methodResponse>",
		"<methodResponse><params/></methodResponse><![CDATA[ ]]>&#10;<!-- -->",
		"<methodResponse><params/></methodResponse></x>",
		"\xef\xbb\xbf<methodResponse><params/></methodResponse>",
		"<methodCall><methodName>a<![CDATA[b]]>&amp;c\rd</methodName></methodCall>",
		"<methodCall><methodName>m</methodName><params><param><value><int>+0</int></value></param><param><value><i4>-0009223372036854775808</i4></value></param></params></methodCall>",
		"<methodCall><methodName>m</methodName><params><param><value><int>9223372036854775808</int></value></param></params></methodCall>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m1, p1, err1 := DecodeCall(data)
		m2, p2, err2 := refDecodeCall(data)
		if excused(err1, err2) {
			return
		}
		if (err1 == nil) != (err2 == nil) || err1 == nil && (m1 != m2 || !equal(p1, p2)) {
			t.Fatalf("DecodeCall(%q)\n got %q %#v %v\nwant %q %#v %v", data, m1, p1, err1, m2, p2, err2)
		}
		if err1 != nil && !errors.Is(err1, ErrMalformed) {
			t.Fatalf("DecodeCall(%q): %v does not wrap ErrMalformed", data, err1)
		}
		v1, err1 := DecodeResponse(data)
		v2, err2 := refDecodeResponse(data)
		if excused(err1, err2) {
			return
		}
		var f1, f2 *Fault
		switch {
		case (err1 == nil) != (err2 == nil),
			errors.As(err1, &f1) != errors.As(err2, &f2),
			f1 != nil && *f1 != *f2,
			err1 == nil && !equal(v1, v2):
			t.Fatalf("DecodeResponse(%q)\n got %#v %v\nwant %#v %v", data, v1, err1, v2, err2)
		}
		if err1 != nil && f1 == nil && !errors.Is(err1, ErrMalformed) {
			t.Fatalf("DecodeResponse(%q): %v does not wrap ErrMalformed", data, err1)
		}
	})
}

// excused tells whether the decoder's error got and the reference's error
// want differ by one of the choices documented at FuzzDecodeDifferential.
func excused(got, want error) bool {
	if (got == nil) == (want == nil) {
		return false
	}
	if errors.Is(got, errNameChars) || errors.Is(got, errCharsetTwice) {
		return true
	}
	var syn *xml.SyntaxError
	if errors.As(want, &syn) {
		name, ok := strings.CutPrefix(syn.Msg, "invalid XML name: ")
		return ok && strings.ContainsFunc(name, func(r rune) bool { return r >= utf8.RuneSelf })
	}
	return false
}

// BenchmarkDecodeProcessInfo50Reference is BenchmarkDecodeProcessInfo50 for
// the encoding/xml reference, to compare the two under the same load.
func BenchmarkDecodeProcessInfo50Reference(b *testing.B) {
	infos := make([]Struct, 50)
	for i := range infos {
		infos[i] = processInfo("program_"+strings.Repeat("x", i%5), 1000+i)
	}
	data, err := AppendResponse(nil, infos)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := refDecodeResponse(data); err != nil {
			b.Fatal(err)
		}
	}
}
