//go:build linux

package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// errGoexit stands for fn's result when fn ended its goroutine instead of
// returning (runtime.Goexit, t.FailNow).
var errGoexit = errors.New("the function run in the namespace did not return (runtime.Goexit)")

// do runs fn in a fresh goroutine whose thread is in the namespace at path,
// and waits for it. A fresh goroutine, so that the caller's thread never
// changes namespace.
func (n *Network) do(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		err := errGoexit
		defer func() { errc <- err }()
		err = inNamespace(path, fn)
	}()
	return <-errc
}

// inNamespace runs fn with the calling goroutine locked to its thread and
// the thread in the network namespace at path, then moves the thread back.
// If moving back fails the thread stays locked, so the runtime ends it with
// the goroutine instead of running other goroutines in the wrong namespace.
func inNamespace(path string, fn func() error) error {
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open this thread's network namespace: %w", err)
	}
	defer home.Close()
	if err := enter(path); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	fnErr := fn()
	if err := setns(home); err != nil {
		return errors.Join(fnErr, fmt.Errorf("return to the host network namespace: %w (the thread is discarded)", err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// enter moves the calling thread into the network namespace at path.
func enter(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer f.Close()
	if err := setns(f); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", path, err)
	}
	return nil
}

func setns(f *os.File) error {
	_, _, errno := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
