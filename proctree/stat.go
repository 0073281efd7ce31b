package proctree

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoProcess reports that a process does not exist (any more), or that its
// pid now belongs to a process with another start time.
var ErrNoProcess = errors.New("no such process")

// ClockTicks is the unit of [Process.StartTime] and [Identity.StartTime] in
// ticks per second: USER_HZ, which Linux fixes at 100 for user space on
// every current architecture (it is what sysconf(_SC_CLK_TCK) returns).
const ClockTicks = 100

// errMalformed is wrapped by errors about a /proc file we could not parse.
var errMalformed = errors.New("malformed")

// parseStat parses the contents of /proc/PID/stat. The comm field is
// delimited by the first '(' and the LAST ')', because comm itself may
// contain spaces and parentheses (a process can name itself "a) (b").
func parseStat(b []byte) (Process, error) {
	var p Process
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return p, fmt.Errorf("%w: no (comm)", errMalformed)
	}
	pid, ok := atoi(bytes.TrimRight(b[:open], " "))
	if !ok {
		return p, fmt.Errorf("%w: pid %q", errMalformed, b[:open])
	}
	p.PID = int(pid)
	p.Comm = string(b[open+1 : end])

	// Fields after comm, numbered as in proc(5): 3 state, 4 ppid, 5 pgrp,
	// 6 session, 7 tty_nr, 8 tpgid, ..., 20 num_threads, ..., 22 starttime.
	rest := b[end+1:]
	field := 2
	for field < 24 {
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		if len(rest) == 0 || rest[0] == '\n' {
			if field >= 22 {
				break // utime and the rest are read when there
			}
			return p, fmt.Errorf("%w: %d fields, want at least 22", errMalformed, field)
		}
		n := bytes.IndexAny(rest, " \n")
		if n < 0 {
			n = len(rest)
		}
		tok := rest[:n]
		rest = rest[n:]
		field++
		if field == 3 {
			if len(tok) != 1 {
				return p, fmt.Errorf("%w: state %q", errMalformed, tok)
			}
			p.State = tok[0]
			continue
		}
		var dst *int
		switch field {
		case 4:
			dst = &p.PPID
		case 5:
			dst = &p.PGID
		case 6:
			dst = &p.SID
		case 7:
			dst = &p.TTYNr
		case 8:
			dst = &p.TPGID
		case 20:
			dst = &p.Threads
		case 14, 15, 22, 24:
			v, ok := atou(tok)
			if !ok {
				return p, fmt.Errorf("%w: field %d %q", errMalformed, field, tok)
			}
			switch field {
			case 14:
				p.UTime = v
			case 15:
				p.STime = v
			case 22:
				p.StartTime = v
			default:
				p.RSSPages = v
			}
			continue
		default:
			continue
		}
		v, ok := atoi(tok)
		if !ok {
			return p, fmt.Errorf("%w: field %d %q", errMalformed, field, tok)
		}
		*dst = int(v)
	}
	return p, nil
}

// atoi parses a signed decimal integer without allocating.
func atoi(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	u, ok := atou(b)
	if !ok || u > 1<<63 || (!neg && u == 1<<63) {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// atou parses an unsigned decimal integer without allocating.
func atou(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// gone reports whether err from reading a /proc/PID file means the process
// went away (or is hidden from us, as with hidepid=).
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EACCES)
}

// readLineAt reads the whole file at path (relative to dirfd) into buf, growing
// it if needed, with bare system calls: os.Open would also try to register
// the descriptor with the poller, which costs a system call per file. A
// read that ends in a newline without filling buf is taken as the whole
// file, saving the read that returns end of file: right for one-line
// seq_files such as /proc/PID/stat, which a read hands over whole.
func readLineAt(dirfd int, path string, buf []byte) ([]byte, error) {
	fd, err := openAt(dirfd, path)
	if err != nil {
		return buf[:0], err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf)+512)...)
		}
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf[:0], err
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
		if n < len(buf) && buf[n-1] == '\n' {
			return buf[:n], nil
		}
	}
}

// openAt opens path, relative to dirfd, for reading, with a bare system
// call (see readLineAt).
func openAt(dirfd int, path string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// preadAll reads the whole of an open one-line seq_file from its start
// into buf, growing it if needed: a read that leaves room in buf has
// read it all.
func preadAll(fd int, buf []byte) ([]byte, error) {
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf[:0], err
		}
		if n < len(buf) {
			return buf[:n], nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// readStat reads and parses /proc/PID/stat once.
func readStat(pid int) (Process, error) {
	var arr [512]byte
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := readLineAt(unix.AT_FDCWD, path, arr[:])
	if err == nil && len(b) == 0 {
		err = unix.ESRCH
	}
	if err != nil {
		if gone(err) {
			err = ErrNoProcess
		}
		return Process{}, fmt.Errorf("read %s: %w", path, err)
	}
	p, err := parseStat(b)
	if err != nil {
		return Process{}, fmt.Errorf("parse %s: %w", path, err)
	}
	return p, nil
}

var bootTime struct {
	once sync.Once
	t    time.Time
	err  error
}

// BootTime returns the time the system booted, from the btime line of
// /proc/stat (whole seconds), read once per process.
func BootTime() (time.Time, error) {
	bootTime.once.Do(func() {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			bootTime.err = fmt.Errorf("read boot time: %w", err)
			return
		}
		for line := range bytes.SplitSeq(b, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
				if s, ok := atou(bytes.TrimSpace(v)); ok {
					bootTime.t = time.Unix(int64(s), 0)
					return
				}
			}
		}
		bootTime.err = fmt.Errorf("read boot time: %w: no btime in /proc/stat", errMalformed)
	})
	return bootTime.t, bootTime.err
}

// startedAt converts start ticks since boot to wall-clock time; the zero
// time if the boot time is unknown.
func startedAt(ticks uint64) time.Time {
	bt, err := BootTime()
	if err != nil {
		return time.Time{}
	}
	return bt.Add(time.Duration(ticks) * (time.Second / ClockTicks))
}

// Memory is what a process's /proc/PID/smaps_rollup says of its memory.
type Memory struct {
	PSS     uint64 // proportional set size: each shared page split among its users
	Private uint64 // pages no other process maps (USS): Private_Clean and Private_Dirty
}

// ReadMemory reads pid's smaps_rollup, one record that one read hands
// over whole. It walks the process's page tables: tens of µs a process.
func ReadMemory(pid int) (Memory, error) {
	var arr [1024]byte
	b, err := readLineAt(unix.AT_FDCWD, "/proc/"+strconv.Itoa(pid)+"/smaps_rollup", arr[:])
	if err != nil {
		return Memory{}, err
	}
	return parseMemory(b), nil
}

// parseMemory reads smaps_rollup's Pss and Private_* lines ("Pss:   163
// kB"); a line that does not parse counts for nothing.
func parseMemory(b []byte) Memory {
	var m Memory
	for line := range bytes.Lines(b) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		kb, ok := atou(bytes.TrimSuffix(bytes.TrimSpace(value), []byte(" kB")))
		if !ok || kb >= 1e15 { // a petabyte and more: not a figure
			continue
		}
		switch string(name) {
		case "Pss":
			m.PSS = kb << 10
		case "Private_Clean", "Private_Dirty":
			m.Private += kb << 10
		}
	}
	return m
}
