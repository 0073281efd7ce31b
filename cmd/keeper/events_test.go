package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"keeper/internal/peer"
	"keeper/supervise/xmlrpc"
)

// eventsConf is the config supervisord and keeper both run for the event
// listener tests: testdata/events/recorder.py (written with
// supervisor.childutils) records every event it gets in @DIR@/events.txt;
// crasher runs until @DIR@/crash appears, then exits 3 (unexpected, so
// it is started again); talker says hello on its stdout, whose events are
// enabled, once @DIR@/talk appears; messenger writes a message between
// supervisord's capture tokens once @DIR@/tell appears.
const eventsConf = `[unix_http_server]
file=@DIR@/s.sock

[supervisord]
logfile=@DIR@/main.log
pidfile=@DIR@/daemon.pid
childlogdir=@DIR@
loglevel=debug

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://@DIR@/s.sock

[eventlistener:rec]
command=@PYTHON@ @RECORDER@ @DIR@/events.txt @FAILONCE@ @CRASHONCE@
events=PROCESS_STATE,SUPERVISOR_STATE_CHANGE,PROCESS_GROUP,PROCESS_LOG,REMOTE_COMMUNICATION,PROCESS_COMMUNICATION
stderr_logfile=@DIR@/rec.err

[program:crasher]
command=sh -c "while [ ! -e @DIR@/crash ]; do @DIR@/sleep 0.05; done; rm @DIR@/crash; exit 3"
autostart=false
startsecs=1

[program:talker]
command=sh -c "while [ ! -e @DIR@/talk ]; do @DIR@/sleep 0.05; done; echo hello; exec @DIR@/sleep 1000"
autostart=false
startsecs=1
stdout_events_enabled=true

[program:messenger]
command=sh -c "while [ ! -e @DIR@/tell ]; do @DIR@/sleep 0.05; done; printf 'x<!--XSUPERVISOR:BEGIN-->note<!--XSUPERVISOR:END-->y'; exec @DIR@/sleep 1000"
autostart=false
startsecs=1
stdout_capture_maxbytes=1KB
`

// startEventSides starts supervisord and keeper on eventsConf, each in its
// own directory, and waits until each one's listener has recorded its own
// RUNNING state. The listener answers FAIL to the first event named
// failOnce, and exits without answering at the first named crashOnce.
func startEventSides(t *testing.T, failOnce, crashOnce string) (sup, kp *daemonSide) {
	t.Helper()
	supervisord := peer.Need(t, "supervisord")
	python := peer.Need(t, "python3-supervisor")
	recorder, err := filepath.Abs("testdata/events/recorder.py")
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("@PYTHON@", python, "@RECORDER@", recorder, "@FAILONCE@", failOnce, "@CRASHONCE@", crashOnce).Replace(eventsConf)
	mk := func(name string, argv func(conf string) []string) *daemonSide {
		dir := testDir(t)
		if err := os.Symlink(sleep, filepath.Join(dir, "sleep")); err != nil {
			t.Fatal(err)
		}
		s := &daemonSide{name: name, dir: dir, conf: filepath.Join(dir, "sv.conf")}
		s.argv = argv(s.conf)
		s.writeConf(t, conf)
		return s
	}
	sup = mk("supervisord", func(conf string) []string { return []string{supervisord, "-n", "-c", conf} })
	kp = mk("keeper", func(conf string) []string { return []string{keeperBin, "daemon", "-n", "-c", conf} })
	sup.start(t)
	kp.start(t)
	for _, s := range []*daemonSide{sup, kp} {
		s.waitEvent(t, "PROCESS_STATE_RUNNING from_state=STARTING groupname=rec pid=* processname=rec", 1)
	}
	return sup, kp
}

// events returns the lines the side's listener recorded so far.
func (s *daemonSide) events() string { return readFileOrEmpty(filepath.Join(s.dir, "events.txt")) }

