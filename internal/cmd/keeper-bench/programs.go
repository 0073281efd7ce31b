package main

import (
	"errors"
	"flag"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// floodChunk is the size of the flood program's writes.
const floodChunk = 64 << 10

// runFlood is the flood program: it puts its terminal in raw mode, waits
// for one byte on stdin (after writing R, with -ready), writes -bytes bytes
// of printable data to stdout in floodChunk writes, then echoes what it
// reads until its terminal hangs up.
func runFlood(args []string) error {
	fs := flag.NewFlagSet("flood", flag.ContinueOnError)
	n := fs.Int64("bytes", 64<<20, "bytes to write after the go byte")
	ready := fs.Bool("ready", false, "write one byte R once waiting for the go byte")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := makeRaw(0); err != nil {
		return err
	}
	if *ready {
		if err := writeAll(1, []byte{'R'}); err != nil {
			return fmt.Errorf("flood stdout: %w", err)
		}
	}
	var b [1]byte
	if _, err := readSome(0, b[:]); err != nil {
		return fmt.Errorf("wait for the go byte: %w", err)
	}
	buf := make([]byte, floodChunk)
	for i := range buf {
		buf[i] = 'a' + byte(i%26)
	}
	for left := *n; left > 0; {
		chunk := buf[:min(left, int64(len(buf)))]
		if err := writeAll(1, chunk); err != nil {
			return fmt.Errorf("flood stdout: %w", err)
		}
		left -= int64(len(chunk))
	}
	// Then echo, as the echo program does, until the pty hangs up: the
	// benchmark times keystrokes right after the flood.
	for {
		n, err := readSome(0, buf)
		if err != nil {
			return nil
		}
		if err := writeAll(1, buf[:n]); err != nil {
			return fmt.Errorf("flood stdout: %w", err)
		}
	}
}

// runEcho is the echo program: raw mode without echo, every byte read from
// stdin is written back to stdout.
func runEcho(args []string) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := makeRaw(0); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for {
		n, err := readSome(0, buf)
		if err != nil {
			return nil // the pty hung up
		}
		if err := writeAll(1, buf[:n]); err != nil {
			return fmt.Errorf("echo stdout: %w", err)
		}
	}
}

// makeRaw puts the terminal on fd in raw mode, as cfmakeraw does: no echo,
// no line editing, no signals, no output processing, 8-bit bytes.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("raw mode: get termios of fd %d: %w", fd, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("raw mode: set termios of fd %d: %w", fd, err)
	}
	return nil
}

// errEOF is a read of zero bytes: the peer hung up.
var errEOF = errors.New("end of file")

// readSome makes one blocking read, retried on EINTR; zero bytes is errEOF.
func readSome(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, errEOF
		}
		return n, nil
	}
}

// writeAll writes all of b to fd with blocking writes.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
