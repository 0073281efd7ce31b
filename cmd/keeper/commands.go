package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"keeper/detach"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// command is one keeper subcommand: its one-line summary, its usage text and
// the function that runs it.
type command struct {
	summary string
	usage   string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	hidden  bool
}

// commands is filled by each subcommand's file in its init function, so that
// adding a subcommand touches only its own file.
var commands = map[string]*command{}

// exitError carries an exit status out of a subcommand whose messages were
// already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run dispatches argv to a subcommand and returns the process exit status.
func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	name := filepath.Base(argv[0])
	args := argv[1:]
	// Invoked through a symlink named dtach, keeper is dtach. The hidden
	// master subcommand is checked first: masters re-executed from a dtach
	// symlink keep that name in argv[0] so ps still shows "dtach".
	if name == "dtach" && (len(args) == 0 || args[0] != masterCommand) {
		return detach.DtachMain(argv, version, os.Stdin, os.Stdout, os.Stderr)
	}
	// Global options (-c FILE, -s URL, -u USER, -p PASS, as supervisorctl
	// takes them) come before the subcommand; the client commands read
	// them from ctx.
	opts, args, help, showVersion, err := parseGlobalOptions(args, stderr)
	switch {
	case err != nil:
		return 2
	case showVersion:
		fmt.Fprintf(stdout, "keeper %s\n", version)
		return 0
	case help:
		printUsage(stdout)
		return 0
	case len(args) == 0:
		printUsage(stderr)
		return 2
	}
	ctx = withCtlOptions(ctx, opts)
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "keeper: unknown command %q\nRun 'keeper help' for the list of commands.\n", args[0])
		return 2
	}
	return exitCode(cmd.run(ctx, args, stdout, stderr), stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var exit exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	fmt.Fprintf(stderr, "keeper: %v\n", err)
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "keeper %s: a process supervisor for programs that leave terminals behind\n\n", version)
	fmt.Fprintln(w, "Usage: keeper [-c FILE | -s unix:///PATH | -s http://HOST:PORT] [-u USER -p PASS] COMMAND [ARGS...]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for name, cmd := range commands {
		if !cmd.hidden {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-14s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'keeper help COMMAND' for a command's usage.")
}

func init() {
	commands["help"] = &command{
		summary: "show the commands, or one command's usage",
		usage:   "keeper help [COMMAND]",
		run:     runHelp,
	}
}

func runHelp(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		printUsage(stdout)
		return nil
	}
	cmd, ok := commands[args[1]]
	if !ok {
		return fmt.Errorf("help: unknown command %q", args[1])
	}
	fmt.Fprintf(stdout, "%s\n\n%s\n", cmd.summary, strings.TrimSpace(cmd.usage))
	return nil
}
