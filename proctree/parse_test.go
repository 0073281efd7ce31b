package proctree

import (
	"errors"
	"maps"
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	// The stat line of a real process, with fields 23-52 cut short.
	tail := " 4194304 98 0 0 0 7 3 0 0 20 0 1 0 40616 3133440 394 18446744073709551615 0\n"
	tests := []struct {
		name, in string
		want     Process
	}{
		{"plain", "4787 (cat) R 4781 4781 2305 34816 4787" + tail,
			Process{PID: 4787, Comm: "cat", State: 'R', PPID: 4781, PGID: 4781, SID: 2305, TTYNr: 34816, TPGID: 4787, Threads: 1, StartTime: 40616, UTime: 7, STime: 3, RSSPages: 394}},
		{"comm with parens and spaces", "12 (a) (b c) 9 Z) S 1 12 12 0 -1" + tail,
			Process{PID: 12, Comm: "a) (b c) 9 Z", State: 'S', PPID: 1, PGID: 12, SID: 12, TTYNr: 0, TPGID: -1, Threads: 1, StartTime: 40616, UTime: 7, STime: 3, RSSPages: 394}},
		{"empty comm", "5 () Z 1 5 5 0 -1" + tail,
			Process{PID: 5, Comm: "", State: 'Z', PPID: 1, PGID: 5, SID: 5, TPGID: -1, Threads: 1, StartTime: 40616, UTime: 7, STime: 3, RSSPages: 394}},
		{"kernel thread", "2 (kthreadd) S 0 0 0 0 -1" + tail,
			Process{PID: 2, Comm: "kthreadd", State: 'S', TPGID: -1, Threads: 1, StartTime: 40616, UTime: 7, STime: 3, RSSPages: 394}},
		{"no newline, exactly 22 fields", "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 18446744073709551615",
			Process{PID: 7, Comm: "x", State: 'S', PPID: 1, PGID: 7, SID: 7, TPGID: -1, Threads: 3, StartTime: 18446744073709551615}},
	}
	for _, tt := range tests {
		got, err := parseStat([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("%s: parseStat = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	bad := []string{
		"",
		"12 cat S 1 12 12 0 -1" + tail,
		"(cat) S 1 12 12 0 -1" + tail,
		"x (cat) S 1 12 12 0 -1" + tail,
		"12 (cat) S 1 12 12 0 -1\n",
		"12 (cat) SS 1 12 12 0 -1" + tail,
		"12 (cat) S x 12 12 0 -1" + tail,
		"12 (cat) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 -5",
		"12 (cat) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 18446744073709551616",
	}
	for _, in := range bad {
		if p, err := parseStat([]byte(in)); !errors.Is(err, errMalformed) {
			t.Errorf("parseStat(%q) = %+v, %v; want errMalformed", in, p, err)
		}
	}
}

func TestParseUnixListeners(t *testing.T) {
	table := "Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"00000000ad28aae8: 00000003 00000000 00000000 0001 03  1143\n" + // connected, unnamed
		"0000000073e26456: 00000002 00000000 00010000 0001 01 11418 /tmp/dt/s\n" +
		"0000000073e26457: 00000002 00000000 00010000 0001 01 123456789 /tmp/with space\n" +
		"0000000073e26458: 00000002 00000000 00010000 0005 01 22 @abs@tract\n" + // seqpacket
		"0000000073e26459: 00000002 00000000 00010000 0001 01 33\n" + // listening, no address
		"000000007300645a: 00000002 00000000 00000000 0002 01 44 /run/dgram\n" + // bound datagram
		"000000007300645b: 00000003 00000000 00000000 0001 03 55 /tmp/dt/s\n" // accepted connection
	got := parseUnixListeners([]byte(table))
	want := map[uint64]string{11418: "/tmp/dt/s", 123456789: "/tmp/with space", 22: "@abs@tract"}
	if !maps.Equal(got, want) {
		t.Errorf("parseUnixListeners = %v, want %v", got, want)
	}
	// Lines that do not parse are skipped, and the rest of the table kept:
	// a path with a newline (any user may bind one) splits its line.
	forged := "Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"0000000073e26456: 00000002 00000000 00010000 0001 01\n" +
		"0000000073e26456: 00000002 00000000 zz 0001 01 11418 /x\n" +
		"0000000073e26456: 00000002 00000000 00010000 0001 01 -1 /x\n" +
		"0000000073e26460: 00000002 00000000 00010000 0001 01 77 /tmp/evil\nname\n" +
		"0000000073e26461: 00000002 00000000 00010000 0001 01 88 /tmp/ok\n"
	got = parseUnixListeners([]byte(forged))
	want = map[uint64]string{77: "/tmp/evil", 88: "/tmp/ok"}
	if !maps.Equal(got, want) {
		t.Errorf("parseUnixListeners with bad lines = %v, want %v", got, want)
	}
}

func TestCountUnixClients(t *testing.T) {
	table := "Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"0000000073e26456: 00000002 00000000 00010000 0001 01 11418 /tmp/dt/s\n" + // the listener
		"000000007300645b: 00000003 00000000 00000000 0001 03 55 /tmp/dt/s\n" + // accepted: one client
		"000000007300645c: 00000003 00000000 00000000 0001 03 56 /tmp/dt/s\n" + // and another
		"000000007300645d: 00000003 00000000 00000000 0001 03 57\n" + // the clients' ends, unnamed
		"000000007300645e: 00000003 00000000 00000000 0001 03 58 /tmp/with space\n" +
		"000000007300645f: 00000003 00000000 00000000 0001 03 59 /tmp/other\n" + // not asked for
		"0000000073006460: 00000003 00000000 00000000 0001 04 60 /tmp/idle\n" + // disconnecting
		"0000000073006461: 00000003 00000000 zz 0001 03 61 /tmp/idle\n" // does not parse
	got := countUnixClients([]byte(table), []string{"/tmp/dt/s", "/tmp/with space", "/tmp/idle", "/tmp/none"})
	want := map[string]int{"/tmp/dt/s": 2, "/tmp/with space": 1}
	if !maps.Equal(got, want) {
		t.Errorf("countUnixClients = %v, want %v", got, want)
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[]", 0, false},
		{"pipe:[12345]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[12x]", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
	}
	for _, tt := range tests {
		got, ok := socketInode([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("socketInode(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseMemory(t *testing.T) {
	const rollup = "55cdb03c8000-7ffd4abd7000 ---p 00000000 00:00 0                          [rollup]\n" +
		"Rss:                1752 kB\nPss:                 163 kB\nPss_Dirty:           116 kB\n" +
		"Shared_Clean:       1604 kB\nPrivate_Clean:        40 kB\nPrivate_Dirty:       112 kB\nSwapPss:               0 kB\n"
	tests := []struct {
		in   string
		want Memory
	}{
		{rollup, Memory{PSS: 163 << 10, Private: 152 << 10}},
		{"Pss_Dirty:  116 kB\nPss:  7 kB", Memory{PSS: 7 << 10}}, // no final newline
		{"Rss: 1 kB\nPss_Anon: 2 kB\n", Memory{}},
		{"Pss: x kB\nPrivate_Dirty: 4 kB\n", Memory{Private: 4 << 10}},
		{"Pss: kB\n", Memory{}},
		{"Pss: 1234567890123456 kB\n", Memory{}}, // too large to be true
		{"", Memory{}},
	}
	for _, tt := range tests {
		if got := parseMemory([]byte(tt.in)); got != tt.want {
			t.Errorf("parseMemory(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// TestReadMemory: this process's memory as smaps_rollup says it.
func TestReadMemory(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatalf("ReadMemory(self): %v", err)
	}
	if m.PSS == 0 || m.Private == 0 || m.Private > m.PSS {
		t.Errorf("ReadMemory(self) = %+v, want a PSS at least its private memory, both above 0", m)
	}
	if _, err := ReadMemory(1 << 30); err == nil {
		t.Error("ReadMemory of no process: no error")
	}
}
