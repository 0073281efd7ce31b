package supervise

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseEnvLine(t *testing.T) {
	tests := []struct {
		line, want string
		ok         bool
		err        string
	}{
		{line: "", ok: false},
		{line: "   # a comment", ok: false},
		{line: "A=1", want: "A=1", ok: true},
		{line: "  export B = two words  ", want: "B=two words", ok: true},
		{line: "C=value # trailing comment", want: "C=value", ok: true},
		{line: "D=a#b", want: "D=a#b", ok: true},
		{line: `E='single $HOME \n "x"'`, want: `E=single $HOME \n "x"`, ok: true},
		{line: `F="double \"q\" \\ \$ line\nnext"`, want: "F=double \"q\" \\ $ line\nnext", ok: true},
		{line: "G=", want: "G=", ok: true},
		{line: `H="unterminated`, err: "unterminated"},
		{line: `I='a' b`, err: "trailing text"},
		{line: "no equals sign", err: "is not KEY=VALUE"},
		{line: "1X=bad key", err: "is not KEY=VALUE"},
		{line: "A-B=bad key", err: "is not KEY=VALUE"},
	}
	for _, tt := range tests {
		kv, ok, err := parseEnvLine(tt.line)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want one with %q", tt.line, err, tt.err)
			}
		case err != nil || ok != tt.ok || kv != tt.want:
			t.Errorf("%q: got %q, %v, %v; want %q, %v", tt.line, kv, ok, err, tt.want, tt.ok)
		}
	}
}

func TestReadEnvFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := write("a.env", "X=from-a\nY=from-a\n")
	b := write("b.env", "# b overrides a\nY=from-b\nZ=from-b\n")
	bad := write("bad.env", "OK=1\nnot a line\n")
	missing := filepath.Join(dir, "missing.env")

	env, err := readEnvFiles([]EnvFile{{Path: a}, {Path: missing, Optional: true}, {Path: b}})
	if want := []string{"X=from-a", "Y=from-b", "Z=from-b"}; err != nil || !slices.Equal(env, want) {
		t.Errorf("a, -missing, b: %q, %v; want %q", env, err, want)
	}
	if _, err := readEnvFiles([]EnvFile{{Path: missing}}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing file: %v, want an error naming it", err)
	}
	if _, err := readEnvFiles([]EnvFile{{Path: bad}}); err == nil || !strings.Contains(err.Error(), bad+":2:") {
		t.Errorf("a bad line: %v, want an error naming %s:2", err, bad)
	}
	if _, err := readEnvFiles([]EnvFile{{Path: dir}}); err == nil {
		t.Error("a directory as an environment file: no error")
	}
}

func TestLoadEnvironmentFile(t *testing.T) {
	c, dir := mustLoad(t, "[program:web]\ncommand=x\nenvironment_file = base.env, -/etc/keeper/%(program_name)s.env\n")
	got := c.Groups[0].Processes[0].EnvFiles
	want := []EnvFile{{Path: filepath.Join(dir, "base.env")}, {Path: "/etc/keeper/web.env", Optional: true}}
	if !slices.Equal(got, want) {
		t.Errorf("environment_file: %+v, want %+v", got, want)
	}
	_, _, err := load(t, "[program:web]\ncommand=x\nenvironment_file = a.env,,b.env\n")
	if err == nil || !strings.Contains(err.Error(), ":3: [program:web] environment_file:") {
		t.Errorf("an empty path in environment_file: %v, want an error with file:line", err)
	}
}
