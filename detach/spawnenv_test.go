package detach

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestMasterEnv: a master starts with GOMAXPROCS=1 whatever the caller's
// environment, and gives its program back the caller's GOMAXPROCS, set,
// set to empty, or unset.
func TestMasterEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		caller  []string
		program string // GOMAXPROCS the program sees; "unset" for none
	}{
		{"unset", []string{"A=1"}, "unset"},
		{"set", []string{"A=1", "GOMAXPROCS=4"}, "4"},
		{"empty", []string{"GOMAXPROCS="}, ""},
		{"a stale saved value is replaced", []string{savedGOMAXPROCS + "==9"}, "unset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := masterEnv(tc.caller)
			if n := countPrefix(env, "GOMAXPROCS="); n != 1 || !slices.Contains(env, "GOMAXPROCS=1") {
				t.Fatalf("masterEnv(%q) = %q: want exactly GOMAXPROCS=1", tc.caller, env)
			}
			if countPrefix(env, savedGOMAXPROCS+"=") != 1 {
				t.Fatalf("masterEnv(%q) = %q: want one %s", tc.caller, env, savedGOMAXPROCS)
			}
			// The master's side, in this process's environment.
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			restoreProgramEnv()
			got, ok := os.LookupEnv("GOMAXPROCS")
			if !ok {
				got = "unset"
			}
			if got != tc.program {
				t.Errorf("the program sees GOMAXPROCS %q, want %q", got, tc.program)
			}
			if _, ok := os.LookupEnv(savedGOMAXPROCS); ok {
				t.Errorf("%s reaches the program", savedGOMAXPROCS)
			}
		})
	}
}

func countPrefix(env []string, prefix string) int {
	n := 0
	for _, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			n++
		}
	}
	return n
}
