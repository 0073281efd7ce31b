package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoFmt: keeper-master links no fmt. fmt and the reflection it brings
// are about 150 KB of the binary, which every idle master maps whole (see
// README, Measured). Code a master runs words its errors with errors.New,
// strconv and detach's wrap instead.
func TestNoFmt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keeper-master")
	}
	bin := filepath.Join(t.TempDir(), "keeper-master")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build keeper-master: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("read keeper-master's symbols: %v", err)
	}
	var linked []string
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "fmt.") {
			linked = append(linked, s.Name)
		}
	}
	if len(linked) > 0 {
		t.Errorf("keeper-master links fmt (%d symbols, e.g. %s): a function the master runs calls fmt; word its messages with errors.New, strconv or wrap",
			len(linked), linked[0])
	}
}
