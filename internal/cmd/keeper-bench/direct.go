package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// direct floods a pty this process reads itself, with no master between:
// the limit the pty and the flood program set on this machine.
func (b *bench) direct() (mbps float64, err error) {
	ptm, tty, err := pty.Open()
	if err != nil {
		return 0, fmt.Errorf("direct flood: open pty: %w", err)
	}
	defer ptm.Close()
	err = makeRaw(int(tty.Fd()))
	if err != nil {
		tty.Close()
		return 0, fmt.Errorf("direct flood: %w", err)
	}
	cmd := exec.Command(b.self, "flood", "-ready", "-bytes", strconv.FormatInt(b.flood, 10))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	tty.Close()
	if err != nil {
		return 0, fmt.Errorf("direct flood: start %s: %w", b.self, err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	fd := int(ptm.Fd()) // blocking from here on, like the socket client
	buf := make([]byte, 1<<20)
	if n, err := readSome(fd, buf[:1]); err != nil || n != 1 || buf[0] != 'R' {
		return 0, fmt.Errorf("direct flood: no ready byte from the program (%q, %v)", buf[:n], err)
	}
	t0 := time.Now()
	if err := writeAll(fd, []byte{'g'}); err != nil {
		return 0, fmt.Errorf("direct flood: write go byte: %w", err)
	}
	var got int64
	for got < b.flood {
		n, err := readSome(fd, buf)
		if err != nil {
			return 0, fmt.Errorf("direct flood: after %d of %d bytes: %w", got, b.flood, err)
		}
		got += int64(n)
	}
	if got != b.flood {
		return 0, fmt.Errorf("direct flood: got %d bytes, want %d", got, b.flood)
	}
	return float64(b.flood) / time.Since(t0).Seconds() / 1e6, nil
}
