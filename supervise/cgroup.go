package supervise

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// CgroupsEnv turns cgroup tracking off when set to "off" in the daemon's
// environment: programs are then tracked by the instance mark and process
// groups even where keeper could create cgroups (the tests use it to run
// the fallback on a host with cgroup v2).
const CgroupsEnv = "KEEPER_CGROUPS"

// cgroups tracks program instances with cgroup v2, as systemd's
// KillMode=control-group does: every program is started into a cgroup of
// its own (programs/NAMESPEC under the daemon's directory), whatever its
// processes do to their groups, sessions and environment they stay in it,
// and session masters are moved to sessions/ as soon as the daemon
// recognizes them, with everything running under them. The directory is
// below the daemon's own cgroup, named after its control socket, so a
// daemon started again with the same config finds the cgroups of the one
// before. It needs a writable cgroup v2 hierarchy: root on a cgroup v2
// host, or a delegated subtree (systemd's Delegate=yes).
type cgroups struct {
	dir string // the daemon's directory, holding programs/ and sessions/
}

// tracking says how the daemon tells a program's processes: cg when keeper
// can create cgroups, else why not.
type tracking struct {
	cg   *cgroups
	noCg string // why cgroups are not used
	// moved holds the session masters (pid to start time) already moved
	// to the sessions cgroup; guarded by the daemon's sessionsMu.
	moved map[int]uint64
}

// cgroups returns the cgroups in use, nil without (or without tracking).
func (t *tracking) cgroups() *cgroups {
	if t == nil {
		return nil
	}
	return t.cg
}

// String describes the tracking in use, for status -v.
func (t *tracking) String() string {
	if t.cg != nil {
		return "cgroup v2: each program in " + filepath.Join(t.cg.dir, "programs") + "/NAME, sessions in " +
			filepath.Join(t.cg.dir, "sessions")
	}
	return "process groups and the instance mark (no cgroup v2: " + t.noCg + ")"
}

// newTracking sets up cgroup tracking for the daemon with control socket
// socket, or says why it falls back to the instance mark.
func newTracking(socket string) *tracking {
	if os.Getenv(CgroupsEnv) == "off" {
		return &tracking{noCg: CgroupsEnv + "=off"}
	}
	cg, err := openCgroups(socket)
	if err != nil {
		return &tracking{noCg: err.Error()}
	}
	return &tracking{cg: cg}
}

// openCgroups creates (or finds) the daemon's cgroup directory below its
// own cgroup in the cgroup v2 hierarchy.
func openCgroups(socket string) (*cgroups, error) {
	own, err := OwnCgroup()
	if err != nil {
		return nil, err
	}
	h := fnv.New32a()
	h.Write([]byte(socket))
	cg := &cgroups{dir: filepath.Join(own, fmt.Sprintf("%s%08x", CgroupPrefix, h.Sum32()))}
	// The program and session cgroups are made when first needed, and
	// removed once empty, so that a daemon leaves nothing behind.
	if err := os.Mkdir(cg.dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create cgroup %s: %w (run as root or under systemd with Delegate=yes)", cg.dir, err)
	}
	return cg, nil
}

// CgroupPrefix starts the name of each daemon's cgroup directory, which
// sits in the daemon's own cgroup (OwnCgroup).
const CgroupPrefix = "keeper-"

