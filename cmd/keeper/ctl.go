package main

// Client plumbing shared by the commands that drive a daemon over
// supervisord's XML-RPC protocol (status, start, stop, tail, ...): the global
// options, finding the config and the socket, the "no daemon" messages and
// the exit statuses. Output lines and exit statuses follow supervisorctl
// 4.2.5, so scripts written against supervisorctl keep working; everything is
// printed on stdout, as supervisorctl does, except keeper's own usage and
// config errors.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"keeper/supervise"
	"keeper/supervise/xmlrpc"
)

// Exit statuses of the client commands, as supervisorctl uses them (LSB init
// script statuses, and for status the LSB status ones).
const (
	exitGeneric       = 1
	exitInvalidArgs   = 2
	exitUnimplemented = 3
	exitNoPrivileges  = 4 // supervisorctl's answer to a refused connection
	exitNotInstalled  = 5
	exitNotRunning    = 7 // a dead program, or no socket file
	exitStatusStopped = 3 // status: a listed process is not running
	exitStatusUnknown = 4 // status: unknown name, or no daemon
)

// ctlOptions are the global options that come before the subcommand:
// keeper [-c FILE] [-s URL] [-u USER] [-p PASS] COMMAND.
type ctlOptions struct {
	Config    string // -c: config file; "" searches with supervise.FindConfig
	ServerURL string // -s: overrides the config's [supervisorctl] serverurl
	Username  string // -u
	Password  string // -p
	userSet   bool
	passSet   bool
}

type ctlOptionsKey struct{}

func withCtlOptions(ctx context.Context, o ctlOptions) context.Context {
	return context.WithValue(ctx, ctlOptionsKey{}, o)
}

func ctlOptionsFrom(ctx context.Context) ctlOptions {
	o, _ := ctx.Value(ctlOptionsKey{}).(ctlOptions)
	return o
}

// parseGlobalOptions parses the options before the subcommand. It returns
// the options and the rest of the arguments (the subcommand first). help
// and showVersion report -h/--help and -V/--version; err is a usage error
// already printed on stderr.
func parseGlobalOptions(args []string, stderr io.Writer) (o ctlOptions, rest []string, help, showVersion bool, err error) {
	fs := pflag.NewFlagSet("keeper", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SetInterspersed(false)
	fs.Usage = func() {}
	fs.StringVarP(&o.Config, "configuration", "c", "", "config file (default: searched for)")
	fs.StringVarP(&o.ServerURL, "serverurl", "s", "", "daemon URL, unix:///PATH or http://HOST:PORT")
	fs.StringVarP(&o.Username, "username", "u", "", "username for the daemon")
	fs.StringVarP(&o.Password, "password", "p", "", "password for the daemon")
	fs.BoolVarP(&help, "help", "h", false, "show the commands")
	fs.BoolVarP(&showVersion, "version", "V", false, "print keeper's version")
	if err = fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "keeper: %v\nRun 'keeper help' for usage.\n", err)
		return o, nil, false, false, err
	}
	o.userSet = fs.Changed("username")
	o.passSet = fs.Changed("password")
	return o, fs.Args(), help, showVersion, nil
}

// ctl is one client command's connection to the daemon and its exit status,
// which, as in supervisorctl, each outcome may overwrite.
type ctl struct {
	url     string // the server URL as messages show it
	network string // where url points: "unix" and a socket path, or "tcp" and host:port
	addr    string
	client  *xmlrpc.Client
	user    string
	pass    string
	out     io.Writer
	status  int
	// timeout is how long the daemon may go without answering a probe
	// while a call runs (KEEPER_TIMEOUT).
	timeout time.Duration
	// aborted is set when an error supervisorctl does not handle was
	// printed: supervisorctl's command stops there with status 1.
	aborted bool
}

// newCtl resolves the config and the socket from the global options in ctx.
// A config or URL problem is printed on stderr and returned as exit status 2.
func newCtl(ctx context.Context, stdout, stderr io.Writer) (*ctl, error) {
	o := ctlOptionsFrom(ctx)
	path := o.Config
	if path == "" {
		cwd, err := os.Getwd()
		if err == nil {
			path, err = supervise.FindConfig(cwd)
		}
		if err != nil && o.ServerURL == "" {
			fmt.Fprintf(stderr, "keeper: %v: pass -c FILE or -s unix:///PATH\n", err)
			return nil, exitError{exitInvalidArgs}
		}
	}
	var url, user, pass string
	if path != "" {
		// Like supervisorctl, the client reads only the sections it needs
		// (a broken [program:] does not matter to it); with -s, a config
		// it rejects is only warned about, so a running daemon stays
		// reachable.
		cfg, err := supervise.LoadClientConfig(path)
		switch {
		case err == nil:
			url, user, pass = cfg.Ctl.ServerURL, cfg.Ctl.Username, cfg.Ctl.Password
		case o.ServerURL != "":
			fmt.Fprintf(stderr, "keeper: warning: ignoring config %s: %v\n", path, err)
		default:
			fmt.Fprintf(stderr, "keeper: %v: check the config (-c FILE), or pass -s unix:///PATH to reach the daemon without it\n", err)
			return nil, exitError{exitInvalidArgs}
		}
	}
	if o.ServerURL != "" {
		url = o.ServerURL
	}
	if o.userSet {
		user = o.Username
	}
	if o.passSet {
		pass = o.Password
	}
	network, addr, err := xmlrpc.ServerAddress(url)
	if err != nil {
		fmt.Fprintf(stderr, "keeper: %v: pass -s unix:///PATH or -s http://HOST:PORT\n", err)
		return nil, exitError{exitInvalidArgs}
	}
	timeout, err := answerTimeout()
	if err != nil {
		fmt.Fprintf(stderr, "keeper: %v\n", err)
		return nil, exitError{exitInvalidArgs}
	}
	return &ctl{
		timeout: timeout,
		url:     url,
		network: network,
		addr:    addr,
		client:  xmlrpc.NewClientAt(network, addr, xmlrpc.Options{Username: user, Password: pass}),
		user:    user,
		pass:    pass,
		out:     stdout,
	}, nil
}

