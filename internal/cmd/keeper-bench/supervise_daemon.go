package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/supervise"
)

// supervisor is one daemon under test, run in the foreground as a child of
// this process, on its own generated config in its own directory.
type supervisor struct {
	name  string   // "keeper" or "supervisord"
	argv  []string // the daemon's command line, "-c CONF" added
	dir   string   // its config, socket, logs and pidfile
	conf  string
	sock  string
	nprog int

	cmd    *exec.Cmd
	pid    int
	exited chan struct{} // closed once cmd.Wait returned
	rpc    *rpcConn
}

// programName is the name of the i-th program, from 1.
func programName(i int) string { return "s" + strconv.Itoa(i) }

// writeConfig writes the daemon's config: nprog programs running
// "sleep infinity" with startsecs=1, every file inside s.dir. keeper's has
// no [rpcinterface:supervisor] section, which it would only warn about.
func (s *supervisor) writeConfig() error {
	s.conf = filepath.Join(s.dir, "d.conf")
	s.sock = filepath.Join(s.dir, "d.sock")
	if len(s.sock) >= len(unix.RawSockaddrUnix{}.Path) {
		return fmt.Errorf("socket path %s: too long for sun_path", s.sock)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[unix_http_server]\nfile=%s\nchmod=0700\n\n", s.sock)
	fmt.Fprintf(&b, "[supervisord]\nlogfile=%s\npidfile=%s\nchildlogdir=%s\nnodaemon=true\nloglevel=info\n\n",
		filepath.Join(s.dir, "d.log"), filepath.Join(s.dir, "d.pid"), s.dir)
	if s.name == "supervisord" {
		b.WriteString("[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n")
	}
	fmt.Fprintf(&b, "[supervisorctl]\nserverurl=unix://%s\n\n", s.sock)
	for i := 1; i <= s.nprog; i++ {
		n := programName(i)
		fmt.Fprintf(&b, "[program:%s]\ncommand=sleep infinity\nstartsecs=1\nstdout_logfile=%s\nstderr_logfile=%s\n\n",
			n, filepath.Join(s.dir, n+".out"), filepath.Join(s.dir, n+".err"))
	}
	if err := os.WriteFile(s.conf, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s config: %w", s.name, err)
	}
	return nil
}

// coldStart is what starting a daemon measures.
type coldStart struct {
	socket  time.Duration // exec until the control socket answers getAPIVersion
	running time.Duration // exec until getAllProcessInfo shows every program RUNNING
}

// start runs the daemon and waits until every program is RUNNING.
func (s *supervisor) start() (coldStart, error) {
	var cs coldStart
	out, err := os.Create(filepath.Join(s.dir, "d.out"))
	if err != nil {
		return cs, fmt.Errorf("start %s: %w", s.name, err)
	}
	defer out.Close()
	s.cmd = exec.Command(s.argv[0], append(slices.Clone(s.argv[1:]), "-c", s.conf)...)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.Dir = s.dir
	s.exited = make(chan struct{})
	t0 := time.Now()
	if err := s.cmd.Start(); err != nil {
		return cs, fmt.Errorf("start %s: %w", s.name, err)
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	fail := func(err error) (coldStart, error) {
		return cs, fmt.Errorf("start %s: %w%s", s.name, err, s.outputTail())
	}
	deadline := t0.Add(30 * time.Second)
	for {
		if s.rpc == nil {
			s.rpc, err = dialRPC(s.sock)
		}
		if s.rpc != nil {
			if _, _, err = s.rpc.call("supervisor.getAPIVersion"); err == nil {
				cs.socket = time.Since(t0)
				break
			}
			s.rpc.close()
			s.rpc = nil
		}
		if s.dead() {
			return fail(errors.New("daemon exited"))
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("control socket not answering: %w", err))
		}
		time.Sleep(2 * time.Millisecond)
	}
	for {
		n, err := s.running()
		if err != nil {
			return fail(err)
		}
		if n == s.nprog {
			cs.running = time.Since(t0)
			return cs, nil
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("%d of %d programs RUNNING after %v", n, s.nprog, time.Since(t0)))
		}
		// Coarse: each poll leaves garbage in the daemon, which shows
		// in the idle memory read next.
		time.Sleep(50 * time.Millisecond)
	}
}

// running returns how many programs getAllProcessInfo shows RUNNING.
func (s *supervisor) running() (int, error) {
	all, err := s.rpc.allProcessInfo()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range all {
		if p.State == supervise.Running {
			n++
		}
	}
	if len(all) != s.nprog {
		return n, fmt.Errorf("getAllProcessInfo lists %d processes, want %d", len(all), s.nprog)
	}
	return n, nil
}

// dead reports whether the daemon has exited.
func (s *supervisor) dead() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// outputTail returns the end of the daemon's stdout and stderr, for errors.
func (s *supervisor) outputTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "d.out"))
	b = bytes.TrimSpace(b)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	if len(b) == 0 {
		return ""
	}
	return "\n" + s.name + " output:\n" + string(b)
}

