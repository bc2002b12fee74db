package spec

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestParse_Invalid parses each testdata/invalid/NAME.yaml as shoal.yaml and
// compares the errors with NAME.golden.
func TestParse_Invalid(t *testing.T) {
	for _, file := range glob(t, "testdata/invalid/*.yaml") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, err := Parse("shoal.yaml", readFile(t, file))
			if err == nil {
				t.Fatal("got no error, want some")
			}
			if s != nil {
				t.Errorf("got a stack with the error, want nil")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("got error %T, want a non-empty ErrorList", err)
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}

// TestParse_ValidRoundTrip parses each testdata/valid/NAME.yaml, compares
// it written back as YAML with NAME.golden, and parses that again to the
// same stack.
func TestParse_ValidRoundTrip(t *testing.T) {
	for _, file := range glob(t, "testdata/valid/*.yaml") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			first, err := Load(file)
			if err != nil {
				t.Fatalf("got errors:\n%v\nwant none", err)
			}
			out, err := yaml.Marshal(first)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", string(out))
			second, err := Parse(file, out)
			if err != nil {
				t.Fatalf("parsing the written stack: got errors:\n%v\nwant none", err)
			}
			opts := cmp.Options{cmpopts.IgnoreUnexported(Stack{}), cmpopts.EquateEmpty()}
			if diff := cmp.Diff(first, second, opts); diff != "" {
				t.Errorf("round trip mismatch (-first +second):\n%s", diff)
			}
		})
	}
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := string(readFile(t, path))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got), run go test -update to accept:\n%s", path, diff)
	}
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("got no files for %s (err %v), want some", pattern, err)
	}
	return files
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
