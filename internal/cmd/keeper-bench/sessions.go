package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// Targets from issue 4.
const (
	targetSessionsWall = 30 * time.Millisecond // keeper sessions wall time, at most
	targetReapAll      = 2 * time.Second       // kill-sessions of every session, at most
	targetIdleCPU      = 0.5                   // daemon CPU while idle, percent of a core, at most
	// Issue 12 sets none: stop all with workers outside the program's group
	// should take about what kill-sessions of as many processes takes.
	targetStopWorkers = 2 * time.Second // stop all until every worker exited, at most
)

// sessVariant is one daemon setup: how many of its programs start their
// sessions with the real dtach (found by a process scan) rather than
// keeper dtach (which records itself).
type sessVariant struct {
	name  string
	nreal int
}

// sessResults holds one variant's figures.
type sessResults struct {
	variant    sessVariant
	nsessions  int
	nprog      int
	makers     map[string]int
	nprocs     int           // processes of the sessions tracked for the reap check
	ready      time.Duration // daemon exec to keeper.getSessions listing every session
	status     []time.Duration
	text, js   []time.Duration
	rpc        []time.Duration
	idle       time.Duration
	idleStat   time.Duration // utime+stime over the idle period, from /proc/PID/stat
	idleSched  time.Duration // the same from schedstat, nanosecond grained
	idleRSS    int64
	idleDetail string
	afterRSS   int64 // after the listings
	killWall   time.Duration
	killed     int
	exited     time.Duration // kill-sessions start to every tracked process exited
	reaped     time.Duration // ... to every tracked process gone from /proc
	reapLeft   int
	listAfter  int // sessions listed after kill-sessions
	leftovers  int // processes cleanup had to kill
	// stop all, with the workers of the first program outside its group
	nworkers      int
	stopWall      time.Duration // the command's wall time
	workersExited time.Duration // stop start to every worker exited
	workersLeft   int           // workers still present at the deadline
	sessionsAfter int           // session processes alive after the stop
	listedAfter   int           // sessions listed after the stop
	traces        []string
}

// runSessions is "keeper-bench sessions": a keeper daemon whose programs
// start many detached sessions, then the listing, reaping, idle CPU and
// memory figures of issue 4, once per variant, and a table with targets.
func runSessions(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sessions", flag.ContinueOnError)
	keeperBin := fs.String("keeper", "bin/keeper", "keeper binary; bin/path/dtach beside it must be keeper as dtach (make build)")
	dtachBin := fs.String("dtach", "/usr/bin/dtach", "the real dtach, for the mixed variant")
	nprog := fs.Int("programs", 4, "programs in the daemon's config")
	nsess := fs.Int("sessions", 200, "sessions in all, spread evenly over the programs")
	runs := fs.Int("runs", 30, "measured keeper sessions commands, each of plain and --json")
	calls := fs.Int("calls", 100, "measured keeper.getSessions calls over one kept-alive connection")
	idle := fs.Duration("idle", 10*time.Second, "idle period for the daemon's CPU time and memory")
	variants := fs.String("variants", "keeper,mixed", "keeper: every program uses keeper dtach; mixed: half use the real dtach")
	workers := fs.Int("workers", 50, "workers the first program starts outside its process group (setsid), for the stop figure")
	strace := fs.Bool("strace", false, "also count the daemon's system calls with strace -c -f over 3 s idle and 30 keeper.getSessions calls")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *nprog < 1 || *nsess < *nprog || *nsess%*nprog != 0 || *runs < 1 || *calls < 1 || *idle <= 0 || *workers < 0 {
		return fmt.Errorf("-sessions must be a multiple of -programs; -programs, -runs, -calls and -idle positive, -workers not negative")
	}
	var vs []sessVariant
	for v := range strings.SplitSeq(*variants, ",") {
		switch strings.TrimSpace(v) {
		case "keeper":
			vs = append(vs, sessVariant{"keeper", 0})
		case "mixed":
			vs = append(vs, sessVariant{"mixed", *nprog / 2})
		default:
			return fmt.Errorf("-variants: unknown variant %q (keeper, mixed)", v)
		}
	}
	keeperAbs, err := executable("keeper", *keeperBin)
	if err != nil {
		return err
	}
	binPath := filepath.Join(filepath.Dir(keeperAbs), "path")
	if target, err := filepath.EvalSymlinks(filepath.Join(binPath, "dtach")); err != nil || target != keeperAbs {
		return fmt.Errorf("%s/dtach is not a link to %s (make build makes it): %v", binPath, keeperAbs, err)
	}
	dtachAbs := ""
	for _, v := range vs {
		if v.nreal > 0 {
			if dtachAbs, err = executable("dtach", *dtachBin); err != nil {
				return err
			}
		}
	}

	// The daemon is a child of this process; anything it leaves behind
	// if it dies is re-parented here and killed and reaped by pid.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	var mu sync.Mutex
	var current *sessDaemon
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		mu.Lock()
		if current != nil {
			current.shutdown()
		}
		fmt.Fprintf(os.Stderr, "keeper-bench: %v: stopped, daemon and sessions killed\n", sig)
		os.Exit(130)
	}()

	printSessHeader(stdout, keeperAbs, dtachAbs, *nprog, *nsess, *runs, *calls, *workers, *idle)
	start := time.Now()
	var all []*sessResults
	for _, v := range vs {
		dir, err := os.MkdirTemp("/tmp", "kss")
		if err != nil {
			return fmt.Errorf("create temporary directory: %w", err)
		}
		d := &sessDaemon{
			supervisor: &supervisor{name: "keeper", argv: []string{keeperAbs, "daemon", "-n"}, dir: dir, nprog: *nprog},
			keeper:     keeperAbs,
		}
		mu.Lock()
		current = d
		mu.Unlock()
		r := &sessResults{variant: v, nsessions: *nsess, nprog: *nprog, idle: *idle, nworkers: *workers}
		err = r.run(d, stdout, binPath, dtachAbs, *nprog, *runs, *calls, *strace)
		mu.Lock()
		r.leftovers = d.shutdown()
		current = nil
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		fmt.Fprintf(stdout, "[%s] cleanup: shutdown --kill-sessions; %d processes left to kill by pid\n\n", v.name, r.leftovers)
		all = append(all, r)
	}
	fmt.Fprintf(stdout, "(%.0f s)\n\n", time.Since(start).Seconds())
	for _, r := range all {
		r.printTable(stdout)
	}
	for _, r := range all {
		for _, t := range r.traces {
			fmt.Fprintf(stdout, "\n%s\n", t)
		}
	}
	return nil
}

