package detach

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestMasterEnv: a master starts with masterSettings whatever the caller's
// environment, and gives its program back the caller's values, set, set
// to empty, or unset.
func TestMasterEnv(t *testing.T) {
	const unset = "(unset)"
	for _, tc := range []struct {
		name    string
		caller  []string
		program map[string]string // what the program sees
	}{
		{"unset", []string{"A=1"}, map[string]string{"GOMAXPROCS": unset, "GODEBUG": unset, "A": "1"}},
		{"set", []string{"A=1", "GOMAXPROCS=4", "GODEBUG=gctrace=1,x=y"}, map[string]string{"GOMAXPROCS": "4", "GODEBUG": "gctrace=1,x=y"}},
		{"empty", []string{"GOMAXPROCS=", "GODEBUG="}, map[string]string{"GOMAXPROCS": "", "GODEBUG": ""}},
		{"stale saved values are replaced", []string{"KEEPER_SAVED_GOMAXPROCS==9", "KEEPER_SAVED_GODEBUG==x=1"}, map[string]string{"GOMAXPROCS": unset, "GODEBUG": unset}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := masterEnv(tc.caller)
			for _, s := range masterSettings {
				if n := countPrefix(env, s.name+"="); n != 1 || !slices.Contains(env, s.name+"="+s.value) {
					t.Fatalf("masterEnv(%q) = %q: want exactly %s=%s", tc.caller, env, s.name, s.value)
				}
				if countPrefix(env, s.saved+"=") != 1 {
					t.Fatalf("masterEnv(%q) = %q: want one %s", tc.caller, env, s.saved)
				}
			}
			// The master's side, in this process's environment.
			for _, s := range masterSettings {
				t.Setenv(s.name, "")
				os.Unsetenv(s.name)
			}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			restoreProgramEnv()
			for name, want := range tc.program {
				got, ok := os.LookupEnv(name)
				if !ok {
					got = unset
				}
				if got != want {
					t.Errorf("the program sees %s %q, want %q", name, got, want)
				}
			}
			for _, s := range masterSettings {
				if _, ok := os.LookupEnv(s.saved); ok {
					t.Errorf("%s reaches the program", s.saved)
				}
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
