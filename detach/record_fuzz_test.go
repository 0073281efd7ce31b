package detach

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadRecordFile: any bytes a program's user writes as a record are
// read without panic, and a record read has a positive pid.
func FuzzReadRecordFile(f *testing.F) {
	f.Add([]byte(`{"name":"s","socket":"/tmp/s","program":"p","pid":12,"start_time":34,"maker":"keeper"}`))
	f.Add([]byte(`{"pid":-1}`))
	f.Add([]byte("\x00\xff{"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "r.session")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if r, _, err := ReadRecordFile(path); err == nil && r.PID <= 0 {
			t.Fatalf("record with pid %d accepted", r.PID)
		}
	})
}
