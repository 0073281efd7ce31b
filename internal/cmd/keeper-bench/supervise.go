package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// Targets from the issues.
const (
	targetStatusSpeedup = 20.0                   // supervisorctl status time / keeper status time, at least
	targetRespawn       = 50 * time.Millisecond  // keeper's crash-to-respawn median, at most
	targetRSSShrink     = 3.0                    // supervisord RSS / keeper RSS, at least
	targetInfoP50       = 1 * time.Millisecond   // keeper's getAllProcessInfo, at most
	targetInfoP99       = 3 * time.Millisecond   // ...
	targetVersionP50    = 300 * time.Microsecond // keeper's getAPIVersion, at most
)

// startsecs is every program's startsecs in the generated configs.
const startsecs = time.Second

// superResults holds one daemon's figures.
type superResults struct {
	cold       coldStart
	status     []time.Duration // its own status command: keeper status, or supervisorctl status
	ctlStatus  []time.Duration // supervisorctl status against it
	info       []time.Duration // getAllProcessInfo over raw HTTP
	version    []time.Duration // getAPIVersion over raw HTTP
	fork       []time.Duration // crash to a new child
	spawn      []time.Duration // crash to a new "sleep infinity"
	running    []time.Duration // crash to RUNNING, startsecs subtracted
	stopAll    []time.Duration
	startAll   []time.Duration
	idleRSS    int64
	idleDetail string
	idleCPU    time.Duration // daemon CPU time over the idle period
	endRSS     int64
}

// superBench runs both daemons side by side.
type superBench struct {
	keeper, supervisord *supervisor
	res                 map[*supervisor]*superResults
	ctl                 string // supervisorctl
	keeperCLI           bool   // keeper status works; else supervisorctl stands in for it
	idle                time.Duration
	out                 io.Writer
}

// order returns both daemons, keeper first in even rounds.
func (b *superBench) order(round int) []*supervisor {
	if round%2 == 0 {
		return []*supervisor{b.keeper, b.supervisord}
	}
	return []*supervisor{b.supervisord, b.keeper}
}

// statusArgv is the status command measured for s.
func (b *superBench) statusArgv(s *supervisor) []string {
	if s == b.keeper && b.keeperCLI {
		return []string{s.argv[0], "-c", s.conf, "status"}
	}
	return []string{b.ctl, "-c", s.conf, "status"}
}

