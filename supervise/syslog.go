package supervise

import (
	"bytes"
	"io"
	"log/syslog"
	"os"
	"sync"
)

// Logs to syslog, as supervisord sends them: a program's stdout_syslog or
// stderr_syslog lines (or a *_logfile of syslog) tagged with the program's
// name, and with [supervisord] logfile=syslog the daemon's own log. Syslog
// unreachable is logged once and costs nothing else: the program's file
// log, if any, gets every line.

// SyslogSocketEnv names, for the tests, a datagram socket to use instead
// of the system's syslog (/dev/log).
const SyslogSocketEnv = "KEEPER_SYSLOG_SOCKET"

// dialSyslog connects to the syslog socket with supervisord's ident.
func dialSyslog() (*syslog.Writer, error) {
	if path := os.Getenv(SyslogSocketEnv); path != "" {
		return syslog.Dial("unixgram", path, syslog.LOG_INFO|syslog.LOG_USER, "supervisord")
	}
	return syslog.New(syslog.LOG_INFO|syslog.LOG_USER, "supervisord")
}

// syslogLines writes each line of a program's output to syslog as
// "NAME line", supervisord's format for program output.
type syslogLines struct {
	name    string
	down    func(error) // told when syslog cannot be reached; may be nil
	mu      sync.Mutex
	w       *syslog.Writer
	partial []byte
}

// newSyslogLines writes a program's lines (name) or, with name "", the
// daemon's own; down is told when syslog cannot be reached.
func newSyslogLines(name string, down func(error)) *syslogLines {
	return &syslogLines{name: name, down: down}
}

// Write sends the complete lines of p; it never fails (see teeLog).
func (s *syslogLines) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := append(s.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		s.send(data[:i])
		data = data[i+1:]
	}
	s.partial = append([]byte(nil), data...)
	return len(p), nil
}

func (s *syslogLines) send(line []byte) {
	if s.w == nil {
		w, err := dialSyslog()
		if err != nil {
			s.failed(err)
			return
		}
		s.w = w
	}
	msg := string(line)
	if s.name != "" {
		msg = s.name + " " + msg
	}
	if err := s.w.Info(msg); err != nil {
		s.failed(err)
		s.w.Close()
		s.w = nil
	}
}

func (s *syslogLines) failed(err error) {
	if s.down != nil {
		s.down(err)
	}
}

// syslogDown logs, once per daemon, that syslog cannot be reached.
func (d *Daemon) syslogDown(err error) {
	d.syslogOnce.Do(func() {
		d.log.Warnf("syslog unreachable (%v): program lines meant for it are not sent there; their file logs, if any, have them", err)
	})
}

// teeLog writes to the file log and to syslog; only the file log's errors
// count, so syslog can never cost the file a line.
type teeLog struct {
	file   io.Writer // nil: no file log
	syslog io.Writer
}

func (t teeLog) Write(p []byte) (int, error) {
	t.syslog.Write(p)
	if t.file == nil {
		return len(p), nil
	}
	return t.file.Write(p)
}
