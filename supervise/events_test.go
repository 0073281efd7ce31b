package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/supervise/logfile"
)

func TestProcessStateEvent(t *testing.T) {
	base := stateChange{process: "web", group: "site", tries: 2, pid: 1234}
	tests := []struct {
		from, to State
		expected bool
		name     string
		payload  string
	}{
		{Stopped, Starting, false, "PROCESS_STATE_STARTING", "processname:web groupname:site from_state:STOPPED tries:2"},
		{Starting, Running, false, "PROCESS_STATE_RUNNING", "processname:web groupname:site from_state:STARTING pid:1234"},
		{Starting, Backoff, false, "PROCESS_STATE_BACKOFF", "processname:web groupname:site from_state:STARTING tries:2"},
		{Backoff, Fatal, false, "PROCESS_STATE_FATAL", "processname:web groupname:site from_state:BACKOFF"},
		{Running, Stopping, false, "PROCESS_STATE_STOPPING", "processname:web groupname:site from_state:RUNNING pid:1234"},
		{Stopping, Stopped, false, "PROCESS_STATE_STOPPED", "processname:web groupname:site from_state:STOPPING pid:1234"},
		{Running, Exited, true, "PROCESS_STATE_EXITED", "processname:web groupname:site from_state:RUNNING expected:1 pid:1234"},
		{Running, Exited, false, "PROCESS_STATE_EXITED", "processname:web groupname:site from_state:RUNNING expected:0 pid:1234"},
		{Running, Unknown, false, "PROCESS_STATE_UNKNOWN", "processname:web groupname:site from_state:RUNNING"},
	}
	for _, tt := range tests {
		c := base
		c.from, c.to, c.expected = tt.from, tt.to, tt.expected
		ev := processStateEvent(c)
		if ev.Name != tt.name || ev.Payload != tt.payload {
			t.Errorf("%s -> %s: %s %q, want %s %q", tt.from, tt.to, ev.Name, ev.Payload, tt.name, tt.payload)
		}
		if !isEventType(ev.Name) {
			t.Errorf("%s is not in the event table", ev.Name)
		}
	}
}

func TestEventHeader(t *testing.T) {
	ev := Event{Name: "PROCESS_LOG_STDOUT", Payload: "processname:a groupname:a pid:1 channel:stdout\nhé\n", serial: 7}
	got := eventHeader("supervisor", ev.serial, "mon", 3, ev)
	want := "ver:3.0 server:supervisor serial:7 pool:mon poolserial:3 eventname:PROCESS_LOG_STDOUT len:50\n"
	if got != want {
		t.Errorf("header\n%q\nwant\n%q", got, want)
	}
	for _, tt := range []struct {
		ev   Event
		want string
	}{
		{supervisorStateEvent(eventSupervisorRunning), ""},
		{groupEvent(eventGroupAdded, "web"), "groupname:web\n"},
		{tickEvent(60, 1700000040), "when:1700000040"},
		{remoteCommEvent("deploy", "v2 done"), "type:deploy\nv2 done"},
		{processLogEvent("web", "site", 42, "stderr", []byte("oops\n")), "processname:web groupname:site pid:42 channel:stderr\noops\n"},
	} {
		if tt.ev.Payload != tt.want || !isEventType(tt.ev.Name) {
			t.Errorf("%s payload %q, want %q", tt.ev.Name, tt.ev.Payload, tt.want)
		}
	}
}

func TestEventIsA(t *testing.T) {
	tests := []struct {
		name, typ string
		want      bool
	}{
		{"PROCESS_STATE_EXITED", "PROCESS_STATE_EXITED", true},
		{"PROCESS_STATE_EXITED", "PROCESS_STATE", true},
		{"PROCESS_STATE_EXITED", "EVENT", true},
		{"PROCESS_STATE_EXITED", "PROCESS_STATE_RUNNING", false},
		{"TICK_60", "TICK", true},
		{"TICK_60", "PROCESS_STATE", false},
		{"SUPERVISOR_STATE_CHANGE_STOPPING", "SUPERVISOR_STATE_CHANGE", true},
		{"PROCESS_STATE", "PROCESS_STATE_EXITED", false},
	}
	for _, tt := range tests {
		if got := eventIsA(tt.name, tt.typ); got != tt.want {
			t.Errorf("eventIsA(%s, %s) = %v", tt.name, tt.typ, got)
		}
	}
}

