// Package store keeps shoal's desired state on disk, in the state directory,
// so that nothing a user asked for is lost when the process dies. Every file
// is written atomically: a temporary file in the same folder, fsync, rename,
// fsync of the folder. A reader sees the old file or the new one, never half.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is returned by Open when another shoal holds the state directory.
var ErrLocked = errors.New("state directory in use")

const (
	lockFile    = "lock"
	desiredFile = "desired.json"
	// SocketName is the admin API's unix socket in the state directory.
	SocketName = "shoal.sock"
)

// Store is an open, locked state directory.
type Store struct {
	dir  string
	lock *os.File
}

// Desired is the stack a user asked for, as given: the file it came from and
// its bytes, so that it can be parsed again exactly as it was.
type Desired struct {
	File      string    `json:"file"`
	Source    []byte    `json:"source"`
	AppliedAt time.Time `json:"applied_at"`
}

// Open creates dir (mode 0700) if needed and takes its lock, so that two
// shoals never share one state directory. The lock is released by Close or
// when the process dies.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readPid(f)
		f.Close()
		return nil, fmt.Errorf("%w: another shoal (pid %s) is running with state directory %s; stop it or pass another --state-dir", ErrLocked, holder, dir)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Store{dir: dir, lock: f}, nil
}

func readPid(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if pid := strings.TrimSpace(string(b[:n])); pid != "" {
		return pid
	}
	return "unknown"
}

// Dir is the state directory.
func (s *Store) Dir() string { return s.dir }

// SocketPath is where the admin API listens.
func (s *Store) SocketPath() string { return filepath.Join(s.dir, SocketName) }

// Close releases the lock.
func (s *Store) Close() error { return s.lock.Close() }

// SaveDesired records the stack a user asked for.
func (s *Store) SaveDesired(d Desired) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(s.dir, desiredFile), b, 0o600)
}

// LoadDesired reads the last stack recorded in the state directory dir
// (ok is false when none is), without taking its lock: the file is only ever
// replaced whole.
func LoadDesired(dir string) (d Desired, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, desiredFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Desired{}, false, nil
	}
	if err != nil {
		return Desired{}, false, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return Desired{}, false, fmt.Errorf("%s: %w", desiredFile, err)
	}
	return d, true, nil
}

// WriteFileAtomic writes data to path so that a crash at any moment leaves
// either the old file or the new one.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
