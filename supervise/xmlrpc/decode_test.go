package xmlrpc

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func resp(value string) string {
	return "<?xml version='1.0'?><methodResponse><params><param>" + value + "</param></params></methodResponse>"
}

func TestDecodeResponseLenient(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"i4", resp("<value><i4>7</i4></value>"), 7},
		{"int", resp("<value><int>-7</int></value>"), -7},
		{"i8", resp("<value><i8>1099511627776</i8></value>"), 1099511627776},
		{"int spaces and plus", resp("<value><int> +12\n</int></value>"), 12},
		{"untyped string", resp("<value>  spaced  </value>"), "  spaced  "},
		{"empty untyped", resp("<value></value>"), ""},
		{"self-closing value", resp("<value/>"), ""},
		{"empty string", resp("<value><string/></value>"), ""},
		{"string keeps spaces", resp("<value><string> a\tb </string></value>"), " a\tb "},
		{"entities and cdata", resp("<value><string>&lt;&amp;&#x263A;&#13;<![CDATA[<x>]]></string></value>"), "<&\u263a\r<x>"},
		{"comment inside", resp("<value><string>a<!-- c -->b</string></value>"), "ab"},
		{"crlf normalised", resp("<value><string>a\r\nb</string></value>"), "a\nb"},
		{"boolean", resp("<value><boolean>1</boolean></value>"), true},
		{"boolean word", resp("<value><boolean> false </boolean></value>"), false},
		{"double", resp("<value><double>-1.5e3</double></value>"), -1500.0},
		{"double overflow", resp("<value><double>1e400</double></value>"), math.Inf(1)},
		{"nil", resp("<value><nil/></value>"), nil},
		{"namespaced nil", resp("<value><ex:nil xmlns:ex='http://ws.apache.org/xmlrpc/namespaces/extensions'/></value>"), nil},
		{"base64 wrapped", resp("<value><base64>\naGVs\nbG8=\n</base64></value>"), []byte("hello")},
		{"base64 unpadded", resp("<value><base64>aGVsbG8</base64></value>"), []byte("hello")},
		{"base64 empty", resp("<value><base64></base64></value>"), []byte{}},
		{"datetime", resp("<value><dateTime.iso8601>20240229T23:59:58</dateTime.iso8601></value>"), time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC)},
		{"datetime dashes", resp("<value><dateTime.iso8601>2024-02-29T23:59:58Z</dateTime.iso8601></value>"), time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC)},
		{"whitespace everywhere", "\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n<methodResponse>\n <params>\n  <param>\n   <value>\n    <array>\n     <data>\n      <value><int>1</int></value>\n      <value>x</value>\n     </data>\n    </array>\n   </value>\n  </param>\n </params>\n</methodResponse>\n\n",
			[]any{1, "x"}},
		{"array without data", resp("<value><array><value>1</value></array></value>"), []any{"1"}},
		{"empty array", resp("<value><array><data/></array></value>"), []any{}},
		{"struct order kept", resp("<value><struct><member><name>z</name><value><int>1</int></value></member><member><value>v</value><name>a</name></member></struct></value>"),
			Struct{{"z", 1}, {"a", "v"}}},
		{"struct nameless member", resp("<value><struct><member><value>v</value></member></struct></value>"), Struct{{"", "v"}}},
		{"empty struct", resp("<value><struct></struct></value>"), Struct{}},
		{"unknown elements outside values skipped", "<methodResponse><junk><a/>text</junk><params><foo/><param><bar/><value><int>3</int></value></param></params></methodResponse>", 3},
		{"empty params", "<methodResponse><params/></methodResponse>", nil},
		{"latin-1 declared", "<?xml version='1.0' encoding='ISO-8859-1'?><methodResponse><params><param><value>caf\xe9</value></param></params></methodResponse>", "caf\u00e9"},
		{"doctype ignored", "<!DOCTYPE methodResponse><methodResponse><params><param><value>x</value></param></params></methodResponse>", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeResponse([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeResponse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeFault(t *testing.T) {
	in := "<methodResponse><fault><value><struct><member><name>faultString</name><value>NO_FILE</value></member>" +
		"<member><name>faultCode</name><value><i4>50</i4></value></member></struct></value></fault></methodResponse>"
	v, err := DecodeResponse([]byte(in))
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("DecodeResponse = %v, %v; want a *Fault", v, err)
	}
	if *f != (Fault{Code: 50, String: "NO_FILE"}) {
		t.Errorf("fault = %+v", *f)
	}
	if errors.Is(err, ErrMalformed) {
		t.Errorf("a fault is not malformed")
	}
	if got := f.Error(); got != "fault 50: NO_FILE" {
		t.Errorf("Error() = %q", got)
	}
}

func TestDecodeCall(t *testing.T) {
	tests := []struct {
		in     string
		method string
		params []any
	}{
		{"<methodCall><methodName>supervisor.getState</methodName></methodCall>", "supervisor.getState", []any{}},
		{"<methodCall><methodName>a.b</methodName><params/></methodCall>", "a.b", []any{}},
		{"<?xml version='1.0'?>\n<methodCall>\n<methodName> sp </methodName>\n<params>\n<param>\n<value><string>x</string></value>\n</param>\n<param><value><i4>2</i4></value></param>\n</params>\n</methodCall>\n",
			" sp ", []any{"x", 2}},
	}
	for _, tt := range tests {
		m, params, err := DecodeCall([]byte(tt.in))
		if err != nil {
			t.Errorf("DecodeCall(%q): %v", tt.in, err)
			continue
		}
		if m != tt.method || !reflect.DeepEqual(params, tt.params) {
			t.Errorf("DecodeCall(%q) = %q, %#v; want %q, %#v", tt.in, m, params, tt.method, tt.params)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	deep := strings.Repeat("<value><array><data>", MaxDepth+1) + strings.Repeat("</data></array></value>", MaxDepth+1)
	deepStruct := strings.Repeat("<value><struct><member><name>a</name>", MaxDepth+1) + strings.Repeat("</member></struct></value>", MaxDepth+1)
	call := func(body string) string {
		return "<methodCall><methodName>m</methodName><params>" + body + "</params></methodCall>"
	}
	tests := []struct {
		name string
		in   string
		call bool
	}{
		{"empty", "", false},
		{"not xml", "hello", false},
		{"truncated", "<methodResponse><params><param><value><int>1</int>", false},
		{"mismatched tags", resp("<value><int>1</i4></value>"), false},
		{"wrong root", "<methodCall><methodName>x</methodName></methodCall>", false},
		{"two roots", "<methodResponse><params/></methodResponse><methodResponse/>", false},
		{"text outside root", "<methodResponse><params/></methodResponse>junk", false},
		{"no params no fault", "<methodResponse></methodResponse>", false},
		{"two params", "<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>", false},
		{"param without value", resp(""), false},
		{"unknown type", resp("<value><bogus>1</bogus></value>"), false},
		{"huge int", resp("<value><int>99999999999999999999999</int></value>"), false},
		{"bad int", resp("<value><int>1.5</int></value>"), false},
		{"empty int", resp("<value><i4/></value>"), false},
		{"bad boolean", resp("<value><boolean>2</boolean></value>"), false},
		{"bad double", resp("<value><double>one</double></value>"), false},
		{"bad base64", resp("<value><base64>!!!!</base64></value>"), false},
		{"bad datetime", resp("<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>"), false},
		{"element in int", resp("<value><int><b/>1</int></value>"), false},
		{"text in nil", resp("<value><nil>x</nil></value>"), false},
		{"two types in value", resp("<value><int>1</int><int>2</int></value>"), false},
		{"member without value", resp("<value><struct><member><name>a</name></member></struct></value>"), false},
		{"fault not struct", "<methodResponse><fault><value><int>1</int></value></fault></methodResponse>", false},
		{"fault code not int", "<methodResponse><fault><value><struct><member><name>faultCode</name><value>x</value></member></struct></value></fault></methodResponse>", false},
		{"deep array", resp(deep), false},
		{"deep struct", resp(deepStruct), false},
		{"invalid utf-8", resp("<value>\xff</value>"), false},
		{"control char", resp("<value>\x01</value>"), false},
		{"control char reference", resp("<value>&#1;</value>"), false},
		{"undefined entity", resp("<value>&bogus;</value>"), false},
		{"unsupported charset", "<?xml version='1.0' encoding='EBCDIC'?><methodResponse><params/></methodResponse>", false},
		{"call without method name", "<methodCall><params/></methodCall>", true},
		{"call with empty method name", "<methodCall><methodName></methodName></methodCall>", true},
		{"call with element in name", "<methodCall><methodName><x/></methodName></methodCall>", true},
		{"call deep", call("<param>" + deep + "</param>"), true},
		{"response as call", "<methodResponse><params/></methodResponse>", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			op := "decode response: "
			if tt.call {
				op = "decode call: "
				_, _, err = DecodeCall([]byte(tt.in))
			} else {
				_, err = DecodeResponse([]byte(tt.in))
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.HasPrefix(err.Error(), op) {
				t.Errorf("err %q does not start with %q", err, op)
			}
		})
	}
}

// TestDecodeDepthLimitIsExact checks MaxDepth levels decode and one more does not.
func TestDecodeDepthLimitIsExact(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(resp(strings.Repeat("<value><array><data>", n) + strings.Repeat("</data></array></value>", n)))
	}
	if _, err := DecodeResponse(nest(MaxDepth)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	if _, err := DecodeResponse(nest(MaxDepth + 1)); err == nil {
		t.Errorf("depth %d decoded", MaxDepth+1)
	}
	v, _ := DecodeResponse(nest(MaxDepth))
	if _, err := AppendResponse(nil, v); err != nil {
		t.Errorf("encode what was decoded at depth %d: %v", MaxDepth, err)
	}
}

func TestStructGet(t *testing.T) {
	s := Struct{{"a", 1}, {"b", 2}, {"a", 3}}
	if v, ok := s.Get("a"); !ok || v != 3 {
		t.Errorf("Get(a) = %v, %v; want 3 (last wins)", v, ok)
	}
	if v, ok := s.Get("c"); ok || v != nil {
		t.Errorf("Get(c) = %v, %v", v, ok)
	}
}

func BenchmarkDecodeProcessInfo50(b *testing.B) {
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
		if _, err := DecodeResponse(data); err != nil {
			b.Fatal(err)
		}
	}
}
