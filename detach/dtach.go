package detach

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// DtachVersion is the dtach release whose command line and wire protocol
// keeper speaks.
const DtachVersion = "0.9"

// dtachRun is a parsed dtach command line.
type dtachRun struct {
	mode       byte // a, A, c, n, N or p
	socket     string
	detachChar int
	redraw     byte
	noSuspend  bool
	log        string // keeper's --log FILE: record the session
	argv       []string
}

// usageError is a message dtach prints on stdout before exiting with code.
type usageError struct {
	msg  string
	code int
}

func (e *usageError) Error() string { return e.msg }

func dtachUsage(progname, keeperVersion string) string {
	return fmt.Sprintf(`dtach - version %s (keeper %s)
Usage: %[3]s -a <socket> <options>
       %[3]s -A <socket> <options> <command...>
       %[3]s -c <socket> <options> <command...>
       %[3]s -n <socket> <options> <command...>
       %[3]s -N <socket> <options> <command...>
       %[3]s -p <socket>
Modes:
  -a		Attach to the specified socket.
  -A		Attach to the specified socket, or create it if it
		  does not exist, running the specified command.
  -c		Create a new socket and run the specified command.
  -n		Create a new socket and run the specified command detached.
  -N		Create a new socket and run the specified command detached,
		  and have dtach run in the foreground.
  -p		Copy the contents of standard input to the specified
		  socket.
Options:
  -e <char>	Set the detach character to <char>, defaults to ^\.
  -E		Disable the detach character.
  -r <method>	Set the redraw method to <method>. The valid methods are:
		     none: Don't redraw at all.
		   ctrl_l: Send a Ctrl L character to the program.
		    winch: Send a WINCH signal to the program.
  -z		Disable processing of the suspend key.
`, DtachVersion, keeperVersion, "dtach")
}

// parseDtach parses dtach's command line (without argv[0]) exactly as
// dtach 0.9 does, including its messages. Parsing stops at the first word
// that is not an option, so the program's own flags are never dtach's.
func parseDtach(progname, keeperVersion string, args []string) (*dtachRun, *usageError) {
	fail := func(format string, a ...any) *usageError {
		return &usageError{msg: fmt.Sprintf("%s: "+format+"\nTry '%s --help' for more information.\n",
			append(append([]any{progname}, a...), progname)...), code: 1}
	}
	r := &dtachRun{detachChar: DefaultDetachChar}
	if len(args) >= 1 && strings.HasPrefix(args[0], "-") {
		// dtach accepts any prefix of --help and --version.
		switch {
		case strings.HasPrefix("--help", args[0]):
			return nil, &usageError{msg: dtachUsage(progname, keeperVersion)}
		case strings.HasPrefix("--version", args[0]):
			return nil, &usageError{msg: fmt.Sprintf("dtach - version %s (keeper %s)\n", DtachVersion, keeperVersion)}
		}
		r.mode = args[0][1]
		switch r.mode {
		case '?':
			return nil, &usageError{msg: dtachUsage(progname, keeperVersion)}
		case 'a', 'A', 'c', 'n', 'N', 'p':
		default:
			return nil, fail("Invalid mode '-%c'", r.mode)
		}
	}
	if r.mode == 0 {
		return nil, fail("No mode was specified.")
	}
	args = args[1:]
	if len(args) < 1 {
		return nil, fail("No socket was specified.")
	}
	r.socket, args = args[0], args[1:]
	if r.mode == 'p' {
		if len(args) > 0 {
			return nil, fail("Invalid number of arguments.")
		}
		return r, nil
	}
	for len(args) >= 1 && strings.HasPrefix(args[0], "-") {
		word := args[0]
		if word == "--log" && r.mode != 'a' { // keeper's own option
			if len(args) < 2 {
				return nil, fail("No log file specified.")
			}
			r.log, args = args[1], args[2:]
			continue
		}
	letters:
		for i := 1; i < len(word); i++ {
			switch word[i] {
			case 'E':
				r.detachChar = NoDetachChar
			case 'z':
				r.noSuspend = true
			case 'e':
				args = args[1:]
				if len(args) < 1 {
					return nil, fail("No escape character specified.")
				}
				r.detachChar = ParseDetachChar(args[0])
				break letters
			case 'r':
				args = args[1:]
				if len(args) < 1 {
					return nil, fail("No redraw method specified.")
				}
				method, err := ParseRedraw(args[0])
				if err != nil || method == RedrawUnspec {
					return nil, fail("Invalid redraw method specified.")
				}
				r.redraw = method
				break letters
			case '?':
				return nil, &usageError{msg: dtachUsage(progname, keeperVersion)}
			default:
				return nil, fail("Invalid option '-%c'", word[i])
			}
		}
		args = args[1:]
	}
	if r.mode != 'a' && len(args) < 1 {
		return nil, fail("No command was specified.")
	}
	r.argv = args
	return r, nil
}

