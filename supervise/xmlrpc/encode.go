package xmlrpc

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

const xmlHeader = "<?xml version='1.0'?>\n"

// AppendResponse appends to dst a complete methodResponse document carrying v,
// exactly as Python's xmlrpc.client.dumps((v,), methodresponse=True) would
// write it. If v is a *Fault or a Fault the document is a fault response.
// Unlike Python, integers beyond 32 bits are written as <int> (Python's
// decoder reads them) and nil is written as <nil/>.
func AppendResponse(dst []byte, v any) ([]byte, error) {
	switch f := v.(type) {
	case *Fault:
		if f != nil {
			return AppendFault(dst, f), nil
		}
	case Fault:
		return AppendFault(dst, &f), nil
	}
	start := len(dst)
	dst = append(dst, xmlHeader+"<methodResponse>\n<params>\n<param>\n"...)
	dst, err := appendValue(dst, v, 0)
	if err != nil {
		return dst[:start], fmt.Errorf("encode response: %w", err)
	}
	return append(dst, "</param>\n</params>\n</methodResponse>\n"...), nil
}

// AppendFault appends to dst a complete methodResponse document carrying the
// fault f, exactly as Python's xmlrpc.client.dumps(Fault(...)) would write it.
func AppendFault(dst []byte, f *Fault) []byte {
	dst = append(dst, xmlHeader+"<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>"...)
	dst = strconv.AppendInt(dst, int64(f.Code), 10)
	dst = append(dst, "</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>"...)
	dst = appendText(dst, f.String)
	return append(dst, "</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n"...)
}

// AppendCall appends to dst a complete methodCall document calling method with
// params, exactly as Python's xmlrpc.client.dumps(params, method) would write it.
func AppendCall(dst []byte, method string, params ...any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, xmlHeader+"<methodCall>\n<methodName>"...)
	dst = appendText(dst, method)
	dst = append(dst, "</methodName>\n<params>\n"...)
	for i, p := range params {
		dst = append(dst, "<param>\n"...)
		var err error
		dst, err = appendValue(dst, p, 0)
		if err != nil {
			return dst[:start], fmt.Errorf("encode call %s: param %d: %w", method, i+1, err)
		}
		dst = append(dst, "</param>\n"...)
	}
	return append(dst, "</params>\n</methodCall>\n"...), nil
}

// appendValue writes one <value> element and, like Python, the newline after
// it (except after <nil/>, where Python writes none).
func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "<value><nil/></value>"...), nil
	case string:
		dst = append(dst, "<value><string>"...)
		dst = appendText(dst, x)
		return append(dst, "</string></value>\n"...), nil
	case int:
		return appendInt(dst, int64(x)), nil
	case bool:
		if x {
			return append(dst, "<value><boolean>1</boolean></value>\n"...), nil
		}
		return append(dst, "<value><boolean>0</boolean></value>\n"...), nil
	case Struct:
		return appendStruct(dst, x, depth)
	case []any:
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, "<value><array><data>\n"...)
		for _, e := range x {
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, "</data></array></value>\n"...), nil
	case []Struct:
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, "<value><array><data>\n"...)
		for _, e := range x {
			var err error
			if dst, err = appendStruct(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, "</data></array></value>\n"...), nil
	case []string:
		dst = append(dst, "<value><array><data>\n"...)
		for _, e := range x {
			dst = append(dst, "<value><string>"...)
			dst = appendText(dst, e)
			dst = append(dst, "</string></value>\n"...)
		}
		return append(dst, "</data></array></value>\n"...), nil
	case int64:
		return appendInt(dst, x), nil
	case int32:
		return appendInt(dst, int64(x)), nil
	case float64:
		return appendDouble(dst, x), nil
	case []byte:
		return appendBase64(dst, x), nil
	case time.Time:
		return appendTime(dst, x)
	case *Struct:
		if x == nil {
			return appendValue(dst, nil, depth)
		}
		return appendStruct(dst, *x, depth)
	case map[string]any:
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, "<value><struct>\n"...)
		for _, k := range keys {
			var err error
			if dst, err = appendMember(dst, k, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, "</struct></value>\n"...), nil
	}
	return appendReflect(dst, reflect.ValueOf(v), depth)
}

var errTooDeep = fmt.Errorf("nesting deeper than %d", MaxDepth)

func appendStruct(dst []byte, s Struct, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return dst, errTooDeep
	}
	dst = append(dst, "<value><struct>\n"...)
	for _, m := range s {
		var err error
		if dst, err = appendMember(dst, m.Name, m.Value, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, "</struct></value>\n"...), nil
}

func appendMember(dst []byte, name string, v any, depth int) ([]byte, error) {
	dst = append(dst, "<member>\n<name>"...)
	dst = appendText(dst, name)
	dst = append(dst, "</name>\n"...)
	dst, err := appendValue(dst, v, depth)
	if err != nil {
		return dst, fmt.Errorf("member %q: %w", name, err)
	}
	return append(dst, "</member>\n"...), nil
}

