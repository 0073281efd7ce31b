package supervise

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/supervise/http1"
	"keeper/supervise/logfile"
	"keeper/supervise/xmlrpc"
)

// maxSunPath is the longest path a unix socket address holds.
const maxSunPath = len(unix.RawSockaddrUnix{}.Path) - 1

// ErrDaemonRunning reports a control socket another daemon answers on.
var ErrDaemonRunning = errors.New("another keeper daemon is running")

// ListenControl creates the control socket of cfg: a live socket means
// another daemon (an error), a dead one is removed; the socket gets the
// configured mode and owner. Connections from peers other than root, the
// daemon's own user and, when the socket was given a group, that group's
// members are refused and logged.
func ListenControl(cfg *Config, log *logfile.Logger) (net.Listener, error) {
	path := cfg.Server.File
	if len(path) > maxSunPath {
		return nil, fmt.Errorf("listen on %s: the path is %d bytes, a unix socket path holds at most %d: set a shorter [unix_http_server] file", path, len(path), maxSunPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("listen on %s: %w there (stop it with 'keeper -c %s shutdown')", path, ErrDaemonRunning, cfg.Path)
	} else if _, statErr := os.Lstat(path); statErr == nil {
		// Nobody answers: a socket left by a daemon that died.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
		log.Infof("removed stale socket %s", path)
	}
	old := syscall.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	l.SetUnlinkOnClose(true)
	if err := os.Chmod(path, cfg.Server.Chmod); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	allowGID := -1
	if cfg.Server.ChownUser != "" {
		uid, gid, err := chownIDs(cfg.Server.ChownUser, cfg.Server.ChownGroup)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("chown %s: %w", path, err)
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("chown %s: %w", path, err)
		}
		if cfg.Server.ChownGroup != "" {
			allowGID = gid
		}
	}
	return &peerListener{UnixListener: l, allowGID: allowGID, log: log}, nil
}

// adoptControl serves the control socket listener a daemon handed over
// (reexec) as descriptor fd, with ListenControl's peer checks.
func adoptControl(cfg *Config, log *logfile.Logger, fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), cfg.Server.File)
	l, err := net.FileListener(f)
	f.Close() // FileListener holds a duplicate
	ul, ok := l.(*net.UnixListener)
	if err == nil && !ok {
		l.Close()
		err = errors.New("not a unix socket")
	}
	if err != nil {
		return nil, fmt.Errorf("adopt control socket %s: %w", cfg.Server.File, err)
	}
	ul.SetUnlinkOnClose(true)
	allowGID := -1
	if cfg.Server.ChownUser != "" && cfg.Server.ChownGroup != "" {
		if _, gid, err := chownIDs(cfg.Server.ChownUser, cfg.Server.ChownGroup); err == nil {
			allowGID = gid
		}
	}
	return &peerListener{UnixListener: ul, allowGID: allowGID, log: log}, nil
}

func chownIDs(userName, groupName string) (int, int, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return 0, 0, fmt.Errorf("user %q does not exist", userName)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return 0, 0, fmt.Errorf("group %q does not exist", groupName)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// peerListener accepts only peers whose credentials (SO_PEERCRED) allow
// them to control the daemon.
type peerListener struct {
	*net.UnixListener
	allowGID int
	log      *logfile.Logger
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		cred, err := peerCred(c)
		if err == nil && l.allowed(cred) {
			return c, nil
		}
		if err != nil {
			l.log.Warnf("refused control connection: read peer credentials: %v", err)
		} else {
			l.log.Warnf("refused control connection from uid %d (pid %d): only root, uid %d or members of the socket's group may control this daemon",
				cred.Uid, cred.Pid, os.Geteuid())
		}
		c.Close()
	}
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, credErr
}

func (l *peerListener) allowed(cred *unix.Ucred) bool {
	if cred.Uid == 0 || int(cred.Uid) == os.Geteuid() {
		return true
	}
	if l.allowGID < 0 {
		return false
	}
	if int(cred.Gid) == l.allowGID {
		return true
	}
	// Supplementary groups are not in the credentials; the peer's
	// /proc status lists them.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cred.Pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Groups:"); ok {
			for _, g := range strings.Fields(rest) {
				if g == strconv.Itoa(l.allowGID) {
					return true
				}
			}
		}
	}
	return false
}

