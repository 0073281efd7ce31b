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
	"a plain run longer than the sixteen bytes looked at one by one, then \"quotes\" \\ and\x01 é\xff in it",
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

// TestPlainRun: the word-at-a-time scan stops where a byte-by-byte one
// does, for every byte value at every place in a word and after it.
func TestPlainRun(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	for c := range 256 {
		for at := range 20 {
			b := []byte(strings.Repeat("x", 24))
			b[at] = byte(c)
			want := len(b)
			if !plain(byte(c)) {
				want = at
			}
			if got := plainRun(b); got != want {
				t.Errorf("byte %#x at %d: plain run of %d, want %d", c, at, got, want)
			}
			if got := plainRun(string(b)); got != want {
				t.Errorf("byte %#x at %d in a string: plain run of %d, want %d", c, at, got, want)
			}
		}
	}
}

// TestPlainRunPairs: the first byte that must be escaped is found when
// another follows it in the same word (the word-at-a-time test flags bytes
// after the first one wrongly at times).
func TestPlainRunPairs(t *testing.T) {
	edges := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 0x7e, 0x7f, 0x80, 0xff}
	for _, c1 := range edges {
		for _, c2 := range edges {
			for a := range 10 {
				for b := a + 1; b < 12; b++ {
					s := []byte(strings.Repeat("x", 24))
					s[a], s[b] = c1, c2
					want := 0
					for want < len(s) && s[want] >= 0x20 && s[want] < 0x80 && s[want] != '"' && s[want] != '\\' {
						want++
					}
					if got := plainRun(s); got != want {
						t.Errorf("%q: plain run of %d, want %d", s, got, want)
					}
				}
			}
		}
	}
}
