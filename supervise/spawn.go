package supervise

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/supervise/logfile"
)

var sigKill os.Signal = syscall.SIGKILL

// resolveCommand finds the program to execute as supervisord does: a name
// with a slash is taken as is, anything else is searched in PATH, and the
// result must be an executable file. The errors are supervisord's spawnerr
// texts.
func resolveCommand(argv []string, path string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("command is empty")
	}
	program := argv[0]
	filename := program
	var st fs.FileInfo
	if strings.Contains(program, "/") {
		st, _ = os.Stat(program)
	} else {
		for _, dir := range filepath.SplitList(path) {
			found := filepath.Join(dir, program)
			if fi, err := os.Stat(found); err == nil {
				filename, st = found, fi
				break
			}
		}
	}
	switch {
	case st == nil:
		return "", fmt.Errorf("can't find command %s", pyRepr(filename))
	case st.IsDir():
		return "", fmt.Errorf("command at %s is a directory", pyRepr(filename))
	case st.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("command at %s is not executable", pyRepr(filename))
	case unix.Access(filename, unix.X_OK) != nil:
		return "", fmt.Errorf("no permission to run command %s", pyRepr(filename))
	}
	return filename, nil
}

// pyRepr quotes s as Python's repr does for plain strings, so spawn errors
// read as supervisord's.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// account is the identity a process runs as.
type account struct {
	uid, gid uint32
	groups   []uint32
	name     string
	home     string
	shell    string
}

// lookupAccount resolves user= (a name or a numeric uid).
func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, numErr := strconv.Atoi(name); numErr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("user %s does not exist: create it or fix user=", pyRepr(name))
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	a := &account{uid: uint32(uid), gid: uint32(gid), name: u.Username, home: u.HomeDir, shell: loginShell(u.Username)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	return a, nil
}

// loginShell reads a user's shell from /etc/passwd (os/user has no field
// for it); "/bin/sh" when it can't be found.
func loginShell(name string) string {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return "/bin/sh"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 7 && fields[0] == name && fields[6] != "" {
			return fields[6]
		}
	}
	return "/bin/sh"
}

// setEnv sets key in env ("K=V" list), replacing an earlier value in place.
func setEnv(env []string, key, value string) []string {
	prefix := key + "="
	for i, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			env[i] = prefix + value
			return env
		}
	}
	return append(env, prefix+value)
}

func lookupEnv(env []string, key string) string {
	prefix := key + "="
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], prefix); ok {
			return v
		}
	}
	return ""
}