// run measures one variant on daemon d.
func (r *sessResults) run(d *sessDaemon, w io.Writer, binPath, dtach string, nprog, runs, calls int, strace bool) error {
	v := r.variant
	if err := d.writeSessConfig(binPath, dtach, nprog, r.nsessions/nprog, v.nreal, r.nworkers); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := d.start(); err != nil { // every program RUNNING
		return err
	}
	ready, err := d.waitSessions(r.nsessions, t0, 60*time.Second)
	if err != nil {
		return err
	}
	r.ready = ready
	list, _, err := d.listJSON()
	if err != nil {
		return err
	}
	if len(list) != r.nsessions {
		return fmt.Errorf("keeper sessions --json lists %d sessions, want %d", len(list), r.nsessions)
	}
	r.makers = map[string]int{}
	for _, s := range list {
		r.makers[s.Maker]++
		if s.Child == 0 {
			return fmt.Errorf("session of %s (master %d) lists no program on its pty", s.Program, s.PID)
		}
	}
	if err := d.trackSessions(list); err != nil {
		return err
	}
	r.nprocs = len(d.ids)
	fmt.Fprintf(w, "[%s] daemon pid %d: %d sessions (%s) listed %.0f ms after exec; %d session processes tracked\n",
		v.name, d.pid, len(list), makersString(r.makers), millis(ready), r.nprocs)

	// Idle: no call at all while the daemon's CPU time is read.
	time.Sleep(500 * time.Millisecond)
	st0, err1 := statCPU(d.pid)
	sc0, err2 := cpuTime(d.pid)
	time.Sleep(r.idle)
	st1, err3 := statCPU(d.pid)
	sc1, err4 := cpuTime(d.pid)
	if err := firstErr(err1, err2, err3, err4); err != nil {
		return err
	}
	r.idleStat, r.idleSched = st1-st0, sc1-sc0
	if r.idleRSS, err = rssBytes(d.pid); err != nil {
		return err
	}
	r.idleDetail = memDetail(d.pid)
	fmt.Fprintf(w, "[%s] idle %v: CPU %.0f ms (stat), %.2f ms (schedstat); RSS %.1f MB (%s)\n",
		v.name, r.idle, millis(r.idleStat), millis(r.idleSched), mbytes(r.idleRSS), r.idleDetail)

	// Listings: keeper status (the CLI's fixed cost), keeper sessions and
	// keeper sessions --json, interleaved, after a warm-up of each.
	status := func() (time.Duration, error) {
		_, wall, err := runCLI(d.cli("status"), 10*time.Second)
		return wall, err
	}
	text := func() (time.Duration, error) {
		n, wall, err := d.listText()
		if err == nil && n != r.nsessions {
			err = fmt.Errorf("keeper sessions printed %d sessions, want %d", n, r.nsessions)
		}
		return wall, err
	}
	js := func() (time.Duration, error) {
		l, wall, err := d.listJSON()
		if err == nil && len(l) != r.nsessions {
			err = fmt.Errorf("keeper sessions --json listed %d sessions, want %d", len(l), r.nsessions)
		}
		return wall, err
	}
	for range 3 {
		for _, f := range []func() (time.Duration, error){status, text, js} {
			if _, err := f(); err != nil {
				return err
			}
		}
	}
	for range runs {
		for _, m := range []struct {
			f   func() (time.Duration, error)
			out *[]time.Duration
		}{{status, &r.status}, {text, &r.text}, {js, &r.js}} {
			wall, err := m.f()
			if err != nil {
				return err
			}
			*m.out = append(*m.out, wall)
		}
	}
	sortDurations(r.status)
	sortDurations(r.text)
	sortDurations(r.js)
	fmt.Fprintf(w, "[%s] keeper sessions median %.1f ms p99 %.1f ms; --json median %.1f ms p99 %.1f ms; keeper status median %.1f ms\n",
		v.name, millis(percentile(r.text, 50)), millis(percentile(r.text, 99)),
		millis(percentile(r.js, 50)), millis(percentile(r.js, 99)), millis(percentile(r.status, 50)))

	// The daemon's side alone: keeper.getSessions over a kept-alive
	// connection.
	for range 10 {
		if _, _, err := d.getSessions(); err != nil {
			return err
		}
	}
	for range calls {
		n, dt, err := d.getSessions()
		if err != nil {
			return err
		}
		if n != r.nsessions {
			return fmt.Errorf("keeper.getSessions listed %d sessions, want %d", n, r.nsessions)
		}
		r.rpc = append(r.rpc, dt)
	}
	sortDurations(r.rpc)
	if r.afterRSS, err = rssBytes(d.pid); err != nil {
		return err
	}
	fmt.Fprintf(w, "[%s] keeper.getSessions p50 %.2f ms p99 %.2f ms; RSS after the listings %.1f MB\n",
		v.name, millis(percentile(r.rpc, 50)), millis(percentile(r.rpc, 99)), mbytes(r.afterRSS))

	if strace {
		if err := r.trace(d); err != nil {
			return err
		}
	}

	// Stop every program: each takes its whole tree, the workers that left
	// its group included, and leaves its sessions.
	if err := r.stopAll(d, w); err != nil {
		return err
	}

	// Reap every session: the command's wall time, and the time until no
	// tracked process is running, and none is left in /proc.
	t0 = time.Now()
	watch := watchReap(d.ids, t0, 15*time.Second)
	out, wall, err := runCLI(d.cli("kill-sessions"), 60*time.Second)
	if err != nil {
		return err
	}
	r.killWall = wall
	r.killed = strings.Count(string(out), " killed (")
	<-watch.done
	r.exited, r.reaped, r.reapLeft = watch.exited, watch.reaped, watch.left
	if n, _, err := d.getSessions(); err == nil {
		r.listAfter = n
	} else {
		return err
	}
	fmt.Fprintf(w, "[%s] kill-sessions: %d reported killed, command %.0f ms; all %d processes exited after %.0f ms, gone from /proc after %.0f ms (%d left); %d sessions listed after\n",
		v.name, r.killed, millis(r.killWall), r.nprocs, millis(r.exited), millis(r.reaped), r.reapLeft, r.listAfter)
	return nil
}

