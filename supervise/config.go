package supervise

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"keeper/supervise/ini"
)

// Config is keeper's configuration, read from a supervisord.conf (or keeper.conf) and the files it
// includes. Relative paths in it are resolved against the directory of the file the option is in
// (supervisord resolves them against its working directory; the two agree when the config is in the
// directory keeper is started from).
type Config struct {
	// Path is the absolute path of the main file.
	Path string
	// Files lists every file read, the main file first, then the included ones.
	Files       []string
	Supervisord SupervisordConfig
	Server      ServerConfig
	Inet        InetConfig
	Ctl         CtlConfig
	// Groups are sorted by priority, then name: the order to start them in (stop in reverse).
	Groups []*GroupConfig
	// Processes are every group's processes, sorted by priority, then name, then group.
	Processes []*ProcessConfig
	// Warnings name what keeper read but ignores, and values that are suspicious but allowed.
	Warnings []Warning
}

// Warning is something in the config that keeper ignores or that looks wrong, at a place in a file.
type Warning struct {
	File    string
	Line    int
	Message string
}

// String formats the warning as "file:line: message".
func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message)
}

// SupervisordConfig is the [supervisord] section: the daemon's own settings.
type SupervisordConfig struct {
	// Logfile is the daemon's log; default keeper.log in the config's directory (supervisord:
	// supervisord.log in its working directory).
	Logfile         string
	LogfileMaxBytes int64 // rotate the log beyond this size; 0 never rotates (default 50MB)
	LogfileBackups  int   // rotated logs to keep (default 10)
	// LogSyslog is logfile=syslog: the daemon's log also goes to syslog.
	LogSyslog bool
	// Loglevel is one of critical, error, warn, info, debug, trace, blather (default info).
	Loglevel string
	// Pidfile is where the daemon writes its pid; default keeper.pid in the config's directory.
	Pidfile  string
	Nodaemon bool // stay in the foreground (default false)
	Silent   bool // with Nodaemon, do not log to stdout (default false)
	Minfds   int  // file descriptors to make sure are available (default 1024)
	// MemoryLimit is keeper's default memory_limit for programs (bytes, 0 for none).
	MemoryLimit int64
	Minprocs    int    // processes to make sure are available (default 200)
	Umask       int    // the daemon's umask (default 022)
	User        string // user to switch to when started as root; "" stays
	Directory   string // directory to chdir to when daemonizing; "" stays
	Childlogdir string // where AUTO child logs go (default os.TempDir())
	Nocleanup   bool   // keep AUTO child logs at start (default false)
	Identifier  string // the RPC identifier (default "supervisor")
	// Environment is "KEY=value" for every process, before each program's own environment.
	Environment []string
	StripANSI   bool // strip ANSI escapes from child logs: not implemented, warned
}

// ServerConfig is the [unix_http_server] section: the control socket.
type ServerConfig struct {
	// File is the socket's path; default keeper.sock in the config's directory when the section is
	// absent (supervisord then has no socket at all).
	File       string
	Chmod      os.FileMode // socket mode (default 0700)
	ChownUser  string      // chown=user or user:group; "" leaves the owner (not checked here)
	ChownGroup string
	Username   string // "" with Password "": no authentication
	Password   string // plain text, or "{SHA}" and the hex SHA-1 of the password
	Web        WebConfig
}

// WebConfig is keeper's web page on a control server (web, web_attach): off unless configured.
type WebConfig struct {
	On     bool // web = true: the status page at /
	Attach bool // web_attach = true: sessions open in the page (needs web)
}

// CheckPassword reports whether username and password match the configured ones. It is true when no
// username is configured.
func (s ServerConfig) CheckPassword(username, password string) bool {
	return checkCredentials(s.Username, s.Password, username, password)
}

// InetConfig is the [inet_http_server] section: the control server on TCP, serving what the control
// socket serves, with HTTP Basic authentication instead of peer credentials.
type InetConfig struct {
	// Port is 0 when there is no [inet_http_server]: keeper listens on no TCP port.
	Port int
	// Host is the address to listen on; "" (port=*:N or :N or N) is every IPv4 interface, as in supervisord.
	Host     string
	Username string // required unless Host is loopback
	Password string // plain text, or "{SHA}" and the hex SHA-1 of the password
	Web      WebConfig
}

// Addr is the address to listen on, host:port.
func (c InetConfig) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// CheckPassword reports whether username and password match the configured ones. It is true when no
// username is configured.
func (c InetConfig) CheckPassword(username, password string) bool {
	return checkCredentials(c.Username, c.Password, username, password)
}

// isLoopback reports whether host names only this machine: "localhost" or a loopback address.
// Other names count as remote: keeper does not resolve names to decide what is safe.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkCredentials compares the username and password a client sent with the configured ones in time
// that depends on neither: both sides are hashed to digests of one length before the constant-time
// comparison. A "{SHA}" password is the hex SHA-1 of the password, as supervisord stores it.
func checkCredentials(wantUser, wantPass, username, password string) bool {
	if wantUser == "" && wantPass == "" {
		return true
	}
	if hexsum, ok := strings.CutPrefix(wantPass, "{SHA}"); ok {
		sum := sha1.Sum([]byte(password))
		password, wantPass = hex.EncodeToString(sum[:]), strings.ToLower(hexsum)
	}
	userOK := equalDigests(username, wantUser)
	passOK := equalDigests(password, wantPass)
	return userOK&passOK == 1
}

// equalDigests is 1 when a and b are equal, 0 otherwise, compared as SHA-256 digests.
func equalDigests(a, b string) int {
	da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(da[:], db[:])
}

// CtlConfig is the [supervisorctl] section: how the CLI reaches the daemon.
type CtlConfig struct {
	// ServerURL is "unix:///path" or "http://host:port" ([inet_http_server]); default the
	// [unix_http_server] socket (supervisord: http://localhost:9001).
	ServerURL   string
	Username    string
	Password    string
	Prompt      string // default "supervisor"
	HistoryFile string // "" keeps no history
}

// GroupConfig is a process group: a [group:x] section, or a [program:x] that is in no group.
type GroupConfig struct {
	Name     string
	Priority int
	// Programs are the [program:] sections whose processes make up the group, in the order given.
	Programs []string
	// Processes are sorted by priority, then name.
	Processes []*ProcessConfig
	// Listener is set when the group is an [eventlistener:x] pool: its
	// processes speak the event listener protocol on their stdin and stdout.
	Listener *ListenerConfig
}

// ListenerConfig is what an [eventlistener:x] section adds to a program:
// the events its pool subscribes to and how many it buffers.
type ListenerConfig struct {
	// Events are the event type names subscribed to, upper case, each once.
	Events []string
	// BufferSize is how many events wait for a ready listener (default
	// 10); beyond it the oldest is dropped.
	BufferSize int
}

// defaultResultHandler is the only result_handler keeper has: OK accepts
// the event, anything else rejects it.
const defaultResultHandler = "supervisor.dispatchers:default_handler"

// Equal reports whether two group configs are the same, so that reread/update can tell a changed
// group from an unchanged one. Positions in the file do not count.
func (g *GroupConfig) Equal(o *GroupConfig) bool { return reflect.DeepEqual(g, o) }

// Autorestart says when a process that exited after starting is started again.
type Autorestart string

