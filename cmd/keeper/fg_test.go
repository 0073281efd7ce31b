package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"keeper/internal/peer"
)

// fgConf: a program that answers each line on stdout and on stderr, and
// one that is not running.
const fgConf = `
[program:echoer]
command=/bin/sh -c 'while read l; do echo "got $l"; echo "err $l" >&2; done'
startsecs=0

[program:idle]
command=@DIR@/sleepy 1000
autostart=false
`

// TestFgCompare: keeper fg and Debian's supervisorctl fg, both against
// keeper's daemon, say the same for bad uses, and both follow the
// program's output and send it typed lines.
func TestFgCompare(t *testing.T) {
	t.Parallel()
	supervisorctl := peer.Need(t, "supervisorctl")
	k := newKeeperd(t, fgConf)
	k.start()
	k.waitState("echoer", 10*time.Second, "RUNNING")
	clients := map[string]string{"supervisorctl": supervisorctl, "keeper": keeperBin}
	for _, args := range [][]string{{"fg"}, {"fg", "a", "b"}, {"fg", "nosuch"}, {"fg", "idle"}} {
		got := map[string]ctlRun{}
		for name, bin := range clients {
			r, err := runClient(k.dir, append([]string{bin, "-c", k.conf}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			got[name] = r
		}
		if got["keeper"] != got["supervisorctl"] {
			t.Errorf("%q: keeper %+v; supervisorctl %+v", args, got["keeper"], got["supervisorctl"])
		}
	}
	for name, bin := range clients {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, "-c", k.conf, "fg", "echoer")
			cmd.Dir = k.dir
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			waitFor(t, "the banner", 10*time.Second, func() bool { return strings.Contains(out.String(), "==> Press Ctrl-C to exit <==") })
			stdin.Write([]byte("hello-" + name + "\n"))
			waitFor(t, "the answers on stdout and stderr", 10*time.Second, func() bool {
				return strings.Contains(out.String(), "got hello-"+name) && strings.Contains(out.String(), "err hello-"+name)
			})
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("%s fg: %v\n%s", name, err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if lines[0] != "==> Press Ctrl-C to exit <==" || !slices.Contains(lines, "Exiting foreground") {
				t.Errorf("%s fg printed %q", name, out.String())
			}
			if s := statename(k.info("echoer")); s != "RUNNING" {
				t.Errorf("after %s fg, echoer is %s", name, s)
			}
		})
	}
}
