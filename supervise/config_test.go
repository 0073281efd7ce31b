package supervise

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/supervise/ini"
)

// testEnv is the environment tests load configs with.
var testEnv = []string{"HOME=/home/t", "PORT=8080", "EMPTY="}

// load writes content to keeper.conf in a new directory and loads it with testEnv and host "node1".
func load(t *testing.T, content string) (*Config, string, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "keeper.conf")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path, testEnv, "node1")
	return c, dir, err
}

func mustLoad(t *testing.T, content string) (*Config, string) {
	t.Helper()
	c, dir, err := load(t, content)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return c, dir
}

func warnings(c *Config) []string {
	var out []string
	for _, w := range c.Warnings {
		out = append(out, w.String())
	}
	return out
}

func TestLoadSeed(t *testing.T) {
	c, err := LoadConfig("testdata/config/seed.conf")
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	abs, _ := filepath.Abs("testdata/config/seed.conf")
	if c.Path != abs {
		t.Errorf("Path = %q, want %q", c.Path, abs)
	}
	wantSup := SupervisordConfig{
		Logfile: "/tmp/supervisord.log", LogfileMaxBytes: 50 << 20, LogfileBackups: 10, Loglevel: "info",
		Pidfile: "/tmp/supervisord.pid", Minfds: 1024, Minprocs: 200, Umask: 0o22,
		Childlogdir: os.TempDir(), Identifier: "supervisor",
	}
	if !reflect.DeepEqual(c.Supervisord, wantSup) {
		t.Errorf("Supervisord = %+v\nwant %+v", c.Supervisord, wantSup)
	}
	if want := (ServerConfig{File: "/tmp/supervisor.sock", Chmod: 0o700}); c.Server != want {
		t.Errorf("Server = %+v, want %+v", c.Server, want)
	}
	if c.Ctl.ServerURL != "unix:///tmp/supervisor.sock" {
		t.Errorf("Ctl.ServerURL = %q", c.Ctl.ServerURL)
	}
	p := c.Process("gateone")
	if p == nil || len(c.Processes) != 1 || len(c.Groups) != 1 {
		t.Fatalf("processes %+v groups %+v", c.Processes, c.Groups)
	}
	want := &ProcessConfig{
		Name: "gateone", Group: "gateone", Program: "gateone",
		Command: "/opt/gateone/gateone.py", Argv: []string{"/opt/gateone/gateone.py"},
		Directory: "/opt/gateone", Umask: -1, Priority: 999, Autostart: true, Startsecs: time.Second,
		Startretries: 3, Autorestart: AutorestartUnexpected, Exitcodes: []int{0}, Stopsignal: syscall.SIGTERM,
		Stopwait: 10 * time.Second, User: "johnh",
		Stdout:   LogConfig{Mode: LogFile, Path: "/opt/gateone/logs/supervisor.log", MaxBytes: 50 << 20, Backups: 10},
		Stderr:   LogConfig{Mode: LogAuto, MaxBytes: 50 << 20, Backups: 10},
		Sessions: SessionsKeep, Leftovers: LeftoversStop,
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("process\n%+v\nwant\n%+v", p, want)
	}
	if got := warnings(c); len(got) != 0 {
		t.Errorf("warnings %q, want none: [rpcinterface:supervisor] is supervisord's own interface", got)
	}
}

func TestLoadDefaults(t *testing.T) {
	c, dir := mustLoad(t, "[program:x]\ncommand = x\n")
	wantSup := SupervisordConfig{
		Logfile: filepath.Join(dir, "keeper.log"), LogfileMaxBytes: 50 << 20, LogfileBackups: 10,
		Loglevel: "info", Pidfile: filepath.Join(dir, "keeper.pid"), Minfds: 1024, Minprocs: 200,
		Umask: 0o22, Childlogdir: os.TempDir(), Identifier: "supervisor",
	}
	if !reflect.DeepEqual(c.Supervisord, wantSup) {
		t.Errorf("Supervisord = %+v\nwant %+v", c.Supervisord, wantSup)
	}
	sock := filepath.Join(dir, "keeper.sock")
	if want := (ServerConfig{File: sock, Chmod: 0o700}); c.Server != want {
		t.Errorf("Server = %+v, want %+v", c.Server, want)
	}
	if want := (CtlConfig{ServerURL: "unix://" + sock, Prompt: "supervisor"}); c.Ctl != want {
		t.Errorf("Ctl = %+v, want %+v", c.Ctl, want)
	}
	p := c.Processes[0]
	want := &ProcessConfig{
		Name: "x", Group: "x", Program: "x", Command: "x", Argv: []string{"x"}, Umask: -1, Priority: 999,
		Autostart: true, Startsecs: time.Second, Startretries: 3, Autorestart: AutorestartUnexpected,
		Exitcodes: []int{0}, Stopsignal: syscall.SIGTERM, Stopwait: 10 * time.Second,
		Stdout:   LogConfig{Mode: LogAuto, MaxBytes: 50 << 20, Backups: 10},
		Stderr:   LogConfig{Mode: LogAuto, MaxBytes: 50 << 20, Backups: 10},
		Sessions: SessionsKeep, Leftovers: LeftoversStop,
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("process\n%+v\nwant\n%+v", p, want)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q", warnings(c))
	}
}

