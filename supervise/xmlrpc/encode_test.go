package xmlrpc

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keeper/internal/peer"
)

func processInfo(name string, pid int) Struct {
	return Struct{
		{"name", name}, {"group", "gateone"}, {"description", "pid 1234, uptime 0:01:40"},
		{"start", 1700000000}, {"stop", 0}, {"now", 1700000100}, {"state", 20},
		{"statename", "RUNNING"}, {"spawnerr", ""}, {"exitstatus", 0},
		{"logfile", "/var/log/gateone.log"}, {"stdout_logfile", "/var/log/gateone.log"},
		{"stderr_logfile", ""}, {"pid", pid},
	}
}

func mustResponse(v any) func() ([]byte, error) {
	return func() ([]byte, error) { return AppendResponse(nil, v) }
}

// goldens builds in Go the values testdata/gen.py builds in Python.
var goldens = map[string]func() ([]byte, error){
	"response_string":       mustResponse("hello <world> & \"quotes\" 'single' ]]>"),
	"response_unicode":      mustResponse("h\u00e9llo \u2014 \u4e16\u754c \U0001F389 \ufffd"),
	"response_int":          mustResponse(42),
	"response_negative_int": mustResponse(int64(-2147483648)),
	"response_true":         mustResponse(true),
	"response_false":        mustResponse(false),
	"response_doubles": mustResponse([]float64{0.1, 1e100, 1e-07, 123456789012.0, -2.5, 1e16, 1e15,
		0.0001, 5e-324, 1.7976931348623157e308, 0.0, math.Copysign(0, -1), 100.0}),
	"response_nested": mustResponse([]any{1, "two", []any{3, []any{4.5, false}}, []any{}, Struct{},
		map[string]any{"a": Struct{{"b", []any{nil}}}}}),
	"response_process_info": mustResponse(processInfo("gateone", 1234)),
	"response_process_infos": mustResponse([]Struct{processInfo("p0", 100), processInfo("p1", 101),
		processInfo("p2", 102)}),
	"response_base64":       mustResponse(bytes.Repeat([]byte("\x00\x01binary\xff"), 10)),
	"response_empty_base64": mustResponse([]byte{}),
	"response_datetime":     mustResponse(time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC)),
	"response_nil":          mustResponse(nil),
	"response_empty_string": mustResponse(""),
	"fault": func() ([]byte, error) {
		return AppendResponse(nil, &Fault{Code: 10, String: "BAD_NAME: no <such> & process"})
	},
	"call_no_params": func() ([]byte, error) { return AppendCall(nil, "supervisor.getState") },
	"call_params": func() ([]byte, error) {
		return AppendCall(nil, "supervisor.stopProcess", "gateone", true)
	},
	"call_nested": func() ([]byte, error) {
		return AppendCall(nil, "keeper.test", []any{1, "a"}, Struct{{"k", Struct{{"x", []any{nil}}}}})
	},
}

func TestEncodeGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.xml")
	if len(files) != len(goldens) {
		t.Errorf("%d golden files, %d Go cases", len(files), len(goldens))
	}
	for name, build := range goldens {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := build()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoder output differs from Python's\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// TestDecodeGolden decodes what Python wrote and checks that encoding the
// result gives Python's bytes back.
func TestDecodeGolden(t *testing.T) {
	for name := range goldens {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := reencode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("decode+encode differs\n got: %q\nwant: %q", got, data)
			}
		})
	}
}

// reencode decodes a call or response and encodes it again.
func reencode(data []byte) ([]byte, error) {
	if bytes.Contains(data, []byte("<methodCall>")) {
		m, params, err := DecodeCall(data)
		if err != nil {
			return nil, err
		}
		return AppendCall(nil, m, params...)
	}
	v, err := DecodeResponse(data)
	var f *Fault
	if errors.As(err, &f) {
		return AppendFault(nil, f), nil
	}
	if err != nil {
		return nil, err
	}
	return AppendResponse(nil, v)
}

