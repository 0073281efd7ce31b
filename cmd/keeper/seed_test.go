package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
)

// seedUsers is how many users the Gate One stand-in opens terminals for.
const seedUsers = 3

// TestSeedGateOne runs the article's setup end to end: the seed's
// supervisord.conf (paths moved into a temp dir, user= a real unprivileged
// user when the test runs as root) supervising a stand-in for gateone.py
// that keeps dtach sessions for its users, once with Debian's dtach and
// once with keeper as dtach.
func TestSeedGateOne(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Run("real-dtach", func(t *testing.T) {
		seedScenario(t, filepath.Dir(peer.Need(t, "dtach")))
	})
	t.Run("keeper-as-dtach", func(t *testing.T) { seedScenario(t, filepath.Dir(dtachLink)) })
}

type seedEnv struct {
	t      *testing.T
	dir    string
	conf   string
	marker string // the sleep duration that marks the stand-in's ssh
}

func (e *seedEnv) keeper(args ...string) (string, int) {
	e.t.Helper()
	return runCmd(e.t, e.dir, append([]string{keeperBin, "-c", e.conf}, args...)...)
}

func (e *seedEnv) sessions() []sessionJSON {
	e.t.Helper()
	out, code := e.keeper("sessions", "--json")
	if code != 0 {
		e.t.Fatalf("keeper sessions: exit %d: %s", code, out)
	}
	var list []sessionJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		e.t.Fatalf("keeper sessions --json: %v: %s", err, out)
	}
	return list
}

// waitSessions waits until n sessions with a program on their pty are
// listed, and returns them.
func (e *seedEnv) waitSessions(n int, what string) []sessionJSON {
	e.t.Helper()
	var list []sessionJSON
	waitFor(e.t, what, 15*time.Second, func() bool {
		list = e.sessions()
		if len(list) != n {
			return false
		}
		for _, s := range list {
			if s.ChildPID == 0 {
				return false
			}
		}
		return true
	})
	return list
}

