package supervise

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// keeper's own events, for what no supervisord listener can see: a
// program's detached sessions coming and going, and clients attaching to
// them. Listeners subscribe by name (or to KEEPER_SESSION, or EVENT).

// The session event types.
const (
	eventSessionCreated  = "KEEPER_SESSION_CREATED"
	eventSessionEnded    = "KEEPER_SESSION_ENDED"
	eventSessionAttached = "KEEPER_SESSION_ATTACHED"
	eventSessionDetached = "KEEPER_SESSION_DETACHED"
)

// keeper's restart events: a program restarted for failed health checks,
// or for using more memory than its memory_limit.
const (
	eventHealthcheckFailed = "KEEPER_HEALTHCHECK_FAILED"
	eventMemoryLimit       = "KEEPER_MEMORY_LIMIT_EXCEEDED"
)

// restartEvent is one of those: "processname:X groupname:Y pid:N", then
// the reason after a newline.
func restartEvent(name string, p *process, why string) Event {
	return Event{Name: name, Payload: fmt.Sprintf("processname:%s groupname:%s pid:%d\n%s", p.cfg.Name, p.group, p.pid, why)}
}

// sessionWatchEvery is how often the sessions are looked at while a
// listener wants their events (and never otherwise).
const sessionWatchEvery = time.Second

// sessionEvent is one session event: "program:P session:NAME socket:PATH
// pid:MASTER child_pid:PTY", then the pty program's command line after a
// newline (it may hold spaces).
func sessionEvent(name string, s Session) Event {
	return Event{Name: name, Payload: fmt.Sprintf("program:%s session:%s socket:%s pid:%d child_pid:%d\n%s",
		s.Program, s.Name, s.Socket, s.PID, s.Child, s.Command)}
}

// sessionChanges compares two listings, by socket, and returns the events
// that lead from before to after.
func sessionChanges(before, after map[string]Session) []Event {
	var out []Event
	for _, socket := range sortedKeys(after) {
		s := after[socket]
		old, known := before[socket]
		switch {
		case !known || old.PID != s.PID:
			if known {
				out = append(out, sessionEvent(eventSessionEnded, old))
			}
			out = append(out, sessionEvent(eventSessionCreated, s))
			if s.Attached {
				out = append(out, sessionEvent(eventSessionAttached, s))
			}
		case s.Attached && !old.Attached:
			out = append(out, sessionEvent(eventSessionAttached, s))
		case !s.Attached && old.Attached:
			out = append(out, sessionEvent(eventSessionDetached, s))
		}
	}
	for _, socket := range sortedKeys(before) {
		if _, ok := after[socket]; !ok {
			out = append(out, sessionEvent(eventSessionEnded, before[socket]))
		}
	}
	return out
}

func sortedKeys(m map[string]Session) []string { return slices.Sorted(maps.Keys(m)) }

// wantsSessionEvents reports whether a listener pool subscribes to any
// session event; the lock is held.
func (d *Daemon) wantsSessionEventsLocked() bool {
	if d.events == nil {
		return false
	}
	for _, pool := range d.events.pools {
		for _, name := range []string{eventSessionCreated, eventSessionEnded, eventSessionAttached, eventSessionDetached} {
			if pool.subscribed(name) {
				return true
			}
		}
	}
	return false
}

// watchSessions publishes session events while a listener wants them,
// until the daemon stops.
func (d *Daemon) watchSessions() {
	var known map[string]Session
	for {
		select {
		case <-d.stopped:
			return
		case <-time.After(sessionWatchEvery):
		}
		d.mu.Lock()
		wanted := d.wantsSessionEventsLocked() && d.mood == MoodRunning
		regrouped := d.regrouped
		d.mu.Unlock()
		if !wanted {
			// No wake-up every second for nobody: only a new group
			// (a reload) can bring a listener that wants them.
			known = nil
			select {
			case <-d.stopped:
				return
			case <-regrouped:
			}
			continue
		}
		list, err := d.Sessions(nil)
		if err != nil {
			continue
		}
		now := make(map[string]Session, len(list))
		for _, s := range list {
			now[s.Socket] = s
		}
		if known != nil {
			events := sessionChanges(known, now)
			d.mu.Lock()
			for _, ev := range events {
				d.publishLocked(ev)
			}
			d.mu.Unlock()
		} else {
			// Sessions that exist when a listener starts wanting events
			// are announced as created.
			d.mu.Lock()
			for _, ev := range sessionChanges(nil, now) {
				d.publishLocked(ev)
			}
			d.mu.Unlock()
		}
		known = now
	}
}
