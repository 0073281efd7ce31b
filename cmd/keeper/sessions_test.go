package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSessionsByName: keeper attach takes the names keeper sessions
// prints, a program with sessions=kill loses its sessions on a plain stop,
// and stop --keep-sessions overrides that.
func TestSessionsByName(t *testing.T) {
	dir := testDir(t)
	path := filepath.Dir(dtachLink) + ":/usr/bin:/bin"
	conf := filepath.Join(dir, "keeper.conf")
	program := func(name, extra string) string {
		return fmt.Sprintf(`
[program:%[1]s]
command=/bin/sh -c 'dtach -n %[2]s/%[1]s-term /bin/sh; touch %[2]s/%[1]s.tried; exec sleep 1000'
environment=PATH="%[3]s"
startsecs=0
stopasgroup=true
%[4]s
`, name, dir, path, extra)
	}
	body := fmt.Sprintf(`[unix_http_server]
file=%[1]s/k.sock
[supervisord]
logfile=%[1]s/k.log
pidfile=%[1]s/k.pid
childlogdir=%[1]s
`, dir) + program("keeps", "") + program("kills", "sessions=kill")
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	keeper := func(args ...string) (string, int) {
		return runCmd(t, dir, append([]string{keeperBin, "-c", conf}, args...)...)
	}
	if out, code := runCmd(t, dir, keeperBin, "daemon", "-c", conf); code != 0 {
		t.Fatalf("keeper daemon: exit %d: %s", code, out)
	}
	t.Cleanup(func() { keeper("shutdown", "--kill-sessions") })
	waitFor(t, "both sessions listed", 10*time.Second, func() bool {
		out, _ := keeper("sessions")
		return strings.Contains(out, "keeps-term") && strings.Contains(out, "kills-term")
	})

	// Attach by the name keeper sessions prints, from another directory.
	c := startTerm(t, "/", nil, keeperBin, "-c", conf, "attach", "keeps-term")
	c.expect(`\x1b\[H\x1b\[J`, 5*time.Second)
	c.send("echo by-name-$((3*3))\r")
	c.expect("by-name-9", 5*time.Second)
	c.send(detachKey)
	if code := c.wait(5 * time.Second); code != 0 {
		t.Fatalf("attach by name: exit %d: %s", code, c.output())
	}

	// sessions=kill: a plain stop reaps the program's sessions.
	if out, code := keeper("stop", "kills"); code != 0 {
		t.Fatalf("stop kills: exit %d: %s", code, out)
	}
	waitFor(t, "the sessions=kill session to be reaped", 10*time.Second, func() bool {
		reapOrphans()
		out, _ := keeper("sessions", "kills")
		return strings.Contains(out, "no sessions")
	})
	// The default keeps them; --kill-sessions says what it reaped.
	if out, code := keeper("stop", "keeps"); code != 0 || !strings.Contains(out, "keeps: stopped") {
		t.Fatalf("stop keeps: exit %d: %s", code, out)
	}
	if out, _ := keeper("sessions", "keeps"); !strings.Contains(out, "keeps-term") {
		t.Fatalf("a plain stop of a sessions=keep program lost its session: %s", out)
	}
	// Started again, the program tries to make its session anew (the
	// socket is taken); reap only once it has.
	tried := filepath.Join(dir, "keeps.tried")
	os.Remove(tried)
	keeper("start", "keeps")
	waitFor(t, "the restarted program to try dtach -n", 10*time.Second, func() bool {
		_, err := os.Stat(tried)
		return err == nil
	})
	out, code := keeper("stop", "--kill-sessions", "keeps")
	if code != 0 || !strings.Contains(out, "keeps: stopped") || !strings.Contains(out, "keeps: session keeps-term killed") {
		t.Fatalf("stop --kill-sessions: exit %d: %s", code, out)
	}
	if _, err := os.Lstat(filepath.Join(dir, "keeps-term")); err == nil {
		t.Error("the reaped session's socket is still there")
	}
}
