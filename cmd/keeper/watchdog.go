package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"keeper/supervise/xmlrpc"
)

// defaultAnswerTimeout is how long a client waits for a daemon that does not
// answer at all. Calls may legitimately take much longer (a stop waits up to
// the program's stopwaitsecs): what is timed is a separate probe, not the call.
const defaultAnswerTimeout = 10 * time.Second

// firstProbeAfter is how long a call runs before the daemon is first probed;
// most calls are answered well within it and never cost a probe.
const firstProbeAfter = time.Second

// errNotAnswering is the cause of a call given up because the daemon stopped
// answering (SIGSTOPped, or wedged before reading requests).
var errNotAnswering = errors.New("daemon not answering")

// answerTimeout reads KEEPER_TIMEOUT, the seconds a client waits for a daemon
// that does not answer.
func answerTimeout() (time.Duration, error) {
	v := os.Getenv("KEEPER_TIMEOUT")
	if v == "" {
		return defaultAnswerTimeout, nil
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 {
		return 0, fmt.Errorf("KEEPER_TIMEOUT=%q: want a positive number of seconds", v)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// callWatched calls method, and while the call runs probes the daemon on a
// connection of its own with supervisor.getVersion (which takes no lock in
// keeper, and is cheap in supervisord). A probe without an answer within
// timeout gives the call up with an error wrapping errNotAnswering: a daemon
// that is alive but busy (waiting for a program to stop) answers the probe
// and the call goes on, however long it takes.
func callWatched(ctx context.Context, client *xmlrpc.Client, probe func() *xmlrpc.Client, timeout time.Duration, method string, args ...any) (any, error) {
	ctx, giveUp := context.WithCancelCause(ctx)
	defer giveUp(nil)
	done := make(chan struct{})
	defer close(done)
	go func() {
		wait := min(firstProbeAfter, timeout)
		for {
			select {
			case <-done:
				return
			case <-time.After(wait):
			}
			wait = timeout / 2
			p := probe()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			_, err := p.Call(pctx, "supervisor.getVersion")
			p.Close()
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				giveUp(fmt.Errorf("call %s on %s: %w (no answer in %v): it may be stopped (SIGSTOP) or wedged; set KEEPER_TIMEOUT to wait longer",
					method, client.Addr(), errNotAnswering, timeout))
				return
			}
		}
	}()
	v, err := client.Call(ctx, method, args...)
	if cause := context.Cause(ctx); errors.Is(cause, errNotAnswering) {
		return nil, cause
	}
	return v, err
}