// waitEvent waits until the listener recorded the line that starts with
// want n times.
func (s *daemonSide) waitEvent(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count("\n"+s.events(), "\n"+want+" |") < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no event %q (%d times) within 30s; recorded:\n%s\nlog:\n%s", s.name, want, n, s.events(),
				readFileOrEmpty(filepath.Join(s.dir, "main.log")))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call makes one XML-RPC call to the side's daemon and returns its answer.
func (s *daemonSide) call(t *testing.T, method string, args ...any) any {
	t.Helper()
	c := xmlrpc.Dial(s.sock())
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := c.Call(ctx, method, args...)
	if err != nil {
		t.Fatalf("%s: %s%v: %v", s.name, method, args, err)
	}
	return v
}

// listenerFacts is what the side's daemon says of the listener as a
// program: its state and the config fields a pool sets.
func (s *daemonSide) listenerFacts(t *testing.T) string {
	t.Helper()
	info, _ := s.call(t, "supervisor.getProcessInfo", "rec").(xmlrpc.Struct)
	state, _ := info.Get("statename")
	facts := fmt.Sprintf("state=%v", state)
	configs, _ := s.call(t, "supervisor.getAllConfigInfo").([]any)
	for _, c := range configs {
		c, _ := c.(xmlrpc.Struct)
		if name, _ := c.Get("name"); name != "rec" {
			continue
		}
		for _, key := range []string{"group", "group_prio", "process_prio", "redirect_stderr", "stdout_events_enabled"} {
			v, _ := c.Get(key)
			facts += fmt.Sprintf(" %s=%v", key, v)
		}
	}
	return facts
}

