package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"keeper/supervise/http1"
	"keeper/supervise/xmlrpc"
)

// keeper-bench remote: supervisord's remote faces, keeper against Debian's
// supervisord on the same config: getAllProcessInfo over [inet_http_server]
// with basic auth, and an event listener (supervisor.childutils, run by
// python3): the latency from a sendRemoteCommEvent call to the listener's
// read of its event, and events per second to one listener.

// remoteListener is the event listener both daemons run: it appends the
// time it read each event and the event's data (the send time) to a file.
const remoteListener = `import sys, time
from supervisor import childutils
out = open(sys.argv[1], "a", buffering=1)
while True:
    h, p = childutils.listener.wait(sys.stdin, sys.stdout)
    now = time.time()
    f, data = childutils.eventdata(p + "\n")
    out.write("%f %s\n" % (now, data.strip()))
    childutils.listener.ok(sys.stdout)
`

type remoteDaemon struct {
	name, dir string
	argv      []string
	cmd       *exec.Cmd
	port      int
	events    string // the listener's file
}

func runRemote(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("remote", flag.ContinueOnError)
	keeperBin := fs.String("keeper", "bin/keeper", "keeper binary")
	supervisordBin := fs.String("supervisord", "/usr/bin/supervisord", "supervisord")
	python := fs.String("python", "/usr/bin/python3", "python3 with Debian's supervisor module, for the listener")
	nprog := fs.Int("programs", 50, "programs (sleep infinity) in each config")
	ncalls := fs.Int("calls", 200, "getAllProcessInfo calls over TCP per daemon")
	nlat := fs.Int("events", 300, "events timed one by one per daemon")
	nthru := fs.Int("burst", 2000, "events sent back to back per daemon")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, bin := range []*string{keeperBin, supervisordBin, python} {
		abs, err := filepath.Abs(*bin)
		if err != nil {
			return err
		}
		*bin = abs
	}
	base, err := os.MkdirTemp("", "kbr")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	daemons := []*remoteDaemon{
		{name: "keeper", argv: []string{*keeperBin, "daemon", "-n", "-c"}},
		{name: "supervisord", argv: []string{*supervisordBin, "-n", "-c"}},
	}
	type figures struct {
		tcp, latency []time.Duration
		rate         float64
	}
	res := map[string]*figures{}
	for _, d := range daemons {
		d.dir = filepath.Join(base, d.name)
		if err := d.start(*python, *nprog); err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		f := &figures{}
		res[d.name] = f
		err := func() error {
			defer d.stop()
			var err error
			if f.tcp, err = d.tcpCalls(*ncalls); err != nil {
				return err
			}
			if f.latency, err = d.eventLatency(*nlat); err != nil {
				return err
			}
			f.rate, err = d.eventRate(*nthru)
			slices.Sort(f.tcp)
			slices.Sort(f.latency)
			return err
		}()
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		fmt.Fprintf(stdout, "%-11s getAllProcessInfo over TCP with auth p50 %.3f ms p99 %.3f ms; event latency p50 %.2f ms p99 %.2f ms; %.0f events/s\n",
			d.name, millis(percentile(f.tcp, 50)), millis(percentile(f.tcp, 99)),
			millis(percentile(f.latency, 50)), millis(percentile(f.latency, 99)), f.rate)
	}
	k, s := res["keeper"], res["supervisord"]
	fmt.Fprintf(stdout, "\n  %-52s %10s %12s %10s %10s\n", "figure", "keeper", "supervisord", "ratio", "target")
	row := func(name string, kv, sv float64, unit, target string, lowerBetter bool) {
		ratio := sv / kv
		if !lowerBetter {
			ratio = kv / sv
		}
		fmt.Fprintf(stdout, "  %-52s %7.3f %s %9.3f %s %9.1fx %10s\n", name, kv, unit, sv, unit, ratio, target)
	}
	row(fmt.Sprintf("getAllProcessInfo over TCP+auth p50 (%d programs)", *nprog), millis(percentile(k.tcp, 50)), millis(percentile(s.tcp, 50)), "ms", "", true)
	row("  p99", millis(percentile(k.tcp, 99)), millis(percentile(s.tcp, 99)), "ms", "", true)
	row("event latency, call to listener read, p50", millis(percentile(k.latency, 50)), millis(percentile(s.latency, 50)), "ms", "< 5 ms", true)
	row("  p99", millis(percentile(k.latency, 99)), millis(percentile(s.latency, 99)), "ms", "", true)
	fmt.Fprintf(stdout, "  %-52s %7.0f /s %9.0f /s %9.1fx %10s\n", "events per second to one listener", k.rate, s.rate, k.rate/s.rate, "ahead")
	fmt.Fprintf(stdout, "\n(ratio: how many times better keeper is; events: supervisor.sendRemoteCommEvent over the unix socket, one at a time, to a supervisor.childutils listener)\n")
	return nil
}

