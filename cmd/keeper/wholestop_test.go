package main

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
	"keeper/proctree"
)

// TestWholeProgramStop runs a Gate One-shaped program without stopasgroup:
// a server on a port (no SO_REUSEADDR) with two workers that inherit the
// socket (one ignores SIGTERM), a helper that daemonized itself, and two
// dtach sessions. A stop, a crash, a daemon killed with SIGKILL and a
// shutdown each take the whole program and only the program: the port is
// free for the next instance, the sessions stay until they are asked to go.
func TestWholeProgramStop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	for _, tracking := range []string{"cgroup", "mark"} {
		t.Run(tracking+"/keeper-as-dtach", func(t *testing.T) { wholeStopScenario(t, tracking, filepath.Dir(dtachLink)) })
		t.Run(tracking+"/real-dtach", func(t *testing.T) {
			wholeStopScenario(t, tracking, filepath.Dir(peer.Need(t, "dtach")))
		})
	}
}

// wholeStopUsers is how many sessions the stand-in opens.
const wholeStopUsers = 2

// wholeStopScenario runs the scenario with the daemon tracking programs
// by cgroup ("cgroup", skipped where keeper cannot create cgroups) or by
// the instance mark ("mark", forced with KEEPER_CGROUPS=off).
func wholeStopScenario(t *testing.T, tracking, dtachDir string) {
	e := &seedEnv{t: t, dir: testDir(t), marker: strconv.Itoa(900000 + rand.Intn(99999))}
	port := freePort(t)
	// Under cgroups the helper also drops its environment: only the
	// cgroup still says it is the program's.
	e.conf = writeWholeStopConfig(t, e.dir, dtachDir, e.marker, port, tracking == "cgroup")
	env := os.Environ()
	if tracking == "mark" {
		env = append(env, "KEEPER_CGROUPS=off")
	}
	startDaemon := func() {
		t.Helper()
		cmd := exec.Command(keeperBin, "daemon", "-c", e.conf)
		cmd.Dir, cmd.Env = e.dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("keeper daemon: %v: %s", err, out)
		}
	}
	startDaemon()
	t.Cleanup(func() { e.keeper("shutdown", "--kill-sessions") })
	out, _ := e.keeper("status", "-v")
	switch {
	case tracking == "mark" && !strings.Contains(out, "process tracking: process groups and the instance mark (no cgroup v2: KEEPER_CGROUPS=off)"):
		t.Fatalf("status -v does not say the instance mark is used:\n%s", out)
	case tracking == "cgroup" && !strings.Contains(out, "process tracking: cgroup v2"):
		t.Skipf("skipping: keeper cannot create cgroups here: %s", out)
	}
	// "cgroup v2: each program in DIR/programs/NAME, ...": the daemon's
	// cgroups, gone once the last daemon exited.
	cgroupDir := ""
	if _, rest, ok := strings.Cut(out, "each program in "); ok {
		cgroupDir, _, _ = strings.Cut(rest, "/programs/NAME")
	}
	first := e.waitSessions(wholeStopUsers, "the stand-in's sessions")
	instance := e.waitInstance(nil, "the first instance")

	// stop: nothing of the program is left the moment stop returns, the
	// sessions are.
	if out, code := e.keeper("stop", "gateone"); code != 0 || !strings.Contains(out, "gateone: stopped") {
		t.Fatalf("keeper stop gateone: exit %d: %s", code, out)
	}
	if left := e.programProcesses(); len(left) > 0 {
		t.Fatalf("processes of gateone left after stop: %v\ndaemon log:\n%s", left, e.daemonLog())
	}
	if kept := e.sessions(); !sameMasters(first, kept) {
		t.Fatalf("sessions changed across stop:\nbefore %+v\nafter  %+v", first, kept)
	}
	if n := len(e.sshPids()); n != wholeStopUsers {
		t.Fatalf("stop killed ssh stand-ins: %d left of %d", n, wholeStopUsers)
	}
	if worker := e.stubbornWorker(); !killedLeftover(e.daemonLog(), worker) {
		t.Errorf("the worker that ignores SIGTERM (pid %d) was not reported killed; daemon log:\n%s", worker, e.daemonLog())
	}

	// start: the port is free at once, the sessions are resumed.
	if out, code := e.keeper("start", "gateone"); code != 0 || !strings.Contains(out, "gateone: started") {
		t.Fatalf("keeper start gateone: exit %d: %s\nprogram log:\n%s", code, out, e.programLog())
	}
	instance = e.waitInstance(instance, "the instance started after stop")
	e.waitResumed(first)

	// A crash of the server: the old workers go before the new server
	// binds the port.
	main := instance[0]
	syscall.Kill(main, syscall.SIGKILL)
	instance = e.waitInstance(instance, "the instance restarted after a crash")

	// kill -9 of the daemon: the next one stops the old instance's whole
	// tree, keeps the sessions and runs exactly one instance.
	daemonPid := readPidFile(t, filepath.Join(e.dir, "keeper.pid"), 5*time.Second)
	syscall.Kill(daemonPid, syscall.SIGKILL)
	waitFor(t, "the daemon to die", 5*time.Second, func() bool { s := state(daemonPid); return s == 0 || s == 'Z' })
	reapOrphans()
	startDaemon()
	e.waitInstance(instance, "one instance under the new daemon")
	if readopted := e.waitSessions(wholeStopUsers, "sessions re-adopted"); !sameMasters(first, readopted) {
		t.Fatalf("sessions not re-adopted:\nbefore %+v\nafter  %+v", first, readopted)
	}
	e.waitResumed(first)
	if log := e.programLog(); strings.Contains(log, "Could not listen") {
		t.Fatalf("an instance found the port taken; program log:\n%s", log)
	}

	// shutdown --kill-sessions leaves nothing at all.
	if out, code := e.keeper("shutdown", "--kill-sessions"); code != 0 {
		t.Fatalf("keeper shutdown --kill-sessions: exit %d: %s", code, out)
	}
	waitFor(t, "no process of the test left", 20*time.Second, func() bool {
		reapOrphans()
		return len(pidsMentioning(e.dir)) == 0 && len(e.sshPids()) == 0
	})
	if cgroupDir != "" {
		if _, err := os.Stat(cgroupDir); err == nil {
			t.Errorf("the daemon's cgroup %s is left behind", cgroupDir)
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeWholeStopConfig(t *testing.T, dir, dtachDir, marker string, port int, cleanHelper bool) string {
	t.Helper()
	script, err := os.ReadFile("testdata/gateone/gateone.py")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gateone.py"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[unix_http_server]
file=%[1]s/k.sock

[supervisord]
logfile=%[1]s/keeper.log
pidfile=%[1]s/keeper.pid
childlogdir=%[1]s
loglevel=debug

[supervisorctl]
serverurl=unix://%[1]s/k.sock

[program:gateone]
command=%[2]s %[1]s/gateone.py %[1]s/sessions %[3]d %[4]s %[5]d
autorestart=true
startsecs=1
stopwaitsecs=2
redirect_stderr=true
stdout_logfile=%[1]s/gateone.log
environment=PATH="%[6]s:/usr/bin:/bin",GATEONE_CLEAN_HELPER=%[7]d
`, dir, peer.Need(t, "python3"), wholeStopUsers, marker, port, dtachDir, map[bool]int{true: 1}[cleanHelper])
	path := filepath.Join(dir, "keeper.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stubbornWorker is the pid of the first instance's worker that ignores
// SIGTERM: the stand-in prints its workers in order, that one second.
func (e *seedEnv) stubbornWorker() int {
	var workers []int
	for _, line := range strings.Split(e.programLog(), "\n") {
		if pid, ok := strings.CutPrefix(line, "worker pid "); ok {
			n, _ := strconv.Atoi(pid)
			workers = append(workers, n)
		}
	}
	if len(workers) < 2 {
		e.t.Fatalf("the program log names %d workers, want 2:\n%s", len(workers), e.programLog())
	}
	return workers[1]
}

// killedLeftover reports whether the daemon log has a "killing N leftover
// processes of gateone" line naming pid. Other processes may share the
// line: a CI run once saw Debian's dtach client, whose terminal the
// server's exit had hung up, outlive the grace too.
func killedLeftover(daemonLog string, pid int) bool {
	for _, line := range strings.Split(daemonLog, "\n") {
		_, pids, ok := strings.Cut(line, "leftover processes of gateone (")
		if !ok || !strings.Contains(line, "WARN killing ") {
			continue
		}
		pids, _, _ = strings.Cut(pids, ")")
		pids = strings.TrimPrefix(strings.TrimPrefix(pids, "pids"), "pid")
		for _, f := range strings.Split(pids, ",") {
			if strings.TrimSpace(f) == strconv.Itoa(pid) {
				return true
			}
		}
	}
	return false
}

func (e *seedEnv) daemonLog() string  { return readFileOrEmpty(filepath.Join(e.dir, "keeper.log")) }
func (e *seedEnv) programLog() string { return readFileOrEmpty(filepath.Join(e.dir, "gateone.log")) }

// waitInstance waits until exactly one instance of the stand-in runs,
// RUNNING, with its two workers and its helper, none of them a process of
// the instance before (nil for none), and returns its pids, the server's
// first.
func (e *seedEnv) waitInstance(before []int, what string) []int {
	e.t.Helper()
	var pids []int
	var status string
	defer func() {
		if e.t.Failed() {
			e.t.Logf("last seen: %s, stand-in pids %v (before %v)\ndaemon log:\n%s\nprogram log:\n%s",
				status, pids, before, e.daemonLog(), e.programLog())
		}
	}()
	waitFor(e.t, what, 30*time.Second, func() bool {
		status, _ = e.keeper("status", "gateone")
		pids = e.gateonePids()
		out, code := e.keeper("pid", "gateone")
		main, err := strconv.Atoi(strings.TrimSpace(out))
		if code != 0 || err != nil || main == 0 || slices.Contains(before, main) || !strings.Contains(status, "RUNNING") {
			return false
		}
		if len(pids) != 4 || !slices.Contains(pids, main) {
			return false
		}
		for _, pid := range pids {
			if slices.Contains(before, pid) {
				return false
			}
		}
		pids = slices.DeleteFunc(pids, func(p int) bool { return p == main })
		pids = append([]int{main}, pids...)
		return true
	})
	return pids
}

// waitResumed waits until the stand-in is attached to every one of the
// sessions first listed.
func (e *seedEnv) waitResumed(first []sessionJSON) {
	e.t.Helper()
	waitFor(e.t, "the stand-in to attach to every session", 15*time.Second, func() bool {
		list := e.sessions()
		if !sameMasters(first, list) {
			return false
		}
		for _, s := range list {
			if s.Clients != 1 {
				return false
			}
		}
		return true
	})
}

// programProcesses lists the live processes of the test other than the
// daemon and the sessions (their masters and everything below them): what
// is left of the program.
func (e *seedEnv) programProcesses() []string {
	e.t.Helper()
	snap, err := proctree.Take()
	if err != nil {
		e.t.Fatal(err)
	}
	daemonPid := readPidFile(e.t, filepath.Join(e.dir, "keeper.pid"), 5*time.Second)
	session := map[int]bool{daemonPid: true}
	for _, s := range e.sessions() {
		session[s.PID] = true
		for _, p := range snap.Descendants(s.PID) {
			session[p.PID] = true
		}
	}
	var left []string
	for _, pid := range pidsMentioning(e.dir) {
		if p, ok := snap.Get(pid); ok && !p.Zombie() && !session[pid] {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			left = append(left, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
		}
	}
	return left
}
