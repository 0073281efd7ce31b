package logfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"keeper/internal/peer"
)

func TestLoggerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supervisord.log")
	f, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stdout bytes.Buffer
	l := NewLogger(f, &stdout, LevelInfo)
	l.now = func() time.Time { return time.Date(2026, 11, 26, 12, 13, 14, 123999999, time.Local) }
	l.Infof("spawned: %q with pid %d", "gateone", 4242) // %q: Go quoting, not Python's
	l.Logf(LevelInfo, "spawned: '%s' with pid %d", "gateone", 4242)
	l.Debugf("not written")
	l.Warnf("multi\nline")
	want := "2026-11-26 12:13:14,123 INFO spawned: \"gateone\" with pid 4242\n" +
		"2026-11-26 12:13:14,123 INFO spawned: 'gateone' with pid 4242\n" +
		"2026-11-26 12:13:14,123 WARN multi\nline\n"
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
	}
}

func TestLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(nil, &buf, LevelTrace)
	l.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.Local) }
	for _, f := range []func(string, ...any){l.Criticalf, l.Errorf, l.Warnf, l.Infof, l.Debugf, l.Tracef, l.Blatherf} {
		f("m")
	}
	want := ""
	for _, lv := range []string{"CRIT", "ERRO", "WARN", "INFO", "DEBG", "TRAC"} {
		want += "2026-01-02 03:04:05,006 " + lv + " m\n"
	}
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	buf.Reset()
	l.SetLevel(LevelError)
	if l.Level() != LevelError || l.Enabled(LevelWarn) || !l.Enabled(LevelCritical) {
		t.Errorf("SetLevel(LevelError): level %v", l.Level())
	}
	l.Warnf("no")
	l.Errorf("yes")
	if buf.String() != "2026-01-02 03:04:05,006 ERRO yes\n" {
		t.Errorf("at error level: %q", buf.String())
	}
}

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
		ok   bool
	}{
		{"critical", LevelCritical, true}, {"error", LevelError, true}, {"warn", LevelWarn, true},
		{"info", LevelInfo, true}, {"debug", LevelDebug, true}, {"trace", LevelTrace, true},
		{"blather", LevelBlather, true}, {"INFO", LevelInfo, true}, {"Debug", LevelDebug, true},
		{"warning", 0, false}, {"crit", 0, false}, {"", 0, false}, {" info", 0, false}, {"20", 0, false},
	} {
		got, err := ParseLevel(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLevel(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), fmt.Sprintf("parse log level %q: ", tc.in)) {
			t.Errorf("error text %q", err)
		}
	}
	if s := Level(7).String(); s != "Level(7)" {
		t.Errorf("Level(7).String() = %q", s)
	}
}

// pyLogger logs "m <name>" at every level through supervisord's own logger,
// set to level argv[2], with the main log's format, into the file argv[1].
const pyLogger = `
import sys
from supervisor import loggers
from supervisor.datatypes import logging_level
lg = loggers.getLogger(logging_level(sys.argv[2]))
loggers.handle_file(lg, sys.argv[1], '%(asctime)s %(levelname)s %(message)s\n')
for name in ['critical', 'error', 'warn', 'info', 'debug', 'trace', 'blather']:
    getattr(lg, name)('m ' + name)
lg.close()
`

// TestLoggerMatchesSupervisord compares the lines (timestamps masked) of
// supervisord's logger and ours at each level setting.
func TestLoggerMatchesSupervisord(t *testing.T) {
	peer.Need(t, "python3-supervisor")
	stamp := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} `)
	for _, level := range []string{"critical", "warn", "info", "debug", "blather"} {
		dir := t.TempDir()
		pyPath := filepath.Join(dir, "py.log")
		runPython(t, pyLogger, pyPath, level)
		py, err := os.ReadFile(pyPath)
		if err != nil {
			t.Fatal(err)
		}
		lv, err := ParseLevel(level)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Open(filepath.Join(dir, "ours.log"), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		l := NewLogger(f, nil, lv)
		for _, name := range []string{"critical", "error", "warn", "info", "debug", "trace", "blather"} {
			nl, _ := ParseLevel(name)
			l.Logf(nl, "m %s", name)
		}
		f.Close()
		ours, _ := os.ReadFile(f.Path())
		if n := len(stamp.FindAll(py, -1)); n == 0 || n != len(stamp.FindAll(ours, -1)) {
			t.Errorf("level %s: %d timestamped lines from supervisord, ours:\n%s", level, n, ours)
		}
		pyM, oursM := stamp.ReplaceAllString(string(py), "T "), stamp.ReplaceAllString(string(ours), "T ")
		if pyM != oursM {
			t.Errorf("level %s:\nsupervisord:\n%s\nkeeper:\n%s", level, pyM, oursM)
		}
	}
}

func TestLoggerConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supervisord.log")
	f, err := Open(path, 2048, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stdout bytes.Buffer
	l := NewLogger(f, &stdout, LevelInfo)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				l.Infof("g%d i%d", g, i)
				if i == 100 && g == 0 {
					l.SetLevel(LevelDebug)
				}
			}
		})
	}
	wg.Wait()
	all := readAllBackups(t, path)
	if !bytes.Equal(all, stdout.Bytes()) {
		t.Error("file and stdout differ")
	}
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO g\d i\d+$`)
	lines := strings.Split(strings.TrimSuffix(string(all), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, s := range lines {
		if !line.MatchString(s) {
			t.Fatalf("torn line %q", s)
		}
	}
}