// printf writes one line of output.
func (c *ctl) printf(format string, args ...any) {
	fmt.Fprintf(c.out, format+"\n", args...)
}

// refuseArgs reports whether the command name, which takes no arguments,
// was given some; it then says so as supervisorctl does, followed by help
// unless that is empty, and sets the status.
func (c *ctl) refuseArgs(fs *pflag.FlagSet, name, help string) bool {
	if fs.NArg() == 0 {
		return false
	}
	c.printf("Error: %s accepts no arguments", name)
	c.status = exitGeneric
	if help != "" {
		c.printf("%s", help)
	}
	return true
}

// result is the error a command returns when it is done: nil for status 0.
func (c *ctl) result() error {
	c.client.Close()
	if c.status == 0 {
		return nil
	}
	return exitError{c.status}
}

// call calls a supervisor method, giving up on a daemon that stops
// answering. Errors are returned unprinted.
func (c *ctl) call(ctx context.Context, method string, args ...any) (any, error) {
	probe := func() *xmlrpc.Client {
		return xmlrpc.NewClientAt(c.network, c.addr, xmlrpc.Options{Username: c.user, Password: c.pass})
	}
	return callWatched(ctx, c.client, probe, c.timeout, method, args...)
}

// upcheck checks that a supervisord-compatible daemon answers, as
// supervisorctl does before most commands, and prints why not.
func (c *ctl) upcheck(ctx context.Context) bool {
	v, err := c.call(ctx, "supervisor.getVersion")
	return c.checkUp(v, err)
}

// upcheckAnd is upcheck followed by a call of method, in one round trip
// (system.multicall) when the daemon offers it: supervisord spends about as
// long answering a request as keeper spends starting. up is false when
// upcheck failed (and printed why); then method's answer is not used.
func (c *ctl) upcheckAnd(ctx context.Context, method string, args ...any) (v any, up bool, err error) {
	if args == nil {
		args = []any{}
	}
	calls := []any{
		xmlrpc.Struct{{Name: "methodName", Value: "supervisor.getVersion"}, {Name: "params", Value: []any{}}},
		xmlrpc.Struct{{Name: "methodName", Value: method}, {Name: "params", Value: args}},
	}
	res, err := c.call(ctx, "system.multicall", calls)
	if code, _, ok := faultCode(err); ok && code == supervise.FaultUnknownMethod {
		if !c.upcheck(ctx) {
			return nil, false, nil
		}
		v, err := c.call(ctx, method, args...)
		return v, true, err
	}
	if err != nil {
		return nil, c.checkUp(nil, err), err
	}
	results := arrayOf(res)
	if len(results) != len(calls) {
		c.fail(fmt.Errorf("call system.multicall on %s: %d answers to %d calls", c.addr, len(results), len(calls)))
		return nil, false, nil
	}
	if !c.checkUp(c.multicallResult("supervisor.getVersion", results[0])) {
		return nil, false, nil
	}
	v, err = c.multicallResult(method, results[1])
	return v, true, err
}

// multicallResult reads one answer of system.multicall. supervisord answers
// each call with its bare value, or a struct of faultCode and faultString
// (not the one-element arrays of the multicall convention its docstring
// describes).
func (c *ctl) multicallResult(method string, item any) (any, error) {
	if s, ok := item.(xmlrpc.Struct); ok {
		if _, isFault := s.Get("faultCode"); isFault {
			f := &xmlrpc.Fault{Code: getInt(s, "faultCode"), String: getStr(s, "faultString")}
			return nil, fmt.Errorf("call %s on %s: %w", method, c.addr, f)
		}
	}
	return item, nil
}