// stopAll measures keeper stop all: the command's wall time, the time
// until every worker exited, and that every session process is still
// running and every session still listed.
func (r *sessResults) stopAll(d *sessDaemon, w io.Writer) error {
	workers, err := d.workers()
	if err != nil {
		return err
	}
	if len(workers) != r.nworkers {
		return fmt.Errorf("%d workers started, want %d", len(workers), r.nworkers)
	}
	t0 := time.Now()
	watch := watchReap(workers, t0, 30*time.Second)
	_, wall, err := runCLI(d.cli("stop", "all"), 60*time.Second)
	if err != nil {
		return err
	}
	r.stopWall = wall
	<-watch.done
	r.workersExited, r.workersLeft = watch.exited, watch.left
	for _, id := range d.ids {
		if ok, zombie := present(id); ok && !zombie {
			r.sessionsAfter++
		}
	}
	if r.listedAfter, _, err = d.getSessions(); err != nil {
		return err
	}
	fmt.Fprintf(w, "[%s] stop all: command %.0f ms; all %d workers exited after %.0f ms (%d left); %d of %d session processes running, %d sessions listed after\n",
		r.variant.name, millis(r.stopWall), len(workers), millis(r.workersExited), r.workersLeft, r.sessionsAfter, r.nprocs, r.listedAfter)
	return nil
}