// The autorestart values.
const (
	AutorestartUnexpected Autorestart = "unexpected" // when the exit code is not in Exitcodes
	AutorestartTrue       Autorestart = "true"       // always
	AutorestartFalse      Autorestart = "false"      // never
)

// Sessions says what stop and shutdown do with a program's detached terminal sessions when no flag
// says otherwise.
type Sessions string

// The sessions values.
const (
	SessionsKeep Sessions = "keep" // leave them running, still listed (default)
	SessionsKill Sessions = "kill" // reap them after the program stops
)

// Leftovers says what happens to the rest of a program's process tree (workers, daemonized helpers;
// never its sessions) once its main process has exited.
type Leftovers string

// The leftovers values.
const (
	LeftoversStop Leftovers = "stop" // stopsignal, then SIGKILL after stopwaitsecs (default)
	LeftoversKeep Leftovers = "keep" // leave them running, as supervisord does
)

// LogMode says where a process's stdout or stderr goes.
type LogMode int

// The log modes.
const (
	LogAuto LogMode = iota // a file the daemon names in Childlogdir (supervisord's AUTO, the default)
	LogNone                // discarded (NONE or OFF)
	LogFile                // the file at LogConfig.Path
)

// String returns AUTO, NONE or FILE.
func (m LogMode) String() string {
	switch m {
	case LogAuto:
		return "AUTO"
	case LogNone:
		return "NONE"
	case LogFile:
		return "FILE"
	}
	return "LogMode(" + strconv.Itoa(int(m)) + ")"
}

// LogConfig is where one output stream of a process is logged and how it is rotated.
type LogConfig struct {
	Mode     LogMode
	Path     string // absolute, when Mode is LogFile
	MaxBytes int64  // rotate beyond this size; 0 never rotates (default 50MB)
	Backups  int    // rotated files to keep (default 10)
	// Syslog is <stream>_syslog, or <stream>_logfile=syslog: each line also
	// goes to syslog, tagged with the program's name.
	Syslog bool
	// Events is <stream>_events_enabled: every read of the stream is also
	// a PROCESS_LOG_STDOUT or PROCESS_LOG_STDERR event.
	Events bool
	// CaptureMaxBytes is <stream>_capture_maxbytes: when not 0, what the
	// process writes between supervisord's capture tokens is a
	// PROCESS_COMMUNICATION_* event (its newest CaptureMaxBytes bytes)
	// instead of log output.
	CaptureMaxBytes int64
}

// ProcessConfig is one process: a [program:x] section gives one per numprocs.
type ProcessConfig struct {
	Name       string // from process_name (default the program name)
	Group      string // the group it belongs to
	Program    string // the [program:] section's name
	ProcessNum int    // %(process_num)s of this instance

	Command string   // as written, expanded
	Argv    []string // Command split like Python's shlex.split
	// Directory to run in; "" is the daemon's.
	Directory string
	// Umask for the process; -1 inherits the daemon's.
	Umask    int
	Priority int // start order, low first (default 999)

	Autostart    bool          // start when the daemon starts (default true)
	Startsecs    time.Duration // how long it must stay up to count as started (default 1s)
	Startretries int           // attempts before FATAL (default 3); RetryForever never gives up
	// BackoffMax is keeper's backoff_max: the longest wait between two start attempts. 0 lets the
	// wait grow as supervisord's does (1 s more per attempt); with RetryForever it defaults to 60 s.
	BackoffMax  time.Duration
	Autorestart Autorestart // default unexpected
	Exitcodes   []int       // expected exit codes (default 0)

	Stopsignal  syscall.Signal // default SIGTERM
	Stopwait    time.Duration  // from Stopsignal to SIGKILL (default 10s)
	Stopasgroup bool           // send Stopsignal to the process group (default false)
	Killasgroup bool           // send SIGKILL to the process group (default Stopasgroup)

	// User to run as; "" is the daemon's. Checked when the process is spawned, not here.
	User           string
	RedirectStderr bool // stderr goes to the stdout log (Stderr.Mode is then LogNone)
	Stdout         LogConfig
	Stderr         LogConfig
	// Environment is "KEY=value": [supervisord]'s, then the program's (a later key replaces an
	// earlier one in place). The daemon adds it to its own environment.
	Environment []string
	// DependsOn is keeper's own depends_on: the [program:] names that must be RUNNING before
	// this one starts, and that it stops before.
	DependsOn []string
	// Ready is keeper's own ready: the check that makes STARTING RUNNING instead of startsecs,
	// within ReadyTimeout (ready_timeout, default 60 s) or the start failed.
	Ready        ReadyCheck
	ReadyTimeout time.Duration
	// Watchdog is keeper's watchdog_sec for a ready=notify program: RUNNING, it must send
	// WATCHDOG=1 at least that often (it gets WATCHDOG_USEC), or it is restarted. 0 for none.
	Watchdog time.Duration
	// MemoryLimit is keeper's own memory_limit (bytes, 0 for none): a tree using more for
	// MemoryLimitGrace (memory_limit_grace, default 10 s) is restarted.
	MemoryLimit      int64
	MemoryLimitGrace time.Duration
	// Health is keeper's own healthcheck with its interval, timeout and retries.
	Health HealthCheck
	// EnvFiles is keeper's own environment_file: files of KEY=VALUE lines read at every start,
	// applied before Environment (which overrides them), later files overriding earlier ones.
	EnvFiles []EnvFile
	// ServerURL is passed to the process as SUPERVISOR_SERVER_URL; "" is AUTO (the daemon's socket).
	ServerURL string
	// Sessions is keeper's own key: what stop and shutdown do with the detached terminal sessions.
	Sessions Sessions
	// Leftovers is keeper's own key: whether the rest of the program's tree is stopped with it.
	Leftovers Leftovers
	// Pty is keeper's own pty: the program runs on a terminal held by a keeper session master
	// of its own, which outlives the daemon; SessionLog (session_log) records that terminal as
	// asciicast v2, "" for no recording.
	Pty        bool
	SessionLog string
}

// Namespec returns "group:name", or just name when the process is alone in a group of its name.
func (p *ProcessConfig) Namespec() string { return Namespec(p.Group, p.Name) }

// Namespec names a process as supervisorctl does: "group:name", or just name
// when its group has its name.
func Namespec(group, name string) string {
	if group == name {
		return name
	}
	return group + ":" + name
}

// Equal reports whether two process configs are the same.
func (p *ProcessConfig) Equal(o *ProcessConfig) bool { return reflect.DeepEqual(p, o) }

