package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"keeper/detach"
	"keeper/proctree"
)

// settle is how long a master is given to handle a hang-up before its
// memory is read.
const settle = 100 * time.Millisecond

// Targets from issue 18, the lightest session master.
const (
	targetThroughput = 1.2             // keeper/dtach, at least
	targetFloodCPU   = 0.8             // keeper/dtach CPU per flood, at most
	targetEcho       = 1.0             // keeper/dtach, median and p99, idle and after a flood, at most
	targetIdleRSS    = 3 * 1000 * 1000 // bytes, at most
	targetIdlePSS    = 60 * 1000 * 1000
	targetIdleUSS    = 600 * 1000 // bytes per master, at most
)

// bench runs the workloads against one implementation at a time.
type bench struct {
	lab    *lab
	self   string // this binary, run as the session program
	flood  int64  // bytes per throughput run
	trips  int    // measured echo round trips per run
	warmup int    // unmeasured echo round trips before them
	trace  *tracer
	traced map[string]string // strace summaries by workload and implementation
}

// results holds one implementation's figures over all rounds.
type results struct {
	mbps      []float64
	echo      []time.Duration // every measured round trip
	idleRSS   []int64
	floodRSS  []int64
	floodCPU  []time.Duration // the master's CPU time during a flood
	echoCPU   []time.Duration // ... during the measured echo round trips
	echoRuns  []float64       // times the master's threads were put on a CPU, per round trip
	echoAfter []time.Duration // every round trip timed right after a flood
	idleTotal idleMemory      // summed memory of the idle sessions' masters
}