// gateonePids lists the stand-in's processes.
func (e *seedEnv) gateonePids() []int {
	var out []int
	for _, pid := range pidsMentioning(filepath.Join(e.dir, "gateone.py")) {
		if state(pid) != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// sshPids lists the live stand-ins for ssh.
func (e *seedEnv) sshPids() []int {
	var out []int
	for _, pid := range pidsMentioning(e.marker) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if string(cmdline) == "sleep\x00"+e.marker+"\x00" && state(pid) != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

func seedScenario(t *testing.T, dtachDir string) {
	e := &seedEnv{t: t, dir: testDir(t), marker: strconv.Itoa(900000 + rand.Intn(99999))}
	if err := os.Chmod(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = newTestUser(t).name
		// keeper as dtach runs as that user: it must reach the binary.
		os.Chmod(filepath.Dir(keeperBin), 0o755)
		os.Chmod(filepath.Dir(dtachLink), 0o755)
	}
	e.conf = writeSeedConfig(t, e.dir, user, dtachDir, e.marker)

	if out, code := runCmd(t, e.dir, keeperBin, "daemon", "-c", e.conf); code != 0 {
		t.Fatalf("keeper daemon: exit %d: %s", code, out)
	}
	t.Cleanup(func() { e.keeper("shutdown", "--kill-sessions") })
	e.waitSessions(seedUsers, "the stand-in's sessions to be listed")
	var first []sessionJSON
	waitFor(t, "every session to have its client attached", 15*time.Second, func() bool {
		first = e.sessions()
		for _, s := range first {
			if s.Clients != 1 || s.State != "attached" {
				return false
			}
		}
		return len(first) == seedUsers
	})
	for _, s := range first {
		if s.Program != "gateone" || s.Clients != 1 || s.State != "attached" {
			t.Errorf("session %+v: want program gateone, one client attached", s)
		}
	}
	if n := len(e.sshPids()); n != seedUsers {
		t.Fatalf("%d ssh stand-ins running, want %d", n, seedUsers)
	}

	// stop keeps every session, still listed as gateone's.
	if out, code := e.keeper("stop", "gateone"); code != 0 || !strings.Contains(out, "gateone: stopped") {
		t.Fatalf("keeper stop gateone: exit %d: %s", code, out)
	}
	kept := e.waitSessions(seedUsers, "sessions kept after stop")
	if !sameMasters(first, kept) {
		t.Fatalf("sessions changed across stop:\nbefore %+v\nafter  %+v", first, kept)
	}
	if n := len(e.sshPids()); n != seedUsers {
		t.Fatalf("stop killed ssh stand-ins: %d left of %d", n, seedUsers)
	}

	// start resumes them: the stand-in attaches with dtach -a.
	if out, code := e.keeper("start", "gateone"); code != 0 {
		t.Fatalf("keeper start gateone: exit %d: %s", code, out)
	}
	waitFor(t, "the restarted stand-in to attach to every session", 15*time.Second, func() bool {
		for _, s := range e.sessions() {
			if s.Clients != 1 {
				return false
			}
		}
		return true
	})
	if !sameMasters(first, e.sessions()) {
		t.Fatal("start made new sessions instead of resuming the old ones")
	}

	// kill -9 of the daemon: a new daemon re-adopts the sessions and no
	// program runs twice.
	pidfile, _ := os.ReadFile(filepath.Join(e.dir, "supervisord.pid"))
	daemonPid, _ := strconv.Atoi(strings.TrimSpace(string(pidfile)))
	oldGateone := e.gateonePids()
	if daemonPid <= 1 || len(oldGateone) != 1 {
		t.Fatalf("daemon pid %d, gateone pids %v", daemonPid, oldGateone)
	}
	syscall.Kill(daemonPid, syscall.SIGKILL)
	waitFor(t, "the daemon to die", 5*time.Second, func() bool { s := state(daemonPid); return s == 0 || s == 'Z' })
	reapOrphans()
	if out, code := runCmd(t, e.dir, keeperBin, "daemon", "-c", e.conf); code != 0 {
		t.Fatalf("second keeper daemon: exit %d: %s", code, out)
	}
	waitFor(t, "one gateone, the new one", 30*time.Second, func() bool {
		pids := e.gateonePids()
		if len(pids) == 1 && pids[0] != oldGateone[0] {
			return true
		}
		log, _ := os.ReadFile(filepath.Join(e.dir, "supervisord.log"))
		t.Logf("gateone pids %v (old %v); daemon log:\n%s", pids, oldGateone, log)
		return false
	})
	if state(oldGateone[0]) != 0 && state(oldGateone[0]) != 'Z' {
		t.Fatalf("the old gateone (pid %d) still runs beside the new one", oldGateone[0])
	}
	readopted := e.waitSessions(seedUsers, "sessions re-adopted by the new daemon")
	if !sameMasters(first, readopted) {
		t.Fatalf("sessions not re-adopted:\nbefore %+v\nafter  %+v", first, readopted)
	}
	// The new gateone resumes them (before they are killed: it would
	// make new ones if it found no socket).
	waitFor(t, "the new gateone to attach to every session", 15*time.Second, func() bool {
		for _, s := range e.sessions() {
			if s.Clients == 0 {
				return false
			}
		}
		return true
	})

	// kill-sessions leaves nothing of them: masters, programs, ssh.
	out, code := e.keeper("kill-sessions")
	if code != 0 || strings.Count(out, "killed") != seedUsers {
		t.Fatalf("keeper kill-sessions: exit %d: %s", code, out)
	}
	for _, s := range first {
		for _, pid := range []int{s.PID, s.ChildPID} {
			waitFor(t, fmt.Sprintf("pid %d of session %s to be gone", pid, s.Name), 5*time.Second, func() bool {
				reapOrphans()
				return state(pid) == 0
			})
		}
		if _, err := os.Lstat(s.Socket); err == nil {
			t.Errorf("socket %s left behind", s.Socket)
		}
	}
	if pids := e.sshPids(); len(pids) > 0 {
		log, _ := os.ReadFile(filepath.Join(e.dir, "supervisord.log"))
		t.Fatalf("ssh stand-ins %v survived kill-sessions (%s); sessions were %+v; daemon log:\n%s", pids, out, first, log)
	}
	if list := e.sessions(); len(list) != 0 {
		t.Fatalf("sessions still listed after kill-sessions: %+v", list)
	}

	// A fresh start makes new sessions; shutdown --kill-sessions then
	// leaves no process at all.
	e.keeper("restart", "gateone")
	e.waitSessions(seedUsers, "new sessions after restart")
	if out, code := e.keeper("shutdown", "--kill-sessions"); code != 0 {
		t.Fatalf("keeper shutdown --kill-sessions: exit %d: %s", code, out)
	}
	waitFor(t, "no process of the test left", 20*time.Second, func() bool {
		reapOrphans()
		return len(pidsMentioning(e.dir)) == 0 && len(e.sshPids()) == 0
	})
}

func sameMasters(a, b []sessionJSON) bool {
	if len(a) != len(b) {
		return false
	}
	pids := map[int]string{}
	for _, s := range a {
		pids[s.PID] = s.Socket
	}
	for _, s := range b {
		if pids[s.PID] != s.Socket {
			return false
		}
	}
	return true
}

// writeSeedConfig writes the seed's supervisord.conf with its paths moved
// into dir, the stand-in for gateone.py as the command, and user= set.
func writeSeedConfig(t *testing.T, dir, user, dtachDir, marker string) string {
	t.Helper()
	seed, err := os.ReadFile("../../supervise/testdata/config/seed.conf")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/gateone/gateone.py")
	if err != nil {
		t.Fatal(err)
	}
	gateone := filepath.Join(dir, "gateone")
	for _, d := range []string{gateone, filepath.Join(gateone, "logs"), filepath.Join(dir, "sessions")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "gateone.py"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := string(seed)
	conf = strings.NewReplacer(
		"/tmp/supervisor.sock", filepath.Join(dir, "supervisor.sock"),
		"/tmp/supervisord.log", filepath.Join(dir, "supervisord.log"),
		"/tmp/supervisord.pid", filepath.Join(dir, "supervisord.pid"),
		"command=/opt/gateone/gateone.py", fmt.Sprintf("command=%s %s %s %d %s", peer.Need(t, "python3"),
			filepath.Join(dir, "gateone.py"), filepath.Join(dir, "sessions"), seedUsers, marker),
		"/opt/gateone", gateone,
	).Replace(conf)
	if user == "" {
		conf = strings.Replace(conf, "user=johnh", "", 1)
	} else {
		conf = strings.Replace(conf, "user=johnh", "user="+user, 1)
		for _, d := range []string{gateone, filepath.Join(gateone, "logs"), filepath.Join(dir, "sessions")} {
			chownTo(t, d, user)
		}
	}
	conf = strings.Replace(conf, "loglevel=info", "loglevel=debug", 1)
	conf += fmt.Sprintf("environment=PATH=\"%s:/usr/bin:/bin\"\nstopwaitsecs=5\nstartsecs=1\n", dtachDir)
	path := filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func chownTo(t *testing.T, path, user string) {
	t.Helper()
	if out, err := exec.Command("chown", user, path).CombinedOutput(); err != nil {
		t.Fatalf("chown %s %s: %v: %s", user, path, err, out)
	}
}