// testPool is a pool with a recording log and listeners that record what
// they are sent.
type testPool struct {
	*listenerPool
	log     *bytes.Buffer
	sent    map[string][]string // by listener, each message sent
	running map[string]bool
	broken  map[string]bool // sends to these fail (EPIPE)
}

func newTestPool(size int, events ...string) *testPool {
	tp := &testPool{log: &bytes.Buffer{}, sent: map[string][]string{}, running: map[string]bool{}, broken: map[string]bool{}}
	log := logfile.NewLogger(nil, tp.log, logfile.LevelInfo)
	tp.listenerPool = newListenerPool("mon", &ListenerConfig{Events: events, BufferSize: size}, "supervisor", log,
		func(name string) bool { return tp.running[name] })
	return tp
}

// start spawns listener name, RUNNING.
func (tp *testPool) start(name string) *listenerConn {
	tp.running[name] = true
	return tp.started(name, func(b []byte) error {
		if tp.broken[name] {
			return errors.New("write |1: broken pipe")
		}
		tp.sent[name] = append(tp.sent[name], string(b))
		return nil
	})
}

// publish buffers ev with the next daemon serial and dispatches.
func (tp *testPool) publish(serial int64, name, payload string) {
	tp.accept(Event{Name: name, Payload: payload, serial: serial})
	tp.dispatch()
}

func TestListenerProtocol(t *testing.T) {
	tp := newTestPool(3, "PROCESS_STATE")
	a := tp.start("a")
	tp.publish(0, "PROCESS_STATE_RUNNING", "processname:x groupname:x from_state:STARTING pid:9")
	if a.state != listenerAcknowledged || len(tp.sent["a"]) != 0 || len(tp.buffer) != 1 {
		t.Fatalf("before READY: state %s, sent %q, buffer %d", a.state, tp.sent["a"], len(tp.buffer))
	}

	// READY in pieces: the buffered event goes out with its header.
	tp.feed(a, []byte("REA"))
	tp.feed(a, []byte("DY\n"))
	want := "ver:3.0 server:supervisor serial:0 pool:mon poolserial:0 eventname:PROCESS_STATE_RUNNING len:51\n" +
		"processname:x groupname:x from_state:STARTING pid:9"
	if a.state != listenerBusy || !reflect.DeepEqual(tp.sent["a"], []string{want}) || len(tp.buffer) != 0 {
		t.Fatalf("after READY: state %s, sent %q, buffer %d", a.state, tp.sent["a"], len(tp.buffer))
	}

	// A busy listener gets nothing more; the next event waits.
	tp.publish(1, "PROCESS_STATE_STOPPED", "processname:x groupname:x from_state:STOPPING pid:9")
	if len(tp.sent["a"]) != 1 || len(tp.buffer) != 1 {
		t.Fatalf("busy listener was sent %q", tp.sent["a"])
	}

	// OK, split anywhere, acknowledges; the next READY gets the next event.
	tp.feed(a, []byte("RESULT 2\nO"))
	if a.state != listenerBusy {
		t.Fatalf("half a result: state %s", a.state)
	}
	tp.feed(a, []byte("KREADY\n"))
	if a.state != listenerBusy || len(tp.sent["a"]) != 2 || !strings.Contains(tp.sent["a"][1], "serial:1 pool:mon poolserial:1 eventname:PROCESS_STATE_STOPPED") {
		t.Fatalf("after OK and READY: state %s, sent %q", a.state, tp.sent["a"])
	}

	// FAIL puts the event back: the next READY gets it again, same serials.
	tp.feed(a, []byte("RESULT 4\nFAIL"))
	if a.state != listenerAcknowledged || len(tp.buffer) != 1 {
		t.Fatalf("after FAIL: state %s, buffer %d", a.state, len(tp.buffer))
	}
	tp.feed(a, []byte("READY\n"))
	if len(tp.sent["a"]) != 3 || tp.sent["a"][2] != tp.sent["a"][1] {
		t.Fatalf("rejected event not sent again: %q", tp.sent["a"])
	}
	if !strings.Contains(tp.log.String(), "WARN a: event was rejected") {
		t.Errorf("log %q", tp.log)
	}

	// A listener that dies busy: its event goes to the other one.
	b := tp.start("b")
	tp.feed(b, []byte("READY\n"))
	tp.running["a"] = false
	tp.exited("a")
	tp.dispatch()
	if len(tp.sent["b"]) != 1 || tp.sent["b"][0] != tp.sent["a"][2] || b.state != listenerBusy {
		t.Fatalf("event of the dead listener: b sent %q", tp.sent["b"])
	}
	// Output of the dead spawn is ignored.
	tp.feed(a, []byte("RESULT 2\nOK"))
	if b.event == nil {
		t.Fatal("output of a dead spawn acknowledged b's event")
	}
}

