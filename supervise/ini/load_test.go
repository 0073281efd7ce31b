package ini

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTree creates files (relative path -> content) under a new temporary directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sectionNames(f *File) []string {
	var names []string
	for _, s := range f.Sections {
		names = append(names, s.Name)
	}
	return names
}

func warningTexts(f *File) []string {
	var out []string
	for _, w := range f.Warnings {
		out = append(out, w.String())
	}
	return out
}

func TestLoadIncludes(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.conf":          "[supervisord]\n[include]\nfiles = conf.d/*.ini one.conf %(here)s/abs/*.conf %(ENV_X)s.conf\n",
		"conf.d/b.ini":       "[program:b]\ncommand=b\n",
		"conf.d/a.ini":       "[program:a]\ncommand=a\n",
		"conf.d/.hidden.ini": "[program:hidden]\ncommand=h\n",
		"conf.d/c.conf":      "[program:c]\ncommand=c\n",
		"one.conf":           "[program:one]\ncommand=%(here)s/one\n",
		"abs/z.conf":         "[program:z]\ncommand=z\n",
		"env.conf":           "[program:env]\ncommand=e\n",
	})
	f, err := Load(filepath.Join(dir, "main.conf"), map[string]string{"ENV_X": "env"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"supervisord", "include", "program:a", "program:b", "program:one", "program:z", "program:env"}
	if got := sectionNames(f); !reflect.DeepEqual(got, want) {
		t.Errorf("sections %q, want %q", got, want)
	}
	wantFiles := []string{"main.conf", "conf.d/a.ini", "conf.d/b.ini", "one.conf", "abs/z.conf", "env.conf"}
	for i := range wantFiles {
		wantFiles[i] = filepath.Join(dir, wantFiles[i])
	}
	if !reflect.DeepEqual(f.Files, wantFiles) {
		t.Errorf("files %q, want %q", f.Files, wantFiles)
	}
	one := f.Section("program:one").Get("command")
	if one.File != filepath.Join(dir, "one.conf") || one.Line != 2 || one.Value != "%(here)s/one" {
		t.Errorf("included option %+v", one)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings %q", warningTexts(f))
	}
}

func TestLoadIncludeWarnings(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.conf":      "[include]\nfiles = none/*.conf sub.conf sub.conf *.conf dir*\n",
		"sub.conf":       "[include]\nfiles = never.conf\n[program:x]\ncommand=x\n",
		"dir1/keep.conf": "",
	})
	f, err := Load(filepath.Join(dir, "main.conf"), nil)
	if err != nil {
		t.Fatal(err)
	}
	main, sub := filepath.Join(dir, "main.conf"), filepath.Join(dir, "sub.conf")
	want := []string{
		main + ":2: [include] files: no file matches " + filepath.Join(dir, "none/*.conf"),
		sub + ":1: [include] in an included file is ignored (only the main file's [include] is read)",
		main + ":2: [include] files: " + sub + " is already read; not read again",
		main + ":2: [include] files: " + main + " is already read; not read again",
		main + ":2: [include] files: " + sub + " is already read; not read again",
		main + ":2: [include] files: " + filepath.Join(dir, "dir1") + " is a directory; skipped",
	}
	if got := warningTexts(f); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := sectionNames(f); !reflect.DeepEqual(got, []string{"include", "include", "program:x"}) {
		t.Errorf("sections %q", got)
	}
	if f.Section("include").File != main {
		t.Error("Section(include) is not the main file's")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // with DIR for the directory
	}{
		{"missing file", map[string]string{}, "load DIR/main.conf: no such file or directory"},
		{"include without files", map[string]string{"main.conf": "[include]\n"},
			`load DIR/main.conf:1: [include] has no "files" option`},
		{"include expansion", map[string]string{"main.conf": "[include]\nfiles=%(nope)s\n"},
			`load DIR/main.conf:2: [include] files: expand %(nope)s: unknown name "nope" (names: here)`},
		{"bad glob", map[string]string{"main.conf": "[include]\nfiles=[\n"},
			"load DIR/main.conf:2: [include] files: glob DIR/[: syntax error in pattern"},
		{"syntax error in included file", map[string]string{"main.conf": "[include]\nfiles=a.conf\n", "a.conf": "[x]\njunk\n"},
			`parse DIR/a.conf:2: line is not "key = value" or a [section]`},
		{"section in two files", map[string]string{"main.conf": "[program:x]\n[include]\nfiles=a.conf\n", "a.conf": "\n[program:x]\n"},
			"load DIR/a.conf:2: section [program:x] is already defined at DIR/main.conf:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			_, err := Load(filepath.Join(dir, "main.conf"), nil)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err.Error() != want {
				t.Errorf("error\n%s\nwant\n%s", err, want)
			}
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "nope.conf"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error %v is not fs.ErrNotExist", err)
	}
}

func TestGlob(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.conf": "", "b.conf": "", ".c.conf": "", "x1": "", "x2": "", `back\slash`: "",
		".d/e.conf": "", "f/.g.conf": "",
	})
	tests := []struct {
		pattern string
		want    []string
	}{
		{"*.conf", []string{"a.conf", "b.conf"}},
		{".*.conf", []string{".c.conf"}},
		{"x[!1]", []string{"x2"}},
		{"x?", []string{"x1", "x2"}},
		{`back\slash`, []string{`back\slash`}},
		{"*/*.conf", nil},
		{".d/*.conf", []string{".d/e.conf"}},
		{"f/.*", []string{"f/.g.conf"}},
		{"./a.conf", []string{"a.conf"}},
	}
	for _, tt := range tests {
		got, err := glob(filepath.Join(dir, tt.pattern))
		if err != nil {
			t.Errorf("glob(%q): %v", tt.pattern, err)
			continue
		}
		var rel []string
		for _, g := range got {
			r, _ := filepath.Rel(dir, g)
			rel = append(rel, r)
		}
		if !reflect.DeepEqual(rel, tt.want) {
			t.Errorf("glob(%q) = %q, want %q", tt.pattern, rel, tt.want)
		}
	}
}
