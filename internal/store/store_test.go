package store

import (
	"errors"
	"os"
	"path/filepath"
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