// TestGoldenFilesArePython regenerates the golden files with python3 and
// checks the committed ones match.
func TestGoldenFilesArePython(t *testing.T) {
	py := peer.Need(t, "python3")
	dir := t.TempDir()
	if out, err := exec.Command(py, "testdata/gen.py", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen.py: %v\n%s", err, out)
	}
	for name := range goldens {
		fresh, err := os.ReadFile(filepath.Join(dir, name+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		committed, _ := os.ReadFile(filepath.Join("testdata", name+".xml"))
		if !bytes.Equal(fresh, committed) {
			t.Errorf("testdata/%s.xml is stale: python3 testdata/gen.py writes %q", name, fresh)
		}
	}
}

func TestEncodeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a<b>&c\"d'e", "a&lt;b&gt;&amp;c\"d'e"},
		{"tab\tnl\ncr\r", "tab\tnl\ncr&#13;"},
		{"\x1b[31mred\x1b[0m", "\ufffd[31mred\ufffd[0m"},
		{"nul\x00del\x7f", "nul\ufffddel\x7f"},
		{"bad\xffutf8\xc3", "bad\ufffdutf8\ufffd"},
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd"}, // an encoded surrogate is invalid UTF-8
		{"\uffff\ufffe\ufffd", "\ufffd\ufffd\ufffd"},
		{"h\u00e9 \U0001F389", "h\u00e9 \U0001F389"},
	}
	for _, tt := range tests {
		if got := string(appendText(nil, tt.in)); got != tt.want {
			t.Errorf("appendText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEncodeSanitizedDecodes(t *testing.T) {
	in := "\x1b[1mlog\x00\r\n\xff\xfe \u2603"
	data, err := AppendResponse(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeResponse(data)
	if err != nil {
		t.Fatalf("decode sanitized string: %v\n%s", err, data)
	}
	if want := "\ufffd[1mlog\ufffd\r\n\ufffd\ufffd \u2603"; v != want {
		t.Errorf("got %q, want %q", v, want)
	}
}

type state int

func TestEncodeTypes(t *testing.T) {
	n := 7
	var nilp *int
	tests := []struct {
		v    any
		want string // the <value> element
	}{
		{int8(-3), "<value><int>-3</int></value>\n"},
		{uint16(9), "<value><int>9</int></value>\n"},
		{int64(1) << 40, "<value><int>1099511627776</int></value>\n"},
		{state(20), "<value><int>20</int></value>\n"},
		{float32(0.5), "<value><double>0.5</double></value>\n"},
		{math.Inf(-1), "<value><double>-inf</double></value>\n"},
		{math.NaN(), "<value><double>nan</double></value>\n"},
		{&n, "<value><int>7</int></value>\n"},
		{nilp, "<value><nil/></value>"},
		{[]string{"a", "<"}, "<value><array><data>\n<value><string>a</string></value>\n<value><string>&lt;</string></value>\n</data></array></value>\n"},
		{[2]bool{true, false}, "<value><array><data>\n<value><boolean>1</boolean></value>\n<value><boolean>0</boolean></value>\n</data></array></value>\n"},
		{map[string]int{"b": 2, "a": 1}, "<value><struct>\n<member>\n<name>a</name>\n<value><int>1</int></value>\n</member>\n<member>\n<name>b</name>\n<value><int>2</int></value>\n</member>\n</struct></value>\n"},
		{time.Date(2001, 2, 3, 4, 5, 6, 7, time.FixedZone("X", 3600)), "<value><dateTime.iso8601>20010203T03:05:06</dateTime.iso8601></value>\n"},
	}
	for _, tt := range tests {
		got, err := appendValue(nil, tt.v, 0)
		if err != nil {
			t.Errorf("appendValue(%#v): %v", tt.v, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("appendValue(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	loop := []any{nil}
	loop[0] = loop
	tests := []struct {
		v    any
		want error
	}{
		{struct{ A int }{1}, ErrUnsupportedType},
		{map[int]int{1: 1}, ErrUnsupportedType},
		{uint64(math.MaxUint64), ErrUnsupportedType},
		{make(chan int), ErrUnsupportedType},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ErrUnsupportedType},
		{Struct{{"x", []any{func() {}}}}, ErrUnsupportedType},
		{loop, nil},
	}
	for _, tt := range tests {
		out, err := AppendResponse([]byte("keep"), tt.v)
		if err == nil {
			t.Errorf("AppendResponse(%T) succeeded", tt.v)
			continue
		}
		if string(out) != "keep" {
			t.Errorf("AppendResponse(%T) left %q in dst", tt.v, out)
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("AppendResponse(%T) = %v, want %v", tt.v, err, tt.want)
		}
		if !strings.HasPrefix(err.Error(), "encode response: ") {
			t.Errorf("error %q does not start with the operation", err)
		}
	}
	if _, err := AppendCall(nil, "m", 1, struct{}{}); err == nil || !strings.Contains(err.Error(), "param 2") {
		t.Errorf("AppendCall error = %v, want one naming param 2", err)
	}
}

func TestPyFloat(t *testing.T) {
	tests := map[float64]string{
		1: "1.0", 1.5: "1.5", 1e16: "1e+16", 1e15: "1000000000000000.0", 123456789012345678: "1.2345678901234568e+17",
		0.0001: "0.0001", 0.00001: "1e-05", 1.25e-5: "1.25e-05", 1e-100: "1e-100", -1e22: "-1e+22", 0.3: "0.3",
		2.5e15: "2500000000000000.0", 9999999999999998: "9999999999999998.0",
	}
	for f, want := range tests {
		if got := string(appendPyFloat(nil, f)); got != want {
			t.Errorf("appendPyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func BenchmarkEncodeProcessInfo50(b *testing.B) {
	infos := make([]any, 50)
	for i := range infos {
		infos[i] = processInfo(fmt.Sprintf("program_%02d", i), 1000+i)
	}
	buf, _ := AppendResponse(nil, infos)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendResponse(buf[:0], infos); err != nil {
			b.Fatal(err)
		}
	}
}