// runDetach is "keeper-bench detach": keeper and dtach, interleaved round
// by round on the same workloads, then a table of figures and ratios.
func runDetach(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("detach", flag.ContinueOnError)
	keeperBin := fs.String("keeper", "bin/keeper", "keeper binary, run as KEEPER dtach -n")
	dtachBin := fs.String("dtach", "/usr/bin/dtach", "dtach binary, run as DTACH -n")
	rounds := fs.Int("rounds", 5, "rounds; each runs every workload on both, alternating which goes first")
	mb := fs.Int("mb", 64, "MiB flooded to the client per throughput run")
	trips := fs.Int("trips", 2000, "measured echo round trips per latency run")
	warmup := fs.Int("warmup", 200, "echo round trips before measuring")
	nsessions := fs.Int("sessions", 100, "idle sessions started at once for the memory figure")
	floorBin := fs.String("floor", "", "a Go program that only sleeps (internal/cmd/gosleep, built as the master is), started as many times as idle sessions for the runtime's own memory; empty: skipped")
	sigFloorBin := fs.String("sigfloor", "", "the same catching SIGTERM (internal/cmd/gosleep-sigterm), a master's floor; empty: skipped")
	keeperEnv := fs.String("keeper-env", "", "comma-separated `VAR=VALUE`s for keeper's sessions only, for experiments such as GOMAXPROCS=1")
	strace := fs.Bool("strace", false, "after the rounds, run each workload once more under strace -c -f on the master and print the syscall counts")
	record := fs.Bool("record", false, "measure what recording a session costs instead: only the flood, keeper with "+detach.SessionLogEnv+" set against keeper without, interleaved, and their ratio")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *rounds < 1 || *mb < 1 || *trips < 1 || *warmup < 0 || *nsessions < 1 {
		return fmt.Errorf("-rounds, -mb, -trips and -sessions must be positive, -warmup not negative")
	}
	keeper, err := implFor("keeper", *keeperBin, "dtach")
	if err != nil {
		return err
	}
	if *keeperEnv != "" {
		for kv := range strings.SplitSeq(*keeperEnv, ",") {
			if !strings.Contains(kv, "=") {
				return fmt.Errorf("-keeper-env: %q is no VAR=VALUE", kv)
			}
			keeper.env = append(keeper.env, kv)
		}
	}
	dtach, err := implFor("dtach", *dtachBin)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}

	l, err := newLab()
	if err != nil {
		return err
	}
	defer l.close()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		l.close()
		fmt.Fprintf(os.Stderr, "keeper-bench: %v: stopped, sessions killed\n", sig)
		os.Exit(130)
	}()

	b := &bench{lab: l, self: self, flood: int64(*mb) << 20, trips: *trips, warmup: *warmup}
	if *record {
		fmt.Fprintf(stdout, "keeper-bench detach -record: %s with and without %s\n", strings.Join(keeper.argv, " "), detach.SessionLogEnv)
		fmt.Fprintf(stdout, "commit:  %s\nload:    %s\nwork:    %d rounds, recording and plain alternating first; %d MiB flood to one client; MB = 10^6 bytes\n\n",
			commandOutput("git", "describe", "--always", "--dirty"), loadAverage(), *rounds, *mb)
		return b.recordCost(stdout, keeper, *rounds)
	}
	printHeader(stdout, keeper, dtach, *rounds, *mb, *trips, *nsessions)
	res := map[*impl]*results{keeper: {}, dtach: {}}
	var direct []float64
	start := time.Now()
	for r := 1; r <= *rounds; r++ {
		order := []*impl{keeper, dtach}
		if r%2 == 0 {
			order[0], order[1] = dtach, keeper
		}
		for _, im := range order {
			f, err := b.throughput(im)
			if err != nil {
				return fmt.Errorf("round %d: %w", r, err)
			}
			rs := res[im]
			rs.mbps = append(rs.mbps, f.mbps)
			rs.idleRSS = append(rs.idleRSS, f.idle)
			rs.floodRSS = append(rs.floodRSS, f.after)
			rs.floodCPU = append(rs.floodCPU, f.cpu)
			rs.echoAfter = append(rs.echoAfter, f.echo...)
			fmt.Fprintf(stdout, "round %d %-6s  flood %6.1f MB/s, master CPU %4.0f ms,   master RSS idle %5.2f MB (%s), after flood %5.2f MB; then echo first %.0f µs, slowest %.0f µs\n",
				r, im.name, f.mbps, millis(f.cpu), mbytes(f.idle), f.idleDetail, mbytes(f.after), micros(f.echo[0]), micros(slices.Max(f.echo)))
		}
		mbps, err := b.direct()
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		direct = append(direct, mbps)
		fmt.Fprintf(stdout, "round %d direct  flood %6.1f MB/s   (no master: the flood program's pty read by keeper-bench)\n", r, mbps)
		for _, im := range order {
			rt, cpu, runs, err := b.latency(im)
			if err != nil {
				return fmt.Errorf("round %d: %w", r, err)
			}
			res[im].echo = append(res[im].echo, rt...)
			res[im].echoCPU = append(res[im].echoCPU, cpu)
			res[im].echoRuns = append(res[im].echoRuns, float64(runs)/float64(len(rt)))
			sortDurations(rt)
			fmt.Fprintf(stdout, "round %d %-6s  echo median %6.1f µs, p99 %6.1f µs, master CPU %5.1f µs and %.2f times on a CPU per round trip\n",
				r, im.name, micros(percentile(rt, 50)), micros(percentile(rt, 99)), micros(cpu)/float64(len(rt)), float64(runs)/float64(len(rt)))
		}
	}
	for _, im := range []*impl{keeper, dtach} {
		total, err := b.idleSessions(im, *nsessions)
		if err != nil {
			return err
		}
		res[im].idleTotal = total
		fmt.Fprintf(stdout, "%d idle %s sessions: masters' RSS %.1f MB in all, %.2f MB each; PSS %.1f MB; private %.2f MB each\n",
			*nsessions, im.name, mbytes(total.rss), mbytes(total.rss)/float64(*nsessions), mbytes(total.pss), mbytes(total.uss)/float64(*nsessions))
	}
	// The floors: Go programs started as many times as idle sessions.
	floors := []struct {
		bin       *string
		what, ref string // how the measuring and the reference lines name it
		mem       idleMemory
	}{
		{floorBin, "Go programs that only sleep", "a Go program that only sleeps, the runtime's floor", idleMemory{}},
		{sigFloorBin, "Go programs that only sleep and catch SIGTERM", "the same catching SIGTERM, a master's floor", idleMemory{}},
	}
	for i := range floors {
		f := &floors[i]
		if *f.bin == "" {
			continue
		}
		if f.mem, err = idleGoPrograms(*f.bin, *nsessions); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d %s (%s): RSS %.2f MB each; PSS %.1f MB; private %.2f MB each\n",
			*nsessions, f.what, filepath.Base(*f.bin), mbytes(f.mem.rss)/float64(*nsessions), mbytes(f.mem.pss), mbytes(f.mem.uss)/float64(*nsessions))
	}
	fmt.Fprintf(stdout, "(%.0f s)\n\n", time.Since(start).Seconds())
	printTable(stdout, res[keeper], res[dtach], *rounds, *trips, *nsessions)
	fmt.Fprintf(stdout, "\nreference: the same flood read straight from its pty, no master: %.0f MB/s (median of %d)\n",
		medianFloat(direct), *rounds)
	for _, f := range floors {
		if *f.bin != "" {
			fmt.Fprintf(stdout, "reference: %s: private %.2f MB each, PSS of %d %.1f MB\n",
				f.ref, mbytes(f.mem.uss)/float64(*nsessions), *nsessions, mbytes(f.mem.pss))
		}
	}
	if *strace {
		return b.traceAll(stdout, keeper, dtach)
	}
	return nil
}

