// Package store keeps shoal's desired state on disk, in the state directory,
// so that nothing a user asked for is lost when the process dies. Every file
// is written atomically: a temporary file in the same folder, fsync, rename,
// fsync of the folder. A reader sees the old file or the new one, never half.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// ErrUnsafe is returned when the state directory, or a file in it, is not
// safe to trust: another user could replace what shoal reads and writes there.
var ErrUnsafe = errors.New("unsafe state directory")

const (
	lockFile    = "lock"
	desiredFile = "desired.json"
	eventsFile  = "events.json"
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
	// State is what the agent must not forget beyond the stack: task
	// definition revisions, desired counts, deployments, instance
	// statuses. The agent owns its format.
	State json.RawMessage `json:"state,omitempty"`
}

// Open creates dir (mode 0700) if needed, checks it with CheckDir and takes
// its lock, so that two shoals never share one state directory. The lock is
// released by Close or when the process dies.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	f, err := openNoFollow(dir, lockFile, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
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

// CheckDir makes sure the state directory dir can be trusted: it is a real
// directory (not a symbolic link), owned by the effective user, and not
// writable by group or others, so nobody else can plant or replace a file or
// the admin socket in it. Its errors match ErrUnsafe and say how to fix the
// directory; a missing dir gives an error matching fs.ErrNotExist.
func CheckDir(dir string) error {
	fi, err := os.Lstat(filepath.Clean(dir)) // Clean: "dir/" would follow a link
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	mode := fi.Mode()
	if mode&fs.ModeSymlink != 0 {
		to, _ := os.Readlink(dir)
		return fmt.Errorf("%w %s: it is a symbolic link (to %s), which shoal does not follow: pass the real directory with --state-dir", ErrUnsafe, dir, to)
	}
	if !mode.IsDir() {
		return fmt.Errorf("%w %s: it is not a directory (mode %v): pass another --state-dir", ErrUnsafe, dir, mode)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w %s: cannot tell its owner: pass another --state-dir", ErrUnsafe, dir)
	}
	if me := os.Geteuid(); int(st.Uid) != me {
		return fmt.Errorf("%w %s: it is owned by uid %d, not by you (uid %d), so its owner could replace shoal's files and socket: run `chown %d %s`, or pass another --state-dir", ErrUnsafe, dir, st.Uid, me, me, dir)
	}
	if perm := mode.Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w %s: its mode is %#o, writable by group or others, who could replace shoal's files and socket: run `chmod 700 %s`, or pass another --state-dir", ErrUnsafe, dir, perm, dir)
	}
	return nil
}

// openNoFollow opens the file name in the state directory dir without
// following a symbolic link, and refuses anything but a regular file with a
// single link, so that a planted link can never make shoal read or write
// another file. With os.O_CREATE in flag, a missing file is created mode 0600.
func openNoFollow(dir, name string, flag int) (*os.File, error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%w %s: %s is a symbolic link, which shoal does not follow: remove it", ErrUnsafe, dir, name)
	}
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w %s: %s is not a regular file (mode %v): remove it", ErrUnsafe, dir, name, fi.Mode())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		f.Close()
		return nil, fmt.Errorf("%w %s: %s has %d hard links, so writing it would change another file: remove it", ErrUnsafe, dir, name, st.Nlink)
	}
	return f, nil
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

// SaveEvents records the service events (JSON, the agent's format), so
// that `shoal events` still has them after a restart.
func (s *Store) SaveEvents(data []byte) error {
	return WriteFileAtomic(filepath.Join(s.dir, eventsFile), data, 0o600)
}

// LoadEvents reads the events SaveEvents recorded (nil when none were).
func (s *Store) LoadEvents() ([]byte, error) {
	f, err := openNoFollow(s.dir, eventsFile, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// LoadDesired reads the last stack recorded in the state directory dir
// (ok is false when none is), without taking its lock: the file is only ever
// replaced whole. Like Open, it refuses a directory that fails CheckDir, and
// does not follow a symbolic link.
func LoadDesired(dir string) (d Desired, ok bool, err error) {
	if err := CheckDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Desired{}, false, nil
		}
		return Desired{}, false, err
	}
	f, err := openNoFollow(dir, desiredFile, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) {
		return Desired{}, false, nil
	}
	if err != nil {
		return Desired{}, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return Desired{}, false, fmt.Errorf("%s: %w", desiredFile, err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return Desired{}, false, fmt.Errorf("%s: %w", desiredFile, err)
	}
	return d, true, nil
}

// WriteFileAtomic writes data to path so that a crash at any moment leaves
// either the old file or the new one. It never follows a symbolic link: the
// temporary file is created new (O_EXCL), and the rename replaces whatever
// entry path names, a link included, rather than writing through it.
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
