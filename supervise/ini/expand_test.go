package ini

import (
	"errors"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{
		"here":         "/etc/keeper",
		"program_name": "web",
		"process_num":  "3",
		"neg":          "-7",
		"big":          "123456789012345678901234567890",
		"ENV_HOME":     "/root",
		"a(b)c":        "nested",
	}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"%%", "%"},
		{"100%%", "100%"},
		{"%%(here)s", "%(here)s"},
		{"%(here)s/x", "/etc/keeper/x"},
		{"%(program_name)s_%(process_num)02d", "web_03"},
		{"%(process_num)d", "3"},
		{"%(process_num)i", "3"},
		{"%(process_num)u", "3"},
		{"%(process_num)ld", "3"},
		{"%(process_num)03d", "003"},
		{"%(process_num)-3d|", "3  |"},
		{"%(process_num)+d", "+3"},
		{"%(process_num) d", " 3"},
		{"%(process_num).3d", "003"},
		{"%(process_num)x", "3"},
		{"%(big)x", "18ee90ff6c373e0ee4e3f0ad2"},
		{"%(big)d", "123456789012345678901234567890"},
		{"%(neg)03d", "-07"},
		{"%(process_num)#o", "0o3"},
		{"%(process_num)s", "3"},
		{"%(program_name)5s", "  web"},
		{"%(program_name)-5s|", "web  |"},
		{"%(program_name)05s", "  web"},
		{"%(program_name).2s", "we"},
		{"%(ENV_HOME)s/.x", "/root/.x"},
		{"%(a(b)c)s", "nested"},
		{"x%(here)sy%(here)sz", "x/etc/keeperyz/etc/keeperz"[:0] + "x/etc/keepery/etc/keeperz"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, vars)
		if err != nil {
			t.Errorf("Expand(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	vars := map[string]string{"here": "/x", "name": "abc", "ENV_A": "1", "ENV_B": "2"}
	tests := []struct{ in, want string }{
		{"%(nope)s", `expand %(nope)s: unknown name "nope" (names: here, name and ENV_X for 2 environment variables)`},
		{"%(name)d", `expand %(name)d: name is "abc", not an integer`},
		{"100%", `expand "100%": "%" at offset 3 is not followed by "%" or "(name)"`},
		{"%s", `expand "%s": "%" at offset 0 is not followed by "%" or "(name)"`},
		{"%(here", "expand %(here: no closing parenthesis"},
		{"%(here)", "expand %(here): incomplete format"},
		{"%(here)5", "expand %(here)5: incomplete format"},
		{"%(here)f", `expand %(here)f: unsupported conversion 'f' (use s, d, i, u, x, X or o)`},
		{"%(here)*d", `expand %(here)*: unsupported conversion '*' (use s, d, i, u, x, X or o)`},
		{"%(here)99999s", "expand %(here)99999s: width or precision is too large"},
	}
	for _, tt := range tests {
		_, err := Expand(tt.in, vars)
		if err == nil {
			t.Errorf("Expand(%q) succeeded", tt.in)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Expand(%q) error\n%s\nwant\n%s", tt.in, err, tt.want)
		}
	}
	_, err := Expand("%(nope)s", vars)
	if !errors.Is(err, ErrUnknownName) {
		t.Errorf("error %v does not wrap ErrUnknownName", err)
	}
	_, err = Expand("%(nope)s", nil)
	if err == nil || !strings.Contains(err.Error(), "(names: none)") {
		t.Errorf("error with no vars: %v", err)
	}
}
