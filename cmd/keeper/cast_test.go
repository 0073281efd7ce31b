package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keeper/detach"
	"keeper/internal/peer"
)

// TestSessionRecording: keeper dtach --log, and KEEPER_SESSION_LOG naming a
// directory, record the session as an asciicast that Debian's asciinema
// plays back to exactly what the program printed.
func TestSessionRecording(t *testing.T) {
	t.Parallel()
	asciinema := peer.Need(t, "asciinema")
	dir := testDir(t)
	prog := "printf 'hello\\nworld \\342\\202\\254 done\\n'; exec sleep 600"
	want := "hello\r\nworld € done\r\n" // the pty turns \n into \r\n

	logged := filepath.Join(dir, "by-flag.cast")
	flag := filepath.Join(dir, "f")
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", flag, "--log", logged, "sh", "-c", prog); code != 0 {
		t.Fatalf("keeper dtach -n --log: exit %d: %s", code, out)
	}
	casts := filepath.Join(dir, "casts")
	if err := os.Mkdir(casts, 0o700); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, "e")
	cmd := exec.Command(keeperBin, "dtach", "-n", env, "sh", "-c", prog)
	cmd.Env = append(os.Environ(), detach.SessionLogEnv+"="+casts)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("keeper dtach -n with %s: %v: %s", detach.SessionLogEnv, err, out)
	}

	for sock, cast := range map[string]string{flag: logged, env: filepath.Join(casts, "e.cast")} {
		waitFor(t, "the session's status to name its recording", 5*time.Second, func() bool {
			st, err := detach.QueryStatus(sock, 2*time.Second)
			return err == nil && st.Log == cast && st.Output >= int64(len(want))
		})
		// asciinema cat wants a terminal; the pty adds a \r before each \n.
		waitFor(t, "the recording to hold the output", 5*time.Second, func() bool {
			return strings.Contains(readFileOrEmpty(cast), "done")
		})
		c := startTerm(t, dir, nil, asciinema, "cat", cast)
		if code := c.wait(10 * time.Second); code != 0 {
			t.Fatalf("asciinema cat %s: exit %d: %q", cast, code, c.output())
		}
		if out := strings.ReplaceAll(c.output(), "\r", ""); out != strings.ReplaceAll(want, "\r", "") {
			t.Errorf("asciinema cat %s: %q, want %q", cast, out, want)
		}
	}
	if _, code := runCmd(t, dir, keeperBin, "dtach", "-n", filepath.Join(dir, "bad"), "--log", filepath.Join(dir, "no/such/dir/x.cast"), "true"); code == 0 {
		t.Error("a recording that cannot be created did not fail the start")
	}
	if strings.Contains(readFileOrEmpty(logged), "\x00") {
		t.Error("NUL bytes in the recording")
	}
}

// TestTailRecording: keeper tail SESSION shows a recorded session's output
// as text, -BYTES its end, and says so for a session that is not recorded.
func TestTailRecording(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:rec]
command=/bin/sh -c '`+keeperBin+` dtach -n @DIR@/rec.sock --log @DIR@/rec.cast /bin/sh -c "echo first-line; echo second-line; exec sleep 1000"; `+keeperBin+` dtach -n @DIR@/plain.sock @DIR@/sleepy 1000; exec @DIR@/sleepy 1001'
startsecs=0
`)
	k.start()
	var out string
	waitFor(t, "keeper tail of the recorded session", 10*time.Second, func() bool {
		out, _ = runKeeper(t, k.dir, keeperBin, "-c", k.conf, "tail", "rec.sock")
		return strings.Contains(out, "first-line\r\nsecond-line\r\n")
	})
	if out, _ := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "tail", "-13", "rec.sock"); out != "second-line\r\n" {
		t.Errorf("keeper tail -13 rec.sock: %q, want the last 13 bytes", out)
	}
	waitFor(t, "the plain session", 10*time.Second, func() bool {
		out, _ := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "sessions")
		return strings.Contains(out, "plain.sock")
	})
	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "tail", "plain.sock"); code != 1 || !strings.Contains(out, "not recorded") {
		t.Errorf("keeper tail of a session not recorded: exit %d, %q", code, out)
	}
	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "tail", "nosuch"); code != 1 || !strings.Contains(out, "no such process name") {
		t.Errorf("keeper tail nosuch: exit %d, %q (supervisorctl's answer)", code, out)
	}
}
