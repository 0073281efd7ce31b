package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"keeper/internal/peer"
)

// inetConf is the config of TestInetHTTPServer's two daemons: the control
// server on a loopback TCP port with a username and password, beside the
// unix socket the harness settles on. @PORT@ is each daemon's own port.
const inetConf = `[unix_http_server]
file=@DIR@/s.sock

[inet_http_server]
port=127.0.0.1:@PORT@
username=u
password=p

[supervisord]
logfile=@DIR@/main.log
pidfile=@DIR@/daemon.pid
childlogdir=@DIR@
identifier=inet

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://@DIR@/s.sock

[program:sleeper]
command=@DIR@/sleep 1000
startsecs=1

[program:idle]
command=@DIR@/sleep 1001
autostart=false
`

// inetSide is a daemon of TestInetHTTPServer and the URL of its
// [inet_http_server].
type inetSide struct {
	*daemonSide
	port int
	url  string
}

// newInetSides starts supervisord and keeper on inetConf, each on its own
// free port, and waits for both to settle.
func newInetSides(t *testing.T) (sup, kp *inetSide) {
	t.Helper()
	supervisord := peer.Need(t, "supervisord")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, argv func(conf string) []string) *inetSide {
		dir := testDir(t)
		if err := os.Symlink(sleep, filepath.Join(dir, "sleep")); err != nil {
			t.Fatal(err)
		}
		s := &inetSide{daemonSide: &daemonSide{name: name, dir: dir, conf: filepath.Join(dir, "sv.conf")}}
		s.port = freePort(t)
		s.url = "http://127.0.0.1:" + strconv.Itoa(s.port)
		s.argv = argv(s.conf)
		s.writeConf(t, strings.ReplaceAll(inetConf, "@PORT@", strconv.Itoa(s.port)))
		return s
	}
	sup = mk("supervisord", func(conf string) []string { return []string{supervisord, "-n", "-c", conf} })
	kp = mk("keeper", func(conf string) []string { return []string{keeperBin, "daemon", "-n", "-c", conf} })
	sup.start(t)
	kp.start(t)
	settleBoth(t, sup.daemonSide, kp.daemonSide)
	return sup, kp
}

// ctlInet runs /usr/bin/supervisorctl against the side's TCP URL with
// args after -s URL (credentials among them), and hides the port and the
// directory.
func (s *inetSide) ctlInet(args ...string) (ctlResult, error) {
	r, err := s.ctlBin(append([]string{"-s", s.url}, args...)...)
	r.out = strings.ReplaceAll(parityNormalise(r.out, s.dir), strconv.Itoa(s.port), "PORT")
	return r, err
}

// TestInetHTTPServer drives [inet_http_server] with Debian's supervisorctl
// and raw HTTP, against keeper and supervisord on the same config: the same
// status lines with the right credentials, the same refusal and exit code
// with a wrong one or none, and supervisord's 401 challenge.
func TestInetHTTPServer(t *testing.T) {
	peer.Need(t, "supervisorctl")
	sup, kp := newInetSides(t)
	bothInet := func(fn func(s *inetSide) (ctlResult, error)) (ctlResult, ctlResult) {
		t.Helper()
		sides := map[*daemonSide]*inetSide{sup.daemonSide: sup, kp.daemonSide: kp}
		return both(t, sup.daemonSide, kp.daemonSide, func(s *daemonSide) (ctlResult, error) { return fn(sides[s]) })
	}

	for _, tt := range []struct {
		args []string
		want string // in keeper's output
	}{
		{[]string{"-u", "u", "-p", "p", "status"}, "sleeper"},
		{[]string{"-u", "u", "-p", "wrong", "status"}, ""},
		{[]string{"-u", "x", "-p", "p", "status"}, ""},
		{[]string{"status"}, ""}, // no credentials
	} {
		rs, rk := bothInet(func(s *inetSide) (ctlResult, error) { return s.ctlInet(tt.args...) })
		cmd := "supervisorctl -s URL " + strings.Join(tt.args, " ")
		t.Logf("%s: exit %d\n%s", cmd, rk.code, rk.out)
		if rs != rk {
			t.Errorf("%s:\nsupervisord (exit %d):\n%s\nkeeper (exit %d):\n%s", cmd, rs.code, rs.out, rk.code, rk.out)
		}
		if !strings.Contains(rk.out, tt.want) {
			t.Errorf("%s: keeper's output has no %q:\n%s", cmd, tt.want, rk.out)
		}

		// keeper's own CLI over the same URL prints what supervisorctl
		// prints, but for the Python exception line supervisorctl adds
		// after "Server requires authentication".
		out, code := runCmd(t, kp.dir, append([]string{keeperBin, "-c", kp.conf, "-s", kp.url}, tt.args...)...)
		out = strings.ReplaceAll(parityNormalise(out, kp.dir), strconv.Itoa(kp.port), "PORT")
		want := rk.out
		if first, _, ok := strings.Cut(want, "\n"); ok && first == "Server requires authentication" {
			want = first + "\n"
		}
		if out != want || code != rk.code {
			t.Errorf("keeper %s:\n%s(exit %d)\nsupervisorctl printed:\n%s(exit %d)", strings.Join(tt.args, " "), out, code, want, rk.code)
		}
	}
	// A [supervisorctl] serverurl of http:// works for keeper's CLI too.
	conf, err := os.ReadFile(kp.conf)
	if err != nil {
		t.Fatal(err)
	}
	ctlConf := filepath.Join(kp.dir, "ctl.conf")
	text := strings.Replace(string(conf), "serverurl=unix://"+kp.sock(), "serverurl="+kp.url+"\nusername=u\npassword=p", 1)
	if err := os.WriteFile(ctlConf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, kp.dir, keeperBin, "-c", ctlConf, "status", "sleeper"); code != 0 || !strings.Contains(out, "RUNNING") {
		t.Errorf("keeper -c CONF status sleeper with serverurl=%s: exit %d\n%s", kp.url, code, out)
	}

	// A raw request without credentials: 401 and the Basic challenge.
	for _, s := range []*inetSide{sup, kp} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		body := `<?xml version="1.0"?><methodCall><methodName>supervisor.getState</methodName><params></params></methodCall>`
		req, err := http.NewRequestWithContext(ctx, "POST", s.url+"/RPC2", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/xml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("POST %s/RPC2 to %s: %v", s.url, s.name, err)
		}
		resp.Body.Close()
		cancel()
		got := fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		if want := `401 Basic realm="default"`; got != want {
			t.Errorf("%s answers a request without credentials with %q, want %q", s.name, got, want)
		}
	}
}

