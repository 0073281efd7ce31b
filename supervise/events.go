package supervise

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// eventParents is supervisord's table of event types: each name and the
// type it is a kind of. A listener subscribed to a type gets that type's
// events and those of every type below it; EVENT is the root.
var eventParents = map[string]string{
	"EVENT": "",

	"PROCESS_STATE":          "EVENT",
	"PROCESS_STATE_STOPPED":  "PROCESS_STATE",
	"PROCESS_STATE_EXITED":   "PROCESS_STATE",
	"PROCESS_STATE_STARTING": "PROCESS_STATE",
	"PROCESS_STATE_STOPPING": "PROCESS_STATE",
	"PROCESS_STATE_BACKOFF":  "PROCESS_STATE",
	"PROCESS_STATE_FATAL":    "PROCESS_STATE",
	"PROCESS_STATE_RUNNING":  "PROCESS_STATE",
	"PROCESS_STATE_UNKNOWN":  "PROCESS_STATE",

	"PROCESS_COMMUNICATION":        "EVENT",
	"PROCESS_COMMUNICATION_STDOUT": "PROCESS_COMMUNICATION",
	"PROCESS_COMMUNICATION_STDERR": "PROCESS_COMMUNICATION",

	"PROCESS_LOG":        "EVENT",
	"PROCESS_LOG_STDOUT": "PROCESS_LOG",
	"PROCESS_LOG_STDERR": "PROCESS_LOG",

	"REMOTE_COMMUNICATION": "EVENT",

	"SUPERVISOR_STATE_CHANGE":          "EVENT",
	"SUPERVISOR_STATE_CHANGE_RUNNING":  "SUPERVISOR_STATE_CHANGE",
	"SUPERVISOR_STATE_CHANGE_STOPPING": "SUPERVISOR_STATE_CHANGE",

	"TICK":      "EVENT",
	"TICK_5":    "TICK",
	"TICK_60":   "TICK",
	"TICK_3600": "TICK",

	"PROCESS_GROUP":         "EVENT",
	"PROCESS_GROUP_ADDED":   "PROCESS_GROUP",
	"PROCESS_GROUP_REMOVED": "PROCESS_GROUP",

	// keeper's own (session_events.go).
	"KEEPER_SESSION":       "EVENT",
	eventSessionCreated:    "KEEPER_SESSION",
	eventSessionEnded:      "KEEPER_SESSION",
	eventSessionAttached:   "KEEPER_SESSION",
	eventSessionDetached:   "KEEPER_SESSION",
	eventHealthcheckFailed: "EVENT",
	eventMemoryLimit:       "EVENT",
}

// The events keeper publishes whose names are not built from a state.
const (
	eventSupervisorRunning  = "SUPERVISOR_STATE_CHANGE_RUNNING"
	eventSupervisorStopping = "SUPERVISOR_STATE_CHANGE_STOPPING"
	eventGroupAdded         = "PROCESS_GROUP_ADDED"
	eventGroupRemoved       = "PROCESS_GROUP_REMOVED"
	eventRemoteComm         = "REMOTE_COMMUNICATION"
)

// tickPeriods are the TICK_N events: TICK_5 every 5 s, and so on.
var tickPeriods = []int64{5, 60, 3600}

// isEventType reports whether name is an event type a listener may
// subscribe to.
func isEventType(name string) bool {
	_, ok := eventParents[name]
	return ok
}

// eventIsA reports whether events named name are of type typ: typ is name
// or one of its supertypes.
func eventIsA(name, typ string) bool {
	for n := name; n != ""; n = eventParents[n] {
		if n == typ {
			return true
		}
	}
	return false
}

// eventTypeNames lists the event types, sorted, for messages.
func eventTypeNames() []string {
	return slices.Sorted(maps.Keys(eventParents))
}

// Event is one event as listeners receive it: its type's name and its
// payload, the text after the header.
type Event struct {
	Name    string
	Payload string
	// serial is the daemon-wide serial the bus gave the event.
	serial int64
}

// stateEventFields are the fields supervisord adds to a PROCESS_STATE_*
// payload after processname, groupname and from_state, per new state.
var stateEventFields = map[State][]string{
	Starting: {"tries"},
	Backoff:  {"tries"},
	Running:  {"pid"},
	Stopping: {"pid"},
	Stopped:  {"pid"},
	Exited:   {"expected", "pid"},
	Fatal:    nil,
	Unknown:  nil,
}

// stateChange is what a process state event says: who moved from where
// to where, and the values its fields need.
type stateChange struct {
	process, group string
	from, to       State
	tries          int  // failed start attempts so far (supervisord's backoff)
	pid            int  // the process's pid, or the one just reaped
	expected       bool // an EXITED exit code was in exitcodes
}

