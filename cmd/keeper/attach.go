package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"keeper/detach"
	"keeper/supervise"
)

func init() {
	commands["attach"] = &command{
		summary: "attach this terminal to a session, by name or socket path",
		usage: `keeper attach [-e CHAR | -E] [-r none|ctrl_l|winch] [--replay none|screen|scrollback] [-z] NAME|SOCKET

Attaches to a session's socket directly (no daemon involved). NAME is a
name keeper sessions prints (PROGRAM:NAME when two programs have one), looked
up in the daemon's state directory (found from the config, -c FILE), then in
$KEEPER_SESSION_DIR; anything with a slash, or an existing file, is a socket
path. The name of a pty = true program attaches to its terminal (the
daemon says where), as keeper fg does.
Detach with the detach key (^\ by default), as with dtach.

  -e CHAR   detach key, a character or ^X notation (^? is DEL)
  -E        no detach key: every byte goes to the program
  -r METHOD redraw method asked of the session: none, ctrl_l or winch
  --replay WHAT  what a keeper session repaints first: none, screen (the
            default: the current screen) or scrollback (its scrollback into
            this terminal's, then the screen)
  -z        pass the suspend key (^Z) to the program`,
		run: runAttach,
	}
}

func runAttach(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("attach", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	detachKey := fs.StringP("detach-char", "e", `^\`, "detach key")
	noDetach := fs.BoolP("no-detach-char", "E", false, "disable the detach key")
	redraw := fs.StringP("redraw", "r", "", "redraw method: none, ctrl_l or winch")
	noSuspend := fs.BoolP("no-suspend", "z", false, "pass the suspend key to the program")
	replay := fs.String("replay", "screen", "what the session repaints on attach: none, screen or scrollback")
	if err := fs.Parse(args[1:]); err != nil {
		return exitError{2}
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("attach: want one session name or socket path, got %d arguments (see keeper help attach)", fs.NArg())
	}
	opts := detach.AttachOptions{
		DetachChar: detach.ParseDetachChar(*detachKey),
		NoSuspend:  *noSuspend,
		In:         os.Stdin,
		Out:        os.Stdout,
	}
	if *noDetach {
		opts.DetachChar = detach.NoDetachChar
	}
	method, err := detach.ParseRedraw(*redraw)
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	opts.Redraw = method
	if opts.Replay, err = detach.ParseReplay(*replay); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	sock, err := resolveSession(ctx, fs.Arg(0))
	if err != nil {
		// A pty = true program's name attaches to its terminal.
		if terminal := programTerminal(ctx, fs.Arg(0)); terminal != "" {
			sock, err = terminal, nil
		}
	}
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	opts.Socket = sock
	if _, _, ok := detach.TerminalSettings(int(os.Stdin.Fd())); !ok {
		return fmt.Errorf("attach %s: standard input is not a terminal", sock)
	}
	code, err := detach.Attach(opts)
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return exitStatus(code)
}

// programTerminal asks the daemon for the terminal of pty program name: ""
// when there is no such program, no daemon, or the program has none.
func programTerminal(ctx context.Context, name string) string {
	c, err := newCtl(ctx, io.Discard, io.Discard)
	if err != nil {
		return ""
	}
	defer c.client.Close()
	v, err := c.call(ctx, "keeper.getTerminal", name)
	if err != nil {
		return ""
	}
	return pyStr(v)
}

// resolveSession turns a session name into its socket path: a path is
// itself; a name is looked up in the records of the daemon of the config
// (keeper sessions prints those names), then in $KEEPER_SESSION_DIR (set
// for the programs a daemon runs).
func resolveSession(ctx context.Context, name string) (string, error) {
	var root string
	path := ctlOptionsFrom(ctx).Config
	if path == "" {
		if cwd, err := os.Getwd(); err == nil {
			path, _ = supervise.FindConfig(cwd)
		}
	}
	if path != "" {
		if cfg, err := supervise.LoadClientConfig(path); err == nil {
			root = filepath.Join(supervise.StateDir(cfg), "sessions")
		}
	}
	return detach.ResolveSocket(name, root, os.Getenv(detach.SessionDirEnv))
}
