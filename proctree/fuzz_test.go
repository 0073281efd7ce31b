package proctree

import (
	"bytes"
	"testing"
)

// FuzzParseUnixListeners: any /proc/net/unix text (paths are chosen by any
// user) parses without panic, and every entry's path is a line's tail.
func FuzzParseUnixListeners(f *testing.F) {
	f.Add([]byte("Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"0000000073e26456: 00000002 00000000 00010000 0001 01 11418 /tmp/dt/s\n"))
	f.Add([]byte("0000000073e26460: 00000002 00000000 00010000 0001 01 77 /tmp/evil\nname\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, path := range parseUnixListeners(b) {
			if bytes.IndexByte([]byte(path), '\n') >= 0 {
				t.Fatalf("path %q holds a newline", path)
			}
		}
	})
}

// FuzzParseStat: any /proc/PID/stat text (comm is chosen by the process)
// parses without panic.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (sleep) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 8192 100 18446744073709551615"))
	f.Add([]byte("1 (a) b) c) R 0 1 1 34816 1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStat(b)
	})
}
