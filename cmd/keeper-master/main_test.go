package main

import (
	"debug/elf"
	"errors"
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
	f, err := elf.Open(buildMaster(t))
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

// TestRunByHand: keeper-master run without the command line keeper dtach
// gives it says what it is and what to run, and exits 2 (it panicked).
func TestRunByHand(t *testing.T) {
	bin := buildMaster(t)
	for _, args := range [][]string{nil, {"-n", "sock", "sh"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("keeper-master %q: %v, want exit status 2\n%s", args, err, out)
		}
		if !strings.Contains(string(out), "run keeper dtach -n SOCKET COMMAND") {
			t.Errorf("keeper-master %q said %q, want what to run instead", args, out)
		}
	}
}

func buildMaster(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds keeper-master")
	}
	bin := filepath.Join(t.TempDir(), "keeper-master")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build keeper-master: %v\n%s", err, out)
	}
	return bin
}
