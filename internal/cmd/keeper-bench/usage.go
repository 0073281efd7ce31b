package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"keeper/supervise/http1"
	"keeper/supervise/xmlrpc"
)

// keeper-bench usage: what keeper's resource figures cost the daemon, with
// 50 programs and 200 sessions: a GET /metrics (every figure, one process
// walk), a keeper.getProcessUsage (what keeper top and status -v read each
// refresh), and the daemon's idle CPU with nobody scraping: before any
// scrape, in the idle time right after the scrapes (when the Go runtime
// returns the memory they used to the kernel), and in the idle time after
// that; then its CPU with 10 status pages open (streams of /events on
// [inet_http_server] with web = true, each refreshed every 5 s).

func runUsage(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	keeperBin := fs.String("keeper", "bin/keeper", "keeper binary")
	nprog := fs.Int("programs", 50, "programs")
	perProgram := fs.Int("sessions", 4, "sessions each program makes")
	ncalls := fs.Int("calls", 50, "timed scrapes and usage calls")
	idle := fs.Duration("idle", 10*time.Second, "idle time for the CPU figure")
	pages := fs.Int("pages", 10, "status pages (web = true) open for the last CPU figure")
	pagesIdle := fs.Duration("pages-idle", 15*time.Second, "time the pages are open for it (the pages refresh every 5 s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := filepath.Abs(*keeperBin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kbu")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var body strings.Builder
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	port := ports[0]
	fmt.Fprintf(&body, "\n[inet_http_server]\nport=127.0.0.1:%d\nweb=true\n", port)
	for i := range *nprog {
		sessionsProgram(&body, i, *perProgram, bin, dir)
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
	want := *nprog * *perProgram
	if err := awaitSessions(c, want); err != nil {
		return err
	}
	before, err := idlePercent(cmd.Process.Pid, *idle)
	if err != nil {
		return err
	}
	sock := filepath.Join(dir, "s.sock")
	client := &http1.Client{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	defer client.Close()
	var scrapes, usage []time.Duration
	var size int
	for range *ncalls {
		t0 := time.Now()
		resp, err := client.Do(context.Background(), "GET", "/metrics", http1.Header{}, nil)
		if err != nil || resp.Status != 200 {
			return fmt.Errorf("GET /metrics: %v", err)
		}
		scrapes = append(scrapes, time.Since(t0))
		size = len(resp.Body)
		t0 = time.Now()
		if _, err := c.Call(context.Background(), "keeper.getProcessUsage", []any{}); err != nil {
			return err
		}
		usage = append(usage, time.Since(t0))
	}
	slices.Sort(scrapes)
	slices.Sort(usage)
	after, err := idlePercent(cmd.Process.Pid, *idle)
	if err != nil {
		return err
	}
	settled, err := idlePercent(cmd.Process.Pid, *idle)
	if err != nil {
		return err
	}
	closePages, err := openStatusPages(fmt.Sprintf("http://127.0.0.1:%d/events", port), *pages)
	if err != nil {
		return err
	}
	withPages, err := idlePercent(cmd.Process.Pid, *pagesIdle)
	closePages()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d programs, %d sessions\n\n", *nprog, want)
	fmt.Fprintf(stdout, "  %-54s %8.1f ms  p99 %6.1f ms  (%d KB)   target < 10 ms\n", "GET /metrics, p50", millis(percentile(scrapes, 50)), millis(percentile(scrapes, 99)), size/1000)
	fmt.Fprintf(stdout, "  %-54s %8.1f ms  p99 %6.1f ms\n", "keeper.getProcessUsage (a keeper top refresh), p50", millis(percentile(usage, 50)), millis(percentile(usage, 99)))
	fmt.Fprintf(stdout, "  %-54s %8.2f %%\n", fmt.Sprintf("daemon CPU over %v idle, before any scrape", *idle), before)
	fmt.Fprintf(stdout, "  %-54s %8.2f %%\n", fmt.Sprintf("daemon CPU in the %v right after the scrapes", *idle), after)
	fmt.Fprintf(stdout, "  %-54s %8.2f %%   target 0.0 %%\n", fmt.Sprintf("daemon CPU over %v idle, nobody scraping", *idle), settled)
	fmt.Fprintf(stdout, "  %-54s %8.2f %%\n", fmt.Sprintf("daemon CPU over %v, %d status pages open", *pagesIdle, *pages), withPages)
	return nil
}

// idlePercent waits for d and returns the CPU pid used meanwhile, in
// percent of one core, from schedstat's nanoseconds (cpuOver's clock
// ticks would round 5 s of a quiet daemon to nothing).
func idlePercent(pid int, d time.Duration) (float64, error) {
	c0, err := cpuTime(pid)
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	c1, err := cpuTime(pid)
	return 100 * (c1 - c0).Seconds() / d.Seconds(), err
}

// openStatusPages opens n streams of the web page's status (what n open
// pages read), each read until closed, and returns once every one has had
// its first status.
func openStatusPages(url string, n int) (closeAll func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, n)
	for range n {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				first <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				first <- fmt.Errorf("GET %s: %s", url, resp.Status)
				return
			}
			r := bufio.NewReader(resp.Body)
			for sent := false; ; {
				line, err := r.ReadString('\n')
				if err != nil {
					if !sent {
						first <- err
					}
					return
				}
				if !sent && line == "\n" { // the end of the first event
					first <- nil
					sent = true
				}
			}
		}()
	}
	for range n {
		if err := <-first; err != nil {
			cancel()
			return nil, fmt.Errorf("open a status page: %w", err)
		}
	}
	return cancel, nil
}

// sessionsProgram adds program pNN to body: it starts count sessions of a
// sleep with bin's dtach (sockets in dir), then sleeps itself.
func sessionsProgram(body *strings.Builder, i, count int, bin, dir string) {
	fmt.Fprintf(body, "\n[program:p%02d]\ncommand=/bin/sh -c 'for s in $(seq %d); do %s dtach -n %s/s%02d-$s sleep 100000; done; exec sleep infinity'\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n",
		i, count, bin, dir, i)
}

// awaitSessions polls keeper.getSessions until it lists want sessions, for
// up to a minute.
func awaitSessions(c *xmlrpc.Client, want int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		v, err := c.Call(context.Background(), "keeper.getSessions", []any{})
		if list, _ := v.([]any); err == nil && len(list) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not %d sessions after a minute", want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
