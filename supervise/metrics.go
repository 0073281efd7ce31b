package supervise

import (
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"keeper/proctree"
	"keeper/supervise/http1"
)

// GET /metrics: Prometheus' text format (version 0.0.4), on the control
// socket and behind the same authentication as XML-RPC. Names follow
// Prometheus' conventions: keeper_ prefix, base units (bytes, seconds),
// _total for counters, labels group, program and session.

// processCounts are a process's counters; they only grow, across restarts.
type processCounts struct {
	starts, backoffs, fatals int
	exits                    map[string]int // by "exit N" or "signal SIGX"
	restarts                 map[string]int // keeper's own restarts, by the event that told of them
}

func (c *processCounts) exit(ws syscall.WaitStatus) {
	if c.exits == nil {
		c.exits = map[string]int{}
	}
	switch {
	case ws.Signaled():
		c.exits["signal "+unixSignalName(ws.Signal())]++
	default:
		c.exits["code "+strconv.Itoa(ws.ExitStatus())]++
	}
}

// rpcBuckets are the upper bounds of the request latency histogram.
var rpcBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// rpcMetrics counts control requests by method, with their latency.
type rpcMetrics struct {
	mu      sync.Mutex
	methods map[string]*rpcHistogram
}

type rpcHistogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	total  uint64
}

// observe records a call of method that began at start.
func (m *rpcMetrics) observe(method string, start time.Time) {
	secs := time.Since(start).Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.methods == nil {
		m.methods = map[string]*rpcHistogram{}
	}
	h := m.methods[method]
	if h == nil {
		h = &rpcHistogram{counts: make([]uint64, len(rpcBuckets)+1)}
		m.methods[method] = h
	}
	i, _ := slices.BinarySearch(rpcBuckets, secs)
	h.counts[i]++
	h.sum += secs
	h.total++
}

// metricsWriter collects samples by family and writes each family once:
// its HELP and TYPE, then all its samples together, as the format wants.
// Samples are appended to byte slices, with no string built per sample:
// a scrape writes thousands.
type metricsWriter struct {
	order    []*metricFamily          // declared since the last reset
	families map[string]*metricFamily // with their buffers, kept by reset
	text     []byte                   // what Bytes returned, kept by reset
}

type metricFamily struct {
	name, typ, help string
	samples         []byte
	declared        bool
}

// family declares a family; declaring it again changes nothing.
func (w *metricsWriter) family(name, typ, help string) {
	if w.families == nil {
		w.families = map[string]*metricFamily{}
	}
	f := w.families[name]
	if f == nil {
		f = &metricFamily{name: name}
		w.families[name] = f
	}
	if !f.declared {
		f.declared, f.typ, f.help, f.samples = true, typ, help, f.samples[:0]
		w.order = append(w.order, f)
	}
}

// reset empties w for another scrape, keeping its buffers.
func (w *metricsWriter) reset() {
	for _, f := range w.order {
		f.declared = false
	}
	w.order = w.order[:0]
}

// metricsWriters keeps the writers of scrapes done, with their buffers:
// growing them anew makes about twice the text in garbage every scrape.
var metricsWriters = sync.Pool{New: func() any { return new(metricsWriter) }}

// sample adds a sample of family name (itself, or name_bucket, name_sum,
// name_count with suffix for a histogram); labels are name, value pairs.
func (w *metricsWriter) sample(name string, value float64, labels ...string) {
	w.sampleSuffix(name, "", value, labels...)
}

func (w *metricsWriter) sampleSuffix(name, suffix string, value float64, labels ...string) {
	f := w.families[name]
	b := append(f.samples, name...)
	b = append(b, suffix...)
	if len(labels) > 0 {
		b = append(b, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, labels[i]...)
			b = append(b, `="`...)
			b = appendLabelValue(b, labels[i+1])
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = strconv.AppendFloat(b, value, 'g', -1, 64)
	f.samples = append(b, '\n')
}

// Bytes renders every family in the order they were declared, into a
// buffer of w's: the text is valid until the next reset.
func (w *metricsWriter) Bytes() []byte {
	size := 0
	for _, f := range w.order {
		size += len("# HELP  \n# TYPE  \n") + 2*len(f.name) + len(f.help) + len(f.typ) + len(f.samples)
	}
	b := slices.Grow(w.text[:0], size)
	for _, f := range w.order {
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.help...)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.typ...)
		b = append(b, '\n')
		b = append(b, f.samples...)
	}
	w.text = b
	return b
}

