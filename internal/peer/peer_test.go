package peer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		ci, peers string
		want      bool
	}{
		{"", "", false},
		{"true", "", true},
		{"false", "", false},
		{"", "require", true},
		{"", "skip", false},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv("KEEPER_TEST_PEERS", tc.peers)
		if got := Required(); got != tc.want {
			t.Errorf("CI=%q KEEPER_TEST_PEERS=%q: Required() = %v, want %v", tc.ci, tc.peers, got, tc.want)
		}
	}
}

func TestFind(t *testing.T) {
	if p := Find("bash"); p == "" || !filepath.IsAbs(p) {
		t.Errorf(`Find("bash") = %q, want an absolute path`, p)
	}
	defer func() {
		if recover() == nil {
			t.Error("Find of an unknown peer did not panic")
		}
	}()
	Find("no-such-peer")
}

// TestMissingSkipsAndLogs checks the skip line and the skip log make test sums up.
func TestMissingSkipsAndLogs(t *testing.T) {
	log := filepath.Join(t.TempDir(), "skips")
	t.Setenv("CI", "")
	t.Setenv("KEEPER_TEST_PEERS", "")
	t.Setenv("KEEPER_TEST_SKIPLOG", log)
	peers["test-absent"] = peer{paths: []string{"/nonexistent/keeper-test-absent"}, pkg: "keeper-test-absent"}
	defer delete(peers, "test-absent")
	t.Run("absent", func(t *testing.T) {
		defer func() {
			if !t.Skipped() {
				t.Error("a missing peer did not skip the test")
			}
		}()
		Need(t, "test-absent")
	})
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "needs test-absent (apt-get install keeper-test-absent)\n"; string(b) != want {
		t.Errorf("skip log = %q, want %q", b, want)
	}
	if strings.Count(string(b), "\n") != 1 {
		t.Errorf("skip log has %d lines, want 1", strings.Count(string(b), "\n"))
	}
}

// TestHidden checks that KEEPER_TEST_PEERS=none hides every peer but those
// on every Debian machine.
func TestHidden(t *testing.T) {
	t.Setenv("KEEPER_TEST_PEERS", "none")
	for name, p := range peers {
		got := Find(name)
		if p.base && got == "" {
			t.Errorf("KEEPER_TEST_PEERS=none: Find(%q) found nothing; it is on every Debian machine", name)
		}
		if !p.base && got != "" {
			t.Errorf("KEEPER_TEST_PEERS=none: Find(%q) = %q, want it hidden", name, got)
		}
	}
}

// TestCIInstallsEveryPeer checks that .ci/run installs the package of every
// peer: under CI=true a missing one fails the tests that need it.
func TestCIInstallsEveryPeer(t *testing.T) {
	b, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	var installed []string
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "apt-get install "); ok {
			installed = append(installed, strings.Fields(rest)...)
		}
	}
	if len(installed) == 0 {
		t.Fatal(".ci/run has no apt-get install line")
	}
	for name, p := range peers {
		if !slices.Contains(installed, p.pkg) {
			t.Errorf(".ci/run does not install %s, the package of peer %s", p.pkg, name)
		}
	}
}
