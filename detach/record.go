package detach

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Environment a supervising daemon gives its programs. A keeper master
// started under such a program records itself in SessionDirEnv, naming the
// program from ProgramEnv, so the daemon tracks it with no process scan.
const (
	SessionDirEnv = "KEEPER_SESSION_DIR"
	ProgramEnv    = "KEEPER_PROGRAM"
	DaemonEnv     = "KEEPER_DAEMON" // the daemon's control socket: marks its descendants
)

// Record describes one session in a session directory: one JSON file per
// master, named after its pid. Identity is the master's pid and start time
// (clock ticks since boot, as in /proc/PID/stat), never the pid alone.
type Record struct {
	Name      string    `json:"name"` // the socket's file name
	Socket    string    `json:"socket"`
	Program   string    `json:"program"` // namespec of the program it belongs to
	PID       int       `json:"pid"`
	StartTime uint64    `json:"start_time"`
	Created   time.Time `json:"created"`
	Maker     string    `json:"maker"` // "keeper" or "dtach"
	// The program on the session's pty, as it was started.
	Child      int    `json:"child_pid,omitempty"`
	ChildStart uint64 `json:"child_start_time,omitempty"`
	Command    string `json:"command,omitempty"`
}

// RecordPath is where dir holds the record of the master pid.
func RecordPath(dir string, pid int) string {
	return filepath.Join(dir, strconv.Itoa(pid)+".session")
}

// WriteRecord stores r in dir atomically (a reader never sees half a file),
// replacing the master's earlier record.
func WriteRecord(dir string, r Record) error { return writeRecord(dir, r, true) }

// AddRecord stores r in dir unless the master already has a record (one
// it wrote itself wins over one found by a scan); it reports whether r was
// stored.
func AddRecord(dir string, r Record) (bool, error) {
	err := writeRecord(dir, r, false)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// json encodes r as encoding/json would from its field tags.
func (r Record) json() []byte {
	var o jsonObject
	o.str("name", r.Name)
	o.str("socket", r.Socket)
	o.str("program", r.Program)
	o.int("pid", int64(r.PID))
	o.uint("start_time", r.StartTime)
	o.time("created", r.Created)
	o.str("maker", r.Maker)
	if r.Child != 0 {
		o.int("child_pid", int64(r.Child))
	}
	if r.ChildStart != 0 {
		o.uint("child_start_time", r.ChildStart)
	}
	if r.Command != "" {
		o.str("command", r.Command)
	}
	return o.bytes()
}

func writeRecord(dir string, r Record, replace bool) error {
	b := r.json()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return wrap("write session record", err)
	}
	tmp, err := os.CreateTemp(dir, ".record-*")
	if err != nil {
		return wrap("write session record", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return wrap("write session record "+tmp.Name(), errors.Join(werr, cerr))
	}
	defer os.Remove(tmp.Name())
	if replace {
		err = os.Rename(tmp.Name(), RecordPath(dir, r.PID))
	} else {
		// A link never replaces an existing file: no record is lost
		// to a writer that came second.
		err = os.Link(tmp.Name(), RecordPath(dir, r.PID))
	}
	if err != nil {
		return wrap("write session record", err)
	}
	return nil
}

// RemoveRecord deletes the record of the master pid, if any.
func RemoveRecord(dir string, pid int) {
	os.Remove(RecordPath(dir, pid))
}

// ReadRecords returns every record in dir; unreadable files are skipped.
// A missing directory holds no records.
func ReadRecords(dir string) ([]Record, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session directory: %w", err)
	}
	var out []Record
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".session") {
			continue
		}
		if r, _, err := ReadRecordFile(filepath.Join(dir, e.Name())); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// MaxRecordBytes bounds a record file: records are a few hundred bytes.
const MaxRecordBytes = 64 << 10

// ErrBadRecord is wrapped by ReadRecordFile's errors for a file that is not
// a record: not a regular file, too large, or not a record's JSON.
var ErrBadRecord = errors.New("not a session record")

// ErrNotPlainFile is wrapped by ReadPlainFile's errors for a symlink, a
// FIFO, a device or a directory, or a file over the limit.
var ErrNotPlainFile = errors.New("not a plain file")

// ReadPlainFile reads a small file that others may have planted: without
// following a symlink or blocking on a FIFO (O_NOFOLLOW|O_NONBLOCK), and
// only when it is a regular file of at most limit bytes. It returns the
// file's owner too, when it got that far.
func ReadPlainFile(path string, limit int64) (data []byte, owner uint32, err error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, 0, fmt.Errorf("%w: a symlink is not followed", ErrNotPlainFile)
	}
	if err != nil {
		return nil, 0, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > limit {
		return nil, st.Uid, fmt.Errorf("%w: a regular file of at most %d bytes is", ErrNotPlainFile, limit)
	}
	data, err = io.ReadAll(io.LimitReader(f, limit+1))
	return data, st.Uid, err
}

// ReadRecordFile reads one record and the uid that owns its file. Records
// live in directories programs' users may write: see ReadPlainFile.
func ReadRecordFile(path string) (r Record, owner uint32, err error) {
	b, owner, err := ReadPlainFile(path, MaxRecordBytes)
	if errors.Is(err, ErrNotPlainFile) {
		return Record{}, owner, fmt.Errorf("read session record %s: %w: %w", path, ErrBadRecord, err)
	}
	if err != nil {
		return Record{}, owner, fmt.Errorf("read session record %s: %w", path, err)
	}
	if json.Unmarshal(b, &r) != nil || r.PID <= 0 {
		return Record{}, owner, fmt.Errorf("read session record %s: %w", path, ErrBadRecord)
	}
	return r, owner, nil
}

// startTime reads a process's start time from /proc/PID/stat ("self"
// for this process).
func startTime(pid string) (uint64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	fields := strings.Fields(s[i+1:])
	// Field 22 of stat is starttime; fields here start at field 3.
	if i < 0 || len(fields) < 20 {
		return 0, errors.New("read /proc/" + pid + "/stat: short line")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// announce records this master in the session directory its environment
// names, if any, and returns a function that removes the record.
func (m *Master) announce() func() {
	dir := os.Getenv(SessionDirEnv)
	if dir == "" {
		return func() {}
	}
	start, err := startTime("self")
	if err != nil {
		return func() {}
	}
	sock, err := filepath.Abs(m.opts.Socket)
	if err != nil {
		sock = m.opts.Socket
	}
	r := Record{
		Name:      filepath.Base(sock),
		Socket:    sock,
		Program:   os.Getenv(ProgramEnv),
		PID:       os.Getpid(),
		StartTime: start,
		Created:   time.Now(),
		Maker:     "keeper",
		Child:     m.Pid(),
		Command:   strings.Join(m.opts.Argv, " "),
	}
	r.ChildStart, _ = startTime(strconv.Itoa(r.Child))
	if WriteRecord(dir, r) != nil {
		return func() {}
	}
	return func() { RemoveRecord(dir, r.PID) }
}
