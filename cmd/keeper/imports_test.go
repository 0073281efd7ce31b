package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection enforces the import direction in doc.go (Packages):
// cmd/keeper -> supervise -> {detach, proctree}; detach and proctree import
// no other keeper package, so keeper dtach and keeper attach work with no
// daemon.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, "keeper/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// allowed[p] lists the keeper packages (by top-level name) p may import.
	allowed := map[string][]string{
		"detach":    {"detach"},
		"proctree":  {"proctree"},
		"supervise": {"supervise", "detach", "proctree"},
		"cmd":       {"cmd", "supervise", "detach", "proctree", "internal"},
		// internal holds test helpers (internal/peer) that any test may
		// import, and the benchmark tool, which drives the whole product.
		"internal": {"internal", "supervise", "detach", "proctree"},
	}
	top := func(path string) string {
		rest := strings.TrimPrefix(path, "keeper/")
		return strings.SplitN(rest, "/", 2)[0]
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		if !strings.HasPrefix(pkg, "keeper/") {
			continue
		}
		checked++
		may, ok := allowed[top(pkg)]
		if !ok {
			t.Errorf("package %s is outside the layout in doc.go", pkg)
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if !strings.HasPrefix(imp, "keeper/") {
				continue
			}
			okImport := false
			for _, m := range may {
				okImport = okImport || top(imp) == m
			}
			if !okImport {
				t.Errorf("%s imports %s: imports must point cmd -> supervise -> {detach, proctree}", pkg, imp)
			}
		}
	}
	if checked < 3 {
		t.Fatalf("checked only %d keeper packages; go list output:\n%s", checked, out)
	}
}
