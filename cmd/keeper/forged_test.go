package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/detach"
	"keeper/internal/peer"
	"keeper/proctree"
)

// TestForgedSessionRecords: a user= program writes records into its own
// session directory: one naming a root process that has nothing to do with
// keeper as a master, one naming it as the pty program of a master that
// ended, a FIFO and a symlink to /dev/zero. keeper sessions lists none of
// them and answers at once, kill-sessions kills nothing, and the daemon logs
// what it dropped.
func TestForgedSessionRecords(t *testing.T) {
	t.Parallel()
	u := newTestUser(t)

	// The victim: root's, in a session of its own, no terminal, as a
	// master would be.
	victim := exec.Command("sleep", "1000")
	victim.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	ownChild(victim.Process.Pid, true)
	t.Cleanup(func() {
		victim.Process.Kill()
		victim.Wait()
		ownChild(victim.Process.Pid, false)
	})
	vp, err := proctree.Stat(victim.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// One names the victim as a master, one as the pty program of a
	// master that ended (no pid is ever noPid).
	const noPid = 1 << 22
	forged := filepath.Join(os.TempDir(), fmt.Sprintf("forged-%d", os.Getpid()))
	for file, r := range map[string]detach.Record{
		fmt.Sprintf("%d.session", vp.PID): {PID: vp.PID, StartTime: vp.StartTime},
		fmt.Sprintf("%d.session", noPid):  {PID: noPid, StartTime: 1, Child: vp.PID, ChildStart: vp.StartTime},
	} {
		r.Name, r.Socket, r.Program, r.Created, r.Maker = "x.sock", "/tmp/x.sock", "forger", time.Now(), "keeper"
		record, _ := json.Marshal(r)
		if err := os.MkdirAll(forged, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(forged, file), record, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(forged) })

	k := newKeeperd(t, fmt.Sprintf(`
[program:forger]
command=/bin/sh -c 'cp %s/* "$KEEPER_SESSION_DIR"; mkfifo "$KEEPER_SESSION_DIR/1.session"; ln -s /dev/zero "$KEEPER_SESSION_DIR/2.session"; touch "$KEEPER_SESSION_DIR/done"; exec sleep 1000'
user=%s
startsecs=0
`, forged, u.name))
	// The program's user must reach its session directory.
	if err := os.Chmod(k.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	k.start()
	dir := filepath.Join(filepath.Dir(k.pidfile), "keeper.state", "sessions", "forger")
	waitFor(t, "the forged records", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "done"))
		return err == nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := k.client.Call(ctx, "keeper.getSessions", []any{})
	if err != nil {
		t.Fatalf("keeper.getSessions with forged records: %v", err)
	}
	if a, _ := list.([]any); len(a) != 0 {
		t.Errorf("sessions listed from forged records: %v", list)
	}
	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "kill-sessions"); code != 0 {
		t.Errorf("kill-sessions: exit %d: %s", code, out)
	}
	if !processAlive(vp.PID) {
		t.Fatalf("root's process %d named by forged records was killed", vp.PID)
	}
	log := k.log()
	for _, want := range []string{
		fmt.Sprintf("%d.session (uid %d) dropped: pid %d runs as uid 0", vp.PID, u.uid, vp.PID),
		fmt.Sprintf("%d.session (uid %d) dropped: its master (pid %d) is gone", noPid, u.uid, noPid),
		"1.session: not a session record",
		"2.session: not a session record: not a plain file: a symlink is not followed",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
}

// TestPrecreatedStateDir: a state directory another user made (to have the
// daemon kill "a program left running" it names), or one anyone may write,
// makes the daemon refuse to start with what to do, and nothing is killed.
func TestPrecreatedStateDir(t *testing.T) {
	t.Parallel()
	u := newTestUser(t)
	victim := exec.Command("sleep", "1000")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	ownChild(victim.Process.Pid, true)
	t.Cleanup(func() {
		victim.Process.Kill()
		victim.Wait()
		ownChild(victim.Process.Pid, false)
	})
	vp, err := proctree.Stat(victim.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	const remove = "remove it"
	const move = "put the pidfile (the state directory lives beside it) under directories only root or the daemon's user can change"
	for _, tt := range []struct {
		name        string
		owner       int
		mode        os.FileMode
		parentOwner int // of the directory holding it (and the pidfile)
		want, fix   string
	}{
		{"another user's", int(u.uid), 0o700, 0, fmt.Sprintf("is owned by uid %d, not by the daemon's user", u.uid), remove},
		{"world-writable", 0, 0o777, 0, "is writable by group or others (mode 0777)", remove},
		// Its owner may swap the state directory for one of its own.
		{"in another user's directory", 0, 0o700, int(u.uid), fmt.Sprintf("is owned by uid %d, neither root nor the daemon's user", u.uid), move},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := newKeeperd(t, "[program:web]\ncommand=@DIR@/sleepy 1000\n")
			state := filepath.Join(k.dir, "keeper.state")
			programs := filepath.Join(state, "programs")
			if err := os.MkdirAll(programs, 0o700); err != nil {
				t.Fatal(err)
			}
			rec := filepath.Join(programs, "web.pid")
			if err := os.WriteFile(rec, []byte(fmt.Sprintf("%d %d\n", vp.PID, vp.StartTime)), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{rec, programs, state} {
				if err := os.Chown(p, tt.owner, tt.owner); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chown(k.dir, tt.parentOwner, -1); err != nil {
				t.Fatal(err)
			}
			out, code := runKeeper(t, k.dir, keeperBin, "daemon", "-n", "-c", k.conf)
			if code == 0 || !strings.Contains(out, tt.want) || !strings.Contains(out, tt.fix) {
				t.Errorf("daemon on a %s state directory: exit %d, %q; want a refusal with %q and what to do", tt.name, code, out, tt.want)
			}
			if !processAlive(vp.PID) {
				t.Fatalf("the daemon killed process %d named in a state directory it does not own", vp.PID)
			}
		})
	}
}

// TestNewlineSocketPath: a listening socket whose path holds a newline
// (which splits its line of /proc/net/unix) does not hide a real dtach
// master from discovery.
func TestNewlineSocketPath(t *testing.T) {
	t.Parallel()
	dtach := peer.Need(t, "dtach")
	k := newKeeperd(t, `
[program:term]
command=/bin/sh -c '`+dtach+` -n @DIR@/t.sock @DIR@/sleepy 1000; exec @DIR@/sleepy 1001'
startsecs=0
`)
	l, err := net.Listen("unix", filepath.Join(k.dir, "evil\nname"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	k.start()
	waitFor(t, "the dtach session listed", 10*time.Second, func() bool {
		out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "sessions", "--json")
		var list []sessionJSON
		return code == 0 && json.Unmarshal([]byte(out), &list) == nil && len(list) == 1 && list[0].Name == "t.sock"
	})
}

// TestPlantedSymlinks: in a directory anyone may write (as /tmp), a symlink
// another user planted at the pidfile's or a log's path is not followed by
// the daemon, and keeper dtach -A and -c refuse one at the socket's path.
func TestPlantedSymlinks(t *testing.T) {
	t.Parallel()
	u := newTestUser(t)
	k := newKeeperd(t, "")
	shared := filepath.Join(k.dir, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	// Not sticky: in a sticky directory the kernel's protected_symlinks
	// refuses such a symlink before keeper sees it.
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(k.dir, "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plant := func(name string) string {
		t.Helper()
		link := filepath.Join(shared, name)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(link, int(u.uid), int(u.gid)); err != nil {
			t.Fatal(err)
		}
		return link
	}
	for _, tt := range []struct{ name, pidfile, logfile, want string }{
		{"pidfile", plant("k.pid"), filepath.Join(k.dir, "p.log"), "is a symlink in a directory others can write"},
		{"logfile", filepath.Join(k.dir, "l.pid"), plant("k.log"), "a symlink in a directory others can write is not followed"},
	} {
		conf := filepath.Join(k.dir, tt.name+".conf")
		body := fmt.Sprintf("[unix_http_server]\nfile=%s/%s.sock\n[supervisord]\nlogfile=%s\npidfile=%s\n",
			k.dir, tt.name, tt.logfile, tt.pidfile)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := runKeeper(t, k.dir, keeperBin, "daemon", "-n", "-c", conf)
		if code == 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%s through a planted symlink: exit %d, %q; want a refusal with %q", tt.name, code, out, tt.want)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Errorf("the symlinks' target was written: %q", b)
	}

	for _, mode := range []string{"-A", "-c"} {
		link := plant("s" + mode)
		c := startTerm(t, k.dir, nil, keeperBin, "dtach", mode, link, "sh")
		c.expect("not followed", 5*time.Second)
		code, out := c.wait(5*time.Second), c.output()
		if code != 1 || !strings.Contains(out, fmt.Sprintf("a symlink owned by uid %d, not followed", u.uid)) {
			t.Errorf("keeper dtach %s on a planted symlink: exit %d, %q; want a refusal", mode, code, out)
		}
	}
}

// TestSpawnIntent: a daemon killed between a fork and the record of the
// pid leaves a record of intent (pid 0); the next daemon stops what carries
// the program's mark and started since, so the program never runs twice.
func TestSpawnIntent(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, "[program:web]\ncommand=@DIR@/sleepy 1000\nstartsecs=0\n")
	// What the dead daemon started of web: its mark, no record of its pid.
	orphan := exec.Command(filepath.Join(k.dir, "sleepy"), "999")
	orphan.Env = append(os.Environ(), detach.DaemonEnv+"="+k.sock, detach.ProgramEnv+"=web")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	ownChild(orphan.Process.Pid, true)
	exited := make(chan struct{})
	go func() { orphan.Wait(); close(exited) }()
	t.Cleanup(func() { orphan.Process.Kill(); <-exited; ownChild(orphan.Process.Pid, false) })
	op, err := proctree.Stat(orphan.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	programs := filepath.Join(k.dir, "keeper.state", "programs")
	if err := os.MkdirAll(programs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(programs, "web.pid"), []byte(fmt.Sprintf("0 %d\n", op.StartTime)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The mark, not a cgroup, must find it: it was never put in one.
	k.start("KEEPER_CGROUPS=off")
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("the instance a dead daemon started without recording its pid is still running:\n%s", k.log())
	}
	k.waitLog("it died while starting it", 5*time.Second)
	k.waitState("web", 5*time.Second, "RUNNING")
}

// TestForgedRecordOfAnotherProgram: two programs run as the same user; one
// copies a record of the other's real session master into its own session
// directory. The master passes every check but one: it was not started
// under the program whose directory holds the record. kill-sessions of the
// forger leaves it alone.
func TestForgedRecordOfAnotherProgram(t *testing.T) {
	t.Parallel()
	u := newTestUser(t)
	dtach := peer.Need(t, "dtach")
	k := newKeeperd(t, fmt.Sprintf(`
[program:owner]
command=%s -n @DIR@/home/o.sock @DIR@/sleepy 1000
user=%s
startsecs=0
autorestart=false

[program:forger]
command=/bin/sh -c 'cp @DIR@/forged/* "$KEEPER_SESSION_DIR"; touch "$KEEPER_SESSION_DIR/done"; exec sleep 1000'
user=%[2]s
startsecs=0
autostart=false
`, dtach, u.name))
	// The user reaches its session directories and writes its socket.
	for dir, owner := range map[string]uint32{k.dir: 0, filepath.Join(k.dir, "home"): u.uid} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, int(owner), -1); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	k.start()
	s := oneSession(t, k)
	master, err := proctree.Stat(s.PID)
	if err != nil {
		t.Fatal(err)
	}
	record, _ := json.Marshal(detach.Record{Name: s.Name, Socket: s.Socket, Program: "forger",
		PID: s.PID, StartTime: master.StartTime, Created: time.Now(), Maker: "dtach"})
	if err := os.MkdirAll(filepath.Join(k.dir, "forged"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k.dir, "forged", fmt.Sprintf("%d.session", s.PID)), record, 0o644); err != nil {
		t.Fatal(err)
	}
	k.mustCall("supervisor.startProcess", "forger", true)
	dir := filepath.Join(k.dir, "keeper.state", "sessions", "forger")
	waitFor(t, "the forged record", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "done"))
		return err == nil
	})

	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "kill-sessions", "forger"); code != 0 {
		t.Errorf("kill-sessions forger: exit %d: %s", code, out)
	}
	if !processAlive(s.PID) {
		t.Fatalf("kill-sessions forger killed the session master %d of program owner", s.PID)
	}
	k.waitLog(fmt.Sprintf("%d.session (uid %d) dropped: pid %d was not started under forger", s.PID, u.uid, s.PID), 5*time.Second)
}