// Group returns the group called name, or nil.
func (c *Config) Group(name string) *GroupConfig {
	for _, g := range c.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Process returns the process named by namespec: "group:name", or a bare name that one process has.
// It returns nil when there is no such process or a bare name is ambiguous.
func (c *Config) Process(namespec string) *ProcessConfig {
	group, name, qualified := strings.Cut(namespec, ":")
	var found *ProcessConfig
	for _, p := range c.Processes {
		if qualified {
			if p.Group == group && p.Name == name {
				return p
			}
			continue
		}
		if p.Name == namespec {
			if found != nil {
				return nil
			}
			found = p
		}
	}
	return found
}

// systemConfigs are the absolute places FindConfig looks after the working directory.
var systemConfigs = []string{
	"/etc/keeper/keeper.conf",
	"/etc/supervisord.conf",
	"/etc/supervisor/supervisord.conf",
}

// FindConfig returns the first config file that exists among cwd/keeper.conf, cwd/supervisord.conf,
// cwd/etc/supervisord.conf, /etc/keeper/keeper.conf, /etc/supervisord.conf and
// /etc/supervisor/supervisord.conf (supervisord's order, with keeper's own names first). The error
// lists the places and wraps fs.ErrNotExist.
func FindConfig(cwd string) (string, error) {
	return findConfig(cwd, systemConfigs)
}

func findConfig(cwd string, system []string) (string, error) {
	paths := []string{
		filepath.Join(cwd, "keeper.conf"),
		filepath.Join(cwd, "supervisord.conf"),
		filepath.Join(cwd, "etc", "supervisord.conf"),
	}
	paths = append(paths, system...)
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("find config: none of %s: %w", strings.Join(paths, ", "), fs.ErrNotExist)
}

// LoadConfig reads the config at path and the files it includes, checks every value and returns the
// typed config. Values are expanded as supervisord does: %(here)s is the directory of the file the
// option is in, %(ENV_X)s is environment variable X, %(host_node_name)s the host name, and in
// [program:x] also %(program_name)s, %(group_name)s, %(process_num)d and %(numprocs)d. The first
// wrong value stops loading with an error naming file, line, section, key, value and what is allowed.
// Sections and keys keeper does not implement, and unknown ones, become Warnings.
func LoadConfig(path string) (*Config, error) {
	host, _ := os.Hostname()
	return loadConfig(path, os.Environ(), host)
}

// loader holds the state of one LoadConfig.
type loader struct {
	file *ini.File
	cfg  *Config
	dir  string            // directory of the main file
	vars map[string]string // ENV_* and host_node_name
}

// LoadClientConfig reads only what a client needs from the config at path:
// [supervisord] (where the daemon keeps its pidfile and state),
// [unix_http_server] and [supervisorctl]. A broken [program:] section does
// not keep a client from reaching a running daemon, and a client does not
// pay for reading every program.
func LoadClientConfig(path string) (*Config, error) {
	host, _ := os.Hostname()
	return readConfig(path, os.Environ(), host, false)
}

func loadConfig(path string, environ []string, host string) (*Config, error) {
	return readConfig(path, environ, host, true)
}

func readConfig(path string, environ []string, host string, programs bool) (*Config, error) {
	vars := map[string]string{"host_node_name": host}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars["ENV_"+k] = v
		}
	}
	f, err := ini.Load(path, vars)
	if err != nil {
		return nil, err
	}
	l := &loader{file: f, vars: vars, cfg: &Config{Path: f.Files[0], Files: f.Files}}
	l.dir = filepath.Dir(l.cfg.Path)
	for _, w := range f.Warnings {
		l.warn(w.File, w.Line, "%s", w.Message)
	}
	l.checkNames()
	if err := l.supervisord(); err != nil {
		return nil, err
	}
	if err := l.server(); err != nil {
		return nil, err
	}
	if err := l.ctl(); err != nil {
		return nil, err
	}
	if !programs {
		return l.cfg, nil
	}
	// Only the daemon listens on [inet_http_server]; a client reads [supervisorctl].
	if err := l.inet(); err != nil {
		return nil, err
	}
	if err := l.groups(); err != nil {
		return nil, err
	}
	order := map[string]int{}
	for i, name := range l.cfg.Files {
		order[name] = i
	}
	sort.SliceStable(l.cfg.Warnings, func(i, j int) bool {
		a, b := l.cfg.Warnings[i], l.cfg.Warnings[j]
		if order[a.File] != order[b.File] {
			return order[a.File] < order[b.File]
		}
		return a.Line < b.Line
	})
	return l.cfg, nil
}

