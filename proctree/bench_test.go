package proctree

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// populate brings the process table to about total processes with sleeps
// in one process group under a shell, killed and reaped at cleanup.
func populate(b *testing.B, total int) {
	b.Helper()
	n := total - take(b).Len()
	if n <= 0 {
		return
	}
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt $0 ]; do sleep 1003 & i=$((i+1)); done; echo started; wait`, strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	start(b, cmd)
	pid := cmd.Process.Pid
	b.Cleanup(func() {
		s, _ := Take()
		unix.Kill(-pid, unix.SIGKILL)
		cmd.Wait()
		if s != nil {
			reap(b, pids(s.Descendants(pid)))
		}
	})
	buf := make([]byte, 8)
	if _, err := out.Read(buf); err != nil {
		b.Fatal(err)
	}
	eventually(b, "sleeps to start", func() bool { return len(take(b).Children(pid)) >= n })
}

func benchTake(b *testing.B, take func() (*Snapshot, error)) {
	b.ReportAllocs()
	var n int
	for b.Loop() {
		s, err := take()
		if err != nil {
			b.Fatal(err)
		}
		n = s.Len()
	}
	b.ReportMetric(float64(n), "procs")
}

func BenchmarkTake(b *testing.B) {
	b.Run("ambient", func(b *testing.B) { benchTake(b, Take) })
	b.Run("1000", func(b *testing.B) {
		populate(b, 1000)
		benchTake(b, Take)
	})
	// A Reader's snapshots, its files open from the first.
	reader := func(b *testing.B) {
		var r Reader
		defer r.Close()
		benchTake(b, r.Take)
	}
	b.Run("reader-ambient", reader)
	b.Run("reader-1000", func(b *testing.B) {
		populate(b, 1000)
		reader(b)
	})
}

func BenchmarkDescendants(b *testing.B) {
	s := take(b)
	b.ReportAllocs()
	for b.Loop() {
		s.Descendants(0)
	}
	b.ReportMetric(float64(s.Len()), "procs")
}

func BenchmarkUnixListeners(b *testing.B) {
	dir := b.TempDir()
	l := startHelper(b, "listen="+filepath.Join(dir, "l.sock"), nil)
	bench := func(b *testing.B, pids []int) {
		b.ReportAllocs()
		for b.Loop() {
			got, err := UnixListeners(pids)
			if err != nil {
				b.Fatal(err)
			}
			if len(got[l.Process.Pid]) != 1 && len(pids) > 1 {
				b.Fatalf("listener not found: %v", got)
			}
		}
		b.ReportMetric(float64(len(pids)), "pids")
	}
	b.Run("one", func(b *testing.B) { bench(b, []int{os.Getpid()}) })
	b.Run("children", func(b *testing.B) { bench(b, pids(take(b).Children(os.Getpid()))) })
	b.Run("all", func(b *testing.B) { bench(b, pids(take(b).Processes())) })
	b.Run("1000-all", func(b *testing.B) {
		populate(b, 1000)
		bench(b, pids(take(b).Processes()))
	})
}
