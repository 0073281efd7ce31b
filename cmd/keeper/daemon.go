package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"keeper/supervise"
)

// detachedFlag marks the re-executed, already detached daemon process.
const detachedFlag = "detached-child"

func init() {
	commands["daemon"] = &command{
		summary: "run the supervisor daemon on a supervisord-dialect config",
		usage: `keeper [-c FILE] daemon [-c FILE] [-n] [--print-pidfile]

  -c, --configuration FILE  the config; default keeper.conf, then supervisord's
                            search order ($CWD/supervisord.conf, $CWD/etc/supervisord.conf,
                            /etc/keeper/keeper.conf, /etc/supervisord.conf,
                            /etc/supervisor/supervisord.conf)
  -n, --nodaemon            stay in the foreground, logging to stdout too
      --print-pidfile       print the pidfile the config names and exit
                            (for init scripts)

Without -n (and nodaemon=false) the daemon detaches, and the command returns
once its control socket answers, so 'keeper daemon && keeper status' works.
As PID 1 (a container's init) it stays in the foreground, reaps every
zombie and shuts down on SIGTERM. Under systemd (Type=notify) it reports
READY=1, RELOADING=1 and STOPPING=1 on $NOTIFY_SOCKET.`,
		run: runDaemon,
	}
	commands[supervise.ExecCommand] = &command{
		summary: "set a program's umask and exec it (internal)",
		hidden:  true,
		run: func(_ context.Context, args []string, _, _ io.Writer) error {
			return exitStatus(supervise.ExecMain(args[1:]))
		},
	}
}

func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("daemon", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.StringP("configuration", "c", "", "config file")
	nodaemon := fs.BoolP("nodaemon", "n", false, "stay in the foreground")
	printPidfile := fs.Bool("print-pidfile", false, "print the config's pidfile and exit")
	detached := fs.Bool(detachedFlag, false, "")
	fs.MarkHidden(detachedFlag)
	if err := fs.Parse(args[1:]); err != nil {
		return exitError{2}
	}
	path := *configPath
	if path == "" {
		// keeper -c FILE daemon: the global option.
		path = ctlOptionsFrom(ctx).Config
	}
	if path == "" {
		cwd, _ := os.Getwd()
		found, err := supervise.FindConfig(cwd)
		if err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		path = found
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	supervise.Version = version
	// Descriptors this command inherited must not reach the programs.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	cfg, err := supervise.LoadConfig(path)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	if *printPidfile {
		fmt.Fprintln(stdout, cfg.Supervisord.Pidfile)
		return nil
	}
	if !*detached {
		for _, w := range cfg.Warnings {
			fmt.Fprintf(stderr, "keeper: warning: %s\n", w)
		}
	}
	if *detached {
		return runDetachedDaemon(path, cfg)
	}
	// A container's init has nothing to return to: it stays.
	if *nodaemon || cfg.Supervisord.Nodaemon || os.Getpid() == 1 {
		if err := supervise.Run(supervise.RunOptions{ConfigPath: path, Config: cfg, Foreground: true}); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		return nil
	}
	return startDetachedDaemon(path, cfg.Supervisord.Directory)
}

// startDetachedDaemon re-executes keeper as the daemon in a new session
// with stdio on /dev/null, and returns once it reported its control socket
// listening, or with the error that stopped it.
func startDetachedDaemon(path, dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	cmd := exec.Command(exe, "daemon", "-c", path, "--"+detachedFlag)
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("daemon: start %s: %w", exe, err)
	}
	w.Close()
	report, _ := io.ReadAll(r)
	r.Close()
	if string(report) == "ok" {
		// The daemon lives on; it is not our child to wait for.
		_ = cmd.Process.Release()
		return nil
	}
	// It failed: collect its exit so no zombie is left behind.
	_ = cmd.Wait()
	if len(report) == 0 {
		return fmt.Errorf("daemon: exited before its control socket was listening (see its log)")
	}
	return fmt.Errorf("daemon: %s", report)
}

// runDetachedDaemon is the re-executed daemon: it reports readiness on
// fd 3 to the command that started it.
func runDetachedDaemon(path string, cfg *supervise.Config) error {
	opts := supervise.RunOptions{ConfigPath: path, Config: cfg}
	// Executed in place (keeper reexec), fd 3 is no longer the report
	// pipe but one the old daemon handed over.
	if !supervise.HandingOver() {
		opts.Ready = reportReady(os.NewFile(3, "ready"))
	}
	if err := supervise.Run(opts); err != nil {
		return exitError{1}
	}
	return nil
}

// reportReady tells the command that started the daemon, on report, that
// it listens or why it could not start.
func reportReady(report *os.File) func(error) {
	return func(err error) {
		if err != nil {
			report.WriteString(err.Error())
		} else {
			report.WriteString("ok")
		}
		report.Close()
	}
}
