//go:build linux

package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runDir holds shoal's lock files. It is under /run so that a reboot,
// which removes every namespace and link, removes the locks too.
const runDir = "/run/shoal"

// errLocked says another open file description holds the lock.
var errLocked = errors.New("locked")

func stackLockPath(stack string) string { return filepath.Join(runDir, "netns-"+stack+".lock") }

// allocLockPath serialises choosing a subnet and putting it on a bridge,
// across processes, so that two stacks opening at once cannot pick the
// same free /24.
var allocLockPath = filepath.Join(runDir, "netns.lock")

// lockStack takes the stack's lock, without waiting, and writes this
// process's id in it for the message another shoal shows.
func lockStack(stack string) (*os.File, error) {
	path := stackLockPath(stack)
	f, err := tryLock(path)
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("another shoal%s runs stack %s in isolated mode (it holds %s): stop it, or give this stack another name", holder(path), stack, path)
	}
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // only for the message above
	}
	return f, nil
}

// holder says which process holds the lock at path, when it wrote its id.
func holder(path string) string {
	b, err := os.ReadFile(path)
	if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
		return " (pid " + pid + ")"
	}
	return ""
}

// waitLock takes the lock at path, polling while another holds it: holders
// keep it for a few ip commands only.
func waitLock(ctx context.Context, path string) (*os.File, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*commandTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		f, err := tryLock(path)
		if !errors.Is(err, errLocked) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s, which another shoal holds: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}

// tryLock takes an exclusive flock on path, creating it, or fails with
// errLocked. The kernel drops the lock when the process dies, so a crash
// never leaves a stale lock. Because the holder removes the file when it
// closes, a lock taken on a file that is no longer at path is worthless:
// tryLock then starts again with the file now there.
func tryLock(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w (run shoal as root for isolated mode)", err)
	}
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, errLocked
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if samePath(f, path) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock %s: the file kept being replaced; is another program removing it?", path)
}

func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// unlockRemove removes the lock file, then drops the lock: in that order,
// so whoever takes the lock next holds it on the file at the path.
func unlockRemove(f *os.File) error {
	err := os.Remove(f.Name())
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, f.Close())
}
