package driver

import (
	"syscall"
	"unsafe"
)

// pPID is waitid's idtype for "the process with this pid".
const pPID = 1

// waitExited blocks until process pid has exited, without reaping it: while
// it is a zombie its pid, and so the process group id it leads, cannot be
// reused, and the group can be signalled safely.
func waitExited(pid int) error {
	var info [128]byte // siginfo_t; only the return matters
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}
