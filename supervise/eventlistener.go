package supervise

import (
	"bytes"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"keeper/supervise/logfile"
)

// listenerState is where a listener process is in supervisord's event
// listener protocol (its EventListenerStates).
type listenerState int

// The listener states.
const (
	listenerAcknowledged listenerState = iota // started or answered: READY is awaited
	listenerReady                             // may be sent an event
	listenerBusy                              // was sent an event: its RESULT is awaited
	listenerUnknown                           // broke the protocol: is sent nothing more
)

func (s listenerState) String() string {
	return [...]string{"ACKNOWLEDGED", "READY", "BUSY", "UNKNOWN"}[s]
}

// The protocol's words, as a listener writes them on its stdout: READY,
// then after each event "RESULT <len>\n" and a result of len bytes, OK
// (supervisord's default_handler) or anything else to reject the event.
const (
	readyToken   = "READY\n"
	resultPrefix = "RESULT "
	resultOK     = "OK"
)

// queuedEvent is an event in a pool's buffer, with the serial the pool
// gave it (kept when the event is buffered again).
type queuedEvent struct {
	ev         Event
	poolSerial int64
}

// listenerConn is one spawn of a listener process: what its stdout said
// that is not parsed yet, and the event it handles.
type listenerConn struct {
	name      string // the process's name, for logs and the pool's lookups
	state     listenerState
	pending   []byte // stdout not parsed yet
	resultLen int    // the length the RESULT line announced; -1 before it
	result    []byte
	event     *queuedEvent // sent and not answered
	send      func([]byte) error
}

// listenerPool is an [eventlistener:x] group's side of the protocol: its
// buffer of events and the listeners they go to (supervisord's
// EventListenerPool). It is guarded by the daemon's lock.
type listenerPool struct {
	name   string
	cfg    *ListenerConfig
	server string // the header's server: the daemon's identifier
	log    *logfile.Logger
	// running reports whether the pool's process called name is RUNNING:
	// only those are sent events.
	running func(name string) bool
	serial  int64 // the last pool serial given
	buffer  []queuedEvent
	conns   map[string]*listenerConn // by process name, for the current spawn
}

func newListenerPool(name string, cfg *ListenerConfig, server string, log *logfile.Logger, running func(string) bool) *listenerPool {
	return &listenerPool{name: name, cfg: cfg, server: server, log: log, running: running, serial: -1,
		conns: map[string]*listenerConn{}}
}

// subscribed reports whether the pool listens to events named name.
func (p *listenerPool) subscribed(name string) bool {
	for _, typ := range p.cfg.Events {
		if eventIsA(name, typ) {
			return true
		}
	}
	return false
}

// accept buffers a new event at the tail.
func (p *listenerPool) accept(ev Event) {
	p.serial++
	p.buffer = p.bounded(append(p.buffer, queuedEvent{ev: ev, poolSerial: p.serial}))
}

// requeue puts an event that was not handled back at the head of the
// buffer, to be sent next.
func (p *listenerPool) requeue(qe queuedEvent) {
	p.log.Debugf("rebuffering event %d for pool %s (buf size=%d, max=%d)", qe.ev.serial, p.name, len(p.buffer), p.cfg.BufferSize)
	p.buffer = p.bounded(append([]queuedEvent{qe}, p.buffer...))
}

// bounded drops the oldest events beyond the buffer's size, logging each
// as supervisord does.
func (p *listenerPool) bounded(buf []queuedEvent) []queuedEvent {
	for len(buf) > p.cfg.BufferSize {
		p.log.Errorf("pool %s event buffer overflowed, discarding event %d", p.name, buf[0].ev.serial)
		buf = buf[1:]
	}
	return buf
}

// dispatch sends the oldest buffered events, one each, to the RUNNING
// listeners that are READY, in the order of their names.
func (p *listenerPool) dispatch() {
	for len(p.buffer) > 0 && p.sendOne(p.buffer[0]) {
		p.buffer = p.buffer[1:]
	}
}

// sendOne writes qe to the first ready listener; it reports whether one
// took it.
func (p *listenerPool) sendOne(qe queuedEvent) bool {
	for _, name := range slices.Sorted(maps.Keys(p.conns)) {
		c := p.conns[name]
		if c.state != listenerReady || !p.running(name) {
			continue
		}
		msg := eventHeader(p.server, qe.ev.serial, p.name, qe.poolSerial, qe.ev) + qe.ev.Payload
		if err := c.send([]byte(msg)); err != nil {
			p.log.Debugf("epipe occurred while sending event %d to listener %s, listener state unchanged", qe.ev.serial, name)
			continue
		}
		c.setState(p.log, listenerBusy)
		c.event, c.resultLen, c.result = &qe, -1, nil
		p.log.Debugf("event %d sent to listener %s", qe.ev.serial, name)
		return true
	}
	return false
}

// started registers a new spawn of the listener process name, which is
// sent events with send, and returns its connection for feed.
func (p *listenerPool) started(name string, send func([]byte) error) *listenerConn {
	c := &listenerConn{name: name, state: listenerAcknowledged, resultLen: -1, send: send}
	p.conns[name] = c
	return c
}

// exited forgets the listener process name; the event it was handling
// goes back to the head of the buffer.
func (p *listenerPool) exited(name string) {
	c := p.conns[name]
	delete(p.conns, name)
	if c != nil && c.event != nil {
		p.requeue(*c.event)
	}
}

// feed parses what listener c wrote on its stdout, then sends what the
// pool's ready listeners can take. Output of a spawn that is gone is
// ignored.
func (p *listenerPool) feed(c *listenerConn, data []byte) {
	if p.conns[c.name] != c {
		return
	}
	c.pending = append(c.pending, data...)
	for len(c.pending) > 0 && p.step(c) {
	}
	p.dispatch()
}