// crashAndStop starts crasher, makes it crash once (it is started again)
// and stops it once RUNNING, waiting on the listener's record at each step.
func crashAndStop(t *testing.T, s *daemonSide) {
	t.Helper()
	s.call(t, "supervisor.startProcess", "crasher", true)
	running := "PROCESS_STATE_RUNNING from_state=STARTING groupname=crasher pid=* processname=crasher"
	s.waitEvent(t, running, 1)
	if err := os.WriteFile(filepath.Join(s.dir, "crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitEvent(t, running, 2)
	s.call(t, "supervisor.stopProcess", "crasher", true)
	s.waitEvent(t, "PROCESS_STATE_STOPPED from_state=STOPPING groupname=crasher pid=* processname=crasher", 1)
}

// talkAndStop starts talker, makes it write a line (a PROCESS_LOG_STDOUT
// event), sends a REMOTE_COMMUNICATION event, which the listener gets
// twice (it exits handling the first), and stops talker.
func talkAndStop(t *testing.T, s *daemonSide) {
	t.Helper()
	s.call(t, "supervisor.startProcess", "talker", true)
	s.waitEvent(t, "PROCESS_STATE_RUNNING from_state=STARTING groupname=talker pid=* processname=talker", 1)
	if err := os.WriteFile(filepath.Join(s.dir, "talk"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitEvent(t, `PROCESS_LOG_STDOUT channel=stdout data='hello\n' groupname=talker pid=* processname=talker`, 1)
	s.call(t, "supervisor.sendRemoteCommEvent", "greeting", "hi there")
	s.waitEvent(t, remoteEvent, 2) // the listener exits at the first
	s.call(t, "supervisor.stopProcess", "talker", true)
	s.waitEvent(t, "PROCESS_STATE_STOPPED from_state=STOPPING groupname=talker pid=* processname=talker", 1)
}

// remoteEvent is the REMOTE_COMMUNICATION event talkAndStop sends.
const remoteEvent = "REMOTE_COMMUNICATION data='hi there' type=greeting"

// tellAndStop starts messenger, makes it write a message in capture mode
// (a PROCESS_COMMUNICATION_STDOUT event) and stops it.
func tellAndStop(t *testing.T, s *daemonSide) {
	t.Helper()
	s.call(t, "supervisor.startProcess", "messenger", true)
	s.waitEvent(t, "PROCESS_STATE_RUNNING from_state=STARTING groupname=messenger pid=* processname=messenger", 1)
	if err := os.WriteFile(filepath.Join(s.dir, "tell"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitEvent(t, "PROCESS_COMMUNICATION_STDOUT data='note' groupname=messenger pid=* processname=messenger", 1)
	s.call(t, "supervisor.stopProcess", "messenger", true)
	s.waitEvent(t, "PROCESS_STATE_STOPPED from_state=STOPPING groupname=messenger pid=* processname=messenger", 1)
}

// TestEventListenerParity runs the same listener under supervisord and
// keeper through the same actions: both must record the same events, in
// the same order, with the same payload fields.
//
// The listener answers FAIL to SUPERVISOR_STATE_CHANGE_RUNNING the first
// time, and exits while handling the first REMOTE_COMMUNICATION: it must
// get each again (the second once restarted).
func TestEventListenerParity(t *testing.T) {
	sup, kp := startEventSides(t, "SUPERVISOR_STATE_CHANGE_RUNNING", "REMOTE_COMMUNICATION")
	for _, s := range []*daemonSide{sup, kp} {
		crashAndStop(t, s)
		talkAndStop(t, s)
		tellAndStop(t, s)
	}
	if got, want := kp.listenerFacts(t), sup.listenerFacts(t); got != want {
		t.Errorf("keeper says of the listener\n%s\nsupervisord\n%s", got, want)
	}
	got, want := kp.events(), sup.events()
	if got != want {
		t.Errorf("keeper's listener recorded\n%s\nsupervisord's\n%s", got, want)
	}
	if !strings.Contains(want, "PROCESS_STATE_EXITED expected=0 from_state=RUNNING groupname=crasher pid=* processname=crasher") {
		t.Errorf("the crash is not among the events:\n%s", want)
	}
	running := "\nSUPERVISOR_STATE_CHANGE_RUNNING  | eventname len pool poolserial serial server ver\n"
	if !strings.Contains(want, running+running[1:]) {
		t.Errorf("the event answered with FAIL was not sent again:\n%s", want)
	}
	env := "ENV SUPERVISOR_ENABLED=1 SUPERVISOR_PROCESS_NAME=rec SUPERVISOR_GROUP_NAME=rec SUPERVISOR_SERVER_URL=unix: getState=RUNNING\n"
	if !strings.HasPrefix(got, env) {
		t.Errorf("keeper's listener did not start with %q:\n%s", env, got)
	}
}

// overflowConf has a listener that says READY only once @DIR@/go exists,
// with room for 3 events.
const overflowConf = `[unix_http_server]
file=@DIR@/s.sock

[supervisord]
logfile=@DIR@/main.log
pidfile=@DIR@/daemon.pid
childlogdir=@DIR@

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[eventlistener:rec]
command=@PYTHON@ @RECORDER@ @DIR@/events.txt
events=REMOTE_COMMUNICATION
buffer_size=3
environment=RECORDER_WAIT_FOR="@DIR@/go"
`

// TestEventListenerOverflow sends 5 events to a pool of 3 whose listener
// is not ready: under keeper as under supervisord it gets the newest 3,
// and the daemon's log says which were discarded.
func TestEventListenerOverflow(t *testing.T) {
	supervisord := peer.Need(t, "supervisord")
	python := peer.Need(t, "python3-supervisor")
	recorder, err := filepath.Abs("testdata/events/recorder.py")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("@PYTHON@", python, "@RECORDER@", recorder).Replace(overflowConf)
	var records []string
	for _, argv := range [][]string{{supervisord, "-n", "-c"}, {keeperBin, "daemon", "-n", "-c"}} {
		dir := testDir(t)
		s := &daemonSide{name: filepath.Base(argv[0]), dir: dir, conf: filepath.Join(dir, "sv.conf")}
		s.argv = append(argv, s.conf)
		s.writeConf(t, conf)
		s.start(t)
		waitFor(t, s.name+"'s listener to start", 30*time.Second, func() bool { return strings.HasPrefix(s.events(), "ENV ") })
		for i := 1; i <= 5; i++ {
			s.call(t, "supervisor.sendRemoteCommEvent", "n", fmt.Sprint(i))
		}
		if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s.waitEvent(t, "REMOTE_COMMUNICATION data='5' type=n", 1)
		var got []string
		for _, line := range strings.Split(s.events(), "\n") {
			if data, ok := strings.CutPrefix(line, "REMOTE_COMMUNICATION data='"); ok {
				got = append(got, data[:1])
			}
		}
		records = append(records, strings.Join(got, " "))
		log := readFileOrEmpty(filepath.Join(dir, "main.log"))
		for _, want := range []string{"pool rec event buffer overflowed, discarding event 0", "pool rec event buffer overflowed, discarding event 1"} {
			if !strings.Contains(log, want) {
				t.Errorf("%s's log does not say %q:\n%s", s.name, want, log)
			}
		}
	}
	if records[0] != "3 4 5" || records[1] != records[0] {
		t.Errorf("supervisord's listener got events %q, keeper's %q; want the newest three, 3 4 5", records[0], records[1])
	}
}

// memmonConf runs testdata/events/memmon.py, which restarts victim once at
// a TICK_5.
const memmonConf = `[unix_http_server]
file=@DIR@/s.sock

[supervisord]
logfile=@DIR@/main.log
pidfile=@DIR@/daemon.pid
childlogdir=@DIR@

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[eventlistener:memmon]
command=@PYTHON@ @MEMMON@ @DIR@/memmon.txt victim
events=TICK_5

[program:victim]
command=@DIR@/sleep 1000
startsecs=1
`

// TestEventListenerMemmon: a memmon-like listener restarts a program from
// a TICK_5 over the XML-RPC client childutils builds from its environment,
// under keeper as under supervisord.
func TestEventListenerMemmon(t *testing.T) {
	supervisord := peer.Need(t, "supervisord")
	python := peer.Need(t, "python3-supervisor")
	memmon, err := filepath.Abs("testdata/events/memmon.py")
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("@PYTHON@", python, "@MEMMON@", memmon).Replace(memmonConf)
	var records []string
	for _, argv := range [][]string{{supervisord, "-n", "-c"}, {keeperBin, "daemon", "-n", "-c"}} {
		dir := testDir(t)
		if err := os.Symlink(sleep, filepath.Join(dir, "sleep")); err != nil {
			t.Fatal(err)
		}
		s := &daemonSide{name: filepath.Base(argv[0]), dir: dir, conf: filepath.Join(dir, "sv.conf")}
		s.argv = append(argv, s.conf)
		s.writeConf(t, conf)
		s.start(t)
		record := filepath.Join(dir, "memmon.txt")
		waitFor(t, s.name+"'s memmon to restart victim", 30*time.Second, func() bool { return readFileOrEmpty(record) != "" })
		records = append(records, readFileOrEmpty(record))
	}
	want := "TICK_5 RUNNING pid changed -> RUNNING when\n"
	if records[0] != want || records[1] != want {
		t.Errorf("supervisord's memmon recorded %q, keeper's %q; want %q", records[0], records[1], want)
	}
}

// TestSessionEvents: a listener subscribed to KEEPER_SESSION hears a
// program's session created, attached, detached and ended, with the
// program, session name, socket and master pid; one subscribed only to
// PROCESS_STATE hears none of them.
func TestSessionEvents(t *testing.T) {
	t.Parallel()
	python := peer.Need(t, "python3-supervisor")
	recorder, err := filepath.Abs("testdata/events/recorder.py")
	if err != nil {
		t.Fatal(err)
	}
	k := newKeeperd(t, fmt.Sprintf(`
[eventlistener:sessions]
command=%[1]s %[2]s @DIR@/sessions.txt
events=KEEPER_SESSION

[eventlistener:states]
command=%[1]s %[2]s @DIR@/states.txt
events=PROCESS_STATE

[program:term]
command=/bin/sh -c '[ -e @DIR@/go ] || sleep 1000; %[3]s dtach -n @DIR@/t.sock /bin/sh; exec @DIR@/sleepy 1000'
startsecs=0
`, python, recorder, keeperBin))
	k.start()
	k.waitState("sessions:sessions", 10*time.Second, "RUNNING")
	if err := os.WriteFile(filepath.Join(k.dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k.mustCall("supervisor.stopProcess", "term")
	k.mustCall("supervisor.startProcess", "term")
	events := func() string { return readFileOrEmpty(filepath.Join(k.dir, "sessions.txt")) }
	waitFor(t, "KEEPER_SESSION_CREATED", 10*time.Second, func() bool {
		return strings.Contains(events(), "KEEPER_SESSION_CREATED")
	})
	c := startTerm(t, k.dir, nil, keeperBin, "attach", filepath.Join(k.dir, "t.sock"))
	waitFor(t, "KEEPER_SESSION_ATTACHED", 10*time.Second, func() bool {
		return strings.Contains(events(), "KEEPER_SESSION_ATTACHED")
	})
	c.send(detachKey)
	c.wait(5 * time.Second)
	waitFor(t, "KEEPER_SESSION_DETACHED", 10*time.Second, func() bool {
		return strings.Contains(events(), "KEEPER_SESSION_DETACHED")
	})
	runKeeper(t, k.dir, keeperBin, "-c", k.conf, "kill-sessions")
	waitFor(t, "KEEPER_SESSION_ENDED", 10*time.Second, func() bool {
		return strings.Contains(events(), "KEEPER_SESSION_ENDED")
	})
	var names []string
	for _, line := range strings.Split(events(), "\n") {
		if name, rest, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "KEEPER_SESSION_") {
			names = append(names, name)
			if !strings.Contains(rest, "program=term") || !strings.Contains(rest, "session=t.sock") || !strings.Contains(rest, "socket="+filepath.Join(k.dir, "t.sock")) {
				t.Errorf("event %q lacks the program, session or socket", line)
			}
		}
	}
	want := []string{"KEEPER_SESSION_CREATED", "KEEPER_SESSION_ATTACHED", "KEEPER_SESSION_DETACHED", "KEEPER_SESSION_ENDED"}
	if !slices.Equal(names, want) {
		t.Errorf("session events %v, want %v", names, want)
	}
	if strings.Contains(readFileOrEmpty(filepath.Join(k.dir, "states.txt")), "KEEPER_SESSION") {
		t.Error("a PROCESS_STATE listener got session events")
	}
}

// TestHealthcheckEvent: a listener subscribed to KEEPER_HEALTHCHECK_FAILED
// hears a program restarted for its failed health checks, with the reason.
func TestHealthcheckEvent(t *testing.T) {
	t.Parallel()
	python := peer.Need(t, "python3-supervisor")
	recorder, err := filepath.Abs("testdata/events/recorder.py")
	if err != nil {
		t.Fatal(err)
	}
	k := newKeeperd(t, fmt.Sprintf(`
[eventlistener:health]
command=%s %s @DIR@/health.txt
events=KEEPER_HEALTHCHECK_FAILED

[program:sick]
command=@DIR@/sleepy 1000
startsecs=0
healthcheck=exec:false
healthcheck_interval=1
healthcheck_retries=1
`, python, recorder))
	k.start()
	waitFor(t, "KEEPER_HEALTHCHECK_FAILED", 15*time.Second, func() bool {
		return strings.Contains(readFileOrEmpty(filepath.Join(k.dir, "health.txt")), "KEEPER_HEALTHCHECK_FAILED")
	})
	got := readFileOrEmpty(filepath.Join(k.dir, "health.txt"))
	if !strings.Contains(got, "processname=sick") || !strings.Contains(got, "1 failed health checks (exec:false)") {
		t.Errorf("the event lacks the program or the reason:\n%s", got)
	}
}
