package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"keeper/supervise"
	"keeper/supervise/xmlrpc"
)

// keeper-bench deps: a dependency tree started cold. keeper runs it with
// depends_on and ready=tcp (each program is RUNNING once its port answers,
// and its dependents start then); supervisord, which has only priorities
// and startsecs, runs the same programs ordered by priority with startsecs.
// Each program listens on its port after a delay, as a service that takes
// a moment to come up. Then the daemon's CPU with a health check on every
// program.

// runListen is the programs of the tree: wait, then listen on a port until
// killed (keeper-bench listen -port N -after D).
func runListen(args []string) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	port := fs.Int("port", 0, "TCP port on 127.0.0.1")
	after := fs.Duration("after", 200*time.Millisecond, "wait before listening")
	if err := fs.Parse(args); err != nil {
		return err
	}
	time.Sleep(*after)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		c.Close()
	}
}

func runDeps(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("deps", flag.ContinueOnError)
	keeperBin := fs.String("keeper", "bin/keeper", "keeper binary")
	supervisordBin := fs.String("supervisord", "/usr/bin/supervisord", "supervisord")
	depth := fs.Int("depth", 5, "levels of the tree")
	width := fs.Int("width", 10, "programs per level")
	after := fs.Duration("after", 200*time.Millisecond, "how long each program takes to listen")
	idle := fs.Duration("idle", 10*time.Second, "idle time for the health check CPU figure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, bin := range []*string{keeperBin, supervisordBin} {
		if *bin, err = filepath.Abs(*bin); err != nil {
			return err
		}
	}
	base, err := os.MkdirTemp("", "kbd")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	n := *depth * *width
	ports, err := freePorts(n)
	if err != nil {
		return err
	}
	program := func(i int) string {
		return fmt.Sprintf("command=%s listen -port %d -after %s\nstdout_logfile=NONE\nstderr_logfile=NONE\n", self, ports[i], *after)
	}
	var keeperConf, svConf, healthConf strings.Builder
	for i := range n {
		level := i / *width
		fmt.Fprintf(&keeperConf, "\n[program:p%02d]\n%sready=tcp:127.0.0.1:%d\n", i, program(i), ports[i])
		if level > 0 {
			fmt.Fprintf(&keeperConf, "depends_on=p%02d\n", i-*width)
		}
		fmt.Fprintf(&svConf, "\n[program:p%02d]\n%spriority=%d\nstartsecs=1\n", i, program(i), 100+level)
		fmt.Fprintf(&healthConf, "\n[program:p%02d]\n%sstartsecs=0\nhealthcheck=tcp:127.0.0.1:%d\nhealthcheck_interval=5\n", i, program(i), ports[i])
	}
	keeperCold, err := treeColdStart(filepath.Join(base, "k"), []string{*keeperBin, "daemon", "-n", "-c"}, keeperConf.String(), n)
	if err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	svCold, err := treeColdStart(filepath.Join(base, "s"), []string{*supervisordBin, "-n", "-c"}, svConf.String(), n)
	if err != nil {
		return fmt.Errorf("supervisord: %w", err)
	}
	healthCPU, err := idleCPU(filepath.Join(base, "h"), []string{*keeperBin, "daemon", "-n", "-c"}, healthConf.String(), n, *idle)
	if err != nil {
		return fmt.Errorf("keeper with health checks: %w", err)
	}
	fmt.Fprintf(stdout, "%d programs, a tree %d deep (each waits %v, then listens)\n\n", n, *depth, *after)
	fmt.Fprintf(stdout, "  %-62s %10s\n", "figure", "value")
	fmt.Fprintf(stdout, "  %-62s %7.0f ms\n", "keeper, depends_on + ready=tcp: exec to all RUNNING (ready)", millis(keeperCold))
	fmt.Fprintf(stdout, "  %-62s %7.0f ms\n", "supervisord, priorities + startsecs=1: exec to all RUNNING", millis(svCold))
	fmt.Fprintf(stdout, "  %-62s %7.2f %%\n", fmt.Sprintf("keeper CPU, %d health checks every 5 s, over %v", n, *idle), 100*healthCPU.Seconds()/idle.Seconds())
	fmt.Fprintf(stdout, "\n(supervisord's programs are RUNNING after startsecs, not when they listen: it has no way to wait for a port)\n")
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// depsDaemon starts a daemon on body in dir and returns it with its client.
func depsDaemon(dir string, argv []string, body string) (*exec.Cmd, *xmlrpc.Client, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	conf := filepath.Join(dir, "d.conf")
	text := fmt.Sprintf("[unix_http_server]\nfile=%[1]s/s.sock\n\n[supervisord]\nlogfile=%[1]s/d.log\npidfile=%[1]s/d.pid\nchildlogdir=%[1]s\n\n"+
		"[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n%s", dir, body)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(argv[0], append(argv[1:], conf)...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return cmd, xmlrpc.Dial(filepath.Join(dir, "s.sock")), nil
}

func stopDepsDaemon(cmd *exec.Cmd) {
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// allRunning waits until getAllProcessInfo shows n processes RUNNING.
func allRunning(c *xmlrpc.Client, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if v, err := c.Call(context.Background(), "supervisor.getAllProcessInfo"); err == nil {
			if infos, err := supervise.DecodeProcessInfos(v); err == nil {
				running := 0
				for _, i := range infos {
					if i.State == supervise.Running {
						running++
					}
				}
				if running == n {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return errors.New("not all RUNNING in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// treeColdStart times a daemon from its exec to all n programs RUNNING.
func treeColdStart(dir string, argv []string, body string, n int) (time.Duration, error) {
	t0 := time.Now()
	cmd, c, err := depsDaemon(dir, argv, body)
	if err != nil {
		return 0, err
	}
	defer stopDepsDaemon(cmd)
	defer c.Close()
	if err := allRunning(c, n, 2*time.Minute); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// idleCPU starts a daemon, lets it settle with everything RUNNING, and
// returns the CPU time it used over idle.
func idleCPU(dir string, argv []string, body string, n int, idle time.Duration) (time.Duration, error) {
	cmd, c, err := depsDaemon(dir, argv, body)
	if err != nil {
		return 0, err
	}
	defer stopDepsDaemon(cmd)
	defer c.Close()
	if err := allRunning(c, n, 2*time.Minute); err != nil {
		return 0, err
	}
	c0, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	time.Sleep(idle)
	c1, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	return c1 - c0, nil
}