func TestListenerProtocolErrors(t *testing.T) {
	tests := []struct {
		name    string
		output  []string
		state   listenerState
		requeue bool // the event sent is back in the buffer
		log     string
	}{
		{"garbage instead of READY", []string{"HELLO!\n"}, listenerUnknown, false,
			"WARN a: has entered the UNKNOWN state and will no longer receive events"},
		{"bad result line", []string{"READY\n", "RESULT two\nOK"}, listenerUnknown, true, "WARN a: bad result line: 'RESULT two'"},
		{"empty result rejects", []string{"READY\n", "RESULT 0\n"}, listenerAcknowledged, true, "WARN a: event was rejected"},
		{"output while ready", []string{"READY\n", "RESULT 2\nOK", "READY\nhi"}, listenerUnknown, false, "UNKNOWN state"},
		{"partial READY waits", []string{"READ"}, listenerAcknowledged, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPool(10, "EVENT")
			a := tp.start("a")
			tp.publish(0, "TICK_5", "when:5")
			for _, out := range tt.output {
				tp.feed(a, []byte(out))
			}
			if a.state != tt.state {
				t.Errorf("state %s, want %s", a.state, tt.state)
			}
			if got := len(tp.buffer) == 1 && len(tp.sent["a"]) == 1; got != tt.requeue {
				t.Errorf("requeued %v (buffer %d, sent %d), want %v", got, len(tp.buffer), len(tp.sent["a"]), tt.requeue)
			}
			if !strings.Contains(tp.log.String(), tt.log) {
				t.Errorf("log %q does not have %q", tp.log, tt.log)
			}
		})
	}
}

func TestListenerBufferOverflow(t *testing.T) {
	tp := newTestPool(2, "TICK")
	tp.start("a")
	tp.running["a"] = false // STARTING: READY or not, it gets nothing yet
	for i := range int64(4) {
		tp.publish(10+i, "TICK_5", fmt.Sprint("when:", 5*i))
	}
	var kept []int64
	for _, qe := range tp.buffer {
		kept = append(kept, qe.ev.serial)
	}
	if !reflect.DeepEqual(kept, []int64{12, 13}) {
		t.Errorf("buffer holds serials %v, want the newest two", kept)
	}
	for _, s := range []string{"pool mon event buffer overflowed, discarding event 10", "pool mon event buffer overflowed, discarding event 11"} {
		if !strings.Contains(tp.log.String(), "ERRO "+s) && !strings.Contains(tp.log.String(), s) {
			t.Errorf("log %q does not have %q", tp.log, s)
		}
	}
	// An EPIPE leaves the listener READY and the event buffered.
	c := tp.conns["a"]
	tp.running["a"], tp.broken["a"] = true, true
	tp.feed(c, []byte("READY\n"))
	if c.state != listenerReady || len(tp.buffer) != 2 {
		t.Errorf("after EPIPE: state %s, buffer %d", c.state, len(tp.buffer))
	}
}

