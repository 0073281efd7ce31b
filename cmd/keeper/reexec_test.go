package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
	"keeper/supervise/xmlrpc"
)

// reexecConf runs 20 programs: two writers of a numbered line a
// millisecond, 15 sleepers, one that leaves a keeper session, and an event
// listener (testdata/events/serials.py) of the PROCESS_LOG events of a
// third writer, a line every 20 ms, that records each event's serials and
// data.
const reexecConf = `
[program:w1]
command=PYTHON -u -c 'import itertools, time; [(print(i), time.sleep(0.001)) for i in itertools.count(1)]' @DIR@
startsecs=0
stdout_logfile=@DIR@/w1.log

[program:w2]
command=PYTHON -u -c 'import itertools, time; [(print(i), time.sleep(0.001)) for i in itertools.count(1)]' @DIR@
startsecs=0
stdout_logfile=AUTO

[program:idle]
command=@DIR@/sleepy 1000
process_name=%(program_name)s_%(process_num)02d
numprocs=15
startsecs=0

[program:ticker]
command=PYTHON -u -c 'import itertools, time; [(print(i), time.sleep(0.02)) for i in itertools.count(1)]' @DIR@
startsecs=0
stdout_logfile=@DIR@/ticker.log
stdout_events_enabled=true

[eventlistener:serials]
command=PYTHON SERIALS @DIR@/serials.txt @DIR@/events.txt 0.01
events=PROCESS_LOG
buffer_size=10000
`

// copyFile copies the keeper binary to dst, executable.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// processTable maps each process to its pid and start time.
func processTable(t *testing.T, k *keeperd) map[string][2]int {
	t.Helper()
	table := map[string][2]int{}
	for _, v := range k.mustCall("supervisor.getAllProcessInfo").([]any) {
		s := v.(xmlrpc.Struct)
		table[rpcField[string](s, "group")+":"+rpcField[string](s, "name")] = [2]int{rpcField[int](s, "pid"), rpcField[int](s, "start")}
		if statename(s) != "RUNNING" {
			t.Errorf("%s is %s", rpcField[string](s, "name"), statename(s))
		}
	}
	return table
}

// checkNumbered checks that a writer's log holds 1, 2, 3... each once, in
// order, and returns how many.
func checkNumbered(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		if got, err := strconv.Atoi(sc.Text()); err != nil || got != n {
			t.Fatalf("%s line %d is %q, want %d", path, n, sc.Text(), n)
		}
	}
	return n
}

// TestReexecKeepsEverything: ten `keeper reexec` in a row, one into a
// binary of another version, under two programs writing a line a
// millisecond: the same pids and start times, every line logged once and
// in order, the session still there and answering, and the event listener
// sent every event once, in order, its serials going on.
func TestReexecKeepsEverything(t *testing.T) {
	t.Parallel()
	python := peer.Need(t, "python3-supervisor")
	serials, err := filepath.Abs("testdata/events/serials.py")
	if err != nil {
		t.Fatal(err)
	}
	k := newKeeperd(t, "")
	k.writeConf(strings.NewReplacer("PYTHON", python, "SERIALS", serials).Replace(reexecConf) + reapConfFor(keeperBin+" dtach"))
	k.bin = filepath.Join(k.dir, "keeper")
	copyFile(t, keeperBin, k.bin)
	// The upgrade: the same source with another version string.
	build := exec.Command("go", "build", "-ldflags", "-X main.version=reexec-2", "-o", k.bin+".new", ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the new keeper: %v\n%s", err, out)
	}
	k.start()
	session := oneSession(t, k)
	for _, name := range []string{"w1", "w2", "ticker", "serials"} {
		k.waitState(name, 10*time.Second, "RUNNING")
	}
	before := processTable(t, k)
	if len(before) != 20 {
		t.Fatalf("%d processes, want 20", len(before))
	}
	done := regexp.MustCompile(`^keeper reexec: done in \S+ \(pid (\d+), version (\S+)\)\n$`)
	for i := range 10 {
		version := "0.1.0-dev"
		if i >= 5 {
			version = "reexec-2"
		}
		if i == 5 {
			if err := os.Rename(k.bin+".new", k.bin); err != nil {
				t.Fatal(err)
			}
		}
		out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "reexec")
		m := done.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("reexec %d: exit %d: %q\nlog:\n%s", i, code, out, k.log())
		}
		if m[1] != strconv.Itoa(k.cmd.Process.Pid) || m[2] != version {
			t.Errorf("reexec %d: %q, want pid %d and version %s", i, out, k.cmd.Process.Pid, version)
		}
		t.Logf("reexec %d: %s", i, out)
	}
	after := processTable(t, k)
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", k.log())
		}
	}()
	for name, was := range before {
		if after[name] != was {
			t.Errorf("%s: pid and start %v before, %v after", name, was, after[name])
		}
	}
	if s := oneSession(t, k); s.PID != session.PID {
		t.Errorf("session master %d before, %d after", session.PID, s.PID)
	}
	c, err := net.Dial("unix", session.Socket)
	if err != nil {
		t.Errorf("the session does not answer after the reexecs: %v", err)
	} else {
		c.Close()
	}
	w2log := rpcField[string](k.info("w2"), "stdout_logfile")
	for _, name := range []string{"w1", "w2", "ticker"} {
		k.mustCall("supervisor.stopProcess", name)
	}
	for _, path := range []string{filepath.Join(k.dir, "w1.log"), w2log} {
		n := checkNumbered(t, path)
		t.Logf("%s: %d lines, none lost or repeated", filepath.Base(path), n)
	}
	checkListenerSerials(t, k)
}

