package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keeper/detach"
)

// TestScreenSizeFlipsBoundMaster flips an attached client's window between
// 4096x4096 and 1x1 fifty times, waiting each time until the master's
// emulator has the new size, and checks the master's peak resident memory:
// the emulator is capped at a million cells (16 MiB a grid), where 4096x4096
// cost 256 MiB a grid and flips grew a master past half a gigabyte.
func TestScreenSizeFlipsBoundMaster(t *testing.T) {
	dir := testDir(t)
	sock := filepath.Join(dir, "z")
	if out, code := runCmd(t, dir, keeperBin, "dtach", "-n", sock, "sh"); code != 0 {
		t.Fatalf("keeper dtach -n: exit %d: %s", code, out)
	}
	c := startTerm(t, dir, nil, keeperBin, "attach", "-r", "winch", sock)
	var pid int
	for range 50 {
		for _, size := range []struct{ rows, cols, wantRows, wantCols int }{
			{4096, 4096, 256, 4096}, // the rows give way to the million-cell cap
			{1, 1, 1, 1},
		} {
			c.resize(uint16(size.rows), uint16(size.cols))
			waitFor(t, "the emulator at the client's size", 10*time.Second, func() bool {
				st, err := detach.QueryStatus(sock, 2*time.Second)
				pid = st.PID
				return err == nil && st.Cols == size.wantCols && st.Rows == size.wantRows
			})
		}
	}
	rss, hwm := procMemKiB(t, pid, "VmRSS"), procMemKiB(t, pid, "VmHWM")
	t.Logf("master %d after 50 flips: VmRSS %d KiB, peak VmHWM %d KiB", pid, rss, hwm)
	// 16 MiB for the grid at the large size, as much again for the garbage
	// the collector lets build up, and the Go runtime's own.
	const limit = 96 << 10
	if hwm > limit {
		t.Errorf("master's peak resident memory %d KiB after 50 flips, want at most %d KiB", hwm, limit)
	}
	c.send(detachKey)
	c.wait(5 * time.Second)
}

// procMemKiB reads a "Vm...: N kB" field of /proc/PID/status.
func procMemKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("read the master's memory: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("parse %s of /proc/%d/status: %v", field, pid, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