func (d *remoteDaemon) start(python string, nprog int) error {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	d.port = ports[0]
	d.events = filepath.Join(d.dir, "events.txt")
	if err := os.WriteFile(filepath.Join(d.dir, "listener.py"), []byte(remoteListener), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n[inet_http_server]\nport=127.0.0.1:%[2]d\nusername=u\npassword=p\n\n"+
		"[eventlistener:bench]\ncommand=%[3]s %[1]s/listener.py %[4]s\nevents=REMOTE_COMMUNICATION\nbuffer_size=100000\n", d.dir, d.port, python, d.events)
	for i := range nprog {
		fmt.Fprintf(&b, "\n[program:p%02d]\ncommand=sleep infinity\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n", i)
	}
	cmd, c, err := depsDaemon(d.dir, d.argv, b.String())
	if err != nil {
		return err
	}
	d.cmd = cmd
	defer c.Close()
	// The programs and the listener.
	if err := allRunning(c, nprog+1, 30*time.Second); err != nil {
		d.stop()
		return fmt.Errorf("with its listener: %w", err)
	}
	return nil
}

func (d *remoteDaemon) stop() {
	if d.cmd != nil {
		stopDepsDaemon(d.cmd)
		d.cmd = nil
	}
}

// tcpCalls times getAllProcessInfo over [inet_http_server] with basic auth
// on one keep-alive connection.
func (d *remoteDaemon) tcpCalls(n int) ([]time.Duration, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port))
	client := &http1.Client{Dial: func(ctx context.Context) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, "tcp", addr)
	}}
	defer client.Close()
	body, err := xmlrpc.AppendCall(nil, "supervisor.getAllProcessInfo")
	if err != nil {
		return nil, err
	}
	header := http1.Header{"Content-Type": "text/xml", "Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))}
	var out []time.Duration
	for i := range n + 10 {
		t0 := time.Now()
		resp, err := client.Do(context.Background(), "POST", "/RPC2", header, body)
		took := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("getAllProcessInfo over TCP: %w", err)
		}
		if resp.Status != 200 {
			return nil, fmt.Errorf("getAllProcessInfo over TCP: http status %d", resp.Status)
		}
		if i >= 10 { // warm-up
			out = append(out, took)
		}
	}
	return out, nil
}

// eventLatency sends n events one at a time, each carrying its send time,
// and reads from the listener's file when each was read.
func (d *remoteDaemon) eventLatency(n int) ([]time.Duration, error) {
	c := xmlrpc.Dial(filepath.Join(d.dir, "s.sock"))
	defer c.Close()
	base := countLines(d.events)
	for i := range n {
		sent := time.Now()
		if _, err := c.Call(context.Background(), "supervisor.sendRemoteCommEvent", "bench", strconv.FormatFloat(float64(sent.UnixNano())/1e9, 'f', 6, 64)); err != nil {
			return nil, err
		}
		if err := waitLines(d.events, base+i+1, 10*time.Second); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(d.events)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")[base:]
	var out []time.Duration
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		recv, err1 := strconv.ParseFloat(f[0], 64)
		sent, err2 := strconv.ParseFloat(f[1], 64)
		if err1 == nil && err2 == nil {
			out = append(out, time.Duration((recv-sent)*1e9))
		}
	}
	return out, nil
}

// eventRate sends n events back to back and returns how many the listener
// read per second.
func (d *remoteDaemon) eventRate(n int) (float64, error) {
	c := xmlrpc.Dial(filepath.Join(d.dir, "s.sock"))
	defer c.Close()
	base := countLines(d.events)
	t0 := time.Now()
	for range n {
		if _, err := c.Call(context.Background(), "supervisor.sendRemoteCommEvent", "bench", "0"); err != nil {
			return 0, err
		}
	}
	if err := waitLines(d.events, base+n, 60*time.Second); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

func waitLines(path string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for countLines(path) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("the listener read %d events of %d within %v", countLines(path), n, timeout)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}
