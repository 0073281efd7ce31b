package supervise

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	gopsprocess "github.com/shirou/gopsutil/v3/process"
	"golang.org/x/sys/unix"

	"keeper/proctree"
	"keeper/supervise/xmlrpc"
)

// What programs and sessions cost, summed over their process trees: a
// program is its main process and its descendants, less its sessions; a
// session is its master and everything on its pty. The tree comes from one
// proctree snapshot (fork-free); each process's figures from gopsutil,
// except PSS, read from smaps_rollup (gopsutil reads the whole smaps).

// Usage is what a set of processes costs.
type Usage struct {
	RSS        uint64  `json:"rss_bytes"`   // resident memory, summed
	PSS        uint64  `json:"pss_bytes"`   // proportional set size: shared pages split; 0 where unreadable
	CPUPercent float64 `json:"cpu_percent"` // of one core, since the previous reading of the same set
	CPUSeconds float64 `json:"cpu_seconds"` // user and system time, summed
	Processes  int     `json:"processes"`
	Threads    int     `json:"threads"`
	FDs        int     `json:"fds"`
}

// cpuSample is a set's CPU time at a moment, for the next percentage.
type cpuSample struct {
	at      time.Time
	seconds float64
}

// pssSample is a process's PSS as last read, with its resident pages then.
type pssSample struct {
	at       time.Time
	rssPages uint64
	pss      uint64
}

// pssMaxAge bounds how long a process's PSS is reused while its resident
// memory stays within an eighth of what it was: smaps_rollup walks the
// page tables (tens of µs a process, most of a scrape of hundreds), and
// PSS moves with RSS, or slowly as the processes sharing pages come and go.
const pssMaxAge = 30 * time.Second

// usageCache is what one reading of usage keeps for the next: each set's
// CPU time, for a percentage, and each process's PSS. Entries not used
// for pssMaxAge are dropped, so sessions and processes that came and went
// leave nothing behind.
type usageCache struct {
	mu    sync.Mutex
	cpu   map[string]cpuSample
	pss   map[proctree.Identity]pssSample
	swept time.Time
}

// usageOf sums the figures of procs, as the snapshot read them (CPU time,
// threads, resident pages: one /proc/PID/stat read each, already done),
// with their descriptors and PSS. gopsutil's own memory, time and thread
// readers parse stat, statm and status apart, about 150 µs a process: too
// slow for a scrape of hundreds of processes.
func (c *usageCache) usageOf(procs []proctree.Process, now time.Time) Usage {
	var u Usage
	page := uint64(os.Getpagesize())
	for _, p := range procs {
		if p.Zombie() {
			continue
		}
		u.Processes++
		u.RSS += p.RSSPages * page
		u.CPUSeconds += float64(p.UTime+p.STime) / float64(proctree.ClockTicks)
		u.Threads += p.Threads
		u.FDs += fdCount(p.PID)
		u.PSS += c.pssOf(p, now)
	}
	return u
}

// pssOf returns p's PSS, read again when the last reading is older than
// pssMaxAge or p's resident memory moved by more than an eighth since.
func (c *usageCache) pssOf(p proctree.Process, now time.Time) uint64 {
	id := p.Identity()
	c.mu.Lock()
	last, ok := c.pss[id]
	c.mu.Unlock()
	if ok && now.Sub(last.at) < pssMaxAge && !movedMuch(last.rssPages, p.RSSPages) {
		return last.pss
	}
	pss := readPSS(p.PID)
	c.mu.Lock()
	if c.pss == nil {
		c.pss = map[proctree.Identity]pssSample{}
	}
	c.pss[id] = pssSample{at: now, rssPages: p.RSSPages, pss: pss}
	c.mu.Unlock()
	return pss
}

// movedMuch reports whether now differs from then by more than an eighth.
func movedMuch(then, now uint64) bool {
	diff := max(then, now) - min(then, now)
	return diff > then/8
}

// percent turns a set's CPU time into the percentage of one core it used
// since the previous sample under key, and keeps this one.
func (c *usageCache) percent(key string, u *Usage, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cpu == nil {
		c.cpu = map[string]cpuSample{}
	}
	if prev, ok := c.cpu[key]; ok && now.After(prev.at) && u.CPUSeconds >= prev.seconds {
		u.CPUPercent = 100 * (u.CPUSeconds - prev.seconds) / now.Sub(prev.at).Seconds()
	}
	c.cpu[key] = cpuSample{at: now, seconds: u.CPUSeconds}
}