func (l *loader) warn(file string, line int, format string, args ...any) {
	l.cfg.Warnings = append(l.cfg.Warnings, Warning{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// Keys of each section: true for keys keeper implements, false for supervisord's keys it ignores.
var (
	supervisordKeys = keySet("memory_limit logfile logfile_maxbytes logfile_backups loglevel pidfile nodaemon silent minfds "+
		"minprocs umask user directory childlogdir nocleanup identifier environment strip_ansi", "")
	serverKeys  = keySet("file chmod chown username password web web_attach", "")
	inetKeys    = keySet("port username password web web_attach", "")
	ctlKeys     = keySet("serverurl username password prompt history_file", "")
	groupKeys   = keySet("programs priority", "")
	programKeys = keySet("command process_name numprocs numprocs_start directory umask priority autostart "+
		"startsecs startretries autorestart exitcodes stopsignal stopwaitsecs stopasgroup killasgroup user "+
		"redirect_stderr stdout_logfile stdout_logfile_maxbytes stdout_logfile_backups stderr_logfile "+
		"stderr_logfile_maxbytes stderr_logfile_backups environment serverurl sessions leftovers environment_file "+
		"backoff_max depends_on ready ready_timeout healthcheck healthcheck_interval healthcheck_timeout healthcheck_retries watchdog_sec "+
		"memory_limit memory_limit_grace stdout_events_enabled stderr_events_enabled stdout_capture_maxbytes stderr_capture_maxbytes "+
		"stdout_syslog stderr_syslog pty session_log",
		"")
	// listenerKeys: an [eventlistener:x] takes a program's keys but depends_on, and its own.
	listenerKeys     = listenerKeySet()
	includeKeys      = keySet("files", "")
	rpcinterfaceKeys = keySet(rpcinterfaceFactoryKey, "")
)

// The key naming an [rpcinterface:x] section's factory, and the factory of supervisord's own
// interface (supervisor.* and system.*), the one keeper implements.
const (
	rpcinterfaceFactoryKey = "supervisor.rpcinterface_factory"
	mainRPCInterface       = "supervisor.rpcinterface:make_main_rpcinterface"
)

// isMainRPCInterface reports whether s declares supervisord's own RPC interface.
func isMainRPCInterface(s *ini.Section) bool {
	o := s.Get(rpcinterfaceFactoryKey)
	return o != nil && o.Value == mainRPCInterface
}

func listenerKeySet() map[string]bool {
	keys := maps.Clone(programKeys)
	delete(keys, "depends_on")
	keys["events"], keys["buffer_size"], keys["result_handler"] = true, true, true
	return keys
}

func keySet(implemented, ignored string) map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(implemented) {
		m[k] = true
	}
	for _, k := range strings.Fields(ignored) {
		m[k] = false
	}
	return m
}

// checkNames warns about every section and key keeper does not implement or does not know.
func (l *loader) checkNames() {
	for _, s := range l.file.Sections {
		var keys map[string]bool
		prefix, _, _ := strings.Cut(s.Name, ":")
		switch {
		case s.Name == "supervisord":
			keys = supervisordKeys
		case s.Name == "unix_http_server":
			keys = serverKeys
		case s.Name == "supervisorctl":
			keys = ctlKeys
		case s.Name == "include":
			keys = includeKeys
		case prefix == "program" && s.Name != "program":
			keys = programKeys
		case prefix == "group" && s.Name != "group":
			keys = groupKeys
		case prefix == "eventlistener" && s.Name != prefix:
			keys = listenerKeys
		case s.Name == "DEFAULT":
			l.warn(s.File, s.Line, "[DEFAULT] (configparser's defaults for every section) is not implemented by keeper; ignored")
			continue
		case s.Name == "inet_http_server":
			keys = inetKeys
		case prefix == "rpcinterface" && s.Name != prefix && isMainRPCInterface(s):
			// supervisord's sample config declares its own interface, which keeper serves.
			keys = rpcinterfaceKeys
		case s.Name != prefix && slices.Contains([]string{"rpcinterface", "ctlplugin", "fcgi-program"}, prefix):
			l.warn(s.File, s.Line, "[%s] is not implemented by keeper; ignored", s.Name)
			continue
		default:
			l.warn(s.File, s.Line, "[%s] is not a section keeper or supervisord knows; ignored", s.Name)
			continue
		}
		for _, o := range s.Options {
			implemented, known := keys[o.Key]
			switch {
			case !known:
				l.warn(o.File, o.Line, "[%s] %s is not a key keeper or supervisord knows; ignored", s.Name, o.Key)
			case !implemented:
				l.warn(o.File, o.Line, "[%s] %s is not implemented by keeper; ignored", s.Name, o.Key)
			}
		}
	}
}

// reader reads typed values from one section. The first error sticks in err and later calls return
// their defaults, so a caller checks err once after reading everything.
type reader struct {
	l    *loader
	sec  *ini.Section // nil when the section is absent: every value is its default
	name string       // the section's name for messages
	vars map[string]string
	err  error
}

func (l *loader) reader(sec *ini.Section, name string, vars map[string]string) *reader {
	return &reader{l: l, sec: sec, name: name, vars: maps.Clone(vars)}
}

// fail records an error about option o.
func (r *reader) fail(o *ini.Option, err error) {
	if r.err == nil {
		r.err = &ini.Error{Op: "load", File: o.File, Line: o.Line, Msg: fmt.Sprintf("[%s] %s", r.name, o.Key), Err: err}
	}
}

// failSection records an error about the section as a whole.
func (r *reader) failSection(format string, args ...any) {
	if r.err == nil {
		file, line := r.l.cfg.Path, 0
		if r.sec != nil {
			file, line = r.sec.File, r.sec.Line
		}
		r.err = &ini.Error{Op: "load", File: file, Line: line, Msg: fmt.Sprintf("[%s] ", r.name) + fmt.Sprintf(format, args...)}
	}
}

// lookup returns the option key and its expanded value, or nil when it is absent or an error is pending.
func (r *reader) lookup(key string) (*ini.Option, string) {
	if r.sec == nil || r.err != nil {
		return nil, ""
	}
	o := r.sec.Get(key)
	if o == nil {
		return nil, ""
	}
	r.vars["here"] = filepath.Dir(o.File)
	v, err := ini.Expand(o.Value, r.vars)
	if err != nil {
		r.fail(o, err)
		return nil, ""
	}
	return o, v
}

// raw returns the option's unexpanded value.
func (r *reader) raw(key string) (*ini.Option, string) {
	if r.sec == nil || r.err != nil {
		return nil, ""
	}
	if o := r.sec.Get(key); o != nil {
		return o, o.Value
	}
	return nil, ""
}

func (r *reader) str(key, def string) string {
	if o, v := r.lookup(key); o != nil {
		return v
	}
	return def
}

// path returns the value as an absolute path: "~" expanded, relative to the option's file.
func (r *reader) path(key, def string) string {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	if v == "" {
		return ""
	}
	return resolvePath(v, filepath.Dir(o.File))
}

var (
	truthy = []string{"true", "yes", "on", "1"}
	falsy  = []string{"false", "no", "off", "0"}
)

func (r *reader) boolean(key string, def bool) bool {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		r.fail(o, err)
	}
	return b
}

func parseBool(v string) (bool, error) {
	s := strings.ToLower(v)
	switch {
	case slices.Contains(truthy, s):
		return true, nil
	case slices.Contains(falsy, s):
		return false, nil
	}
	return false, fmt.Errorf("%q is not one of true, false, yes, no, on, off, 1, 0", v)
}

// RetryForever is startretries = -1 (or infinite): a program in BACKOFF
// never goes FATAL.
const RetryForever = -1

// defaultBackoffMax caps the wait between start attempts of a program that
// retries forever.
const defaultBackoffMax = 60 * time.Second

// startretries reads startretries: supervisord's count, or keeper's -1 and
// "infinite" for RetryForever.
func (r *reader) startretries(key string) int {
	if o, v := r.lookup(key); o != nil {
		if v := strings.ToLower(strings.TrimSpace(v)); v == "-1" || v == "infinite" {
			return RetryForever
		}
		if n, err := strconv.Atoi(v); err == nil && n < 0 {
			r.fail(o, fmt.Errorf("%d is not a count of retries: use 0 to %d, or -1 or infinite to retry forever", n, math.MaxInt32))
			return 3
		}
	}
	return r.integer(key, 3, 0, math.MaxInt32)
}

// integer reads a decimal integer in [lo, hi].
func (r *reader) integer(key string, def, lo, hi int) int {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil && lo == 0:
		r.fail(o, fmt.Errorf("%q is not an integer ≥ 0", v))
	case err != nil:
		r.fail(o, fmt.Errorf("%q is not an integer", v))
	case n < lo || n > hi:
		r.fail(o, fmt.Errorf("%d is not between %d and %d", n, lo, hi))
	}
	return n
}

func (r *reader) byteSize(key string, def int64) int64 {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	n, err := parseByteSize(v)
	if err != nil {
		r.fail(o, err)
	}
	return n
}

// parseByteSize reads supervisord's byte sizes: a number with an optional KB, MB or GB suffix
// (case-insensitive, powers of 1024).
func parseByteSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for suffix, m := range map[string]int64{"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = strings.TrimSpace(rest), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a byte size (a number ≥ 0 with an optional KB, MB or GB suffix)", v)
	}
	return n * mult, nil
}

// octal reads an octal number (022, 0o22) not above hi.
func (r *reader) octal(key string, def, hi int) int {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	s := strings.TrimPrefix(strings.TrimPrefix(v, "0o"), "0O")
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || int(n) > hi {
		r.fail(o, fmt.Errorf("%q is not an octal number from 0 to %#o", v, hi))
		return def
	}
	return int(n)
}

// oneOf reads a value that must be one of allowed (case-insensitive) and returns it lower-cased.
func (r *reader) oneOf(key, def string, allowed ...string) string {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	s := strings.ToLower(v)
	if !slices.Contains(allowed, s) {
		r.fail(o, fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", ")))
		return def
	}
	return s
}

func (r *reader) autorestart(key string, def Autorestart) Autorestart {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	s := strings.ToLower(v)
	switch {
	case s == "unexpected":
		return AutorestartUnexpected
	case slices.Contains(truthy, s):
		return AutorestartTrue
	case slices.Contains(falsy, s):
		return AutorestartFalse
	}
	r.fail(o, fmt.Errorf("%q is not one of true, false, unexpected", v))
	return def
}

// signals are the names stopsignal accepts, without "SIG".
var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "ILL": syscall.SIGILL,
	"TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT, "IOT": syscall.SIGIOT, "BUS": syscall.SIGBUS,
	"FPE": syscall.SIGFPE, "KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV,
	"USR2": syscall.SIGUSR2, "PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM, "TERM": syscall.SIGTERM,
	"CHLD": syscall.SIGCHLD, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP,
	"TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU, "URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU,
	"XFSZ": syscall.SIGXFSZ, "VTALRM": syscall.SIGVTALRM, "PROF": syscall.SIGPROF,
	"WINCH": syscall.SIGWINCH, "IO": syscall.SIGIO, "POLL": syscall.SIGIO, "SYS": syscall.SIGSYS,
}

