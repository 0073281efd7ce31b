package logfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// captureChild runs argv with its stdout on a pipe captured into f, the way
// the daemon wires a program, and waits for it.
func captureChild(t testing.TB, f io.Writer, argv ...string) int64 {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		t.Fatal(err)
	}
	pw.Close()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := Capture(pr, f)
		done <- result{n, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("capture did not finish")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if res.err != nil {
		t.Fatalf("Capture: %v", res.err)
	}
	return res.n
}

// TestCaptureFastWriter: a child writing lines as fast as it can, into a log
// rotated many times meanwhile; backups+current hold every line once, in order.
func TestCaptureFastWriter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		argv  []string
		first int
		count int
	}{
		{"sh loop", []string{"sh", "-c", `i=0; while [ $i -lt 200000 ]; do echo "line $i"; i=$((i+1)); done`}, 0, 200000},
		{"seq", []string{"seq", "1", "1000000"}, 1, 1000000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.argv[0]); err != nil {
				t.Skip(err)
			}
			path := filepath.Join(t.TempDir(), "x.log")
			const maxBytes = 32 << 10
			f, err := Open(path, maxBytes, 2000)
			if err != nil {
				t.Fatal(err)
			}
			n := captureChild(t, f, tc.argv...)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			all := readAllBackups(t, path)
			if int64(len(all)) != n {
				t.Fatalf("files hold %d bytes, Capture read %d", len(all), n)
			}
			if _, err := os.Stat(path + ".20"); err != nil {
				t.Fatalf("expected many rotations: %v", err)
			}
			sc := bufio.NewScanner(bytes.NewReader(all))
			want := tc.first
			for sc.Scan() {
				line := sc.Text()
				if tc.name == "sh loop" {
					line = line[len("line "):]
				}
				if got, err := strconv.Atoi(line); err != nil || got != want {
					t.Fatalf("line %q, want %d", sc.Text(), want)
				}
				want++
			}
			if want != tc.first+tc.count {
				t.Fatalf("last line %d, want %d", want-1, tc.first+tc.count-1)
			}
		})
	}
}

// failingWriter fails every write.
type failingWriter struct{ calls int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.calls++
	return 0, errors.New("write log /x.log: no space left on device")
}

// TestCaptureDrainsOnWriteError: a log that cannot be written must not block
// the program: the pipe is drained to EOF and the first error returned.
func TestCaptureDrainsOnWriteError(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command("seq", "1", "200000")
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	w := &failingWriter{}
	n, err := Capture(pr, w)
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("child: %v", werr)
	}
	if err == nil || err.Error() != "write log /x.log: no space left on device" || w.calls == 0 {
		t.Errorf("Capture error %v after %d writes", err, w.calls)
	}
	if want := int64(len(seqOutput(200000))); n != want {
		t.Errorf("Capture read %d bytes, want %d", n, want)
	}
}

func seqOutput(n int) []byte {
	var b []byte
	for i := 1; i <= n; i++ {
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, '\n')
	}
	return b
}

// BenchmarkCapture measures bytes per second through Capture from a pipe into
// a File rotating every 1 MiB.
func BenchmarkCapture(b *testing.B) {
	path := filepath.Join(b.TempDir(), "x.log")
	f, err := Open(path, 1<<20, 3)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte(fmt.Sprintf("%-79s\n", "a log line of eighty bytes")), 4<<10/80) // ~4 KiB writes
	const perOp = 64 << 20
	b.SetBytes(perOp)
	b.ResetTimer()
	for b.Loop() {
		pr, pw, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for left := perOp; left > 0; {
				n, _ := pw.Write(chunk[:min(len(chunk), left)])
				left -= n
			}
			pw.Close()
		}()
		if n, err := Capture(pr, f); err != nil || n != perOp {
			b.Fatalf("Capture = %d, %v", n, err)
		}
		pr.Close()
	}
}
