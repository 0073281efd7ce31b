package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"keeper/internal/peer"
)

// TestAttachRestoresTerminal: whatever ends an attached client (the detach
// key, the end of the session, SIGTERM, SIGHUP), the terminal's settings
// are back as they were when the shell gets it back.
func TestAttachRestoresTerminal(t *testing.T) {
	dir := testDir(t)
	ends := []struct {
		name   string
		end    func(c *term, sock string)
		status string
	}{
		{"detach key", func(c *term, _ string) { c.send(detachKey) }, "0"},
		{"custom detach key", func(c *term, _ string) { c.send("\x01") }, "0"},
		{"session end", func(c *term, _ string) { c.send("exit\r") }, "0"},
		{"SIGTERM", func(c *term, _ string) { signalClient(t, c, syscall.SIGTERM) }, "1"},
		{"SIGHUP", func(c *term, _ string) { signalClient(t, c, syscall.SIGHUP) }, "1"},
	}
	for i, tc := range ends {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(dir, "s"+string(rune('a'+i)))
			if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh"); code != 0 {
				t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
			}
			detach := ""
			if tc.name == "custom detach key" {
				detach = "-e ^A"
			}
			script := `before=$(stty -g); echo "BEFORE[$before]"; ` + keeperBin + ` attach ` + detach + ` ` + sock +
				`; echo "STATUS[$?]"; echo "AFTER[$(stty -g)]"; sleep 30`
			c := startTerm(t, dir, nil, "sh", "-c", script)
			before := c.expect(`BEFORE\[[^\]]*\]`, 5*time.Second)
			c.expect(`\x1b\[H\x1b\[J`, 5*time.Second) // attached
			c.send("echo attached-$((40+2))\r")
			c.expect("attached-42", 5*time.Second)
			// While attached, the terminal is raw: no echo, no signals.
			if tio, err := unix.IoctlGetTermios(int(c.pty.Fd()), unix.TCGETS); err != nil {
				t.Fatal(err)
			} else if tio.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 {
				t.Errorf("terminal not in raw mode while attached: lflag %#o", tio.Lflag)
			}
			tc.end(c, sock)
			if got := c.expect(`STATUS\[\d+\]`, 5*time.Second); got != "STATUS["+tc.status+"]" {
				t.Errorf("exit status %s, want %s", got, tc.status)
			}
			after := c.expect(`AFTER\[[^\]]*\]`, 5*time.Second)
			if strings.TrimPrefix(after, "AFTER") != strings.TrimPrefix(before, "BEFORE") {
				t.Errorf("terminal settings not restored:\nbefore %s\nafter  %s", before, after)
			}
			if !strings.Contains(c.output(), "\x1b[?25h") {
				t.Error("the cursor was not made visible again")
			}
		})
	}
}

// signalClient signals the keeper attach process running in c's terminal.
func signalClient(t *testing.T, c *term, sig syscall.Signal) {
	t.Helper()
	for _, pid := range pidsMentioning(keeperBin + "\x00attach") {
		if strconv.Itoa(procStat(pid).PPID) == c.pidString() {
			syscall.Kill(pid, sig)
			return
		}
	}
	t.Fatal("no keeper attach process found in the terminal")
}

func (tm *term) pidString() string { return itoa(tm.cmd.Process.Pid) }

func itoa(n int) string { return strconv.Itoa(n) }

// TestAttachSuspend: the suspend key detaches the client and stops it, as
// dtach's does, back to the shell's job control; fg attaches it again.
func TestAttachSuspend(t *testing.T) {
	bash := peer.Need(t, "bash")
	dir := testDir(t)
	sock := filepath.Join(dir, "z")
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh"); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	c := startTerm(t, dir, []string{"PS1=shell$ "}, bash, "--norc", "--noprofile", "-i")
	c.expect(`shell\$ `, 5*time.Second)
	c.send(keeperBin + " attach " + sock + "\r")
	c.expect(`\x1b\[H\x1b\[J`, 5*time.Second)
	c.send("echo one-$((1+1))\r")
	c.expect("one-2", 5*time.Second)
	if m := socketMode(t, sock); m != 0o700 {
		t.Fatalf("socket mode %o while attached, want 700", m)
	}
	c.send("\x1a") // ^Z, the terminal's VSUSP
	c.expect(`Stopped`, 5*time.Second)
	waitFor(t, "the session to see its client detached", 5*time.Second, func() bool { return socketMode(t, sock) == 0o600 })
	c.send("fg\r")
	waitFor(t, "the client to attach again", 5*time.Second, func() bool { return socketMode(t, sock) == 0o700 })
	c.send("echo two-$((1+2))\r")
	c.expect("two-3", 5*time.Second)
	c.send(detachKey)
	c.expect(`\[detached\]`, 5*time.Second)
	c.expect(`shell\$ `, 5*time.Second)
	c.send("exit\r")
	c.wait(5 * time.Second)
}
