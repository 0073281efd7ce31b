package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// followHead is how much of the existing file Follow sends first, as
// supervisord's /logtail and /mainlogtail handlers do.
const followHead = 1024

// TruncatedMarker is the line Follow writes when the followed file shrinks,
// as supervisord's /logtail handler does.
const TruncatedMarker = "==> File truncated <==\n"

// Poll intervals of Follow: a safety net when inotify watches the file's
// directory, and the only clock when inotify is unavailable. Variables so
// tests can prove each path works alone.
var (
	followPollInotify = 2 * time.Second
	followPoll        = 250 * time.Millisecond
	followNoInotify   = false
)

// Follow streams the file at path to w the way supervisord's /logtail and
// /mainlogtail handlers do, until ctx is done (then it returns nil) or a
// write to w fails. It writes the last 1024 bytes of the file, then every
// byte appended to it, calling flush (if not nil) after each batch of
// writes. When the file shrinks (truncated in place, as a rotation with no
// backups does) it writes TruncatedMarker and continues from the file's new
// start. When the file is replaced (rotated, cleared, or moved away by
// logrotate and created again), Follow first reads the old file to its end,
// then any backups rotated out after it (when the file rotated several
// times since Follow last looked), then sends the new file from its start:
// nothing written before the switch is lost, where supervisord drops the
// old file's unread end.
//
// Follow waits with inotify on the file's directory, with a slow poll as a
// safety net, or with a 250 ms poll where inotify is not available.
func Follow(ctx context.Context, path string, w io.Writer, flush func()) error {
	f, ino, err := openFollow(path)
	if err != nil {
		return fmt.Errorf("follow log %s: %w", path, unwrapPath(err))
	}
	defer func() { f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("follow log %s: %w", path, unwrapPath(err))
	}
	pos := max(fi.Size()-followHead, 0)

	wake, stop := watchDir(path)
	defer stop()
	interval := followPoll
	if wake != nil {
		interval = followPollInotify
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()

	buf := make([]byte, 32<<10)
	// send copies f from pos to its end into w.
	send := func() error {
		for {
			n, err := f.ReadAt(buf, pos)
			if n > 0 {
				pos += int64(n)
				if _, werr := w.Write(buf[:n]); werr != nil {
					return fmt.Errorf("follow log %s: write: %w", path, werr)
				}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("follow log %s: %w", path, unwrapPath(err))
			}
		}
	}
	for {
		wrote := false
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("follow log %s: %w", path, unwrapPath(err))
		}
		if fi.Size() < pos {
			if _, err := io.WriteString(w, TruncatedMarker); err != nil {
				return fmt.Errorf("follow log %s: write: %w", path, err)
			}
			pos, wrote = 0, true
		}
		if fi.Size() > pos {
			if err := send(); err != nil {
				return err
			}
			wrote = true
		}
		// Replaced? A path with no file (moved away, not yet created again)
		// is not a replacement: keep reading the old file meanwhile.
		switched, gone := false, false
		if st, err := os.Stat(path); err != nil {
			gone = true
		} else if inode(st) != ino {
			if nf, nino, err := openFollow(path); err == nil {
				// The old file to its end, then any file rotated out after
				// it (when the file rotated more than once since we looked),
				// then the new one from its start.
				missed := rotatedSince(path, ino, nino)
				for {
					if err := send(); err != nil {
						nf.Close()
						for _, m := range missed {
							m.Close()
						}
						return err
					}
					f.Close()
					if len(missed) == 0 {
						break
					}
					f, pos, missed = missed[0], 0, missed[1:]
				}
				f, ino, pos = nf, nino, 0
				switched, wrote = true, true
			}
		}
		if wrote && flush != nil {
			flush()
		}
		if switched {
			continue // the new file may already hold data
		}
		// Writes to a file moved out of the way arrive under another name
		// (or none): poll it quickly until the path is back.
		if gone {
			timer.Reset(min(interval, followPoll))
		} else {
			timer.Reset(interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-timer.C:
		}
	}
}

// maxProbe bounds the backups rotatedSince looks at.
const maxProbe = 1000

// rotatedSince returns, oldest first and open, the backups of path (path.1,
// path.2, ...) that are newer than the file old and older than cur: the files
// a follower of old never saw when path rotated several times since it last
// looked. It returns none when old is not among the backups (removed,
// truncated in place, or moved elsewhere by logrotate).
//
// It scans upwards while a rotation may be renaming downwards; a rotation
// leaves at most one name missing at a time, so the scan stops at two missing
// names in a row, and a file seen twice is kept once.
func rotatedSince(path string, old, cur fileID) []*os.File {
	var seen []*os.File
	seenID := map[fileID]bool{}
	found := false
	for i, missing := 1, 0; i <= maxProbe && missing < 2; i++ {
		f, id, err := openFollow(fmt.Sprintf("%s.%d", path, i))
		if err != nil {
			missing++
			continue
		}
		missing = 0
		if id == old {
			f.Close()
			found = true
			break
		}
		if id == cur {
			// The new file rotated too: everything newer than it is
			// its business of a later switch.
			for _, s := range seen {
				s.Close()
			}
			seen, seenID = nil, map[fileID]bool{}
		}
		if seenID[id] || id == cur {
			f.Close()
			continue
		}
		seenID[id] = true
		seen = append(seen, f)
	}
	if !found {
		for _, s := range seen {
			s.Close()
		}
		return nil
	}
	slices.Reverse(seen)
	return seen
}

// fileID identifies a file across renames.
type fileID struct{ dev, ino uint64 }

func inode(fi os.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{uint64(st.Dev), st.Ino}
}

// openFollow opens path to follow it. Like openForRead it refuses a file that
// is not regular before opening it: reading a FIFO would take the output from
// its reader, and opening one without a writer blocks.
func openFollow(path string) (*os.File, fileID, error) {
	if err := checkRegular(path); err != nil {
		return nil, fileID{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fileID{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileID{}, err
	}
	return f, inode(fi), nil
}

// watchDir watches the directory of path with inotify and returns a channel
// that receives (coalesced) when something happens to the entry named like
// path there, or to the directory itself; and a function that stops the
// watch and waits for its goroutine. The channel is nil when inotify is not
// available.
func watchDir(path string) (<-chan struct{}, func()) {
	if followNoInotify {
		return nil, func() {}
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, func() {}
	}
	const mask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_CREATE |
		unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), mask); err != nil {
		unix.Close(fd)
		return nil, func() {}
	}
	// A non-blocking descriptor in an *os.File goes through the runtime's
	// poller, so Close interrupts a pending Read.
	inf := os.NewFile(uintptr(fd), "inotify")
	wake := make(chan struct{}, 1)
	base := []byte(filepath.Base(path))
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := inf.Read(buf)
			if err != nil {
				if errors.Is(err, os.ErrClosed) {
					return
				}
				// Unexpected: wake the follower and let the poll carry on.
				poke(wake)
				return
			}
			if relevant(buf[:n], base) {
				poke(wake)
			}
		}
	})
	return wake, func() {
		inf.Close()
		wg.Wait()
	}
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// relevant reports whether a buffer of inotify events holds one about the
// entry base, about the directory itself, or a queue overflow.
func relevant(b []byte, base []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return true
		}
		name := bytes.TrimRight(b[unix.SizeofInotifyEvent:end], "\x00")
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 || len(name) == 0 || bytes.Equal(name, base) {
			return true
		}
		b = b[end:]
	}
	return false
}