// traceAll runs the flood and the echo workloads once more for each
// implementation with strace counting the master's system calls, and prints
// the counts with the workload's figure (slowed down by strace).
func (b *bench) traceAll(w io.Writer, impls ...*impl) error {
	if _, err := exec.LookPath("strace"); err != nil {
		return fmt.Errorf("-strace: %w", err)
	}
	dir, err := os.MkdirTemp("", "keeper-bench-strace")
	if err != nil {
		return fmt.Errorf("-strace: %w", err)
	}
	defer os.RemoveAll(dir)
	b.trace, b.traced = &tracer{dir: dir}, make(map[string]string)
	defer func() { b.trace = nil }()
	for _, im := range impls {
		f, err := b.throughput(im)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n== %s master, %d MiB flood under strace (%.0f MB/s traced) ==\n%s\n",
			im.name, b.flood>>20, f.mbps, b.traced[im.name+" flood"])
		rt, _, _, err := b.latency(im)
		if err != nil {
			return err
		}
		sortDurations(rt)
		fmt.Fprintf(w, "\n== %s master, %d echo round trips under strace (median %.1f µs traced) ==\n%s\n",
			im.name, b.warmup+b.trips, micros(percentile(rt, 50)), b.traced[im.name+" echo"])
	}
	return nil
}

