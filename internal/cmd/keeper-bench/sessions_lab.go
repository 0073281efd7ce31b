package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"keeper/proctree"
)

// sessProgram is the program each generated config runs: it starts its
// workers, each a sleep that left the program's group and session with
// setsid (its pid written to a file), then its sessions one after another
// with the dtach named in $1, each running a shell that waits on a sleep
// (the ": " keeps sh from exec'ing it, so a session is a master, sh and
// sleep), then stays in the foreground.
const sessProgram = `#!/bin/sh
# $1 dtach to run, $2 sessions to start, $3 socket path prefix,
# $4 workers to start, $5 file for the workers' pids
w=0
while [ "$w" -lt "$4" ]; do
	setsid sleep 100000 &
	echo $! >> "$5"
	w=$((w + 1))
done
i=1
while [ "$i" -le "$2" ]; do
	"$1" -n "$3$i.sock" sh -c 'sleep 100000; :' || echo "$1 -n $3$i.sock failed" >&2
	i=$((i + 1))
done
exec sleep 100000
`

// sessDaemon is one keeper daemon with its generated programs and the
// sessions they started, run as a child of this process (a subreaper).
type sessDaemon struct {
	*supervisor
	keeper string              // keeper binary
	ids    []proctree.Identity // every process of every session, taken once all were up
}

// writeSessConfig writes the config: nprog programs, each starting per
// sessions with keeper dtach (bin/path/dtach first in PATH) or, for the
// last nreal programs, with the real dtach; the first also starts workers
// workers, their pids in workersFile.
func (d *sessDaemon) writeSessConfig(binPath, realDtach string, nprog, per, nreal, workers int) error {
	s := d.supervisor
	s.conf = filepath.Join(s.dir, "d.conf")
	s.sock = filepath.Join(s.dir, "d.sock")
	if len(s.sock) >= len(unix.RawSockaddrUnix{}.Path) {
		return fmt.Errorf("socket path %s: too long for sun_path", s.sock)
	}
	script := filepath.Join(s.dir, "prog.sh")
	if err := os.WriteFile(script, []byte(sessProgram), 0o700); err != nil {
		return fmt.Errorf("write program: %w", err)
	}
	sockDir := filepath.Join(s.dir, "s")
	if err := os.Mkdir(sockDir, 0o700); err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	if probe := filepath.Join(sockDir, fmt.Sprintf("p%d-%d.sock", nprog, per)); len(probe) >= len(unix.RawSockaddrUnix{}.Path) {
		return fmt.Errorf("session socket path %s: too long for sun_path", probe)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[unix_http_server]\nfile=%s\nchmod=0700\n\n", s.sock)
	fmt.Fprintf(&b, "[supervisord]\nlogfile=%s\npidfile=%s\nchildlogdir=%s\nnodaemon=true\nloglevel=info\n\n",
		filepath.Join(s.dir, "d.log"), filepath.Join(s.dir, "d.pid"), s.dir)
	fmt.Fprintf(&b, "[supervisorctl]\nserverurl=unix://%s\n\n", s.sock)
	for i := 1; i <= nprog; i++ {
		n := "p" + strconv.Itoa(i)
		dtach := "dtach" // found in PATH: bin/path/dtach, keeper as dtach
		if i > nprog-nreal {
			dtach = realDtach
		}
		nworkers := 0
		if i == 1 {
			nworkers = workers
		}
		fmt.Fprintf(&b, "[program:%s]\ncommand=/bin/sh %s %s %d %s %d %s\n", n, script, dtach, per, filepath.Join(sockDir, n+"-"),
			nworkers, d.workersFile())
		fmt.Fprintf(&b, "environment=PATH=\"%s:/usr/local/bin:/usr/bin:/bin\"\n", binPath)
		fmt.Fprintf(&b, "startsecs=1\nstopwaitsecs=5\nautorestart=false\nstdout_logfile=%s\nstderr_logfile=%s\n\n",
			filepath.Join(s.dir, n+".out"), filepath.Join(s.dir, n+".err"))
	}
	if err := os.WriteFile(s.conf, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write keeper config: %w", err)
	}
	return nil
}

// workersFile is where the programs write their workers' pids.
func (d *sessDaemon) workersFile() string { return filepath.Join(d.dir, "workers.pids") }

// workers returns the identities of the workers the programs started.
func (d *sessDaemon) workers() ([]proctree.Identity, error) {
	b, err := os.ReadFile(d.workersFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no program started any
	}
	if err != nil {
		return nil, fmt.Errorf("read workers' pids: %w", err)
	}
	var ids []proctree.Identity
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("read workers' pids: %q: %w", f, err)
		}
		id, err := proctree.IdentityOf(pid)
		if err != nil {
			return nil, fmt.Errorf("worker %d: %w", pid, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// cli returns the argv of a keeper command against this daemon.
func (d *sessDaemon) cli(args ...string) []string {
	return append([]string{d.keeper, "-c", d.conf}, args...)
}

// sessionJSONLine is what the benchmark reads of keeper sessions --json.
type sessionJSONLine struct {
	Program string `json:"program"`
	PID     int    `json:"pid"`
	Child   int    `json:"child_pid"`
	Maker   string `json:"maker"`
}

// runCLI runs argv with a timeout and returns its output and wall time.
func runCLI(argv []string, timeout time.Duration) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return out.Bytes(), d, fmt.Errorf("%s: %v: %s", strings.Join(argv[3:], " "), err, firstLines(errb.String()+out.String(), 3))
	}
	return out.Bytes(), d, nil
}

// listJSON runs keeper sessions --json once and returns the sessions and
// the command's wall time.
func (d *sessDaemon) listJSON() ([]sessionJSONLine, time.Duration, error) {
	out, wall, err := runCLI(d.cli("sessions", "--json"), 10*time.Second)
	if err != nil {
		return nil, wall, err
	}
	var list []sessionJSONLine
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, wall, fmt.Errorf("keeper sessions --json: %w", err)
	}
	return list, wall, nil
}

