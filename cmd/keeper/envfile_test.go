package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEnvironmentFile: environment_file's files are read at every start,
// later files and environment= overriding earlier ones, a "-" file may be
// missing, and a missing required file is a spawn error naming it.
func TestEnvironmentFile(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:env]
command=/bin/sh -c 'echo "A=$A B=$B C=$C" > @DIR@/seen.tmp && mv @DIR@/seen.tmp @DIR@/seen; exec @DIR@/sleepy 1000'
environment_file = @DIR@/one.env, -@DIR@/none.env, @DIR@/two.env
environment = C="from-conf"
startsecs = 0
startretries = 0
`)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(k.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("one.env", "# first\nA=1\nB='one b'\n")
	write("two.env", "export B=\"two b\"\nC=from-file\n")
	seen := filepath.Join(k.dir, "seen")
	waitSeen := func(want string) {
		t.Helper()
		waitFor(t, "the program's environment "+want, 10*time.Second, func() bool {
			b, _ := os.ReadFile(seen)
			return strings.TrimSpace(string(b)) == want
		})
	}
	k.start()
	waitSeen("A=1 B=two b C=from-conf")

	write("one.env", "A=changed\n")
	k.mustCall("supervisor.stopProcess", "env")
	k.mustCall("supervisor.startProcess", "env")
	waitSeen("A=changed B=two b C=from-conf")

	os.Remove(filepath.Join(k.dir, "one.env"))
	k.mustCall("supervisor.stopProcess", "env")
	if _, err := k.call("supervisor.startProcess", "env"); err == nil {
		t.Error("start with a required environment file missing succeeded")
	}
	s := k.waitState("env", 10*time.Second, "FATAL")
	if desc := rpcField[string](s, "spawnerr") + rpcField[string](s, "description"); !strings.Contains(desc, "one.env") {
		t.Errorf("status of a start without its environment file: %q, want the file named", desc)
	}
	if log := k.log(); !strings.Contains(log, filepath.Join(k.dir, "one.env")) {
		t.Errorf("the log does not name the missing environment file:\n%s", log)
	}
}
