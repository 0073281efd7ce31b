package detach

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveSocket(t *testing.T) {
	root := t.TempDir()
	for _, r := range []Record{
		{Name: "a", Socket: "/s/web-a", Program: "web", PID: 11},
		{Name: "a", Socket: "/s/db-a", Program: "db", PID: 12},
		{Name: "b", Socket: "/s/web-b", Program: "web", PID: 13},
	} {
		if err := WriteRecord(filepath.Join(root, r.Program), r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, roots, want, err string
	}{
		{name: "./x", want: "./x"},
		{name: "b", roots: root, want: "/s/web-b"},
		{name: "web:a", roots: root, want: "/s/web-a"},
		{name: "db:a", roots: filepath.Join(root, "db"), want: "/s/db-a"}, // a program's own directory
		{name: "a", roots: root, err: "ambiguous"},
		{name: "c", roots: root, err: "no session of that name in " + root},
		{name: "c", err: "pass -c FILE"},
	}
	for _, tt := range tests {
		var roots []string
		if tt.roots != "" {
			roots = []string{tt.roots}
		}
		got, err := ResolveSocket(tt.name, roots...)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ResolveSocket(%q) = %q, %v; want an error with %q", tt.name, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolveSocket(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}
