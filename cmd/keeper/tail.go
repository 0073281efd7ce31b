package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"keeper/detach"
	"keeper/supervise"
	"keeper/supervise/http1"
	"keeper/supervise/xmlrpc"
)

const (
	tailHelp = "tail [-f] <name> [stdout|stderr] (default stdout)\n" +
		"Ex:\n" +
		"tail -f <name>\t\tContinuous tail of named process stdout\n" +
		"\t\t\tCtrl-C to exit.\n" +
		"tail -100 <name>\tlast 100 *bytes* of process stdout\n" +
		"tail <name> stderr\tlast 1600 *bytes* of process stderr"
	maintailHelp = "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\n" +
		"maintail -100\tlast 100 *bytes* of supervisord main log file\n" +
		"maintail\tlast 1600 *bytes* of supervisor main log file\n"
	// defaultTailBytes is how much of a log tail and maintail show.
	defaultTailBytes = 1600
)

func init() {
	commands["tail"] = &command{
		summary: "show the end of a process's log, or follow it",
		usage: `keeper [-c FILE | -s unix:///PATH] tail [-f | -BYTES] NAME [stdout|stderr]

Prints the last 1600 (or BYTES) bytes of the process's stdout (or stderr)
log. NAME may also be a session (as keeper sessions names it) recorded with
keeper dtach --log or KEEPER_SESSION_LOG: its recording is shown as text. With -f, prints "==> Press Ctrl-C to exit <==" and follows the log
until interrupted. The modifier must come first, as with supervisorctl.
Exit status: 0, 1 for an unknown name or a bad argument, 7 (no socket) or
4 (refused connection) when no daemon answers.`,
		run: runTail,
	}
	commands["maintail"] = &command{
		summary: "show the end of the daemon's own log, or follow it",
		usage: `keeper [-c FILE | -s unix:///PATH] maintail [-f | -BYTES]

Prints the last 1600 (or BYTES) bytes of the daemon's log; with -f follows
it until interrupted.`,
		run: runMaintail,
	}
}

// The argument handling of tail and maintail is supervisorctl's, by hand:
// its -BYTES modifier (tail -100 NAME) is no flag pflag can parse.

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if !c.upcheck(ctx) {
		return c.result()
	}
	args = args[1:]
	if len(args) < 1 || len(args) > 3 {
		if len(args) < 1 {
			c.printf("Error: too few arguments")
		} else {
			c.printf("Error: too many arguments")
		}
		c.status = exitGeneric
		c.printf("%s", tailHelp)
		return c.result()
	}
	modifier := ""
	if strings.HasPrefix(args[0], "-") {
		modifier, args = args[0], args[1:]
	}
	var name, channel string
	switch {
	case len(args) == 1:
		name, channel = args[0], "stdout"
	case len(args) > 1:
		name, channel = args[0], strings.ToLower(args[len(args)-1])
		if channel != "stdout" && channel != "stderr" {
			c.printf("Error: bad channel %s", pyRepr(channel))
			c.status = exitGeneric
			return c.result()
		}
	default:
		c.printf("Error: tail requires process name")
		c.status = exitGeneric
		return c.result()
	}
	bytes, follow := defaultTailBytes, false
	if modifier != "" {
		what := modifier[1:]
		if what == "f" {
			follow = true
		} else if n, ok := parsePyInt(what); ok {
			bytes = n
		} else {
			c.printf("Error: bad argument %s", modifier)
			c.status = exitGeneric
			return c.result()
		}
	}
	// A session's name (as keeper sessions prints it) tails its recording.
	if _, err := c.call(ctx, "supervisor.getProcessInfo", name); err != nil {
		if code, _, ok := faultCode(err); ok && code == supervise.FaultBadName {
			if socket, found := c.sessionSocket(ctx, name); found {
				c.tailRecording(ctx, name, socket, bytes, follow, stderr)
				return c.result()
			}
		}
	}
	if follow {
		c.follow(ctx, "/logtail/"+name+"/"+channel, stderr)
		return c.result()
	}
	method := "supervisor.readProcessStdoutLog"
	if channel == "stderr" {
		method = "supervisor.readProcessStderrLog"
	}
	v, err := c.call(ctx, method, name, -bytes, 0)
	if code, _, ok := faultCode(err); ok && (code == supervise.FaultNoFile || code == supervise.FaultFailed || code == supervise.FaultBadName) {
		c.status = exitGeneric
		switch code {
		case supervise.FaultNoFile:
			c.printf("%s: ERROR (no log file)", name)
		case supervise.FaultFailed:
			c.printf("%s: ERROR (unknown error reading log)", name)
		default:
			c.printf("%s: ERROR (no such process name)", name)
		}
	} else if err != nil {
		c.fail(err)
	} else {
		c.printf("%s", pyStr(v))
	}
	return c.result()
}