// listText runs keeper sessions once and returns the sessions it printed
// (lines after the header) and its wall time.
func (d *sessDaemon) listText() (int, time.Duration, error) {
	out, wall, err := runCLI(d.cli("sessions"), 10*time.Second)
	if err != nil {
		return 0, wall, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "PROGRAM") {
		return 0, wall, fmt.Errorf("keeper sessions: no header: %s", firstLines(string(out), 2))
	}
	return len(lines) - 1, wall, nil
}

// getSessions calls keeper.getSessions for every program over the kept-
// alive connection and returns how many sessions it listed and the call's
// server time (request written to response read).
func (d *sessDaemon) getSessions() (int, time.Duration, error) {
	v, dt, err := d.rpc.call("keeper.getSessions", []any{})
	if err != nil {
		return 0, dt, err
	}
	a, ok := v.([]any)
	if !ok {
		return 0, dt, fmt.Errorf("keeper.getSessions returned a %T, not an array", v)
	}
	return len(a), dt, nil
}

// waitSessions polls keeper.getSessions every 100 ms until it lists want
// sessions, and returns the time since t0.
func (d *sessDaemon) waitSessions(want int, t0 time.Time, timeout time.Duration) (time.Duration, error) {
	deadline := t0.Add(timeout)
	for {
		n, _, err := d.getSessions()
		if err != nil {
			return 0, err
		}
		if n == want {
			return time.Since(t0), nil
		}
		if n > want {
			return 0, fmt.Errorf("keeper.getSessions lists %d sessions, want %d", n, want)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("keeper.getSessions lists %d of %d sessions after %v%s", n, want, timeout, d.outputTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pstat is what the benchmark reads of one /proc/PID/stat.
type pstat struct {
	ppid  int
	state byte
	cpu   uint64 // utime + stime, clock ticks
	start uint64 // start time, clock ticks after boot
}

// readPstat reads /proc/PID/stat.
func readPstat(pid int) (pstat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return pstat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return pstat{}, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return pstat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	var p pstat
	p.state = f[0][0]
	p.ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	p.cpu = ut + st
	p.start, _ = strconv.ParseUint(f[19], 10, 64)
	return p, nil
}

// statCPU returns pid's utime + stime from /proc/PID/stat.
func statCPU(pid int) (time.Duration, error) {
	p, err := readPstat(pid)
	if err != nil {
		return 0, err
	}
	return time.Duration(p.cpu) * (time.Second / proctree.ClockTicks), nil
}

// present reports whether id still has a /proc entry (a zombie has one)
// and whether it is a zombie.
func present(id proctree.Identity) (exists, zombie bool) {
	p, err := readPstat(id.PID)
	if err != nil || p.start != id.StartTime {
		return false, false
	}
	return true, p.state == 'Z' || p.state == 'X'
}

// trackSessions records the identity of every process of the listed
// sessions: each master and all its descendants, from one snapshot.
func (d *sessDaemon) trackSessions(list []sessionJSONLine) error {
	snap, err := proctree.Take()
	if err != nil {
		return err
	}
	d.ids = d.ids[:0]
	for _, s := range list {
		m, ok := snap.Get(s.PID)
		if !ok {
			return fmt.Errorf("session master %d (%s) not in the process table", s.PID, s.Program)
		}
		d.ids = append(d.ids, m.Identity())
		for _, p := range snap.Descendants(s.PID) {
			d.ids = append(d.ids, p.Identity())
		}
	}
	return nil
}

// reapWatch polls the tracked processes every 2 ms (only those still
// present) from t0 and reports when the last one stopped running (exited,
// zombie or not) and when the last /proc entry went (reaped).
type reapWatch struct {
	exited, reaped time.Duration
	left           int // still present at the deadline
	done           chan struct{}
}

func watchReap(ids []proctree.Identity, t0 time.Time, timeout time.Duration) *reapWatch {
	w := &reapWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		left := append([]proctree.Identity(nil), ids...)
		running := true
		for {
			now := time.Now()
			keep, anyRunning := left[:0], false
			for _, id := range left {
				if ok, zombie := present(id); ok {
					keep = append(keep, id)
					anyRunning = anyRunning || !zombie
				}
			}
			left = keep
			if running && !anyRunning {
				w.exited, running = now.Sub(t0), false
			}
			if len(left) == 0 {
				w.reaped = now.Sub(t0)
				return
			}
			if now.Sub(t0) > timeout {
				w.left = len(left)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return w
}

// shutdown ends the daemon and everything it started: keeper shutdown
// --kill-sessions, SIGTERM then SIGKILL to the daemon if it is still up,
// then SIGKILL by pid to whatever of it is left (re-parented to this
// subreaper) and reaping, and to every tracked session process still
// there. It returns how many processes it had to kill after the daemon
// was gone, and removes the daemon's directory.
func (d *sessDaemon) shutdown() (leftovers int) {
	s := d.supervisor
	if s.cmd != nil && !s.dead() {
		if _, _, err := runCLI(d.cli("shutdown", "--kill-sessions"), 30*time.Second); err == nil {
			select {
			case <-s.exited:
			case <-time.After(20 * time.Second):
			}
		}
	}
	s.stop(5 * time.Second)
	self := os.Getpid()
	l := &lab{self: self}
	deadline := time.Now().Add(10 * time.Second)
	counted := map[int]bool{}
	for {
		left := 0
		for _, id := range d.ids {
			if ok, zombie := present(id); ok {
				left++
				if !zombie && id.PID > 1 {
					counted[id.PID] = true
					_ = id.Signal(unix.SIGKILL)
				}
			}
		}
		procs, _ := scanProcs()
		for _, p := range procs {
			if p.ppid == self && p.pid > 1 {
				left++
				counted[p.pid] = true
				l.killReap(p.pid)
			}
		}
		if left == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.RemoveAll(s.dir)
	return len(counted)
}