// checkListenerSerials checks that the serials listener got every line the
// stopped ticker wrote, once and in order, in events whose serial and
// poolserial count 0, 1, 2... with no gap or repeat.
func checkListenerSerials(t *testing.T, k *keeperd) {
	t.Helper()
	ticks := checkNumbered(t, filepath.Join(k.dir, "ticker.log"))
	events := filepath.Join(k.dir, "events.txt")
	waitFor(t, "the listener sent every line of ticker", 30*time.Second, func() bool {
		return strings.HasSuffix(readFileOrEmpty(events), fmt.Sprintf("\n%d\n", ticks))
	})
	if n := checkNumbered(t, events); n != ticks {
		t.Errorf("the listener got %d lines of ticker's %d", n, ticks)
	}
	lines := strings.Split(strings.TrimSuffix(readFileOrEmpty(filepath.Join(k.dir, "serials.txt")), "\n"), "\n")
	for i, line := range lines {
		if want := fmt.Sprintf("%d %d", i, i); line != want {
			t.Fatalf("event %d has serial and poolserial %q, want %q", i, line, want)
		}
	}
	t.Logf("listener: %d events for %d lines, serials without gap or repeat; %d reexecs found it BUSY",
		len(lines), ticks, len(k.logLines("reexec: event listener serials taken over BUSY")))
}

// TestReexecExecFails: when the binary is gone, the exec fails, reexec
// says so and the old daemon carries on with its programs.
func TestReexecExecFails(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, "[program:idle]\ncommand=@DIR@/sleepy 1000\nstartsecs=0\n")
	k.bin = filepath.Join(k.dir, "keeper")
	copyFile(t, keeperBin, k.bin)
	k.start()
	was := k.waitState("idle", 10*time.Second, "RUNNING")
	if err := os.Remove(k.bin); err != nil {
		t.Fatal(err)
	}
	out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "reexec")
	if want := fmt.Sprintf("keeper reexec: reexec: exec %s: no such file or directory; the daemon carries on\n", k.bin); code != 1 || out != want {
		t.Errorf("reexec with the binary gone: exit %d, %q; want 1, %q", code, out, want)
	}
	if now := k.waitState("idle", time.Second, "RUNNING"); rpcField[int](now, "pid") != rpcField[int](was, "pid") {
		t.Errorf("idle pid %d before, %d after", rpcField[int](was, "pid"), rpcField[int](now, "pid"))
	}
	// Back in place, the binary takes over.
	copyFile(t, keeperBin, k.bin)
	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "reexec"); code != 0 {
		t.Errorf("reexec with the binary back: exit %d: %s", code, out)
	}
	if now := k.waitState("idle", time.Second, "RUNNING"); rpcField[int](now, "pid") != rpcField[int](was, "pid") {
		t.Errorf("idle pid %d before, %d after", rpcField[int](was, "pid"), rpcField[int](now, "pid"))
	}
}

