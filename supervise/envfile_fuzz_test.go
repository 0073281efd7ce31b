package supervise

import (
	"strings"
	"testing"
)

// FuzzParseEnvLine: any line of an environment file parses without panic
// into KEY=VALUE with a valid key, or an error.
func FuzzParseEnvLine(f *testing.F) {
	for _, s := range []string{"A=1", `export B="x \" y"`, "C='q'", "# c", `D="unterminated`, "=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		kv, ok, err := parseEnvLine(line)
		if err != nil || !ok {
			return
		}
		key, _, found := strings.Cut(kv, "=")
		if !found || !validEnvKey(key) {
			t.Fatalf("%q gave %q", line, kv)
		}
	})
}