// processStateEvent returns the PROCESS_STATE_* event of c, with
// supervisord's payload "processname:X groupname:Y from_state:Z" and the
// fields stateEventFields names.
func processStateEvent(c stateChange) Event {
	var b strings.Builder
	fmt.Fprintf(&b, "processname:%s groupname:%s from_state:%s", c.process, c.group, c.from)
	for _, f := range stateEventFields[c.to] {
		var v string
		switch f {
		case "tries":
			v = strconv.Itoa(c.tries)
		case "pid":
			v = strconv.Itoa(c.pid)
		case "expected":
			v = map[bool]string{true: "1", false: "0"}[c.expected]
		}
		fmt.Fprintf(&b, " %s:%s", f, v)
	}
	return Event{Name: "PROCESS_STATE_" + c.to.String(), Payload: b.String()}
}

// supervisorStateEvent returns SUPERVISOR_STATE_CHANGE_RUNNING or
// _STOPPING, whose payload is empty.
func supervisorStateEvent(name string) Event { return Event{Name: name} }

// groupEvent returns PROCESS_GROUP_ADDED or _REMOVED for group.
func groupEvent(name, group string) Event {
	return Event{Name: name, Payload: "groupname:" + group + "\n"}
}

// remoteCommEvent returns the REMOTE_COMMUNICATION event that
// supervisor.sendRemoteCommEvent(typ, data) sends.
func remoteCommEvent(typ, data string) Event {
	return Event{Name: eventRemoteComm, Payload: "type:" + typ + "\n" + data}
}

// tickEvent returns TICK_<period> for the slice of time that starts at
// when (a Unix time, a multiple of period).
func tickEvent(period, when int64) Event {
	return Event{Name: "TICK_" + strconv.FormatInt(period, 10), Payload: "when:" + strconv.FormatInt(when, 10)}
}

// eventHeader is the line written before an event's payload to a
// listener. len counts the payload's characters, as supervisord's
// Python str does (and as a listener reading text must read them).
func eventHeader(server string, serial int64, pool string, poolSerial int64, ev Event) string {
	return fmt.Sprintf("ver:3.0 server:%s serial:%d pool:%s poolserial:%d eventname:%s len:%d\n",
		server, serial, pool, poolSerial, ev.Name, utf8.RuneCountInString(ev.Payload))
}

// eventBus hands each published event to the listener pools subscribed
// to its type. It is guarded by the daemon's lock.
type eventBus struct {
	serial int64 // the last serial given
	pools  map[string]*listenerPool
	ticks  map[int64]int64 // period -> start of the slice last announced
}

func newEventBus() *eventBus {
	return &eventBus{serial: -1, pools: map[string]*listenerPool{}, ticks: map[int64]int64{}}
}

// publish gives ev a serial and queues it for every pool subscribed to its
// type, then sends what listeners are ready for.
func (b *eventBus) publish(ev Event) {
	subscribed := false
	for _, pool := range b.pools {
		subscribed = subscribed || pool.subscribed(ev.Name)
	}
	if !subscribed {
		b.dispatch()
		return
	}
	b.serial++
	ev.serial = b.serial
	for _, name := range slices.Sorted(maps.Keys(b.pools)) {
		if pool := b.pools[name]; pool.subscribed(ev.Name) {
			pool.accept(ev)
		}
	}
	b.dispatch()
}

// dispatch sends every pool's oldest events to its ready listeners.
func (b *eventBus) dispatch() {
	for _, name := range slices.Sorted(maps.Keys(b.pools)) {
		b.pools[name].dispatch()
	}
}

// tick publishes the TICK_N events whose period changed slice since the
// last call, as supervisord's tick does: the first call only notes the
// slices it is in.
func (b *eventBus) tick(now time.Time) {
	for _, period := range tickPeriods {
		slice := now.Unix() - now.Unix()%period
		last, ok := b.ticks[period]
		b.ticks[period] = slice
		if ok && slice != last {
			b.publish(tickEvent(period, slice))
		}
	}
}

// untilNextTick is the wait from now to the start of the next 5-second
// slice, where every TICK_N falls.
func untilNextTick(now time.Time) time.Duration {
	period := time.Duration(tickPeriods[0]) * time.Second
	return period - time.Duration(now.UnixNano()%int64(period))
}

// runTicks publishes TICK events until the daemon stops, waking once per
// 5-second slice while a listener pool wants them.
func (d *Daemon) runTicks() {
	var next func()
	next = func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		select {
		case <-d.stopped:
			return
		default:
		}
		if !d.events.wantsTicks() {
			// No wake-up every 5 s for nobody: wait for a group that
			// may bring a listener, and start the slices afresh then.
			clear(d.events.ticks)
			regrouped := d.regrouped
			go func() {
				select {
				case <-regrouped:
					next()
				case <-d.stopped:
				}
			}()
			return
		}
		now := d.clock.Now()
		d.events.tick(now)
		d.clock.AfterFunc(untilNextTick(now), next)
	}
	next()
}

// wantsTicks reports whether a pool subscribes to a TICK_N event.
func (b *eventBus) wantsTicks() bool {
	for _, pool := range b.pools {
		for _, period := range tickPeriods {
			if pool.subscribed(tickEvent(period, 0).Name) {
				return true
			}
		}
	}
	return false
}

// publishLocked publishes ev on the daemon's bus; the lock is held.
func (d *Daemon) publishLocked(ev Event) {
	if d.events != nil {
		d.events.publish(ev)
	}
}