// appendLabelValue appends a label value escaped as the text format
// wants: backslash, double quote and newline.
func appendLabelValue(b []byte, v string) []byte {
	for {
		i := strings.IndexAny(v, "\\\"\n")
		if i < 0 {
			return append(b, v...)
		}
		c := v[i]
		if c == '\n' {
			c = 'n'
		}
		b = append(b, v[:i]...)
		b = append(b, '\\', c)
		v = v[i+1:]
	}
}

// serveMetrics answers GET /metrics.
func (d *Daemon) serveMetrics(w http1.ResponseWriter, r *http1.Request) {
	if r.Method != "GET" && r.Method != "HEAD" {
		w.WriteHeader(405)
		return
	}
	m := metricsWriters.Get().(*metricsWriter)
	defer func() {
		m.reset()
		metricsWriters.Put(m)
	}()
	d.writeMetrics(m)
	text := m.Bytes()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(200)
	if r.Method == "GET" {
		w.Write(text)
	}
}

// usageFamilies are the families of a Usage, each name a suffix of
// keeper_process or keeper_session.
var usageFamilies = [...]struct {
	suffix, typ, help string
	value             func(Usage) float64
}{
	{"_resident_memory_bytes", "gauge", "Resident memory of the tree, summed (RSS).", func(u Usage) float64 { return float64(u.RSS) }},
	{"_pss_bytes", "gauge", "Proportional set size of the tree, shared pages split (0 where unreadable).", func(u Usage) float64 { return float64(u.PSS) }},
	{"_cpu_seconds_total", "counter", "User and system CPU time of the live processes of the tree.", func(u Usage) float64 { return u.CPUSeconds }},
	{"_processes", "gauge", "Processes in the tree.", func(u Usage) float64 { return float64(u.Processes) }},
	{"_threads", "gauge", "Threads in the tree.", func(u Usage) float64 { return float64(u.Threads) }},
	{"_open_fds", "gauge", "Open file descriptors in the tree.", func(u Usage) float64 { return float64(u.FDs) }},
}

