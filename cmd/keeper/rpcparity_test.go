package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
	"keeper/supervise/xmlrpc"
)

// The parity tests drive the real supervisorctl (and Python's xmlrpc.client)
// against supervisord and against keeper on the same config, and compare
// what they print. Every difference that remains is one keeper means to
// have; each is written next to the step that shows it.

// parityConf is the config both daemons run, with @DIR@ replaced by each
// one's own directory. Programs run DIR/sleep, a symlink to sleep, so that
// the harness's cleanup (which kills by command-line match on the
// directory) catches them even if a daemon dies without stopping them.
const parityConf = `[unix_http_server]
file=@DIR@/s.sock

[supervisord]
logfile=@DIR@/main.log
pidfile=@DIR@/daemon.pid
childlogdir=@DIR@
identifier=parity

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://@DIR@/s.sock

[program:sleeper]
command=@DIR@/sleep 1000
startsecs=1

[program:a]
command=@DIR@/sleep 1001
startsecs=1

[program:b]
command=@DIR@/sleep 1002
startsecs=1

[group:g]
programs=a,b

[program:multi]
command=@DIR@/sleep 1003
numprocs=2
process_name=%(program_name)s_%(process_num)s
startsecs=1

[program:quitter]
command=sh -c "exit 3"
autorestart=false
startsecs=0

[program:talker]
command=sh -c "echo out1; echo err1 >&2; echo out2; echo err2 >&2; exec @DIR@/sleep 1004"
startsecs=1
stdout_logfile=@DIR@/talker.out
stderr_logfile=@DIR@/talker.err
`

// parityEdit is the config change update applies: sleeper's command
// changes, talker goes, newbie comes.
func parityEdit(conf string) string {
	conf = strings.Replace(conf, "sleep 1000", "sleep 1006", 1)
	i := strings.Index(conf, "[program:talker]")
	conf = conf[:i]
	return conf + "[program:newbie]\ncommand=@DIR@/sleep 1005\nstartsecs=1\n"
}

// daemonSide is one daemon under test: supervisord or keeper.
type daemonSide struct {
	name string
	dir  string
	conf string // path of the config file
	argv []string
	cmd  *exec.Cmd
	done chan struct{}

	// ctlIn and ctlOut talk to ctlCmd, a Python process running
	// supervisorctl's main once per command (see ctlDriver).
	ctlCmd *exec.Cmd
	ctlIn  io.WriteCloser
	ctlOut *bufio.Reader
}

func (s *daemonSide) sock() string { return filepath.Join(s.dir, "s.sock") }

func (s *daemonSide) writeConf(t *testing.T, text string) {
	t.Helper()
	text = strings.ReplaceAll(text, "@DIR@", s.dir)
	if err := os.WriteFile(s.conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs the daemon in the foreground as a child of the test (a child
// subreaper, see TestMain); settle waits for it to answer. Cleanup
// shuts it down (SIGTERM, then SIGKILL after 15 s) and waits for it.
func (s *daemonSide) start(t *testing.T) {
	t.Helper()
	out, err := os.Create(filepath.Join(s.dir, "daemon.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	s.cmd = exec.Command(s.argv[0], s.argv[1:]...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.name, err)
	}
	pid := s.cmd.Process.Pid
	cmdPidsMu.Lock()
	cmdPids[pid] = true
	cmdPidsMu.Unlock()
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		cmdPidsMu.Lock()
		delete(cmdPids, pid)
		cmdPidsMu.Unlock()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
			return
		default:
		}
		syscall.Kill(pid, syscall.SIGTERM) // pid > 1: a child we started
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			syscall.Kill(pid, syscall.SIGKILL)
			<-s.done
		}
	})
}

