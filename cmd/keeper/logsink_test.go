package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
)

// stdoutProgram writes a numbered line every 0.2 s to stdout_logfile=/dev/stdout,
// with stdout_logfile_maxbytes left at its default (50MB).
const stdoutProgram = `[program:talker]
command=sh -c 'i=0; while i=$((i+1)); do echo talkerline$i; @DIR@/sleepy 0.2; done'
stdout_logfile=/dev/stdout
startsecs=0
`

// TestLogToDevStdout: a program logging to /dev/stdout with the default
// maxbytes reaches the foreground daemon's stdout under keeper, while
// supervisord 4.2.5, in the same config, fails on its rotation's seek.
func TestLogToDevStdout(t *testing.T) {
	k := newKeeperd(t, stdoutProgram)
	k.start()
	waitFor(t, "talkerline3 on keeper's stdout", 20*time.Second, func() bool {
		return strings.Contains(k.output.String(), "talkerline3\n")
	})
	if out := k.output.String(); strings.Contains(out, "Illegal seek") || strings.Contains(out, "illegal seek") {
		t.Errorf("keeper failed on a seek:\n%s", out)
	}

	sv := newKeeperd(t, stdoutProgram) // only its directory and config
	cmd := exec.Command(peer.Need(t, "supervisord"), "-n", "-c", sv.conf)
	cmd.Dir = sv.dir
	cmd.Stdout, cmd.Stderr = sv.output, sv.output
	if err := cmd.Start(); err != nil {
		t.Fatalf("start supervisord: %v", err)
	}
	ownChild(cmd.Process.Pid, true)
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		ownChild(cmd.Process.Pid, false)
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	waitFor(t, "supervisord's Illegal seek", 20*time.Second, func() bool {
		return strings.Contains(sv.output.String(), "Illegal seek")
	})
}