// startCmd spawns p's program in its own process group with its logs,
// environment and identity, and returns its pid and exit channel.
func (d *Daemon) startCmd(p *process) (int, <-chan Exit, error) {
	cfg := p.cfg
	env := append([]string(nil), d.environ...)
	var acct *account
	if cfg.User != "" {
		a, err := lookupAccount(cfg.User)
		if err != nil {
			return 0, nil, err
		}
		// As supervisord: a daemon that is not root runs programs as its
		// own user only, rather than as the wrong one.
		if euid := os.Geteuid(); euid != 0 && uint32(euid) != a.uid {
			return 0, nil, fmt.Errorf("couldn't setuid to %s: can't drop privilege as nonroot user", pyRepr(cfg.User))
		}
		acct = a
		for k, v := range map[string]string{"HOME": a.home, "USER": a.name, "LOGNAME": a.name, "SHELL": a.shell} {
			env = setEnv(env, k, v)
		}
	}
	env = setEnv(env, "SUPERVISOR_ENABLED", "1")
	env = setEnv(env, "SUPERVISOR_SERVER_URL", d.serverURLFor(cfg))
	env = setEnv(env, "SUPERVISOR_PROCESS_NAME", cfg.Name)
	env = setEnv(env, "SUPERVISOR_GROUP_NAME", cfg.Group)
	env = d.sessionEnv(p, env)
	var notify *notifySocket
	if cfg.Ready.Kind == ReadyNotify {
		uid := uint32(os.Geteuid())
		if acct != nil {
			uid = acct.uid
		}
		ns, err := d.openNotifySocket(p, uid)
		if err != nil {
			return 0, nil, err
		}
		notify = ns
		defer func() {
			if p.notify != ns {
				ns.close() // the start failed
			}
		}()
		env = setEnv(env, NotifySocketEnv, ns.addr)
		if cfg.Watchdog > 0 {
			env = setEnv(env, "WATCHDOG_USEC", strconv.FormatInt(cfg.Watchdog.Microseconds(), 10))
		}
	}
	fileEnv, err := readEnvFiles(cfg.EnvFiles)
	if err != nil {
		return 0, nil, err
	}
	env = mergeEnv(env, fileEnv)
	for _, kv := range cfg.Environment {
		k, v, _ := strings.Cut(kv, "=")
		env = setEnv(env, k, v)
	}

	filename, err := resolveCommand(cfg.Argv, lookupEnv(env, "PATH"))
	if err != nil {
		return 0, nil, err
	}
	argv := cfg.Argv
	path := filename
	if cfg.Umask >= 0 {
		// Go cannot set a child's umask between fork and exec; keeper
		// re-executes itself to set it, then execs the program. The child
		// execs /proc/self/exe, its own binary: a program's user may not
		// be able to reach the path keeper was started from.
		path = "/proc/self/exe"
		argv = append([]string{"keeper", execCommand, strconv.FormatInt(int64(cfg.Umask), 8), filename}, cfg.Argv...)
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: cfg.Directory}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if acct != nil && os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: acct.groups}
	}

	if cfg.Pty {
		pid, exits, err := d.startPty(p, cmd)
		if err == nil {
			p.notify = notify
		}
		return pid, exits, err
	}
	if cg := d.track.cgroups(); cg != nil {
		done, err := cg.place(cmd, p.namespec())
		if err != nil {
			d.log.Warnf("%v; %s runs outside a cgroup of its own", err, p.namespec())
		} else {
			defer done()
		}
	}
	files, err := d.openPipes(p, cmd)
	if err != nil {
		return 0, nil, err
	}
	// The intent first: a daemon killed between the fork and the record
	// of the pid must not leave an instance the next daemon cannot find.
	d.recordIntent(p)
	exits, err := d.reaper.Start(cmd)
	files.closeChildEnds()
	if err != nil {
		files.closeParentEnds()
		d.forgetProgram(p)
		return 0, nil, spawnError(cfg, err)
	}
	pid := cmd.Process.Pid
	d.processStarted(p, pid)
	// The reaper waits by pid; the pidfd os/exec holds is not needed.
	_ = cmd.Process.Release()
	p.stdin = newStdinQueue(files.stdin)
	p.notify = notify
	files.capture(p, pid)
	return pid, exits, nil
}

// spawnError words a failed fork/exec as supervisord's child would. The
// child's chdir and exec fail alike ("fork/exec PATH: errno"), so a
// directory= that is missing or not a directory is checked for first.
func spawnError(cfg *ProcessConfig, err error) error {
	if cfg.Directory != "" {
		if fi, statErr := os.Stat(cfg.Directory); statErr != nil {
			return fmt.Errorf("couldn't chdir to %s: %s", cfg.Directory, errnoName(statErr))
		} else if !fi.IsDir() {
			return fmt.Errorf("couldn't chdir to %s: %s", cfg.Directory, errnoName(syscall.ENOTDIR))
		}
	}
	return fmt.Errorf("couldn't exec %s: %s", cfg.Argv[0], errnoName(err))
}

// errnoName returns the errno's symbolic name (ENOENT), as supervisord
// reports spawn failures.
func errnoName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
	}
	return err.Error()
}

// pipes are the descriptors of one spawn: the child's ends are closed in
// the daemon after the fork, the parent's feed the logs.
type pipes struct {
	stdin              *os.File
	childIn            *os.File
	stdout, stderr     *os.File // parent read ends, nil when not captured
	childOut, childErr *os.File
}

