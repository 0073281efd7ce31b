package supervise

import (
	"maps"
	"slices"
)

// The event bus crosses a reexec whole: its serials, each pool's buffer
// and each listener's place in the protocol, so that the new daemon goes
// on where the old one stopped: no event lost, none sent twice, serial and
// poolserial continuing. The listeners' pipes cross as any program's do;
// what the old daemon queued for a listener's stdin and had not written
// goes with them (handedProcess.StdinPending).
//
// A BUSY listener is handed over as it is, with the event it was sent:
// the event is in its stdin pipe (or queued for it) and its RESULT, whole
// or in part, in its stdout pipe or in the unparsed bytes handed over, so
// the new daemon reads the RESULT as the old one would have. Waiting for
// the RESULT instead would make a reexec as slow as the slowest listener.
//
// A reexec is not a start: the new daemon publishes no event of its own
// start (no SUPERVISOR_STATE_CHANGE_RUNNING, no PROCESS_GROUP_ADDED) and no
// PROCESS_STATE event for the programs it adopts, which did not change
// state.

// handedEvents is the event bus across the exec.
type handedEvents struct {
	Serial int64           // the last serial given
	Ticks  map[int64]int64 // TICK period -> the slice last announced
	Pools  []handedPool
}

// handedPool is one listener pool across the exec.
type handedPool struct {
	Name      string
	Serial    int64 // the last pool serial given
	Buffer    []handedEvent
	Listeners []handedListener
}

// handedEvent is an event with its serials. The payload is bytes, not a
// string: JSON would replace the invalid UTF-8 a PROCESS_LOG payload may
// carry.
type handedEvent struct {
	Name       string
	Payload    []byte
	Serial     int64
	PoolSerial int64
}

// handedListener is one listener process's place in the protocol.
type handedListener struct {
	Name      string // the process's name in its pool
	State     listenerState
	Pending   []byte // stdout read and not parsed yet
	ResultLen int    // -1 before the RESULT line
	Result    []byte
	Event     *handedEvent // sent, its RESULT not read yet
}

func handOverEvent(qe queuedEvent) handedEvent {
	return handedEvent{Name: qe.ev.Name, Payload: []byte(qe.ev.Payload), Serial: qe.ev.serial, PoolSerial: qe.poolSerial}
}

func (he handedEvent) queued() queuedEvent {
	return queuedEvent{ev: Event{Name: he.Name, Payload: string(he.Payload), serial: he.Serial}, poolSerial: he.PoolSerial}
}

// handOver describes the bus for the next daemon. Called under the lock.
func (b *eventBus) handOver() *handedEvents {
	h := &handedEvents{Serial: b.serial, Ticks: maps.Clone(b.ticks)}
	for _, name := range slices.Sorted(maps.Keys(b.pools)) {
		p := b.pools[name]
		hp := handedPool{Name: name, Serial: p.serial}
		for _, qe := range p.buffer {
			hp.Buffer = append(hp.Buffer, handOverEvent(qe))
		}
		for _, cname := range slices.Sorted(maps.Keys(p.conns)) {
			c := p.conns[cname]
			hl := handedListener{Name: cname, State: c.state, Pending: c.pending, ResultLen: c.resultLen, Result: c.result}
			if c.event != nil {
				he := handOverEvent(*c.event)
				hl.Event = &he
			}
			hp.Listeners = append(hp.Listeners, hl)
		}
		h.Pools = append(h.Pools, hp)
	}
	return h
}

// takeOver restores the serials, ticks and pools' buffers h describes,
// replacing what this daemon's start buffered. A pool no longer configured
// loses its events, with a warning.
func (b *eventBus) takeOver(h *handedEvents, warnf func(string, ...any)) {
	b.serial = h.Serial
	if h.Ticks != nil {
		b.ticks = maps.Clone(h.Ticks)
	}
	for _, p := range b.pools {
		p.serial, p.buffer = -1, nil
	}
	for _, hp := range h.Pools {
		p := b.pools[hp.Name]
		if p == nil {
			if len(hp.Buffer) > 0 {
				warnf("reexec: event listener pool %s is not in the config any more; %d buffered events dropped", hp.Name, len(hp.Buffer))
			}
			continue
		}
		p.serial = hp.Serial
		for _, he := range hp.Buffer {
			p.buffer = append(p.buffer, he.queued())
		}
		p.buffer = p.bounded(p.buffer)
	}
}

// listener returns the place in the protocol h hands over for listener
// process name of pool, or nil.
func (h *handedEvents) listener(pool, name string) *handedListener {
	if h == nil {
		return nil
	}
	for _, hp := range h.Pools {
		if hp.Name != pool {
			continue
		}
		for i := range hp.Listeners {
			if hp.Listeners[i].Name == name {
				return &hp.Listeners[i]
			}
		}
	}
	return nil
}

// takeOverListener puts the connection of the adopted listener process
// name where hl says the old daemon left it. Without a connection (its
// stdout was not handed over) the event it was handling goes back to the
// head of the buffer.
func (p *listenerPool) takeOverListener(name string, hl *handedListener) {
	if hl == nil {
		return
	}
	c := p.conns[name]
	if c == nil {
		if hl.Event != nil {
			p.requeue(hl.Event.queued())
		}
		return
	}
	c.state, c.pending, c.resultLen, c.result = hl.State, hl.Pending, hl.ResultLen, hl.Result
	if hl.Event != nil {
		qe := hl.Event.queued()
		c.event = &qe
		p.log.Infof("reexec: event listener %s taken over %s, event %d in flight", name, c.state, qe.ev.serial)
	}
}
