package supervise

import (
	"fmt"
	"testing"
	"time"
)

func TestMetricsWriter(t *testing.T) {
	var m metricsWriter
	m.family("keeper_a", "gauge", "A.")
	m.family("keeper_b", "counter", "B.")
	m.sample("keeper_a", 1, "program", `we"ird\name`+"\n")
	m.sample("keeper_b", 2.5)
	m.sample("keeper_a", 3, "program", "x")
	want := "# HELP keeper_a A.\n# TYPE keeper_a gauge\n" +
		`keeper_a{program="we\"ird\\name\n"} 1` + "\n" +
		"keeper_a{program=\"x\"} 3\n" +
		"# HELP keeper_b B.\n# TYPE keeper_b counter\nkeeper_b 2.5\n"
	if got := string(m.Bytes()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// After a reset, only what is written since.
	m.reset()
	m.family("keeper_b", "counter", "B.")
	m.sample("keeper_b", 3)
	want = "# HELP keeper_b B.\n# TYPE keeper_b counter\nkeeper_b 3\n"
	if got := string(m.Bytes()); got != want {
		t.Errorf("after reset got\n%s\nwant\n%s", got, want)
	}
}

func TestRPCHistogram(t *testing.T) {
	var m rpcMetrics
	now := time.Now()
	m.observe("supervisor.getState", now)                            // ~0 s: the first bucket
	m.observe("supervisor.getState", now.Add(-300*time.Millisecond)) // 0.5 s bucket
	h := m.methods["supervisor.getState"]
	if h.total != 2 || h.counts[0] != 1 || h.counts[9] != 1 {
		t.Errorf("histogram %+v, want one in the first bucket and one in le=0.5", h)
	}
}

// BenchmarkMetricsWriter writes what a scrape of 50 programs with 4
// sessions each writes: about 2,500 samples.
func BenchmarkMetricsWriter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		m := metricsWriters.Get().(*metricsWriter)
		for i := range 250 {
			program := fmt.Sprintf("p%02d", i/5)
			for _, f := range usageFamilies {
				name := "keeper_session" + f.suffix
				m.family(name, f.typ, f.help)
				m.sample(name, f.value(Usage{RSS: 3 << 20, PSS: 1 << 20, CPUSeconds: 0.25, Processes: 2, Threads: 7, FDs: 9}),
					"program", program, "session", "s-"+program)
			}
			m.family("keeper_session_clients", "gauge", "Clients.")
			m.sample("keeper_session_clients", 0, "program", program, "session", "s-"+program)
		}
		m.Bytes()
		m.reset()
		metricsWriters.Put(m)
	}
}
