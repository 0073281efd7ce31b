package proctree

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a helper process instead of
// running tests: see runHelper.
const helperEnv = "PROCTREE_TEST_HELPER"

func TestMain(m *testing.M) {
	if spec, ok := os.LookupEnv(helperEnv); ok {
		runHelper(spec)
		return
	}
	// Grandchildren whose parent dies are re-parented to us, not to PID 1
	// (which does not reap here), so tests can reap them by pid.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "prctl(PR_SET_CHILD_SUBREAPER):", err)
		os.Exit(2)
	}
	code := m.Run()
	if n := reapLeftovers(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: tests left %d child processes behind\n", n)
		code = 1
	}
	os.Exit(code)
}

// reapLeftovers kills and reaps any child still around, reporting how many.
func reapLeftovers() int {
	s, err := Take()
	if err != nil {
		fmt.Fprintln(os.Stderr, "leftover check:", err)
		return 1
	}
	left := s.Descendants(os.Getpid())
	for _, p := range left {
		fmt.Fprintf(os.Stderr, "leftover: %+v\n", p)
		unix.Kill(p.PID, unix.SIGKILL)
	}
	for _, p := range left {
		var ws unix.WaitStatus
		unix.Wait4(p.PID, &ws, 0, nil)
	}
	return len(left)
}

// runHelper is the helper process. spec is a comma-separated list of:
//
//	comm=NAME       write NAME to /proc/self/comm
//	listen=PATH     listen on a unix socket at PATH ("@x" is abstract)
//	listenrel=DIR/NAME  chdir to DIR, then listen on the relative NAME
//	listenfd=DIR/NAME   listen on /proc/self/fd/N/NAME, N a descriptor of DIR
//	dgram=PATH      bind a datagram socket at PATH (not a listener)
//
// then prints "ready" and waits for stdin to close or to be killed.
func runHelper(spec string) {
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	var keep []io.Closer
	for item := range strings.SplitSeq(spec, ",") {
		key, val, _ := strings.Cut(item, "=")
		switch key {
		case "":
		case "comm":
			if err := os.WriteFile("/proc/self/comm", []byte(val), 0); err != nil {
				die(err)
			}
		case "listen":
			l, err := net.Listen("unix", val)
			if err != nil {
				die(err)
			}
			keep = append(keep, l)
		case "listenrel":
			i := strings.LastIndexByte(val, '/')
			if err := os.Chdir(val[:i]); err != nil {
				die(err)
			}
			l, err := net.Listen("unix", val[i+1:])
			if err != nil {
				die(err)
			}
			keep = append(keep, l)
		case "listenfd":
			i := strings.LastIndexByte(val, '/')
			d, err := os.Open(val[:i])
			if err != nil {
				die(err)
			}
			l, err := net.Listen("unix", fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), val[i+1:]))
			if err != nil {
				die(err)
			}
			keep = append(keep, l, d)
		case "dgram":
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: val, Net: "unixgram"})
			if err != nil {
				die(err)
			}
			keep = append(keep, c)
		default:
			die(fmt.Errorf("unknown spec %q", item))
		}
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range keep {
		c.Close()
	}
}

// startHelper starts the test binary as a helper with spec and extra args,
// waits for it to be ready and kills and reaps it at cleanup.
func startHelper(t testing.TB, spec string, attr *syscall.SysProcAttr, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+spec)
	cmd.SysProcAttr = attr
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start(t, cmd)
	t.Cleanup(func() { stdin.Close() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("helper %q: got %q, %v; want ready", spec, line, err)
	}
	return cmd
}

// start starts cmd, and at cleanup kills it and waits for it.
func start(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// take takes a snapshot or fails the test.
func take(t testing.TB) *Snapshot {
	t.Helper()
	s, err := Take()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reap waits for pids, in order, that were re-parented to this process; a
// pid that is not (or no longer) our child is skipped. The callers kill
// them first, from the top, so each wait ends.
func reap(t testing.TB, pids []int) {
	t.Helper()
	for _, pid := range pids {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		for err == unix.EINTR {
			_, err = unix.Wait4(pid, &ws, 0, nil)
		}
		if err != nil && !errors.Is(err, unix.ECHILD) {
			t.Errorf("wait4(%d): %v", pid, err)
		}
	}
}