// checkUp is upcheck's verdict on the answer to supervisor.getVersion.
func (c *ctl) checkUp(v any, err error) bool {
	if err == nil {
		if api, _ := v.(string); api != supervise.APIVersion {
			c.printf("Sorry, this version of supervisorctl expects to talk to a server with API version %s, but the remote version is %s.",
				supervise.APIVersion, pyStr(v))
			c.status = exitNotInstalled
			return false
		}
		return true
	}
	if code, _, ok := faultCode(err); ok && code == supervise.FaultUnknownMethod {
		c.printf("Sorry, supervisord responded but did not recognize the supervisor namespace commands that supervisorctl uses to control it.  Please check that the [rpcinterface:supervisor] section is enabled in the configuration file (see sample.conf).")
		c.status = exitUnimplemented
		return false
	}
	switch {
	case errors.Is(err, errNotAnswering):
		c.printf("error: %v", err)
		c.status = exitStatusUnknown
	case errors.Is(err, syscall.ECONNREFUSED):
		c.printf("%s refused connection", c.url)
		c.status = exitNoPrivileges
	case errors.Is(err, syscall.ENOENT):
		c.printf("%s no such file", c.url)
		c.status = exitNotRunning
	default:
		c.fail(err)
	}
	return false
}

// fail prints an error that supervisorctl does not handle itself (it prints
// a Python exception line instead) and sets status 1. An HTTP 401 gets
// supervisorctl's own message.
func (c *ctl) fail(err error) {
	c.status = exitGeneric
	c.aborted = true
	var se *xmlrpc.StatusError
	switch {
	case errors.As(err, &se) && se.StatusCode == 401:
		c.printf("Server requires authentication")
	case errors.Is(err, xmlrpc.ErrNoDaemon):
		c.printf("error: %v: start the daemon, or point -c or -s at its socket", err)
	default:
		c.printf("error: %v", err)
	}
}

// faultCode returns the fault code of err, or -1 when err is not a fault.
func faultCode(err error) (int, string, bool) {
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return f.Code, f.String, true
	}
	return -1, "", false
}

// setStatusFromFault sets the exit status from a result code the way
// supervisorctl's set_exitstatus_from_xmlrpc_fault does: ignored codes and
// SUCCESS leave it, dead-program codes make it 7, anything else 1.
func (c *ctl) setStatusFromFault(code int, ignored ...int) {
	for _, i := range ignored {
		if code == i {
			return
		}
	}
	switch code {
	case supervise.FaultSuccess:
	case supervise.FaultSpawnError, supervise.FaultAbnormalTermination, supervise.FaultNotRunning:
		c.status = exitNotRunning
	default:
		c.status = exitGeneric
	}
}

// splitNamespec splits GROUP:NAME, GROUP:* and GROUP: (process "" meaning
// the whole group, all=true) and NAME (group and process both NAME).
func splitNamespec(spec string) (group, process string, all bool) {
	if g, p, ok := strings.Cut(spec, ":"); ok {
		if p == "" || p == "*" {
			return g, "", true
		}
		return g, p, false
	}
	return spec, spec, false
}

// Accessors for members of supervisord's result structs; a missing or
// mistyped member reads as the zero value.

func structOf(v any) xmlrpc.Struct {
	s, _ := v.(xmlrpc.Struct)
	return s
}

func arrayOf(v any) []any {
	a, _ := v.([]any)
	return a
}

func getStr(s xmlrpc.Struct, key string) string {
	v, _ := s.Get(key)
	if str, ok := v.(string); ok {
		return str
	}
	if v == nil {
		return ""
	}
	return pyStr(v)
}

func getInt(s xmlrpc.Struct, key string) int {
	v, _ := s.Get(key)
	switch n := v.(type) {
	case int:
		return n
	case bool:
		if n {
			return 1
		}
	case float64:
		return int(n)
	}
	return 0
}

func getBool(s xmlrpc.Struct, key string) bool {
	v, _ := s.Get(key)
	switch b := v.(type) {
	case bool:
		return b
	case int:
		return b != 0
	case string:
		return b != ""
	}
	return false
}

// pyStr formats a decoded XML-RPC value as Python's str() does for the
// scalar types supervisorctl prints.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// parsePyInt parses an integer as Python's int() does for the strings
// supervisorctl hands it: surrounding white space, a sign, digits with
// single underscores between them.
func parsePyInt(s string) (int, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil || strings.ContainsAny(s, "+-") {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// writeJSON writes v as indented JSON and a newline, leaving <, > and &
// as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newCtlFlags returns the flag set of a client subcommand: --help, and
// whatever the caller adds. Names never start with "-", so flags may come
// anywhere.
func newCtlFlags(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n", strings.TrimSpace(commands[name].usage))
	}
	return fs
}

// parseCtlFlags parses args[1:] with fs. done is true when the command
// should return err at once: after --help (nil) or a bad flag (status 2,
// already printed).
func parseCtlFlags(fs *pflag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return true, nil
		}
		fmt.Fprintf(fs.Output(), "keeper %s: %v (see keeper help %s)\n", args[0], err, args[0])
		return true, exitError{exitInvalidArgs}
	}
	return false, nil
}
