package supervise

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// handoverScript is what a listener writes, message by message, while it
// takes three events and rejects the second once: each message is written
// once the previous one was answered.
var handoverScript = []string{"READY\n", "RESULT 2\nOK", "READY\n", "RESULT 4\nFAIL", "READY\n", "RESULT 2\nOK",
	"READY\n", "RESULT 2\nOK", "READY\n"}

// runListener publishes three events (one with a payload that is not
// UTF-8) to a pool of listener "a", feeds it script, and publishes two
// more; with cut >= 0 the bus is handed over, through the handover file's
// encoding, after the first cut bytes of the script, and the rest goes to
// a new bus that took it over. It returns every message sent, in order,
// and the final serials.
func runListener(t *testing.T, script []string, cut int) (sent []string, serial, poolSerial int64) {
	t.Helper()
	newBus := func() (*eventBus, *testPool, *listenerConn) {
		tp := newTestPool(10, "EVENT")
		bus := newEventBus()
		bus.pools["mon"] = tp.listenerPool
		return bus, tp, tp.start("a")
	}
	bus, tp, c := newBus()
	bus.publish(Event{Name: "TICK_5", Payload: "when:5"})
	bus.publish(processLogEvent("x", "x", 9, "stdout", []byte("caf\xe9 \xff\n")))
	bus.publish(Event{Name: "TICK_5", Payload: "when:10"})
	handOver := func() {
		sent = append(sent, tp.sent["a"]...)
		b, err := encodeHandover(&handover{Events: bus.handOver()})
		if err != nil {
			t.Fatal(err)
		}
		h, err := decodeHandover(b)
		if err != nil {
			t.Fatal(err)
		}
		bus, tp, c = newBus()
		bus.publish(groupEvent(eventGroupAdded, "mon")) // what a start buffers: replaced
		bus.takeOver(h.Events, t.Logf)
		tp.takeOverListener("a", h.Events.listener("mon", "a"))
		bus.dispatch()
	}
	for _, msg := range script {
		if 0 <= cut && cut < len(msg) {
			tp.feed(c, []byte(msg[:cut]))
			handOver()
			msg, cut = msg[cut:], -1
		} else if cut >= 0 {
			cut -= len(msg)
		}
		tp.feed(c, []byte(msg))
	}
	for _, when := range []string{"15", "20"} {
		bus.publish(Event{Name: "TICK_5", Payload: "when:" + when})
	}
	return append(sent, tp.sent["a"]...), bus.serial, bus.pools["mon"].serial
}

// TestEventBusHandover: a handover after any byte of a listener's output
// (READY in halves, a RESULT line or its body cut, an event in flight, one
// rejected) leaves the listener sent exactly what it would have been
// without one: no event lost or sent twice, serials going on.
func TestEventBusHandover(t *testing.T) {
	want, wantSerial, wantPool := runListener(t, handoverScript, -1)
	if len(want) != 5 || wantSerial != 4 || wantPool != 4 {
		t.Fatalf("the run without a handover sent %d events, want 5 (4 and one again), serials %d/%d: %q", len(want), wantSerial, wantPool, want)
	}
	for cut := range len(strings.Join(handoverScript, "")) {
		got, serial, pool := runListener(t, handoverScript, cut)
		if !reflect.DeepEqual(got, want) || serial != wantSerial || pool != wantPool {
			t.Fatalf("handover after %q:\nsent %q\nwant %q\nserials %d/%d, want %d/%d",
				strings.Join(handoverScript, "")[:cut], got, want, serial, pool, wantSerial, wantPool)
		}
	}
}

// TestHandedEventsRoundTrip: the bus's description survives the handover
// file's encoding, payload bytes that are not UTF-8 included.
func TestHandedEventsRoundTrip(t *testing.T) {
	ev := &handedEvent{Name: "PROCESS_LOG_STDOUT", Payload: []byte("x\xff\xfe\n"), Serial: 7, PoolSerial: 3}
	h := &handover{Control: -1, Events: &handedEvents{Serial: 9, Ticks: map[int64]int64{5: 1700000000, 60: 1699999980},
		Pools: []handedPool{{Name: "mon", Serial: 4,
			Buffer: []handedEvent{{Name: "TICK_5", Payload: []byte("when:5"), Serial: 8, PoolSerial: 4}},
			Listeners: []handedListener{
				{Name: "a", State: listenerBusy, Pending: []byte("O"), ResultLen: 2, Result: []byte{}, Event: ev},
				{Name: "b", State: listenerAcknowledged, Pending: []byte("REA"), ResultLen: -1},
			}}}}}
	b, err := encodeHandover(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeHandover(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got.Events, h.Events)
	}
	if q := got.Events.listener("mon", "a").Event.queued(); q.ev.Payload != "x\xff\xfe\n" || q.ev.serial != 7 || q.poolSerial != 3 {
		t.Errorf("in-flight event came back as %+v", q)
	}
}

// TestEventBusTakeOver: what a new daemon does with a handed-over bus whose
// pools its config changed.
func TestEventBusTakeOver(t *testing.T) {
	handed := &handedEvents{Serial: 20, Pools: []handedPool{{Name: "mon", Serial: 7, Buffer: []handedEvent{
		{Name: "TICK_5", Payload: []byte("when:5"), Serial: 18, PoolSerial: 5},
		{Name: "TICK_5", Payload: []byte("when:10"), Serial: 19, PoolSerial: 6},
		{Name: "TICK_5", Payload: []byte("when:15"), Serial: 20, PoolSerial: 7},
	}}}}
	tests := []struct {
		name       string
		pool       string // the pool the new config has
		size       int
		wantBuffer []int64 // pool serials left in the buffer
		wantSerial int64   // the pool's last serial
		wantLog    string
	}{
		{"same pool", "mon", 10, []int64{5, 6, 7}, 7, ""},
		{"smaller buffer keeps the newest", "mon", 2, []int64{6, 7}, 7, "pool mon event buffer overflowed, discarding event 18"},
		{"pool gone", "other", 10, nil, -1, "pool mon is not in the config any more; 3 buffered events dropped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPool(tt.size, "EVENT")
			tp.name = tt.pool
			bus := newEventBus()
			bus.pools[tt.pool] = tp.listenerPool
			bus.publish(groupEvent(eventGroupAdded, tt.pool)) // what a start buffers: replaced
			var warnings []string
			bus.takeOver(handed, func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) })
			var got []int64
			for _, qe := range tp.buffer {
				got = append(got, qe.poolSerial)
			}
			if !reflect.DeepEqual(got, tt.wantBuffer) || tp.serial != tt.wantSerial || bus.serial != 20 {
				t.Errorf("buffer %v, pool serial %d, bus serial %d; want %v, %d, 20", got, tp.serial, bus.serial, tt.wantBuffer, tt.wantSerial)
			}
			logged := strings.Join(warnings, "\n") + tp.log.String()
			if tt.wantLog == "" && logged != "" || !strings.Contains(logged, tt.wantLog) {
				t.Errorf("logged %q, want %q", logged, tt.wantLog)
			}
		})
	}
}
