package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keeper/supervise/xmlrpc"
)

// TestCallWatched: a call to a daemon that accepts but never answers gives
// up with errNotAnswering; a call that takes longer than the timeout on a
// daemon that answers probes meanwhile goes on and succeeds.
func TestCallWatched(t *testing.T) {
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name     string
		serve    func(net.Listener)
		wantErr  error
		wantLong bool // the call outlives the timeout
	}{
		{
			name: "accepts, never answers",
			serve: func(l net.Listener) {
				var held []net.Conn
				for {
					c, err := l.Accept()
					if err != nil {
						for _, c := range held {
							c.Close()
						}
						return
					}
					held = append(held, c)
				}
			},
			wantErr: errNotAnswering,
		},
		{
			name: "busy with the call, answers probes",
			serve: func(l net.Listener) {
				http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					if !strings.Contains(string(body), "getVersion") {
						time.Sleep(3 * timeout)
					}
					io.WriteString(w, `<?xml version="1.0"?><methodResponse><params><param><value><string>3.0</string></value></param></params></methodResponse>`)
				}))
			},
			wantLong: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); tt.serve(l) }()
			defer func() { l.Close(); <-done }()

			client := xmlrpc.Dial(sock)
			defer client.Close()
			probe := func() *xmlrpc.Client { return xmlrpc.Dial(sock) }
			start := time.Now()
			v, err := callWatched(context.Background(), client, probe, timeout, "supervisor.stopProcess", "x")
			took := time.Since(start)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && v != "3.0") {
				t.Fatalf("callWatched = %v, %v; want error %v", v, err, tt.wantErr)
			}
			if tt.wantLong && took < 3*timeout {
				t.Errorf("the call returned after %v, before the server answered", took)
			}
			if err != nil && !strings.Contains(err.Error(), sock) {
				t.Errorf("error %q does not name the socket", err)
			}
		})
	}
}
