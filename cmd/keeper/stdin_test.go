package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSendStdinNeverBlocksDaemon: 100 KB sent to a program that does not
// read its stdin (more than a pipe holds) is accepted at once and leaves
// the daemon answering, stopping and starting; a program that reads gets
// every byte in order; past the bound the call fails instead of blocking.
func TestSendStdinNeverBlocksDaemon(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, `
[program:deaf]
command=@DIR@/sleepy 1000
startsecs=0

[program:reader]
command=/bin/sh -c 'exec cat > @DIR@/got'
startsecs=0
`)
	k.start()
	k.waitState("deaf", 10*time.Second, "RUNNING")
	k.waitState("reader", 10*time.Second, "RUNNING")

	big := strings.Repeat("0123456789abcdef", 100<<10/16)
	quick := func(what string, method string, args ...any) (any, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := k.client.Call(ctx, method, args...)
		if ctx.Err() != nil {
			t.Fatalf("%s: the daemon did not answer in 5s", what)
		}
		return v, err
	}
	for i := range 3 {
		if v, err := quick("send 100 KB to deaf", "supervisor.sendProcessStdin", "deaf", big); err != nil || v != true {
			t.Fatalf("send %d: %v, %v", i, v, err)
		}
	}
	if _, err := quick("getAllProcessInfo after the sends", "supervisor.getAllProcessInfo"); err != nil {
		t.Fatal(err)
	}
	var refused bool
	for range 20 {
		if _, err := quick("send past the bound", "supervisor.sendProcessStdin", "deaf", big); err != nil {
			if !strings.Contains(err.Error(), "read its stdin") {
				t.Fatalf("send past the bound: %v, want a fault saying the program does not read its stdin", err)
			}
			refused = true
			break
		}
	}
	if !refused {
		t.Error("2 MB queued for a program that never reads its stdin, want a refusal past the bound")
	}
	if _, err := quick("stop deaf", "supervisor.stopProcess", "deaf"); err != nil {
		t.Fatal(err)
	}
	if _, err := quick("start deaf", "supervisor.startProcess", "deaf"); err != nil {
		t.Fatal(err)
	}

	var want bytes.Buffer
	for i := range 40 {
		chunk := strings.Repeat(string(rune('a'+i%26)), 5000) + "\n"
		want.WriteString(chunk)
		if _, err := quick("send to reader", "supervisor.sendProcessStdin", "reader", chunk); err != nil {
			t.Fatal(err)
		}
	}
	got := filepath.Join(k.dir, "got")
	waitFor(t, "reader to write every byte it was sent", 10*time.Second, func() bool {
		b, _ := os.ReadFile(got)
		return len(b) >= want.Len()
	})
	if b, _ := os.ReadFile(got); !bytes.Equal(b, want.Bytes()) {
		t.Errorf("reader got %d bytes, not the %d sent in order", len(b), want.Len())
	}
}