func TestTicks(t *testing.T) {
	b := newEventBus()
	tp := newTestPool(100, "TICK_5", "TICK_60")
	b.pools["mon"] = tp.listenerPool
	start := time.Unix(1700000097, 0) // 3 s before a minute
	for s := range int64(10) {
		b.tick(start.Add(time.Duration(s) * time.Second))
	}
	var got []string
	for _, qe := range tp.buffer {
		got = append(got, qe.ev.Name+" "+qe.ev.Payload)
	}
	want := []string{"TICK_5 when:1700000100", "TICK_60 when:1700000100", "TICK_5 when:1700000105"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ticks %q, want %q", got, want)
	}
	for _, tt := range []struct {
		now  time.Time
		want time.Duration
	}{
		{time.Unix(1700000097, 0), 3 * time.Second},
		{time.Unix(1700000100, 0), 5 * time.Second},
		{time.Unix(1700000104, 900e6), 100 * time.Millisecond},
	} {
		if got := untilNextTick(tt.now); got != tt.want {
			t.Errorf("untilNextTick(%v) = %v, want %v", tt.now, got, tt.want)
		}
	}
}

// TestProcessStateEvents drives a process's state machine and checks the
// events it publishes, in order, as supervisord's would be.
func TestProcessStateEvents(t *testing.T) {
	m := newMachine(t, ProcessConfig{Startsecs: time.Second, Startretries: 1, Autorestart: AutorestartUnexpected,
		Exitcodes: []int{0}, Stopsignal: syscall.SIGTERM, Stopwait: 10 * time.Second})
	d := m.p.d
	d.events = newEventBus()
	tp := newTestPool(100, "PROCESS_STATE")
	d.events.pools["mon"] = tp.listenerPool

	// exit waits for the first state change of an exit; settle waits for
	// the daemon to be done with it (the lock is held until then).
	exit := func(status syscall.WaitStatus) { m.exit(status); m.locked(func() {}) }
	spawn(m)                // 1001 STARTING
	advance(time.Second)(m) // RUNNING
	exit(exitCode(3))       // EXITED, restarted: 1002 STARTING
	exit(exitCode(3))       // too quickly: BACKOFF
	advance(time.Second)(m) // 1003 STARTING
	exit(exitCode(0))       // BACKOFF again, beyond startretries: FATAL
	spawn(m)                // 1004 STARTING
	advance(time.Second)(m) // RUNNING
	stop(m)                 // STOPPING
	exit(killedBy(syscall.SIGTERM))

	var got []string
	var buffer []queuedEvent
	m.locked(func() { buffer = slices.Clone(tp.buffer) })
	for _, qe := range buffer {
		got = append(got, strings.TrimPrefix(qe.ev.Name, "PROCESS_STATE_")+" "+
			strings.TrimPrefix(qe.ev.Payload, "processname:prog groupname:prog "))
	}
	want := []string{
		"STARTING from_state:STOPPED tries:0",
		"RUNNING from_state:STARTING pid:1001",
		"EXITED from_state:RUNNING expected:0 pid:1001",
		"STARTING from_state:EXITED tries:0",
		"BACKOFF from_state:STARTING tries:1",
		"STARTING from_state:BACKOFF tries:1",
		"BACKOFF from_state:STARTING tries:2",
		"FATAL from_state:BACKOFF",
		"STARTING from_state:FATAL tries:0",
		"RUNNING from_state:STARTING pid:1004",
		"STOPPING from_state:RUNNING pid:1004",
		"STOPPED from_state:STOPPING pid:1004",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRunTicks runs the daemon's tick loop on a fake clock.
func TestRunTicks(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1700000097, 0)}
	d := &Daemon{clock: clock, stopped: make(chan struct{})}
	d.events = newEventBus()
	tp := newTestPool(100, "TICK")
	d.events.pools["mon"] = tp.listenerPool
	d.runTicks()
	clock.advance(61 * time.Second)
	close(d.stopped)
	clock.advance(time.Hour)
	d.mu.Lock()
	defer d.mu.Unlock()
	var got []string
	for _, qe := range tp.buffer {
		got = append(got, qe.ev.Name)
	}
	want := []string{"TICK_5", "TICK_60"}
	for range 11 { // 105, 110, ... 155
		want = append(want, "TICK_5")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ticks in the first 61 s %v, want %v", got, want)
	}
}

