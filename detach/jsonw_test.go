package detach

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// hostile are strings a record, a status or a recording may carry: quotes,
// backslashes, every control character, invalid UTF-8, U+2028/2029, HTML.
var hostile = []string{
	"",
	"plain",
	`a "quoted" \ back\slash`,
	"\x00\x01\x07\b\t\n\v\f\r\x1b[31mred\x1b[0m\x7f",
	"caf\xc3\xa9 \xff\xfe half \xe2\x82",
	"line\u2028sep\u2029para",
	"<script>&amp;</script>",
	"日本語 and emoji 😀",
}

// TestAppendJSONString: what encoding/json reads back is what it would
// have read from its own encoding of the same string.
func TestAppendJSONString(t *testing.T) {
	for _, s := range hostile {
		var got, want string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Errorf("%q: encoded as %s, which does not parse: %v", s, appendJSONString(nil, s), err)
			continue
		}
		theirs, _ := json.Marshal(s)
		json.Unmarshal(theirs, &want)
		if got != want {
			t.Errorf("%q: read back as %q, encoding/json's own as %q", s, got, want)
		}
		if strings.ContainsAny(string(appendJSONString(nil, s)), "\n\r\u2028\u2029") {
			t.Errorf("%q: the encoding holds a raw line end", s)
		}
	}
}

// TestRecordJSON: a record written by hand reads back equal, with its
// optional fields omitted when zero, as the tags say.
func TestRecordJSON(t *testing.T) {
	created := time.Date(2026, 12, 5, 16, 30, 1, 123456789, time.FixedZone("x", 3600))
	for _, s := range hostile {
		for _, r := range []Record{
			{Name: s, Socket: "/tmp/" + s, Program: s, PID: 42, StartTime: 1 << 40, Created: created, Maker: "keeper"},
			{Name: "n", Socket: "/s", Program: "p", PID: 7, StartTime: 9, Created: created, Maker: "dtach", Child: 8, ChildStart: 10, Command: s},
		} {
			var back Record
			if err := json.Unmarshal(r.json(), &back); err != nil {
				t.Fatalf("%s does not parse: %v", r.json(), err)
			}
			theirs, _ := json.Marshal(r)
			var want Record
			json.Unmarshal(theirs, &want)
			if !reflect.DeepEqual(back, want) || !back.Created.Equal(r.Created) {
				t.Errorf("read back %+v, want %+v", back, want)
			}
			if r.Child == 0 && strings.Contains(string(r.json()), "child") {
				t.Errorf("%s: zero child fields written", r.json())
			}
		}
	}
}

// TestSessionStatusJSON: a status written by hand reads back as the one
// encoding/json writes, zero fields left out as its tags say.
func TestSessionStatusJSON(t *testing.T) {
	for _, st := range []SessionStatus{
		{PID: 1, Screen: "off"},
		{PID: 2, Clients: 3, Attach: 1, Screen: "stale", Overruns: 4, Output: 1 << 40, Cols: 80, Rows: 24,
			Scrollback: 5, AltScreen: true, Title: hostile[3], Log: hostile[4], LogDropped: 6, LogError: hostile[2]},
	} {
		mine, theirs := map[string]any{}, map[string]any{}
		if err := json.Unmarshal(st.json(), &mine); err != nil {
			t.Fatalf("%s does not parse: %v", st.json(), err)
		}
		b, _ := json.Marshal(st)
		json.Unmarshal(b, &theirs)
		if !reflect.DeepEqual(mine, theirs) {
			t.Errorf("by hand %v\nencoding/json %v", mine, theirs)
		}
	}
}
