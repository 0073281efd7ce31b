package supervise

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// The state directory holds what makes the daemon signal processes
// (program records, session records), so only the daemon's user may own or
// write it: with the pidfile in a world-writable directory (supervisord's
// sample puts it in /tmp) another user could create it first.

// checkStateDir creates the state directory with mode 0700, or checks the
// one that exists, and its programs/ and sessions/ directories: each must
// be a real directory (not a symlink) owned by the daemon's user and
// writable by no one else.
func checkStateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "programs"), filepath.Join(dir, "sessions")} {
		if err := checkOwnDir(d); err != nil {
			return err
		}
	}
	return nil
}

// checkOwnDir refuses a directory the daemon's user does not own alone; a
// missing one is fine (it is created 0700 when needed).
func checkOwnDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check state directory %s: %w", dir, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	euid := uint32(os.Geteuid())
	const fix = "another user may have made it to steer the daemon: remove it, or put the pidfile (beside which it lives) in a directory only the daemon's user can write"
	switch {
	case !fi.IsDir():
		return fmt.Errorf("state directory %s is not a directory (%s); %s", dir, fi.Mode().Type(), fix)
	case st.Uid != euid:
		return fmt.Errorf("state directory %s is owned by uid %d, not by the daemon's user (uid %d); %s", dir, st.Uid, euid, fix)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("state directory %s is writable by group or others (mode %04o); %s", dir, fi.Mode().Perm(), fix)
	}
	return nil
}

// readOwnFile reads a small file of the state directory that only the
// daemon writes: no symlink followed, no FIFO waited on, a regular file
// owned by the daemon's user, at most limit bytes.
func readOwnFile(path string, limit int64) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != uint32(os.Geteuid()) || st.Size > limit {
		return nil, fmt.Errorf("read %s: not a regular file of the daemon's user of at most %d bytes", path, limit)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}