// trace counts the daemon's system calls over an idle period and over
// keeper.getSessions calls.
func (r *sessResults) trace(d *sessDaemon) error {
	if _, err := exec.LookPath("strace"); err != nil {
		return fmt.Errorf("-strace: %w", err)
	}
	dir, err := os.MkdirTemp("", "keeper-bench-strace")
	if err != nil {
		return fmt.Errorf("-strace: %w", err)
	}
	defer os.RemoveAll(dir)
	t := &tracer{dir: dir}
	if err := t.start(d.pid, "idle"); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	sum, err := t.stop()
	if err != nil {
		return err
	}
	r.traces = append(r.traces, fmt.Sprintf("== [%s] daemon idle 3 s with %d sessions, strace -c -f ==\n%s", r.variant.name, r.nsessions, sum))
	if err := t.start(d.pid, "list"); err != nil {
		return err
	}
	var ds []time.Duration
	for range 30 {
		_, dt, err := d.getSessions()
		if err != nil {
			t.stop()
			return err
		}
		ds = append(ds, dt)
	}
	if sum, err = t.stop(); err != nil {
		return err
	}
	sortDurations(ds)
	r.traces = append(r.traces, fmt.Sprintf("== [%s] 30 keeper.getSessions calls (%d sessions) under strace -c -f (p50 %.2f ms traced) ==\n%s",
		r.variant.name, r.nsessions, millis(percentile(ds, 50)), sum))
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func makersString(m map[string]int) string {
	var parts []string
	for _, k := range []string{"keeper", "dtach"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d by %s", m[k], k))
		}
	}
	for k, n := range m {
		if k != "keeper" && k != "dtach" {
			parts = append(parts, fmt.Sprintf("%d by %q", n, k))
		}
	}
	return strings.Join(parts, ", ")
}

func printSessHeader(w io.Writer, keeper, dtach string, nprog, nsess, runs, calls, workers int, idle time.Duration) {
	fmt.Fprintf(w, "keeper-bench sessions: %s daemon -n, %d sessions across %d programs\n", keeper, nsess, nprog)
	fmt.Fprintf(w, "commit:  %s (keeper --version: %s)\n", commandOutput("git", "describe", "--always", "--dirty"),
		commandOutput(keeper, "--version"))
	if dtach != "" {
		v := commandOutput("dpkg-query", "-W", "-f", "${Version}", "dtach")
		if v == "" {
			v = "unknown version"
		}
		fmt.Fprintf(w, "dtach:   %s (Debian package %s)\n", dtach, v)
	}
	kernel := "unknown"
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) +
			" " + unix.ByteSliceToString(u.Machine[:])
	}
	fmt.Fprintf(w, "machine: nproc %d, %s, %s\n", runtime.NumCPU(), kernel, cpuModel())
	fmt.Fprintf(w, "load:    %s\n", loadAverage())
	fmt.Fprintf(w, "work:    each program starts %d sessions one after another with dtach -n SOCK sh -c 'sleep 100000; :' "+
		"(master, sh, sleep), then sleeps; %d runs each of keeper status, sessions, sessions --json, interleaved; "+
		"%d keeper.getSessions calls; %v idle; the first program also starts %d workers with setsid sleep before its sessions, "+
		"and keeper stop all stops them; MB = 10^6 bytes\n\n", nsess/nprog, runs, calls, idle, workers)
}

