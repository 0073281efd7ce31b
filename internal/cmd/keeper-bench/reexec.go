package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"keeper/supervise/xmlrpc"
)

// keeper-bench reexec: `keeper reexec` under load, 50 programs (two of
// them printing a numbered line every millisecond) and 200 sessions: the
// time from the call to the control socket answering again as the new
// daemon, over N reexecs, and whether any line was lost or repeated.

func runReexec(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reexec", flag.ContinueOnError)
	keeperBin := fs.String("keeper", "bin/keeper", "keeper binary")
	nprog := fs.Int("programs", 50, "programs (the first two write numbered lines)")
	nsess := fs.Int("sessions", 200, "sessions, spread over the programs that are not writers")
	n := fs.Int("n", 30, "reexecs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := filepath.Abs(*keeperBin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kbr")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *nprog < 3 {
		return fmt.Errorf("-programs %d: at least 3 (two writers and one with sessions)", *nprog)
	}
	var body strings.Builder
	for i := range *nprog {
		perProgram := *nsess / (*nprog - 2)
		if i-2 < *nsess%(*nprog-2) {
			perProgram++
		}
		if i < 2 {
			fmt.Fprintf(&body, "\n[program:w%d]\ncommand=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.001; done'\nstartsecs=0\nstdout_logfile=%s/w%d.log\n", i, dir, i)
			continue
		}
		sessionsProgram(&body, i, perProgram, bin, dir)
	}
	cmd, c, err := depsDaemon(dir, []string{bin, "daemon", "-n", "-c"}, body.String())
	if err != nil {
		return err
	}
	defer stopDepsDaemon(cmd)
	defer c.Close()
	defer exec.Command(bin, "-c", filepath.Join(dir, "d.conf"), "kill-sessions").Run()
	if err := allRunning(c, *nprog, time.Minute); err != nil {
		return err
	}
	want := *nsess
	if err := awaitSessions(c, want); err != nil {
		return err
	}
	// The daemon's CPU for the reexecs: what it uses during them less what
	// it uses as long without one (the writers' lines, its ticks), measured
	// before. CPU is what a busy machine changes little; the wall time
	// above it, much.
	idle, err := cpuOver(cmd.Process.Pid, func() error { time.Sleep(2 * time.Second); return nil })
	if err != nil {
		return err
	}
	var took []time.Duration
	t0 := time.Now()
	busy, err := cpuOver(cmd.Process.Pid, func() error {
		for range *n {
			d, err := timeReexec(c)
			if err != nil {
				return err
			}
			took = append(took, d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	perReexec := (busy - time.Duration(float64(idle)*time.Since(t0).Seconds()/2)) / time.Duration(*n)
	lines := 0
	for i := range 2 {
		if _, err := c.Call(context.Background(), "supervisor.stopProcess", fmt.Sprintf("w%d", i)); err != nil {
			return err
		}
		got, err := countNumbered(filepath.Join(dir, fmt.Sprintf("w%d.log", i)))
		if err != nil {
			return err
		}
		lines += got
	}
	slices.Sort(took)
	fmt.Fprintf(stdout, "%d programs, %d sessions, %d reexecs\n\n", *nprog, want, *n)
	fmt.Fprintf(stdout, "  %-54s %8.1f ms  p99 %6.1f ms   target < 100 ms\n", "keeper.reexec to the new daemon answering, p50", millis(percentile(took, 50)), millis(percentile(took, 99)))
	fmt.Fprintf(stdout, "  %-54s %8.1f ms\n", "the daemon's CPU per reexec (both binaries' sides)", millis(perReexec))
	fmt.Fprintf(stdout, "  %-54s %8d      (0 lost, 0 repeated)\n", "numbered lines logged by the two writers", lines)
	return nil
}

// cpuOver is the CPU time pid used while run ran.
func cpuOver(pid int, run func() error) (time.Duration, error) {
	before, err := statCPU(pid)
	if err != nil {
		return 0, err
	}
	if err := run(); err != nil {
		return 0, err
	}
	after, err := statCPU(pid)
	return after - before, err
}

// timeReexec asks for one exec in place and waits for the new daemon to
// answer, its programs taken over.
func timeReexec(c *xmlrpc.Client) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := c.Call(ctx, "keeper.getReexec")
	if err != nil {
		return 0, err
	}
	s, _ := v.(xmlrpc.Struct)
	count, _ := s.Get("count")
	from, _ := count.(int)
	t0 := time.Now()
	if _, err := c.Call(ctx, "keeper.reexec", from); err != nil {
		return 0, err
	}
	for {
		v, err := c.Call(ctx, "keeper.getReexec")
		if err != nil {
			return 0, err
		}
		s, _ := v.(xmlrpc.Struct)
		count, _ := s.Get("count")
		ready, _ := s.Get("ready")
		if n, _ := count.(int); n > from && ready == true {
			return time.Since(t0), nil
		}
		time.Sleep(time.Millisecond)
	}
}

// countNumbered checks a writer's log holds 1, 2, 3... each once, in
// order, and returns how many.
func countNumbered(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		if got, err := strconv.Atoi(sc.Text()); err != nil || got != n {
			return n, fmt.Errorf("%s line %d is %q, want %d: a line lost or repeated", path, n, sc.Text(), n)
		}
	}
	return n, sc.Err()
}
