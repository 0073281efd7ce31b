package detach

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// readNB and writeNB are read(2) and write(2) on a non-blocking descriptor,
// made as raw system calls: they never block, so the runtime need not be
// told a call may (entersyscall). That notice wakes the runtime's monitor
// thread (sysmon) whenever it was asleep, which it is whenever the master
// was idle: on an echo that wake-up and the monitor's polling after it cost
// more CPU than the master's own work (see README, Measured). Every
// descriptor given to them must be in non-blocking mode.
func readNB(fd int, p []byte) (int, error) { return rawIO(unix.SYS_READ, fd, p) }

func writeNB(fd int, p []byte) (int, error) { return rawIO(unix.SYS_WRITE, fd, p) }

// rawIO is read(2) or write(2) (trap) of p on fd as a raw system call.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
