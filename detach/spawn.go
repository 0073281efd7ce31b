package detach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// MasterCommand is the hidden subcommand under which keeper re-executes
// itself as a session master.
const MasterCommand = "_master"

// Start-up report bytes a spawned master sends its parent on fd 3.
const (
	reportOK     = 'O'
	reportStdout = 'S' // the message goes to the parent's stdout
	reportStderr = 'E' // ... to its stderr
)

// setup is what a spawned master reads from its parent before starting:
// the settings of the terminal the session is created from.
type setup struct {
	HasTermios bool
	Termios    unix.Termios
	Winsize    Winsize
}

// TerminalSettings reads the termios and window size of the terminal on
// fd, for a session created from it. ok is false when fd is no terminal.
func TerminalSettings(fd int) (t *unix.Termios, ws Winsize, ok bool) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, Winsize{}, false
	}
	if w, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err == nil {
		ws = Winsize{Rows: w.Row, Cols: w.Col, XPixel: w.Xpixel, YPixel: w.Ypixel}
	}
	return t, ws, true
}

// masterArgs is the command line of a master process: the socket path and
// the program stay visible in ps, as they are for dtach's master.
func masterArgs(progname string, opts MasterOptions, foreground bool) []string {
	args := []string{progname, MasterCommand}
	if foreground {
		args = append(args, "-f")
	}
	if opts.WaitAttach {
		args = append(args, "-w")
	}
	if opts.Held {
		args = append(args, "-k")
	}
	if spec := opts.Screen.String(); spec != "" {
		args = append(args, "-s", spec)
	}
	if opts.Log != "" {
		args = append(args, "-l", opts.Log)
	}
	args = append(args, "-r", strconv.Itoa(int(opts.Redraw)), "--", opts.Socket)
	return append(args, opts.Argv...)
}

// MasterBinary is the name of the small binary that is only a session
// master (cmd/keeper-master), installed beside keeper: each of a server's
// many idle masters then maps it, not the whole of keeper.
const MasterBinary = "keeper-master"

// masterExecutable is the binary a master runs as: keeper-master beside
// this executable when it is there, else this executable itself (which
// takes the same hidden master subcommand).
func masterExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	lean := filepath.Join(filepath.Dir(exe), MasterBinary)
	if fi, err := os.Stat(lean); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return lean, nil
	}
	return exe, nil
}

// masterSettings are the runtime settings a master is started with, in
// its environment, in place of the caller's; each caller's value, if any,
// travels in the saved variable for the master to give back to its
// program. Both keep an idle master's private memory down (measured with
// bench-detach; see README, Measured):
//   - GOMAXPROCS=1: a master runs on one processor (see MasterMain), and a
//     Go runtime started with one never sets up a second one, which a call
//     once it runs does not undo (0.90 MB, 0.71 MB with it);
//   - GODEBUG=profstackdepth=0: the runtime gives each thread two buffers
//     of about 1 KB for the profilers' stacks, and a master runs no
//     profiler (0.67 MB, 0.65-0.66 MB with it).
var masterSettings = [...]struct{ name, value, saved string }{
	{"GOMAXPROCS", "1", "KEEPER_SAVED_GOMAXPROCS"},
	{"GODEBUG", "profstackdepth=0", "KEEPER_SAVED_GODEBUG"},
}

// masterEnv is environ as a master is started with: masterSettings, and
// the caller's values saved ("" when it had none: "=" then the value when
// it had one).
func masterEnv(environ []string) []string {
	var saved [len(masterSettings)]string
	out := make([]string, 0, len(environ)+2*len(masterSettings))
next:
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		for i, s := range masterSettings {
			switch name {
			case s.name:
				saved[i] = "=" + value
				continue next
			case s.saved:
				continue next
			}
		}
		out = append(out, kv)
	}
	for i, s := range masterSettings {
		out = append(out, s.name+"="+s.value, s.saved+"="+saved[i])
	}
	return out
}

// restoreProgramEnv undoes masterEnv in the master's own environment,
// which its program inherits. A master started some other way (its
// environment has no saved values) changes nothing.
func restoreProgramEnv() {
	for _, s := range masterSettings {
		saved, ok := os.LookupEnv(s.saved)
		if !ok {
			continue
		}
		os.Unsetenv(s.saved)
		if value, had := strings.CutPrefix(saved, "="); had {
			os.Setenv(s.name, value)
		} else {
			os.Unsetenv(s.name)
		}
	}
}

