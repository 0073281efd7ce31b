package xmlrpc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keeper/internal/peer"
)

// pyRedump reads every *.xml file in a directory with xmlrpc.client.loads and
// writes, beside it, what xmlrpc.client.dumps makes of the decoded values; for
// *.repr.xml files it writes repr() of the decoded params instead.
const pyRedump = `
import glob, sys, xmlrpc.client as x
for path in sorted(glob.glob(sys.argv[1] + "/*.xml")):
    data = open(path, encoding="utf-8", newline="").read()
    try:
        params, method = x.loads(data, use_builtin_types=True)
        if path.endswith(".repr.xml"):
            out = repr(params)
        elif method is None:
            out = x.dumps(params, methodresponse=True, allow_none=True)
        else:
            out = x.dumps(params, method, allow_none=True)
    except x.Fault as f:
        out = x.dumps(f, methodresponse=True)
    open(path[:-4] + ".out", "w", encoding="utf-8", newline="").write(out)
`

// TestPythonDecodesOurs has Python's xmlrpc.client read what the encoder
// wrote: re-encoded by Python it must give the same bytes back.
func TestPythonDecodesOurs(t *testing.T) {
	py := peer.Need(t, "python3")
	dir := t.TempDir()
	docs := map[string][]byte{}
	resp := func(name string, v any) {
		b, err := AppendResponse(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = b
	}
	resp("int", 2147483647)
	resp("negint", -1)
	resp("string", "a <b> & c ]]> \"q\" 'q' \t\n")
	resp("unicode", "h\u00e9llo \u4e16\u754c \U0001F389")
	resp("nested", []any{1, []any{2, []any{"three", Struct{{"z", 1}, {"a", []any{}}, {"m", Struct{}}}}}, 4.25, false, nil})
	resp("process_infos", []Struct{processInfo("a", 1), processInfo("b", 2)})
	resp("base64", []byte(strings.Repeat("\x00\xff binary ", 20)))
	resp("datetime", time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC))
	resp("doubles", []float64{0.1, 1e300, -1e-300, 3.0, 1e16, 123.456})
	resp("fault", &Fault{Code: 70, String: "NOT_RUNNING: <gateone> & co"})
	call, err := AppendCall(nil, "supervisor.tailProcessStdoutLog", "gate<one>", 0, 1600)
	if err != nil {
		t.Fatal(err)
	}
	docs["call"] = call
	docs["noparams"], _ = AppendCall(nil, "system.listMethods")
	// Beyond Python's dumps: values it reads but would not write itself.
	reprs := map[string]string{
		"bigint": "(1099511627776,)",
		"dirty":  "('\ufffd[31mred\ufffd[0m\\r\\n\ufffd',)",
	}
	docs["bigint.repr"], _ = AppendResponse(nil, int64(1)<<40)
	docs["dirty.repr"], _ = AppendResponse(nil, "\x1b[31mred\x1b[0m\r\n\xff")

	for name, b := range docs {
		if err := os.WriteFile(filepath.Join(dir, name+".xml"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(py, "-c", pyRedump, dir).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	for name, ours := range docs {
		got, err := os.ReadFile(filepath.Join(dir, name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		want := ours
		if r, ok := reprs[strings.TrimSuffix(name, ".repr")]; ok {
			want = []byte(r)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: Python read our\n%q\nas\n%q\nwant %q", name, ours, got, want)
		}
	}
}

// pyDump writes the documents the decoder must read, with Python's dumps.
const pyDump = `
import datetime, sys, xmlrpc.client as x
cases = {
    "ints": ([0, 1, -1, 2147483647, -2147483648],),
    "strings": ("<>&\"' ]]>", "", " \t\n ", "\u00e9\u4e16\U0001F389", "\r"),
    "nested": ([[[[]]], {"b": {"a": [1, {"x": None}]}}, {"z": 1, "a": 2, "m": 3}],),
    "binary": (x.Binary(bytes(range(256))),),
    "when": (datetime.datetime(2038, 1, 19, 3, 14, 8),),
    "floats": ([0.1, -0.0, 1e-300, 2.5e15, float("inf")],),
}
for name, params in cases.items():
    open(sys.argv[1] + "/" + name + ".call", "w", encoding="utf-8", newline="").write(
        x.dumps(params, "keeper.test", allow_none=True))
open(sys.argv[1] + "/fault.resp", "w").write(x.dumps(x.Fault(2, "INCORRECT_PARAMETERS: <&>"), methodresponse=True))
`

// TestWeDecodePython has the decoder read what Python's dumps wrote: encoded
// again it must give Python's bytes back (except a carriage return, which we
// write as &#13;).
func TestWeDecodePython(t *testing.T) {
	py := peer.Need(t, "python3")
	dir := t.TempDir()
	if out, err := exec.Command(py, "-c", pyDump, dir).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 7 {
		t.Fatalf("python wrote %d files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reencode(data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		// Python writes a carriage return raw, which any XML parser reads as a
		// newline; we escape it so it survives.
		want := bytes.ReplaceAll(data, []byte("<string>\r</string>"), []byte("<string>\n</string>"))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: decoded and encoded again\n got %q\nwant %q", filepath.Base(f), got, want)
		}
	}
}