func (r *reader) signal(key string, def syscall.Signal) syscall.Signal {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	sig, err := parseSignal(v)
	if err != nil {
		r.fail(o, err)
		return def
	}
	return sig
}

// parseSignal reads a signal name, with or without SIG and in any case, or a signal number.
func parseSignal(v string) (syscall.Signal, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	if sig, ok := signals[strings.TrimPrefix(s, "SIG")]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("%q is not one of TERM, HUP, INT, QUIT, KILL, USR1, USR2 (or another signal name or number)", v)
}

func (r *reader) exitcodes(key string, def []int) []int {
	o, v := r.lookup(key)
	if o == nil {
		return def
	}
	codes := []int{}
	if strings.TrimSpace(v) == "" {
		return codes
	}
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > 255 {
			r.fail(o, fmt.Errorf("%q is not a comma-separated list of exit codes from 0 to 255", v))
			return def
		}
		codes = append(codes, n)
	}
	return codes
}

// nameList reads a comma-separated list of names, each once.
func (r *reader) nameList(key string) []string {
	o, v := r.lookup(key)
	if o == nil {
		return nil
	}
	var names []string
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			r.fail(o, fmt.Errorf("%q has an empty name: list names separated by commas", v))
			return nil
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// envFiles reads environment_file: a comma-separated list of paths, each
// optional when it starts with "-".
func (r *reader) envFiles(key string) []EnvFile {
	o, v := r.lookup(key)
	if o == nil {
		return nil
	}
	var files []EnvFile
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		optional := strings.HasPrefix(item, "-")
		item = strings.TrimSpace(strings.TrimPrefix(item, "-"))
		if item == "" {
			r.fail(o, fmt.Errorf("%q has an empty path: list files separated by commas, each optionally prefixed with - (skipped when missing)", v))
			return nil
		}
		files = append(files, EnvFile{Path: resolvePath(item, filepath.Dir(o.File)), Optional: optional})
	}
	return files
}

// environment reads a KEY=value list.
func (r *reader) environment(key string) []string {
	o, v := r.lookup(key)
	if o == nil {
		return nil
	}
	env, err := ini.KeyValues(v)
	if err != nil {
		r.fail(o, err)
	}
	return env
}

// logfile reads the <stream>_logfile keys.
func (r *reader) logfile(stream string) LogConfig {
	lc := LogConfig{
		Mode:            LogAuto,
		MaxBytes:        r.byteSize(stream+"_logfile_maxbytes", 50<<20),
		Backups:         r.integer(stream+"_logfile_backups", 10, 0, math.MaxInt32),
		Events:          r.boolean(stream+"_events_enabled", false),
		Syslog:          r.boolean(stream+"_syslog", false),
		CaptureMaxBytes: r.byteSize(stream+"_capture_maxbytes", 0),
	}
	o, v := r.lookup(stream + "_logfile")
	if o != nil {
		switch strings.ToLower(v) {
		case "none", "off", "":
			lc.Mode = LogNone
		case "auto":
		case "syslog":
			lc.Mode, lc.Syslog = LogNone, true
		default:
			lc.Mode, lc.Path = LogFile, resolvePath(v, filepath.Dir(o.File))
		}
	}
	if lc.Mode == LogAuto && lc.MaxBytes == 0 && r.err == nil {
		file, line := r.sec.File, r.sec.Line
		if o := r.sec.Get(stream + "_logfile_maxbytes"); o != nil {
			file, line = o.File, o.Line
		}
		r.l.warn(file, line, "[%s] %s is AUTO without rotation (%s_logfile_maxbytes=0): it can fill the disk",
			r.name, stream+"_logfile", stream)
	}
	return lc
}