// closeInheritedOnExec marks every descriptor above stderr close-on-exec,
// so descriptors this process inherited (a supervisor's log pipes, say)
// never reach a session master or its program.
func closeInheritedOnExec() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// SpawnMaster starts a session master as a new keeper process in its own
// session, with stdio on /dev/null, and returns once the socket listens
// and the program runs. opts.Termios and opts.Winsize are handed over. A
// *StartError says what failed, in dtach's words. Default opts.Screen is
// taken from $KEEPER_SCREEN.
func SpawnMaster(progname string, opts MasterOptions) error {
	if err := screenFromEnv(&opts); err != nil {
		return fmt.Errorf("spawn session master: %w", err)
	}
	logFromEnv(&opts)
	exe, err := masterExecutable()
	if err != nil {
		return fmt.Errorf("spawn session master: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("spawn session master: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "master-status")
	child := os.NewFile(uintptr(fds[1]), "master-status")
	defer parent.Close()

	closeInheritedOnExec()
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        masterArgs(progname, opts, false),
		Env:         masterEnv(os.Environ()),
		ExtraFiles:  []*os.File{child},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	child.Close()
	if err != nil {
		return fmt.Errorf("spawn session master %s: %w", exe, err)
	}
	// The master outlives this process; it is not waited for here.
	_ = cmd.Process.Release()

	s := setup{Winsize: opts.Winsize}
	if opts.Termios != nil {
		s.HasTermios, s.Termios = true, *opts.Termios
	}
	if err := binary.Write(parent, binary.NativeEndian, &s); err != nil {
		return fmt.Errorf("spawn session master: send settings: %w", err)
	}
	report, err := io.ReadAll(parent)
	if err != nil || len(report) == 0 {
		return fmt.Errorf("spawn session master: it exited before reporting (%v)", err)
	}
	switch report[0] {
	case reportOK:
		return nil
	case reportStdout, reportStderr:
		return &StartError{Msg: string(report[1:]), Stderr: report[0] == reportStderr}
	}
	return fmt.Errorf("spawn session master: garbled report %q", report)
}

// ExecMaster replaces the current process with a foreground session master
// (dtach -N), so only stdio and no inherited descriptor reaches it.
func ExecMaster(progname string, opts MasterOptions) error {
	if err := screenFromEnv(&opts); err != nil {
		return fmt.Errorf("exec session master: %w", err)
	}
	logFromEnv(&opts)
	exe, err := masterExecutable()
	if err != nil {
		return fmt.Errorf("exec session master: %w", err)
	}
	closeInheritedOnExec()
	err = syscall.Exec(exe, masterArgs(progname, opts, true), masterEnv(os.Environ()))
	return fmt.Errorf("exec session master %s: %w", exe, err)
}

// MasterMain is the body of the hidden master subcommand; argv is the
// whole command line. It returns the process's exit status.
func MasterMain(argv []string) int {
	progname := argv[0]
	if len(argv) < 2 || argv[1] != MasterCommand {
		os.Stderr.WriteString(progname + ": this is keeper's session master, started by keeper dtach: run keeper dtach -n SOCKET COMMAND (or keeper daemon) instead\n")
		return 2
	}
	// One thread runs the session: the output path never blocks in a
	// system call holding the processor, so a second one would only add
	// wake-ups between threads (measured: more CPU per byte, no gain).
	runtime.GOMAXPROCS(1)
	restoreProgramEnv()
	opts, foreground, err := parseMasterArgs(argv[2:])
	if err != nil {
		os.Stderr.WriteString(progname + ": " + err.Error() + "\n")
		return 2
	}
	opts.Progname = progname
	// Nothing this process inherited, the start-up channel included,
	// may reach the program.
	closeInheritedOnExec()
	if foreground {
		return runForegroundMaster(opts)
	}
	// Non-blocking, the start-up channel is read in the runtime's poller:
	// a blocking read would take a thread of its own, kept for good.
	_ = unix.SetNonblock(3, true)
	status := os.NewFile(3, "master-status")
	var s setup
	if err := binary.Read(status, binary.NativeEndian, &s); err != nil {
		return 1
	}
	if s.HasTermios {
		opts.Termios = &s.Termios
	}
	opts.Winsize = s.Winsize
	m, err := StartMaster(opts)
	if err != nil {
		code := byte(reportStdout)
		var se *StartError
		if errors.As(err, &se) && se.Stderr {
			code = reportStderr
		}
		status.Write(append([]byte{code}, err.Error()...))
		return 1
	}
	status.Write([]byte{reportOK})
	status.Close()
	return m.Serve()
}

func runForegroundMaster(opts MasterOptions) int {
	// Leave the caller's session, as dtach does; this fails harmlessly
	// when the process already leads a group.
	_, _ = unix.Setsid()
	if t, ws, ok := TerminalSettings(0); ok {
		opts.Termios, opts.Winsize = t, ws
	}
	m, err := StartMaster(opts)
	if err != nil {
		var se *StartError
		if errors.As(err, &se) && se.Stderr {
			os.Stderr.WriteString(err.Error())
		} else {
			os.Stdout.WriteString(err.Error() + "\n")
		}
		return 1
	}
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		for fd := 0; fd <= 2; fd++ {
			_ = unix.Dup2(int(null.Fd()), fd)
		}
		null.Close()
	}
	return m.Serve()
}

func parseMasterArgs(args []string) (opts MasterOptions, foreground bool, err error) {
	for len(args) > 0 && args[0] != "--" {
		switch args[0] {
		case "-f":
			foreground = true
		case "-w":
			opts.WaitAttach = true
		case "-k":
			opts.Held = true
		case "-s":
			if len(args) < 2 {
				return opts, false, errors.New("-s needs a screen spec")
			}
			sc, err := ParseScreenSpec(args[1])
			if err != nil {
				return opts, false, err
			}
			opts.Screen = sc
			args = args[1:]
		case "-l":
			if len(args) < 2 {
				return opts, false, errors.New("-l needs a file")
			}
			opts.Log = args[1]
			args = args[1:]
		case "-r":
			if len(args) < 2 {
				return opts, false, errors.New("-r needs a redraw method")
			}
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 || n > RedrawWinch {
				return opts, false, errors.New("bad redraw method " + strconv.Quote(args[1]))
			}
			opts.Redraw = byte(n)
			args = args[1:]
		default:
			return opts, false, errors.New("unknown master option " + strconv.Quote(args[0]))
		}
		args = args[1:]
	}
	if len(args) < 3 {
		return opts, false, errors.New("usage: " + MasterCommand + " [-f] [-w] [-k] [-s SCREEN] [-l CAST] [-r METHOD] -- SOCKET COMMAND [ARG...]")
	}
	opts.Socket, opts.Argv = args[1], args[2:]
	return opts, foreground, nil
}
