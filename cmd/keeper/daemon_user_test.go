package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keeper/internal/peer"
)

// TestDaemonDropsPrivileges: [supervisord] user= makes a daemon started as
// root run, and run its programs, as that user.
func TestDaemonDropsPrivileges(t *testing.T) {
	peer.NeedRoot(t)
	dir := testDir(t)
	os.Chmod(dir, 0o777|os.ModeSticky) // sticky, as /tmp: the dropped-privilege daemon writes here
	name := newTestUser(t).name
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "k.conf")
	body := fmt.Sprintf(`[unix_http_server]
file=%[1]s/k.sock
[supervisord]
logfile=%[1]s/k.log
pidfile=%[1]s/k.pid
childlogdir=%[1]s
user=%[2]s
[program:who]
command=/bin/sh -c 'id -u > %[1]s/who.uid; exec sleep 1000'
startsecs=0
`, dir, name)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, dir, keeperBin, "daemon", "-c", conf); code != 0 {
		t.Fatalf("keeper daemon: exit %d: %s", code, out)
	}
	defer runCmd(t, dir, keeperBin, "-c", conf, "shutdown")
	pidText, _ := os.ReadFile(filepath.Join(dir, "k.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == "Uid:" && (f[1] != u.Uid || f[2] != u.Uid) {
			t.Errorf("daemon %s, want uid %s", line, u.Uid)
		}
	}
	waitFor(t, "the program to write its uid", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "who.uid"))
		return strings.TrimSpace(string(b)) != ""
	})
	if b, _ := os.ReadFile(filepath.Join(dir, "who.uid")); strings.TrimSpace(string(b)) != u.Uid {
		t.Errorf("program ran as uid %s, want %s", b, u.Uid)
	}
	// Root may still control it (and the daemon's own user may).
	if out, code := runCmd(t, dir, keeperBin, "-c", conf, "status"); code != 0 || !strings.Contains(out, "RUNNING") {
		t.Errorf("status as root: exit %d: %s", code, out)
	}
}
