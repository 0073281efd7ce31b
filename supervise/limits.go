package supervise

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// raiseLimits makes sure the daemon may open minfds descriptors and run
// minprocs processes, raising the soft limits as supervisord does; it
// fails only when the hard limit is too low and cannot be raised.
func raiseLimits(cfg SupervisordConfig) error {
	limits := []struct {
		resource int
		name     string
		want     int
	}{
		{syscall.RLIMIT_NOFILE, "minfds", cfg.Minfds},
		{unix.RLIMIT_NPROC, "minprocs", cfg.Minprocs},
	}
	for _, l := range limits {
		var r syscall.Rlimit
		if err := syscall.Getrlimit(l.resource, &r); err != nil || l.want <= 0 || r.Cur >= uint64(l.want) {
			continue
		}
		r.Cur = uint64(l.want)
		if r.Max < r.Cur {
			r.Max = r.Cur
		}
		if err := syscall.Setrlimit(l.resource, &r); err != nil {
			return fmt.Errorf("raise the limit for %s=%d: %w (raise the hard limit, or lower %s in [supervisord])", l.name, l.want, err, l.name)
		}
	}
	return nil
}

// dropPrivileges switches the daemon to [supervisord] user when it runs as
// root; as that user already it does nothing, and as another non-root user
// it refuses, as supervisord does.
func dropPrivileges(name string) error {
	if name == "" {
		return nil
	}
	a, err := lookupAccount(name)
	if err != nil {
		return fmt.Errorf("[supervisord] user: %w", err)
	}
	if uint32(os.Geteuid()) == a.uid {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("[supervisord] user=%s: can't switch users when not started as root", name)
	}
	groups := make([]int, len(a.groups))
	for i, g := range a.groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("[supervisord] user=%s: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(int(a.gid)); err != nil {
		return fmt.Errorf("[supervisord] user=%s: setgid: %w", name, err)
	}
	if err := syscall.Setuid(int(a.uid)); err != nil {
		return fmt.Errorf("[supervisord] user=%s: setuid: %w", name, err)
	}
	return nil
}
