package main

// End-to-end tests of keeper's supervisorctl-compatible client commands
// against the real supervisord: every command is run with supervisorctl
// and with keeper, and their output and exit status must agree.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
	"keeper/supervise"
	"keeper/supervise/xmlrpc"
)

// svDaemon is a supervisord running a copy of testdata/ctl/supervisord.conf
// in its own directory.
type svDaemon struct {
	dir, conf, sock string
	cmd             *exec.Cmd
	exited          chan struct{}
	client          *xmlrpc.Client
}

// startSupervisord copies the config named conf from testdata/ctl into a new
// test directory, starts supervisord -n on it and waits until every process
// has settled. Cleanup shuts it down and leaves no process behind.
func startSupervisord(t *testing.T, conf string) *svDaemon {
	t.Helper()
	d, err := startSupervisordErr(t, conf)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// useConfig replaces the daemon's config with testdata/ctl/NAME.
func (d *svDaemon) useConfig(name string) error {
	data, err := os.ReadFile(filepath.Join("testdata", "ctl", name))
	if err != nil {
		return err
	}
	return os.WriteFile(d.conf, data, 0o644)
}

// settle waits until the daemon answers and no process is starting,
// stopping or backing off, and quick (which exits at once) is not running.
func (d *svDaemon) settle(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		v, err := d.client.Call(context.Background(), "supervisor.getAllProcessInfo")
		var infos []supervise.ProcessInfo
		if err == nil {
			infos, err = supervise.DecodeProcessInfos(v)
		}
		if err == nil {
			busy := ""
			for _, info := range infos {
				st := info.State
				if st == supervise.Starting || st == supervise.Backoff || st == supervise.Stopping ||
					(info.Name == "quick" && st == supervise.Running) {
					busy = info.Name + " " + info.StateName
				}
			}
			if busy == "" {
				return nil
			}
			err = errors.New(busy)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not settled after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ctlRun is what one client command printed.
type ctlRun struct {
	stdout, stderr string
	code           int
}

// runClient runs argv in dir with a timeout and returns its output.
func runClient(dir string, argv ...string) (ctlRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return ctlRun{}, fmt.Errorf("run %q: %w", argv, err)
	}
	return ctlRun{out.String(), errOut.String(), cmd.ProcessState.ExitCode()}, nil
}

var (
	reUptime = regexp.MustCompile(`uptime [0-9a-z, ]*[0-9]+:[0-9]{2}:[0-9]{2}`)
	rePid    = regexp.MustCompile(`pid [0-9]+`)
	reNumber = regexp.MustCompile(`(?m)^[0-9]+$`)
	reDate   = regexp.MustCompile(`[A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2} [AP]M`)
)

// normalize replaces what differs between two daemons and two runs: the
// test directory, pids, uptimes and dates.
func normalize(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "DIR")
	s = reUptime.ReplaceAllString(s, "uptime U")
	s = rePid.ReplaceAllString(s, "pid N")
	s = reNumber.ReplaceAllString(s, "N")
	return reDate.ReplaceAllString(s, "DATE")
}

// ctlStep is one step of a script run against two daemons, one driven by
// supervisorctl and one by keeper.
type ctlStep struct {
	args []string // after "-c CONF"; @DIR@ is the daemon's directory
	// action, instead of a command, changes the daemon (edit its config,
	// wait for it to exit).
	action func(d *svDaemon) error
	down   bool // the daemon is gone: do not wait for it to settle first
	// loose steps compare only the exit status; keeper's output must start
	// with prefix. supervisorctl prints a Python exception there.
	loose  bool
	prefix string
	// unordered steps compare their lines in any order: supervisord
	// answers a stop of several processes as they exit, and keeper lists
	// one that stopped at once (from BACKOFF) before those it waited for.
	unordered bool
}

func step(args ...string) ctlStep { return ctlStep{args: args} }

func downStep(args ...string) ctlStep { return ctlStep{args: args, down: true} }

func looseStep(prefix string, down bool, args ...string) ctlStep {
	return ctlStep{args: args, loose: true, prefix: prefix, down: down}
}

// runScript runs the steps against d with the client argv0 (supervisorctl
// or keeper) and returns one result per step.
func runScript(d *svDaemon, argv0 string, steps []ctlStep) ([]ctlRun, error) {
	runs := make([]ctlRun, len(steps))
	for i, s := range steps {
		if s.action != nil {
			if err := s.action(d); err != nil {
				return runs, fmt.Errorf("step %d: %w", i, err)
			}
			continue
		}
		if !s.down {
			if err := d.settle(15 * time.Second); err != nil {
				return runs, fmt.Errorf("before %q: %w", s.args, err)
			}
		}
		argv := []string{argv0, "-c", d.conf}
		for _, a := range s.args {
			argv = append(argv, strings.ReplaceAll(a, "@DIR@", d.dir))
		}
		r, err := runClient(d.dir, argv...)
		if err != nil {
			return runs, err
		}
		r.stdout, r.stderr = normalize(r.stdout, d.dir), normalize(r.stderr, d.dir)
		runs[i] = r
	}
	return runs, nil
}

// compareScript runs steps with supervisorctl against one daemon and with
// keeper against another, both started from conf, at the same time, then
// checks every step printed the same and exited the same.
func compareScript(t *testing.T, sv, kp *svDaemon, steps []ctlStep) {
	t.Helper()
	var svRuns, kpRuns []ctlRun
	var svErr, kpErr error
	var wg sync.WaitGroup
	wg.Go(func() { svRuns, svErr = runScript(sv, peer.Find("supervisorctl"), steps) })
	wg.Go(func() { kpRuns, kpErr = runScript(kp, keeperBin, steps) })
	wg.Wait()
	if svErr != nil {
		t.Fatalf("supervisorctl script: %v", svErr)
	}
	if kpErr != nil {
		t.Fatalf("keeper script: %v", kpErr)
	}
	for i, s := range steps {
		if s.action != nil {
			continue
		}
		want, got := svRuns[i], kpRuns[i]
		name := fmt.Sprintf("%02d %s", i, strings.Join(s.args, " "))
		if s.loose {
			if got.code != want.code || !strings.HasPrefix(got.stdout, s.prefix) {
				t.Errorf("%s: exit %d, stdout %q; supervisorctl: exit %d, stdout %q (keeper's must start with %q)",
					name, got.code, got.stdout, want.code, want.stdout, s.prefix)
			}
			continue
		}
		if s.unordered {
			got.stdout, want.stdout = sortedLines(got.stdout), sortedLines(want.stdout)
		}
		if got != want {
			t.Errorf("%s:\nkeeper:        exit %d\n%s%s\nsupervisorctl: exit %d\n%s%s",
				name, got.code, got.stdout, stderrNote(got.stderr), want.code, want.stdout, stderrNote(want.stderr))
		}
	}
}

func stderrNote(s string) string {
	if s == "" {
		return ""
	}
	return "(stderr) " + s
}

// TestCtlCompare drives two supervisords through the same commands, one with
// supervisorctl and one with keeper, and compares every answer.
func TestCtlCompare(t *testing.T) {
	peer.Need(t, "supervisord")
	peer.Need(t, "supervisorctl")
	var sv, kp *svDaemon
	var svErr, kpErr error
	var wg sync.WaitGroup
	wg.Go(func() { sv, svErr = startSupervisordErr(t, "supervisord.conf") })
	wg.Go(func() { kp, kpErr = startSupervisordErr(t, "supervisord.conf") })
	wg.Wait()
	if err := errors.Join(svErr, kpErr); err != nil {
		t.Fatal(err)
	}

	t.Run("tail-f", func(t *testing.T) { testTailFollow(t, sv) })
	t.Run("json", func(t *testing.T) { testJSON(t, kp) })

	edit := func(name string) ctlStep {
		return ctlStep{action: func(d *svDaemon) error { return d.useConfig(name) }}
	}
	waitExit := ctlStep{action: func(d *svDaemon) error {
		select {
		case <-d.exited:
			return nil
		case <-time.After(15 * time.Second):
			return errors.New("supervisord did not exit after shutdown")
		}
	}}
	steps := []ctlStep{
		step("status"),
		step("status", "gateone"),
		step("status", "g:*", "nosuch", "nog:*", "g:nope", "gateone:gateone"),
		step("status", "idle"),
		step("status", "nosuch", "gateone"),
		step("pid"),
		step("pid", "all"),
		step("pid", "gateone"),
		step("pid", "nosuch", "gateone"),
		step("avail"),
		step("avail", "x"),
		step("version"),
		step("version", "x"),
		step("tail", "gateone"),
		step("tail", "gateone", "stderr"),
		step("tail", "-5", "gateone"),
		step("tail", "-0", "gateone", "STDERR"),
		step("tail", "-x", "gateone"),
		step("tail", "gateone", "bad"),
		step("tail", "gateone", "x", "stdout"),
		step("tail"),
		step("tail", "-f"),
		step("tail", "a", "b", "c", "d"),
		step("tail", "nosuch"),
		step("maintail", "-x"),
		step("maintail", "a", "b"),
		step("start", "gateone"),
		step("start", "nosuch"),
		step("start", "nog:*"),
		step("start", "g:nope", "gateone"),
		step("start"),
		step("start", "idle"),
		step("status", "idle"),
		step("stop", "idle"),
		step("stop", "idle"),
		step("stop", "nosuch"),
		step("stop", "nog:*"),
		step("stop"),
		step("restart", "gateone"),
		step("restart", "g:*"),
		step("restart"),
		{args: []string{"stop", "worker:*"}, unordered: true},
		step("status", "worker:*"),
		step("start", "worker:"),
		step("signal", "CONT", "gateone"),
		step("signal", "CONT", "g:*", "worker:worker_01"),
		step("signal", "WINCH", "all"),
		step("signal", "NOSUCHSIG", "gateone"),
		step("signal", "CONT", "quick"),
		step("signal", "CONT", "nosuch"),
		step("signal", "CONT"),
		step("clear", "gateone"),
		step("clear", "nosuch", "g:*"),
		step("clear", "all"),
		step("clear"),
		step("tail", "gateone"),
		step("-u", "keeper", "-p", "wrong", "status"),
		step("-s", "unix://@DIR@/sv.sock", "pid", "gateone"),
		step("reread"),
		step("reread", "x"),
		edit("supervisord-changed.conf"),
		step("reread"),
		step("update", "nosuch"),
		step("update", "newprog"),
		step("status"),
		step("update"),
		step("avail"),
		step("status"),
		step("update"),
		step("remove", "gateone"),
		step("remove", "nosuch"),
		step("remove", "newprog"),
		step("avail"),
		step("add", "newprog", "newprog", "nosuch"),
		step("add"),
		edit("supervisord.conf"),
		step("update", "all"),
		step("start", "all"),
		step("status"),
		{args: []string{"stop", "all"}, unordered: true},
		step("status"),
		step("start", "g:*", "gateone"),
		step("reload", "x"),
		step("shutdown", "x"),
		step("reload"),
		step("status"),
		step("shutdown"),
		waitExit,
		downStep("status"),
		downStep("status", "x"),
		downStep("start", "x"),
		downStep("restart", "x"),
		downStep("signal", "HUP", "x"),
		downStep("pid"),
		downStep("clear", "x"),
		downStep("tail", "-f", "x"),
		downStep("maintail"),
		downStep("version"),
		downStep("shutdown"),
		downStep("start"),
		looseStep("error: ", true, "avail"),
		looseStep("error: ", true, "update"),
		looseStep("error: ", true, "add", "x"),
	}
	// The first line only: supervisorctl goes on with a Python exception.
	for i, s := range steps {
		if slices.Equal(s.args, []string{"-u", "keeper", "-p", "wrong", "status"}) {
			steps[i] = looseStep("Server requires authentication\n", false, s.args...)
		}
	}
	compareScript(t, sv, kp, steps)
}

// startSupervisordErr is startSupervisord returning its error, so that two
// daemons can start at once from two goroutines.
func startSupervisordErr(t *testing.T, conf string) (*svDaemon, error) {
	dir, err := os.MkdirTemp("", "kt")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		killMarked(t, dir)
		os.RemoveAll(dir)
	})
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return nil, err
	}
	if err := os.Symlink(sleep, filepath.Join(dir, "sleepy")); err != nil {
		return nil, err
	}
	d := &svDaemon{dir: dir, conf: filepath.Join(dir, "sv.conf"), sock: filepath.Join(dir, "sv.sock"), exited: make(chan struct{})}
	data, err := os.ReadFile(filepath.Join("testdata", "ctl", conf))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(d.conf, data, 0o644); err != nil {
		return nil, err
	}
	d.client = xmlrpc.NewClient(d.sock, xmlrpc.Options{Username: "keeper", Password: "secret"})
	d.cmd = exec.Command(peer.Find("supervisord"), "-n", "-c", d.conf)
	d.cmd.Dir = dir
	var logs syncBuffer
	d.cmd.Stdout, d.cmd.Stderr = &logs, &logs
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start supervisord: %w", err)
	}
	cmdPidsMu.Lock()
	cmdPids[d.cmd.Process.Pid] = true
	cmdPidsMu.Unlock()
	go func() {
		d.cmd.Wait()
		cmdPidsMu.Lock()
		delete(cmdPids, d.cmd.Process.Pid)
		cmdPidsMu.Unlock()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.client.Call(context.Background(), "supervisor.shutdown")
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
		}
		d.client.Close()
	})
	if err := d.settle(10 * time.Second); err != nil {
		return nil, fmt.Errorf("supervisord on %s: %v\n%s", conf, err, logs.String())
	}
	return d, nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// followRun starts a client with tail -f or maintail -f, waits until its