// implFor checks bin is an executable file and returns the implementation
// that runs it with the leading arguments pre.
func implFor(name, bin string, pre ...string) (*impl, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("%s binary %s: %w", name, bin, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("%s binary: %w", name, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("%s binary %s: not an executable file", name, abs)
	}
	return &impl{name: name, argv: append([]string{abs}, pre...)}, nil
}

// floodFigures is what one throughput run measures.
type floodFigures struct {
	mbps       float64         // from the go keystroke to the last byte
	idle       int64           // master RSS after one client attached and detached
	idleDetail string          // what that RSS is made of
	after      int64           // master RSS after the flood, client gone
	cpu        time.Duration   // master CPU time during the flood
	echo       []time.Duration // keystroke round trips right after it
	recordLag  time.Duration   // from the last byte to the whole recording on disk
	recordLost int64           // bytes of the flood the recording lacks
}

// afterFloodTrips is how many keystrokes are timed right after each flood,
// while the master may still be catching up on it (the emulator parsing).
const afterFloodTrips = 20

// throughput floods one attached client with b.flood bytes.
func (b *bench) throughput(im *impl) (f floodFigures, err error) {
	s, err := b.lab.start(im, b.self, "flood", "-bytes", strconv.FormatInt(b.flood, 10))
	if err != nil {
		return f, err
	}
	defer b.lab.kill(s)
	fail := func(err error) (floodFigures, error) {
		return floodFigures{}, fmt.Errorf("%s flood: %w", im.name, err)
	}

	c, err := dial(s.sock)
	if err != nil {
		return fail(err)
	}
	err = c.attach()
	if err == nil {
		err = c.detach()
	}
	c.close()
	if err != nil {
		return fail(err)
	}
	time.Sleep(settle)
	if f.idle, err = rssBytes(s.master); err != nil {
		return fail(err)
	}
	f.idleDetail = memDetail(s.master)

	c, err = dial(s.sock)
	if err != nil {
		return fail(err)
	}
	defer c.close()
	if err := c.attach(); err != nil {
		return fail(err)
	}
	if b.trace != nil {
		if err := b.trace.start(s.master, im.name+"-flood"); err != nil {
			return fail(err)
		}
	}
	buf := make([]byte, 1<<20)
	goKey := detach.AppendPush(nil, []byte{'g'})
	cpu0, err := cpuTime(s.master)
	if err != nil {
		return fail(err)
	}
	t0 := time.Now()
	if err := c.send(goKey); err != nil {
		return fail(err)
	}
	var got int64
	for got < b.flood {
		n, err := c.read(buf)
		if err != nil {
			return fail(fmt.Errorf("after %d of %d bytes: %w", got, b.flood, err))
		}
		got += int64(n)
	}
	elapsed := time.Since(t0)
	cpu1, err := cpuTime(s.master)
	if err != nil {
		return fail(err)
	}
	f.mbps, f.cpu = float64(b.flood)/elapsed.Seconds()/1e6, cpu1-cpu0
	if im.logDir != "" {
		if f.recordLag, f.recordLost, err = b.awaitRecording(im, s); err != nil {
			return fail(err)
		}
	}
	if b.trace != nil {
		sum, err := b.trace.stop()
		if err != nil {
			return fail(err)
		}
		b.traced[im.name+" flood"] = sum
	}
	if got != b.flood {
		return fail(fmt.Errorf("got %d bytes, want %d", got, b.flood))
	}
	if f.echo, err = echoTrips(c, afterFloodTrips); err != nil {
		return fail(fmt.Errorf("echo after the flood: %w", err))
	}
	if err := c.detach(); err != nil {
		return fail(err)
	}
	c.close()
	time.Sleep(settle)
	if f.after, err = rssBytes(s.master); err != nil {
		return fail(err)
	}
	return f, nil
}

// latency times single keystrokes sent to an echo program until each
// comes back, one at a time, and returns the master's CPU time over the
// measured round trips.
func (b *bench) latency(im *impl) (rts []time.Duration, cpu time.Duration, runs int64, err error) {
	s, err := b.lab.start(im, b.self, "echo")
	if err != nil {
		return nil, 0, 0, err
	}
	defer b.lab.kill(s)
	c, err := dial(s.sock)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s echo: %w", im.name, err)
	}
	defer c.close()
	if err := c.attach(); err != nil {
		return nil, 0, 0, fmt.Errorf("%s echo: %w", im.name, err)
	}
	if b.trace != nil {
		if err := b.trace.start(s.master, im.name+"-echo"); err != nil {
			return nil, 0, 0, fmt.Errorf("%s echo: %w", im.name, err)
		}
		defer func() {
			if sum, err := b.trace.stop(); err == nil {
				b.traced[im.name+" echo"] = sum
			}
		}()
	}
	if _, err := echoTrips(c, b.warmup); err != nil {
		return nil, 0, 0, fmt.Errorf("%s echo: %w", im.name, err)
	}
	cpu0, runs0, err := schedStat(s.master)
	if err != nil {
		return nil, 0, 0, err
	}
	out, err := echoTrips(c, b.trips)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s echo: %w", im.name, err)
	}
	cpu1, runs1, err := schedStat(s.master)
	if err != nil {
		return nil, 0, 0, err
	}
	return out, cpu1 - cpu0, runs1 - runs0, nil
}

// echoTrips times n single keystrokes sent to an echo program until each
// comes back, one at a time.
func echoTrips(c *client, n int) ([]time.Duration, error) {
	var keys [26][]byte
	for i := range keys {
		keys[i] = detach.AppendPush(nil, []byte{'a' + byte(i)})
	}
	buf := make([]byte, 64)
	out := make([]time.Duration, 0, n)
	for i := range n {
		k := i % len(keys)
		t0 := time.Now()
		if err := c.send(keys[k]); err != nil {
			return nil, err
		}
		got, err := c.read(buf)
		rt := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("round trip %d: %w", i, err)
		}
		if got != 1 || buf[0] != 'a'+byte(k) {
			return nil, fmt.Errorf("round trip %d: got %q, want %q", i, buf[:got], 'a'+byte(k))
		}
		out = append(out, rt)
	}
	return out, nil
}

