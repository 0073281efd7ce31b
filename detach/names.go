package detach

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultSessionDir is where keeper looks up sessions named without a
// path: $KEEPER_SESSION_DIR, else /run/keeper/sessions for root, else
// $XDG_RUNTIME_DIR/keeper/sessions, else /tmp/keeper-UID/sessions.
func DefaultSessionDir() string {
	if d := os.Getenv("KEEPER_SESSION_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/keeper/sessions"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "keeper", "sessions")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("keeper-%d", os.Geteuid()), "sessions")
}

// ResolveSocket turns what a user typed into a socket path: anything with
// a slash, or naming an existing file, is a path; a bare name is looked up
// in the session directory.
func ResolveSocket(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("resolve session: empty name")
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	if _, err := os.Lstat(name); err == nil {
		return name, nil
	}
	dir := DefaultSessionDir()
	path := filepath.Join(dir, name)
	if _, err := os.Lstat(path); err != nil {
		return "", fmt.Errorf("resolve session %q: no such file here and no session of that name in %s", name, dir)
	}
	return path, nil
}

// ParseRedraw reads a redraw method name; "" means the master's default.
func ParseRedraw(s string) (byte, error) {
	switch s {
	case "":
		return RedrawUnspec, nil
	case "none":
		return RedrawNone, nil
	case "ctrl_l":
		return RedrawCtrlL, nil
	case "winch":
		return RedrawWinch, nil
	}
	return 0, fmt.Errorf("redraw method %q is not one of none, ctrl_l, winch", s)
}