// runSupervise is "keeper-bench supervise": keeper's daemon and Debian's
// supervisord on the same generated programs, in one run, interleaved
// where the figures allow, then a table of figures and ratios.
func runSupervise(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("supervise", flag.ContinueOnError)
	keeperBin := fs.String("keeper", "bin/keeper", "keeper binary, run as KEEPER daemon -n -c CONF")
	supervisordBin := fs.String("supervisord", "/usr/bin/supervisord", "supervisord, run as SUPERVISORD -n -c CONF")
	ctlBin := fs.String("supervisorctl", "/usr/bin/supervisorctl", "supervisorctl, run as SUPERVISORCTL -c CONF status")
	nprog := fs.Int("programs", 50, "programs (sleep infinity, startsecs=1) in each daemon's config")
	nstatus := fs.Int("status", 30, "measured status commands per daemon")
	ncalls := fs.Int("calls", 200, "measured calls per XML-RPC method and daemon")
	ncrash := fs.Int("respawns", 12, "crash-to-respawn samples per daemon")
	nstarts := fs.Int("starts", 5, "stopAllProcesses + startAllProcesses samples per daemon")
	idle := fs.Duration("idle", 2*time.Second, "idle time before reading the daemons' memory")
	strace := fs.Bool("strace", false, "after the rounds, count each daemon's system calls with strace -c -f over getAllProcessInfo calls and over respawns")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *nprog < 1 || *nstatus < 1 || *ncalls < 1 || *ncrash < 1 || *nstarts < 1 || *idle < 0 {
		return fmt.Errorf("-programs, -status, -calls, -respawns and -starts must be positive, -idle not negative")
	}
	keeperAbs, err := executable("keeper", *keeperBin)
	if err != nil {
		return err
	}
	supervisordAbs, err := executable("supervisord", *supervisordBin)
	if err != nil {
		return err
	}
	ctlAbs, err := executable("supervisorctl", *ctlBin)
	if err != nil {
		return err
	}

	// Daemons are children of this process; the programs they leave
	// behind if one dies are re-parented here and killed by pid.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	dir, err := os.MkdirTemp("/tmp", "kbs")
	if err != nil {
		return fmt.Errorf("create temporary directory: %w", err)
	}
	l := &lab{dir: dir, self: os.Getpid(), sessions: make(map[*session]struct{})}
	b := &superBench{
		keeper:      &supervisor{name: "keeper", argv: []string{keeperAbs, "daemon", "-n"}, dir: filepath.Join(dir, "k"), nprog: *nprog},
		supervisord: &supervisor{name: "supervisord", argv: []string{supervisordAbs, "-n"}, dir: filepath.Join(dir, "s"), nprog: *nprog},
		ctl:         ctlAbs,
		idle:        *idle,
		out:         stdout,
	}
	b.res = map[*supervisor]*superResults{b.keeper: {}, b.supervisord: {}}
	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			b.keeper.stop(15 * time.Second)
			b.supervisord.stop(15 * time.Second)
			l.close()
		})
	}
	defer cleanup()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		cleanup()
		fmt.Fprintf(os.Stderr, "keeper-bench: %v: stopped, daemons and programs killed\n", sig)
		os.Exit(130)
	}()

	b.printHeader(*nprog, *nstatus, *ncalls, *ncrash, *nstarts)
	start := time.Now()
	for _, s := range []*supervisor{b.keeper, b.supervisord} {
		if err := os.Mkdir(s.dir, 0o700); err != nil {
			return err
		}
		if err := s.writeConfig(); err != nil {
			return err
		}
		cs, err := s.start()
		if err != nil {
			return err
		}
		b.res[s].cold = cs
		fmt.Fprintf(stdout, "%-11s pid %d: control socket up %.0f ms after exec, all %d RUNNING after %.0f ms\n",
			s.name, s.pid, millis(cs.socket), *nprog, millis(cs.running))
	}
	if err := b.memory(false); err != nil {
		return err
	}
	if err := b.calls(*ncalls); err != nil {
		return err
	}
	if err := b.statuses(*nstatus); err != nil {
		return err
	}
	if err := b.respawns(*ncrash); err != nil {
		return err
	}
	if err := b.restarts(*nstarts); err != nil {
		return err
	}
	if err := b.memory(true); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "(%.0f s)\n\n", time.Since(start).Seconds())
	b.printTable(*nprog, *nstatus, *ncalls, *ncrash, *nstarts)
	if *strace {
		return b.traceAll()
	}
	return nil
}

