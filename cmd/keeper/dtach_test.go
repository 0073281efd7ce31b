package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/detach"
	"keeper/internal/peer"
)

const (
	detachKey = "\x1c" // ^\
	eofLine   = "[EOF - dtach terminating]"
)

// TestDtachMessagesMatchDtach runs the same mistakes through the real dtach
// and keeper as dtach and compares output and exit status.
func TestDtachMessagesMatchDtach(t *testing.T) {
	real := peer.Need(t, "dtach")
	dir := testDir(t)
	notSocket := filepath.Join(dir, "file")
	os.WriteFile(notSocket, nil, 0o600)
	stale := filepath.Join(dir, "stale")
	makeStaleSocket(t, stale)
	cases := [][]string{
		{},
		{"x"},
		{"-x"},
		{"-c"},
		{"-c", "s"},
		{"-c", "s", "-e"},
		{"-c", "s", "-r"},
		{"-c", "s", "-r", "sometimes", "sh"},
		{"-c", "s", "-Eq", "sh"},
		{"-a", "s", "extra"},
		{"-a", "s"},
		{"-A", "s", "sh"},
		{"-p", "s", "extra"},
		{"-p", filepath.Join(dir, "missing")},
		{"-p", notSocket},
		{"-p", stale},
		{"-n", stale, "sh"},
		{"-n", notSocket, "sh"},
		{"-n", filepath.Join(dir, "nodir", "s"), "sh"},
		{"-n", filepath.Join(dir, "exec"), filepath.Join(dir, "no-such-program")},
		{"-N", filepath.Join(dir, "exec2"), filepath.Join(dir, "no-such-program")},
		// Searched for in $PATH, and a file that is not executable.
		{"-n", filepath.Join(dir, "exec3"), "keeper-no-such-program"},
		{"-n", filepath.Join(dir, "exec4"), notSocket},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want, wantCode := runCmd(t, dir, append([]string{real}, args...)...)
			got, gotCode := runCmd(t, dir, append([]string{dtachLink}, args...)...)
			want = strings.ReplaceAll(want, real, dtachLink)
			if got != want || gotCode != wantCode {
				t.Errorf("dtach %q:\nkeeper: %q (exit %d)\ndtach:  %q (exit %d)", args, got, gotCode, want, wantCode)
			}
		})
	}
	for _, name := range []string{"exec", "exec2", "exec3", "exec4"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("a failed exec left the socket %s behind", name)
		}
	}
}

func makeStaleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
}

func socketMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat socket: %v", err)
	}
	return fi.Mode().Perm()
}

// TestCreateDetachReattach is the basic life of a session: create it
// attached, type, detach, attach again, end it.
func TestCreateDetachReattach(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "s")
	c := startTerm(t, dir, []string{"PS1=$ "}, keeperBin, "dtach", "-c", sock, "sh")
	c.expect(`\$ `, 5*time.Second)
	c.send("echo hel''lo\r")
	c.expect("hello", 5*time.Second)
	if m := socketMode(t, sock); m != 0o700 {
		t.Errorf("socket mode while attached = %o, want 700", m)
	}
	c.send(detachKey)
	c.expect(`\[detached\]`, 5*time.Second)
	if code := c.wait(5 * time.Second); code != 0 {
		t.Errorf("detach exit status = %d, want 0", code)
	}
	waitFor(t, "socket mode 600 after detach", 5*time.Second, func() bool { return socketMode(t, sock) == 0o600 })

	a := startTerm(t, dir, nil, keeperBin, "attach", sock)
	a.send("echo again$((1+1))\r")
	a.expect("again2", 5*time.Second)
	a.send("exit\r")
	a.expect(regexpQuote(eofLine), 5*time.Second)
	if code := a.wait(5 * time.Second); code != 0 {
		t.Errorf("exit status at session end = %d, want 0", code)
	}
	waitFor(t, "socket removed", 5*time.Second, func() bool {
		_, err := os.Lstat(sock)
		return os.IsNotExist(err)
	})
	waitFor(t, "master gone", 5*time.Second, func() bool { return len(pidsMentioning(sock)) == 0 })
}

// TestMasterSettings: the master runs with GOMAXPROCS=1 and
// GODEBUG=profstackdepth=0 from its first instruction (less memory), and
// its program still sees the caller's.
func TestMasterSettings(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "s")
	c := startTerm(t, dir, []string{"GOMAXPROCS=3", "GODEBUG=gctrace=0"}, keeperBin, "dtach", "-c", sock,
		"sh", "-c", `echo "gmp=[$GOMAXPROCS] debug=[$GODEBUG] saved=[$KEEPER_SAVED_GOMAXPROCS$KEEPER_SAVED_GODEBUG]"; read x`)
	c.expect(`gmp=\[3\] debug=\[gctrace=0\] saved=\[\]`, 5*time.Second)
	var masters []int
	for _, pid := range pidsMentioning(sock) {
		argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if slices.Contains(strings.Split(string(argv), "\x00"), detach.MasterCommand) {
			masters = append(masters, pid)
		}
	}
	if len(masters) != 1 {
		t.Fatalf("masters of %s: %v", sock, masters)
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", masters[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOMAXPROCS=1", "GODEBUG=profstackdepth=0"} {
		if !slices.Contains(strings.Split(string(env), "\x00"), want) {
			t.Errorf("the master was started without %s: %q", want, env)
		}
	}
	c.send("\r")
	if code := c.wait(5 * time.Second); code != 0 {
		t.Errorf("exit status at session end = %d, want 0", code)
	}
}

func regexpQuote(s string) string {
	r := strings.NewReplacer("[", `\[`, "]", `\]`, ".", `\.`, "-", `\-`)
	return r.Replace(s)
}

// TestGateOneCommandLine runs Gate One's ssh plugin command lines with
// keeper first in PATH as dtach: the program's own flags stay its own.
func TestGateOneCommandLine(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "gateone")
	path := "PATH=" + filepath.Dir(dtachLink) + ":" + os.Getenv("PATH")
	prog := `stty -isig; printf 'args:%s|' "$@"; echo; read line; echo "got:$line"; sleep 60`
	c := startTerm(t, dir, []string{path}, "sh", "-c", `exec dtach -c "$0" -E -z -r none sh -c "$1" prog -S /tmp/x -a --sshfp`, sock, prog)
	c.expect(`args:-S\|args:/tmp/x\|args:-a\|args:--sshfp\|`, 5*time.Second)
	// -E: the detach key goes to the program like any other byte.
	c.send(detachKey + "typed\r")
	c.expect("got:.*typed", 5*time.Second)
	c.cmd.Process.Signal(syscall.SIGHUP)
	c.expect(`\[detached\]`, 5*time.Second)
	c.wait(5 * time.Second)

	r := startTerm(t, dir, []string{path}, "sh", "-c", `exec dtach -a "$0" -E -z -r none`, sock)
	r.expect(`\x1b\[H\x1b\[J`, 5*time.Second) // attached: dtach clears the screen
	r.send("\r")
	r.cmd.Process.Signal(syscall.SIGHUP)
	r.expect(`\[detached\]`, 5*time.Second)
	if code := r.wait(5 * time.Second); code != 1 {
		t.Errorf("exit status after SIGHUP = %d, want 1 as dtach", code)
	}
	if pids := pidsMentioning(sock); len(pids) == 0 {
		t.Fatal("the session ended; it should outlive its clients")
	}
}
