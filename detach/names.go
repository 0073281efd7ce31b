package detach

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ResolveSocket turns what a user typed into a socket path: anything with
// a slash, or naming an existing file, is a path; a bare NAME (or
// PROGRAM:NAME, as keeper sessions prints it) is looked up in the session
// records under roots, each a directory of records or of one directory of
// records per program.
func ResolveSocket(name string, roots ...string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("resolve session: empty name")
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	if _, err := os.Lstat(name); err == nil {
		return name, nil
	}
	program, short, qualified := strings.Cut(name, ":")
	matches := map[string]bool{}
	var looked []string
	for _, root := range roots {
		if root == "" {
			continue
		}
		looked = append(looked, root)
		dirs := []string{root}
		if ents, err := os.ReadDir(root); err == nil {
			for _, e := range ents {
				if e.IsDir() {
					dirs = append(dirs, filepath.Join(root, e.Name()))
				}
			}
		}
		for _, dir := range dirs {
			records, _ := ReadRecords(dir)
			for _, r := range records {
				if (qualified && r.Program == program && r.Name == short) || (!qualified && r.Name == name) {
					matches[r.Socket] = true
				}
			}
		}
	}
	switch len(matches) {
	case 0:
		if len(looked) == 0 {
			return "", fmt.Errorf("resolve session %q: no such file here, and no daemon config to find sessions by name (pass -c FILE)", name)
		}
		return "", fmt.Errorf("resolve session %q: no such file here and no session of that name in %s", name, strings.Join(looked, ", "))
	case 1:
		for socket := range matches {
			return socket, nil
		}
	}
	return "", fmt.Errorf("resolve session %q: the name is ambiguous, %d sessions have it; use PROGRAM:%s", name, len(matches), name)
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