// TestReexecIntoDyingBinary: the daemon executes a "new version" that exits
// at once. Its programs are re-parented away but keep running, and a plain
// `keeper daemon` started afterwards re-adopts them (same pids, RUNNING)
// instead of stopping them, and notices when one ends (autorestart).
func TestReexecIntoDyingBinary(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, "[program:idle]\ncommand=@DIR@/sleepy 1000\nstartsecs=0\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n")
	k.bin = filepath.Join(k.dir, "keeper")
	copyFile(t, keeperBin, k.bin)
	k.start()
	var pids []int
	for _, name := range []string{"idle:idle_0", "idle:idle_1"} {
		pids = append(pids, rpcField[int](k.waitState(name, 10*time.Second, "RUNNING"), "pid"))
	}
	// A new binary that dies before taking over.
	if err := os.WriteFile(k.bin+".new", []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(k.bin+".new", k.bin); err != nil {
		t.Fatal(err)
	}
	if err := k.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-k.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the daemon did not exec the dying binary; log:\n%s", k.log())
	}
	for _, pid := range pids {
		if !processAlive(pid) {
			t.Fatalf("program pid %d died with the daemon", pid)
		}
	}
	k2 := k.again()
	k2.bin = keeperBin
	k2.start()
	for i, name := range []string{"idle:idle_0", "idle:idle_1"} {
		if got := rpcField[int](k2.waitState(name, 10*time.Second, "RUNNING"), "pid"); got != pids[i] {
			t.Errorf("%s: pid %d after the re-adoption, was %d; log:\n%s", name, got, pids[i], k2.log())
		}
	}
	// Not its child: its end is seen through a pidfd, reported as an
	// unknown exit, and the program started again.
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, k2, "idle_0 started again", 10*time.Second, func() bool {
		s := k2.info("idle:idle_0")
		return statename(s) == "RUNNING" && rpcField[int](s, "pid") != pids[0]
	})
	if l := k2.logLines("exited: idle_0 "); len(l) != 1 || !strings.Contains(l[0], "unknown termination cause") {
		t.Errorf("the exit of the re-adopted idle_0 logged as %q", l)
	}
}

// notifyDogConf is a ready=notify program NAME with a watchdog that pings
// every 0.2 s, counting its pings in @DIR@/NAME.pings, until @DIR@/quiet
// appears; then it sends STATUS=silent and goes silent.
const notifyDogConf = `
[program:NAME]
command=/bin/sh -c 'NOTIFY --ready --status=serving; i=0; while [ ! -e @DIR@/quiet ]; do @DIR@/sleepy 0.2; NOTIFY WATCHDOG=1; i=$((i+1)); echo $i >@DIR@/NAME.pings; done; NOTIFY STATUS=silent; exec @DIR@/sleepy 1000'
ready=notify
watchdog_sec=2
`