// appendReflect handles the types the fast path does not: named basic types,
// other integer and float sizes, pointers, other slices and string-keyed maps.
func appendReflect(dst []byte, rv reflect.Value, depth int) ([]byte, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return appendValue(dst, rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(dst, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return dst, fmt.Errorf("integer %d out of range: %w", u, ErrUnsupportedType)
		}
		return appendInt(dst, int64(u)), nil
	case reflect.Float32, reflect.Float64:
		return appendDouble(dst, rv.Float()), nil
	case reflect.String:
		return appendValue(dst, rv.String(), depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return appendValue(dst, nil, depth)
		}
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		return appendValue(dst, rv.Elem().Interface(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return appendBase64(dst, rv.Bytes()), nil
		}
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, "<value><array><data>\n"...)
		for i := range rv.Len() {
			var err error
			if dst, err = appendValue(dst, rv.Index(i).Interface(), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, "</data></array></value>\n"...), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			if a.String() < b.String() {
				return -1
			}
			if a.String() > b.String() {
				return 1
			}
			return 0
		})
		dst = append(dst, "<value><struct>\n"...)
		for _, k := range keys {
			var err error
			if dst, err = appendMember(dst, k.String(), rv.MapIndex(k).Interface(), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, "</struct></value>\n"...), nil
	}
	if !rv.IsValid() {
		return appendValue(dst, nil, depth)
	}
	return dst, fmt.Errorf("%s: %w", rv.Type(), ErrUnsupportedType)
}

func appendInt(dst []byte, i int64) []byte {
	dst = append(dst, "<value><int>"...)
	dst = strconv.AppendInt(dst, i, 10)
	return append(dst, "</int></value>\n"...)
}

func appendDouble(dst []byte, f float64) []byte {
	dst = append(dst, "<value><double>"...)
	dst = appendPyFloat(dst, f)
	return append(dst, "</double></value>\n"...)
}

// appendPyFloat writes f as Python's repr(float) does: the shortest digits
// that round-trip, positional notation with at least one fractional digit for
// decimal exponents in [-4, 16), otherwise d.ddde±XX.
func appendPyFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±XX
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	e := 0
	for b[e] != 'e' {
		e++
	}
	exp, _ := strconv.Atoi(string(b[e+1:]))
	var digits [24]byte
	nd := 0
	for _, c := range b[:e] {
		if c != '.' {
			digits[nd] = c
			nd++
		}
	}
	d := digits[:nd]
	switch {
	case exp < -4 || exp >= 16:
		dst = append(dst, d[0])
		if len(d) > 1 {
			dst = append(dst, '.')
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst = append(dst, '-')
			exp = -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	case exp < 0:
		dst = append(dst, "0."...)
		for range -exp - 1 {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	case len(d) <= exp+1:
		dst = append(dst, d...)
		for range exp + 1 - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...)
	default:
		dst = append(dst, d[:exp+1]...)
		dst = append(dst, '.')
		return append(dst, d[exp+1:]...)
	}
}

// appendBase64 writes data as Python's base64.encodebytes does: lines of at
// most 76 characters, each followed by a newline.
func appendBase64(dst []byte, data []byte) []byte {
	dst = append(dst, "<value><base64>\n"...)
	const chunk = 76 / 4 * 3
	for len(data) > 0 {
		n := min(len(data), chunk)
		dst = base64.StdEncoding.AppendEncode(dst, data[:n])
		dst = append(dst, '\n')
		data = data[n:]
	}
	return append(dst, "</base64></value>\n"...)
}

func appendTime(dst []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return dst, fmt.Errorf("time %v: year out of range: %w", t, ErrUnsupportedType)
	}
	dst = append(dst, "<value><dateTime.iso8601>"...)
	dst = t.AppendFormat(dst, "20060102T15:04:05")
	return append(dst, "</dateTime.iso8601></value>\n"...), nil
}

// textClass marks the ASCII bytes that appendText must escape or replace;
// bytes >= 0x80 take the UTF-8 path.
var textClass = func() (t [utf8.RuneSelf]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['\t'], t['\n'] = false, false
	t['&'], t['<'], t['>'] = true, true, true
	return t
}()

// appendText writes s as XML character data: &, < and > escaped as Python
// does, carriage returns as &#13;, and everything XML 1.0 cannot carry
// (invalid UTF-8, other C0 controls, U+FFFE, U+FFFF) replaced by U+FFFD.
func appendText(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !textClass[c] {
				i++
				continue
			}
			dst = append(dst, s[last:i]...)
			switch c {
			case '&':
				dst = append(dst, "&amp;"...)
			case '<':
				dst = append(dst, "&lt;"...)
			case '>':
				dst = append(dst, "&gt;"...)
			case '\r':
				dst = append(dst, "&#13;"...)
			default:
				dst = append(dst, "\uFFFD"...)
			}
			i++
			last = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r == 0xFFFE || r == 0xFFFF {
			dst = append(dst, s[last:i]...)
			dst = append(dst, "\uFFFD"...)
			i += n
			last = i
			continue
		}
		i += n
	}
	return append(dst, s[last:]...)
}
