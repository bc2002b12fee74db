package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStore_DesiredRoundTrip(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok, err := LoadDesired(s.Dir()); ok || err != nil {
		t.Fatalf("fresh store: got ok=%v err=%v, want nothing", ok, err)
	}
	want := Desired{File: "/x/shoal.yaml", Source: []byte("name: x\n"), AppliedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := s.SaveDesired(want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := LoadDesired(s.Dir())
	if err != nil || !ok {
		t.Fatalf("load: ok=%v err=%v", ok, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("desired (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), desiredFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode: got %v, want 0600", fi.Mode().Perm())
	}
}

func TestStore_SecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
	s.Close()
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s2.Close()
}

func TestWriteFileAtomic_LeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	for _, body := range []string{"one", "two"} {
		if err := WriteFileAtomic(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files in dir: got %d, want 1 (%v)", len(entries), entries)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("content: got %q, want %q", b, "two")
	}
}

// mkdir makes dir with exactly mode perm, whatever the umask.
func mkdir(t *testing.T, dir string, perm os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
}

// writeVictim writes a file outside the state directory that shoal must
// never touch, and returns its path.
func writeVictim(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(path, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkVictim(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("victim: %v", err)
	}
	if string(b) != "precious\n" {
		t.Errorf("victim content: got %q, want %q", b, "precious\n")
	}
}

func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("files created in the refused directory: got %v, want none", entries)
	}
}

func checkUnsafe(t *testing.T, err error, hints ...string) {
	t.Helper()
	if !errors.Is(err, ErrUnsafe) {
		t.Fatalf("got %v, want ErrUnsafe", err)
	}
	for _, h := range hints {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("got %q, want it to say %q", err, h)
		}
	}
}

func TestOpen_CreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "state")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for path, want := range map[string]os.FileMode{dir: os.ModeDir | 0o700, filepath.Join(dir, lockFile): 0o600} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: got mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, lockFile)); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock content: got %q, want our pid", b)
	}
}

func TestOpen_RefusesWorldWritableDir(t *testing.T) {
	for _, perm := range []os.FileMode{0o777, 0o770, 0o720, 0o702, 0o1777} {
		t.Run(fmt.Sprintf("%#o", perm), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			mkdir(t, dir, perm)
			_, err := Open(dir)
			checkUnsafe(t, err, fmt.Sprintf("mode is %#o", perm.Perm()), "chmod 700 "+dir, "--state-dir")
			checkEmpty(t, dir)
		})
	}
}

func TestOpen_RefusesDirOwnedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "state")
	mkdir(t, dir, 0o700)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	checkUnsafe(t, err, "owned by uid 65534", "chown 0 "+dir, "--state-dir")
	checkEmpty(t, dir)
}

func TestOpen_RefusesSymlinkedDir(t *testing.T) {
	target := filepath.Join(t.TempDir(), "real")
	mkdir(t, target, 0o700)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	checkUnsafe(t, err, "symbolic link (to "+target+")", "--state-dir")
	checkEmpty(t, target)
}

func TestOpen_RefusesFileAsDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if err == nil {
		t.Fatal("got nil, want an error for a state directory that is a file")
	}
}

func TestOpen_DoesNotFollowLockSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := writeVictim(t)
	if err := os.Symlink(victim, filepath.Join(dir, lockFile)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	checkUnsafe(t, err, "lock is a symbolic link", "remove it")
	checkVictim(t, victim)
}

func TestOpen_RefusesHardLinkedLock(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(victim, filepath.Join(dir, lockFile)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	checkUnsafe(t, err, "lock has 2 hard links", "remove it")
	checkVictim(t, victim)
}

func TestOpen_RefusesLockThatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, lockFile), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	checkUnsafe(t, err, "lock is not a regular file", "remove it")
}

func TestLoadDesired_DoesNotFollowSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	if err := os.WriteFile(target, []byte(`{"file":"/evil/shoal.yaml"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, desiredFile)); err != nil {
		t.Fatal(err)
	}
	d, ok, err := LoadDesired(dir)
	checkUnsafe(t, err, "desired.json is a symbolic link", "remove it")
	if ok || d.File != "" {
		t.Errorf("got ok=%v file=%q, want nothing read through the link", ok, d.File)
	}
}

func TestLoadDesired_RefusesWorldWritableDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	mkdir(t, dir, 0o700)
	if err := os.WriteFile(filepath.Join(dir, desiredFile), []byte(`{"file":"/evil/shoal.yaml"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, ok, err := LoadDesired(dir)
	checkUnsafe(t, err, "chmod 700 "+dir)
	if ok {
		t.Errorf("got ok=true, want nothing read from an unsafe directory")
	}
}

func TestLoadDesired_MissingDirIsNothing(t *testing.T) {
	_, ok, err := LoadDesired(filepath.Join(t.TempDir(), "nope"))
	if ok || err != nil {
		t.Errorf("got ok=%v err=%v, want ok=false and no error", ok, err)
	}
}

func TestSaveDesired_ReplacesSymlinkWithoutFollowingIt(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	victim := writeVictim(t)
	path := filepath.Join(s.Dir(), desiredFile)
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveDesired(Desired{File: "/x/shoal.yaml"}); err != nil {
		t.Fatal(err)
	}
	checkVictim(t, victim)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("desired.json: got mode %v, want a regular file, mode 0600", fi.Mode())
	}
	d, ok, err := LoadDesired(s.Dir())
	if err != nil || !ok || d.File != "/x/shoal.yaml" {
		t.Errorf("load: got %+v ok=%v err=%v, want the saved stack", d, ok, err)
	}
}

func TestStore_EventsRoundTrip(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.LoadEvents(); err != nil || got != nil {
		t.Fatalf("no events yet: got %q, %v", got, err)
	}
	if err := s.SaveEvents([]byte(`[{"seq":1}]`)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadEvents(); err != nil || string(got) != `[{"seq":1}]` {
		t.Fatalf("got %q, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), eventsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("events file: %v, mode %v; want 0600", err, fi.Mode())
	}
}