// ParseDetachChar reads a detach key as dtach's -e does: a character, or
// ^X notation for a control character (^? is DEL).
func ParseDetachChar(s string) int {
	if s == "" {
		return 0
	}
	if s[0] == '^' && len(s) > 1 {
		if s[1] == '?' {
			return 0x7f
		}
		return int(s[1] & 0x1f)
	}
	return int(s[0])
}

// DtachMain runs dtach's command line: argv[0] is the name it was invoked
// under, used in messages as dtach does. It returns the exit status.
func DtachMain(argv []string, keeperVersion string, stdin, stdout, stderr *os.File) int {
	progname := argv[0]
	r, uerr := parseDtach(progname, keeperVersion, argv[1:])
	if uerr != nil {
		io.WriteString(stdout, uerr.msg)
		return uerr.code
	}
	if r.mode == 'p' {
		return pushMain(progname, r.socket, stdin, stdout)
	}
	if err := CheckSocketPath(r.socket); err != nil {
		fmt.Fprintf(stdout, "%s: %v\n", progname, err)
		return 1
	}
	termios, ws, haveTTY := TerminalSettings(int(stdin.Fd()))
	if !haveTTY && r.mode != 'n' && r.mode != 'N' {
		fmt.Fprintf(stdout, "%s: Attaching to a session requires a terminal.\n", progname)
		return 1
	}
	master := MasterOptions{
		Socket:   r.socket,
		Log:      r.log,
		Argv:     r.argv,
		Redraw:   r.redraw,
		Termios:  termios,
		Winsize:  ws,
		Progname: progname,
	}
	attach := AttachOptions{
		Socket:     r.socket,
		DetachChar: r.detachChar,
		Redraw:     r.redraw,
		NoSuspend:  r.noSuspend,
		In:         stdin,
		Out:        stdout,
	}
	spawn := func(waitAttach bool) bool {
		master.WaitAttach = waitAttach
		err := SpawnMaster(progname, master)
		if err == nil {
			return true
		}
		var se *StartError
		switch {
		case errors.As(err, &se) && se.Stderr:
			io.WriteString(stderr, se.Msg)
		case errors.As(err, &se):
			fmt.Fprintln(stdout, se.Msg)
		default:
			fmt.Fprintf(stderr, "%s: %v\n", progname, err)
		}
		return false
	}
	attachOrReport := func() int {
		code, err := Attach(attach)
		if err != nil {
			fmt.Fprintf(stdout, "%s: %s: %s\n", progname, r.socket, Strerror(err))
		}
		return code
	}

	if r.mode == 'c' || r.mode == 'A' {
		// A symlink another user planted at the path would take this
		// user's terminal to that user's session.
		if owner, ok := foreignSymlink(r.socket); ok {
			fmt.Fprintf(stdout, "%s: %s: a symlink owned by uid %d, not followed: remove it or use another path\n", progname, r.socket, owner)
			return 1
		}
	}
	switch r.mode {
	case 'a':
		if len(r.argv) > 0 {
			fmt.Fprintf(stdout, "%s: Invalid number of arguments.\nTry '%s --help' for more information.\n", progname, progname)
			return 1
		}
		return attachOrReport()
	case 'n':
		if !spawn(false) {
			return 1
		}
		return 0
	case 'N':
		err := ExecMaster(progname, master)
		fmt.Fprintf(stderr, "%s: %v\n", progname, err)
		return 1
	case 'c':
		if !spawn(true) {
			return 1
		}
		return attachOrReport()
	case 'A':
		code, err := Attach(attach)
		if err == nil {
			return code
		}
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			if errors.Is(err, syscall.ECONNREFUSED) {
				os.Remove(r.socket)
			}
			if !spawn(true) {
				return 1
			}
		}
		return attachOrReport()
	}
	return 1
}

// foreignSymlink reports whether path is a symlink owned by neither this
// user nor root, and its owner.
func foreignSymlink(path string) (uint32, bool) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return 0, false
	}
	owner := fi.Sys().(*syscall.Stat_t).Uid
	return owner, owner != uint32(os.Geteuid()) && owner != 0
}

// pushMain copies stdin into the session as keystrokes (dtach -p).
func pushMain(progname, socket string, stdin, stdout *os.File) int {
	conn, err := Dial(socket)
	if err != nil {
		fmt.Fprintf(stdout, "%s: %s: %s\n", progname, socket, Strerror(err))
		return 1
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	var packets []byte
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			packets = AppendPush(packets[:0], buf[:n])
			if _, werr := conn.Write(packets); werr != nil {
				fmt.Fprintf(stdout, "%s: %s: %s\n", progname, socket, Strerror(werr))
				return 1
			}
		}
		if err == io.EOF {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stdout, "%s: %s: %s\n", progname, socket, Strerror(err))
			return 1
		}
	}
}