// HTTPHandler is the control socket's HTTP handler: XML-RPC on /RPC2, log
// streams on /logtail/NAME[/stdout|stderr] and /mainlogtail, all behind
// the optional Basic authentication of [unix_http_server].
func (d *Daemon) HTTPHandler() http1.Handler {
	return d.authenticate(d.cfg.Server.Username, d.cfg.Server.Password, d.routes(d.cfg.Server.Web))
}

// routes is what every control listener serves, before authentication;
// web says whether the listener serves the web page.
func (d *Daemon) routes(web WebConfig) http1.Handler {
	rpc := xmlrpc.Serve(d.Handle)
	return http1.HandlerFunc(func(w http1.ResponseWriter, r *http1.Request) {
		switch {
		case strings.HasPrefix(r.Path, "/RPC2"):
			rpc.ServeHTTP(w, r)
		case strings.HasPrefix(r.Path, "/logtail/"):
			d.serveLogtail(w, r)
		case r.Path == "/mainlogtail":
			d.follow(w, r, d.mainLogPath())
		case r.Path == "/metrics":
			d.serveMetrics(w, r)
		case web.On && d.serveWeb(w, r, web):
		default:
			notFound(w)
		}
	})
}

func notFound(w http1.ResponseWriter) {
	w.WriteHeader(404)
	w.Write([]byte("404 page not found\n"))
}

// authenticate lets through the requests that carry username and password
// (HTTP Basic), or every request when both are empty. Others get
// supervisord's answer, 401 with a Basic challenge for realm "default" and
// the connection closed, and are logged with the peer's address.
func (d *Daemon) authenticate(username, password string, next http1.Handler) http1.Handler {
	if username == "" && password == "" {
		return next
	}
	return http1.HandlerFunc(func(w http1.ResponseWriter, r *http1.Request) {
		user, pass, ok := basicAuth(r)
		if ok && checkCredentials(username, password, user, pass) {
			next.ServeHTTP(w, r)
			return
		}
		peer := r.RemoteAddr
		if peer == "" || peer == "@" {
			peer = "the control socket"
		}
		why := "no Basic authentication"
		if ok {
			why = fmt.Sprintf("wrong username or password (user %q)", user)
		}
		d.log.Warnf("refused %s %s from %s: %s", r.Method, r.Path, peer, why)
		w.Header().Set("WWW-Authenticate", `Basic realm="default"`)
		w.Header().Set("Connection", "close")
		w.WriteHeader(401)
		w.Write([]byte("Unauthorized\n"))
	})
}

func basicAuth(r *http1.Request) (string, string, bool) {
	h := r.Header.Get("Authorization")
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	u, p, ok := strings.Cut(string(raw), ":")
	return u, p, ok
}

// serveLogtail streams a process's log: /logtail/NAMESPEC[/stdout|stderr].
func (d *Daemon) serveLogtail(w http1.ResponseWriter, r *http1.Request) {
	rest := strings.TrimPrefix(r.Path, "/logtail/")
	name, channel, _ := strings.Cut(rest, "/")
	if channel == "" {
		channel = "stdout"
	}
	if channel != "stdout" && channel != "stderr" {
		notFound(w)
		return
	}
	d.mu.Lock()
	_, p, ok := d.lookupLocked(name)
	var f *logfile.File
	if ok && p != nil {
		f = p.stdout
		if channel == "stderr" {
			f = p.stderr
		}
	}
	d.mu.Unlock()
	if f == nil {
		notFound(w)
		return
	}
	d.follow(w, r, f.Path())
}

func (d *Daemon) follow(w http1.ResponseWriter, r *http1.Request, path string) {
	if !exists(path) {
		notFound(w)
		return
	}
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	// The header goes out at once: a client waits for it before the
	// first log bytes, which may be long in coming.
	if w.Flush() != nil {
		return
	}
	ctx, cancel := d.streamContext(r.Context())
	defer cancel()
	_ = logfile.Follow(ctx, path, w, func() { _ = w.Flush() })
}

// streamContext is a context for a response that streams until its client
// leaves (parent is done) or the daemon stops: a shutting-down daemon ends
// its streams.
func (d *Daemon) streamContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-d.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