// settle waits until the daemon answers and none of its processes is on
// its way somewhere (STARTING, STOPPING, BACKOFF, and quitter RUNNING:
// it exits at once). supervisorctl's driver answers within milliseconds,
// so a step after one that starts processes waits for this.
func (s *daemonSide) settle() error {
	c := xmlrpc.Dial(s.sock())
	defer c.Close()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := c.Call(ctx, "supervisor.getAllProcessInfo")
		cancel()
		if err == nil {
			busy := false
			infos, _ := v.([]any)
			for _, i := range infos {
				st, _ := i.(xmlrpc.Struct)
				state, _ := st.Get("statename")
				name, _ := st.Get("name")
				switch {
				case state == "STARTING", state == "STOPPING", state == "BACKOFF":
					busy = true
				case state == "RUNNING" && name == "quitter":
					busy = true
				}
			}
			if !busy {
				return nil
			}
			last = fmt.Sprint(v)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not settle: %s; its output:\n%s", s.name, last, readFileOrEmpty(filepath.Join(s.dir, "daemon.out")))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitExit waits for the daemon process to exit on its own.
func (s *daemonSide) waitExit() error {
	select {
	case <-s.done:
		return nil
	case <-time.After(20 * time.Second):
		return fmt.Errorf("%s did not exit after shutdown", s.name)
	}
}

// settleBoth waits for both daemons to settle.
func settleBoth(t *testing.T, sup, kp *daemonSide) {
	t.Helper()
	both(t, sup, kp, func(s *daemonSide) (struct{}, error) { return struct{}{}, s.settle() })
}

// newParitySides prepares supervisord and keeper in separate directories
// with the same config and starts both.
func newParitySides(t *testing.T) (sup, kp *daemonSide) {
	t.Helper()
	supervisord := peer.Need(t, "supervisord")
	peer.Need(t, "supervisorctl")
	peer.Need(t, "python3-supervisor")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, argv func(conf string) []string) *daemonSide {
		dir := testDir(t)
		if err := os.Symlink(sleep, filepath.Join(dir, "sleep")); err != nil {
			t.Fatal(err)
		}
		s := &daemonSide{name: name, dir: dir, conf: filepath.Join(dir, "sv.conf")}
		s.argv = argv(s.conf)
		s.writeConf(t, parityConf)
		return s
	}
	sup = mk("supervisord", func(conf string) []string { return []string{supervisord, "-n", "-c", conf} })
	kp = mk("keeper", func(conf string) []string { return []string{keeperBin, "daemon", "-n", "-c", conf} })
	sup.start(t)
	kp.start(t)
	sup.startCtl(t)
	kp.startCtl(t)
	settleBoth(t, sup, kp)
	return sup, kp
}

// ctlResult is what one supervisorctl run printed and its exit status.
type ctlResult struct {
	out  string
	code int
}

// ctlDriver runs supervisorctl's own main (what /usr/bin/supervisorctl
// calls: supervisor.supervisorctl.main) once per line of JSON argv on its
// stdin, and answers each with the output and exit status. A fresh
// supervisorctl process costs a Python start (about 0.3 s, more on a busy
// machine) and this test runs some 100 commands against each daemon; the
// driver keeps one interpreter per daemon. Steps marked bin run /usr/bin/supervisorctl
// itself, which checks the two agree.
const ctlDriver = `
import io, json, sys
from supervisor import supervisorctl
conf = sys.argv[1]
for line in sys.stdin:
    buf = io.StringIO()
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = buf
    code = 0
    try:
        supervisorctl.main(args=["-c", conf] + json.loads(line))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdout, sys.stderr = out, err
    print(json.dumps({"out": buf.getvalue(), "code": code}), flush=True)
`

// startCtl starts the side's supervisorctl driver; cleanup ends it.
func (s *daemonSide) startCtl(t *testing.T) {
	t.Helper()
	cmd := exec.Command(peer.Find("python3-supervisor"), "-c", ctlDriver, s.conf)
	cmd.Dir = s.dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start supervisorctl driver: %v", err)
	}
	s.ctlCmd, s.ctlIn, s.ctlOut = cmd, in, bufio.NewReader(out)
	t.Cleanup(func() {
		in.Close() // the driver ends at end of input
		timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
		cmd.Wait()
		timer.Stop()
	})
}

// ctl runs supervisorctl -c CONF args... in the driver. A command that
// hangs kills the driver after a minute, which fails the step.
func (s *daemonSide) ctl(args ...string) (ctlResult, error) {
	watchdog := time.AfterFunc(time.Minute, func() { s.ctlCmd.Process.Kill() })
	defer watchdog.Stop()
	line, _ := json.Marshal(args)
	if _, err := s.ctlIn.Write(append(line, '\n')); err != nil {
		return ctlResult{}, fmt.Errorf("supervisorctl %v against %s: %v", args, s.name, err)
	}
	answer, err := s.ctlOut.ReadBytes('\n')
	if err != nil {
		return ctlResult{}, fmt.Errorf("supervisorctl %v against %s: driver: %v", args, s.name, err)
	}
	var r struct {
		Out  string
		Code int
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return ctlResult{}, fmt.Errorf("supervisorctl %v against %s: driver said %q: %v", args, s.name, answer, err)
	}
	return ctlResult{r.Out, r.Code}, nil
}