// processLogEvent returns the PROCESS_LOG_<CHANNEL> event of one read of a
// process's output: "processname:X groupname:Y pid:N channel:C", a
// newline, and the data.
func processLogEvent(process, group string, pid int, channel string, data []byte) Event {
	return Event{Name: "PROCESS_LOG_" + strings.ToUpper(channel),
		Payload: fmt.Sprintf("processname:%s groupname:%s pid:%d channel:%s\n%s", process, group, pid, channel, data)}
}

// processCommEvent returns the PROCESS_COMMUNICATION_<CHANNEL> event of
// what a process wrote between supervisord's capture tokens:
// "processname:X groupname:Y pid:N", a newline, and the data.
func processCommEvent(process, group string, pid int, channel string, data []byte) Event {
	return Event{Name: "PROCESS_COMMUNICATION_" + strings.ToUpper(channel),
		Payload: fmt.Sprintf("processname:%s groupname:%s pid:%d\n%s", process, group, pid, data)}
}

// The tokens around what a process sends as a PROCESS_COMMUNICATION
// event, when its <channel>_capture_maxbytes is set.
var (
	captureBegin = []byte("<!--XSUPERVISOR:BEGIN-->")
	captureEnd   = []byte("<!--XSUPERVISOR:END-->")
)

// outputWriter is where a process's channel ("stdout", "stderr") goes: its
// log, and with <channel>_events_enabled a PROCESS_LOG event per read, and
// with <channel>_capture_maxbytes a PROCESS_COMMUNICATION event per
// captured message.
func (d *Daemon) outputWriter(p *process, pid int, channel string, log io.Writer, lc LogConfig) io.Writer {
	if !lc.Events && lc.CaptureMaxBytes == 0 {
		if log == nil {
			return io.Discard
		}
		return log
	}
	w := &channelWriter{process: p.cfg.Name, group: p.group, channel: channel, pid: pid, events: lc.Events,
		captureMax: lc.CaptureMaxBytes, debugf: d.log.Debugf}
	if log != nil {
		w.log = log
	}
	w.publish = func(ev Event) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.publishLocked(ev)
	}
	return w
}

// channelWriter is one output channel of a process whose output makes
// events, as supervisord's POutputDispatcher: every write is logged and,
// with events, published as PROCESS_LOG_*; with capture, what comes
// between the begin and end tokens goes to a buffer of the newest
// captureMax bytes instead of the log, and makes one
// PROCESS_COMMUNICATION_* event at the end token.
type channelWriter struct {
	process, group, channel string
	pid                     int
	log                     io.Writer // nil: not logged
	events                  bool
	captureMax              int64
	publish                 func(Event)
	debugf                  func(format string, args ...any)

	capturing bool
	pending   []byte // output that may be the start of a token
	captured  []byte
}

func (w *channelWriter) Write(b []byte) (int, error) {
	if w.captureMax == 0 {
		return len(b), w.record(b)
	}
	w.pending = append(w.pending, b...)
	var err error
	for {
		token := captureBegin
		if w.capturing {
			token = captureEnd
		}
		i := bytes.Index(w.pending, token)
		if i < 0 {
			// Keep back what may be the start of the token.
			n := len(w.pending) - tokenPrefixAtEnd(w.pending, token)
			if e := w.record(w.pending[:n]); err == nil {
				err = e
			}
			w.pending = append([]byte(nil), w.pending[n:]...)
			return len(b), err
		}
		if e := w.record(w.pending[:i]); err == nil {
			err = e
		}
		w.pending = w.pending[i+len(token):]
		w.toggle()
	}
}

// record logs data, or captures it, and publishes its PROCESS_LOG event.
func (w *channelWriter) record(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var err error
	switch {
	case w.capturing:
		w.captured = append(w.captured, data...)
		if over := int64(len(w.captured)) - w.captureMax; over > 0 {
			w.captured = w.captured[over:]
		}
	case w.log != nil:
		_, err = w.log.Write(data)
	}
	if w.events {
		w.publish(processLogEvent(w.process, w.group, w.pid, w.channel, data))
	}
	return err
}

// toggle enters or leaves capture mode; leaving it sends what was captured.
func (w *channelWriter) toggle() {
	w.capturing = !w.capturing
	if w.capturing {
		return
	}
	w.publish(processCommEvent(w.process, w.group, w.pid, w.channel, w.captured))
	w.debugf("'%s' %s emitted a comm event", w.process, w.channel)
	w.captured = nil
}

// tokenPrefixAtEnd returns the length of the longest end of b that begins
// token.
func tokenPrefixAtEnd(b, token []byte) int {
	for n := min(len(token)-1, len(b)); n > 0; n-- {
		if bytes.HasSuffix(b, token[:n]) {
			return n
		}
	}
	return 0
}

// makesEvents reports whether the channel's output makes events, so that
// its pipe is needed even when it is not logged.
func (lc LogConfig) makesEvents() bool { return lc.Events || lc.CaptureMaxBytes > 0 }
