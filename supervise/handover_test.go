package supervise

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"keeper/detach"
)

func TestHandoverRoundTrip(t *testing.T) {
	start := time.Date(2026, 12, 5, 16, 0, 0, 123, time.UTC)
	h := &handover{Execs: 3, Control: 7, Processes: []handedProcess{
		{Name: "web:web_0", State: Running, Pid: 4242, StartTime: 99, Laststart: start, ExitStatus: 0,
			Starts: 2, Stdin: 8, Stdout: 9, Stderr: -1, StdoutLog: "/var/log/web.log"},
		{Name: "batch", State: Exited, Laststart: start, Laststop: start.Add(time.Minute), ExitStatus: 3,
			Backoff: 1, SpawnErr: "", Stdin: -1, Stdout: -1, Stderr: -1},
	}, Verified: map[string]detach.Record{"/run/keeper/sessions/web/77.session": {Name: "dtach_1",
		Socket: "/tmp/s/dtach_1", Program: "web:web_0", PID: 77, StartTime: 5, Created: start, Maker: "dtach",
		Child: 78, ChildStart: 6, Command: "ssh -t host"}}, MovedSessions: map[int]uint64{77: 5}}
	b, err := encodeHandover(h)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), handoverName)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readHandover(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, h)
	}
	if p := got.logPath("web:web_0", "stdout"); p != "/var/log/web.log" {
		t.Errorf("logPath = %q", p)
	}
}

// A handover file the daemon did not write itself is refused: one owned by
// another user, a symlink to one, or one that is not a handover.
func TestHandoverRefused(t *testing.T) {
	dir := t.TempDir()
	good, _ := encodeHandover(&handover{Control: 3})
	foreign := filepath.Join(dir, "foreign.json")
	os.WriteFile(foreign, good, 0o600)
	link := filepath.Join(dir, "link.json")
	own := filepath.Join(dir, "own.json")
	os.WriteFile(own, good, 0o600)
	os.Symlink(own, link)
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("{\"Control\": \"three\""), 0o600)
	cases := []struct {
		name, path, want string
	}{
		{"symlink", link, "symlink"},
		{"not a handover", garbage, "decode handover"},
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(foreign, 65534, -1); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ name, path, want string }{"foreign owner", foreign, "owned by uid 65534"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readHandover(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("readHandover(%s) = %v, want an error with %q", c.name, err, c.want)
			}
		})
	}
	if _, err := readHandover(own); err != nil {
		t.Errorf("own file refused: %v", err)
	}
}
