package logfile

import (
	"os/exec"
	"testing"
)

// needSupervisor returns a python3 that can import supervisord's own modules
// (Debian's supervisor package), or skips the test.
func needSupervisor(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-I", "-c", "from supervisor.options import readFile, tailFile; import supervisor.loggers").Run() == nil {
			return path
		}
	}
	t.Skip("no python3 with the supervisor package")
	return ""
}

// runPython runs a python script with arguments and returns its stdout.
func runPython(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	py := needSupervisor(t)
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
