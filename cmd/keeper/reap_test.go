package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
)

// reapConf runs a program that leaves one session, made by keeper or by
// Debian's dtach (MAKER), whose pty program ignores SIGHUP and SIGTERM.
const reapConf = `
[program:term]
command=/bin/sh -c 'MAKER -n @DIR@/t.sock /bin/sh -c "trap \"\" HUP TERM; exec @DIR@/sleepy 1000"; exec @DIR@/sleepy 1001'
startsecs=0
`

func oneSession(t *testing.T, k *keeperd) sessionJSON {
	t.Helper()
	var list []sessionJSON
	waitFor(t, "the session listed with its pty program", 10*time.Second, func() bool {
		out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "sessions", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &list) == nil && len(list) == 1 && list[0].ChildPID != 0
	})
	return list[0]
}

// TestReapStoppedMaster: kill-sessions of a master stopped with SIGSTOP
// kills it and removes its socket, so the name can be used again.
func TestReapStoppedMaster(t *testing.T) {
	t.Parallel()
	for _, maker := range []string{"keeper", "dtach"} {
		t.Run(maker, func(t *testing.T) {
			t.Parallel()
			bin := keeperBin + " dtach"
			if maker == "dtach" {
				bin = peer.Need(t, "dtach")
			}
			k := newKeeperd(t, reapConfFor(bin))
			k.start()
			s := oneSession(t, k)
			if err := syscall.Kill(s.PID, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "kill-sessions"); code != 0 {
				t.Fatalf("kill-sessions: exit %d: %s", code, out)
			}
			for _, pid := range []int{s.PID, s.ChildPID} {
				if processAlive(pid) {
					t.Errorf("pid %d of the session is still alive after kill-sessions", pid)
				}
			}
			if _, err := os.Lstat(filepath.Join(k.dir, "t.sock")); !os.IsNotExist(err) {
				t.Errorf("the socket of a reaped session is still there: %v", err)
			}
		})
	}
}

// TestReapOrphanedPtyProgram: a pty program that ignores SIGHUP outlives a
// kill -9 of its master; the daemon does not lose it: the next listing, or
// shutdown --kill-sessions before the daemon exits, reaps what is left of
// the session.
func TestReapOrphanedPtyProgram(t *testing.T) {
	t.Parallel()
	for _, maker := range []string{"keeper", "dtach"} {
		for _, by := range []string{"sessions", "shutdown"} {
			t.Run(maker+"/"+by, func(t *testing.T) {
				t.Parallel()
				bin := keeperBin + " dtach"
				if maker == "dtach" {
					bin = peer.Need(t, "dtach")
				}
				k := newKeeperd(t, reapConfFor(bin))
				k.start()
				s := oneSession(t, k)
				if err := syscall.Kill(s.PID, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				if by == "shutdown" {
					if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "shutdown", "--kill-sessions"); code != 0 {
						t.Fatalf("shutdown --kill-sessions: exit %d: %s", code, out)
					}
					select {
					case <-k.exited:
					case <-time.After(20 * time.Second):
						t.Fatal("the daemon did not exit after shutdown --kill-sessions")
					}
					if processAlive(s.ChildPID) {
						t.Fatalf("pty program %d of a session whose master was killed survived shutdown --kill-sessions; log:\n%s", s.ChildPID, k.log())
					}
				} else {
					waitFor(t, "the orphaned pty program reaped", 10*time.Second, func() bool {
						runKeeper(t, k.dir, keeperBin, "-c", k.conf, "sessions")
						return !processAlive(s.ChildPID)
					})
					k.waitLog("outlived its master", 5*time.Second)
				}
			})
		}
	}
}

func reapConfFor(maker string) string { return strings.ReplaceAll(reapConf, "MAKER", maker) }

// TestSessionEndedWhileNoDaemonRan: a session master killed while no daemon
// ran leaves its socket behind, and its pty program (it ignores SIGHUP);
// the next daemon drops the record, removes the socket, which the
// program's user owns, and kills the pty program, the program's own.
func TestSessionEndedWhileNoDaemonRan(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, reapConfFor(keeperBin+" dtach"))
	k.start()
	s := oneSession(t, k)
	if out, code := runKeeper(t, k.dir, keeperBin, "-c", k.conf, "shutdown"); code != 0 {
		t.Fatalf("shutdown: exit %d: %s", code, out)
	}
	select {
	case <-k.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not exit after shutdown")
	}
	if err := syscall.Kill(s.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the master gone", 10*time.Second, func() bool { return !processAlive(s.PID) })
	if _, err := os.Lstat(s.Socket); err != nil {
		t.Fatalf("the killed master's socket is not there to be found stale: %v", err)
	}
	// The program would make its session again on the same path.
	// The program would make its session again on the same path.
	if b, err := os.ReadFile(filepath.Join(k.dir, "keeper.state", "sessions", "term", fmt.Sprintf("%d.session", s.PID))); true {
		t.Logf("record: %s %v", b, err)
	}
	k2 := k.again()
	k2.writeConf(k.body + "autostart=false\n")
	k2.start()
	waitFor(t, "the stale socket removed", 10*time.Second, func() bool {
		runKeeper(t, k2.dir, keeperBin, "-c", k2.conf, "sessions")
		_, err := os.Lstat(s.Socket)
		return os.IsNotExist(err)
	})
	waitForLog(t, k2, "the orphaned pty program killed", 10*time.Second, func() bool { return !processAlive(s.ChildPID) })
}
