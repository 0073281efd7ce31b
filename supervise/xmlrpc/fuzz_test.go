package xmlrpc

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecode checks that decoding never panics and that whatever decodes
// survives an encode/decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(resp("<value><struct><member><value>v</value><name>a</name></member></struct></value>")))
	f.Add([]byte(resp("<value><base64>aGVsbG8</base64></value>")))
	f.Add([]byte(resp("<value><double>NaN</double></value>")))
	f.Add([]byte(resp("<value><string>a&#13;b\r\nc</string></value>")))
	f.Add([]byte("<methodCall><methodName>m</methodName></methodCall>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, params, err := DecodeCall(data); err == nil {
			enc, err := AppendCall(nil, m, params...)
			if err != nil {
				t.Fatalf("encode decoded call: %v", err)
			}
			m2, params2, err := DecodeCall(enc)
			if err != nil {
				t.Fatalf("decode encoded call: %v\n%q", err, enc)
			}
			if m2 != m || !equal(params, params2) {
				t.Fatalf("call round trip: %q %#v became %q %#v", m, params, m2, params2)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodeCall error %v does not wrap ErrMalformed", err)
		}
		v, err := DecodeResponse(data)
		var fault *Fault
		switch {
		case errors.As(err, &fault):
			v2, err := DecodeResponse(AppendFault(nil, fault))
			var fault2 *Fault
			if v2 != nil || !errors.As(err, &fault2) || *fault2 != *fault {
				t.Fatalf("fault round trip: %+v became %v, %v", fault, v2, err)
			}
		case err != nil:
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeResponse error %v does not wrap ErrMalformed", err)
			}
		default:
			enc, err := AppendResponse(nil, v)
			if err != nil {
				t.Fatalf("encode decoded response: %v", err)
			}
			v2, err := DecodeResponse(enc)
			if err != nil {
				t.Fatalf("decode encoded response: %v\n%q", err, enc)
			}
			if !equal(v, v2) {
				t.Fatalf("response round trip: %#v became %#v", v, v2)
			}
			if enc2, _ := AppendResponse(nil, v2); !bytes.Equal(enc, enc2) {
				t.Fatalf("encoding not stable:\n%q\n%q", enc, enc2)
			}
		}
	})
}

// equal is reflect.DeepEqual for decoded values, except that NaN equals NaN
// and floats compare bit for bit (so -0.0 differs from 0.0).
func equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case int, bool, string:
		return a == b
	case float64:
		b, ok := b.(float64)
		return ok && (math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b))
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Equal(b)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case Struct:
		b, ok := b.(Struct)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i].Name != b[i].Name || !equal(a[i].Value, b[i].Value) {
				return false
			}
		}
		return true
	}
	return false
}
