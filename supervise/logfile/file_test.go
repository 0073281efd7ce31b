package logfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"keeper/internal/peer"
)

// dirState maps each file name in dir to its content.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func writeAll(t *testing.T, f *File, chunks ...string) {
	t.Helper()
	for _, c := range chunks {
		n, err := f.Write([]byte(c))
		if err != nil || n != len(c) {
			t.Fatalf("write %q: %d, %v", c, n, err)
		}
	}
}

// rotationCases are write sequences with the files supervisord's
// RotatingFileHandler leaves behind (derived from doRollover: write, then
// roll over when the file is at maxBytes or more).
var rotationCases = []struct {
	name     string
	maxBytes int64
	backups  int
	chunks   []string
	want     map[string]string
}{
	{"under", 10, 3, []string{"abc", "def"}, map[string]string{"x.log": "abcdef"}},
	{"exactly max rotates", 10, 3, []string{"0123456789"},
		map[string]string{"x.log": "", "x.log.1": "0123456789"}},
	{"write never split", 10, 3, []string{"abcdefgh", "ijklmnop", "q"},
		map[string]string{"x.log": "q", "x.log.1": "abcdefghijklmnop"}},
	{"shift and drop oldest", 4, 2, []string{"aaaa", "bbbb", "cccc", "dd"},
		map[string]string{"x.log": "dd", "x.log.1": "cccc", "x.log.2": "bbbb"}},
	{"one backup", 4, 1, []string{"aaaa", "bbbb", "cc"},
		map[string]string{"x.log": "cc", "x.log.1": "bbbb"}},
	{"backups 0 truncates", 4, 0, []string{"aaaa", "bb", "cccc", "d"},
		map[string]string{"x.log": "d"}},
	{"negative backups like 0", 4, -1, []string{"aaaaa", "b"},
		map[string]string{"x.log": "b"}},
	{"maxBytes 0 never rotates", 0, 3, []string{strings.Repeat("z", 100), "y"},
		map[string]string{"x.log": strings.Repeat("z", 100) + "y"}},
	{"many rotations", 3, 5, []string{"111", "222", "333", "444", "555", "666", "777", "8"},
		map[string]string{"x.log": "8", "x.log.1": "777", "x.log.2": "666", "x.log.3": "555", "x.log.4": "444", "x.log.5": "333"}},
}

func TestRotation(t *testing.T) {
	for _, tc := range rotationCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := Open(filepath.Join(dir, "x.log"), tc.maxBytes, tc.backups)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			writeAll(t, f, tc.chunks...)
			if got := dirState(t, dir); !mapsEqual(got, tc.want) {
				t.Errorf("files\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// pyRotate feeds chunks (JSON argv[3]) through supervisord's own
// RotatingFileHandler (maxBytes argv[1], backups argv[2]) writing argv[4].
const pyRotate = `
import json, sys
from supervisor import loggers
maxbytes, backups, chunks, path = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
if maxbytes:
    h = loggers.RotatingFileHandler(path, 'ab', maxbytes, backups)
else:
    h = loggers.FileHandler(path)
h.setFormat('%(message)s')
for c in chunks:
    h.emit(loggers.LogRecord(loggers.LevelsByName.INFO, c.encode()))
h.close()
`

// TestRotationMatchesSupervisord runs the same writes through supervisord's
// handler and ours and compares the files left behind.
func TestRotationMatchesSupervisord(t *testing.T) {
	peer.Need(t, "python3-supervisor")
	for _, tc := range rotationCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pyDir, ourDir := t.TempDir(), t.TempDir()
			js, _ := json.Marshal(tc.chunks)
			runPython(t, pyRotate, fmt.Sprint(tc.maxBytes), fmt.Sprint(tc.backups), string(js), filepath.Join(pyDir, "x.log"))
			f, err := Open(filepath.Join(ourDir, "x.log"), tc.maxBytes, tc.backups)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			writeAll(t, f, tc.chunks...)
			py, ours := dirState(t, pyDir), dirState(t, ourDir)
			if !mapsEqual(py, ours) {
				t.Errorf("files\nsupervisord %q\n      keeper %q", py, ours)
			}
		})
	}
}

func TestOpenAppendsToExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	if err := os.WriteFile(path, []byte("12345678"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Path() != path {
		t.Errorf("Path() = %q", f.Path())
	}
	writeAll(t, f, "9", "0") // the existing bytes count toward maxBytes
	want := map[string]string{"x.log": "", "x.log.1": "1234567890"}
	if got := dirState(t, dir); !mapsEqual(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
}

// TestRotationAfterExternalTruncate: logrotate's copytruncate empties the file
// behind our back; the next rotation must count the file's real size.
func TestRotationAfterExternalTruncate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writeAll(t, f, "123456")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, "abcd") // 10 counted, 4 real: no rotation
	writeAll(t, f, "efghij")
	want := map[string]string{"x.log": "", "x.log.1": "abcdefghij"}
	if got := dirState(t, dir); !mapsEqual(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
}

func TestReopenAfterMove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writeAll(t, f, "before\n")
	if err := os.Rename(path, path+"-rotated"); err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, "still old\n") // until SIGUSR2, the moved file gets it
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, "after\n")
	want := map[string]string{"x.log-rotated": "before\nstill old\n", "x.log": "after\n"}
	if got := dirState(t, dir); !mapsEqual(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	// Reopen in place keeps appending.
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, "more\n")
	if b, _ := os.ReadFile(path); string(b) != "after\nmore\n" {
		t.Errorf("x.log = %q", b)
	}
}

func TestClear(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writeAll(t, f, "aaaa", "bb")
	old, err := os.Open(path) // holds the old inode: it cannot be reused
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := f.Clear(); err != nil {
		t.Fatal(err)
	}
	// As supervisord's handler.remove()+reopen(): a new empty file, backups kept.
	want := map[string]string{"x.log": "", "x.log.1": "aaaa"}
	if got := dirState(t, dir); !mapsEqual(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	before, err := old.Stat()
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) || before.Sys().(*syscall.Stat_t).Nlink != 0 {
		t.Error("Clear kept the same file; supervisord removes it and creates a new one")
	}
	writeAll(t, f, "cc")
	if b, _ := os.ReadFile(path); string(b) != "cc" {
		t.Errorf("after Clear and write: %q", b)
	}
	// Clear when the file is already gone.
	os.Remove(path)
	if err := f.Clear(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	f, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err = f.Write([]byte("x"))
	if !errors.Is(err, os.ErrClosed) || !strings.HasPrefix(err.Error(), "write log "+path) {
		t.Errorf("write after close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "x.log")
	_, err := Open(path, 0, 0)
	if !errors.Is(err, os.ErrNotExist) || err.Error() != "open log "+path+": no such file or directory" {
		t.Errorf("Open: %v", err)
	}
}

// TestRotationFailureKeepsLogging: when the backups cannot be renamed, the data
// still lands in the log, the error says so, and a later write rotates.
func TestRotationFailureKeepsLogging(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Non-empty directories as x.log.1 and x.log.2: rename fails (ENOTEMPTY).
	for _, d := range []string{path + ".1/d", path + ".2/d"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"aaaa", "b"} {
		n, err := f.Write([]byte(c))
		if n != len(c) || err == nil || !strings.HasPrefix(err.Error(), "rotate log "+path+": ") {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "aaaab" {
		t.Fatalf("x.log = %q", b)
	}
	os.RemoveAll(path + ".1")
	os.RemoveAll(path + ".2")
	writeAll(t, f, "c")
	want := map[string]string{"x.log": "", "x.log.1": "aaaabc"}
	if got := dirState(t, dir); !mapsEqual(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
}

// TestConcurrentWrites: records written at once from many goroutines, with
// rotations meanwhile, each land whole, exactly once.
func TestConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	f, err := Open(path, 512, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const writers, each = 8, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := fmt.Fprintf(f, "w%d r%d\n", w, i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	all := readAllBackups(t, path)
	lines := strings.Split(strings.TrimSuffix(string(all), "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	next := make([]int, writers)
	for _, l := range lines {
		var w, i int
		if _, err := fmt.Sscanf(l, "w%d r%d", &w, &i); err != nil || i != next[w] {
			t.Fatalf("line %q out of order or torn (want w%d r%d)", l, w, next[w])
		}
		next[w]++
	}
}

// readAllBackups concatenates path.N ... path.1 and path, oldest first.
func readAllBackups(t testing.TB, path string) []byte {
	t.Helper()
	var names []string
	for i := 1; ; i++ {
		name := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(name); err != nil {
			break
		}
		names = append(names, name)
	}
	slices.Reverse(names)
	names = append(names, path)
	var buf bytes.Buffer
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
	}
	return buf.Bytes()
}

// TestNotRegularNeverRotates: a FIFO (like /dev/stdout on a pipe) is written
// to but never renamed or removed, whatever maxBytes says.
func TestNotRegularNeverRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip(err)
	}
	r, err := os.OpenFile(path, os.O_RDWR, 0) // a reader, so opening for writing does not block
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := Open(path, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writeAll(t, f, "abcdef", "gh")
	if err := f.Clear(); err != nil {
		t.Fatal(err)
	}
	writeAll(t, f, "ij")
	buf := make([]byte, 100)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "abcdefghij" {
		t.Errorf("read %q, %v", buf[:n], err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v, %v", fi, err)
	}
	if _, err := os.Lstat(path + ".1"); err == nil {
		t.Error("fifo was rotated")
	}
}