// stdout holds want, interrupts it as Ctrl-C would and returns its output
// and exit status.
func followRun(t *testing.T, d *svDaemon, want string, argv ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], append([]string{"-c", d.conf}, argv[1:]...)...)
	cmd.Dir = d.dir
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	deadline := time.After(15 * time.Second)
	for !strings.Contains(out.String(), want) {
		select {
		case <-done:
			t.Fatalf("%q exited before printing %q: %q %q", argv, want, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("%q printed no %q: %q %q", argv, want, out.String(), errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%q still running 10s after SIGINT", argv)
	}
	return normalize(out.String(), d.dir), normalize(errOut.String(), d.dir), cmd.ProcessState.ExitCode()
}

func testTailFollow(t *testing.T, d *svDaemon) {
	for _, args := range [][]string{
		{"tail", "-f", "gateone"},
		{"tail", "-f", "gateone", "stderr"},
	} {
		name := strings.Join(args, " ")
		want := "hello out\n"
		if slices.Contains(args, "stderr") {
			want = "hello err\n"
		}
		svOut, svErr, svCode := followRun(t, d, want, append([]string{peer.Find("supervisorctl")}, args...)...)
		// supervisorctl's own race: now and then its Ctrl-C lands inside
		// asyncore and it says "Cannot connect, error: KeyboardInterrupt"
		// instead of its blank line. That is not the answer to compare.
		for try := 0; try < 3 && strings.Contains(svErr, "KeyboardInterrupt"); try++ {
			svOut, svErr, svCode = followRun(t, d, want, append([]string{peer.Find("supervisorctl")}, args...)...)
		}
		kpOut, kpErr, kpCode := followRun(t, d, want, append([]string{keeperBin}, args...)...)
		if kpOut != svOut || kpErr != svErr || kpCode != svCode {
			t.Errorf("%s: keeper: exit %d %q %q; supervisorctl: exit %d %q %q", name, kpCode, kpOut, kpErr, svCode, svOut, svErr)
		}
	}
	// The daemon's log: its last kilobyte differs run to run, so only the
	// shape is compared.
	out, errOut, code := followRun(t, d, "INFO", keeperBin, "maintail", "-f")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "==> Press Ctrl-C to exit <==\n") || !strings.HasSuffix(out, "\n\n") {
		t.Errorf("maintail -f: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Unknown names: the daemon answers 404, reported on stderr, exit 0.
	for _, args := range [][]string{{"tail", "-f", "nosuch"}, {"tail", "-f", "g:*", "stderr"}} {
		sv, err := runClient(d.dir, append([]string{peer.Find("supervisorctl"), "-c", d.conf}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := runClient(d.dir, append([]string{keeperBin, "-c", d.conf}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if kp != sv {
			t.Errorf("%s: keeper %+v; supervisorctl %+v", strings.Join(args, " "), kp, sv)
		}
	}
	// maintail without -f: compare the shape, and the exact bytes of a
	// short tail read from the same log by both.
	sv, err := runClient(d.dir, peer.Find("supervisorctl"), "-c", d.conf, "maintail", "-30")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := runClient(d.dir, keeperBin, "-c", d.conf, "maintail", "-30")
	if err != nil {
		t.Fatal(err)
	}
	if kp.code != 0 || sv.code != 0 || len(kp.stdout) != len(sv.stdout) {
		t.Errorf("maintail -30: keeper %+v; supervisorctl %+v", kp, sv)
	}
}

func testJSON(t *testing.T, d *svDaemon) {
	text, err := runClient(d.dir, keeperBin, "-c", d.conf, "status", "gateone", "idle", "nosuch")
	if err != nil {
		t.Fatal(err)
	}
	js, err := runClient(d.dir, keeperBin, "-c", d.conf, "status", "--json", "gateone", "idle", "nosuch")
	if err != nil {
		t.Fatal(err)
	}
	var procs []processStatus
	if err := json.Unmarshal([]byte(js.stdout), &procs); err != nil {
		t.Fatalf("status --json: %v\n%s", err, js.stdout)
	}
	if js.code != text.code || js.code != exitStatusStopped {
		t.Errorf("status --json exit %d, status exit %d, want %d", js.code, text.code, exitStatusStopped)
	}
	if js.stderr != "nosuch: ERROR (no such process)\n" {
		t.Errorf("status --json stderr %q", js.stderr)
	}
	if len(procs) != 2 || procs[0].Name != "gateone" || procs[0].StateName != "RUNNING" || procs[0].PID == 0 ||
		procs[1].Namespec != "idle" || procs[1].State != supervise.Stopped || procs[1].Description != "Not started" ||
		procs[0].StdoutLogfile != filepath.Join(d.dir, "gateone.out") {
		t.Errorf("status --json: %+v", procs)
	}
	for _, p := range procs {
		if !strings.Contains(text.stdout, p.Namespec) || !strings.Contains(text.stdout, p.StateName) {
			t.Errorf("status --json has %s %s, status says\n%s", p.Namespec, p.StateName, text.stdout)
		}
	}

	av, err := runClient(d.dir, keeperBin, "-c", d.conf, "avail", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var avail []availInfo
	if err := json.Unmarshal([]byte(av.stdout), &avail); err != nil || av.code != 0 {
		t.Fatalf("avail --json: exit %d, %v\n%s", av.code, err, av.stdout)
	}
	var names []string
	for _, a := range avail {
		names = append(names, a.Namespec)
		if a.Namespec == "idle" && (a.Autostart || !a.InUse || a.State != "in use" || a.Priority != 999) {
			t.Errorf("avail --json idle: %+v", a)
		}
		if a.Name == "a_program_with_a_rather_long_name" && a.Priority != 5 {
			t.Errorf("avail --json long name: %+v", a)
		}
	}
	if len(names) != 7 || !slices.Contains(names, "worker:worker_01") || !slices.Contains(names, "g:member") {
		t.Errorf("avail --json names %q", names)
	}
}

// TestCtlRefused checks the messages and exit statuses when the socket
// exists but nothing listens on it, and when no config can be found.
func TestCtlRefused(t *testing.T) {
	peer.Need(t, "supervisorctl")
	dir := testDir(t)
	sock := filepath.Join(dir, "dead.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd) // the file stays; connecting to it is refused
	conf := filepath.Join(dir, "dead.conf")
	if err := os.WriteFile(conf, []byte("[supervisorctl]\nserverurl=unix://"+sock+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"status"}, {"start", "x"}, {"pid"}, {"tail", "-f", "x"}, {"version"}, {"shutdown"},
	}
	var wg sync.WaitGroup
	svRuns := make([]ctlRun, len(cases))
	kpRuns := make([]ctlRun, len(cases))
	errs := make([]error, len(cases))
	for i, args := range cases {
		wg.Go(func() {
			var err1, err2 error
			svRuns[i], err1 = runClient(dir, append([]string{peer.Find("supervisorctl"), "-c", conf}, args...)...)
			kpRuns[i], err2 = runClient(dir, append([]string{keeperBin, "-c", conf}, args...)...)
			errs[i] = errors.Join(err1, err2)
		})
	}
	wg.Wait()
	for i, args := range cases {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if kpRuns[i] != svRuns[i] {
			t.Errorf("%s: keeper %+v; supervisorctl %+v", strings.Join(args, " "), kpRuns[i], svRuns[i])
		}
	}
	// -s overrides the config; the URL is shown as given.
	r, err := runClient(dir, keeperBin, "-c", conf, "-s", "unix://"+dir+"/none.sock", "status")
	if err != nil {
		t.Fatal(err)
	}
	if want := (ctlRun{"unix://" + dir + "/none.sock no such file\n", "", 4}); r != want {
		t.Errorf("-s: got %+v, want %+v", r, want)
	}
	// An http:// URL where nothing listens: supervisorctl's answer.
	url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	kp, err1 := runClient(dir, keeperBin, "-c", conf, "-s", url, "status")
	sv, err2 := runClient(dir, peer.Find("supervisorctl"), "-c", conf, "-s", url, "status")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if kp != sv || kp.stdout != url+" refused connection\n" {
		t.Errorf("-s %s: keeper %+v; supervisorctl %+v", url, kp, sv)
	}
	// Neither unix:// nor http://, and a missing config: keeper's usage errors.
	for _, argv := range [][]string{
		{keeperBin, "-c", conf, "-s", "https://localhost:9001", "status"},
		{keeperBin, "-c", filepath.Join(dir, "nosuch.conf"), "status"},
		{keeperBin, "-c", conf, "status", "-x"},
	} {
		r, err := runClient(dir, argv...)
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "keeper") {
			t.Errorf("%q: %+v", argv[1:], r)
		}
	}
}

// TestCtlHelpers checks the pieces of supervisorctl's behaviour that keeper
// reproduces by hand: namespecs, Python's int() and repr().
func TestCtlHelpers(t *testing.T) {
	for _, c := range []struct {
		spec, group, process string
		all                  bool
	}{
		{"gateone", "gateone", "gateone", false},
		{"g:member", "g", "member", false},
		{"g:*", "g", "", true},
		{"g:", "g", "", true},
		{"g:a:b", "g", "a:b", false},
		{":x", "", "x", false},
	} {
		g, p, all := splitNamespec(c.spec)
		if g != c.group || p != c.process || all != c.all {
			t.Errorf("splitNamespec(%q) = %q, %q, %v; want %q, %q, %v", c.spec, g, p, all, c.group, c.process, c.all)
		}
	}
	if got := supervise.Namespec("g", "g"); got != "g" {
		t.Errorf("supervise.Namespec(g, g) = %q", got)
	}
	if got := supervise.Namespec("g", "m"); got != "g:m" {
		t.Errorf("supervise.Namespec(g, m) = %q", got)
	}
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"100", 100, true}, {"-5", -5, true}, {"+7", 7, true}, {" 12 ", 12, true}, {"1_000", 1000, true},
		{"0", 0, true}, {"", 0, false}, {"f", 0, false}, {"1__0", 0, false}, {"_1", 0, false},
		{"1_", 0, false}, {"--1", 0, false}, {"1e3", 0, false}, {"0x10", 0, false}, {"+-1", 0, false},
	} {
		n, ok := parsePyInt(c.in)
		if n != c.want || ok != c.ok {
			t.Errorf("parsePyInt(%q) = %d, %v; want %d, %v", c.in, n, ok, c.want, c.ok)
		}
	}
	for in, want := range map[string]string{
		"bad":   "'bad'",
		"it's":  `"it's"`,
		`a'b"c`: `'a\'b"c'`,
		"tab\t": `'tab\t'`,
		`back\`: `'back\\'`,
	} {
		if got := pyRepr(in); got != want {
			t.Errorf("pyRepr(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestCtlStatusSpeed times keeper status against supervisorctl status on a
// supervisord with 10 programs. It runs only with KEEPER_CTL_BENCH=1.
func TestCtlStatusSpeed(t *testing.T) {
	if os.Getenv("KEEPER_CTL_BENCH") == "" {
		t.Skip("set KEEPER_CTL_BENCH=1 to time keeper status against supervisorctl status")
	}
	peer.Need(t, "supervisord")
	peer.Need(t, "supervisorctl")
	d := startSupervisord(t, "supervisord.conf")
	var conf strings.Builder
	data, err := os.ReadFile(d.conf)
	if err != nil {
		t.Fatal(err)
	}
	conf.Write(data)
	for i := range 3 {
		fmt.Fprintf(&conf, "\n[program:extra%d]\ncommand=%%(here)s/sleepy 1000\nstartsecs=0\n", i)
	}
	if err := os.WriteFile(d.conf, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := runClient(d.dir, keeperBin, "-c", d.conf, "update"); err != nil || r.code != 0 {
		t.Fatalf("update: %+v %v", r, err)
	}
	if err := d.settle(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	r, _ := runClient(d.dir, keeperBin, "-c", d.conf, "status")
	if n := strings.Count(r.stdout, "\n"); n != 10 {
		t.Fatalf("want 10 programs, status shows %d:\n%s", n, r.stdout)
	}
	// The three commands take turns, so that load from elsewhere on the
	// machine weighs on each alike; keeper --version is the floor: starting
	// the binary.
	const runs = 50
	argvs := [][]string{
		{peer.Find("supervisorctl"), "-c", d.conf, "status"},
		{keeperBin, "-c", d.conf, "status"},
		{keeperBin, "--version"},
	}
	times := make([][]time.Duration, len(argvs))
	for range runs {
		for i, argv := range argvs {
			start := time.Now()
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdout = io.Discard
			cmd.Run()
			times[i] = append(times[i], time.Since(start))
		}
	}
	mean := make([]time.Duration, len(argvs))
	median := make([]time.Duration, len(argvs))
	for i, ts := range times {
		var sum time.Duration
		for _, x := range ts {
			sum += x
		}
		slices.Sort(ts)
		mean[i], median[i] = sum/runs, ts[runs/2]
	}
	t.Logf("status, 10 programs, %d runs each: supervisorctl mean %v median %v; keeper mean %v median %v (keeper --version: mean %v median %v); keeper %.1fx faster (means), %.1fx (medians)",
		runs, mean[0], median[0], mean[1], median[1], mean[2], median[2],
		float64(mean[0])/float64(mean[1]), float64(median[0])/float64(median[1]))
}