// TestRunTicksIdle checks that the tick loop sets no timer while no pool
// wants ticks, and starts when a group brings one.
func TestRunTicksIdle(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1700000097, 0)}
	d := &Daemon{clock: clock, stopped: make(chan struct{}), regrouped: make(chan struct{})}
	defer close(d.stopped)
	d.events = newEventBus()
	d.events.pools["other"] = newTestPool(100, "PROCESS_STATE").listenerPool
	d.runTicks()
	if n := clock.pending(); n != 0 {
		t.Fatalf("%d timers set with no listener of ticks, want none", n)
	}
	tp := newTestPool(100, "TICK_60")
	d.mu.Lock()
	d.events.pools["mon"] = tp.listenerPool
	d.regroupLocked()
	d.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for clock.pending() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no tick timer 10 s after a listener of ticks came")
		}
		time.Sleep(time.Millisecond)
	}
	clock.advance(61 * time.Second)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(tp.buffer) != 1 || tp.buffer[0].ev.Name != "TICK_60" {
		t.Errorf("events %v, want one TICK_60", tp.buffer)
	}
}

func TestChannelWriter(t *testing.T) {
	const begin, end = "<!--XSUPERVISOR:BEGIN-->", "<!--XSUPERVISOR:END-->"
	tests := []struct {
		name       string
		events     bool
		captureMax int64
		writes     []string
		log        string
		published  []string // "NAME data" of each event
	}{
		{"events only", true, 0, []string{"a\n", "b"}, "a\nb",
			[]string{"PROCESS_LOG_STDOUT a\n", "PROCESS_LOG_STDOUT b"}},
		{"capture", false, 100, []string{"before " + begin + "hello" + end + " after"}, "before  after",
			[]string{"PROCESS_COMMUNICATION_STDOUT hello"}},
		{"tokens split across writes", false, 100, []string{"x<!--XSUPER", "VISOR:BEGIN-->he", "llo<!--XSUPERVISOR:E", "ND-->y"}, "xy",
			[]string{"PROCESS_COMMUNICATION_STDOUT hello"}},
		{"a near-token is output", false, 100, []string{"<!--XSUPERVISOR:BEG", "UN-->"}, "<!--XSUPERVISOR:BEGUN-->", nil},
		{"newest bytes kept", false, 4, []string{begin + "abcdefgh" + end}, "",
			[]string{"PROCESS_COMMUNICATION_STDOUT efgh"}},
		{"two messages, with log events", true, 100, []string{begin + "1" + end + "-" + begin + "2" + end}, "-",
			[]string{"PROCESS_LOG_STDOUT 1", "PROCESS_COMMUNICATION_STDOUT 1", "PROCESS_LOG_STDOUT -",
				"PROCESS_LOG_STDOUT 2", "PROCESS_COMMUNICATION_STDOUT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			var published []string
			w := &channelWriter{process: "web", group: "site", channel: "stdout", pid: 7, log: &log,
				events: tt.events, captureMax: tt.captureMax, debugf: func(string, ...any) {},
				publish: func(ev Event) {
					_, data, _ := strings.Cut(ev.Payload, "\n")
					published = append(published, ev.Name+" "+data)
				}}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("write %q: %d, %v", s, n, err)
				}
			}
			if log.String() != tt.log {
				t.Errorf("log %q, want %q", log.String(), tt.log)
			}
			if !reflect.DeepEqual(published, tt.published) {
				t.Errorf("events %q, want %q", published, tt.published)
			}
		})
	}
	ev := processCommEvent("web", "site", 7, "stderr", []byte("hi"))
	if ev.Name != "PROCESS_COMMUNICATION_STDERR" || ev.Payload != "processname:web groupname:site pid:7\nhi" || !isEventType(ev.Name) {
		t.Errorf("comm event %+v", ev)
	}
}