// ctlBin runs /usr/bin/supervisorctl -c CONF args... with a timeout.
func (s *daemonSide) ctlBin(args ...string) (ctlResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, peer.Find("supervisorctl"), append([]string{"-c", s.conf}, args...)...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok || ctx.Err() != nil {
			return ctlResult{}, fmt.Errorf("supervisorctl %v against %s: %v (%s)", args, s.name, err, out)
		}
	}
	return ctlResult{string(out), cmd.ProcessState.ExitCode()}, nil
}

// both runs fn on supervisord's side and keeper's at the same time.
func both[T any](t *testing.T, sup, kp *daemonSide, fn func(s *daemonSide) (T, error)) (T, T) {
	t.Helper()
	var (
		rs   [2]T
		errs [2]error
		wg   sync.WaitGroup
	)
	for i, s := range []*daemonSide{sup, kp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i], errs[i] = fn(s)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return rs[0], rs[1]
}

var (
	pidRx    = regexp.MustCompile(`pid \d+`)
	uptimeRx = regexp.MustCompile(`uptime (\d+ days?, )?\d+:\d\d:\d\d`)
	dateRx   = regexp.MustCompile(`[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M`)
	bareNum  = regexp.MustCompile(`(?m)^\d+$`)
)

// parityNormalise hides what legitimately differs between two daemons: pids,
// uptimes, stop dates and the daemons' directories.
func parityNormalise(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "DIR")
	s = pidRx.ReplaceAllString(s, "pid N")
	s = uptimeRx.ReplaceAllString(s, "uptime T")
	s = dateRx.ReplaceAllString(s, "DATE")
	return bareNum.ReplaceAllString(s, "NUM")
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// How a step compares the two outputs.
const (
	cmpExact  = iota
	cmpSorted // same lines, in any order
	cmpCustom // the step's check compares
)

// parityStep is one supervisorctl command run against both daemons.
type parityStep struct {
	args []string
	// mode is exact unless a difference of order is supervisord's race:
	// with several processes, supervisord lists the results it has to wait
	// for in the order its main loop sees them finish (a stopped process
	// may even be reaped at once, which moves it first). keeper lists them
	// in process order. Lines sorted, the outputs are the same.
	mode  int
	check func(t *testing.T, sup, kp ctlResult)
	// bin runs /usr/bin/supervisorctl rather than the driver.
	bin bool
	// settle waits for both daemons to settle after the step.
	settle bool
	// quitterRace marks a step that starts quitter. supervisord reaps
	// right after spawning, and a child that already exited (sh -c "exit 3"
	// may, within microseconds) gets spawnerr "Bad exit code 3", so
	// supervisorctl prints "quitter: ERROR (spawn error)" and exits 7; when
	// the exit comes later it prints "quitter: started" like keeper, which
	// reaps asynchronously and always answers started for startsecs=0.
	quitterRace bool
}

// unraceQuitter maps supervisord's early-reap answer for quitter to the
// usual one (see quitterRace).
func unraceQuitter(r ctlResult) ctlResult {
	const early, usual = "quitter: ERROR (spawn error)\n", "quitter: started\n"
	if !strings.Contains(r.out, early) {
		return r
	}
	r.out = strings.Replace(r.out, early, usual, 1)
	if !strings.Contains(r.out, "ERROR (spawn error)") && !strings.Contains(r.out, "ERROR (abnormal termination)") {
		r.code = 0
	}
	return r
}

func ctlArgs(s string) []string { return strings.Fields(s) }

// runSteps runs each step against both daemons and compares the outputs.
// It logs the table of what was compared.
func runSteps(t *testing.T, sup, kp *daemonSide, steps []parityStep) {
	t.Helper()
	for _, st := range steps {
		began := time.Now()
		rs, rk := both(t, sup, kp, func(s *daemonSide) (ctlResult, error) {
			if st.bin {
				return s.ctlBin(st.args...)
			}
			return s.ctl(st.args...)
		})
		if st.settle {
			settleBoth(t, sup, kp)
		}
		if st.quitterRace {
			rs = unraceQuitter(rs)
		}
		rs.out, rk.out = parityNormalise(rs.out, sup.dir), parityNormalise(rk.out, kp.dir)
		name := strings.Join(st.args, " ")
		switch st.mode {
		case cmpSorted:
			rs.out, rk.out = sortedLines(rs.out), sortedLines(rk.out)
		case cmpCustom:
			st.check(t, rs, rk)
			t.Logf("%-28s checked (%v)", name, time.Since(began).Round(time.Millisecond))
			continue
		}
		if rs != rk {
			t.Errorf("supervisorctl %s:\nsupervisord (exit %d):\n%s\nkeeper (exit %d):\n%s", name, rs.code, rs.out, rk.code, rk.out)
			continue
		}
		t.Logf("%-28s same (exit %d, %v)", name, rs.code, time.Since(began).Round(time.Millisecond))
	}
}

