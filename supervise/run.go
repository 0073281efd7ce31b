package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"keeper/supervise/http1"
	"keeper/supervise/logfile"
)

// RunOptions says how to run a daemon.
type RunOptions struct {
	ConfigPath string
	// Config is the config the caller already read from ConfigPath, nil
	// to read it: a reexec's start-up is not held up by a second parse.
	Config *Config
	// Foreground keeps the daemon attached to the terminal, logging to
	// stdout too (nodaemon, -n).
	Foreground bool
	// Ready, if not nil, is called once the control socket answers, or
	// with the error that kept the daemon from starting.
	Ready func(err error)
}

// Run runs a daemon on the config at opts.ConfigPath until it is shut
// down. The process becomes a child subreaper before anything else, so no
// orphan of a supervised program is ever lost to PID 1. SIGTERM and SIGINT
// shut down, SIGHUP restarts (re-reading the config), SIGUSR2 reopens the
// logs, SIGUSR1 (ReexecSignal) executes the daemon's binary again in place
// (keeper reexec), SIGPIPE is ignored. Under a service manager that set
// NOTIFY_SOCKET (systemd's Type=notify), the daemon reports READY=1,
// RELOADING=1 and STOPPING=1 there, and its programs do not inherit the
// variable.
func Run(opts RunOptions) error {
	sd := newNotifier()
	ready := opts.Ready
	if ready == nil {
		ready = func(error) {}
	}
	fail := func(err error) error {
		ready(err)
		return err
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR2, ReexecSignal)
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Stop(sigs)

	handedOver, handoverErr := takeHandover()
	if handedOver != nil {
		// The daemon that executed this one reported ready long ago.
		ready = func(error) {}
	}
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = LoadConfig(opts.ConfigPath); err != nil {
			return fail(err)
		}
	}
	reaper, err := NewReaper(nil)
	if err != nil {
		return fail(err)
	}
	syscall.Umask(cfg.Supervisord.Umask)
	logFile, err := logfile.Open(cfg.Supervisord.Logfile, cfg.Supervisord.LogfileMaxBytes, cfg.Supervisord.LogfileBackups)
	if err != nil {
		return fail(fmt.Errorf("open daemon log: %w", err))
	}
	defer logFile.Close()
	level, err := logfile.ParseLevel(cfg.Supervisord.Loglevel)
	if err != nil {
		level = logfile.LevelInfo
	}
	var also io.Writer
	if opts.Foreground && !cfg.Supervisord.Silent {
		also = os.Stdout
	}
	if cfg.Supervisord.LogSyslog {
		// The daemon's log lines go to syslog too.
		also = teeLog{file: also, syslog: newSyslogLines("", nil)}
	}
	log := logfile.NewLogger(logFile, also, level)
	sd.setLog(log)
	for _, w := range cfg.Warnings {
		log.Warnf("%s", w.String())
	}

	if handoverErr != nil {
		log.Errorf("reexec: %v; starting afresh", handoverErr)
	}
	if handedOver == nil {
		handedOver = orphanedHandover(StateDir(cfg), log)
	}
	var ln net.Listener
	if handedOver != nil && handedOver.Control >= 0 {
		ln, err = adoptControl(cfg, log, handedOver.Control)
	} else {
		ln, err = ListenControl(cfg, log)
	}
	if err != nil {
		return fail(err)
	}
	// Before NewDaemon drops privileges: the port may be below 1024.
	inet := newInetServer(log)
	if handedOver != nil && handedOver.Inet != nil {
		f := os.NewFile(uintptr(handedOver.Inet.Fd), "inet")
		if err := inet.adopt(f, handedOver.Inet.Addr); err != nil {
			log.Errorf("reexec: %v; listening again", err)
		}
		f.Close()
	}
	if err := inet.open(cfg.Inet); err != nil {
		ln.Close()
		return fail(err)
	}
	defer inet.shutdown(context.Background())
	if err := writePidfile(cfg.Supervisord.Pidfile); err != nil {
		ln.Close()
		return fail(err)
	}
	defer os.Remove(cfg.Supervisord.Pidfile)

	var handler atomic.Pointer[http1.Handler]
	srv := &http1.Server{
		Handler: http1.HandlerFunc(func(w http1.ResponseWriter, r *http1.Request) {
			(*handler.Load()).ServeHTTP(w, r)
		}),
		MaxBodyBytes: 4 << 20,
		// A client that went quiet (an exporter that never closes) does
		// not hold a descriptor forever.
		IdleTimeout: 10 * time.Minute,
		LogAcceptError: func(err error) {
			log.Warnf("control socket %s: %v; accepting again with backoff", cfg.Server.File, err)
		},
	}
	// Process-wide settings, once for the daemon's life: a reload reads
	// the config again but keeps them, as supervisord does.
	// The daemon's heap is mostly short-lived request garbage: collect it
	// sooner than Go's default (100%) to stay small.
	debug.SetGCPercent(50)
	if err := raiseLimits(cfg.Supervisord); err != nil {
		ln.Close()
		return fail(err)
	}
	// After the socket and the log were opened as root, before any
	// program starts.
	if err := dropPrivileges(cfg.Supervisord.User); err != nil {
		ln.Close()
		return fail(err)
	}
	d, err := newDaemon(cfg, reaper, log, logFile, handedOver)
	if err != nil {
		ln.Close()
		return fail(err)
	}
	control := ln.(*peerListener).UnixListener
	go execOnRequest(d, control, inet)
	h := d.HTTPHandler()
	handler.Store(&h)
	go srv.Serve(ln)
	inet.serve(d.InetHandler())
	log.Infof("keeper %s started with pid %d, control socket %s", Version, os.Getpid(), cfg.Server.File)
	// Report ready once d.Run has spawned the autostart programs, so that
	// `keeper daemon && keeper status` finds them started, not "Not started".
	var readyOnce sync.Once
	reportReady := func() { readyOnce.Do(func() { ready(nil) }) }
	go func(d *Daemon) {
		d.waitFor(context.Background(), time.Minute, d.autostartedLocked)
		reportReady()
	}(d)
	go notifyStates(d, sd)

	for {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case sig := <-sigs:
					switch sig {
					case syscall.SIGHUP:
						log.Infof("received SIGHUP indicating restart request")
						sd.Reloading()
						d.Restart()
					case syscall.SIGUSR2:
						d.ReopenLogs()
					case ReexecSignal:
						log.Infof("received %s indicating reexec request", signalName(sig))
						if err := d.Reexec(); err != nil {
							log.Errorf("%v", err)
						}
					default:
						log.Infof("received %s indicating exit request", signalName(sig))
						sd.Stopping()
						d.Shutdown()
					}
				}
			}
		}()
		restart := d.Run(context.Background())
		cancel()
		reportReady()
		if !restart {
			break
		}
		next, err := LoadConfig(opts.ConfigPath)
		if err != nil {
			log.Errorf("restart: %v; keeping the config read before", err)
			next = d.cfg
		}
		nd, err := NewDaemon(next, reaper, log, logFile)
		if err != nil {
			log.Errorf("restart: %v; keeping the config read before", err)
			if nd, err = NewDaemon(d.cfg, reaper, log, logFile); err != nil {
				log.Criticalf("restart: %v", err)
				break
			}
		}
		d = nd
		go execOnRequest(d, control, inet)
		h := d.HTTPHandler()
		handler.Store(&h)
		if err := inet.open(d.cfg.Inet); err != nil {
			log.Errorf("restart: %v", err)
		}
		inet.serve(d.InetHandler())
		go notifyStates(d, sd)
	}
	sd.Stopping()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warnf("close control socket: %v", err)
	}
	inet.shutdown(shutdownCtx)
	log.Infof("keeper stopped")
	return nil
}

