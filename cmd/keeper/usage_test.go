package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"keeper/internal/peer"
	"keeper/supervise"
	"keeper/supervise/xmlrpc"
)

// TestResourceUsage: status --json and -v and keeper sessions --json show
// what programs and sessions cost, summed over their trees: a program
// holding 100 MB shows it (within 10 %, plus the interpreter), forty
// children of one program are counted, a busy loop uses most of a core,
// and a session whose pty program holds memory shows it.
func TestResourceUsage(t *testing.T) {
	t.Parallel()
	python := peer.Need(t, "python3")
	const mb = 100
	hold := python + " @DIR@/hold.py"
	k := newKeeperd(t, fmt.Sprintf(`
[program:holder]
command=%s
startsecs=0

[program:forty]
command=/bin/sh -c 'for i in $(seq 40); do @DIR@/sleepy 1000 & done; wait'
startsecs=0

[program:busy]
command=/bin/sh -c 'while :; do :; done'
startsecs=0

[program:term]
command=/bin/sh -c '%s dtach -n @DIR@/t.sock %s; exec @DIR@/sleepy 1001'
startsecs=0
`, hold, keeperBin, hold))
	script := fmt.Sprintf("import time\nb = bytearray(%d << 20)\nb[::4096] = b'x' * len(b[::4096])\ntime.sleep(1000)\n", mb)
	if err := os.WriteFile(filepath.Join(k.dir, "hold.py"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	k.start()

	type status struct {
		Namespec string `json:"namespec"`
		Usage    *struct {
			RSS        uint64  `json:"rss_bytes"`
			CPUPercent float64 `json:"cpu_percent"`
			Processes  int     `json:"processes"`
		} `json:"usage"`
	}
	usage := map[string]status{}
	read := func() {
		out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "status", "--json")
		var list []status
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
			t.Fatalf("keeper status --json: exit %d: %s", code, out)
		}
		for _, s := range list {
			usage[s.Namespec] = s
		}
	}
	waitFor(t, "holder's memory, forty's children and busy's CPU", 20*time.Second, func() bool {
		read()
		h, f, b := usage["holder"].Usage, usage["forty"].Usage, usage["busy"].Usage
		return h != nil && h.RSS >= mb<<20 && f != nil && f.Processes == 41 && b != nil && b.CPUPercent > 30
	})
	if rss := usage["holder"].Usage.RSS; rss > mb<<20*11/10+32<<20 {
		t.Errorf("holder's RSS %d MB, want about %d MB (and the interpreter)", rss>>20, mb)
	}
	out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "status", "-v")
	if code != 0 || !strings.Contains(out, "MEM") || !strings.Contains(out, "PROCS") {
		t.Errorf("keeper status -v: exit %d:\n%s", code, out)
	}

	waitFor(t, "the session's memory", 20*time.Second, func() bool {
		out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "sessions", "--json")
		var list []sessionJSON
		return code == 0 && json.Unmarshal([]byte(out), &list) == nil && len(list) == 1 &&
			list[0].Usage != nil && list[0].Usage.RSS >= mb<<20
	})
	// keeper sessions reads them with the list, in one call; without its
	// true, keeper.getSessions answers as before.
	for _, tc := range []struct {
		args      []any
		withUsage bool
	}{{[]any{[]any{}}, false}, {[]any{[]any{}, true}, true}} {
		list, _ := k.mustCall("keeper.getSessions", tc.args...).([]any)
		if len(list) != 1 {
			t.Fatalf("keeper.getSessions%v: %d sessions, want 1", tc.args, len(list))
		}
		rss, ok := list[0].(xmlrpc.Struct).Get("rss_kb")
		if ok != tc.withUsage || ok && rss.(int) < mb<<10 {
			t.Errorf("keeper.getSessions%v: rss_kb %v (%v), want usage %v", tc.args, rss, ok, tc.withUsage)
		}
	}
	// And keeper.getSessionUsage, the usage alone.
	usages, err := supervise.DecodeUsages(k.mustCall("keeper.getSessionUsage", []any{}), "socket")
	if u := usages[filepath.Join(k.dir, "t.sock")]; err != nil || len(usages) != 1 || u.RSS < mb<<20 {
		t.Errorf("keeper.getSessionUsage: %v (%v), want t.sock's %d MB", usages, err, mb)
	}
}

// TestTop: keeper top on a terminal (a pty of the test's, then tmux) shows the programs and their sessions,
// re-sorts on a key and quits on q, leaving the terminal as it was; without
// a terminal -n prints that many frames.
func TestTop(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:web]
command=@DIR@/sleepy 1000
startsecs=0

[program:term]
command=/bin/sh -c '`+keeperBin+` dtach -n @DIR@/t.sock @DIR@/sleepy 1000; exec @DIR@/sleepy 1001'
startsecs=0
`)
	k.start()
	k.waitState("term", 5*time.Second, "RUNNING")
	waitFor(t, "the session", 10*time.Second, func() bool {
		out, _ := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "sessions")
		return strings.Contains(out, "t.sock")
	})
	c := startTerm(t, k.dir, nil, keeperBin, "-c", k.conf, "top", "-d", "0.2")
	c.expect(`sort: mem(.|\n)*web +RUNNING(.|\n)*session t.sock`, 10*time.Second)
	c.send("c")
	c.expect(`sort: cpu`, 5*time.Second)
	c.send("q")
	if code := c.wait(5 * time.Second); code != 0 {
		t.Errorf("keeper top: exit %d after q: %q", code, c.output())
	}

	// In tmux, at 80x24: the same, on the alternate screen, and the pane
	// is as it was when top quits.
	t.Run("tmux", func(t *testing.T) {
		tm := startTmuxServer(t, k.dir)
		tm.must("new-session", "-d", "-s", "top", "-x", "80", "-y", "24",
			"sh", "-c", `before=$(stty -g); "$0" -c "$1" top -d 0.2; echo exit=$? same=$([ "$before" = "$(stty -g)" ] && echo yes); exec sleep 600`,
			keeperBin, k.conf)
		pane := func(what, re string) {
			t.Helper()
			var out string
			deadline := time.Now().Add(10 * time.Second)
			for !regexp.MustCompile(re).MatchString(out) {
				if time.Now().After(deadline) {
					t.Fatalf("no %s in tmux after 10s; the pane:\n%s", what, out)
				}
				time.Sleep(20 * time.Millisecond)
				out, _ = tm.run("capture-pane", "-p", "-t", "top")
			}
		}
		alternate := func() string {
			return strings.TrimSpace(tm.must("display-message", "-p", "-t", "top", "#{alternate_on}"))
		}
		pane("top's programs", `(?s)sort: mem.*(web +RUNNING.*session t\.sock|session t\.sock.*web +RUNNING)`)
		if alt := alternate(); alt != "1" {
			t.Errorf("top does not draw on the alternate screen (alternate_on=%s)", alt)
		}
		tm.must("send-keys", "-t", "top", "c")
		pane("top sorted by CPU", `sort: cpu`)
		tm.must("send-keys", "-t", "top", "q")
		pane("top's exit, the terminal's modes as they were", `exit=0 same=yes`)
		if alt := alternate(); alt != "0" {
			t.Errorf("after q the pane is still on the alternate screen (alternate_on=%s)", alt)
		}
	})

	out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "top", "-n", "2", "-d", "0.1")
	if code != 0 || strings.Count(out, "keeper top - ") != 2 || strings.Contains(out, "\x1b") {
		t.Errorf("keeper top -n 2 without a terminal: exit %d:\n%q", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 80 {
			t.Errorf("a line of %d columns: %q", len(line), line)
		}
	}
}