// tailFollow runs supervisorctl tail -f and returns its banner and the
// first n lines after it, then kills it (Ctrl-C is how a user ends it).
// After the banner and the first k lines it calls kick, which makes the
// log grow, so the lines after those are ones the client was sent as they
// came.
func (s *daemonSide) tailFollow(n, k int, kick func(s *daemonSide) error, args ...string) ([]string, error) {
	cmd := exec.Command(peer.Find("supervisorctl"), append([]string{"-c", s.conf, "tail", "-f"}, args...)...)
	cmd.Dir = s.dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	var lines []string
	sc := bufio.NewScanner(out)
	for len(lines) < n+1 && sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == k+1 && kick != nil {
			if err := kick(s); err != nil {
				err = fmt.Errorf("tail -f %v against %s: %v", args, s.name, err)
				cmd.Process.Kill()
				cmd.Wait()
				return lines, err
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(lines) < n+1 {
		return lines, fmt.Errorf("tail -f %v against %s: got %q before it ended", args, s.name, lines)
	}
	return lines, nil
}

// restartTalker restarts talker over XML-RPC, which writes its lines again.
func restartTalker(s *daemonSide) error {
	c := xmlrpc.Dial(s.sock())
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.Call(ctx, "supervisor.stopProcess", "talker"); err != nil {
		return err
	}
	_, err := c.Call(ctx, "supervisor.startProcess", "talker")
	return err
}

func TestParitySupervisorctl(t *testing.T) {
	sup, kp := newParitySides(t)

	runSteps(t, sup, kp, []parityStep{
		{args: ctlArgs("status"), bin: true}, // exit 3: quitter EXITED
		{args: ctlArgs("status sleeper")},
		{args: ctlArgs("status g:*")},
		{args: ctlArgs("status nosuch")},
		{args: ctlArgs("status sleeper nosuch")},
		{args: ctlArgs("status all")},
		{args: ctlArgs("pid")}, // the daemon's pid
		{args: ctlArgs("pid sleeper")},
		{args: ctlArgs("pid all")},
		{args: ctlArgs("pid quitter")}, // 0, exit 7
		{args: ctlArgs("pid nosuch")},
		{args: ctlArgs("avail")},
		{args: ctlArgs("version"), mode: cmpCustom, check: func(t *testing.T, sup, kp ctlResult) {
			// By design: keeper reports its own version (supervisorctl
			// prints getSupervisorVersion); the exit status is the same.
			if sup.code != kp.code || strings.Count(kp.out, "\n") != 1 || strings.TrimSpace(kp.out) == "" {
				t.Errorf("version: supervisord %q (exit %d), keeper %q (exit %d)", sup.out, sup.code, kp.out, kp.code)
			}
		}},

		{args: ctlArgs("tail talker")},
		{args: ctlArgs("tail talker stdout")},
		{args: ctlArgs("tail talker stderr")},
		{args: ctlArgs("tail -5 talker")},
		{args: ctlArgs("tail -5 talker stderr")},
		{args: ctlArgs("tail sleeper")}, // an empty log
		{args: ctlArgs("tail nosuch")},
		{args: ctlArgs("tail g:*")},
		{args: ctlArgs("tail -x talker")},
		{args: ctlArgs("tail")},
		{args: ctlArgs("maintail -100"), mode: cmpCustom, check: checkMaintail(100)},
		{args: ctlArgs("maintail"), mode: cmpCustom, check: checkMaintail(1600)},
		{args: ctlArgs("maintail nosuch")},

		// Signals that leave a sleep running.
		{args: ctlArgs("signal WINCH sleeper")},
		{args: ctlArgs("signal SIGCONT g:*")},
		{args: ctlArgs("signal 28 all")},
		{args: ctlArgs("signal 0 sleeper")}, // fixed: keeper refused 0, supervisord takes it
		{args: ctlArgs("signal BAD sleeper")},
		{args: ctlArgs("signal HUP nosuch")},
		{args: ctlArgs("signal HUP quitter")}, // not running, exit 7
		{args: ctlArgs("signal 65 sleeper")},
		// Real-time and alias names on a stopped process: a signal that is
		// valid gets "not running", a bad one "bad signal name". Fixed:
		// keeper refused RTMIN, 64, PWR, CLD, STKFLT.
		{args: ctlArgs("signal RTMIN quitter")},
		{args: ctlArgs("signal SIGRTMAX quitter")},
		{args: ctlArgs("signal 64 quitter")},
		{args: ctlArgs("signal PWR quitter")},
		{args: ctlArgs("signal cld quitter")},
		{args: ctlArgs("signal STKFLT quitter")},
		{args: ctlArgs("signal 33 quitter")},
		{args: ctlArgs("signal 35 quitter"), mode: cmpCustom, check: func(t *testing.T, sup, kp ctlResult) {
			// By design: keeper takes every real-time signal by number;
			// supervisord only those Python names (34 and 64).
			if sup.out != "quitter: ERROR (bad signal name)\n" || kp.out != "quitter: ERROR (not running)\n" {
				t.Errorf("signal 35: supervisord %q (exit %d), keeper %q (exit %d)", sup.out, sup.code, kp.out, kp.code)
			}
		}},
		{args: ctlArgs("signal HUP")},
	})

	t.Run("tail -f", func(t *testing.T) {
		// The last 1024 bytes first, then what talker writes when it is
		// restarted.
		ls, lk := both(t, sup, kp, func(s *daemonSide) ([]string, error) { return s.tailFollow(4, 2, restartTalker, "talker") })
		want := []string{"==> Press Ctrl-C to exit <==", "out1", "out2", "out1", "out2"}
		if !slices.Equal(ls, want) || !slices.Equal(lk, want) {
			t.Errorf("tail -f talker: supervisord %q, keeper %q, want %q", ls, lk, want)
		}
		ls, lk = both(t, sup, kp, func(s *daemonSide) ([]string, error) { return s.tailFollow(2, 0, nil, "talker", "stderr") })
		want = []string{"==> Press Ctrl-C to exit <==", "err1", "err2"}
		if !slices.Equal(ls, want) || !slices.Equal(lk, want) {
			t.Errorf("tail -f talker stderr: supervisord %q, keeper %q, want %q", ls, lk, want)
		}
	})
	runSteps(t, sup, kp, []parityStep{
		// tail -f of an unknown name: the 404 message, exit 0.
		{args: ctlArgs("tail -f nosuch")},
	})

	runSteps(t, sup, kp, []parityStep{
		{args: ctlArgs("stop sleeper")},
		{args: ctlArgs("stop sleeper")}, // not running; supervisorctl exits 0
		{args: ctlArgs("start sleeper")},
		{args: ctlArgs("start sleeper")}, // already started
		{args: ctlArgs("restart sleeper")},
		{args: ctlArgs("stop g:*"), mode: cmpSorted},
		{args: ctlArgs("start g:*")},
		{args: ctlArgs("restart g:*"), mode: cmpSorted},
		{args: ctlArgs("stop nosuch")},
		{args: ctlArgs("start nosuch")},
		{args: ctlArgs("restart nosuch")},
		{args: ctlArgs("start g:nosuch")},
		{args: ctlArgs("stop nosuch:*")},
		{args: ctlArgs("start quitter"), settle: true, quitterRace: true}, // startsecs=0: started, then exits 3
		{args: ctlArgs("stop quitter")},
		{args: ctlArgs("restart quitter"), settle: true, quitterRace: true},
		{args: ctlArgs("stop g:a sleeper")},
		{args: ctlArgs("start g:a g:b")},
		{args: ctlArgs("stop all"), mode: cmpSorted},
		{args: ctlArgs("status")},
		// Fixed: results known at once (quitter, startsecs=0) come first,
		// as supervisord lists them; keeper listed them in process order.
		{args: ctlArgs("start all"), bin: true, settle: true, quitterRace: true},
		{args: ctlArgs("restart all"), mode: cmpSorted, settle: true, quitterRace: true},
		{args: ctlArgs("start multi:*")}, // nothing to start: no output
		{args: ctlArgs("stop multi:multi_0")},
		{args: ctlArgs("restart g:a multi:*"), mode: cmpSorted, settle: true},
		{args: ctlArgs("start")},
		{args: ctlArgs("stop")},
		{args: ctlArgs("restart")},
		{args: ctlArgs("status")},

		{args: ctlArgs("clear talker")},
		{args: ctlArgs("tail talker")},
		{args: ctlArgs("clear nosuch")},
		{args: ctlArgs("clear g:*")}, // supervisorctl prints "g:None"
		{args: ctlArgs("clear all")},
		{args: ctlArgs("clear")},

		{args: ctlArgs("reread")},
		{args: ctlArgs("update")},
		{args: ctlArgs("update g")},
		{args: ctlArgs("update nosuch")},
		{args: ctlArgs("add nosuch")},
		{args: ctlArgs("remove nosuch")},
		{args: ctlArgs("remove sleeper")}, // still running
		{args: ctlArgs("add sleeper")},    // already active
	})

	// A config error on reread: the message differs by design (keeper
	// names the file and line; supervisord names the section), the fault
	// (CANT_REREAD) and exit status are the same.
	for _, s := range []*daemonSide{sup, kp} {
		s.writeConf(t, parityConf+"\n[program:broken]\n")
	}
	cantReread := func(t *testing.T, sup, kp ctlResult) {
		const prefix = "ERROR: CANT_REREAD: "
		if sup.code != kp.code || !strings.HasPrefix(sup.out, prefix) || !strings.HasPrefix(kp.out, prefix) ||
			!strings.Contains(kp.out, "DIR/sv.conf") || !strings.Contains(kp.out, "broken") {
			t.Errorf("reread of a bad config: supervisord %q (exit %d), keeper %q (exit %d)", sup.out, sup.code, kp.out, kp.code)
		}
	}
	runSteps(t, sup, kp, []parityStep{{args: ctlArgs("reread"), mode: cmpCustom, check: cantReread}})

	// Edit the config: a program added, one changed, one removed.
	for _, s := range []*daemonSide{sup, kp} {
		s.writeConf(t, parityEdit(parityConf))
	}
	runSteps(t, sup, kp, []parityStep{
		{args: ctlArgs("avail")},
		{args: ctlArgs("reread")},
		{args: ctlArgs("avail")},
		{args: ctlArgs("reread")}, // the same again: nothing is applied yet
		{args: ctlArgs("add newbie")},
		{args: ctlArgs("remove newbie")},        // STARTING: still running
		{args: ctlArgs("update"), settle: true}, // talker removed, sleeper updated
		{args: ctlArgs("update"), settle: true}, // nothing left to do
		{args: ctlArgs("stop newbie")},
		{args: ctlArgs("remove newbie")},
		{args: ctlArgs("avail")},
		{args: ctlArgs("add newbie"), settle: true},
		{args: ctlArgs("update all"), settle: true},
	})
	settleBoth(t, sup, kp)
	runSteps(t, sup, kp, []parityStep{
		{args: ctlArgs("status")},
		{args: ctlArgs("reload -h")},
		{args: ctlArgs("reload"), bin: true},
	})
	settleBoth(t, sup, kp)
	runSteps(t, sup, kp, []parityStep{
		{args: ctlArgs("status")},
		{args: ctlArgs("shutdown"), bin: true},
	})
	both(t, sup, kp, func(s *daemonSide) (struct{}, error) { return struct{}{}, s.waitExit() })
	runSteps(t, sup, kp, []parityStep{
		{args: ctlArgs("status"), bin: true}, // no socket, exit 4
		{args: ctlArgs("shutdown")},          // already shut down
	})
}

// logLineRx is a line of the daemon's log as both daemons write it.
var logLineRx = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (CRIT|ERRO|WARN|INFO|DEBG|TRAC|BLAT) \S`)

// checkMaintail compares maintail outputs by shape: the daemons' own
// messages differ by design (keeper's start-up lines are its own, and
// supervisord batches events in its poll loop so their order differs), so
// both must print at most max bytes, exit 0, and show whole log lines
// after a possibly cut first one, among them talker's RUNNING line.
func checkMaintail(max int) func(t *testing.T, sup, kp ctlResult) {
	return func(t *testing.T, sup, kp ctlResult) {
		for _, r := range []struct {
			who string
			ctlResult
		}{{"supervisord", sup}, {"keeper", kp}} {
			lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
			if r.code != 0 || len(r.out) > max+1 || r.out == "" {
				t.Errorf("maintail against %s: exit %d, %d bytes:\n%s", r.who, r.code, len(r.out), r.out)
				continue
			}
			for _, l := range lines[1:] {
				if !logLineRx.MatchString(l) {
					t.Errorf("maintail against %s: line %q is not a log line", r.who, l)
				}
			}
			if max > 1000 && !strings.Contains(r.out, "success: talker entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)") {
				t.Errorf("maintail against %s: no RUNNING line for talker:\n%s", r.who, r.out)
			}
		}
	}
}

// pythonClient is run by /usr/bin/python3 with the socket path; it prints
// what it got as JSON.
const pythonClient = `
import http.client, json, socket, sys, xmlrpc.client

class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.unix_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)

class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.unix_path = path
    def make_connection(self, host):
        return UnixConnection(self.unix_path)

p = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=UnixTransport(sys.argv[1]))