// TestReexecKeepsNotifyProgram: ready=notify programs with a watchdog, one
// on a pipe and one on a terminal of its own (pty = true), stay RUNNING,
// same pid, through ten reexecs, pinging their NOTIFY_SOCKETs all along;
// the new daemon reads them (the STATUS= they send afterwards shows) and
// their watchdogs restart them once they go silent.
func TestReexecKeepsNotifyProgram(t *testing.T) {
	t.Parallel()
	notify := peer.Need(t, "systemd-notify")
	dogs := []string{"dog", "ptydog"}
	conf := strings.NewReplacer("NOTIFY", notify, "NAME", "dog").Replace(notifyDogConf) +
		strings.NewReplacer("NOTIFY", notify, "NAME", "ptydog").Replace(notifyDogConf) + "pty=true\n"
	k := newKeeperd(t, conf)
	k.start()
	pids := map[string]int{}
	for _, name := range dogs {
		pids[name] = rpcField[int](k.waitState(name, 10*time.Second, "RUNNING"), "pid")
	}
	for i := range 10 {
		if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "reexec"); code != 0 {
			t.Fatalf("reexec %d: exit %d: %s\nlog:\n%s", i, code, out, k.log())
		}
	}
	// Two watchdog periods of pings: a watchdog that lost them would
	// have restarted them.
	for _, name := range dogs {
		pings := func() int {
			n, _ := strconv.Atoi(strings.TrimSpace(readFileOrEmpty(filepath.Join(k.dir, name+".pings"))))
			return n
		}
		after := pings() + 20
		waitFor(t, name+"'s 20 more WATCHDOG=1", 20*time.Second, func() bool { return pings() >= after })
	}
	for _, name := range dogs {
		s := k.info(name)
		if statename(s) != "RUNNING" || rpcField[int](s, "pid") != pids[name] || !strings.Contains(rpcField[string](s, "description"), "serving") {
			t.Fatalf("after the reexecs %s is %s, pid %d (was %d), %q; log:\n%s", name, statename(s), rpcField[int](s, "pid"), pids[name],
				rpcField[string](s, "description"), k.log())
		}
	}
	if err := os.WriteFile(filepath.Join(k.dir, "quiet"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range dogs {
		waitFor(t, name+"'s STATUS=silent read by the new daemon", 10*time.Second, func() bool {
			return strings.Contains(rpcField[string](k.info(name), "description"), "silent")
		})
		waitFor(t, name+" restarted for its silent watchdog", 10*time.Second, func() bool {
			return rpcField[int](k.info(name), "pid") != pids[name]
		})
		if l := k.logLines("restarting " + name + ": no WATCHDOG=1 for"); len(l) == 0 {
			t.Errorf("no watchdog restart of %s in the log:\n%s", name, k.log())
		}
	}
}

// TestReexecKeepsInetServer: clients that each connect to
// [inet_http_server] (basic auth), ask supervisor.getState and hang up, in
// a loop through ten reexecs, are all answered: none is refused or cut.
func TestReexecKeepsInetServer(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	k := newKeeperd(t, fmt.Sprintf("[inet_http_server]\nport=127.0.0.1:%d\nusername=u\npassword=p\n\n"+
		"[program:idle]\ncommand=@DIR@/sleepy 1000\nstartsecs=0\n", port))
	k.start()
	k.waitState("idle", 10*time.Second, "RUNNING")
	url := fmt.Sprintf("http://127.0.0.1:%d/RPC2", port)
	const call = `<?xml version="1.0"?><methodCall><methodName>supervisor.getState</methodName><params></params></methodCall>`
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	ask := func() error {
		req, err := http.NewRequest("POST", url, strings.NewReader(call))
		if err != nil {
			return err
		}
		req.SetBasicAuth("u", "p")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "RUNNING") {
			return fmt.Errorf("status %d, %q, %v", resp.StatusCode, body, err)
		}
		return nil
	}
	if err := ask(); err != nil {
		t.Fatalf("before the reexecs: %v", err)
	}
	stop := make(chan struct{})
	type tally struct {
		answered int
		errs     []error
	}
	results := make(chan tally)
	for range 2 {
		go func() {
			var r tally
			for {
				select {
				case <-stop:
					results <- r
					return
				default:
				}
				if err := ask(); err != nil {
					r.errs = append(r.errs, err)
				} else {
					r.answered++
				}
			}
		}()
	}
	for i := range 10 {
		if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "reexec"); code != 0 {
			close(stop)
			t.Fatalf("reexec %d: exit %d: %s\nlog:\n%s", i, code, out, k.log())
		}
	}
	close(stop)
	var all tally
	for range 2 {
		r := <-results
		all.answered += r.answered
		all.errs = append(all.errs, r.errs...)
	}
	if len(all.errs) > 0 {
		t.Errorf("%d of %d requests failed through the reexecs, the first: %v", len(all.errs), len(all.errs)+all.answered, all.errs[0])
	}
	if n := len(k.logLines("reexec: keeper")); n != 10 {
		t.Errorf("%d takeovers in the log, want 10", n)
	}
	t.Logf("%d requests answered through ten reexecs", all.answered)
}

// TestReexecKeepsQueuedStdin: what sendProcessStdin queued for a program
// that does not read its stdin yet (more than its pipe holds) reaches it
// after a reexec, every line once and in order.
func TestReexecKeepsQueuedStdin(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, "[program:late]\ncommand=/bin/sh -c 'while [ ! -e @DIR@/go ]; do @DIR@/sleepy 0.05; done; exec cat'\n"+
		"startsecs=0\nstdout_logfile=@DIR@/late.log\n")
	k.start()
	k.waitState("late", 10*time.Second, "RUNNING")
	const lines = 40000 // about 230 KiB: more than a pipe holds
	var chunk strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&chunk, "%d\n", i)
		if i%4000 == 0 {
			k.mustCall("supervisor.sendProcessStdin", "late", chunk.String())
			chunk.Reset()
		}
	}
	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "reexec"); code != 0 {
		t.Fatalf("reexec: exit %d: %s\nlog:\n%s", code, out, k.log())
	}
	if err := os.WriteFile(filepath.Join(k.dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(k.dir, "late.log")
	waitFor(t, "late to print every line it was sent", 20*time.Second, func() bool {
		return strings.HasSuffix(readFileOrEmpty(log), fmt.Sprintf("\n%d\n", lines))
	})
	if n := checkNumbered(t, log); n != lines {
		t.Errorf("late printed %d lines, want %d", n, lines)
	}
}