// resolvePath expands "~" and "~user" and makes p absolute relative to dir.
func resolvePath(p, dir string) string {
	if strings.HasPrefix(p, "~") {
		name, rest, _ := strings.Cut(p[1:], "/")
		home := ""
		if name == "" {
			home = os.Getenv("HOME")
			if home == "" {
				if u, err := user.Current(); err == nil {
					home = u.HomeDir
				}
			}
		} else if u, err := user.Lookup(name); err == nil {
			home = u.HomeDir
		}
		if home != "" {
			p = filepath.Join(home, rest)
		}
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}

// supervisord reads [supervisord] and adds its environment to the expansions of later sections.
func (l *loader) supervisord() error {
	sec := l.file.Section("supervisord")
	r := l.reader(sec, "supervisord", l.vars)
	c := &l.cfg.Supervisord
	defLog := filepath.Join(l.dir, "keeper.log")
	if o, v := r.lookup("logfile"); o != nil && strings.EqualFold(v, "syslog") {
		// keeper keeps its file log too: readLog and maintail read it.
		c.Logfile, c.LogSyslog = defLog, true
	} else {
		c.Logfile = r.path("logfile", defLog)
	}
	c.LogfileMaxBytes = r.byteSize("logfile_maxbytes", 50<<20)
	c.LogfileBackups = r.integer("logfile_backups", 10, 0, math.MaxInt32)
	c.Loglevel = r.oneOf("loglevel", "info", "critical", "error", "warn", "info", "debug", "trace", "blather")
	c.Pidfile = r.path("pidfile", filepath.Join(l.dir, "keeper.pid"))
	c.Nodaemon = r.boolean("nodaemon", false)
	c.Silent = r.boolean("silent", false)
	c.Minfds = r.integer("minfds", 1024, 0, math.MaxInt32)
	c.Minprocs = r.integer("minprocs", 200, 0, math.MaxInt32)
	c.Umask = r.octal("umask", 0o22, 0o777)
	c.User = r.str("user", "")
	c.Directory = r.path("directory", "")
	c.Childlogdir = r.path("childlogdir", os.TempDir())
	c.Nocleanup = r.boolean("nocleanup", false)
	c.Identifier = r.str("identifier", "supervisor")
	c.Environment = r.environment("environment")
	c.StripANSI = r.boolean("strip_ansi", false)
	c.MemoryLimit = r.byteSize("memory_limit", 0)
	if r.err != nil {
		return r.err
	}
	if c.StripANSI {
		o := sec.Get("strip_ansi")
		l.warn(o.File, o.Line, "[supervisord] strip_ansi is not implemented by keeper; child output is logged unchanged")
	}
	for _, kv := range c.Environment {
		k, v, _ := strings.Cut(kv, "=")
		l.vars["ENV_"+k] = v
	}
	return nil
}

// server reads [unix_http_server].
func (l *loader) server() error {
	sec := l.file.Section("unix_http_server")
	r := l.reader(sec, "unix_http_server", l.vars)
	s := &l.cfg.Server
	s.File = filepath.Join(l.dir, "keeper.sock")
	s.Chmod = 0o700
	if sec == nil {
		return nil
	}
	if sec.Get("file") == nil {
		r.failSection("has no file (the socket's path)")
	}
	s.File = r.path("file", s.File)
	s.Chmod = os.FileMode(r.octal("chmod", 0o700, 0o7777))
	if o, v := r.lookup("chown"); o != nil {
		u, g, hasGroup := strings.Cut(v, ":")
		if u == "" || hasGroup && g == "" || strings.Contains(g, ":") {
			r.fail(o, fmt.Errorf("%q is not user or user:group", v))
		}
		s.ChownUser, s.ChownGroup = u, g
	}
	s.Username, s.Password = r.credentials()
	s.Web = r.web()
	return r.err
}

// web reads a server section's web and web_attach.
func (r *reader) web() WebConfig {
	w := WebConfig{On: r.boolean("web", false), Attach: r.boolean("web_attach", false)}
	if o, _ := r.lookup("web_attach"); o != nil && w.Attach && !w.On {
		r.fail(o, fmt.Errorf("web_attach = true needs the page: add web = true to [%s]", r.name))
	}
	return w
}

// credentials reads the username and password of a server section: both or neither, the password
// plain or "{SHA}" and the hex SHA-1 of the password.
func (r *reader) credentials() (username, password string) {
	username = r.str("username", "")
	password = r.str("password", "")
	if o, v := r.lookup("password"); o != nil {
		if sum, ok := strings.CutPrefix(v, "{SHA}"); ok {
			if _, err := hex.DecodeString(sum); err != nil || len(sum) != 2*sha1.Size {
				r.fail(o, fmt.Errorf("%q is not {SHA} and 40 hex digits", v))
			}
		}
	}
	if r.err == nil && (r.sec.Get("username") == nil) != (r.sec.Get("password") == nil) {
		r.failSection("has a username or a password but not both")
	}
	return username, password
}

// inet reads [inet_http_server]. port is supervisord's: host:port, *:port, :port or port, the last
// three meaning every interface. Unlike supervisord, which only warns, a port that other machines
// can reach needs a username: the control server starts and stops every program.
func (l *loader) inet() error {
	sec := l.file.Section("inet_http_server")
	if sec == nil {
		return nil
	}
	r := l.reader(sec, "inet_http_server", l.vars)
	c := &l.cfg.Inet
	o, v := r.lookup("port")
	if o == nil && r.err == nil {
		r.failSection("has no port: add port=127.0.0.1:9001 (or host:port with a username and password)")
	}
	if o != nil {
		host, port, err := parseInetPort(v)
		if err != nil {
			r.fail(o, err)
		}
		c.Host, c.Port = host, port
	}
	c.Username, c.Password = r.credentials()
	c.Web = r.web()
	if r.err == nil && c.Username == "" && !isLoopback(c.Host) {
		where := "every interface"
		if c.Host != "" {
			where = c.Host
		}
		r.fail(o, fmt.Errorf("%q listens on %s without a username: anyone who reaches the port could run "+
			"any command as keeper's user; add username= and password= (plain or {SHA} and the hex sha1) "+
			"to [inet_http_server], or listen on 127.0.0.1", v, where))
	}
	return r.err
}

// parseInetPort splits a port value as supervisord does: "host:port", "*:port", ":port" or "port";
// "*" and an empty host are every interface (""). An IPv6 host is written in brackets: [::1]:9001.
func parseInetPort(v string) (host string, port int, err error) {
	v = strings.TrimSpace(v)
	portStr := v
	if strings.Contains(v, ":") {
		if host, portStr, err = net.SplitHostPort(v); err != nil {
			return "", 0, fmt.Errorf("%q is not host:port, *:port or port", v)
		}
	}
	port, err = strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no port number from 1 to 65535", v)
	}
	host = strings.ToLower(host)
	if host == "*" {
		host = ""
	}
	return host, port, nil
}

// ctl reads [supervisorctl].
func (l *loader) ctl() error {
	sec := l.file.Section("supervisorctl")
	r := l.reader(sec, "supervisorctl", l.vars)
	c := &l.cfg.Ctl
	c.ServerURL = "unix://" + l.cfg.Server.File
	if o, v := r.lookup("serverurl"); o != nil {
		switch path, ok := strings.CutPrefix(v, "unix://"); {
		case ok:
			c.ServerURL = "unix://" + resolvePath(path, filepath.Dir(o.File))
		case strings.HasPrefix(v, "http://"):
			c.ServerURL = v
		default:
			c.ServerURL = v
			l.warn(o.File, o.Line, "[supervisorctl] serverurl %q is neither a unix:// nor an http:// URL", v)
		}
	}
	c.Username = r.str("username", "")
	c.Password = r.str("password", "")
	c.Prompt = r.str("prompt", "supervisor")
	c.HistoryFile = r.path("history_file", "")
	return r.err
}

// checkName applies supervisord's rule for program, group and process names.
func checkName(name string) error {
	if name == "" {
		return errors.New("name is empty")
	}
	if i := strings.IndexAny(name, " :/"); i >= 0 {
		return fmt.Errorf("name %q has %q (names cannot have spaces, \":\" or \"/\")", name, name[i])
	}
	return nil
}

// groups reads [group:x] and [program:x] into groups and processes.
func (l *loader) groups() error {
	programs := map[string]*ini.Section{}
	var programNames []string
	for _, s := range l.file.Sections {
		name, ok := strings.CutPrefix(s.Name, "program:")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if err := checkName(name); err != nil {
			return &ini.Error{Op: "load", File: s.File, Line: s.Line, Msg: fmt.Sprintf("[%s]", s.Name), Err: err}
		}
		if prev := programs[name]; prev != nil {
			return &ini.Error{Op: "load", File: s.File, Line: s.Line,
				Msg: fmt.Sprintf("[%s] is the same program as [%s] at %s:%d", s.Name, prev.Name, prev.File, prev.Line)}
		}
		programs[name] = s
		programNames = append(programNames, name)
	}

	grouped := map[string]bool{}
	groupAt := map[string]string{} // group name -> section, for duplicates
	addGroup := func(g *GroupConfig, s *ini.Section) error {
		if prev, ok := groupAt[g.Name]; ok {
			return &ini.Error{Op: "load", File: s.File, Line: s.Line,
				Msg: fmt.Sprintf("[%s] makes a group %q, like [%s]", s.Name, g.Name, prev)}
		}
		groupAt[g.Name] = s.Name
		seen := map[string]bool{}
		for _, p := range g.Processes {
			if seen[p.Name] {
				return &ini.Error{Op: "load", File: s.File, Line: s.Line,
					Msg: fmt.Sprintf("[%s] group %q has two processes named %q", s.Name, g.Name, p.Name)}
			}
			seen[p.Name] = true
		}
		sortProcesses(g.Processes)
		l.cfg.Groups = append(l.cfg.Groups, g)
		l.cfg.Processes = append(l.cfg.Processes, g.Processes...)
		return nil
	}

	for _, s := range l.file.Sections {
		name, ok := strings.CutPrefix(s.Name, "group:")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if err := checkName(name); err != nil {
			return &ini.Error{Op: "load", File: s.File, Line: s.Line, Msg: fmt.Sprintf("[%s]", s.Name), Err: err}
		}
		r := l.reader(s, s.Name, l.vars)
		g := &GroupConfig{Name: name, Priority: r.integer("priority", 999, math.MinInt32, math.MaxInt32), Programs: []string{}}
		o, list := r.lookup("programs")
		if r.err != nil {
			return r.err
		}
		if o == nil || strings.TrimSpace(list) == "" {
			l.warn(s.File, s.Line, "[%s] has no programs", s.Name)
		} else {
			for _, p := range strings.Split(list, ",") {
				p = strings.TrimSpace(p)
				sec := programs[p]
				if sec == nil {
					r.fail(o, fmt.Errorf("%q is not a [program:] section (programs: %s)", p, strings.Join(programNames, ", ")))
					return r.err
				}
				if slices.Contains(g.Programs, p) {
					r.fail(o, fmt.Errorf("%q is listed twice", p))
					return r.err
				}
				g.Programs = append(g.Programs, p)
				grouped[p] = true
				procs, err := l.program(sec, p, name)
				if err != nil {
					return err
				}
				g.Processes = append(g.Processes, procs...)
			}
		}
		if err := addGroup(g, s); err != nil {
			return err
		}
	}

	for _, name := range programNames {
		if grouped[name] {
			continue
		}
		sec := programs[name]
		procs, err := l.program(sec, name, name)
		if err != nil {
			return err
		}
		r := l.reader(sec, sec.Name, l.vars)
		r.vars["program_name"], r.vars["group_name"] = name, name
		g := &GroupConfig{Name: name, Priority: r.integer("priority", 999, math.MinInt32, math.MaxInt32),
			Programs: []string{name}, Processes: procs}
		if err := addGroup(g, sec); err != nil {
			return err
		}
	}

	for _, s := range l.file.Sections {
		if name, ok := strings.CutPrefix(s.Name, "eventlistener:"); ok {
			g, err := l.listener(s, strings.TrimSpace(name))
			if err != nil {
				return err
			}
			if err := addGroup(g, s); err != nil {
				return err
			}
		}
	}

	sort.SliceStable(l.cfg.Groups, func(i, j int) bool {
		a, b := l.cfg.Groups[i], l.cfg.Groups[j]
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Name < b.Name
	})
	sortProcesses(l.cfg.Processes)
	return l.checkDependencies(programs, programNames)
}