// sweep drops what was not used for pssMaxAge, at most once per that time.
func (c *usageCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.swept) < pssMaxAge {
		return
	}
	c.swept = now
	for k, s := range c.cpu {
		if now.Sub(s.at) >= pssMaxAge {
			delete(c.cpu, k)
		}
	}
	for k, s := range c.pss {
		if now.Sub(s.at) >= pssMaxAge {
			delete(c.pss, k)
		}
	}
}

// fdCount counts a process's open descriptors, 0 when it cannot be read
// (another user's process, or gone). Since Linux 6.2 the size of
// /proc/PID/fd is the count: one stat, where reading the directory
// (gopsutil's NumFDs, the way on older kernels) lists every entry.
func fdCount(pid int) int {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0
	}
	if st.Size > 0 {
		return int(st.Size)
	}
	n, err := (&gopsprocess.Process{Pid: int32(pid)}).NumFDs()
	if err != nil {
		return 0
	}
	return int(n)
}

// readPSS reads a process's proportional set size in bytes, 0 when the
// kernel does not say (no smaps_rollup, or another user's process).
func readPSS(pid int) uint64 {
	m, _ := proctree.ReadMemory(pid)
	return m.PSS
}

// readUsage takes one process snapshot and one session listing, and the
// figures of every program and every session from them, for a reader that
// shows it all (a metrics scrape, the web page). The usage maps are nil
// when /proc could not be read; the sessions are listed then all the same.
func (d *Daemon) readUsage() (sessions []Session, programs, sessionUsage map[string]Usage) {
	snap, err := d.procs.Take()
	if err != nil {
		sessions, _ = d.Sessions(nil)
		return sessions, nil, nil
	}
	sessions, _ = d.sessionsIn(snap, nil)
	trees := sessionTrees(snap, sessions)
	return sessions, d.programUsage(nil, snap, trees), d.sessionUsage(sessions, snap, trees)
}

// sessionTrees lists the processes of each session (sessionProcesses),
// once for both the programs' figures and the sessions'.
func sessionTrees(snap *proctree.Snapshot, sessions []Session) [][]proctree.Identity {
	trees := make([][]proctree.Identity, len(sessions))
	for i, s := range sessions {
		trees[i] = sessionProcesses(snap, s)
	}
	return trees
}

// ProgramUsage returns the usage of every running process of the named
// programs (all when names is empty), by namespec.
func (d *Daemon) ProgramUsage(names []string) (map[string]Usage, error) {
	want, err := d.programFilter(names)
	if err != nil {
		return nil, err
	}
	snap, err := d.procs.Take()
	if err != nil {
		return nil, fmt.Errorf("read process usage: %w", err)
	}
	sessions, err := d.sessionsIn(snap, nil)
	if err != nil {
		return nil, fmt.Errorf("read process usage: %w", err)
	}
	return d.programUsage(want, snap, sessionTrees(snap, sessions)), nil
}

// programUsage is ProgramUsage on a snapshot and the sessions' processes
// (sessionTrees) found already (want nil: every program).
func (d *Daemon) programUsage(want map[string]bool, snap *proctree.Snapshot, sessions [][]proctree.Identity) map[string]Usage {
	inSession := map[int]bool{}
	for _, ids := range sessions {
		for _, id := range ids {
			inSession[id.PID] = true
		}
	}
	type program struct {
		name string
		main int
		u    Usage
	}
	var programs []program
	d.mu.Lock()
	for _, p := range d.processesLocked(false) {
		if p.pid != 0 && (want == nil || want[p.namespec()]) {
			programs = append(programs, program{name: p.namespec(), main: p.pid})
		}
	}
	d.mu.Unlock()
	now := time.Now()
	inParallel(len(programs), func(lo, hi int) {
		var procs []proctree.Process
		for i := lo; i < hi; i++ {
			procs = procs[:0]
			if p, ok := snap.Get(programs[i].main); ok {
				procs = append(procs, p)
			}
			for _, q := range snap.Descendants(programs[i].main) {
				if !inSession[q.PID] {
					procs = append(procs, q)
				}
			}
			programs[i].u = d.usage.usageOf(procs, now)
		}
	})
	out := make(map[string]Usage, len(programs))
	for _, p := range programs {
		d.usage.percent("program "+p.name, &p.u, now)
		out[p.name] = p.u
	}
	d.usage.sweep(now)
	return out
}

