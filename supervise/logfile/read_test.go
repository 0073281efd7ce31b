package logfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keeper/internal/peer"
)

const digits = "0123456789" // the test file: 10 bytes

func digitsFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte(digits), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readCases follow supervisord's readFile on a 10-byte file "0123456789".
var readCases = []struct {
	offset, length int64
	want           string
	err            error
}{
	{0, 0, "0123456789", nil},
	{0, 3, "012", nil},
	{3, 0, "3456789", nil},
	{3, 4, "3456", nil},
	{8, 100, "89", nil},
	{10, 0, "", nil},
	{10, 5, "", nil},
	{50, 0, "", nil},
	{-3, 0, "789", nil},
	{-10, 0, "0123456789", nil},
	{-100, 0, "0123456789", nil},
	{-3, 2, "", ErrBadArguments},
	{-3, -2, "", ErrBadArguments},
	{0, -1, "", ErrBadArguments},
	{5, -5, "", ErrBadArguments},
}

func TestRead(t *testing.T) {
	path := digitsFile(t)
	for _, tc := range readCases {
		got, err := Read(path, tc.offset, tc.length)
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Read(%d, %d) error %v, want %v", tc.offset, tc.length, err, tc.err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("Read(%d, %d) = %q, want %q", tc.offset, tc.length, got, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "read log "+path+": bad arguments: ") {
			t.Errorf("error text %q", err)
		}
	}
}

func TestReadFailed(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.log")
	// supervisord opens the file first: a missing file is FAILED even with
	// bad arguments.
	for _, args := range [][2]int64{{0, 0}, {-3, 2}} {
		_, err := Read(missing, args[0], args[1])
		if !errors.Is(err, ErrFailed) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Read(missing, %v): %v", args, err)
		}
	}
	_, err := Read(missing, 0, 0)
	if want := "read log " + missing + ": failed: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if _, err := Read(dir, 0, 0); !errors.Is(err, ErrFailed) {
		t.Errorf("Read(directory): %v", err)
	}
}

// TestReadTailNotRegular: a log that is not a regular file (a FIFO here, as
// /dev/stdout is on a pipe) answers FAILED (ESPIPE, supervisord's "Illegal
// seek") at once; opening a FIFO without a writer would block forever.
func TestReadTailNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan [2]error, 1)
	go func() {
		_, err := Read(fifo, 0, 0)
		data, off, overflow, err2 := Tail(fifo, 7, 100)
		if data != nil || off != 7 || overflow {
			err2 = fmt.Errorf("Tail = %q, %d, %v, want nothing at offset 7: %w", data, off, overflow, err2)
		}
		done <- [2]error{err, err2}
	}()
	select {
	case errs := <-done:
		for i, err := range errs {
			if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ESPIPE) {
				t.Errorf("%s(fifo): %v, want failed with ESPIPE", []string{"Read", "Tail"}[i], err)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read/Tail of a FIFO without a writer blocked")
	}
}

// tailCases follow supervisord's tailFile on the 10-byte file "0123456789".
var tailCases = []struct {
	offset, length int64
	want           string
	newOffset      int64
	overflow       bool
}{
	{0, 100, "0123456789", 10, false},
	{0, 10, "0123456789", 10, false},
	{0, 4, "6789", 10, true},
	{5, 100, "0123456789", 10, false}, // offset = size-length, clamped to 0
	{5, 5, "56789", 10, false},
	{5, 2, "89", 10, true},
	{9, 1, "9", 10, false},
	{10, 100, "", 10, false},
	{20, 100, "", 10, false},
	{0, 0, "", 10, true},
	{-5, 3, "789", 10, true},
	{3, -2, "", 10, true},
	{-20, -20, "", 10, true},
}

func TestTail(t *testing.T) {
	path := digitsFile(t)
	for _, tc := range tailCases {
		got, off, over, err := Tail(path, tc.offset, tc.length)
		if err != nil || string(got) != tc.want || off != tc.newOffset || over != tc.overflow {
			t.Errorf("Tail(%d, %d) = %q, %d, %v, %v; want %q, %d, %v",
				tc.offset, tc.length, got, off, over, err, tc.want, tc.newOffset, tc.overflow)
		}
	}
	// An empty file.
	empty := filepath.Join(t.TempDir(), "empty.log")
	os.WriteFile(empty, nil, 0o644)
	if got, off, over, err := Tail(empty, 0, 1600); len(got) != 0 || off != 0 || over || err != nil {
		t.Errorf("Tail(empty) = %q, %d, %v, %v", got, off, over, err)
	}
	// A missing file: supervisord's answer plus an error to drop.
	missing := filepath.Join(t.TempDir(), "missing.log")
	got, off, over, err := Tail(missing, 7, 1600)
	if len(got) != 0 || off != 7 || over || !errors.Is(err, ErrFailed) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Tail(missing) = %q, %d, %v, %v", got, off, over, err)
	}
}

// pyReadTail prints, for each [offset, length] of argv[2] (JSON), what
// supervisord's readFile and tailFile return on the file argv[1].
const pyReadTail = `
import json, sys
from supervisor.options import readFile, tailFile
out = []
for off, ln in json.loads(sys.argv[2]):
    try:
        r = {"data": readFile(sys.argv[1], off, ln).decode("latin-1")}
    except ValueError as e:
        r = {"err": e.args[0]}
    d, o, ov = tailFile(sys.argv[1], off, ln)
    r["tail"] = [d, o, ov]
    out.append(r)
print(json.dumps(out))
`

// TestReadTailMatchSupervisord compares Read and Tail with supervisord's own
// readFile and tailFile over a grid of offsets and lengths and file sizes.
func TestReadTailMatchSupervisord(t *testing.T) {
	peer.Need(t, "python3-supervisor")
	var args [][2]int64
	vals := []int64{-1000, -11, -10, -9, -5, -1, 0, 1, 2, 5, 9, 10, 11, 100}
	for _, o := range vals {
		for _, l := range vals {
			args = append(args, [2]int64{o, l})
		}
	}
	js, _ := json.Marshal(args)
	dir := t.TempDir()
	for _, size := range []int{0, 1, 10, 37} {
		path := filepath.Join(dir, fmt.Sprintf("%d.log", size))
		content := strings.Repeat("abcdefghijklmnopqrstuvwxyz0123456789", 2)[:size]
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		var py []struct {
			Data *string
			Err  string
			Tail [3]any
		}
		if err := json.Unmarshal(runPython(t, pyReadTail, path, string(js)), &py); err != nil {
			t.Fatal(err)
		}
		for i, a := range args {
			data, err := Read(path, a[0], a[1])
			switch want := py[i]; {
			case want.Err == "BAD_ARGUMENTS":
				if !errors.Is(err, ErrBadArguments) {
					t.Errorf("size %d Read%v: %q, %v; supervisord BAD_ARGUMENTS", size, a, data, err)
				}
			case want.Err != "":
				t.Fatalf("supervisord: %s", want.Err)
			case err != nil || string(data) != *want.Data:
				t.Errorf("size %d Read%v = %q, %v; supervisord %q", size, a, data, err, *want.Data)
			}
			tdata, off, over, err := Tail(path, a[0], a[1])
			got := [3]any{string(tdata), float64(off), over}
			if err != nil || got != py[i].Tail {
				t.Errorf("size %d Tail%v = %v, %v; supervisord %v", size, a, got, err, py[i].Tail)
			}
		}
	}
}