// interpreter returns the program named on script's #! line, or python3.
func interpreter(script string) string {
	b, err := os.ReadFile(script)
	if err != nil {
		return "python3"
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(f) == 0 {
		return "python3"
	}
	if filepath.Base(f[0]) == "env" && len(f) > 1 {
		return f[1]
	}
	return f[0]
}

// executable checks bin is an executable file and returns its absolute path.
func executable(name, bin string) (string, error) {
	im, err := implFor(name, bin)
	if err != nil {
		return "", err
	}
	return im.argv[0], nil
}

// memory reads each daemon's VmRSS after b.idle without calls; at the
// start it also reads the daemon's CPU time over that idle period.
func (b *superBench) memory(end bool) error {
	cpu0 := map[*supervisor]time.Duration{}
	for _, s := range []*supervisor{b.keeper, b.supervisord} {
		cpu0[s], _ = cpuTime(s.pid)
	}
	time.Sleep(b.idle)
	for _, s := range []*supervisor{b.keeper, b.supervisord} {
		rss, err := rssBytes(s.pid)
		if err != nil {
			return err
		}
		r := b.res[s]
		if end {
			r.endRSS = rss
			fmt.Fprintf(b.out, "%-11s RSS after the run and %v idle: %.1f MB\n", s.name, b.idle, mbytes(rss))
			continue
		}
		cpu1, _ := cpuTime(s.pid)
		r.idleRSS, r.idleDetail, r.idleCPU = rss, memDetail(s.pid), cpu1-cpu0[s]
		fmt.Fprintf(b.out, "%-11s RSS idle: %.1f MB (%s); CPU over %v idle: %.1f ms\n",
			s.name, mbytes(rss), r.idleDetail, b.idle, millis(r.idleCPU))
	}
	return nil
}

// calls times getAPIVersion and getAllProcessInfo over raw HTTP on one
// keep-alive connection per daemon, in blocks alternating between them.
func (b *superBench) calls(n int) error {
	const blocks = 4
	// where keeper's slowest getAllProcessInfo calls fell, to tell a
	// cold first call of a block from a slow call in the middle of one
	type slowCall struct {
		d          time.Duration
		block, nth int
	}
	var slow []slowCall
	for _, method := range []string{"supervisor.getAPIVersion", "supervisor.getAllProcessInfo"} {
		for _, s := range []*supervisor{b.keeper, b.supervisord} {
			for range 20 { // warm up
				if _, _, err := s.rpc.call(method); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
			}
		}
		for blk := range blocks {
			for _, s := range b.order(blk) {
				r := b.res[s]
				for i := blk * n / blocks; i < (blk+1)*n/blocks; i++ {
					v, d, err := s.rpc.call(method)
					if err != nil {
						return fmt.Errorf("%s: %w", s.name, err)
					}
					if method == "supervisor.getAPIVersion" {
						if v != "3.0" {
							return fmt.Errorf("%s: getAPIVersion returned %v, want 3.0", s.name, v)
						}
						r.version = append(r.version, d)
					} else {
						if a, ok := v.([]any); !ok || len(a) != s.nprog {
							return fmt.Errorf("%s: getAllProcessInfo returned %T with %d entries, want %d", s.name, v, len(a), s.nprog)
						}
						r.info = append(r.info, d)
						if s == b.keeper {
							slow = append(slow, slowCall{d, blk + 1, i - blk*n/blocks + 1})
						}
					}
				}
			}
		}
	}
	for _, s := range []*supervisor{b.keeper, b.supervisord} {
		r := b.res[s]
		sortDurations(r.version)
		sortDurations(r.info)
		fmt.Fprintf(b.out, "%-11s getAPIVersion p50 %.3f ms p99 %.3f ms; getAllProcessInfo p50 %.3f ms p99 %.3f ms; connections closed by the server: %d\n",
			s.name, millis(percentile(r.version, 50)), millis(percentile(r.version, 99)),
			millis(percentile(r.info, 50)), millis(percentile(r.info, 99)), s.rpc.redials())
	}
	slices.SortFunc(slow, func(a, b slowCall) int { return cmp.Compare(b.d, a.d) })
	var desc []string
	for _, c := range slow[:min(3, len(slow))] {
		desc = append(desc, fmt.Sprintf("%.3f ms (block %d of %d, call %d)", millis(c.d), c.block, blocks, c.nth))
	}
	fmt.Fprintf(b.out, "keeper      slowest getAllProcessInfo calls: %s\n", strings.Join(desc, ", "))
	return nil
}

// statuses times the status commands, alternating which daemon goes
// first: keeper status (if it works) and supervisorctl status against
// keeper, and supervisorctl status against supervisord.
func (b *superBench) statuses(n int) error {
	k := b.keeper
	if _, err := statusRun([]string{k.argv[0], "-c", k.conf, "status"}, k.nprog); err != nil {
		fmt.Fprintf(b.out, "keeper status does not work yet, supervisorctl stands in for it: %v\n", err)
	} else {
		b.keeperCLI = true
	}
	for _, s := range []*supervisor{b.keeper, b.supervisord} { // warm the page cache
		if _, err := statusRun(b.statusArgv(s), s.nprog); err != nil {
			return err
		}
		if _, err := statusRun([]string{b.ctl, "-c", s.conf, "status"}, s.nprog); err != nil {
			return err
		}
	}
	for i := range n {
		for _, s := range b.order(i) {
			r := b.res[s]
			d, err := statusRun(b.statusArgv(s), s.nprog)
			if err != nil {
				return err
			}
			r.status = append(r.status, d)
			if s == b.supervisord {
				r.ctlStatus = append(r.ctlStatus, d)
				continue
			}
			d, err = statusRun([]string{b.ctl, "-c", s.conf, "status"}, s.nprog)
			if err != nil {
				return err
			}
			r.ctlStatus = append(r.ctlStatus, d)
		}
	}
	for _, s := range []*supervisor{b.keeper, b.supervisord} {
		r := b.res[s]
		sortDurations(r.status)
		sortDurations(r.ctlStatus)
		fmt.Fprintf(b.out, "%-11s %s status: median %.1f ms p99 %.1f ms; supervisorctl status: median %.1f ms\n",
			s.name, filepath.Base(b.statusArgv(s)[0]), millis(percentile(r.status, 50)), millis(percentile(r.status, 99)),
			millis(percentile(r.ctlStatus, 50)))
	}
	return nil
}

// respawns kills one RUNNING program of each daemon at a time with SIGKILL,
// a different program each time, and times its respawn.
func (b *superBench) respawns(n int) error {
	for i := range n {
		name := programName(i%b.keeper.nprog + 1)
		for _, s := range b.order(i) {
			rs, err := s.crash(name, startsecs)
			if err != nil {
				return err
			}
			r := b.res[s]
			r.fork = append(r.fork, rs.fork)
			r.spawn = append(r.spawn, rs.spawn)
			r.running = append(r.running, rs.running)
		}
	}
	for _, s := range []*supervisor{b.keeper, b.supervisord} {
		r := b.res[s]
		sortDurations(r.spawn)
		fmt.Fprintf(b.out, "%-11s crash to respawn: median %.2f ms, max %.2f ms (%d samples)\n",
			s.name, millis(percentile(r.spawn, 50)), millis(percentile(r.spawn, 100)), len(r.spawn))
	}
	return nil
}

// restarts times stopAllProcesses then startAllProcesses, alternating
// which daemon goes first.
func (b *superBench) restarts(n int) error {
	for i := range n {
		for _, s := range b.order(i) {
			stop, start, err := s.restartAll()
			if err != nil {
				return err
			}
			r := b.res[s]
			r.stopAll = append(r.stopAll, stop)
			r.startAll = append(r.startAll, start)
			fmt.Fprintf(b.out, "round %d %-11s stopAllProcesses %6.0f ms, startAllProcesses %6.0f ms\n", i+1, s.name, millis(stop), millis(start))
		}
	}
	return nil
}

func (b *superBench) printHeader(nprog, nstatus, ncalls, ncrash, nstarts int) {
	w := b.out
	fmt.Fprintf(w, "keeper-bench supervise: %s vs %s\n", strings.Join(b.keeper.argv, " "), strings.Join(b.supervisord.argv, " "))
	fmt.Fprintf(w, "commit:  %s (keeper --version: %s)\n", commandOutput("git", "describe", "--always", "--dirty"),
		commandOutput(b.keeper.argv[0], "--version"))
	if v := commandOutput("dpkg-query", "-W", "-f", "${Version}", "supervisor"); v != "" {
		fmt.Fprintf(w, "supervisor: Debian package %s, %s\n", v, commandOutput(interpreter(b.supervisord.argv[0]), "--version"))
	}
	kernel := "unknown"
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) +
			" " + unix.ByteSliceToString(u.Machine[:])
	}
	fmt.Fprintf(w, "machine: nproc %d, %s, %s\n", runtime.NumCPU(), kernel, cpuModel())
	fmt.Fprintf(w, "load:    %s\n", loadAverage())
	fmt.Fprintf(w, "work:    %d programs \"sleep infinity\", startsecs=1, in each daemon, both daemons up together; "+
		"%d status commands, %d calls per method, %d crashes, %d stop/start-all per daemon, alternating which goes first; MB = 10^6 bytes\n\n",
		nprog, nstatus, ncalls, ncrash, nstarts)
}

