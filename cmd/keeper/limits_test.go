package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"keeper/internal/peer"
)

// nofileLimits reads the soft and hard "Max open files" of pid.
func nofileLimits(t *testing.T, pid int) (soft, hard string) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Max open files"); ok {
			fields := strings.Fields(rest)
			return fields[0], fields[1]
		}
	}
	t.Fatalf("no Max open files in /proc/%d/limits", pid)
	return "", ""
}

// TestDaemonMinfds: started under a hard descriptor limit below
// [supervisord] minfds, the daemon raises it when it may (root with
// CAP_SYS_RESOURCE), and otherwise refuses to start with what to do, as
// supervisord does. (Go already raises the soft limit to the hard one.)
func TestDaemonMinfds(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, "")
	k.setSections("", "minfds=4096\n")
	k.wrap = []string{peer.Need(t, "prlimit"), "--nofile=256:512"}
	if !hasCapability(t, unix.CAP_SYS_RESOURCE) {
		argv := append(slices.Clone(k.wrap), keeperBin, "daemon", "-n", "-c", k.conf)
		out, code := runCmd(t, k.dir, argv...)
		if code == 0 || !strings.Contains(out, "raise the limit for minfds=4096") || !strings.Contains(out, "lower minfds") {
			t.Errorf("minfds above a hard limit it may not raise: exit %d, %q; want a failure saying what to do", code, out)
		}
		return
	}
	k.start()
	if soft, hard := nofileLimits(t, k.cmd.Process.Pid); soft != "4096" || hard != "4096" {
		t.Errorf("daemon's descriptor limit %s/%s under minfds=4096 started at 256/512, want 4096/4096", soft, hard)
	}
}

// hasCapability reports whether the test process has capability c in its
// effective set.
func hasCapability(t *testing.T, c int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<c) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

// TestDaemonOutOfDescriptors: clients that use up the daemon's descriptors
// (EMFILE on accept) make it back off and log it, not stop serving: once
// they hang up, the control socket answers again.
func TestDaemonOutOfDescriptors(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, "")
	k.setSections("", "minfds=1\n")
	k.wrap = []string{peer.Need(t, "prlimit"), "--nofile=40:40"}
	k.start()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Each accepted connection costs the daemon a descriptor; the rest
	// wait in the listen backlog.
	for range 60 {
		c, err := net.DialTimeout("unix", k.sock, time.Second)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	k.waitLog("accepting again with backoff", 10*time.Second)
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	k.waitAnswers(10 * time.Second)
	if _, err := k.call("supervisor.getAllProcessInfo"); err != nil {
		t.Errorf("after the descriptors came back: %v", err)
	}
}