func runMaintail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if !c.upcheck(ctx) {
		return c.result()
	}
	args = args[1:]
	bytes := defaultTailBytes
	switch {
	case len(args) > 1:
		c.printf("Error: too many arguments")
		c.status = exitGeneric
		c.printf("%s", maintailHelp)
		return c.result()
	case len(args) == 1:
		what, ok := strings.CutPrefix(args[0], "-")
		if ok && what == "f" {
			c.follow(ctx, "/mainlogtail", stderr)
			return c.result()
		}
		n, isInt := parsePyInt(what)
		if !ok || !isInt {
			c.printf("Error: bad argument %s", args[0])
			c.status = exitGeneric
			return c.result()
		}
		bytes = n
	}
	v, err := c.call(ctx, "supervisor.readLog", -bytes, 0)
	if code, _, ok := faultCode(err); ok && (code == supervise.FaultNoFile || code == supervise.FaultFailed) {
		c.status = exitGeneric
		if code == supervise.FaultNoFile {
			c.printf("supervisord: ERROR (no log file)")
		} else {
			c.printf("supervisord: ERROR (unknown error reading log)")
		}
	} else if err != nil {
		c.fail(err)
	} else {
		c.printf("%s", pyStr(v))
	}
	return c.result()
}

// follow streams GET path (a chunked response that never ends) to stdout
// until the daemon closes it or SIGINT arrives, after which it prints an
// empty line, as supervisorctl does on Ctrl-C. A failed request is reported
// on stderr as supervisorctl reports it, with exit status 0.
func (c *ctl) follow(ctx context.Context, path string, stderr io.Writer) {
	c.printf("==> Press Ctrl-C to exit <==")
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	c.stream(ctx, path, c.out, stderr)
	if ctx.Err() != nil {
		c.printf("")
	}
}

// stream copies GET path to out until the daemon closes it or ctx ends.
func (c *ctl) stream(ctx context.Context, path string, out io.Writer, stderr io.Writer) {
	shown := c.url + path
	cl := &http1.Client{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, c.network, c.addr)
	}}
	header := http1.Header{"User-Agent": "keeper"}
	if c.user != "" || c.pass != "" {
		header["Authorization"] = xmlrpc.BasicAuth(c.user, c.pass)
	}
	status, _, body, err := cl.Stream(ctx, (&url.URL{Path: path}).EscapedPath(), header)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		fmt.Fprintf(stderr, "%s Cannot connect, error: %v\n", shown, err)
		return
	}
	defer body.Close()
	if status != 200 {
		fmt.Fprintf(stderr, "%s Cannot read, status code %d\n", shown, status)
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pyRepr quotes s as Python's repr() does for a str of printable characters.
func pyRepr(s string) string {
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == '\\' || r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// sessionSocket finds the socket of the session keeper sessions calls name
// (or PROGRAM:NAME).
func (c *ctl) sessionSocket(ctx context.Context, name string) (string, bool) {
	v, err := c.call(ctx, "keeper.getSessions", []any{})
	if err != nil {
		return "", false
	}
	for _, s := range sessionsFrom(v) {
		if s.Name == name || s.Program+":"+s.Name == name || s.Socket == name {
			return s.Socket, true
		}
	}
	return "", false
}

// tailRecording prints the end of a session's recording as text, and with
// follow what it records next, until interrupted.
func (c *ctl) tailRecording(ctx context.Context, name, socket string, bytes int, follow bool, stderr io.Writer) {
	st, err := detach.QueryStatus(socket, 5*time.Second)
	if err != nil {
		c.fail(err)
		return
	}
	if st.Log == "" {
		c.printf("%s: ERROR (the session is not recorded: start it with keeper dtach --log FILE or %s)", name, detach.SessionLogEnv)
		c.status = exitGeneric
		return
	}
	read := func(offset int64) ([]byte, int64, error) {
		f, err := os.Open(st.Log)
		if err != nil {
			return nil, offset, err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Size() < offset {
			offset = 0 // rotated: a new file
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return nil, offset, err
		}
		return detach.CastOutput(f, offset)
	}
	text, offset, err := read(0)
	if err != nil {
		c.fail(fmt.Errorf("read the recording of %s: %w", name, err))
		return
	}
	if !follow && len(text) > bytes {
		text = text[len(text)-bytes:]
	}
	c.out.Write(text)
	if !follow {
		return
	}
	fmt.Fprintln(stderr, "==> Press Ctrl-C to exit <==")
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		text, offset, err = read(offset)
		if err != nil {
			c.fail(fmt.Errorf("read the recording of %s: %w", name, err))
			return
		}
		c.out.Write(text)
	}
}
