package proctree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// soAcceptCon is __SO_ACCEPTCON, the /proc/net/unix flag of a listening socket.
const soAcceptCon = 0x10000

// UnixListeners returns, for each of pids that listens on at least one named
// unix socket, the sorted socket paths. It parses /proc/net/unix once and
// then reads the /proc/PID/fd links of the given pids only.
//
// Paths are what the kernel reports, which is the address the socket was
// bound to, not necessarily where it is now:
//   - an abstract socket is reported as "@name" (NUL bytes inside the name
//     also show as '@');
//   - a socket bound to a relative name (after a chdir, a way around the
//     108-byte sun_path limit) shows that relative name, and one bound as
//     "/proc/self/fd/N/name" shows that string, not the real directory;
//   - a socket file renamed or removed after bind keeps its old path.
//
// Listening sockets with no address are left out, as are sockets of other
// network namespaces (/proc/net/unix lists the caller's namespace only).
// Pids that do not exist, or vanish, are left out. A pid whose descriptors
// the caller may not read (another user's process, without
// CAP_SYS_PTRACE) is left out too and reported in the error, which then
// joins one error per such pid; the map is still valid for the others.
func UnixListeners(pids []int) (map[int][]string, error) {
	table, err := readNetUnix()
	if err != nil {
		return nil, fmt.Errorf("list unix listeners: %w", err)
	}
	listening := parseUnixListeners(*table)
	netUnixBufs.Put(table)
	out := make(map[int][]string)
	if len(listening) == 0 {
		return out, nil
	}
	var errs []error
	var link [64]byte
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		f, err := os.Open(dir)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
				continue
			}
			errs = append(errs, fmt.Errorf("list unix listeners: %w", err))
			continue
		}
		names, err := f.Readdirnames(-1)
		dirfd := int(f.Fd())
		var paths []string
		for _, name := range names {
			n, err := unix.Readlinkat(dirfd, name, link[:])
			if err != nil { // descriptor closed meanwhile
				continue
			}
			inode, ok := socketInode(link[:n])
			if !ok {
				continue
			}
			if path, ok := listening[inode]; ok && !slices.Contains(paths, path) {
				paths = append(paths, path)
			}
		}
		f.Close()
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("list unix listeners: read %s: %w", dir, err))
		}
		if len(paths) > 0 {
			slices.Sort(paths)
			out[pid] = paths
		}
	}
	return out, errors.Join(errs...)
}

// socketInode parses a descriptor link "socket:[INODE]".
func socketInode(link []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(link, []byte("socket:["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	return atou(rest[:len(rest)-1])
}

// unixSocket is a line of /proc/net/unix.
type unixSocket struct {
	flags uint64
	state []byte // St: 01 unconnected (a listener), 03 connected, ...
	inode uint64
	path  []byte // nil for a socket with no address
}

// unixSockets calls fn with each socket /proc/net/unix lists in b. Lines
// look like
//
//	Num       RefCount Protocol Flags    Type St Inode Path
//	0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/x.sock
//
// with the inode padded to 5 columns and the path (which may hold spaces)
// after one more space, absent for unbound sockets. A path may hold a
// newline, so lines that do not parse are skipped, not fatal: any user
// can bind a socket whose path splits its line. Nothing is allocated.
func unixSockets(b []byte, fn func(unixSocket)) {
	first := true
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if first {
			first = false
			if bytes.HasPrefix(line, []byte("Num")) {
				continue
			}
		}
		if len(line) == 0 {
			continue
		}
		var f [7][]byte
		rest := line
		for k := range f {
			for len(rest) > 0 && rest[0] == ' ' {
				rest = rest[1:]
			}
			n := bytes.IndexByte(rest, ' ')
			if n < 0 {
				n = len(rest)
			}
			f[k], rest = rest[:n], rest[n:]
		}
		flags, err := strconv.ParseUint(string(f[3]), 16, 32)
		inode, ok := atou(f[6])
		if len(f[6]) == 0 || err != nil || !ok || !bytes.HasSuffix(f[0], []byte(":")) {
			continue
		}
		s := unixSocket{flags: flags, state: f[5], inode: inode}
		if len(rest) >= 2 {
			s.path = rest[1:]
		}
		fn(s)
	}
}

// parseUnixListeners parses /proc/net/unix into inode → path for listening
// sockets that have an address.
func parseUnixListeners(b []byte) map[uint64]string {
	out := make(map[uint64]string)
	unixSockets(b, func(s unixSocket) {
		if s.flags&soAcceptCon == 0 || s.path == nil {
			return
		}
		if _, dup := out[s.inode]; !dup { // the kernel lists a socket once
			out[s.inode] = string(s.path)
		}
	})
	return out
}

// UnixClients counts, for each of paths, the connections a server has
// accepted on the named unix socket at that path: the server side of an
// accepted connection is listed in /proc/net/unix under the listening
// socket's path, in the connected state. Paths are compared as the kernel
// reports them (see UnixListeners).
func UnixClients(paths []string) (map[string]int, error) {
	b, err := readNetUnix()
	if err != nil {
		return nil, err
	}
	defer netUnixBufs.Put(b)
	return countUnixClients(*b, paths), nil
}

// netUnixBufs keeps the buffers /proc/net/unix was read into, to put back
// when read: it is read on every session listing, and as a /proc file it
// has no size to read it in one go, so os.ReadFile grows a buffer from
// 512 bytes, a read each time (64 KB of garbage and 8 reads for 200
// sessions).
var netUnixBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// readNetUnix reads /proc/net/unix whole into a buffer of netUnixBufs.
func readNetUnix() (*[]byte, error) {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/unix: %w", err)
	}
	defer f.Close()
	buf := netUnixBufs.Get().(*[]byte)
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, cap(b))
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*buf = b
			return buf, nil
		}
		if err != nil {
			netUnixBufs.Put(buf)
			return nil, fmt.Errorf("read /proc/net/unix: %w", err)
		}
	}
}

// countUnixClients is UnixClients on the text of /proc/net/unix.
func countUnixClients(b []byte, paths []string) map[string]int {
	want := make(map[string]bool, len(paths))
	for _, p := range paths {
		want[p] = true
	}
	out := make(map[string]int)
	unixSockets(b, func(s unixSocket) {
		if s.flags&soAcceptCon == 0 && string(s.state) == "03" && want[string(s.path)] {
			out[string(s.path)]++
		}
	})
	return out
}