// step parses one protocol message from c.pending; it reports whether it
// consumed anything (false: wait for more output).
func (p *listenerPool) step(c *listenerConn) bool {
	switch c.state {
	case listenerUnknown:
		c.pending = nil
	case listenerAcknowledged:
		if len(c.pending) < len(readyToken) {
			return false
		}
		if !bytes.HasPrefix(c.pending, []byte(readyToken)) {
			c.pending = nil
			c.setState(p.log, listenerUnknown)
			return false
		}
		c.pending = c.pending[len(readyToken):]
		c.setState(p.log, listenerReady)
	case listenerReady:
		// Output while nothing was asked: supervisord is strict about it.
		c.pending = nil
		c.setState(p.log, listenerUnknown)
	case listenerBusy:
		if c.resultLen < 0 {
			line, rest, ok := bytes.Cut(c.pending, []byte("\n"))
			if !ok {
				return false
			}
			c.pending = rest
			n, err := strconv.Atoi(strings.TrimSpace(string(line[min(len(resultPrefix), len(line)):])))
			if err != nil || n < 0 {
				p.log.Warnf("%s: bad result line: '%s'", c.name, line)
				c.pending = nil
				c.setState(p.log, listenerUnknown)
				p.reject(c)
				return false
			}
			c.resultLen = n
		}
		take := min(c.resultLen-len(c.result), len(c.pending))
		c.result = append(c.result, c.pending[:take]...)
		c.pending = c.pending[take:]
		if len(c.result) < c.resultLen {
			return false
		}
		p.handleResult(c)
	}
	return true
}

// handleResult applies supervisord's default_handler to a complete
// result: OK is done with the event, anything else rejects it.
func (p *listenerPool) handleResult(c *listenerConn) {
	result := string(c.result)
	c.result, c.resultLen = nil, -1
	c.setState(p.log, listenerAcknowledged)
	if result == resultOK {
		p.log.Debugf("%s: event was processed", c.name)
		c.event = nil
		return
	}
	p.log.Warnf("%s: event was rejected", c.name)
	p.reject(c)
}

// reject buffers c's event again, at the head.
func (p *listenerPool) reject(c *listenerConn) {
	if c.event != nil {
		p.requeue(*c.event)
		c.event = nil
	}
}

func (c *listenerConn) setState(log *logfile.Logger, s listenerState) {
	log.Debugf("%s: %s -> %s", c.name, c.state, s)
	c.state = s
	if s == listenerUnknown {
		log.Warnf("%s: has entered the UNKNOWN state and will no longer receive events, "+
			"this usually indicates the process violated the eventlistener protocol", c.name)
	}
}

// The daemon's hooks: pools come and go with their groups, listeners with
// their spawns.

// groupAddedLocked makes the pool of a listener group, and announces the group.
func (d *Daemon) groupAddedLocked(g *GroupConfig) {
	if g.Listener != nil {
		name := g.Name
		d.events.pools[name] = newListenerPool(name, g.Listener, d.cfg.Supervisord.Identifier, d.log, func(proc string) bool {
			gs := d.groups[name]
			return gs != nil && gs.procs[proc] != nil && gs.procs[proc].state == Running
		})
	}
	d.publishLocked(groupEvent(eventGroupAdded, g.Name))
	d.regroupLocked()
}

// groupRemovedLocked drops a group's pool, with its buffer, and announces
// the removal.
func (d *Daemon) groupRemovedLocked(name string) {
	delete(d.events.pools, name)
	d.publishLocked(groupEvent(eventGroupRemoved, name))
	d.regroupLocked()
}

// regroupLocked wakes the watchers waiting for the groups to change.
func (d *Daemon) regroupLocked() {
	if d.regrouped != nil {
		close(d.regrouped)
	}
	d.regrouped = make(chan struct{})
}

// poolOf returns the pool p is a listener of, or nil.
func (d *Daemon) poolOf(p *process) *listenerPool {
	if d.events == nil {
		return nil
	}
	return d.events.pools[p.group]
}

// processStateChanged publishes p's move from state from to its state.
func (d *Daemon) processStateChanged(p *process, from State) {
	pid := p.pid
	if pid == 0 {
		pid = p.exitEvent.pid
	}
	d.publishLocked(processStateEvent(stateChange{process: p.cfg.Name, group: p.group, from: from, to: p.state,
		tries: p.backoff, pid: pid, expected: p.exitEvent.expected}))
}

// captureListener reads a listener's stdout, its protocol channel, for the
// spawn that was just started: it goes to the pool's parser and, as
// supervisord does, to the stdout log when there is one. Its copier pauses
// for a reexec as any program's does.
func (d *Daemon) captureListener(p *process, r *os.File) {
	pool := d.poolOf(p)
	c := pool.started(p.cfg.Name, p.stdin.Write)
	p.copy(r, "stdout", listenerOutput{d: d, pool: pool, conn: c, log: p.stdout})
}

// listenerOutput is where a listener's stdout goes: its log, if any, and
// its pool's parser.
type listenerOutput struct {
	d    *Daemon
	pool *listenerPool
	conn *listenerConn
	log  *logfile.File
}

func (w listenerOutput) Write(b []byte) (int, error) {
	if w.log != nil {
		w.log.Write(b)
	}
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	w.pool.feed(w.conn, b)
	return len(b), nil
}

// listenerExitedLocked re-buffers the event a listener process that
// exited was handling.
func (d *Daemon) listenerExitedLocked(p *process) {
	if pool := d.poolOf(p); pool != nil {
		pool.exited(p.cfg.Name)
		d.events.dispatch()
	}
}
