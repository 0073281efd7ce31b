package logfile

import (
	"os/exec"
	"testing"

	"keeper/internal/peer"
)

// runPython runs a python script with arguments and returns its stdout.
func runPython(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	py := peer.Need(t, "python3-supervisor")
	cmd := exec.Command(py, append([]string{"-I", "-c", script}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("python: %v\n%s", err, stderr)
	}
	return out
}