// OwnCgroup returns the directory of the calling process's cgroup in the
// cgroup v2 hierarchy.
func OwnCgroup() (string, error) {
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	mount := cgroup2Mount(mountinfo)
	if mount == "" {
		return "", errors.New("no cgroup2 file system is mounted")
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	own, ok := unifiedCgroup(self)
	if !ok {
		return "", errors.New("/proc/self/cgroup names no cgroup v2 path")
	}
	return filepath.Join(mount, own), nil
}

// cgroup2Mount returns where /proc/self/mountinfo says the cgroup v2
// hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
// hybrid host), "" if nowhere. A line is
//
//	ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
func cgroup2Mount(mountinfo []byte) string {
	for line := range bytes.Lines(mountinfo) {
		fields := strings.Fields(string(line))
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 && fields[3] == "/" {
				return unescapeMount(fields[4])
			}
		}
	}
	return ""
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unifiedCgroup returns the cgroup v2 path in /proc/self/cgroup (its
// "0::/PATH" line).
func unifiedCgroup(procCgroup []byte) (string, bool) {
	for line := range bytes.Lines(procCgroup) {
		if rest, ok := bytes.CutPrefix(bytes.TrimRight(line, "\n"), []byte("0::")); ok {
			return string(rest), true
		}
	}
	return "", false
}

// programDir is the cgroup of program namespec.
func (cg *cgroups) programDir(namespec string) string {
	return filepath.Join(cg.dir, "programs", namespec)
}

// place makes cmd start in the cgroup of program namespec (clone3 with
// CLONE_INTO_CGROUP, so not even its first instruction runs outside). The
// returned function closes what place opened; call it once cmd started.
func (cg *cgroups) place(cmd *exec.Cmd, namespec string) (func(), error) {
	dir := cg.programDir(namespec)
	if err := mkdirCgroup(dir); err != nil {
		return nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = int(f.Fd())
	return func() { f.Close() }, nil
}

// members returns the pids in the cgroup of program namespec; the error
// wraps fs.ErrNotExist when the program has no cgroup.
func (cg *cgroups) members(namespec string) (map[int]bool, error) {
	return cgroupProcs(cg.programDir(namespec))
}

// cgroupProcs returns the pids in cgroup dir.
func cgroupProcs(dir string) (map[int]bool, error) {
	f, err := os.Open(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	defer f.Close()
	pids := map[int]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pid, err := strconv.Atoi(sc.Text()); err == nil {
			pids[pid] = true
		}
	}
	return pids, sc.Err()
}

// moveToSessions moves pid into the sessions cgroup. A process that exited
// meanwhile is not an error.
func (cg *cgroups) moveToSessions(pid int) error {
	dir := filepath.Join(cg.dir, "sessions")
	if err := mkdirCgroup(dir); err != nil {
		return err
	}
	return moveToCgroup(dir, pid)
}

// moveToCgroup moves pid into cgroup dir; a process that exited meanwhile
// is not an error.
func moveToCgroup(dir string, pid int) error {
	err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("move process %d to cgroup %s: %w", pid, dir, err)
	}
	return nil
}

// programsWithProcesses lists the programs whose cgroup holds processes.
func (cg *cgroups) programsWithProcesses() []string {
	ents, _ := os.ReadDir(filepath.Join(cg.dir, "programs"))
	var out []string
	for _, e := range ents {
		if pids, _ := cg.members(e.Name()); e.IsDir() && len(pids) > 0 {
			out = append(out, e.Name())
		}
	}
	return out
}

// mkdirCgroup creates the cgroup dir and its parents below the daemon's.
func mkdirCgroup(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return nil
}

// removeProgram removes the cgroup of program namespec if no process is
// left in it.
func (cg *cgroups) removeProgram(namespec string) { _ = os.Remove(cg.programDir(namespec)) }

// release hands what is still in the daemon's cgroups (sessions kept
// across a shutdown, processes kept by leftovers=keep) back to the daemon's
// own cgroup and removes the daemon's cgroups, so that a daemon that exits
// leaves none behind; the next one moves the sessions it adopts back into
// a sessions cgroup of its own.
func (cg *cgroups) release() error {
	own := filepath.Dir(cg.dir)
	dirs := []string{filepath.Join(cg.dir, "sessions")}
	ents, _ := os.ReadDir(filepath.Join(cg.dir, "programs"))
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, cg.programDir(e.Name()))
		}
	}
	var errs []error
	for _, dir := range dirs {
		pids, _ := cgroupProcs(dir)
		for pid := range pids {
			if err := moveToCgroup(own, pid); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, dir := range append(dirs[1:], filepath.Join(cg.dir, "programs"), dirs[0], cg.dir) {
		if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}
