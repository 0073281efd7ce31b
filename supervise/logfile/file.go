package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// File is an append-only log file with supervisord's size rotation: a
// program's stdout or stderr log, or the daemon's own log. It is safe for
// concurrent use; each Write lands in the file whole.
//
// As in supervisord (supervisor/loggers.py, RotatingFileHandler.doRollover):
// the file rotates after a write that leaves it at maxBytes or more (a write
// is never split, so a backup may exceed maxBytes by part of one write);
// rotating renames x.log.(N-1) to x.log.N (replacing the oldest), ...,
// x.log to x.log.1, and starts a new empty x.log. maxBytes 0 never rotates;
// backups 0 (or less) with maxBytes > 0 empties x.log in place when it is
// full, keeping nothing. Clearing (clearLog, clearProcessLogs) removes x.log
// and creates a new empty one, leaving the backups alone.
type File struct {
	path     string
	maxBytes int64
	backups  int

	mu      sync.Mutex
	f       *os.File // nil when closed, or when reopening after a rotation failed
	closed  bool     // Close was called
	size    int64    // bytes in f as far as this File knows
	regular bool     // f is a regular file: only those are rotated or removed
}

// Open opens (creating it if needed) the log file at path for appending.
// When a write leaves the file at maxBytes or more it is rotated, keeping
// backups older files as path.1 (newest) to path.N (oldest); maxBytes 0
// never rotates, and backups 0 with maxBytes > 0 truncates the file instead.
// Files that are not regular (/dev/stdout, a pipe) are never rotated.
func Open(path string, maxBytes int64, backups int) (*File, error) {
	l := &File{path: path, maxBytes: maxBytes, backups: backups}
	if err := l.open(0); err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("open log %s: a symlink in a directory others can write is not followed; remove it or log elsewhere", path)
		}
		return nil, fmt.Errorf("open log %s: %w", path, unwrapPath(err))
	}
	return l, nil
}

// open opens l.path for appending with extra flags and records its size; l.mu
// must be held (or l not yet shared).
func (l *File) open(flags int) error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|flags|NoFollowInSharedDir(l.path), 0o666)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f = f
	l.size = fi.Size()
	l.regular = fi.Mode().IsRegular()
	return nil
}

// NoFollowInSharedDir is O_NOFOLLOW for a file in a directory others may
// write (/tmp): another user could have planted a symlink there to make the
// daemon, often root, write through it. Elsewhere a symlink is the
// administrator's and is followed (/dev/stdout is one).
func NoFollowInSharedDir(path string) int {
	fi, err := os.Stat(filepath.Dir(path))
	if err == nil && fi.Mode().Perm()&0o022 != 0 {
		return syscall.O_NOFOLLOW
	}
	return 0
}

// Path returns the path the file was opened with.
func (l *File) Path() string { return l.path }

// Write appends p to the file, then rotates it if it has reached maxBytes.
// If the data was written but rotating failed, Write returns len(p) and the
// rotation error; the file stays open (or is opened again by the next Write)
// and the next write retries the rotation.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("write log %s: %w", l.path, os.ErrClosed)
	}
	if l.f == nil {
		if err := l.open(0); err != nil {
			return 0, fmt.Errorf("write log %s: %w", l.path, unwrapPath(err))
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write log %s: %w", l.path, unwrapPath(err))
	}
	if l.maxBytes > 0 && l.size >= l.maxBytes && l.regular {
		if err := l.rotate(); err != nil {
			return n, fmt.Errorf("rotate log %s: %w", l.path, unwrapPath(err))
		}
	}
	return n, nil
}

// rotate does supervisord's doRollover; l.mu is held.
func (l *File) rotate() error {
	// The size counted by Write can be stale if someone truncated the file
	// behind our back (logrotate's copytruncate): believe the file.
	fi, err := l.f.Stat()
	if err != nil {
		return err
	}
	if l.size = fi.Size(); l.size < l.maxBytes {
		return nil
	}
	closeErr := l.f.Close()
	l.f = nil
	if l.backups <= 0 {
		// supervisord reopens the file with mode "wb": it starts again empty.
		return errors.Join(closeErr, l.open(os.O_TRUNC))
	}
	for i := l.backups - 1; i > 0; i-- {
		if err := renameIfExists(l.path+"."+strconv.Itoa(i), l.path+"."+strconv.Itoa(i+1)); err != nil {
			// Keep logging into the file rather than losing output.
			return errors.Join(closeErr, err, l.open(0))
		}
	}
	if err := renameIfExists(l.path, l.path+".1"); err != nil {
		return errors.Join(closeErr, err, l.open(0))
	}
	return errors.Join(closeErr, l.open(os.O_TRUNC))
}

// renameIfExists renames src to dst, replacing dst; a missing src is not an
// error (supervisord ignores ENOENT: a cleanup script may have removed it).
func renameIfExists(src, dst string) error {
	err := os.Rename(src, dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Reopen closes the file and opens its path again, creating it if it was
// moved away: what supervisord does on SIGUSR2, after logrotate has renamed
// the file. Reopen on a closed File opens it again.
func (l *File) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.f != nil {
		err = l.f.Close()
		l.f = nil
	}
	l.closed = false
	if err2 := l.open(0); err2 != nil {
		err = errors.Join(err, err2)
	}
	if err != nil {
		return fmt.Errorf("reopen log %s: %w", l.path, unwrapPath(err))
	}
	return nil
}

// Clear removes the log file and opens a new empty one at its path, as
// supervisord's clearLog and clearProcessLogs do; backups (path.1 ...) are
// kept, as supervisord keeps them. A file that is not regular
// (/dev/stdout) is reopened but not removed.
func (l *File) Clear() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	regular := l.regular // as of the last open
	if l.f != nil {
		err = l.f.Close()
		l.f = nil
	}
	l.closed = false
	if regular {
		if err2 := os.Remove(l.path); err2 != nil && !errors.Is(err2, fs.ErrNotExist) {
			err = errors.Join(err, err2)
		}
	}
	if err2 := l.open(0); err2 != nil {
		err = errors.Join(err, err2)
	}
	if err != nil {
		return fmt.Errorf("clear log %s: %w", l.path, unwrapPath(err))
	}
	return nil
}

// Close closes the file; later writes fail with an error wrapping
// os.ErrClosed. Closing a closed File does nothing.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close log %s: %w", l.path, unwrapPath(err))
	}
	return nil
}

// unwrapPath drops an *fs.PathError's own operation and path, so that an
// error reads "open log /x: permission denied" rather than naming the file
// twice; the cause stays wrapped for errors.Is.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe == err {
		return pe.Err
	}
	return err
}
