package driver

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// runNetnsExec enters the namespace args[0] names and execs args[1] with
// argv args[2:]. It returns only when that fails, with the exit status.
func runNetnsExec(args []string) int {
	if len(args) < 3 {
		fmt.Fprintf(os.Stderr, "usage: %s <namespace path> <path> <argv0> [args...]\n", netnsExecName)
		return shimUsage
	}
	// Namespaces belong to threads: this one enters it and execs, and
	// execve keeps the calling thread's namespace for the new program.
	runtime.LockOSThread()
	if err := setns(args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: enter network namespace %s: %v\n", netnsExecName, args[0], err)
		return shimNoCommand
	}
	err := syscall.Exec(args[1], args[2:], os.Environ())
	fmt.Fprintf(os.Stderr, "%s: exec %s: %v\n", netnsExecName, args[1], err)
	return shimNoCommand
}

// setns moves the calling thread into the network namespace at path.
func setns(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Setns(fd, unix.CLONE_NEWNET)
}