// notifyStates tells the service manager about one Daemon's life: ready
// once its autostart programs are spawned, then reloading or stopping as
// soon as a restart or a shutdown is asked for (by a signal, or over the
// control socket).
func notifyStates(d *Daemon, sd *notifier) {
	var mood Mood
	d.waitFor(context.Background(), time.Minute, func() bool {
		mood = d.mood
		return d.autostartedLocked()
	})
	if mood == MoodRunning {
		sd.Ready()
	}
	// Every Daemon ends in a restart or a shutdown before the next one.
	d.waitFor(context.Background(), 1<<62, func() bool {
		mood = d.mood
		return mood <= MoodRestarting
	})
	if mood == MoodRestarting {
		sd.Reloading()
	} else {
		sd.Stopping()
	}
}

// autostartedLocked reports whether every program set to start by itself
// was spawned at least once, or the daemon is on its way out.
func (d *Daemon) autostartedLocked() bool {
	if d.mood <= MoodRestarting {
		return true
	}
	for _, p := range d.processesLocked(false) {
		if p.cfg.Autostart && p.laststart.IsZero() {
			return false
		}
	}
	return true
}

// writePidfile writes the daemon's pid, replacing a file left by a dead
// daemon (the control socket already proved no live one owns it).
func writePidfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|logfile.NoFollowInSharedDir(path), 0o644)
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("write pidfile: %s is a symlink in a directory others can write; remove it (or move the pidfile)", path)
	}
	if err != nil {
		return fmt.Errorf("write pidfile: %w", err)
	}
	_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write pidfile: %w", err)
	}
	return nil
}

// execOnRequest executes the daemon's binary in place each time d is asked
// to (Reexec), until d stops; a failed exec leaves d running.
func execOnRequest(d *Daemon, control *net.UnixListener, inet *inetServer) {
	for {
		select {
		case <-d.reexec:
			if err := d.execInPlace(control, inet); err != nil {
				d.log.Errorf("%v", err)
			}
		case <-d.stopped:
			return
		}
	}
}

// takeHandover reads the handover a daemon left for this one when it
// executed it (HandoverEnv), and keeps it from the programs' environment.
func takeHandover() (*handover, error) {
	path := os.Getenv(HandoverEnv)
	if path == "" {
		return nil, nil
	}
	os.Unsetenv(HandoverEnv)
	// The file stays until the programs are taken over (adopt): if this
	// binary dies first, the next daemon re-adopts them from it.
	h, err := readHandover(path)
	if err == nil {
		execs.Store(int64(h.Execs))
	}
	return h, err
}

// HandingOver reports whether this process is a daemon executed in place
// by another (keeper reexec): its descriptors are the old daemon's.
func HandingOver() bool { return os.Getenv(HandoverEnv) != "" }
