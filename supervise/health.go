package supervise

import (
	"fmt"
	"time"
)

// keeper's healthcheck key: a RUNNING program whose check fails
// healthcheck_retries times in a row is restarted.

// HealthCheck is a program's health check: a tcp, http or exec check run
// every Interval, each given Timeout, Retries failures in a row to restart.
type HealthCheck struct {
	Check    ReadyCheck
	Interval time.Duration
	Timeout  time.Duration
	Retries  int
}

// Defaults of healthcheck_interval, healthcheck_timeout and
// healthcheck_retries.
const (
	defaultHealthInterval = 10 * time.Second
	defaultHealthTimeout  = 5 * time.Second
	defaultHealthRetries  = 3
)

// watchHealth checks the process running as pid until it is no longer that
// process RUNNING. Called under the lock when the process became RUNNING.
func (p *process) watchHealth(pid int) {
	h := p.cfg.Health
	if h.Check.Kind == "" {
		return
	}
	go func() {
		failures := 0
		for {
			time.Sleep(h.Interval)
			p.d.mu.Lock()
			same := p.pid == pid && p.state == Running
			p.d.mu.Unlock()
			if !same {
				return
			}
			if p.d.probe(h.Check, h.Timeout) {
				failures = 0
				continue
			}
			failures++
			p.d.mu.Lock()
			if p.pid == pid && p.state == Running {
				p.d.log.Warnf("health check of %s failed (%d of %d in a row; healthcheck = %s)", p.cfg.Name, failures, h.Retries, h.Check)
				if failures >= h.Retries {
					p.restart(fmt.Sprintf("%d failed health checks (%s)", failures, h.Check), eventHealthcheckFailed)
				}
			}
			p.d.mu.Unlock()
			if failures >= h.Retries {
				return
			}
		}
	}()
}
