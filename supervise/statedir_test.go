package supervise

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keeper/internal/peer"
)

// TestCheckPathTo: the way to the state directory is refused where another
// user owns a directory or a followed symlink, or may write a directory
// that is not sticky.
func TestCheckPathTo(t *testing.T) {
	peer.NeedRoot(t)
	const nobody = 65534
	base := t.TempDir()
	for _, d := range []struct {
		name string
		mode os.FileMode
		uid  int
	}{
		{"ok", 0o755, 0},
		{"sticky", 0o777 | os.ModeSticky, 0},
		{"open", 0o777, 0},
		{"theirs", 0o755, nobody},
	} {
		path := filepath.Join(base, d.name)
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, d.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, d.uid, -1); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []struct {
		name, target string
		uid          int
	}{
		{"link-ours", "ok", 0},
		{"link-theirs", "ok", nobody},
		{"link-to-theirs", base + "/theirs", 0},
		{"sticky/planted", "../ok", nobody},
	} {
		path := filepath.Join(base, l.name)
		if err := os.Symlink(l.target, path); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(path, l.uid, -1); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		path, refused string // refused: what the error says, "" for none
	}{
		{"ok", ""},
		{"ok/not-yet/deeper", ""},
		{"sticky", ""},
		{"link-ours", ""},
		{"sticky/../ok", ""},
		{"open", "writable by group or others (mode 0777) and not sticky"},
		{"theirs", "owned by uid 65534"},
		{"link-theirs", "link-theirs is owned by uid 65534"},
		{"link-to-theirs", "theirs is owned by uid 65534"},
		{"sticky/planted", "planted is owned by uid 65534"},
	} {
		err := checkPathTo(filepath.Join(base, c.path))
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", c.path, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%s: got %v, want an error saying %q", c.path, err, c.refused)
		}
	}
}