func (b *superBench) printTable(nprog, nstatus, ncalls, ncrash, nstarts int) {
	k, s := b.res[b.keeper], b.res[b.supervisord]
	for _, r := range []*superResults{k, s} {
		for _, d := range [][]time.Duration{r.fork, r.spawn, r.running, r.stopAll, r.startAll} {
			sortDurations(d)
		}
	}
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	const nameWidth = 50
	fmt.Fprintf(tw, "%-*s\tkeeper\tsupervisord\tsupervisord/keeper\ttarget\tresult\t\n", nameWidth, "figure")
	row := func(name, unit string, kv, sv float64, format, target string, pass *bool) {
		res := "-"
		if pass != nil {
			res = "FAIL"
			if *pass {
				res = "PASS"
			}
		}
		ratio := "-"
		if kv > 0 {
			ratio = fmt.Sprintf("%.1fx", sv/kv)
		}
		fmt.Fprintf(tw, "%-*s\t"+format+" %s\t"+format+" %s\t%s\t%s\t%s\t\n", nameWidth, name, kv, unit, sv, unit, ratio, target, res)
	}
	ms := func(d time.Duration) float64 { return millis(d) }
	p := func(d []time.Duration, q float64) float64 { return ms(percentile(d, q)) }
	pass := func(ok bool) *bool { return &ok }

	statusName := "keeper status"
	if !b.keeperCLI {
		statusName = "supervisorctl status (keeper CLI not working)"
	}
	row(fmt.Sprintf("status wall, median of %d: %s", nstatus, statusName), "ms", p(k.status, 50), p(s.status, 50), "%.1f",
		fmt.Sprintf(">= %.0fx", targetStatusSpeedup), pass(p(s.status, 50)/p(k.status, 50) >= targetStatusSpeedup))
	row("  status wall p99", "ms", p(k.status, 99), p(s.status, 99), "%.1f", "", nil)
	row("  supervisorctl status against each, median", "ms", p(k.ctlStatus, 50), p(s.ctlStatus, 50), "%.1f", "", nil)
	row(fmt.Sprintf("getAllProcessInfo p50 (%d programs, %d calls)", nprog, ncalls), "ms", p(k.info, 50), p(s.info, 50), "%.3f",
		fmt.Sprintf("<= %.0f ms", ms(targetInfoP50)), pass(percentile(k.info, 50) <= targetInfoP50))
	row("getAllProcessInfo p99", "ms", p(k.info, 99), p(s.info, 99), "%.3f",
		fmt.Sprintf("<= %.0f ms", ms(targetInfoP99)), pass(percentile(k.info, 99) <= targetInfoP99))
	row(fmt.Sprintf("getAPIVersion p50 (%d calls)", ncalls), "ms", p(k.version, 50), p(s.version, 50), "%.3f",
		fmt.Sprintf("<= %.1f ms", ms(targetVersionP50)), pass(percentile(k.version, 50) <= targetVersionP50))
	row("  getAPIVersion p99", "ms", p(k.version, 99), p(s.version, 99), "%.3f", "", nil)
	row(fmt.Sprintf("crash to respawn, median of %d", ncrash), "ms", p(k.spawn, 50), p(s.spawn, 50), "%.2f",
		fmt.Sprintf("<= %.0f ms", ms(targetRespawn)), pass(percentile(k.spawn, 50) <= targetRespawn))
	row("  crash to respawn, max", "ms", p(k.spawn, 100), p(s.spawn, 100), "%.2f", "", nil)
	row("  crash to new child forked, median", "ms", p(k.fork, 50), p(s.fork, 50), "%.2f", "", nil)
	row("  crash to RUNNING minus startsecs, median", "ms", p(k.running, 50), p(s.running, 50), "%.0f", "", nil)
	row(fmt.Sprintf("start all %d: startAllProcesses, median of %d", nprog, nstarts), "ms", p(k.startAll, 50), p(s.startAll, 50), "%.0f", "", nil)
	row("  stopAllProcesses, median", "ms", p(k.stopAll, 50), p(s.stopAll, 50), "%.0f", "", nil)
	row(fmt.Sprintf("  cold start: exec to all %d RUNNING (50 ms polls)", nprog), "ms", ms(k.cold.running), ms(s.cold.running), "%.0f", "", nil)
	row("  cold start: exec to control socket up", "ms", ms(k.cold.socket), ms(s.cold.socket), "%.0f", "", nil)
	row(fmt.Sprintf("daemon RSS, all started, %v idle", b.idle), "MB", mbytes(k.idleRSS), mbytes(s.idleRSS), "%.1f",
		fmt.Sprintf(">= %.0fx", targetRSSShrink), pass(float64(s.idleRSS)/float64(k.idleRSS) >= targetRSSShrink))
	row("  daemon RSS after the run", "MB", mbytes(k.endRSS), mbytes(s.endRSS), "%.1f", "", nil)
	row(fmt.Sprintf("  daemon CPU over %v idle", b.idle), "ms", ms(k.idleCPU), ms(s.idleCPU), "%.1f", "", nil)
	tw.Flush()
	fmt.Fprintf(b.out, "\nstatus commands: %s; %s\n", strings.Join(b.statusArgv(b.keeper), " "), strings.Join(b.statusArgv(b.supervisord), " "))
	fmt.Fprintf(b.out, "crash to respawn: SIGKILL to the program's pid until a new child of the daemon runs \"sleep infinity\" (polling /proc/DAEMON/task/*/children)\n")
	fmt.Fprintf(b.out, "start all: stopAllProcesses(wait) then startAllProcesses(wait) on one connection; the time until the latter returns (startsecs=1 included)\n")
}

