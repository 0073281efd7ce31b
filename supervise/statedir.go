package supervise

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"keeper/detach"
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
	if err := checkPathTo(filepath.Dir(dir)); err != nil {
		return err
	}
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

// checkPathTo refuses a path on which another user could swap what the
// daemon finds: every directory on the way to dir must be owned by root or
// the daemon's user and writable by no one else unless sticky (as /tmp),
// and every symlink on the way, which is followed, owned by one of them.
// A part that does not exist yet ends the check: the daemon creates it.
func checkPathTo(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("check state directory path %s: %w", dir, err)
	}
	const fix = "put the pidfile (the state directory lives beside it) under directories only root or the daemon's user can change"
	euid := uint32(os.Geteuid())
	todo := strings.Split(abs, "/")
	resolved := "/"
	for links := 0; len(todo) > 0; {
		name := todo[0]
		todo = todo[1:]
		if name == "" || name == "." {
			continue
		}
		next := filepath.Join(resolved, name)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("check state directory path %s: %w", dir, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		switch {
		case st.Uid != 0 && st.Uid != euid:
			return fmt.Errorf("check state directory path %s: %s is owned by uid %d, neither root nor the daemon's user; %s", dir, next, st.Uid, fix)
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > 40 {
				return fmt.Errorf("check state directory path %s: %w", dir, unix.ELOOP)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return fmt.Errorf("check state directory path %s: %w", dir, err)
			}
			if filepath.IsAbs(target) {
				resolved = "/"
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		case !fi.IsDir():
			return fmt.Errorf("check state directory path %s: %s is not a directory", dir, next)
		case fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0:
			return fmt.Errorf("check state directory path %s: %s is writable by group or others (mode %04o) and not sticky; %s", dir, next, fi.Mode().Perm(), fix)
		}
		resolved = next
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
// daemon writes: a plain file (detach.ReadPlainFile) of the daemon's user.
func readOwnFile(path string, limit int64) ([]byte, error) {
	data, owner, err := detach.ReadPlainFile(path, limit)
	if err == nil && owner != uint32(os.Geteuid()) {
		err = fmt.Errorf("owned by uid %d, not the daemon's user", owner)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