// idleSessions starts n sessions of "sleep 600" and returns the sum of
// their masters' RSS.
func (b *bench) idleSessions(im *impl, n int) (idleMemory, error) {
	var ss []*session
	defer func() {
		for _, s := range ss {
			b.lab.kill(s)
		}
	}()
	for range n {
		s, err := b.lab.start(im, "sleep", "600")
		if err != nil {
			return idleMemory{}, fmt.Errorf("idle sessions: %w", err)
		}
		ss = append(ss, s)
	}
	time.Sleep(settle)
	var total idleMemory
	for _, s := range ss {
		rss, err := rssBytes(s.master)
		if err != nil {
			return idleMemory{}, fmt.Errorf("idle sessions: %w", err)
		}
		mem, _ := proctree.ReadMemory(s.master) // 0s where unreadable
		total.rss += rss
		total.pss += int64(mem.PSS)
		total.uss += int64(mem.Private)
	}
	return total, nil
}

// idleGoPrograms starts n copies of bin, a Go program that says "ready"
// and sleeps, as masters are started (GOMAXPROCS=1), and returns their
// memory summed as idleSessions does.
func idleGoPrograms(bin string, n int) (idleMemory, error) {
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}()
	for range n {
		c := exec.Command(bin)
		c.Env = append(os.Environ(), "GOMAXPROCS=1") // as a master is started
		out, err := c.StdoutPipe()
		if err != nil {
			return idleMemory{}, err
		}
		if err := c.Start(); err != nil {
			return idleMemory{}, fmt.Errorf("idle Go programs: %w", err)
		}
		cmds = append(cmds, c)
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			return idleMemory{}, fmt.Errorf("idle Go programs: %s said nothing: %w", bin, err)
		}
	}
	time.Sleep(settle)
	var total idleMemory
	for _, c := range cmds {
		rss, err := rssBytes(c.Process.Pid)
		if err != nil {
			return idleMemory{}, fmt.Errorf("idle Go programs: %w", err)
		}
		mem, _ := proctree.ReadMemory(c.Process.Pid) // 0s where unreadable
		total.rss += rss
		total.pss += int64(mem.PSS)
		total.uss += int64(mem.Private)
	}
	return total, nil
}

// idleMemory is what idle masters cost, summed: RSS as ps shows it, PSS
// (shared pages split among their users) and USS (pages only they use).
type idleMemory struct{ rss, pss, uss int64 }

func printHeader(w io.Writer, keeper, dtach *impl, rounds, mb, trips, nsessions int) {
	fmt.Fprintf(w, "keeper-bench detach: %s vs %s\n", strings.Join(append(keeper.env[:len(keeper.env):len(keeper.env)], keeper.argv...), " "), strings.Join(dtach.argv, " "))
	fmt.Fprintf(w, "commit:  %s\n", commandOutput("git", "describe", "--always", "--dirty"))
	if v := commandOutput("dpkg-query", "-W", "-f", "${Version}", "dtach"); v != "" {
		fmt.Fprintf(w, "dtach:   Debian package %s\n", v)
	}
	kernel := "unknown"
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) +
			" " + unix.ByteSliceToString(u.Machine[:])
	}
	fmt.Fprintf(w, "machine: nproc %d, %s, %s\n", runtime.NumCPU(), kernel, cpuModel())
	fmt.Fprintf(w, "load:    %s\n", loadAverage())
	fmt.Fprintf(w, "work:    %d rounds, keeper and dtach alternating first; %d MiB flood to one client; "+
		"%d echo round trips; %d idle sessions; MB = 10^6 bytes\n\n", rounds, mb, trips, nsessions)
}

