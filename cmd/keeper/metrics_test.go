package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"keeper/internal/peer"
	"keeper/supervise"
	"keeper/supervise/http1"
)

// scrape GETs /metrics from the daemon's socket and parses it with the
// Prometheus project's own parser.
func scrape(t *testing.T, k *keeperd) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	body := scrapeText(t, k)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return families
}

// scrapeText GETs /metrics from the daemon's socket.
func scrapeText(t *testing.T, k *keeperd) string {
	t.Helper()
	client := &http1.Client{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", k.sock)
	}}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Do(ctx, "GET", "/metrics", http1.Header{}, nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("GET /metrics: %v %+v", err, resp)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	return string(resp.Body)
}

// value finds the sample of family with the given labels.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for k, v := range labels {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics: GET /metrics parses with Prometheus' own parser, its values
// match what XML-RPC says, and counters grow across restarts.
func TestMetrics(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:web]
command=@DIR@/sleepy 1000
startsecs=0

[program:crashy]
command=/bin/sh -c '@DIR@/sleepy 0.2; exit 3'
startsecs=0
autorestart=true
`)
	k.start()
	info := k.waitState("web", 5*time.Second, "RUNNING")
	k.mustCall("supervisor.getState")
	var families map[string]*dto.MetricFamily
	waitFor(t, "crashy to have exited twice", 10*time.Second, func() bool {
		families = scrape(t, k)
		n, _ := value(families, "keeper_process_exits_total", map[string]string{"program": "crashy", "code": "3"})
		return n >= 2
	})
	web := map[string]string{"program": "web", "group": "web"}
	if v, ok := value(families, "keeper_process_state", map[string]string{"program": "web", "state": "RUNNING"}); !ok || v != 1 {
		t.Errorf("keeper_process_state{web,RUNNING} = %v, %v", v, ok)
	}
	if v, ok := value(families, "keeper_process_start_time_seconds", web); !ok || int(v) != rpcField[int](info, "start") {
		t.Errorf("keeper_process_start_time_seconds{web} = %v, XML-RPC says %d", v, rpcField[int](info, "start"))
	}
	if v, ok := value(families, "keeper_process_resident_memory_bytes", web); !ok || v <= 0 {
		t.Errorf("keeper_process_resident_memory_bytes{web} = %v, %v", v, ok)
	}
	if v, ok := value(families, "keeper_rpc_request_duration_seconds", map[string]string{"method": "supervisor.getState"}); !ok || v < 1 {
		t.Errorf("getState requests counted %v, %v", v, ok)
	}
	starts, _ := value(families, "keeper_process_starts_total", map[string]string{"program": "crashy"})
	waitFor(t, "crashy to start again", 10*time.Second, func() bool {
		later, _ := value(scrape(t, k), "keeper_process_starts_total", map[string]string{"program": "crashy"})
		return later > starts
	})
	for _, name := range []string{"keeper_daemon_resident_memory_bytes", "keeper_daemon_goroutines", "keeper_daemon_cpu_seconds_total"} {
		if _, ok := value(families, name, nil); !ok {
			t.Errorf("no %s", name)
		}
	}
}

// TestMetricsPromtool: the Prometheus project's own linter, promtool check
// metrics, finds nothing to say about a scrape with every family present:
// programs running and exited, a session with a client count, requests.
func TestMetricsPromtool(t *testing.T) {
	t.Parallel()
	promtool := peer.Need(t, "promtool")
	k := newKeeperd(t, `
[program:term]
command=/bin/sh -c '`+keeperBin+` dtach -n @DIR@/t.sock @DIR@/sleepy 1000; exec @DIR@/sleepy 1001'
startsecs=0

[program:crashy]
command=/bin/sh -c 'exit 3'
startsecs=0
autorestart=false
`)
	k.start()
	k.waitState("term", 5*time.Second, "RUNNING")
	k.waitState("crashy", 5*time.Second, "EXITED")
	oneSession(t, k)
	k.mustCall("supervisor.getState")
	body := scrapeText(t, k)
	for _, family := range []string{"keeper_session_clients", "keeper_process_exits_total", "keeper_rpc_request_duration_seconds"} {
		if !strings.Contains(body, "# TYPE "+family+" ") {
			t.Fatalf("the scrape lacks %s:\n%s", family, body)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsOnInet: /metrics on [inet_http_server] is behind its basic
// auth, and a scrape's resource figures are what keeper.getProcessUsage
// says of the same processes.
func TestMetricsOnInet(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	k := newKeeperd(t, fmt.Sprintf(`
[inet_http_server]
port=127.0.0.1:%d
username=u
password=p

[program:four]
command=/bin/sh -c 'for i in 1 2 3 4; do @DIR@/sleepy 1000 & done; wait'
startsecs=0
`, port))
	k.start()
	k.waitState("four", 5*time.Second, "RUNNING")

	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	get := func(user, password string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct{ name, user, password string }{
		{"no credentials", "", ""},
		{"a wrong password", "u", "x"},
	} {
		if code, body := get(tc.user, tc.password); code != 401 || strings.Contains(body, "keeper_") {
			t.Errorf("GET /metrics with %s: %d, want 401 and no metrics:\n%s", tc.name, code, body)
		}
	}

	// With the credentials, the scrape's figures of four's five processes
	// are keeper.getProcessUsage's, read just before and just after it
	// (and equal: a sleep just started may still hold its loader's
	// descriptor, so the figures are compared once they hold still).
	figures := func(u supervise.Usage) [3]int { return [3]int{u.Processes, u.Threads, u.FDs} }
	rpc := func() [3]int {
		usage, err := supervise.DecodeUsages(k.mustCall("keeper.getProcessUsage"), "namespec")
		if err != nil {
			t.Fatal(err)
		}
		return figures(usage["four"])
	}
	var before, scraped, after [3]int
	defer func() {
		if t.Failed() {
			t.Logf("last: before %v, scraped %v, after %v (processes, threads, fds)", before, scraped, after)
		}
	}()
	waitFor(t, "a scrape of four's five processes as XML-RPC gives them", 10*time.Second, func() bool {
		before = rpc()
		code, body := get("u", "p")
		if code != 200 {
			t.Fatalf("GET /metrics with the credentials: %d\n%s", code, body)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		four := map[string]string{"program": "four"}
		for i, name := range []string{"keeper_process_processes", "keeper_process_threads", "keeper_process_open_fds"} {
			v, _ := value(families, name, four)
			scraped[i] = int(v)
		}
		after = rpc()
		return before[0] == 5 && before == after && scraped == before
	})
}
