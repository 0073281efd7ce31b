package supervise

import (
	"context"
	"fmt"
	"time"
)

// keeper's memory_limit: what superlance's memmon does from outside, built
// in. A program whose tree uses more than its limit (PSS where the kernel
// gives it, so shared pages count once, else RSS) for memory_limit_grace is
// restarted, as memmon restarts it: stopped, then started.

// memCheckEvery is the longest wait between two readings of the programs
// with a limit; a shorter grace reads as often as the grace.
const memCheckEvery = 5 * time.Second

// watchMemory reads the programs with a memory limit until ctx is done.
func (d *Daemon) watchMemory(ctx context.Context) {
	for {
		d.mu.Lock()
		every := time.Duration(0)
		var names []string
		for _, p := range d.processesLocked(false) {
			if p.cfg.MemoryLimit > 0 {
				names = append(names, p.namespec())
				if every == 0 || p.cfg.MemoryLimitGrace < every {
					every = p.cfg.MemoryLimitGrace
				}
			}
		}
		regrouped := d.regrouped
		d.mu.Unlock()
		if every == 0 || every > memCheckEvery {
			every = memCheckEvery
		}
		// With no limit to watch, no wake-up until the groups change.
		var wait <-chan time.Time
		if len(names) > 0 {
			d.checkMemory(names)
			wait = time.After(every)
		}
		select {
		case <-ctx.Done():
			return
		case <-regrouped:
		case <-wait:
		}
	}
}

// checkMemory reads the named programs' usage once and restarts those over
// their limit for their grace.
func (d *Daemon) checkMemory(names []string) {
	usage, err := d.ProgramUsage(names)
	if err != nil {
		d.log.Warnf("memory_limit: %v", err)
		return
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.processesLocked(false) {
		u, ok := usage[p.namespec()]
		if !ok || p.cfg.MemoryLimit <= 0 || p.state != Running {
			p.overMemorySince = time.Time{}
			continue
		}
		used := u.PSS
		if used == 0 {
			used = u.RSS
		}
		if used <= uint64(p.cfg.MemoryLimit) {
			p.overMemorySince = time.Time{}
			continue
		}
		if p.overMemorySince.IsZero() {
			p.overMemorySince = now
			d.log.Warnf("%s uses %s, over its memory_limit of %s", p.cfg.Name, formatSize(used), formatSize(uint64(p.cfg.MemoryLimit)))
		}
		if now.Sub(p.overMemorySince) >= p.cfg.MemoryLimitGrace {
			p.overMemorySince = time.Time{}
			p.restart(fmt.Sprintf("memory %s over memory_limit %s for %s", formatSize(used), formatSize(uint64(p.cfg.MemoryLimit)), p.cfg.MemoryLimitGrace), eventMemoryLimit)
		}
	}
}

// formatSize writes a byte count in MB, as memory_limit is usually given.
func formatSize(n uint64) string {
	return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
}