// writeMetrics writes every metric once to m.
func (d *Daemon) writeMetrics(m *metricsWriter) {
	// One process table and one session listing for every figure.
	sessions, usage, sessUsage := d.readUsage()
	now := time.Now()

	type proc struct {
		group, name, state string
		start              time.Time
		pid                int
		counts             processCounts
	}
	d.mu.Lock()
	var procs []proc
	for _, p := range d.processesLocked(true) {
		c := p.counts
		c.exits = maps.Clone(p.counts.exits)
		c.restarts = maps.Clone(p.counts.restarts)
		procs = append(procs, proc{p.group, p.cfg.Name, p.state.String(), p.laststart, p.pid, c})
	}
	d.mu.Unlock()

	for _, p := range procs {
		l := []string{"group", p.group, "program", p.name}
		m.family("keeper_process_state", "gauge", "1 for the state the process is in (supervisord's states), 0 for the others.")
		for _, st := range []State{Stopped, Starting, Running, Backoff, Stopping, Exited, Fatal, Unknown} {
			v := 0.0
			if st.String() == p.state {
				v = 1
			}
			m.sample("keeper_process_state", v, append(l, "state", st.String())...)
		}
	}
	for _, p := range procs {
		if p.pid == 0 {
			continue
		}
		l := []string{"group", p.group, "program", p.name}
		m.family("keeper_process_start_time_seconds", "gauge", "When the running instance started, in unix seconds.")
		m.sample("keeper_process_start_time_seconds", float64(p.start.UnixNano())/1e9, l...)
		m.family("keeper_process_uptime_seconds", "gauge", "How long the running instance has run.")
		m.sample("keeper_process_uptime_seconds", now.Sub(p.start).Seconds(), l...)
	}
	counter := func(name, help string, get func(processCounts) int) {
		for _, p := range procs {
			m.family(name, "counter", help)
			m.sample(name, float64(get(p.counts)), "group", p.group, "program", p.name)
		}
	}
	counter("keeper_process_starts_total", "Processes started.", func(c processCounts) int { return c.starts })
	counter("keeper_process_backoffs_total", "Starts that failed (BACKOFF).", func(c processCounts) int { return c.backoffs })
	counter("keeper_process_fatals_total", "Times the process gave up starting (FATAL).", func(c processCounts) int { return c.fatals })
	for _, p := range procs {
		for _, why := range slices.Sorted(maps.Keys(p.counts.restarts)) {
			reason := map[string]string{eventHealthcheckFailed: "healthcheck", eventMemoryLimit: "memory_limit"}[why]
			m.family("keeper_process_restarts_total", "counter", "Restarts keeper made: for failed health checks (or a silent watchdog), or memory over memory_limit.")
			m.sample("keeper_process_restarts_total", float64(p.counts.restarts[why]), "group", p.group, "program", p.name, "reason", reason)
		}
	}
	for _, p := range procs {
		for _, how := range slices.Sorted(maps.Keys(p.counts.exits)) {
			kind, value, _ := strings.Cut(how, " ")
			m.family("keeper_process_exits_total", "counter", "Exits of the process, by exit code or by signal.")
			m.sample("keeper_process_exits_total", float64(p.counts.exits[how]), "group", p.group, "program", p.name, kind, value)
		}
	}
	// resources writes a Usage's families, their names made once.
	resources := func(prefix string) func(Usage, ...string) {
		var names [len(usageFamilies)]string
		for i, f := range usageFamilies {
			names[i] = prefix + f.suffix
		}
		return func(u Usage, labels ...string) {
			for i, f := range usageFamilies {
				m.family(names[i], f.typ, f.help)
				m.sample(names[i], f.value(u), labels...)
			}
		}
	}
	programResources := resources("keeper_process")
	for _, p := range procs {
		if u, ok := usage[Namespec(p.group, p.name)]; ok {
			programResources(u, "group", p.group, "program", p.name)
		}
	}
	perProgram := map[string]int{}
	for _, s := range sessions {
		perProgram[s.Program]++
	}
	for _, program := range slices.Sorted(maps.Keys(perProgram)) {
		m.family("keeper_sessions", "gauge", "Detached terminal sessions of the program.")
		m.sample("keeper_sessions", float64(perProgram[program]), "program", program)
	}
	for _, s := range sessions {
		m.family("keeper_session_clients", "gauge", "Clients connected to the session.")
		m.sample("keeper_session_clients", float64(s.Clients), "program", s.Program, "session", s.Name)
	}
	sessionResources := resources("keeper_session")
	for _, s := range sessions {
		if u, ok := sessUsage[s.Socket]; ok {
			sessionResources(u, "program", s.Program, "session", s.Name)
		}
	}

	var self Usage
	if p, err := proctree.Stat(os.Getpid()); err == nil {
		self = d.usage.usageOf([]proctree.Process{p}, time.Now())
	}
	m.family("keeper_daemon_resident_memory_bytes", "gauge", "The daemon's resident memory.")
	m.sample("keeper_daemon_resident_memory_bytes", float64(self.RSS))
	m.family("keeper_daemon_cpu_seconds_total", "counter", "The daemon's user and system CPU time.")
	m.sample("keeper_daemon_cpu_seconds_total", self.CPUSeconds)
	m.family("keeper_daemon_goroutines", "gauge", "The daemon's goroutines.")
	m.sample("keeper_daemon_goroutines", float64(runtime.NumGoroutine()))

	d.metrics.mu.Lock()
	for _, method := range slices.Sorted(maps.Keys(d.metrics.methods)) {
		h := d.metrics.methods[method]
		name := "keeper_rpc_request_duration_seconds"
		m.family(name, "histogram", "Control requests (XML-RPC calls) by method, and how long they took.")
		var cumulative uint64
		for i, le := range rpcBuckets {
			cumulative += h.counts[i]
			m.sampleSuffix(name, "_bucket", float64(cumulative), "method", method, "le", strconv.FormatFloat(le, 'g', -1, 64))
		}
		m.sampleSuffix(name, "_bucket", float64(h.total), "method", method, "le", "+Inf")
		m.sampleSuffix(name, "_sum", h.sum, "method", method)
		m.sampleSuffix(name, "_count", float64(h.total), "method", method)
	}
	d.metrics.mu.Unlock()
}