// inParallel splits [0, n) into ranges, one for each processor (each at
// least 16 long), and calls fn on them at once: what the usage readers do
// for each program or session is mostly system calls (descriptor counts,
// PSS), which run in parallel.
func inParallel(n int, fn func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), 1+n/16)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() { fn(i*n/parts, (i+1)*n/parts) })
	}
	wg.Wait()
}

// sessionsWithUsage lists the named programs' sessions (all when names is
// empty) and their usage, by socket, from one process snapshot: what
// keeper sessions shows, and keeper.getSessionUsage.
func (d *Daemon) sessionsWithUsage(names []string) ([]Session, map[string]Usage, error) {
	snap, err := d.procs.Take()
	if err != nil {
		return nil, nil, fmt.Errorf("read session usage: %w", err)
	}
	list, err := d.sessionsIn(snap, names)
	if err != nil {
		return nil, nil, err
	}
	return list, d.sessionUsage(list, snap, sessionTrees(snap, list)), nil
}

// sessionUsage is the usage of each of list's sessions, by socket, on a
// snapshot and the sessions' processes (sessionTrees) found already.
func (d *Daemon) sessionUsage(list []Session, snap *proctree.Snapshot, trees [][]proctree.Identity) map[string]Usage {
	now := time.Now()
	usage := make([]Usage, len(list))
	inParallel(len(list), func(lo, hi int) {
		var procs []proctree.Process
		for i := lo; i < hi; i++ {
			procs = procs[:0]
			for _, id := range trees[i] {
				if p, ok := snap.Get(id.PID); ok {
					procs = append(procs, p)
				}
			}
			usage[i] = d.usage.usageOf(procs, now)
		}
	})
	out := make(map[string]Usage, len(list))
	for i, s := range list {
		d.usage.percent("session "+s.Socket, &usage[i], now)
		out[s.Socket] = usage[i]
	}
	d.usage.sweep(now)
	return out
}

// Struct encodes u for XML-RPC, with key (namespec or socket) first.
// Memory goes in KiB: XML-RPC's integers are 32 bits.
func (u Usage) Struct(keyName, key string) xmlrpc.Struct {
	return xmlrpc.Struct{
		{Name: keyName, Value: key},
		{Name: "rss_kb", Value: int(u.RSS >> 10)},
		{Name: "pss_kb", Value: int(u.PSS >> 10)},
		{Name: "cpu_percent", Value: u.CPUPercent},
		{Name: "cpu_seconds", Value: u.CPUSeconds},
		{Name: "processes", Value: u.Processes},
		{Name: "threads", Value: u.Threads},
		{Name: "fds", Value: u.FDs},
	}
}

// DecodeUsages reads the answer of keeper.getProcessUsage (keyName
// "namespec") or keeper.getSessionUsage ("socket") into a map by key.
func DecodeUsages(v any, keyName string) (map[string]Usage, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("decode usage: got %T, want an array", v)
	}
	out := make(map[string]Usage, len(list))
	for _, item := range list {
		s, ok := item.(xmlrpc.Struct)
		if !ok {
			return nil, fmt.Errorf("decode usage: got %T, want a struct", item)
		}
		get := func(name string) any { v, _ := s.Get(name); return v }
		key, _ := get(keyName).(string)
		num := func(name string) int { n, _ := get(name).(int); return n }
		real := func(name string) float64 { f, _ := get(name).(float64); return f }
		out[key] = Usage{RSS: uint64(num("rss_kb")) << 10, PSS: uint64(num("pss_kb")) << 10,
			CPUPercent: real("cpu_percent"), CPUSeconds: real("cpu_seconds"),
			Processes: num("processes"), Threads: num("threads"), FDs: num("fds")}
	}
	return out, nil
}

// FormatBytes writes a size as top does: 812K, 12.3M, 1.2G.
func FormatBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%dK", n>>10)
}