func (d *Daemon) openPipes(p *process, cmd *exec.Cmd) (*pipes, error) {
	f := &pipes{}
	var err error
	if f.childIn, f.stdin, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("too many open files to spawn '%s'", p.cfg.Name)
	}
	cmd.Stdin = f.childIn
	if p.stdout != nil || p.cfg.Stdout.makesEvents() || p.cfg.Stdout.Syslog || d.poolOf(p) != nil {
		if f.stdout, f.childOut, err = os.Pipe(); err != nil {
			f.closeChildEnds()
			f.closeParentEnds()
			return nil, fmt.Errorf("too many open files to spawn '%s'", p.cfg.Name)
		}
		cmd.Stdout = f.childOut
	}
	switch {
	case p.cfg.RedirectStderr:
		cmd.Stderr = cmd.Stdout
	case p.stderr != nil || p.cfg.Stderr.makesEvents() || p.cfg.Stderr.Syslog:
		if f.stderr, f.childErr, err = os.Pipe(); err != nil {
			f.closeChildEnds()
			f.closeParentEnds()
			return nil, fmt.Errorf("too many open files to spawn '%s'", p.cfg.Name)
		}
		cmd.Stderr = f.childErr
	}
	return f, nil
}

func (f *pipes) closeChildEnds() {
	for _, c := range []*os.File{f.childIn, f.childOut, f.childErr} {
		if c != nil {
			c.Close()
		}
	}
}

func (f *pipes) closeParentEnds() {
	for _, c := range []*os.File{f.stdin, f.stdout, f.stderr} {
		if c != nil {
			c.Close()
		}
	}
}

// capture copies the program's output into its logs until the pipes close;
// a listener's stdout goes to its pool.
func (f *pipes) capture(p *process, pid int) {
	p.copiers = nil
	if f.stdout != nil && p.d.poolOf(p) != nil {
		p.d.captureListener(p, f.stdout)
	} else if f.stdout != nil {
		p.copy(f.stdout, "stdout", p.d.outputWriter(p, pid, "stdout", p.logWriter(p.stdout, p.cfg.Stdout), p.cfg.Stdout))
	}
	if f.stderr != nil {
		p.copy(f.stderr, "stderr", p.d.outputWriter(p, pid, "stderr", p.logWriter(p.stderr, p.cfg.Stderr), p.cfg.Stderr))
	}
}

func (p *process) copy(r *os.File, channel string, dst io.Writer) {
	c := &copier{r: r, channel: channel, dst: dst}
	p.copiers = append(p.copiers, c)
	c.start()
}

// logWriter is where a channel's lines are logged: its file, syslog when
// asked, or both; nil when neither.
func (p *process) logWriter(f *logfile.File, lc LogConfig) io.Writer {
	var file io.Writer
	if f != nil {
		file = f
	}
	if !lc.Syslog {
		return file
	}
	return teeLog{file: file, syslog: newSyslogLines(p.cfg.Name, p.d.syslogDown)}
}

// copier copies one output pipe of a program into its log until the pipe
// closes. pause stops it between two reads, so the pipe can be handed to
// the next daemon (reexec) with nothing read and not written.
type copier struct {
	r       *os.File
	channel string
	dst     io.Writer
	done    chan struct{}
	paused  bool // set by the copier before done closes
}

func (c *copier) start() {
	c.paused = false
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		_, err := logfile.Capture(c.r, c.dst)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.paused = true
			return
		}
		c.r.Close()
	}()
}

// pause stops the copier and waits for it.
func (c *copier) pause() {
	_ = c.r.SetReadDeadline(time.Now())
	<-c.done
	_ = c.r.SetReadDeadline(time.Time{})
}

// resume starts a paused copier again.
func (c *copier) resume() {
	if c.paused {
		c.start()
	}
}
