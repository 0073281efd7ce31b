package detach

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSignalBeforeServe: a SIGTERM that reaches a master after it started
// but before Serve runs (its caller, keeper dtach -n, has already returned)
// is caught, not the death that leaves the socket behind: Serve acts on
// it and removes the socket. Before the fix, the signal killed the test.
func TestSignalBeforeServe(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	m, err := StartMaster(MasterOptions{Socket: sock, Argv: []string{"/bin/sleep", "30"}, Progname: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(m.Pid(), syscall.SIGKILL)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	served := make(chan int, 1)
	go func() { served <- m.Serve() }()
	select {
	case code := <-served:
		if code != 1 {
			t.Errorf("Serve returned %d, want 1 (killed)", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10s after a SIGTERM")
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket is still there after SIGTERM: %v", err)
	}
}
