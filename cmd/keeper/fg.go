package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"

	"github.com/spf13/pflag"

	"keeper/detach"
	"keeper/supervise"
)

func init() {
	commands["fg"] = &command{
		summary: "connect this terminal to a running program",
		usage: `keeper [-c FILE | -s unix:///PATH] fg [-e CHAR] NAME

For a pty = true program, attaches this terminal to the program's own, as
keeper attach does: the screen is repainted, every key (Ctrl-C included)
goes to the program, the window size follows this terminal's, and the
detach key (^\ by default, -e to change) returns here and leaves the
program running. Several terminals may attach at once.

For any other program, as supervisorctl's fg: prints "==> Press Ctrl-C to
exit <==", then the process's stdout and stderr as they come, and sends
each line typed to the process's stdin (supervisor.sendProcessStdin).
Ctrl-C or the end of input leaves ("Exiting foreground"); the process
keeps running. Exit status 1 when NAME is missing, unknown or not RUNNING.

  -e CHAR   detach key of a pty program, a character or ^X notation`,
		run: runFg,
	}
}

func runFg(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("fg", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	detachKey := fs.StringP("detach-char", "e", `^\`, "detach key of a pty program")
	if err := fs.Parse(args[1:]); err != nil {
		return exitError{exitInvalidArgs}
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if !c.upcheck(ctx) {
		return c.result()
	}
	names := fs.Args()
	switch {
	case len(names) == 0:
		c.printf("ERROR: no process name supplied")
		c.status = exitGeneric
		c.printf("%s", "fg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit")
		return c.result()
	case len(names) > 1:
		c.printf("ERROR: too many process names supplied")
		c.status = exitGeneric
		return c.result()
	}
	name := names[0]
	running := func() (bool, error) {
		v, err := c.call(ctx, "supervisor.getProcessInfo", name)
		if err != nil {
			return false, err
		}
		info, err := supervise.DecodeProcessInfo(v)
		return err == nil && info.State == supervise.Running, err
	}
	ok, err := running()
	if code, _, isFault := faultCode(err); isFault {
		if code == supervise.FaultBadName {
			c.printf("ERROR: bad process name supplied")
			c.status = exitGeneric
		} else {
			c.printf("ERROR: %v", err)
		}
		return c.result()
	} else if err != nil {
		c.fail(err)
		return c.result()
	}
	if !ok {
		c.printf("ERROR: process not running")
		c.status = exitGeneric
		return c.result()
	}
	// keeper.getTerminal is keeper's: against supervisord (an unknown
	// method) every program is a plain one.
	if v, err := c.call(ctx, "keeper.getTerminal", name); err == nil && pyStr(v) != "" {
		c.client.Close()
		return attachTerminal(pyStr(v), detach.ParseDetachChar(*detachKey))
	}
	c.printf("==> Press Ctrl-C to exit <==")

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	streams, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lockedWriter{w: c.out}
	var wg sync.WaitGroup
	for _, channel := range []string{"stdout", "stderr"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stream(streams, "/logtail/"+name+"/"+channel, out, stderr)
		}()
	}
	defer wg.Wait()
	defer cancel()

	lines := make(chan string)
	go func() {
		defer close(lines)
		in := bufio.NewReader(os.Stdin)
		for {
			line, err := in.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	for {
		select {
		case <-ctx.Done():
			out.printf("Exiting foreground")
			return c.result()
		case line, more := <-lines:
			if !more {
				out.printf("Exiting foreground")
				return c.result()
			}
			if _, err := c.call(ctx, "supervisor.sendProcessStdin", name, line); err != nil {
				if code, _, isFault := faultCode(err); isFault && code == supervise.FaultNotRunning {
					out.printf("Process got killed")
				} else {
					out.printf("ERROR: %v", err)
				}
				out.printf("Exiting foreground")
				return c.result()
			}
			if ok, _ := running(); !ok {
				out.printf("Process got killed")
				out.printf("Exiting foreground")
				return c.result()
			}
		}
	}
}

// attachTerminal attaches this terminal to a pty program's master.
func attachTerminal(socket string, detachChar int) error {
	if _, _, ok := detach.TerminalSettings(int(os.Stdin.Fd())); !ok {
		return fmt.Errorf("fg %s: standard input is not a terminal: attach from one", socket)
	}
	code, err := detach.Attach(detach.AttachOptions{
		Socket:     socket,
		DetachChar: detachChar,
		In:         os.Stdin,
		Out:        os.Stdout,
		Replay:     detach.ReplayScreen,
	})
	if err != nil {
		return fmt.Errorf("fg: %w", err)
	}
	return exitStatus(code)
}

// lockedWriter is one output written to from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) printf(format string, args ...any) {
	fmt.Fprintf(l, format+"\n", args...)
}