func (r *sessResults) printTable(w io.Writer) {
	v := r.variant
	desc := fmt.Sprintf("%d programs with keeper dtach", r.nprog-v.nreal)
	if v.nreal > 0 {
		desc += fmt.Sprintf(", %d with the real dtach", v.nreal)
	}
	fmt.Fprintf(w, "== variant %s: %d sessions (%s; %s) ==\n", v.name, r.nsessions, makersString(r.makers), desc)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\tvalue\ttarget\tresult\t\n")
	row := func(name, value, target string, ok *bool) {
		res := ""
		if ok != nil {
			res = "FAIL"
			if *ok {
				res = "PASS"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, value, target, res)
	}
	pass := func(ok bool) *bool { return &ok }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", millis(d)) }
	p := func(d []time.Duration, q float64) time.Duration { return percentile(d, q) }
	n := len(r.text)
	row(fmt.Sprintf("keeper sessions wall, median of %d", n), ms(p(r.text, 50)), fmt.Sprintf("<= %.0f ms", millis(targetSessionsWall)),
		pass(p(r.text, 50) <= targetSessionsWall))
	row("  keeper sessions wall, p99", ms(p(r.text, 99)), "", nil)
	row(fmt.Sprintf("keeper sessions --json wall, median of %d", n), ms(p(r.js, 50)), fmt.Sprintf("<= %.0f ms", millis(targetSessionsWall)),
		pass(p(r.js, 50) <= targetSessionsWall))
	row("  keeper sessions --json wall, p99", ms(p(r.js, 99)), "", nil)
	row("  keeper status wall, median (CLI start + one call)", ms(p(r.status, 50)), "", nil)
	row(fmt.Sprintf("  keeper.getSessions server time p50 (%d calls, kept-alive)", len(r.rpc)), fmt.Sprintf("%.2f ms", millis(p(r.rpc, 50))), "", nil)
	row("  keeper.getSessions server time p99", fmt.Sprintf("%.2f ms", millis(p(r.rpc, 99))), "", nil)
	workersExited := ms(r.workersExited)
	if r.workersLeft > 0 {
		workersExited = fmt.Sprintf("%d left", r.workersLeft)
	}
	row(fmt.Sprintf("stop all (%d workers outside the group, %d sessions): until every worker exited", r.nworkers, r.nsessions),
		workersExited, fmt.Sprintf("<= %.0f s", targetStopWorkers.Seconds()),
		pass(r.workersLeft == 0 && r.workersExited <= targetStopWorkers && r.sessionsAfter == r.nprocs && r.listedAfter == r.nsessions))
	row("  stop all, command wall", ms(r.stopWall), "", nil)
	row("  session processes running / sessions listed after", fmt.Sprintf("%d of %d / %d", r.sessionsAfter, r.nprocs, r.listedAfter), "all / all", nil)
	row(fmt.Sprintf("kill-sessions of all %d, command wall", r.nsessions), ms(r.killWall), fmt.Sprintf("<= %.0f s", targetReapAll.Seconds()),
		pass(r.killWall <= targetReapAll && r.killed == r.nsessions))
	reaped := ms(r.reaped)
	if r.reapLeft > 0 {
		reaped = fmt.Sprintf("%d left", r.reapLeft)
	}
	row(fmt.Sprintf("  until all %d processes (master, sh, sleep) gone from /proc", r.nprocs), reaped, fmt.Sprintf("<= %.0f s", targetReapAll.Seconds()),
		pass(r.reapLeft == 0 && r.reaped <= targetReapAll))
	row("  until all of them exited (zombies aside)", ms(r.exited), "", nil)
	row("  sessions reported killed / listed after", fmt.Sprintf("%d / %d", r.killed, r.listAfter), "", nil)
	pct := 100 * float64(r.idleStat) / float64(r.idle)
	row(fmt.Sprintf("daemon CPU over %v idle (/proc/PID/stat)", r.idle), fmt.Sprintf("%.0f ms = %.3f %%", millis(r.idleStat), pct),
		fmt.Sprintf("<= %.1f %%", targetIdleCPU), pass(pct <= targetIdleCPU))
	row("  the same from schedstat", fmt.Sprintf("%.2f ms = %.4f %%", millis(r.idleSched), 100*float64(r.idleSched)/float64(r.idle)), "", nil)
	row(fmt.Sprintf("daemon VmRSS with %d sessions, idle", r.nsessions), fmt.Sprintf("%.1f MB", mbytes(r.idleRSS)), "", nil)
	row("  daemon VmRSS after the listings", fmt.Sprintf("%.1f MB", mbytes(r.afterRSS)), "", nil)
	row(fmt.Sprintf("  daemon exec to %d sessions listed (RUNNING first: startsecs=1)", r.nsessions), fmt.Sprintf("%.0f ms", millis(r.ready)), "", nil)
	row("  processes left for cleanup to kill", fmt.Sprintf("%d", r.leftovers), "0", pass(r.leftovers == 0))
	tw.Flush()
	fmt.Fprintf(w, "RSS detail: %s\n\n", r.idleDetail)
}
