package proctree

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReader checks that a Reader's snapshots read processes as they are
// now through the files it keeps open, drop the files of processes that
// are gone, never read a reused pid's old process, and close every file.
func TestReader(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := fds()
	var r Reader
	take := func() *Snapshot {
		t.Helper()
		s, err := r.Take()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	cmd := startHelper(t, "", nil)
	pid := cmd.Process.Pid
	self := os.Getpid()
	if _, ok := take().Get(pid); !ok {
		t.Fatalf("helper %d not in the snapshot", pid)
	}
	if _, ok := r.files[pid]; !ok {
		t.Fatalf("no file kept open for %d", pid)
	}
	// The file kept open reads the process as it is now: renamed (only a
	// process's own name can be written), this one shows its new name.
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile("/proc/self/comm", comm, 0) })
	if err := os.WriteFile("/proc/self/comm", []byte("renamed"), 0); err != nil {
		t.Fatal(err)
	}
	if p, _ := take().Get(self); p.Comm != "renamed" {
		t.Errorf("this process after renaming: comm %q, want renamed", p.Comm)
	}

	// A reaped process leaves the snapshot and its file is closed.
	cmd.Process.Kill()
	cmd.Wait()
	if _, ok := take().Get(pid); ok {
		t.Errorf("reaped helper %d still in the snapshot", pid)
	}
	if _, ok := r.files[pid]; ok {
		t.Errorf("file of reaped helper %d still open", pid)
	}

	// A pid reused: the file kept open reads the reaped process (it
	// reads nothing), so the pid is read again by path. Simulated with
	// this process's pid and a reaped process's file.
	dead := exec.Command("true")
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open("/proc/"+itoa(dead.Process.Pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	dead.Wait()
	unix.Close(r.files[self].fd)
	r.files[self] = statFile{fd: fd, seen: r.gen}
	want, err := Stat(self)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := take().Get(self); !ok || p.StartTime != want.StartTime || p.Comm != want.Comm {
		t.Errorf("self through a reaped process's file: %+v, %v; want %+v", p, ok, want)
	}

	r.Close()
	if n := fds(); n != before {
		t.Errorf("%d descriptors open after Close, want %d as before", n, before)
	}
	if _, err := r.Take(); err != nil || len(r.files) != 0 {
		t.Errorf("Take after Close: %v, %d files kept", err, len(r.files))
	}
}

// TestReaderMax checks that a Reader keeps no more files than its bound
// and still reads every process.
func TestReaderMax(t *testing.T) {
	r := Reader{max: 2, files: map[int]statFile{}}
	defer r.Close()
	s, err := r.Take()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.files) != 2 {
		t.Errorf("%d files kept, want 2", len(r.files))
	}
	if plain := take(t); s.Len() < plain.Len()/2 {
		t.Errorf("%d processes read, want about %d", s.Len(), plain.Len())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestReadPIDs lists a directory of pid-like names through a buffer that
// takes a few entries a call.
func TestReadPIDs(t *testing.T) {
	dir := t.TempDir()
	names := []string{"1", "42", "4194304", "self", "x1", "1x", "0", "99999999999999999999"}
	for _, name := range names {
		if err := os.WriteFile(dir+"/"+name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var got []int
	if err := readPIDs(fd, make([]byte, 96), func(pid int) { got = append(got, pid) }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []int{1, 42, 4194304}; !slices.Equal(got, want) {
		t.Errorf("readPIDs = %v, want %v", got, want)
	}
}
