package supervise

import (
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit is how a reaped process ended.
type Exit struct {
	Pid    int
	Status syscall.WaitStatus
}

// Reaper owns wait4 for the whole daemon: one goroutine reaps every child
// and orphan and hands each exit to the subscriber registered for its pid.
// Subscription happens under the same lock as the fork, so an exit can never
// arrive before its subscriber. Nothing else in the daemon may wait.
type Reaper struct {
	mu sync.Mutex
	// reaping is held by reap while it collects, and by hold to stop it.
	reaping  sync.Mutex
	waiters  map[int]chan Exit
	orphaned func(Exit) // exits nobody subscribed to: adopted session masters
}

// NewReaper makes the calling process a child subreaper, so orphans of its
// descendants are re-parented to it, and starts reaping on SIGCHLD.
// orphaned, if not nil, is called (without locks held) for every exit that
// had no subscriber.
func NewReaper(orphaned func(Exit)) (*Reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, os.NewSyscallError("prctl PR_SET_CHILD_SUBREAPER", err)
	}
	r := &Reaper{waiters: make(map[int]chan Exit), orphaned: orphaned}
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	go func() {
		for range sigchld {
			r.reap()
		}
	}()
	return r, nil
}

// Start starts cmd and returns a channel that receives its exit. cmd must
// not be waited for by anyone else.
func (r *Reaper) Start(cmd *exec.Cmd) (<-chan Exit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan Exit, 1)
	r.waiters[cmd.Process.Pid] = ch
	return ch, nil
}

// Watch subscribes to the exit of pid, a child the daemon did not start
// with Start (an adopted session master). It reports false when pid is not
// a child of ours to wait for.
func (r *Reaper) Watch(pid int) (<-chan Exit, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.waiters[pid]; ok {
		return nil, false
	}
	ch := make(chan Exit, 1)
	r.waiters[pid] = ch
	return ch, true
}

// reap collects every child that has exited.
func (r *Reaper) reap() {
	r.reaping.Lock()
	defer r.reaping.Unlock()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		ch, ok := r.waiters[pid]
		delete(r.waiters, pid)
		r.mu.Unlock()
		exit := Exit{Pid: pid, Status: ws}
		if ok {
			ch <- exit
		} else if r.orphaned != nil {
			r.orphaned(exit)
		}
	}
}

// hold stops reaping until release, so exits stay with the kernel (as
// zombies) while the daemon hands its children over to its next binary.
func (r *Reaper) hold() { r.reaping.Lock() }

// release lets reaping go on after hold, and collects what exited meanwhile.
func (r *Reaper) release() {
	r.reaping.Unlock()
	go r.reap()
}
