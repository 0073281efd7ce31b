package supervise

import (
	"strings"
	"testing"

	"keeper/supervise/xmlrpc"
)

func TestProcessInfoRoundTrip(t *testing.T) {
	want := ProcessInfo{
		Name: "web", Group: "site", Start: 1700000000, Now: 1700000100, State: Running,
		StateName: "RUNNING", Logfile: "/l/out", StdoutLogfile: "/l/out", StderrLogfile: "/l/err",
		PID: 42, Description: "pid 42, uptime 0:01:40",
	}
	// Through the wire format, as a client gets it.
	data, err := xmlrpc.AppendResponse(nil, want.Struct())
	if err != nil {
		t.Fatal(err)
	}
	v, err := xmlrpc.DecodeResponse(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeProcessInfo(v)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if got.Namespec() != "site:web" {
		t.Errorf("Namespec = %q, want site:web", got.Namespec())
	}
}

func TestDecodeProcessInfoRefuses(t *testing.T) {
	full := ProcessInfo{Name: "a", Group: "a", State: Stopped}.Struct()
	without := func(name string) xmlrpc.Struct {
		var s xmlrpc.Struct
		for _, m := range full {
			if m.Name != name {
				s = append(s, m)
			}
		}
		return s
	}
	withValue := func(name string, v any) xmlrpc.Struct {
		s := append(xmlrpc.Struct(nil), full...)
		for i := range s {
			if s[i].Name == name {
				s[i].Value = v
			}
		}
		return s
	}
	for _, tt := range []struct {
		name string
		v    any
		want string
	}{
		{"not a struct", "x", "want a struct"},
		{"no state", without("state"), `no member "state"`},
		{"no name", without("name"), `no member "name"`},
		{"state a string", withValue("state", "RUNNING"), `member "state" is string`},
		{"pid a string", withValue("pid", "12"), `member "pid" is string`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeProcessInfo(tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeProcessInfo: %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := DecodeProcessInfo(without("description")); err != nil {
		t.Errorf("an optional member missing: %v", err)
	}
	if _, err := DecodeProcessInfos([]any{full, "x"}); err == nil {
		t.Error("DecodeProcessInfos of a list with a bad entry: no error")
	}
}
