//go:build linux || darwin

package driver

import (
	"syscall"
	"time"
	"unsafe"
)

// pPID is waitid's idtype for "the process with this pid", 1 on Linux and
// macOS alike.
const pPID = 1

// The si_code of a SIGCHLD siginfo for a child that has not exited (the
// same numbers on Linux and macOS).
const (
	cldTrapped   = 4
	cldStopped   = 5
	cldContinued = 6
)

// siginfo is the head of siginfo_t, which Linux and macOS both start with
// si_signo, si_errno and si_code; the padding covers the rest (128 bytes on
// Linux, 104 on macOS).
type siginfo struct {
	_    [2]int32 // si_signo, si_errno
	code int32
	_    [116]byte
}

// stoppedPoll is how long waitExited waits before asking again when the
// kernel reports a stopped or continued child although only exits were
// asked for.
const stoppedPoll = 100 * time.Millisecond

// WaitExited blocks until process pid, a child of this process, has exited,
// without reaping it: while it is a zombie its pid, and so the process group
// id it leads, cannot be reused, and the group can be signalled safely.
//
// Linux and macOS both implement waitid(P_PID, pid, WEXITED|WNOWAIT) (on
// macOS, syscall 173, which Go's syscall package numbers but does not wrap),
// so the guarantee is the same on both. waitid has been reported to return
// for a stopped child on recent macOS although WSTOPPED was not asked for;
// a status that is not an exit is therefore waited out, not trusted.
func WaitExited(pid int) error {
	for {
		var info siginfo
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return errno
		case info.code == cldStopped || info.code == cldContinued || info.code == cldTrapped:
			time.Sleep(stoppedPoll) // not exited: ask again
			continue
		}
		return nil
	}
}