func TestLoadValues(t *testing.T) {
	proc := func(c *Config) *ProcessConfig { return c.Processes[0] }
	tests := []struct {
		name string
		conf string // DIR is replaced by the config's directory in want
		get  func(*Config) any
		want any
	}{
		{"bool yes", "autostart=YES", func(c *Config) any { return proc(c).Autostart }, true},
		{"bool off", "autostart=off", func(c *Config) any { return proc(c).Autostart }, false},
		{"bool 0", "autostart=0", func(c *Config) any { return proc(c).Autostart }, false},
		{"autorestart true", "autorestart=true", func(c *Config) any { return proc(c).Autorestart }, AutorestartTrue},
		{"autorestart no", "autorestart=no", func(c *Config) any { return proc(c).Autorestart }, AutorestartFalse},
		{"autorestart Unexpected", "autorestart=Unexpected", func(c *Config) any { return proc(c).Autorestart }, AutorestartUnexpected},
		{"exitcodes", "exitcodes=0, 2,255", func(c *Config) any { return proc(c).Exitcodes }, []int{0, 2, 255}},
		{"exitcodes empty", "exitcodes=", func(c *Config) any { return proc(c).Exitcodes }, []int{}},
		{"stopsignal INT", "stopsignal=INT", func(c *Config) any { return proc(c).Stopsignal }, syscall.SIGINT},
		{"stopsignal sigquit", "stopsignal=sigquit", func(c *Config) any { return proc(c).Stopsignal }, syscall.SIGQUIT},
		{"stopsignal Usr2", "stopsignal=Usr2", func(c *Config) any { return proc(c).Stopsignal }, syscall.SIGUSR2},
		{"stopsignal number", "stopsignal=9", func(c *Config) any { return proc(c).Stopsignal }, syscall.SIGKILL},
		{"stopsignal WINCH", "stopsignal=WINCH", func(c *Config) any { return proc(c).Stopsignal }, syscall.SIGWINCH},
		{"stopwaitsecs", "stopwaitsecs=3", func(c *Config) any { return proc(c).Stopwait }, 3 * time.Second},
		{"startsecs 0", "startsecs=0", func(c *Config) any { return proc(c).Startsecs }, time.Duration(0)},
		{"startretries", "startretries=7", func(c *Config) any { return proc(c).Startretries }, 7},
		{"priority negative", "priority=-5", func(c *Config) any { return proc(c).Priority }, -5},
		{"stopasgroup forces killasgroup", "stopasgroup=true", func(c *Config) any { return [2]bool{proc(c).Stopasgroup, proc(c).Killasgroup} }, [2]bool{true, true}},
		{"killasgroup alone", "killasgroup=true", func(c *Config) any { return [2]bool{proc(c).Stopasgroup, proc(c).Killasgroup} }, [2]bool{false, true}},
		{"umask", "umask=002", func(c *Config) any { return proc(c).Umask }, 0o2},
		{"umask 0o", "umask=0o77", func(c *Config) any { return proc(c).Umask }, 0o77},
		{"user not checked", "user=nobody-such-user", func(c *Config) any { return proc(c).User }, "nobody-such-user"},
		{"directory relative", "directory=www", func(c *Config) any { return proc(c).Directory }, "DIR/www"},
		{"directory home", "directory=~/app", func(c *Config) any { return proc(c).Directory }, os.Getenv("HOME") + "/app"},
		{"redirect_stderr", "redirect_stderr=true", func(c *Config) any { return [2]any{proc(c).RedirectStderr, proc(c).Stderr.Mode} }, [2]any{true, LogNone}},
		{"stdout NONE", "stdout_logfile=NONE", func(c *Config) any { return proc(c).Stdout.Mode }, LogNone},
		{"stdout off", "stdout_logfile=off", func(c *Config) any { return proc(c).Stdout.Mode }, LogNone},
		{"stdout Auto", "stdout_logfile=Auto", func(c *Config) any { return proc(c).Stdout.Mode }, LogAuto},
		{"stdout path", "stdout_logfile=logs/out.log", func(c *Config) any { return proc(c).Stdout }, LogConfig{Mode: LogFile, Path: "DIR/logs/out.log", MaxBytes: 50 << 20, Backups: 10}},
		{"stderr sizes", "stderr_logfile_maxbytes=1KB\nstderr_logfile_backups=0", func(c *Config) any { return [2]any{proc(c).Stderr.MaxBytes, proc(c).Stderr.Backups} }, [2]any{int64(1024), 0}},
		{"bytes mb", "stdout_logfile_maxbytes=5mb", func(c *Config) any { return proc(c).Stdout.MaxBytes }, int64(5 << 20)},
		{"bytes gb", "stdout_logfile_maxbytes=2GB", func(c *Config) any { return proc(c).Stdout.MaxBytes }, int64(2 << 30)},
		{"bytes plain", "stdout_logfile_maxbytes=1000", func(c *Config) any { return proc(c).Stdout.MaxBytes }, int64(1000)},
		{"environment", `environment=A="1, 2",B=x/y:z,A=3`, func(c *Config) any { return proc(c).Environment }, []string{"A=3", "B=x/y:z"}},
		{"serverurl AUTO", "serverurl=auto", func(c *Config) any { return proc(c).ServerURL }, ""},
		{"serverurl set", "serverurl=unix:///x.sock", func(c *Config) any { return proc(c).ServerURL }, "unix:///x.sock"},
		{"sessions kill", "sessions=KILL", func(c *Config) any { return proc(c).Sessions }, SessionsKill},
		{"leftovers default", "", func(c *Config) any { return proc(c).Leftovers }, LeftoversStop},
		{"leftovers keep", "leftovers=keep", func(c *Config) any { return proc(c).Leftovers }, LeftoversKeep},
		{"command quoting", `command=sh -c "echo 'a b'; exit 3"`, func(c *Config) any { return proc(c).Argv }, []string{"sh", "-c", "echo 'a b'; exit 3"}},
		{"command continuation", "command=/bin/prog\n  --flag\n  value", func(c *Config) any { return proc(c).Argv }, []string{"/bin/prog", "--flag", "value"}},
		{"command inline comment", "command=/bin/prog -x ; comment", func(c *Config) any { return proc(c).Argv }, []string{"/bin/prog", "-x"}},
		{"command percent", "command=date +%%s", func(c *Config) any { return proc(c).Argv }, []string{"date", "+%s"}},
		{"numprocs 0", "numprocs=0", func(c *Config) any { return len(c.Processes) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir := mustLoad(t, "[program:p]\n"+withCommand(tt.conf)+"\n")
			got := tt.get(c)
			want := tt.want
			if s, ok := want.(string); ok {
				want = strings.ReplaceAll(s, "DIR", dir)
			}
			if lc, ok := want.(LogConfig); ok {
				lc.Path = strings.ReplaceAll(lc.Path, "DIR", dir)
				want = lc
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

// withCommand adds command=/bin/true to a program body that has none.
func withCommand(body string) string {
	if strings.HasPrefix(body, "command=") {
		return body
	}
	return "command=/bin/true\n" + body
}

func TestLoadSupervisordAndServer(t *testing.T) {
	c, dir := mustLoad(t, `
[supervisord]
logfile = %(here)s/log/main.log
logfile_maxbytes = 1KB
logfile_backups = 0
loglevel = DEBUG
pidfile = run/k.pid
nodaemon = true
silent = on
minfds = 10
minprocs = 20
umask = 077
user = root
directory = /
childlogdir = childlogs
nocleanup = yes
identifier = ident
environment = LANG=C,HOME="/home/a b"

[unix_http_server]
file = run/k.sock
chmod = 0660
chown = www:adm
username = u
password = {SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3

[supervisorctl]
serverurl = unix://run/other.sock
username = u
password = p
prompt = k
history_file = ~/.keeper_history

[program:p]
command = /bin/env
environment = HOME=/p,X=%(ENV_LANG)s
`)
	want := SupervisordConfig{
		Logfile: dir + "/log/main.log", LogfileMaxBytes: 1024, Loglevel: "debug", Pidfile: dir + "/run/k.pid",
		Nodaemon: true, Silent: true, Minfds: 10, Minprocs: 20, Umask: 0o77, User: "root", Directory: "/",
		Childlogdir: dir + "/childlogs", Nocleanup: true, Identifier: "ident",
		Environment: []string{"LANG=C", "HOME=/home/a b"},
	}
	if !reflect.DeepEqual(c.Supervisord, want) {
		t.Errorf("Supervisord\n%+v\nwant\n%+v", c.Supervisord, want)
	}
	wantSrv := ServerConfig{File: dir + "/run/k.sock", Chmod: 0o660, ChownUser: "www", ChownGroup: "adm",
		Username: "u", Password: "{SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}
	if c.Server != wantSrv {
		t.Errorf("Server %+v\nwant %+v", c.Server, wantSrv)
	}
	home, _ := os.UserHomeDir()
	wantCtl := CtlConfig{ServerURL: "unix://" + dir + "/run/other.sock", Username: "u", Password: "p", Prompt: "k",
		HistoryFile: filepath.Join(home, ".keeper_history")}
	if c.Ctl != wantCtl {
		t.Errorf("Ctl %+v\nwant %+v", c.Ctl, wantCtl)
	}
	if got, want := c.Processes[0].Environment, []string{"LANG=C", "HOME=/p", "X=C"}; !reflect.DeepEqual(got, want) {
		t.Errorf("merged environment %q, want %q", got, want)
	}
}

func TestCheckPassword(t *testing.T) {
	sha := ServerConfig{Username: "u", Password: "{SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"} // "test"
	plain := ServerConfig{Username: "u", Password: "pw"}
	tests := []struct {
		s          ServerConfig
		user, pass string
		want       bool
	}{
		{ServerConfig{}, "", "", true},
		{ServerConfig{}, "any", "thing", true},
		{sha, "u", "test", true},
		{sha, "u", "Test", false},
		{sha, "v", "test", false},
		{plain, "u", "pw", true},
		{plain, "u", "", false},
	}
	for _, tt := range tests {
		if got := tt.s.CheckPassword(tt.user, tt.pass); got != tt.want {
			t.Errorf("%+v.CheckPassword(%q, %q) = %v", tt.s, tt.user, tt.pass, got)
		}
	}
}

func TestLoadInet(t *testing.T) {
	tests := []struct {
		section string
		want    InetConfig
		addr    string
	}{
		{"port = 127.0.0.1:9001", InetConfig{Host: "127.0.0.1", Port: 9001}, "127.0.0.1:9001"},
		{"port = localhost:9001", InetConfig{Host: "localhost", Port: 9001}, "localhost:9001"},
		{"port = LOCALHOST:9001", InetConfig{Host: "localhost", Port: 9001}, "localhost:9001"},
		{"port = [::1]:9001", InetConfig{Host: "::1", Port: 9001}, "[::1]:9001"},
		{"port = 127.0.0.2:1", InetConfig{Host: "127.0.0.2", Port: 1}, "127.0.0.2:1"},
		{"port = *:9001\nusername = u\npassword = p", InetConfig{Port: 9001, Username: "u", Password: "p"}, ":9001"},
		{"port = :9001\nusername = u\npassword = p", InetConfig{Port: 9001, Username: "u", Password: "p"}, ":9001"},
		{"port = 9001\nusername = u\npassword = p", InetConfig{Port: 9001, Username: "u", Password: "p"}, ":9001"},
		{"port = 10.0.0.1:9001\nusername = u\npassword = {SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
			InetConfig{Host: "10.0.0.1", Port: 9001, Username: "u", Password: "{SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}, "10.0.0.1:9001"},
	}
	for _, tt := range tests {
		c, _ := mustLoad(t, "[inet_http_server]\n"+tt.section+"\n")
		if c.Inet != tt.want || c.Inet.Addr() != tt.addr {
			t.Errorf("%q: Inet %+v (%s), want %+v (%s)", tt.section, c.Inet, c.Inet.Addr(), tt.want, tt.addr)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("%q: warnings %q", tt.section, warnings(c))
		}
	}
	if c, _ := mustLoad(t, "[supervisord]\n"); c.Inet.Port != 0 {
		t.Errorf("no [inet_http_server]: Inet %+v, want port 0 (no TCP listener)", c.Inet)
	}
}

// TestWebKeys: web and web_attach in both server sections, off by default,
// and a value that is not a boolean refused with its line.
func TestWebKeys(t *testing.T) {
	c, _ := mustLoad(t, "[unix_http_server]\nfile=/tmp/k.sock\n[inet_http_server]\nport=127.0.0.1:9001\n")
	if c.Server.Web != (WebConfig{}) || c.Inet.Web != (WebConfig{}) {
		t.Errorf("no web keys: %+v and %+v, want the page off", c.Server.Web, c.Inet.Web)
	}
	c, _ = mustLoad(t, "[unix_http_server]\nfile=/tmp/k.sock\nweb=true\n[inet_http_server]\nport=127.0.0.1:9001\nweb=true\nweb_attach=true\n")
	if c.Server.Web != (WebConfig{On: true}) || c.Inet.Web != (WebConfig{On: true, Attach: true}) {
		t.Errorf("web keys: %+v and %+v", c.Server.Web, c.Inet.Web)
	}
	if _, _, err := load(t, "[unix_http_server]\nfile=/tmp/k.sock\nweb=maybe\n"); err == nil || !strings.Contains(err.Error(), "keeper.conf:3") {
		t.Errorf("web=maybe: %v, want an error naming line 3", err)
	}
}

func TestInetCheckPassword(t *testing.T) {
	c := InetConfig{Port: 9001, Username: "u", Password: "{SHA}A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"} // "test"
	for _, tt := range []struct {
		user, pass string
		want       bool
	}{
		{"u", "test", true},
		{"u", "test ", false},
		{"u", "", false},
		{"", "test", false},
		{"u\x00", "test", false},
	} {
		if got := c.CheckPassword(tt.user, tt.pass); got != tt.want {
			t.Errorf("CheckPassword(%q, %q) = %v", tt.user, tt.pass, got)
		}
	}
}

func TestLoadExpansions(t *testing.T) {
	c, dir := mustLoad(t, `
[supervisord]
environment = GLOBAL=g

[program:web]
command = /srv/%(program_name)s --group %(group_name)s --n %(process_num)d/%(numprocs)d --host %(host_node_name)s --port %(ENV_PORT)s --home %(ENV_HOME)s --g %(ENV_GLOBAL)s --own %(ENV_OWN)s
environment = OWN=%(program_name)s-%(process_num)s
process_name = %(program_name)s-%(process_num)03d
numprocs = 2
numprocs_start = 7
directory = %(here)s/%(ENV_OWN)s
stdout_logfile = %(here)s/%(program_name)s-%(process_num)d.log
`)
	if len(c.Processes) != 2 {
		t.Fatalf("%d processes", len(c.Processes))
	}
	p := c.Processes[1]
	if p.Name != "web-008" || p.ProcessNum != 8 || p.Group != "web" {
		t.Errorf("name %q num %d group %q", p.Name, p.ProcessNum, p.Group)
	}
	want := []string{"/srv/web", "--group", "web", "--n", "8/2", "--host", "node1", "--port", "8080",
		"--home", "/home/t", "--g", "g", "--own", "web-8"}
	if !reflect.DeepEqual(p.Argv, want) {
		t.Errorf("argv %q\nwant %q", p.Argv, want)
	}
	if p.Directory != dir+"/web-8" || p.Stdout.Path != dir+"/web-8.log" {
		t.Errorf("directory %q stdout %q", p.Directory, p.Stdout.Path)
	}
	if got := []string{"GLOBAL=g", "OWN=web-8"}; !reflect.DeepEqual(p.Environment, got) {
		t.Errorf("environment %q", p.Environment)
	}
}

func TestLoadIncludes(t *testing.T) {
	c, err := loadConfig("testdata/config/include/keeper.conf", []string{"X=1"}, "node1")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("testdata/config/include")
	if want := []string{root + "/keeper.conf", root + "/conf.d/10-worker.conf", root + "/conf.d/20-group.conf",
		root + "/more/web.ini"}; !reflect.DeepEqual(c.Files, want) {
		t.Errorf("files %q\nwant %q", c.Files, want)
	}
	var names []string
	for _, p := range c.Processes {
		names = append(names, p.Namespec())
	}
	if want := []string{"apps:web", "worker:worker_00", "worker:worker_01", "apps:api"}; !reflect.DeepEqual(names, want) {
		t.Errorf("process order %q, want %q", names, want)
	}
	var groups []string
	for _, g := range c.Groups {
		groups = append(groups, g.Name)
	}
	if want := []string{"apps", "worker"}; !reflect.DeepEqual(groups, want) {
		t.Errorf("group order %q, want %q", groups, want)
	}
	w := c.Process("worker_01")
	if w.Argv[0] != root+"/conf.d/bin/worker" || w.Argv[2] != root+"/site" || w.Stdout.Path != root+"/conf.d/logs/1.log" {
		t.Errorf("worker %q %q", w.Argv, w.Stdout.Path)
	}
	api := c.Process("apps:api")
	if api == nil || api.Argv[0] != "./api" || api.Stdout.Path != root+"/more/api.log" || api.Priority != 999 {
		t.Errorf("api %+v", api)
	}
	if web := c.Process("web"); web == nil || web.Directory != root+"/more/www" || web.Group != "apps" {
		t.Errorf("web %+v", web)
	}
	if c.Supervisord.Logfile != root+"/logs/keeper.log" || c.Server.File != root+"/run/keeper.sock" || c.Server.Chmod != 0o770 {
		t.Errorf("supervisord %+v server %+v", c.Supervisord, c.Server)
	}
	if g := c.Group("apps"); g == nil || g.Priority != 5 || !reflect.DeepEqual(g.Programs, []string{"web", "api"}) {
		t.Errorf("group apps %+v", g)
	}
	if c.Process("hidden") != nil {
		t.Error("a dot file was included")
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q", warnings(c))
	}
}

func TestLoadGroupsAndOrder(t *testing.T) {
	c, _ := mustLoad(t, `
[program:b]
command=b
priority=20
[program:a]
command=a
priority=20
[program:first]
command=f
priority=1
[program:g1]
command=g
[program:g2]
command=g
process_name=a
[group:grp]
programs=g2,g1
priority=100
`)
	var order []string
	for _, p := range c.Processes {
		order = append(order, p.Namespec())
	}
	if want := []string{"first", "a", "b", "grp:a", "grp:g1"}; !reflect.DeepEqual(order, want) {
		t.Errorf("start order %q, want %q", order, want)
	}
	var groups []string
	for _, g := range c.Groups {
		groups = append(groups, g.Name)
	}
	if want := []string{"first", "a", "b", "grp"}; !reflect.DeepEqual(groups, want) {
		t.Errorf("group order %q, want %q", groups, want)
	}
	if c.Process("a") != nil {
		t.Error(`Process("a") should be ambiguous`)
	}
	if p := c.Process("grp:a"); p == nil || p.Program != "g2" {
		t.Errorf(`Process("grp:a") = %+v`, p)
	}
	if c.Process("nope") != nil || c.Process("grp:nope") != nil || c.Group("nope") != nil {
		t.Error("lookup of a missing name found something")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, conf, want string // FILE is the config's path
	}{
		{"autorestart", "[program:web]\ncommand=x\nautorestart=sometimes\n",
			`load FILE:3: [program:web] autorestart: "sometimes" is not one of true, false, unexpected`},
		{"bool", "[program:web]\ncommand=x\nautostart=maybe\n",
			`load FILE:3: [program:web] autostart: "maybe" is not one of true, false, yes, no, on, off, 1, 0`},
		{"integer", "[program:web]\ncommand=x\nstartsecs=soon\n",
			`load FILE:3: [program:web] startsecs: "soon" is not an integer ≥ 0`},
		{"negative", "[program:web]\ncommand=x\nstartretries=-2\n",
			`load FILE:3: [program:web] startretries: -2 is not a count of retries: use 0 to 2147483647, or -1 or infinite to retry forever`},
		{"session_log without pty", "[program:web]\ncommand=x\nsession_log=/tmp/web.cast\n",
			`load FILE:3: [program:web] session_log: session_log records a pty program's terminal: add pty = true`},
		{"pty listener", "[eventlistener:l]\ncommand=x\nevents=TICK_5\npty=true\n",
			`load FILE:4: [eventlistener:l] pty: pty = true is for programs: an event listener speaks its protocol on its stdout`},
		{"backoff_max", "[program:web]\ncommand=x\nbackoff_max=0\n",
			`load FILE:3: [program:web] backoff_max: 0 is not between 1 and 2147483647`},
		{"priority", "[program:web]\ncommand=x\npriority=high\n",
			`load FILE:3: [program:web] priority: "high" is not an integer`},
		{"bytes", "[supervisord]\nlogfile_maxbytes=5XB\n",
			`load FILE:2: [supervisord] logfile_maxbytes: "5XB" is not a byte size (a number ≥ 0 with an optional KB, MB or GB suffix)`},
		{"loglevel", "[supervisord]\nloglevel=loud\n",
			`load FILE:2: [supervisord] loglevel: "loud" is not one of critical, error, warn, info, debug, trace, blather`},
		{"umask", "[supervisord]\numask=9\n",
			`load FILE:2: [supervisord] umask: "9" is not an octal number from 0 to 0777`},
		{"chmod", "[unix_http_server]\nfile=/x\nchmod=rw\n",
			`load FILE:3: [unix_http_server] chmod: "rw" is not an octal number from 0 to 07777`},
		{"chown", "[unix_http_server]\nfile=/x\nchown=:g\n",
			`load FILE:3: [unix_http_server] chown: ":g" is not user or user:group`},
		{"server file", "[unix_http_server]\nchmod=0700\n", "load FILE:1: [unix_http_server] has no file (the socket's path)"},
		{"server auth", "[unix_http_server]\nfile=/x\nusername=u\n", "load FILE:1: [unix_http_server] has a username or a password but not both"},
		{"sha password", "[unix_http_server]\nfile=/x\nusername=u\npassword={SHA}zz\n",
			`load FILE:4: [unix_http_server] password: "{SHA}zz" is not {SHA} and 40 hex digits`},
		{"inet no port", "[inet_http_server]\nusername=u\npassword=p\n",
			"load FILE:1: [inet_http_server] has no port: add port=127.0.0.1:9001 (or host:port with a username and password)"},
		{"inet bad port", "[inet_http_server]\nport=127.0.0.1:http\n",
			`load FILE:2: [inet_http_server] port: "127.0.0.1:http" has no port number from 1 to 65535`},
		{"inet port range", "[inet_http_server]\nport=65536\n",
			`load FILE:2: [inet_http_server] port: "65536" has no port number from 1 to 65535`},
		{"inet bad host", "[inet_http_server]\nport=::1:9001\n",
			`load FILE:2: [inet_http_server] port: "::1:9001" is not host:port, *:port or port`},
		{"inet auth", "[inet_http_server]\nport=127.0.0.1:9001\npassword=p\n",
			"load FILE:1: [inet_http_server] has a username or a password but not both"},
		{"inet all interfaces without username", "[inet_http_server]\nport=*:9001\n",
			`load FILE:2: [inet_http_server] port: "*:9001" listens on every interface without a username: anyone who reaches the port could run any command as keeper's user; add username= and password= (plain or {SHA} and the hex sha1) to [inet_http_server], or listen on 127.0.0.1`},
		{"inet bare port without username", "[inet_http_server]\nport=9001\n",
			`load FILE:2: [inet_http_server] port: "9001" listens on every interface without a username: anyone who reaches the port could run any command as keeper's user; add username= and password= (plain or {SHA} and the hex sha1) to [inet_http_server], or listen on 127.0.0.1`},
		{"inet remote host without username", "[inet_http_server]\nport=10.1.2.3:9001\n",
			`load FILE:2: [inet_http_server] port: "10.1.2.3:9001" listens on 10.1.2.3 without a username: anyone who reaches the port could run any command as keeper's user; add username= and password= (plain or {SHA} and the hex sha1) to [inet_http_server], or listen on 127.0.0.1`},
		{"inet name without username", "[inet_http_server]\nport=myhost:9001\n",
			`load FILE:2: [inet_http_server] port: "myhost:9001" listens on myhost without a username: anyone who reaches the port could run any command as keeper's user; add username= and password= (plain or {SHA} and the hex sha1) to [inet_http_server], or listen on 127.0.0.1`},
		{"signal", "[program:web]\ncommand=x\nstopsignal=BOOM\n",
			`load FILE:3: [program:web] stopsignal: "BOOM" is not one of TERM, HUP, INT, QUIT, KILL, USR1, USR2 (or another signal name or number)`},
		{"exitcodes", "[program:web]\ncommand=x\nexitcodes=0,256\n",
			`load FILE:3: [program:web] exitcodes: "0,256" is not a comma-separated list of exit codes from 0 to 255`},
		{"sessions", "[program:web]\ncommand=x\nsessions=maybe\n",
			`load FILE:3: [program:web] sessions: "maybe" is not one of keep, kill`},
		{"leftovers", "[program:web]\ncommand=x\nleftovers=kill\n",
			`load FILE:3: [program:web] leftovers: "kill" is not one of stop, keep`},
		{"no command", "[program:web]\nautostart=true\n", "load FILE:1: [program:web] has no command"},
		{"empty command", "[program:web]\ncommand=\n", "load FILE:2: [program:web] command: is empty"},
		{"unbalanced quote", "[program:web]\ncommand=sh -c 'x\n", `load FILE:2: [program:web] command: split "sh -c 'x": no closing quotation`},
		{"unknown expansion", "\n[program:web]\ncommand=%(nope)s\n",
			`load FILE:3: [program:web] command: expand %(nope)s: unknown name "nope" (names: group_name, here, host_node_name, numprocs, process_num, program_name and ENV_X for 3 environment variables)`},
		{"process_num outside instance", "[program:web]\ncommand=x\npriority=%(process_num)d\n",
			`load FILE:3: [program:web] priority: expand %(process_num)d: unknown name "process_num" (names: group_name, here, host_node_name, program_name and ENV_X for 3 environment variables)`},
		{"numprocs without process_num", "[program:web]\ncommand=x\nnumprocs=2\n",
			"load FILE:1: [program:web] numprocs is 2, so process_name must contain %(process_num)"},
		{"process_name without process_num", "[program:web]\ncommand=x\nnumprocs=2\nprocess_name=w\n",
			`load FILE:4: [program:web] process_name: "w" does not contain %(process_num), which numprocs=2 needs`},
		{"bad process name", "[program:web]\ncommand=x\nprocess_name=a b\n",
			`load FILE:3: [program:web] process_name: name "a b" has ' ' (names cannot have spaces, ":" or "/")`},
		{"bad program name", "[program:a/b]\ncommand=x\n", `load FILE:1: [program:a/b]: name "a/b" has '/' (names cannot have spaces, ":" or "/")`},
		{"empty program name", "[program: ]\ncommand=x\n", "load FILE:1: [program: ]: name is empty"},
		{"same program twice", "[program:a]\ncommand=x\n[program: a]\ncommand=y\n", "load FILE:3: [program: a] is the same program as [program:a] at FILE:1"},
		{"killasgroup false", "[program:web]\ncommand=x\nstopasgroup=true\nkillasgroup=false\n",
			"load FILE:4: [program:web] killasgroup: false while stopasgroup is true (stopasgroup needs killasgroup)"},
		{"environment", "[program:web]\ncommand=x\nenvironment=A=b c\n",
			`load FILE:3: [program:web] environment: parse "A=b c": not a list of KEY=value separated by "," ("c" after A=b: quote values with spaces or symbols)`},
		{"group unknown program", "[program:a]\ncommand=x\n[group:g]\nprograms=a,b\n",
			`load FILE:4: [group:g] programs: "b" is not a [program:] section (programs: a)`},
		{"group lists twice", "[program:a]\ncommand=x\n[group:g]\nprograms=a,a\n", `load FILE:4: [group:g] programs: "a" is listed twice`},
		{"group name clash", "[program:a]\ncommand=x\n[program:g]\ncommand=x\n[group:g]\nprograms=a\n",
			`load FILE:3: [program:g] makes a group "g", like [group:g]`},
		{"two processes one name", "[program:a]\ncommand=x\n[program:b]\ncommand=x\nprocess_name=a\n[group:g]\nprograms=a,b\n",
			`load FILE:6: [group:g] group "g" has two processes named "a"`},
		{"numprocs too large", "[program:a]\ncommand=x\nnumprocs=100000\n", "load FILE:3: [program:a] numprocs: 100000 is not between 0 and 10000"},
		{"parse error", "[program:a]\ncommand\n", `parse FILE:2: line is not "key = value" or a [section]`},
		{"duplicate key", "[program:a]\ncommand=x\nCommand=y\n", "parse FILE:3: [program:a] command is already set at line 2"},
		{"listener without events", "[eventlistener:l]\ncommand=x\n",
			"load FILE:1: [eventlistener:l] has no events: list the event types it listens to, such as events=PROCESS_STATE"},
		{"listener unknown event", "[eventlistener:l]\ncommand=x\nevents=PROCESS_STATE,PROCESS_EXPLODED\n",
			`load FILE:3: [eventlistener:l] events: "PROCESS_EXPLODED" is not an event type (types: ` + strings.Join(eventTypeNames(), ", ") + ")"},
		{"listener buffer_size", "[eventlistener:l]\ncommand=x\nevents=TICK_5\nbuffer_size=0\n",
			"load FILE:4: [eventlistener:l] buffer_size: 0 is not between 1 and 2147483647"},
		{"listener redirect_stderr", "[eventlistener:l]\ncommand=x\nevents=TICK_5\nredirect_stderr=true\n",
			"load FILE:4: [eventlistener:l] redirect_stderr: true is not allowed: stderr mixed into stdout would break the event listener protocol"},
		{"listener without command", "[eventlistener:l]\nevents=TICK_5\n", "load FILE:1: [eventlistener:l] has no command"},
		{"listener pool without process_num", "[eventlistener:l]\ncommand=x\nevents=TICK_5\nnumprocs=2\n",
			"load FILE:1: [eventlistener:l] numprocs is 2, so process_name must contain %(process_num)"},
		{"listener named as a program", "[program:l]\ncommand=x\n[eventlistener:l]\ncommand=x\nevents=TICK_5\n",
			`load FILE:3: [eventlistener:l] makes a group "l", like [program:l]`},
		{"bad listener name", "[eventlistener:a b]\ncommand=x\nevents=TICK_5\n",
			`load FILE:1: [eventlistener:a b]: name "a b" has ' ' (names cannot have spaces, ":" or "/")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := load(t, tt.conf)
			if err == nil {
				t.Fatalf("loaded: %+v", c)
			}
			want := strings.ReplaceAll(tt.want, "FILE", filepath.Join(dir, "keeper.conf"))
			if err.Error() != want {
				t.Errorf("error\n%s\nwant\n%s", err, want)
			}
			var ie *ini.Error
			if !errors.As(err, &ie) || ie.Line == 0 {
				t.Errorf("error %v has no file:line", err)
			}
		})
	}
}

func TestLoadWarnings(t *testing.T) {
	c, dir := mustLoad(t, `
[supervisord]
strip_ansi = true
logfile = syslog
frobnicate = 1

[inet_http_server]
port = 127.0.0.1:9001

[eventlistener:x]
command = x
events = TICK_5
result_handler = superlance.crashmail:handler

[fcgi-program:y]
command = y

[ctlplugin:z]
[mystery]
[DEFAULT]

[supervisorctl]
serverurl = http://localhost:9001

[program:p]
command = p
stdout_events_enabled = true
stderr_capture_maxbytes = 1MB
stdout_syslog = true
stdout_logfile_maxbytes = 0
stderr_logfile = syslog
colour = blue

[program:q]
command = q
redirect_stderr = true
stderr_logfile = /tmp/q.err
numprocs = 2
process_name = q%(process_num)s

[group:empty]

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[rpcinterface:twiddler]
supervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface
`)
	f := filepath.Join(dir, "keeper.conf")
	want := []string{
		f + ":3: [supervisord] strip_ansi is not implemented by keeper; child output is logged unchanged",
		f + ":5: [supervisord] frobnicate is not a key keeper or supervisord knows; ignored",
		f + `:13: [eventlistener:x] result_handler "superlance.crashmail:handler" is not implemented by keeper; supervisor.dispatchers:default_handler is used`,
		f + ":15: [fcgi-program:y] is not implemented by keeper; ignored",
		f + ":18: [ctlplugin:z] is not implemented by keeper; ignored",
		f + ":19: [mystery] is not a section keeper or supervisord knows; ignored",
		f + ":20: [DEFAULT] (configparser's defaults for every section) is not implemented by keeper; ignored",
		f + ":30: [program:p] stdout_logfile is AUTO without rotation (stdout_logfile_maxbytes=0): it can fill the disk",
		f + ":32: [program:p] colour is not a key keeper or supervisord knows; ignored",
		f + ":37: [program:q] stderr_logfile is ignored because redirect_stderr is true",
		f + ":41: [group:empty] has no programs",
		f + ":46: [rpcinterface:twiddler] is not implemented by keeper; ignored",
	}
	if got := warnings(c); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c.Supervisord.Logfile != dir+"/keeper.log" || !c.Supervisord.StripANSI {
		t.Errorf("supervisord %+v", c.Supervisord)
	}
	if p := c.Process("p"); p.Stderr.Mode != LogNone || !p.Stdout.Events || p.Stderr.Events || p.Stderr.CaptureMaxBytes != 1<<20 {
		t.Errorf("stderr syslog mode %v, stdout events %v, stderr events %v", p.Stderr.Mode, p.Stdout.Events, p.Stderr.Events)
	}
}

func TestFindConfig(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(t.TempDir(), "supervisord.conf")
	system := []string{filepath.Join(dir, "missing.conf"), sys}
	touch := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := findConfig(dir, system)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v is not fs.ErrNotExist", err)
	}
	wantErr := "find config: none of " + strings.Join([]string{dir + "/keeper.conf", dir + "/supervisord.conf",
		dir + "/etc/supervisord.conf", system[0], sys}, ", ") + ": file does not exist"
	if err.Error() != wantErr {
		t.Errorf("error\n%s\nwant\n%s", err, wantErr)
	}
	steps := []string{sys, dir + "/etc/supervisord.conf", dir + "/supervisord.conf", dir + "/keeper.conf"}
	for _, p := range steps {
		touch(p)
		got, err := findConfig(dir, system)
		if err != nil || got != p {
			t.Errorf("after creating %s: got %q, %v", p, got, err)
		}
	}
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(other, "keeper.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findConfig(other, system); got != sys || err != nil {
		t.Errorf("a directory named keeper.conf was not skipped: %q, %v", got, err)
	}
	if want := []string{"/etc/keeper/keeper.conf", "/etc/supervisord.conf", "/etc/supervisor/supervisord.conf"}; !reflect.DeepEqual(systemConfigs, want) {
		t.Errorf("systemConfigs %q", systemConfigs)
	}
}

func TestConfigEqual(t *testing.T) {
	base := "[program:a]\ncommand=a --x\nenvironment=A=1\n[program:b]\ncommand=b\n"
	dir := t.TempDir()
	path := filepath.Join(dir, "keeper.conf")
	loadText := func(s string) *Config {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(path, testEnv, "node1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := loadText(base)
	same := loadText("; a comment moves every line\n\n" + base)
	changed := loadText(strings.Replace(base, "A=1", "A=2", 1))
	if !old.Group("a").Equal(same.Group("a")) || !old.Process("b").Equal(same.Process("b")) {
		t.Error("moving lines changed the config")
	}
	if old.Group("a").Equal(changed.Group("a")) {
		t.Error("a changed environment is equal")
	}
	if !old.Group("b").Equal(changed.Group("b")) {
		t.Error("an unchanged group is not equal")
	}
}

func FuzzLoadConfig(f *testing.F) {
	seed, err := os.ReadFile("testdata/config/seed.conf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, s := range []string{
		"[program:x]\ncommand=x\nnumprocs=3\nprocess_name=%(program_name)s_%(process_num)02d\n",
		"[supervisord]\nenvironment=A=1,B=\"2\"\n[program:x]\ncommand=%(ENV_A)s\nenvironment=C=%(ENV_B)s\n",
		"[group:g]\nprograms=a,b\n[program:a]\ncommand=a\n[program:b]\ncommand=b\npriority=-1\n",
		"[unix_http_server]\nfile=%(here)s/s.sock\nchown=a:b\nusername=u\npassword={SHA}0000000000000000000000000000000000000000\n",
		"[program:x]\ncommand=x\nstopasgroup=true\nstopsignal=sigusr1\nstdout_logfile=NONE\nredirect_stderr=1\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "keeper.conf")
	f.Fuzz(func(t *testing.T, data []byte) {
		if strings.Contains(string(data), "[include") {
			t.Skip("includes read other files")
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(path, testEnv, "node1")
		if err != nil {
			return
		}
		for _, p := range c.Processes {
			if p.Name == "" || len(p.Argv) == 0 || c.Group(p.Group) == nil {
				t.Fatalf("bad process %+v", p)
			}
		}
	})
}

func TestLoadRetryForever(t *testing.T) {
	for _, tt := range []struct {
		keys    string
		retries int
		max     time.Duration
	}{
		{"", 3, 0},
		{"startretries=infinite\n", RetryForever, 60 * time.Second},
		{"startretries=-1\nbackoff_max=5\n", RetryForever, 5 * time.Second},
		{"startretries=10\nbackoff_max=4\n", 10, 4 * time.Second},
	} {
		c, _ := mustLoad(t, "[program:web]\ncommand=x\n"+tt.keys)
		p := c.Groups[0].Processes[0]
		if p.Startretries != tt.retries || p.BackoffMax != tt.max {
			t.Errorf("%q: startretries %d, backoff_max %v; want %d, %v", tt.keys, p.Startretries, p.BackoffMax, tt.retries, tt.max)
		}
	}
}

func TestLoadPty(t *testing.T) {
	for _, tt := range []struct {
		keys    string
		pty     bool
		castLog string // relative to the config's directory
	}{
		{"", false, ""},
		{"pty=true\n", true, ""},
		{"pty=false\n", false, ""},
		{"pty=yes\nsession_log=web.cast\n", true, "web.cast"},
	} {
		c, dir := mustLoad(t, "[program:web]\ncommand=x\n"+tt.keys)
		p := c.Groups[0].Processes[0]
		want := tt.castLog
		if want != "" {
			want = filepath.Join(dir, want)
		}
		if p.Pty != tt.pty || p.SessionLog != want {
			t.Errorf("%q: pty %v, session_log %q; want %v, %q", tt.keys, p.Pty, p.SessionLog, tt.pty, want)
		}
	}
}

func TestLoadEventListener(t *testing.T) {
	c, _ := mustLoad(t, `
[program:web]
command = web

[eventlistener:mon]
command = python3 mon.py %(process_num)d
process_name = mon_%(process_num)02d
numprocs = 2
events = process_state, TICK_60,PROCESS_STATE
buffer_size = 50
user = nobody
depends_on = web

[eventlistener:crash]
command = crash
events = PROCESS_STATE_EXITED
result_handler = supervisor.dispatchers:default_handler
`)
	if w := warnings(c); len(w) != 1 || !strings.Contains(w[0], ":12: [eventlistener:mon] depends_on is not a key keeper or supervisord knows; ignored") {
		t.Errorf("warnings %q", w)
	}
	var names []string
	for _, g := range c.Groups {
		names = append(names, g.Name)
	}
	if want := []string{"crash", "mon", "web"}; !reflect.DeepEqual(names, want) {
		t.Errorf("groups in start order %v, want %v (listener pools first: priority -1)", names, want)
	}
	mon := c.Group("mon")
	if want := (&ListenerConfig{Events: []string{"PROCESS_STATE", "TICK_60"}, BufferSize: 50}); !reflect.DeepEqual(mon.Listener, want) {
		t.Errorf("mon listener %+v, want %+v", mon.Listener, want)
	}
	if want := (&ListenerConfig{Events: []string{"PROCESS_STATE_EXITED"}, BufferSize: 10}); !reflect.DeepEqual(c.Group("crash").Listener, want) {
		t.Errorf("crash listener %+v, want %+v", c.Group("crash").Listener, want)
	}
	if c.Group("web").Listener != nil {
		t.Errorf("program web is a listener")
	}
	var procs []string
	for _, p := range mon.Processes {
		procs = append(procs, fmt.Sprintf("%s %v %s %d %v", p.Name, p.Argv, p.User, p.Priority, p.DependsOn))
	}
	want := []string{"mon_00 [python3 mon.py 0] nobody 999 []", "mon_01 [python3 mon.py 1] nobody 999 []"}
	if !reflect.DeepEqual(procs, want) {
		t.Errorf("mon processes\n%q\nwant\n%q", procs, want)
	}
	if p := c.Process("mon:mon_01"); p == nil || p.Stdout.Mode != LogAuto || p.Stderr.Mode != LogAuto {
		t.Errorf("mon_01 %+v", p)
	}
}
