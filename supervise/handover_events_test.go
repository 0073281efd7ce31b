package supervise

import (
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
