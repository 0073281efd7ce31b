package ini

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dump renders a File as one line per section and option: "[name]@line" and "key=value@line", with
// newlines in values shown as "\n".
func dump(f *File) string {
	var b strings.Builder
	for _, s := range f.Sections {
		fmt.Fprintf(&b, "[%s]@%d\n", s.Name, s.Line)
		for _, o := range s.Options {
			fmt.Fprintf(&b, "%s=%s@%d\n", o.Key, strings.ReplaceAll(o.Value, "\n", `\n`), o.Line)
		}
	}
	return b.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"blank and comments only", "\n; a\n# b\n   \n", ""},
		{"equals and colon", "[s]\na = 1\nb: 2\nc=3\nd:4\n", "[s]@1\na=1@2\nb=2@3\nc=3@4\nd=4@5\n"},
		{"first delimiter splits", "[s]\na:b=c\nd=e:f\n", "[s]@1\na=b=c@2\nd=e:f@3\n"},
		{"keys lower-cased", "[S]\nKey_One = V\n", "[S]@1\nkey_one=V@2\n"},
		{"key trailing space trimmed", "[s]\nkey   =   v  \n", "[s]@1\nkey=v@2\n"},
		{"empty value", "[s]\nk =\n", "[s]@1\nk=@2\n"},
		{"section name kept as written", "[ program:x ]\n", "[ program:x ]@1\n"},
		{"section name up to last bracket", "[a]b]\n", "[a]b]@1\n"},
		{"section with inline comment", "[s] ; the s\nk=v\n", "[s]@1\nk=v@2\n"},
		{"inline semicolon after space", "[s]\nk = v ; comment\n", "[s]@1\nk=v@2\n"},
		{"inline hash after tab", "[s]\nk = v\t# comment\n", "[s]@1\nk=v@2\n"},
		{"semicolon without space kept", "[s]\na=b;c\n", "[s]@1\na=b;c@2\n"},
		{"hash without space kept", "[s]\na=b#c\n", "[s]@1\na=b#c@2\n"},
		{"quotes do not protect", "[s]\na=\"b ;c\"\n", "[s]@1\na=\"b@2\n"},
		// Python 3.13 takes the earliest prefix after whitespace; 3.11 took the first found by a per-prefix scan.
		{"earliest comment wins", "[s]\na=x;y ;z #w\n", "[s]@1\na=x;y@2\n"},
		{"indented full-line comment", "[s]\n  ; c\nk=v\n", "[s]@1\nk=v@3\n"},
		{"continuation", "[s]\nk = a\n  b\n\tc\n", "[s]@1\nk=a\\nb\\nc@2\n"},
		{"continuation of empty first line", "[s]\nk =\n  a\n  b\n", "[s]@1\nk=\\na\\nb@2\n"},
		{"continuation keeps inner blank lines", "[s]\nk = a\n\n  b\nj=1\n", "[s]@1\nk=a\\n\\nb@2\nj=1@5\n"},
		{"trailing blank lines dropped", "[s]\nk = a\n  b\n\n\n[t]\n", "[s]@1\nk=a\\nb@2\n[t]@6\n"},
		{"comment line inside value", "[s]\nk = a\n; note\n  b\n", "[s]@1\nk=a\\nb@2\n"},
		{"continuation strips inline comment", "[s]\nk = a\n  b ;c\n", "[s]@1\nk=a\\nb@2\n"},
		{"indented section header continues value", "[s]\nk = a\n  [t]\n", "[s]@1\nk=a\\n[t]@2\n"},
		{"indented first option", "[s]\n  k = a\n  j = b\n    c\n", "[s]@1\nk=a@2\nj=b\\nc@3\n"},
		{"indented line after header is an option", "[s]\n  k = a\n", "[s]@1\nk=a@2\n"},
		{"crlf", "[s]\r\nk = v\r\n  w\r\n", "[s]@1\nk=v\\nw@2\n"},
		{"bom", "\ufeff[s]\nk=v\n", "[s]@1\nk=v@2\n"},
		{"no final newline", "[s]\nk=v", "[s]@1\nk=v@2\n"},
		{"same key in two sections", "[a]\nk=1\n[b]\nk=2\n", "[a]@1\nk=1@2\n[b]@3\nk=2@4\n"},
		{"percent kept raw", "[s]\nk=%(here)s/%%\n", "[s]@1\nk=%(here)s/%%@2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tt.in), "t.conf")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := dump(f); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			for _, s := range f.Sections {
				if s.File != "t.conf" {
					t.Errorf("section %s file %q", s.Name, s.File)
				}
				for _, o := range s.Options {
					if o.File != "t.conf" {
						t.Errorf("option %s file %q", o.Key, o.File)
					}
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no delimiter", "[s]\njunk\n", `parse t.conf:2: line is not "key = value" or a [section]`},
		{"empty key", "[s]\n= v\n", `parse t.conf:2: line is not "key = value" or a [section]`},
		{"empty section name", "[]\n", `parse t.conf:1: line is not "key = value" or a [section]`},
		{"unclosed section", "[s\n", `parse t.conf:1: line is not "key = value" or a [section]`},
		{"option before section", "k = v\n", "parse t.conf:1: option before the first [section]"},
		{"duplicate section", "[s]\n[t]\n[s]\n", "parse t.conf:3: section [s] is already defined at line 1"},
		{"duplicate key", "[s]\nk=1\nK = 2\n", "parse t.conf:3: [s] k is already set at line 2"},
		{"invalid utf-8", "[s]\nk=\xff\n", "parse t.conf:2: line is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in), "t.conf")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
			var ie *Error
			if !errors.As(err, &ie) || ie.File != "t.conf" || ie.Line == 0 {
				t.Errorf("error %#v does not carry file and line", err)
			}
		})
	}
}

func TestParseWarnsTextAfterHeader(t *testing.T) {
	f, err := Parse(strings.NewReader("[s] extra\n"), "t.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || f.Warnings[0].String() != `t.conf:1: text "extra" after [s] is ignored` {
		t.Errorf("warnings %v", f.Warnings)
	}
}

func TestSectionGet(t *testing.T) {
	f, err := Parse(strings.NewReader("[s]\nKey=v\n"), "t.conf")
	if err != nil {
		t.Fatal(err)
	}
	s := f.Section("s")
	if s == nil {
		t.Fatal("no section s")
	}
	if o := s.Get("KEY"); o == nil || o.Value != "v" || o.Line != 2 {
		t.Errorf("Get(KEY) = %+v", o)
	}
	if o := s.Get("other"); o != nil {
		t.Errorf("Get(other) = %+v", o)
	}
	if f.Section("S") != nil {
		t.Error("section names must be case-sensitive")
	}
}

func TestErrorFormat(t *testing.T) {
	inner := errors.New("boom")
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Op: "parse", File: "f", Line: 3, Msg: "bad"}, "parse f:3: bad"},
		{&Error{Op: "load", File: "f", Err: inner}, "load f: boom"},
		{&Error{Op: "load", File: "f", Line: 1, Msg: "x", Err: inner}, "load f:1: x: boom"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q want %q", got, tt.want)
		}
	}
	if !errors.Is(tests[1].e, inner) {
		t.Error("Error does not unwrap")
	}
}
