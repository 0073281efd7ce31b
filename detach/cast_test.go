package detach

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readCast parses a recording: its header and events.
func readCast(t *testing.T, path string) (header map[string]any, events [][]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if header == nil {
			if err := json.Unmarshal(sc.Bytes(), &header); err != nil {
				t.Fatalf("header %q: %v", sc.Text(), err)
			}
			continue
		}
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		events = append(events, ev)
	}
	return header, events
}

func TestCastWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	c, err := openCast(path, Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	euro := []byte("€") // three bytes, split across two reads
	c.output([]byte("a" + string(euro[:1])))
	c.output(append(euro[1:], "b\xffc"...))
	c.resize(Winsize{Rows: 50, Cols: 132})
	c.output([]byte("end\r\n"))
	c.close()

	header, events := readCast(t, path)
	if header["version"] != 2.0 || header["width"] != 80.0 || header["height"] != 24.0 {
		t.Errorf("header %v", header)
	}
	var out strings.Builder
	last := -1.0
	for _, ev := range events {
		at := ev[0].(float64)
		if at < last {
			t.Errorf("time went back: %v after %v", at, last)
		}
		last = at
		switch ev[1] {
		case "o":
			out.WriteString(ev[2].(string))
		case "r":
			if ev[2] != "132x50" {
				t.Errorf("resize event %v, want 132x50", ev[2])
			}
		}
	}
	if want := "a€b\uFFFDcend\r\n"; out.String() != want {
		t.Errorf("recorded output %q, want %q", out.String(), want)
	}
}

func TestCastRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	c, err := openCast(path, Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	c.maxBytes, c.backups = 300, 2
	for range 40 {
		c.output([]byte("0123456789abcdefghij\r\n"))
	}
	c.close()
	for _, p := range []string{path, path + ".1", path + ".2"} {
		if header, _ := readCast(t, p); header["version"] != 2.0 {
			t.Errorf("%s: header %v, want each file playable on its own", p, header)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("a third backup with backups=2: %v", err)
	}
}
