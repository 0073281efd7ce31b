package logfile

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Level is a log level with supervisord's numbers: a message is written when
// its level is at least the logger's.
type Level int

// The levels, with supervisord's numbers (loggers.LevelsByName) and names
// (loglevel=critical ... blather).
const (
	LevelBlather  Level = 3
	LevelTrace    Level = 5
	LevelDebug    Level = 10
	LevelInfo     Level = 20
	LevelWarn     Level = 30
	LevelError    Level = 40
	LevelCritical Level = 50
)

var levelNames = []struct {
	level       Level
	name, label string // name: in the config; label: in log lines
}{
	{LevelCritical, "critical", "CRIT"},
	{LevelError, "error", "ERRO"},
	{LevelWarn, "warn", "WARN"},
	{LevelInfo, "info", "INFO"},
	{LevelDebug, "debug", "DEBG"},
	{LevelTrace, "trace", "TRAC"},
	{LevelBlather, "blather", "BLAT"},
}

// String returns the level as supervisord writes it in a log line: CRIT,
// ERRO, WARN, INFO, DEBG, TRAC or BLAT (or Level(n) for another number).
func (l Level) String() string {
	for _, n := range levelNames {
		if n.level == l {
			return n.label
		}
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel parses a loglevel value as supervisord does: one of critical,
// error, warn, info, debug, trace, blather, in any case.
func ParseLevel(s string) (Level, error) {
	ls := strings.ToLower(s)
	for _, n := range levelNames {
		if n.name == ls {
			return n.level, nil
		}
	}
	return 0, fmt.Errorf("parse log level %q: bad logging level name (want critical, error, warn, info, debug, trace or blather)", s)
}

// Logger writes the daemon's own log in supervisord's format,
// "2026-11-26 12:13:14,123 INFO spawned: 'gateone' with pid 4242" (local
// time, milliseconds truncated), one message and a newline per record, to a
// File and optionally also to another writer (stdout, when supervisord would
// run with nodaemon and not silent). It is safe for concurrent use; records
// reach both writers whole and in the same order.
//
// Write errors are dropped: the log has nowhere else to report them
// (supervisord prints a traceback to its stderr and goes on).
type Logger struct {
	level atomic.Int64
	file  *File
	also  io.Writer
	now   func() time.Time

	mu  sync.Mutex
	buf []byte
}

// NewLogger returns a Logger writing records at level or above to file and,
// if also is not nil, first to also; either may be nil.
func NewLogger(file *File, also io.Writer, level Level) *Logger {
	l := &Logger{file: file, also: also, now: time.Now}
	l.level.Store(int64(level))
	return l
}

// SetLevel changes the lowest level written.
func (l *Logger) SetLevel(level Level) { l.level.Store(int64(level)) }

// Level returns the lowest level written.
func (l *Logger) Level() Level { return Level(l.level.Load()) }

// Enabled reports whether a record at level would be written, so a caller can
// skip building an expensive message.
func (l *Logger) Enabled(level Level) bool { return level >= l.Level() }

// Logf writes a record at level, if enabled, with the message formatted as
// by fmt.Sprintf.
func (l *Logger) Logf(level Level, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := t.AppendFormat(l.buf[:0], "2006-01-02 15:04:05,000")
	b = append(b, ' ')
	b = append(b, level.String()...)
	b = append(b, ' ')
	b = fmt.Appendf(b, format, args...)
	b = append(b, '\n')
	if l.also != nil {
		l.also.Write(b)
	}
	if l.file != nil {
		l.file.Write(b)
	}
	if cap(b) <= 64<<10 {
		l.buf = b
	}
}

// Criticalf writes a record at LevelCritical.
func (l *Logger) Criticalf(format string, args ...any) { l.Logf(LevelCritical, format, args...) }

// Errorf writes a record at LevelError.
func (l *Logger) Errorf(format string, args ...any) { l.Logf(LevelError, format, args...) }

// Warnf writes a record at LevelWarn.
func (l *Logger) Warnf(format string, args ...any) { l.Logf(LevelWarn, format, args...) }

// Infof writes a record at LevelInfo.
func (l *Logger) Infof(format string, args ...any) { l.Logf(LevelInfo, format, args...) }

// Debugf writes a record at LevelDebug.
func (l *Logger) Debugf(format string, args ...any) { l.Logf(LevelDebug, format, args...) }

// Tracef writes a record at LevelTrace.
func (l *Logger) Tracef(format string, args ...any) { l.Logf(LevelTrace, format, args...) }

// Blatherf writes a record at LevelBlather.
func (l *Logger) Blatherf(format string, args ...any) { l.Logf(LevelBlather, format, args...) }
