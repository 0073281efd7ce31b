package http1

import (
	"context"
	"net"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// failingListener fails its first n accepts with err, as accept(2) does
// when the process is out of descriptors, then accepts as l does.
type failingListener struct {
	net.Listener
	n   *atomic.Int32
	err error
}

func (l failingListener) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: l.err}
	}
	return l.Listener.Accept()
}

// TestAcceptRetriesTemporaryErrors: a run of EMFILE, ENFILE, ECONNABORTED
// or ENOBUFS from accept is waited out, logged once, and the socket serves
// again (it used to end Serve for good).
func TestAcceptRetriesTemporaryErrors(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS} {
		t.Run(errno.Error(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			var fails, logged atomic.Int32
			fails.Store(4)
			s := &Server{Handler: echo(), LogAcceptError: func(error) { logged.Add(1) }}
			served := make(chan error, 1)
			go func() { served <- s.Serve(failingListener{l, &fails, errno}) }()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				s.Shutdown(ctx)
				<-served
			})
			cl := client(path)
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := cl.Do(ctx, "POST", "/RPC2", nil, []byte("hi"))
			if err != nil {
				select {
				case err := <-served:
					t.Fatalf("Serve ended after %v: %v", errno, err)
				default:
				}
				t.Fatal(err)
			}
			if resp.Status != 200 {
				t.Fatalf("status %d after %v", resp.Status, errno)
			}
			if n := logged.Load(); n != 1 {
				t.Errorf("4 accept errors in a row logged %d times, want once", n)
			}
		})
	}
}
