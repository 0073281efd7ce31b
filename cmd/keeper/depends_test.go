package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// dependsConf is a chain a <- b <- c (c depends on b, b on a) whose
// priorities say the opposite order, and a program that depends on one
// that can never start. Each program notes its start and its SIGTERM.
const dependsConf = `
[program:a]
command=/bin/sh -c 'echo start a >> @DIR@/order; trap "echo stop a >> @DIR@/order; exit 0" TERM; while :; do @DIR@/sleepy 1 & wait; done'
priority=300
startsecs=1

[program:b]
command=/bin/sh -c 'echo start b >> @DIR@/order; trap "echo stop b >> @DIR@/order; exit 0" TERM; while :; do @DIR@/sleepy 1 & wait; done'
priority=200
startsecs=1
depends_on=a

[program:c]
command=/bin/sh -c 'echo start c >> @DIR@/order; trap "echo stop c >> @DIR@/order; exit 0" TERM; while :; do @DIR@/sleepy 1 & wait; done'
priority=100
startsecs=1
depends_on=b

[program:broken]
command=/bin/sh -c 'exit 1'
startretries=0

[program:needy]
command=@DIR@/sleepy 1000
depends_on=broken
`

// TestDependsOn: start order follows depends_on over priority, a stop takes
// the dependents first, a start brings up what is missing, shutdown stops in
// reverse order, a failed dependency leaves its dependent STOPPED with the
// reason, and a cycle is refused at load with the cycle spelled out.
func TestDependsOn(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, dependsConf)
	orderFile := filepath.Join(k.dir, "order")
	// events waits until the order file has n more lines and returns them.
	seen := 0
	events := func(what string, n int) []string {
		t.Helper()
		var all []string
		waitFor(t, what, 20*time.Second, func() bool {
			all = strings.Split(strings.TrimSpace(readFileOrEmpty(orderFile)), "\n")
			return len(all) >= seen+n
		})
		got := all[seen : seen+n]
		seen += n
		return got
	}
	k.start()
	if got, want := events("a, b and c to start", 3), []string{"start a", "start b", "start c"}; !slices.Equal(got, want) {
		t.Errorf("start order %q, want %q (depends_on over priority)", got, want)
	}
	k.waitState("c", 10*time.Second, "RUNNING")
	s := k.waitState("needy", 10*time.Second, "STOPPED")
	if desc := rpcField[string](s, "description"); !strings.Contains(desc, "broken, which it depends on, is FATAL") {
		t.Errorf("needy's description %q, want the FATAL dependency named", desc)
	}

	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "stop", "b"); code != 0 || !strings.Contains(out, "b: stopped") {
		t.Fatalf("keeper stop b: exit %d: %s", code, out)
	}
	if got, want := events("c, then b, to stop", 2), []string{"stop c", "stop b"}; !slices.Equal(got, want) {
		t.Errorf("stop b: order %q, want %q", got, want)
	}
	if st := statename(k.info("a")); st != "RUNNING" {
		t.Errorf("stop b stopped a too: %s", st)
	}

	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "start", "c"); code != 0 || out != "b: started (c depends on it)\nc: started\n" {
		t.Fatalf("keeper start c: exit %d: %s", code, out)
	}
	if got, want := events("b, then c, to start", 2), []string{"start b", "start c"}; !slices.Equal(got, want) {
		t.Errorf("start c: order %q, want %q", got, want)
	}
	if st := statename(k.info("b")); st != "RUNNING" {
		t.Errorf("after start c, b is %s, want RUNNING", st)
	}

	k.cmd.Process.Signal(os.Interrupt)
	<-k.exited
	if got, want := events("c, b, a to stop at shutdown", 3), []string{"stop c", "stop b", "stop a"}; !slices.Equal(got, want) {
		t.Errorf("shutdown order %q, want %q", got, want)
	}
}

// TestDependsOnRefused: unknown names and cycles are load errors with file,
// line and the cycle.
func TestDependsOnRefused(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	for _, tt := range []struct{ conf, want string }{
		{"[program:a]\ncommand=true\ndepends_on=b\n\n[program:b]\ncommand=true\ndepends_on=c\n\n[program:c]\ncommand=true\ndepends_on=a\n",
			`keeper.conf:3: [program:a] depends_on: a dependency cycle: a -> b -> c -> a`},
		{"[program:a]\ncommand=true\ndepends_on=nothere\n",
			`keeper.conf:3: [program:a] depends_on: "nothere" is not a [program:] section`},
	} {
		conf := filepath.Join(dir, "keeper.conf")
		if err := os.WriteFile(conf, []byte(tt.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := runCmd(t, dir, keeperBin, "daemon", "-n", "-c", conf)
		if code == 0 || !strings.Contains(out, tt.want) {
			t.Errorf("keeper daemon on a bad depends_on: exit %d, %q; want a failure with %q", code, out, tt.want)
		}
	}
}