// traceAll counts each daemon's system calls with strace over the
// getAllProcessInfo calls and over a few respawns.
func (b *superBench) traceAll() error {
	if _, err := exec.LookPath("strace"); err != nil {
		return fmt.Errorf("-strace: %w", err)
	}
	dir, err := os.MkdirTemp("", "keeper-bench-strace")
	if err != nil {
		return fmt.Errorf("-strace: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, s := range []*supervisor{b.keeper, b.supervisord} {
		t := &tracer{dir: dir}
		if err := t.start(s.pid, s.name+"-calls"); err != nil {
			return err
		}
		var ds []time.Duration
		for range 200 {
			_, d, err := s.rpc.call("supervisor.getAllProcessInfo")
			if err != nil {
				t.stop()
				return err
			}
			ds = append(ds, d)
		}
		sum, err := t.stop()
		if err != nil {
			return err
		}
		sortDurations(ds)
		fmt.Fprintf(b.out, "\n== %s daemon, 200 getAllProcessInfo calls under strace (p50 %.3f ms traced) ==\n%s\n",
			s.name, millis(percentile(ds, 50)), sum)
		if err := t.start(s.pid, s.name+"-respawn"); err != nil {
			return err
		}
		ds = ds[:0]
		for i := range 3 {
			r, err := s.crash(programName(i+1), startsecs)
			if err != nil {
				t.stop()
				return err
			}
			ds = append(ds, r.spawn)
		}
		if sum, err = t.stop(); err != nil {
			return err
		}
		sortDurations(ds)
		fmt.Fprintf(b.out, "\n== %s daemon, 3 crashes and respawns under strace (median %.2f ms traced) ==\n%s\n",
			s.name, millis(percentile(ds, 50)), sum)
	}
	return nil
}
