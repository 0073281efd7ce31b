package logfile

import (
	"errors"
	"io"
)

// CaptureBufferSize is the largest read Capture makes: supervisord reads its
// children's pipes 128 KiB at a time. Capture starts at captureStart and
// doubles while reads fill the buffer, so a quiet program costs a daemon
// 4 KiB, not 128, and a fast one still gets big reads.
const (
	CaptureBufferSize = 128 << 10
	captureStart      = 4 << 10
)

// Capture copies a program's output from r into dst until r reports EOF, and
// returns the number of bytes read. Each read is written to dst whole, in
// order, so nothing is lost or reordered however fast the program writes
// and however often dst rotates.
//
// A failing write does not stop the copy: the pipe is still drained, so the
// program never blocks on a full pipe because its log cannot be written (the
// data of failed writes is dropped, as supervisord drops it), and the first
// write error is returned at the end. A read error other than EOF ends the
// copy and is returned (joined with the first write error, if any).
func Capture(r io.Reader, dst io.Writer) (int64, error) {
	buf := make([]byte, captureStart)
	var total int64
	var werr error
	for {
		n, err := r.Read(buf)
		if n > 0 {
			total += int64(n)
			if _, e := dst.Write(buf[:n]); e != nil && werr == nil {
				werr = e
			}
			if n == len(buf) && len(buf) < CaptureBufferSize {
				buf = make([]byte, 2*len(buf))
			}
		}
		if err == io.EOF {
			return total, werr
		}
		if err != nil {
			return total, errors.Join(werr, err)
		}
	}
}