// inetPythonClient calls, with Python's xmlrpc.client over HTTP and the
// credentials in the URL (as Cesi, Telegraf and the exporters do), what the
// monitoring clients of [inet_http_server] call, and prints the answers as
// JSON. argv: the URL with the right credentials, then one with a wrong
// password.
const inetPythonClient = `
import json, sys, xmlrpc.client

def call(url, fn):
    try:
        return {"value": fn(xmlrpc.client.ServerProxy(url))}
    except xmlrpc.client.Fault as f:
        return {"fault": [f.faultCode, f.faultString]}
    except xmlrpc.client.ProtocolError as e:
        return {"http": e.errcode, "msg": e.errmsg}

good, bad = sys.argv[1], sys.argv[2]
out = {
    "getAllProcessInfo": call(good, lambda p: p.supervisor.getAllProcessInfo()),
    "getState": call(good, lambda p: p.supervisor.getState()),
    "getIdentification": call(good, lambda p: p.supervisor.getIdentification()),
    "multicall": call(good, lambda p: p.system.multicall([
        {"methodName": "supervisor.getState", "params": []},
        {"methodName": "supervisor.getIdentification", "params": []},
        {"methodName": "supervisor.getProcessInfo", "params": ["sleeper"]},
        {"methodName": "supervisor.getProcessInfo", "params": ["nosuch"]},
    ])),
    "wrongPassword": call(bad, lambda p: p.supervisor.getState()),
}
json.dump(out, sys.stdout, indent=1)
`

// inetAutoLog is an automatic child log's name under inetConf.
var inetAutoLog = regexp.MustCompile(`---inet-[0-9a-z_]+\.log`)

// TestInetPythonXMLRPC: Python's xmlrpc.client over
// http://u:p@127.0.0.1:PORT/RPC2 gets the same answers from keeper and
// supervisord (pids and times aside), and the same 401 with a wrong
// password.
func TestInetPythonXMLRPC(t *testing.T) {
	python := peer.Need(t, "python3")
	sup, kp := newInetSides(t)
	answers := map[string]map[string]string{}
	for _, s := range []*inetSide{sup, kp} {
		host := "127.0.0.1:" + strconv.Itoa(s.port)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, python, "-c", inetPythonClient, "http://u:p@"+host+"/RPC2", "http://u:wrong@"+host+"/RPC2")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("python client against %s: %v", s.name, err)
		}
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("python client against %s: %v\n%s", s.name, err, out)
		}
		answers[s.name] = map[string]string{}
		for k, v := range m {
			n := strings.ReplaceAll(string(v), s.dir, "DIR")
			n = strings.ReplaceAll(n, host, "HOST")
			n = pyNumRx.ReplaceAllString(n, `"$1": "N"`)
			n = inetAutoLog.ReplaceAllString(n, "---inet-R.log")
			n = pyDescRx.ReplaceAllString(n, "pid N, uptime T")
			answers[s.name][k] = dateRx.ReplaceAllString(n, "DATE")
		}
	}
	for k, sv := range answers["supervisord"] {
		kv := answers["keeper"][k]
		if sv != kv {
			t.Errorf("%s:\nsupervisord: %s\nkeeper: %s", k, sv, kv)
		}
	}
	// What the comparison rests on, checked on keeper's answers directly.
	for k, want := range map[string]string{
		"getIdentification": `"value": "inet"`,
		"getAllProcessInfo": `"name": "sleeper"`,
		"getState":          `"statename": "RUNNING"`,
		"multicall":         `"faultString": "BAD_NAME: nosuch"`,
		"wrongPassword":     `"http": 401`,
	} {
		if got := answers["keeper"][k]; !strings.Contains(got, want) {
			t.Errorf("keeper's %s has no %s: %s", k, want, got)
		}
	}
}