// stop asks the daemon to shut down with SIGTERM, as its stop command
// would, and kills it with SIGKILL if it has not exited after grace. It
// signals only its own child, by pid.
func (s *supervisor) stop(grace time.Duration) {
	if s.rpc != nil {
		s.rpc.close()
		s.rpc = nil
	}
	if s.cmd == nil || s.cmd.Process == nil || s.pid <= 1 {
		return
	}
	if !s.dead() {
		_ = unix.Kill(s.pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(grace):
			_ = unix.Kill(s.pid, syscall.SIGKILL)
			<-s.exited
		}
	}
	s.cmd = nil
}

// children returns the pids of the daemon's children, from every thread's
// /proc/PID/task/TID/children (a child is listed under the thread that
// forked it).
func (s *supervisor) children(buf []int) []int {
	buf = buf[:0]
	dir := "/proc/" + strconv.Itoa(s.pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return buf
	}
	for _, t := range tasks {
		b, err := os.ReadFile(dir + t.Name() + "/children")
		if err != nil {
			continue
		}
		for f := range strings.FieldsSeq(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				buf = append(buf, pid)
			}
		}
	}
	return buf
}

// isProgram reports whether pid is a child of the daemon running
// "sleep infinity".
func (s *supervisor) isProgram(pid int) bool {
	if pid <= 1 {
		return false
	}
	p, err := readProc(pid)
	return err == nil && p.ppid == s.pid && len(p.args) == 2 && p.args[0] == "sleep" && p.args[1] == "infinity"
}

// respawn is one crash-to-respawn measurement.
type respawn struct {
	fork    time.Duration // SIGKILL until a new child of the daemon exists
	spawn   time.Duration // ... until a new child runs "sleep infinity"
	running time.Duration // ... until getProcessInfo shows it RUNNING, startsecs subtracted
}

// crash kills program name's process with SIGKILL and times its respawn.
func (s *supervisor) crash(name string, startsecs time.Duration) (respawn, error) {
	var r respawn
	fail := func(err error) (respawn, error) {
		return r, fmt.Errorf("%s: crash %s: %w", s.name, name, err)
	}
	info, err := s.rpc.processInfo(name)
	if err != nil {
		return fail(err)
	}
	if info.State != supervise.Running || !s.isProgram(info.PID) {
		return fail(fmt.Errorf("state %v, pid %d: not a RUNNING sleep child of the daemon", info.State, info.PID))
	}
	old := info.PID
	before := make(map[int]bool)
	var buf []int
	for _, pid := range s.children(buf) {
		before[pid] = true
	}
	t0 := time.Now()
	if err := unix.Kill(old, syscall.SIGKILL); err != nil {
		return fail(err)
	}
	deadline := t0.Add(10 * time.Second)
	newPid := 0
	for newPid == 0 {
		buf = s.children(buf)
		now := time.Now()
		for _, pid := range buf {
			if pid == old || before[pid] {
				continue
			}
			if r.fork == 0 {
				r.fork = now.Sub(t0)
			}
			if s.isProgram(pid) {
				r.spawn, newPid = now.Sub(t0), pid
			}
		}
		if now.After(deadline) {
			return fail(errors.New("no new process after 10 s"))
		}
		if newPid == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	for {
		info, err := s.rpc.processInfo(name)
		if err != nil {
			return fail(err)
		}
		if info.State == supervise.Running && info.PID == newPid {
			r.running = time.Since(t0) - startsecs
			return r, nil
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("new pid %d not RUNNING after 10 s (state %v, pid %d)", newPid, info.State, info.PID))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// restartAll times stopAllProcesses and then startAllProcesses, both
// waiting, and checks every program ends RUNNING.
func (s *supervisor) restartAll() (stop, start time.Duration, err error) {
	if _, stop, err = s.rpc.call("supervisor.stopAllProcesses", true); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", s.name, err)
	}
	if n, err := s.running(); err != nil || n != 0 {
		return 0, 0, fmt.Errorf("%s: %d programs RUNNING after stopAllProcesses (%v)", s.name, n, err)
	}
	if _, start, err = s.rpc.call("supervisor.startAllProcesses", true); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", s.name, err)
	}
	if n, err := s.running(); err != nil || n != s.nprog {
		return 0, 0, fmt.Errorf("%s: %d of %d programs RUNNING after startAllProcesses (%v)", s.name, n, s.nprog, err)
	}
	return stop, start, nil
}

// statusRun runs a status command once and returns its wall time; it must
// exit 0 and print one line per program.
func statusRun(argv []string, nprog int) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, firstLines(out.String(), 3))
	}
	if n := strings.Count(out.String(), "RUNNING"); n != nprog {
		return d, fmt.Errorf("%s: %d programs RUNNING in its output, want %d: %s", strings.Join(argv, " "), n, nprog, firstLines(out.String(), 3))
	}
	return d, nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}