func printTable(w io.Writer, k, d *results, rounds, trips, nsessions int) {
	sortDurations(k.echo)
	sortDurations(d.echo)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Names are padded here so they stay left-aligned in a right-aligned table.
	const nameWidth = 34
	fmt.Fprintf(tw, "%-*s\tkeeper\tdtach\tkeeper/dtach\ttarget\tresult\t\n", nameWidth, "figure")
	row := func(name, unit string, kv, dv float64, format string, target string, pass *bool) {
		res := "-"
		if pass != nil {
			res = "FAIL"
			if *pass {
				res = "PASS"
			}
		}
		fmt.Fprintf(tw, "%-*s\t"+format+" %s\t"+format+" %s\t%.2fx\t%s\t%s\t\n", nameWidth, name, kv, unit, dv, unit, kv/dv, target, res)
	}
	// ratio judges a keeper/dtach ratio against an upper bound.
	ratio := func(kv, dv, most float64) (string, *bool) {
		pass := kv/dv <= most
		return fmt.Sprintf("<= %.1fx", most), &pass
	}
	tk, td := medianFloat(k.mbps), medianFloat(d.mbps)
	pass := tk/td >= targetThroughput
	row(fmt.Sprintf("flood throughput (median of %d)", rounds), "MB/s", tk, td, "%.0f", fmt.Sprintf(">= %.1fx", targetThroughput), &pass)
	ck, cd := millis(medianDuration(k.floodCPU)), millis(medianDuration(d.floodCPU))
	target, ok := ratio(ck, cd, targetFloodCPU)
	row("  master CPU per flood (median)", "ms", ck, cd, "%.0f", target, ok)
	sortDurations(k.echoAfter)
	sortDurations(d.echoAfter)
	for _, e := range []struct {
		name     string
		kd, dd   []time.Duration
		quantile float64
	}{
		{"echo latency median", k.echo, d.echo, 50},
		{"echo latency p99", k.echo, d.echo, 99},
		{"echo right after a flood, median", k.echoAfter, d.echoAfter, 50},
		{"echo right after a flood, p99", k.echoAfter, d.echoAfter, 99},
	} {
		ek, ed := micros(percentile(e.kd, e.quantile)), micros(percentile(e.dd, e.quantile))
		target, ok := ratio(ek, ed, targetEcho)
		row(e.name, "µs", ek, ed, "%.1f", target, ok)
	}
	row("  master CPU per round trip", "µs", micros(medianDuration(k.echoCPU))/float64(trips), micros(medianDuration(d.echoCPU))/float64(trips), "%.1f", "", nil)
	row("  master on a CPU per round trip", "x", medianFloat(k.echoRuns), medianFloat(d.echoRuns), "%.2f", "", nil)
	ik, id := medianInt(k.idleRSS), medianInt(d.idleRSS)
	pass = ik <= targetIdleRSS
	row("master RSS idle (median)", "MB", mbytes(ik), mbytes(id), "%.2f", fmt.Sprintf("<= %d MB", targetIdleRSS/1000000), &pass)
	row("master RSS after flood (median)", "MB", mbytes(medianInt(k.floodRSS)), mbytes(medianInt(d.floodRSS)), "%.2f", "", nil)
	row(fmt.Sprintf("RSS of %d idle masters", nsessions), "MB", mbytes(k.idleTotal.rss), mbytes(d.idleTotal.rss), "%.1f", "", nil)
	row("  per idle master", "MB", mbytes(k.idleTotal.rss)/float64(nsessions), mbytes(d.idleTotal.rss)/float64(nsessions), "%.2f", "", nil)
	// The PSS target is for 100 masters: other counts are scaled to it.
	pss100 := float64(k.idleTotal.pss) * 100 / float64(nsessions)
	pass = pss100 <= targetIdlePSS
	row(fmt.Sprintf("PSS of %d idle masters", nsessions), "MB", mbytes(k.idleTotal.pss), mbytes(d.idleTotal.pss), "%.1f",
		fmt.Sprintf("<= %d MB per 100", targetIdlePSS/1000000), &pass)
	uss := float64(k.idleTotal.uss) / float64(nsessions)
	pass = uss <= targetIdleUSS
	row("  private (USS) per idle master", "MB", mbytes(k.idleTotal.uss)/float64(nsessions), mbytes(d.idleTotal.uss)/float64(nsessions), "%.2f",
		fmt.Sprintf("<= %.1f MB", float64(targetIdleUSS)/1e6), &pass)
	tw.Flush()
}

// commandOutput runs a command and returns its trimmed output, or a note
// saying why there is none.
func commandOutput(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		if name == "dpkg-query" {
			return ""
		}
		return fmt.Sprintf("unknown (%s: %v)", name, err)
	}
	return strings.TrimSpace(string(out))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "cpu unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "cpu unknown"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min; other work on the machine makes figures noisy)"
}

func mbytes(b int64) float64         { return float64(b) / 1e6 }
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