def call(fn):
    try:
        return {"value": fn()}
    except xmlrpc.client.Fault as f:
        return {"fault": [f.faultCode, f.faultString]}
    except xmlrpc.client.ProtocolError as e:
        return {"http": e.errcode}

out = {
    "getState": call(lambda: p.supervisor.getState()),
    "getAllProcessInfo": call(lambda: p.supervisor.getAllProcessInfo()),
    "getProcessInfo": call(lambda: p.supervisor.getProcessInfo("g:a")),
    "listMethods": call(lambda: p.system.listMethods()),
    "getAPIVersion": call(lambda: p.supervisor.getAPIVersion()),
    "multicall": call(lambda: p.system.multicall([
        {"methodName": "supervisor.getAPIVersion", "params": []},
        {"methodName": "supervisor.getProcessInfo", "params": ["nosuch"]},
        {"methodName": "supervisor.getState", "params": []},
        {"methodName": "supervisor.getProcessInfo", "params": ["sleeper"]},
        {"methodName": "system.multicall", "params": [[]]},
        {"methodName": "no.such.method", "params": []},
        {"params": []},
    ])),
    "badName": call(lambda: p.supervisor.getProcessInfo("nosuch")),
    "badGroup": call(lambda: p.supervisor.stopProcessGroup("nosuch")),
    "badSignal": call(lambda: p.supervisor.signalProcess("sleeper", "BAD")),
    "notRunning": call(lambda: p.supervisor.stopProcess("quitter")),
    "alreadyStarted": call(lambda: p.supervisor.startProcess("sleeper")),
    "missingParam": call(lambda: p.supervisor.getProcessInfo()),
    "unknownMethod": call(lambda: p.supervisor.noSuchMethod()),
    "signature": call(lambda: p.system.methodSignature("supervisor.startProcess")),
    "signatureUnknown": call(lambda: p.system.methodSignature("nosuch")),
    "tail": call(lambda: p.supervisor.tailProcessStdoutLog("talker", 0, 100)),
    "readStderr": call(lambda: p.supervisor.readProcessStderrLog("talker", 0, 0)),
    "configInfo": call(lambda: [c for c in p.supervisor.getAllConfigInfo() if c["name"] == "sleeper"]),
    # supervisord answers these with HTTP 500 (an uncaught TypeError);
    # keeper with an INCORRECT_PARAMETERS fault.
    "intName": call(lambda: p.supervisor.getProcessInfo(1)),
    "stringOffset": call(lambda: p.supervisor.readLog("x", 1)),
}
json.dump(out, sys.stdout, indent=1)
`

// supervisordMethods are the 41 names supervisord 4.2.5's
// system.listMethods returns.
var supervisordMethods = []string{
	"supervisor.addProcessGroup", "supervisor.clearAllProcessLogs", "supervisor.clearLog",
	"supervisor.clearProcessLog", "supervisor.clearProcessLogs", "supervisor.getAPIVersion",
	"supervisor.getAllConfigInfo", "supervisor.getAllProcessInfo", "supervisor.getIdentification",
	"supervisor.getPID", "supervisor.getProcessInfo", "supervisor.getState",
	"supervisor.getSupervisorVersion", "supervisor.getVersion", "supervisor.readLog",
	"supervisor.readMainLog", "supervisor.readProcessLog", "supervisor.readProcessStderrLog",
	"supervisor.readProcessStdoutLog", "supervisor.reloadConfig", "supervisor.removeProcessGroup",
	"supervisor.restart", "supervisor.sendProcessStdin", "supervisor.sendRemoteCommEvent",
	"supervisor.shutdown", "supervisor.signalAllProcesses", "supervisor.signalProcess",
	"supervisor.signalProcessGroup", "supervisor.startAllProcesses", "supervisor.startProcess",
	"supervisor.startProcessGroup", "supervisor.stopAllProcesses", "supervisor.stopProcess",
	"supervisor.stopProcessGroup", "supervisor.tailProcessLog", "supervisor.tailProcessStderrLog",
	"supervisor.tailProcessStdoutLog", "system.listMethods", "system.methodHelp",
	"system.methodSignature", "system.multicall",
}

// pythonNormalise hides pids, times, directories and the random part of
// AUTO log names in the Python client's JSON.
var (
	pyNumRx  = regexp.MustCompile(`"(pid|start|stop|now)": [1-9]\d*`)
	autoLog  = regexp.MustCompile(`---parity-[0-9a-z_]+\.log`)
	pyDescRx = regexp.MustCompile(`pid \d+, uptime \d+:\d\d:\d\d`)
	// autorestartRx is the member keeper adds last to a config struct.
	autorestartRx = regexp.MustCompile(`,\s*"autorestart": "[a-z]+"`)
)

func TestPythonXMLRPC(t *testing.T) {
	python := peer.Need(t, "python3")
	sup, kp := newParitySides(t)
	script := filepath.Join(kp.dir, "client.py")
	if err := os.WriteFile(script, []byte(pythonClient), 0o644); err != nil {
		t.Fatal(err)
	}
	js, jk := both(t, sup, kp, func(s *daemonSide) (map[string]json.RawMessage, error) {
		cmd := exec.Command(python, script, s.sock())
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("python client against %s: %v", s.name, err)
		}
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal(out, &m); err != nil {
			return nil, fmt.Errorf("python client against %s: %v\n%s", s.name, err, out)
		}
		for k, v := range m {
			n := strings.ReplaceAll(string(v), s.dir, "DIR")
			n = pyNumRx.ReplaceAllString(n, `"$1": "N"`)
			n = autoLog.ReplaceAllString(n, "---parity-R.log")
			n = pyDescRx.ReplaceAllString(n, "pid N, uptime T")
			m[k] = json.RawMessage(dateRx.ReplaceAllString(n, "DATE"))
		}
		return m, nil
	})

	// Differences by design.
	byDesign := map[string]func(sup, kp string) bool{
		// keeper has its own keeper.* methods beside supervisord's 41.
		"listMethods": func(sup, kp string) bool {
			var s, k struct{ Value []string }
			json.Unmarshal([]byte(sup), &s)
			json.Unmarshal([]byte(kp), &k)
			if !slices.Equal(s.Value, supervisordMethods) {
				t.Errorf("supervisord's listMethods is not the list this test knows: %q", s.Value)
			}
			if !slices.IsSorted(k.Value) {
				t.Errorf("keeper's listMethods is not cmpSorted")
			}
			for _, m := range k.Value {
				if !slices.Contains(s.Value, m) && !strings.HasPrefix(m, "keeper.") {
					t.Errorf("keeper lists %s, which is neither supervisord's nor keeper's own", m)
				}
			}
			for _, m := range s.Value {
				if !slices.Contains(k.Value, m) {
					t.Errorf("keeper lacks %s", m)
				}
			}
			return true
		},
		// keeper adds autorestart to each getAllConfigInfo struct (after
		// supervisord's 29 members, in their order).
		"configInfo": func(sup, kp string) bool {
			without := autorestartRx.ReplaceAllString(kp, "")
			return without != kp && without == sup
		},
		// supervisord crashes (HTTP 500) on a wrongly typed parameter;
		// keeper answers INCORRECT_PARAMETERS.
		"intName":      incorrectParams,
		"stringOffset": incorrectParams,
	}
	keys := make([]string, 0, len(js))
	for k := range js {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, kv := string(js[k]), string(jk[k])
		if check, ok := byDesign[k]; ok {
			if !check(s, kv) {
				t.Errorf("%s differs beyond what keeper means to change:\nsupervisord: %s\nkeeper: %s", k, s, kv)
			}
			continue
		}
		if s != kv {
			t.Errorf("%s:\nsupervisord: %s\nkeeper: %s", k, s, kv)
		}
	}

	// The facts the issue states, checked on keeper's answers directly.
	var mc struct{ Value []any }
	json.Unmarshal(jk["multicall"], &mc)
	if len(mc.Value) != 7 || mc.Value[0] != "3.0" {
		t.Errorf("multicall: results are not bare values: %s", jk["multicall"])
	} else if f, ok := mc.Value[1].(map[string]any); !ok || f["faultCode"] != 10.0 || f["faultString"] != "BAD_NAME: nosuch" {
		t.Errorf("multicall: a fault is not a {faultCode, faultString} struct: %v", mc.Value[1])
	}
	if got := strings.Join(strings.Fields(string(jk["badName"])), " "); got != `{ "fault": [ 10, "BAD_NAME: nosuch" ] }` {
		t.Errorf("BAD_NAME fault: %s", got)
	}
}

func incorrectParams(sup, kp string) bool {
	return strings.Join(strings.Fields(sup), "") == `{"http":500}` &&
		strings.Join(strings.Fields(kp), "") == `{"fault":[2,"INCORRECT_PARAMETERS"]}`
}
