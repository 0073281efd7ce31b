package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// tracer counts a master's system calls with strace -c -f while one
// workload runs; its figures explain a result but never count in it.
type tracer struct {
	dir string // where strace writes its summaries
	cmd *exec.Cmd
	out string
}

// start attaches strace to pid; name labels the summary file.
func (t *tracer) start(pid int, name string) error {
	t.out = filepath.Join(t.dir, name+".strace")
	t.cmd = exec.Command("strace", "-c", "-f", "-o", t.out, "-p", strconv.Itoa(pid))
	t.cmd.Stdout, t.cmd.Stderr = io.Discard, io.Discard
	if err := t.cmd.Start(); err != nil {
		return fmt.Errorf("start strace on %d: %w", pid, err)
	}
	// strace has no readiness signal worth parsing: give it time to
	// seize every thread of the master.
	time.Sleep(500 * time.Millisecond)
	return nil
}

// stop detaches strace and returns the head of its summary.
func (t *tracer) stop() (string, error) {
	_ = t.cmd.Process.Signal(os.Interrupt)
	_ = t.cmd.Wait()
	b, err := os.ReadFile(t.out)
	if err != nil {
		return "", fmt.Errorf("read strace summary: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 14 {
		lines = append(lines[:12], "  ...", lines[len(lines)-1])
	}
	return strings.Join(lines, "\n"), nil
}
