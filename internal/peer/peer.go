// Package peer finds the real programs keeper's tests run side by side with
// (Debian's dtach, supervisord, tmux, ...) and skips a test that needs a
// missing one, or fails it where every peer must be present (CI).
package peer

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// A peer is a program a test needs and the Debian package that installs it.
type peer struct {
	paths   []string // absolute paths tried in order; a bare name is looked up in PATH
	pkg     string   // the Debian package to install
	imports string   // for a Python interpreter: modules it must import
	base    bool     // on every Debian machine: KEEPER_TEST_PEERS=none still finds it
}

// peers names every peer the tests use. Absolute paths are preferred: the
// interop tests compare against Debian's builds, not whatever is first in PATH.
var peers = map[string]peer{
	"dtach":              {paths: []string{"/usr/bin/dtach"}, pkg: "dtach"},
	"supervisord":        {paths: []string{"/usr/bin/supervisord"}, pkg: "supervisor"},
	"supervisorctl":      {paths: []string{"/usr/bin/supervisorctl"}, pkg: "supervisor"},
	"python3":            {paths: []string{"/usr/bin/python3", "python3"}, pkg: "python3"},
	"python3-supervisor": {paths: []string{"/usr/bin/python3"}, pkg: "supervisor", imports: "import supervisor.childutils, supervisor.options, supervisor.loggers"},
	"tmux":               {paths: []string{"/usr/bin/tmux", "tmux"}, pkg: "tmux"},
	"start-stop-daemon":  {paths: []string{"/sbin/start-stop-daemon", "/usr/sbin/start-stop-daemon"}, pkg: "dpkg"},
	"init-functions":     {paths: []string{"/lib/lsb/init-functions"}, pkg: "sysvinit-utils"},
	"unshare":            {paths: []string{"/usr/bin/unshare", "unshare"}, pkg: "util-linux"},
	"prlimit":            {paths: []string{"/usr/bin/prlimit", "prlimit"}, pkg: "util-linux"},
	"asciinema":          {paths: []string{"/usr/bin/asciinema", "asciinema"}, pkg: "asciinema"},
	"promtool":           {paths: []string{"/usr/bin/promtool", "promtool"}, pkg: "prometheus"},
	"chromium":           {paths: []string{"/usr/bin/chromium", "chromium"}, pkg: "chromium"},
	"make":               {paths: []string{"/usr/bin/make", "make"}, pkg: "make"},
	"systemd-analyze":    {paths: []string{"/usr/bin/systemd-analyze", "systemd-analyze"}, pkg: "systemd"},
	"systemd-notify":     {paths: []string{"/usr/bin/systemd-notify", "systemd-notify"}, pkg: "systemd"},
	"useradd":            {paths: []string{"/usr/sbin/useradd", "/sbin/useradd"}, pkg: "passwd"},
	"userdel":            {paths: []string{"/usr/sbin/userdel", "/sbin/userdel"}, pkg: "passwd"},
	"groupadd":           {paths: []string{"/usr/sbin/groupadd", "/sbin/groupadd"}, pkg: "passwd"},
	"groupdel":           {paths: []string{"/usr/sbin/groupdel", "/sbin/groupdel"}, pkg: "passwd"},
	"bash":               {paths: []string{"/bin/bash", "bash"}, pkg: "bash", base: true}, // Essential: yes
}

// Hidden reports whether the tests pretend no peer is installed
// (KEEPER_TEST_PEERS=none), to try a fresh machine's make test on this one.
func Hidden() bool { return os.Getenv("KEEPER_TEST_PEERS") == "none" }

// Required reports whether a missing peer fails a test instead of skipping
// it: under CI=true, or KEEPER_TEST_PEERS=require.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("KEEPER_TEST_PEERS") == "require"
}

var (
	mu    sync.Mutex
	found = map[string]string{}
)

// Find returns the absolute path of the named peer, or "" when it is not
// installed. It panics on a name the table does not know.
func Find(name string) string {
	p, ok := peers[name]
	if !ok {
		panic("peer: unknown peer " + name)
	}
	mu.Lock()
	defer mu.Unlock()
	if Hidden() && !p.base {
		return ""
	}
	if path, ok := found[name]; ok {
		return path
	}
	path := ""
	for _, candidate := range p.paths {
		abs, err := exec.LookPath(candidate)
		if err != nil {
			if _, statErr := os.Stat(candidate); statErr != nil || !strings.HasPrefix(candidate, "/") {
				continue
			}
			abs = candidate // a file that is read, not run (init-functions)
		}
		if p.imports != "" && exec.Command(abs, "-I", "-c", p.imports).Run() != nil {
			continue
		}
		path = abs
		break
	}
	found[name] = path
	return path
}

// Need returns the named peer's absolute path. When it is missing the test is
// skipped with one line naming the package to install, or fails if peers are
// required.
func Need(t testing.TB, name string) string {
	t.Helper()
	if path := Find(name); path != "" {
		return path
	}
	missing(t, fmt.Sprintf("needs %s (apt-get install %s)", name, peers[name].pkg))
	return ""
}

// NeedRoot skips a test that must run as root (user=, socket ownership) when
// it does not, or fails it if peers are required: CI runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root (run the tests as root, as CI does)")
	}
}

// missing skips or fails t with why, and appends why to the file named by
// KEEPER_TEST_SKIPLOG so that make test can sum up what was skipped.
func missing(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s; CI=true or KEEPER_TEST_PEERS=require makes a missing peer a failure", why)
	}
	if log := os.Getenv("KEEPER_TEST_SKIPLOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintln(f, why)
			f.Close()
		}
	}
	t.Skip("skipping: " + why)
}
