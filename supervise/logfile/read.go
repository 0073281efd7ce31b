package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrBadArguments is wrapped by Read's error when offset and length are not a
// valid request; the XML-RPC layer answers it with fault BAD_ARGUMENTS.
var ErrBadArguments = errors.New("bad arguments")

// ErrFailed is wrapped by Read's and Tail's error when the file cannot be
// opened or read; the XML-RPC layer answers it with fault FAILED. The
// underlying cause stays wrapped too (errors.Is(err, fs.ErrNotExist) works).
var ErrFailed = errors.New("failed")

// Read returns bytes of the file at path as supervisord's readFile does for
// readLog and readProcessStdoutLog/readProcessStderrLog:
//
//   - offset < 0 and length == 0: the last -offset bytes (the whole file if
//     it is shorter);
//   - offset < 0 and length != 0: ErrBadArguments;
//   - offset >= 0 and length == 0: everything from offset to the end;
//   - offset >= 0 and length > 0: up to length bytes from offset;
//   - offset >= 0 and length < 0: ErrBadArguments.
//
// An offset past the end gives no data and no error. A file that cannot be
// opened or read gives ErrFailed; like supervisord, the file is opened before
// the arguments are checked. supervisord's rpcinterface answers NO_FILE
// instead when the file does not exist: errors.Is(err, fs.ErrNotExist) tells
// that case apart.
func Read(path string, offset, length int64) ([]byte, error) {
	f, size, err := openForRead(path)
	if err != nil {
		return nil, fmt.Errorf("read log %s: %w: %w", path, ErrFailed, err)
	}
	defer f.Close()
	var pos, n int64 // n < 0: to the end
	switch {
	case offset < 0 && length != 0:
		return nil, fmt.Errorf("read log %s: %w: negative offset %d needs length 0, not %d", path, ErrBadArguments, offset, length)
	case offset < 0:
		pos, n = max(size+offset, 0), -offset
	case length < 0:
		return nil, fmt.Errorf("read log %s: %w: negative length %d", path, ErrBadArguments, length)
	case length == 0:
		pos, n = offset, -1
	default:
		pos, n = offset, length
	}
	data, err := readAt(f, pos, n, size)
	if err != nil {
		return nil, fmt.Errorf("read log %s: %w: %w", path, ErrFailed, err)
	}
	return data, nil
}

// Tail returns the end of the file at path as supervisord's tailFile does for
// tailProcessStdoutLog/tailProcessStderrLog: the last length bytes of the
// file (all of it if shorter), or nothing when offset is at or past its end
// or length is not positive. overflow is set when the file holds more than
// offset+length bytes, that is when bytes after offset were skipped.
// newOffset is the file's size, where the next call should start.
//
// If the file cannot be opened or read, Tail returns what supervisord answers
// then (no data, offset unchanged, no overflow) together with an error
// wrapping ErrFailed, which the caller may drop as supervisord does.
func Tail(path string, offset, length int64) (data []byte, newOffset int64, overflow bool, err error) {
	f, size, err := openForRead(path)
	if err != nil {
		return nil, offset, false, fmt.Errorf("tail log %s: %w: %w", path, ErrFailed, err)
	}
	defer f.Close()
	// The same steps as tailFile, negative arguments included.
	if size > offset+length {
		overflow = true
		offset = size - 1
	}
	if offset+length > size {
		if offset > size-1 {
			length = 0
		}
		offset = size - length
	}
	offset = max(offset, 0)
	length = max(length, 0)
	if length > 0 {
		if data, err = readAt(f, offset, length, size); err != nil {
			return nil, offset, false, fmt.Errorf("tail log %s: %w: %w", path, ErrFailed, err)
		}
	}
	if data == nil {
		data = []byte{}
	}
	return data, size, overflow, nil
}

// openForRead opens path for reading and returns its size. A directory is
// refused here, as Python's open refuses it. Any other file that is not
// regular (/dev/stdout, a FIFO, a tty) is refused with ESPIPE before it is
// opened: supervisord fails there on its seek ("Illegal seek"), and opening
// it could block (a FIFO without a writer) or read the daemon's terminal.
func openForRead(path string) (*os.File, int64, error) {
	if err := checkRegular(path); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, unwrapPath(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, unwrapPath(err)
	}
	return f, fi.Size(), nil
}

// checkRegular returns nil when path is a regular file that can be read
// back: EISDIR for a directory, ESPIPE for any other file that is not regular.
func checkRegular(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return unwrapPath(err)
	case fi.IsDir():
		return syscall.EISDIR
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: not a regular file (%s)", syscall.ESPIPE, fi.Mode().Type())
	}
	return nil
}

// readAt reads up to n bytes (n < 0: all) from f at pos. size, the file's
// size when opened, only sizes the buffer: a file that grew meanwhile is read
// as far as it goes now, as Python's read does.
func readAt(f *os.File, pos, n, size int64) ([]byte, error) {
	hint := max(size-pos, 0)
	var r io.Reader = io.NewSectionReader(f, pos, 1<<62)
	if n >= 0 {
		hint = min(hint, n)
		r = io.LimitReader(r, n)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(hint, 64<<20)) + 1) // +1: ReadFrom needs room to see EOF
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, unwrapPath(err)
	}
	if buf.Len() == 0 {
		return []byte{}, nil
	}
	return buf.Bytes(), nil
}
