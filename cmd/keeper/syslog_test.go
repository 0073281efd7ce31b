package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"keeper/supervise"
)

// TestSyslog: stdout_syslog, stderr_logfile=syslog and [supervisord]
// logfile=syslog send lines to the syslog socket tagged as supervisord tags
// them; an unreachable syslog is logged once and the file log loses nothing.
func TestSyslog(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:talker]
command=/bin/sh -c 'echo out-one; echo out-two; echo err-one >&2; exec @DIR@/sleepy 1000'
stdout_syslog=true
stdout_logfile=@DIR@/talker.out
stderr_logfile=syslog
startsecs=0
`)
	// logfile=syslog: keeper logs to syslog and to keeper.log beside the
	// config, the file k.log reads.
	conf, err := os.ReadFile(k.conf)
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(strings.Replace(string(conf), "logfile="+k.dir+"/keeper.log", "logfile=syslog", 1))
	if err := os.WriteFile(k.conf, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(k.dir, "syslog.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	k.start(supervise.SyslogSocketEnv + "=" + sock)
	has := func(want string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			if strings.Contains(m, want) {
				return true
			}
		}
		return false
	}
	for _, want := range []string{"supervisord[", ": talker out-one", ": talker out-two", ": talker err-one", "spawned: 'talker'"} {
		waitFor(t, "syslog to get "+want, 10*time.Second, func() bool { return has(want) })
	}
	if b, _ := os.ReadFile(filepath.Join(k.dir, "talker.out")); string(b) != "out-one\nout-two\n" {
		t.Errorf("the file log beside syslog: %q", b)
	}

	// Syslog unreachable: said once, the file log complete.
	down := newKeeperd(t, `
[program:a]
command=/bin/sh -c 'echo a-one; echo a-two; exec @DIR@/sleepy 1000'
stdout_syslog=true
stdout_logfile=@DIR@/a.out
startsecs=0

[program:b]
command=/bin/sh -c 'echo b-one; exec @DIR@/sleepy 1000'
stdout_syslog=true
startsecs=0
`)
	down.start(supervise.SyslogSocketEnv + "=" + filepath.Join(down.dir, "nobody-listens"))
	waitFor(t, "a's file log", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(down.dir, "a.out"))
		return string(b) == "a-one\na-two\n"
	})
	down.waitLog("syslog unreachable", 5*time.Second)
	if n := len(down.logLines("syslog unreachable")); n != 1 {
		t.Errorf("syslog unreachable logged %d times, want once", n)
	}
}
