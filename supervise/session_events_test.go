package supervise

import (
	"slices"
	"testing"
)

func TestSessionChanges(t *testing.T) {
	a := Session{Program: "p", Name: "a", Socket: "/s/a", PID: 10, Child: 11, Command: "sh -i"}
	b := Session{Program: "p", Name: "b", Socket: "/s/b", PID: 20}
	attached := a
	attached.Attached = true
	replaced := a
	replaced.PID = 30
	names := func(evs []Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.Name)
		}
		return out
	}
	for _, tt := range []struct {
		name          string
		before, after map[string]Session
		want          []string
	}{
		{"nothing", nil, nil, nil},
		{"created", nil, map[string]Session{"/s/a": a}, []string{eventSessionCreated}},
		{"created attached", nil, map[string]Session{"/s/a": attached}, []string{eventSessionCreated, eventSessionAttached}},
		{"attach", map[string]Session{"/s/a": a}, map[string]Session{"/s/a": attached}, []string{eventSessionAttached}},
		{"detach", map[string]Session{"/s/a": attached}, map[string]Session{"/s/a": a}, []string{eventSessionDetached}},
		{"ended", map[string]Session{"/s/a": a, "/s/b": b}, map[string]Session{"/s/b": b}, []string{eventSessionEnded}},
		{"a new master on the same socket", map[string]Session{"/s/a": a}, map[string]Session{"/s/a": replaced}, []string{eventSessionEnded, eventSessionCreated}},
	} {
		if got := names(sessionChanges(tt.before, tt.after)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	ev := sessionEvent(eventSessionCreated, a)
	if want := "program:p session:a socket:/s/a pid:10 child_pid:11\nsh -i"; ev.Payload != want {
		t.Errorf("payload %q, want %q", ev.Payload, want)
	}
	if !eventIsA(eventSessionAttached, "KEEPER_SESSION") || !eventIsA(eventSessionAttached, "EVENT") || eventIsA(eventSessionAttached, "PROCESS_STATE") {
		t.Error("session events are KEEPER_SESSION and EVENT, nothing else")
	}
}
