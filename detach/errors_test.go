package detach

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestWrap: wrap reads as fmt.Errorf("%s: %w") does and keeps the error
// it wraps for errors.Is, as do the master's other messages built without fmt.
func TestWrap(t *testing.T) {
	err := wrap("read log frame", io.ErrUnexpectedEOF)
	if err.Error() != "read log frame: unexpected EOF" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("wrap = %q, Is(ErrUnexpectedEOF) = %v", err, errors.Is(err, io.ErrUnexpectedEOF))
	}
	long := "/tmp/" + strings.Repeat("x", maxSunPath+1)
	err = CheckSocketPath(long)
	want := "check socket path " + long + ": socket name too long: the file name is 108 bytes, at most 107 fit in a unix socket address"
	if err == nil || err.Error() != want || !errors.Is(err, ErrNameTooLong) {
		t.Errorf("CheckSocketPath(long) = %v, want %q wrapping ErrNameTooLong", err, want)
	}
}
