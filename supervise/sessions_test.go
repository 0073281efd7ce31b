package supervise

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDirListings checks that a directory's listing is kept only once
// its last change has settled, and only while it does not change.
func TestDirListings(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	touch("1.session")
	touch("x.tmp")
	isRecord := func(e os.DirEntry) bool { return strings.HasSuffix(e.Name(), ".session") }
	var l dirListings
	list := func(now time.Time, wantSame bool, want ...string) {
		t.Helper()
		names, same, err := l.list(dir, now, isRecord)
		if err != nil || same != wantSame || !slices.Equal(names, want) {
			t.Errorf("list: %v, same %v, %v; want %v, same %v", names, same, err, want, wantSame)
		}
	}
	now := time.Now()
	list(now, false, "1.session")
	list(now, false, "1.session") // changed within settleTime of the listing
	later := now.Add(2 * settleTime)
	list(later, false, "1.session") // settled now: kept from here on
	list(later, true, "1.session")
	touch("2.session")
	list(later, false, "1.session", "2.session")
	if err := os.Remove(filepath.Join(dir, "1.session")); err != nil {
		t.Fatal(err)
	}
	list(later.Add(4*settleTime), false, "2.session")

	l.forget(later) // not listed at later: dropped
	if len(l.dirs) != 0 {
		t.Errorf("listings of directories not listed kept: %v", l.dirs)
	}
	if _, _, err := l.list(filepath.Join(dir, "none"), now, isRecord); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("list of a missing directory: %v, want not exist", err)
	}
}
