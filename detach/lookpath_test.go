package detach

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLookPath: the program is found as execvp(3) finds it, which is what
// dtach calls.
func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	noexec, bin, sub := filepath.Join(dir, "noexec"), filepath.Join(dir, "bin"), filepath.Join(dir, "sub")
	for _, d := range []string{noexec, bin, sub, filepath.Join(sub, "prog")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(noexec, "prog"), 0o644)
	write(filepath.Join(noexec, "only"), 0o644)
	write(filepath.Join(bin, "prog"), 0o755)
	t.Chdir(bin)
	cases := []struct {
		path, name, want string
		err              error
	}{
		{"", "/abs/not/checked", "/abs/not/checked", nil},
		{"", "rel/with/slash", "rel/with/slash", nil},
		{sub + ":" + noexec + ":" + bin, "prog", bin + "/prog", nil}, // a directory and a file that is not executable are passed over
		{noexec, "prog", "", syscall.EACCES},
		{noexec + ":" + sub, "only", "", syscall.EACCES},
		{sub, "none", "", syscall.ENOENT},
		{"", "prog", "./prog", nil},                        // an empty $PATH is the working directory
		{"/nonexistent::" + noexec, "prog", "./prog", nil}, // so is an empty entry
	}
	t.Setenv("PATH", "")
	os.Unsetenv("PATH")
	if got, err := lookPath("sh"); got != "/bin/sh" || err != nil {
		t.Errorf("unset PATH: lookPath(sh) = %q, %v; want /bin/sh, as execvp's default /bin:/usr/bin", got, err)
	}
	for _, c := range cases {
		t.Setenv("PATH", c.path)
		got, err := lookPath(c.name)
		if got != c.want || !errors.Is(err, c.err) && err != c.err {
			t.Errorf("PATH=%s lookPath(%q) = %q, %v; want %q, %v", c.path, c.name, got, err, c.want, c.err)
		}
	}
}
