package ini

import (
	"errors"
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"/opt/gateone/gateone.py", []string{"/opt/gateone/gateone.py"}},
		{"a  b\tc\nd", []string{"a", "b", "c", "d"}},
		{`a "b c" d`, []string{"a", "b c", "d"}},
		{`a 'b "c" d'`, []string{"a", `b "c" d`}},
		{`'it''s'`, []string{"its"}},
		{`"a\"b\\c\d"`, []string{`a"b\c\d`}},
		{`'a\b'`, []string{`a\b`}},
		{`a\ b c`, []string{"a b", "c"}},
		{`\"x`, []string{`"x`}},
		{`x""y`, []string{"xy"}},
		{`'' ""`, []string{"", ""}},
		{"#x y", []string{"#x", "y"}},
		{"sh -c 'echo $HOME; exit 3'", []string{"sh", "-c", "echo $HOME; exit 3"}},
		{"a\\\nb", []string{"a\nb"}},
	}
	for _, tt := range tests {
		got, err := Split(tt.in)
		if err != nil {
			t.Errorf("Split(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Split(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{`"`, `'a`, `a\`, `"a\`, `a "b`} {
		if got, err := Split(bad); err == nil {
			t.Errorf("Split(%q) = %q, want an error", bad, got)
		}
	}
}

func TestKeyValues(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"A=1", []string{"A=1"}},
		{`A=1,B="x,y"`, []string{"A=1", "B=x,y"}},
		{`KEY="val",KEY2=val2`, []string{"KEY=val", "KEY2=val2"}},
		{"A = 1 , B = 2", []string{"A=1", "B=2"}},
		{"PATH=/usr/bin:/bin,LANG=C.UTF-8", []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}},
		{`HOME='/home/a b'`, []string{"HOME=/home/a b"}},
		{`A="",B=''`, []string{"A=", "B="}},
		{"A=1,\n  B=2", []string{"A=1", "B=2"}},
		{"A=1,B=2,A=3", []string{"A=3", "B=2"}},
		{"A=x#comment", []string{"A=x"}},
		{"A=x#c\nB", []string{"A=xB"}},
		{`A='q'x`, nil},  // a quoted token ends the word: A, =, 'q', x
		{"A=1;B=2", nil}, // supervisord accepts any single token between pairs; keeper only ","
	}
	for _, tt := range tests {
		got, err := KeyValues(tt.in)
		if tt.want == nil && tt.in != "" {
			if err == nil {
				t.Errorf("KeyValues(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("KeyValues(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("KeyValues(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"A", "A=", "A=1 B=2", "A=$HOME", `A="x`, "=1", "A:1"} {
		got, err := KeyValues(bad)
		if err == nil {
			t.Errorf("KeyValues(%q) = %q, want an error", bad, got)
		}
	}
	if _, err := KeyValues("A=1 B=2"); !errors.Is(err, ErrKeyValues) {
		t.Errorf("error %v does not wrap ErrKeyValues", err)
	}
}