// checkDependencies refuses a depends_on that names no [program:] section,
// or that closes a cycle, spelled out ("a -> b -> a").
func (l *loader) checkDependencies(programs map[string]*ini.Section, names []string) error {
	deps := map[string][]string{}
	for _, p := range l.cfg.Processes {
		deps[p.Program] = p.DependsOn
	}
	at := func(name string) *ini.Option { return programs[name].Get("depends_on") }
	fail := func(name string, err error) error {
		o := at(name)
		return &ini.Error{Op: "load", File: o.File, Line: o.Line, Msg: fmt.Sprintf("[program:%s] depends_on", name), Err: err}
	}
	for _, name := range names {
		for _, dep := range deps[name] {
			if programs[dep] == nil {
				return fail(name, fmt.Errorf("%q is not a [program:] section (programs: %s)", dep, strings.Join(names, ", ")))
			}
			if dep == name {
				return fail(name, fmt.Errorf("a program cannot depend on itself"))
			}
		}
	}
	// Depth-first search; a name met again while on the path closes a cycle.
	const (
		unvisited = iota
		onPath
		done
	)
	mark := map[string]int{}
	var path []string
	var visit func(name string) error
	visit = func(name string) error {
		mark[name] = onPath
		path = append(path, name)
		for _, dep := range deps[name] {
			switch mark[dep] {
			case onPath:
				cycle := append(slices.Clone(path[slices.Index(path, dep):]), dep)
				return fail(cycle[0], fmt.Errorf("a dependency cycle: %s", strings.Join(cycle, " -> ")))
			case unvisited:
				if err := visit(dep); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		mark[name] = done
		return nil
	}
	for _, name := range names {
		if mark[name] == unvisited {
			if err := visit(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortProcesses orders processes by priority, then name, then group.
func sortProcesses(ps []*ProcessConfig) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Group < b.Group
	})
}

// program reads one [program:x] section into its processes, as members of group.
func (l *loader) program(sec *ini.Section, name, group string) ([]*ProcessConfig, error) {
	vars := maps.Clone(l.vars)
	vars["program_name"], vars["group_name"] = name, group
	r := l.reader(sec, sec.Name, vars)

	tmpl := ProcessConfig{Group: group, Program: name}
	tmpl.Priority = r.integer("priority", 999, math.MinInt32, math.MaxInt32)
	tmpl.Autostart = r.boolean("autostart", true)
	tmpl.Autorestart = r.autorestart("autorestart", AutorestartUnexpected)
	tmpl.Startsecs = time.Duration(r.integer("startsecs", 1, 0, math.MaxInt32)) * time.Second
	tmpl.Startretries = r.startretries("startretries")
	if tmpl.Startretries == RetryForever {
		tmpl.BackoffMax = defaultBackoffMax
	}
	tmpl.BackoffMax = time.Duration(r.integer("backoff_max", int(tmpl.BackoffMax/time.Second), 1, math.MaxInt32)) * time.Second
	tmpl.Exitcodes = r.exitcodes("exitcodes", []int{0})
	tmpl.Stopsignal = r.signal("stopsignal", syscall.SIGTERM)
	tmpl.Stopwait = time.Duration(r.integer("stopwaitsecs", 10, 0, math.MaxInt32)) * time.Second
	tmpl.Stopasgroup = r.boolean("stopasgroup", false)
	tmpl.Killasgroup = r.boolean("killasgroup", tmpl.Stopasgroup)
	tmpl.User = r.str("user", "")
	tmpl.Umask = r.octal("umask", -1, 0o777)
	tmpl.RedirectStderr = r.boolean("redirect_stderr", false)
	tmpl.Sessions = Sessions(r.oneOf("sessions", string(SessionsKeep), string(SessionsKeep), string(SessionsKill)))
	tmpl.MemoryLimit = r.byteSize("memory_limit", l.cfg.Supervisord.MemoryLimit)
	grace := 0
	if tmpl.MemoryLimit > 0 {
		grace = 10
	}
	tmpl.MemoryLimitGrace = time.Duration(r.integer("memory_limit_grace", grace, 1, math.MaxInt32)) * time.Second
	tmpl.Leftovers = Leftovers(r.oneOf("leftovers", string(LeftoversStop), string(LeftoversStop), string(LeftoversKeep)))
	tmpl.EnvFiles = r.envFiles("environment_file")
	tmpl.Pty = r.boolean("pty", false)
	tmpl.SessionLog = r.path("session_log", "")
	if o, _ := r.lookup("pty"); o != nil && tmpl.Pty && isListener(sec) {
		r.fail(o, errors.New("pty = true is for programs: an event listener speaks its protocol on its stdout"))
	}
	if o, _ := r.lookup("session_log"); o != nil && !tmpl.Pty {
		r.fail(o, errors.New("session_log records a pty program's terminal: add pty = true"))
	}
	if !isListener(sec) {
		tmpl.DependsOn = r.nameList("depends_on")
	}
	if o, v := r.lookup("ready"); o != nil {
		check, err := parseReadyCheck(v)
		if err != nil {
			r.fail(o, err)
		}
		tmpl.Ready = check
		tmpl.ReadyTimeout = defaultReadyTimeout
	}
	if o, v := r.lookup("healthcheck"); o != nil {
		check, err := parseReadyCheck(v)
		if err == nil && check.Kind == ReadyNotify {
			err = fmt.Errorf("%q: a health check is tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND", v)
		}
		if err != nil {
			r.fail(o, err)
		}
		tmpl.Health = HealthCheck{Check: check, Interval: defaultHealthInterval, Timeout: defaultHealthTimeout, Retries: defaultHealthRetries}
	}
	tmpl.Health.Interval = time.Duration(r.integer("healthcheck_interval", int(tmpl.Health.Interval/time.Second), 1, math.MaxInt32)) * time.Second
	tmpl.Health.Timeout = time.Duration(r.integer("healthcheck_timeout", int(tmpl.Health.Timeout/time.Second), 1, math.MaxInt32)) * time.Second
	tmpl.Health.Retries = r.integer("healthcheck_retries", tmpl.Health.Retries, 1, math.MaxInt32)
	if o, _ := r.lookup("watchdog_sec"); o != nil && tmpl.Ready.Kind != ReadyNotify {
		r.fail(o, fmt.Errorf("needs ready = notify: the watchdog is WATCHDOG=1 on the program's NOTIFY_SOCKET"))
	}
	tmpl.Watchdog = time.Duration(r.integer("watchdog_sec", 0, 1, math.MaxInt32)) * time.Second
	tmpl.ReadyTimeout = time.Duration(r.integer("ready_timeout", int(tmpl.ReadyTimeout/time.Second), 1, math.MaxInt32)) * time.Second
	if o, v := r.lookup("serverurl"); o != nil && !strings.EqualFold(strings.TrimSpace(v), "auto") {
		tmpl.ServerURL = v
	}
	numprocs := r.integer("numprocs", 1, 0, 10000)
	start := r.integer("numprocs_start", 0, 0, math.MaxInt32)
	if r.err != nil {
		return nil, r.err
	}
	if o := sec.Get("killasgroup"); tmpl.Stopasgroup && !tmpl.Killasgroup {
		r.fail(o, errors.New("false while stopasgroup is true (stopasgroup needs killasgroup)"))
		return nil, r.err
	}
	nameOpt, nameTmpl := r.raw("process_name")
	if nameOpt == nil {
		nameTmpl = "%(program_name)s"
	}
	if numprocs > 1 && !strings.Contains(nameTmpl, "%(process_num)") {
		if nameOpt == nil {
			r.failSection("numprocs is %d, so process_name must contain %%(process_num)", numprocs)
		} else {
			r.fail(nameOpt, fmt.Errorf("%q does not contain %%(process_num), which numprocs=%d needs", nameTmpl, numprocs))
		}
		return nil, r.err
	}
	if sec.Get("command") == nil {
		r.failSection("has no command")
		return nil, r.err
	}

	var procs []*ProcessConfig
	for n := start; n < start+numprocs; n++ {
		pv := maps.Clone(vars)
		pv["process_num"], pv["numprocs"] = strconv.Itoa(n), strconv.Itoa(numprocs)
		pr := l.reader(sec, sec.Name, pv)
		p := tmpl
		p.ProcessNum = n
		p.Exitcodes = slices.Clone(tmpl.Exitcodes)

		env := pr.environment("environment")
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			pr.vars["ENV_"+k] = v
		}
		p.Environment = mergeEnv(l.cfg.Supervisord.Environment, env)
		p.Name = strings.TrimSpace(pr.str("process_name", name))
		if pr.err == nil {
			if err := checkName(p.Name); err != nil {
				if nameOpt != nil {
					pr.fail(nameOpt, err)
				} else {
					pr.failSection("%v", err)
				}
			}
		}
		p.Directory = pr.path("directory", "")
		cmdOpt, cmd := pr.lookup("command")
		if cmdOpt != nil {
			argv, err := ini.Split(cmd)
			switch {
			case err != nil:
				pr.fail(cmdOpt, err)
			case len(argv) == 0:
				pr.fail(cmdOpt, errors.New("is empty"))
			}
			p.Command, p.Argv = cmd, argv
		}
		p.Stdout = pr.logfile("stdout")
		p.Stderr = pr.logfile("stderr")
		if pr.err != nil {
			return nil, pr.err
		}
		if p.RedirectStderr {
			if p.Stderr.Mode == LogFile {
				o := sec.Get("stderr_logfile")
				l.warn(o.File, o.Line, "[%s] stderr_logfile is ignored because redirect_stderr is true", sec.Name)
			}
			p.Stderr.Mode, p.Stderr.Path = LogNone, ""
		}
		procs = append(procs, &p)
		if n > start {
			// Warnings about a key are the same for every instance: keep the first instance's.
			l.dedupWarnings()
		}
	}
	return procs, nil
}

// dedupWarnings drops repeated warnings (the same key read for every numprocs instance).
func (l *loader) dedupWarnings() {
	seen := map[Warning]bool{}
	out := l.cfg.Warnings[:0]
	for _, w := range l.cfg.Warnings {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	l.cfg.Warnings = out
}

// mergeEnv returns base with over applied: a key of over replaces base's in place, new keys are
// appended in order.
func mergeEnv(base, over []string) []string {
	out := slices.Clone(base)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// isListener reports whether sec is an [eventlistener:x] section.
func isListener(sec *ini.Section) bool { return strings.HasPrefix(sec.Name, "eventlistener:") }

// listener reads an [eventlistener:x] section: a pool of processes read as
// a [program:x] is, with the events they subscribe to.
func (l *loader) listener(sec *ini.Section, name string) (*GroupConfig, error) {
	if err := checkName(name); err != nil {
		return nil, &ini.Error{Op: "load", File: sec.File, Line: sec.Line, Msg: fmt.Sprintf("[%s]", sec.Name), Err: err}
	}
	vars := maps.Clone(l.vars)
	vars["program_name"], vars["group_name"] = name, name
	r := l.reader(sec, sec.Name, vars)
	lc := &ListenerConfig{BufferSize: r.integer("buffer_size", 10, 1, math.MaxInt32)}
	o, list := r.lookup("events")
	if r.err == nil && strings.TrimSpace(list) == "" {
		r.failSection("has no events: list the event types it listens to, such as events=PROCESS_STATE")
	}
	for item := range strings.SplitSeq(list, ",") {
		ev := strings.ToUpper(strings.TrimSpace(item))
		if r.err != nil || ev == "" || slices.Contains(lc.Events, ev) {
			continue
		}
		if !isEventType(ev) {
			r.fail(o, fmt.Errorf("%q is not an event type (types: %s)", strings.TrimSpace(item), strings.Join(eventTypeNames(), ", ")))
		}
		lc.Events = append(lc.Events, ev)
	}
	if o, v := r.lookup("result_handler"); o != nil && v != defaultResultHandler {
		l.warn(o.File, o.Line, "[%s] result_handler %q is not implemented by keeper; %s is used", sec.Name, v, defaultResultHandler)
	}
	if o := sec.Get("redirect_stderr"); o != nil && r.boolean("redirect_stderr", false) {
		r.fail(o, errors.New("true is not allowed: stderr mixed into stdout would break the event listener protocol"))
	}
	// A pool's priority is -1 by default, as supervisord's, so that it
	// starts first and stops last; its processes' default stays 999.
	g := &GroupConfig{Name: name, Priority: r.integer("priority", -1, math.MinInt32, math.MaxInt32),
		Programs: []string{name}, Listener: lc}
	if r.err != nil {
		return nil, r.err
	}
	procs, err := l.program(sec, name, name)
	if err != nil {
		return nil, err
	}
	g.Processes = procs
	return g, nil
}
