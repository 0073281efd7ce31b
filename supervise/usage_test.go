package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	gopsprocess "github.com/shirou/gopsutil/v3/process"

	"keeper/proctree"
)

func TestMovedMuch(t *testing.T) {
	for _, tc := range []struct {
		then, now uint64
		want      bool
	}{
		{800, 800, false},
		{800, 900, false}, // an eighth exactly
		{800, 901, true},
		{800, 700, false},
		{800, 699, true},
		{0, 1, true},
		{0, 0, false},
	} {
		if got := movedMuch(tc.then, tc.now); got != tc.want {
			t.Errorf("movedMuch(%d, %d) = %v, want %v", tc.then, tc.now, got, tc.want)
		}
	}
}

// TestPSSReuse: a process's PSS is read again only when the last reading is
// pssMaxAge old or its resident memory moved by more than an eighth; sweep
// forgets what was not used for pssMaxAge.
func TestPSSReuse(t *testing.T) {
	self, err := proctree.Stat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var c usageCache
	t0 := time.Unix(1000, 0)
	first := c.pssOf(self, t0)
	if first == 0 {
		t.Skip("no smaps_rollup on this kernel")
	}
	// A planted reading shows whether the next call reads /proc again.
	planted := func(at time.Time, rss uint64) {
		c.pss[self.Identity()] = pssSample{at: at, rssPages: rss, pss: 1}
	}
	for _, tc := range []struct {
		name   string
		age    time.Duration
		rss    uint64
		reused bool
	}{
		{"fresh, same RSS", time.Second, self.RSSPages, true},
		{"fresh, RSS within an eighth", time.Second, self.RSSPages - self.RSSPages/10, true},
		{"fresh, RSS moved", time.Second, self.RSSPages / 2, false},
		{"old", pssMaxAge, self.RSSPages, false},
	} {
		planted(t0, tc.rss)
		got := c.pssOf(self, t0.Add(tc.age))
		if reused := got == 1; reused != tc.reused {
			t.Errorf("%s: reused = %v, want %v (pss %d)", tc.name, reused, tc.reused, got)
		}
	}

	c.percent("program a", &Usage{CPUSeconds: 1}, t0)
	c.sweep(t0.Add(pssMaxAge - time.Second)) // within the interval: nothing goes
	c.sweep(t0.Add(2 * pssMaxAge))
	if len(c.cpu) != 0 || len(c.pss) != 0 {
		t.Errorf("after a sweep %v later, %d CPU and %d PSS entries are left, want none", 2*pssMaxAge, len(c.cpu), len(c.pss))
	}
}

// TestFDCount: a process holding a known set of descriptors shows that
// many, as gopsutil counts them too. (Not the test itself: reading its own
// /proc/self/fd counts the descriptor the reader holds open.)
func TestFDCount(t *testing.T) {
	var extra []*os.File
	for range 5 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	cmd := exec.Command("sleep", "60")
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	// At least stdin, stdout, stderr and the extras; the test binary may
	// hand on a descriptor or two of its own. While sleep starts, its
	// loader opens and closes files of its own: the three counts are
	// compared once sleep holds still, that is once two rounds of them
	// agree.
	var got, listed, gops int
	var gopsErr error
	deadline := time.Now().Add(5 * time.Second)
	for prev := -1; ; prev = got {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		listed, got = len(ents), fdCount(cmd.Process.Pid)
		n, err := (&gopsprocess.Process{Pid: int32(cmd.Process.Pid)}).NumFDs()
		gops, gopsErr = int(n), err
		if got == prev && got == listed && got == gops || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got != listed || got < 3+len(extra) {
		t.Errorf("fdCount(sleep) = %d; its fd directory lists %d, and it holds at least %d", got, listed, 3+len(extra))
	}
	if gopsErr != nil || gops != got {
		t.Errorf("gopsutil's NumFDs(sleep) = %d, %v; fdCount says %d", gops, gopsErr, got)
	}
}

func TestInParallel(t *testing.T) {
	for _, n := range []int{0, 1, 16, 17, 100, 1000} {
		seen := make([]int, n)
		inParallel(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, c := range seen {
			if c != 1 {
				t.Errorf("n=%d: %d called %d times, want once", n, i, c)
			}
		}
	}
}
