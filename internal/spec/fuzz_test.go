package spec

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// FuzzParse checks that Parse never panics, that it returns either a stack
// or a list of errors, and that a valid stack written back as YAML parses
// to the same stack.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(readFile(f, file))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("shoal.yaml", data)
		if err != nil {
			checkErrorList(t, s, err)
			return
		}
		out, err := yaml.Marshal(s)
		if err != nil {
			t.Fatalf("writing a valid stack: %v", err)
		}
		again, err := Parse("shoal.yaml", out)
		if err != nil {
			t.Fatalf("parsing a written stack: got %v\n%s", err, out)
		}
		opts := cmp.Options{cmpopts.IgnoreUnexported(Stack{}), cmpopts.EquateEmpty()}
		if diff := cmp.Diff(s, again, opts); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

func checkErrorList(t *testing.T, s *Stack, err error) {
	var list ErrorList
	if s != nil || !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("got stack %v and error %T %v, want no stack and an ErrorList", s, err, err)
	}
	for _, e := range list {
		if e.Msg == "" {
			t.Fatalf("got an error without a message: %#v", e)
		}
	}
}

// FuzzParseMatcher: a matcher never panics, and one that parses accepts only
// codes within 200-499.
func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{"200", "200,202", "200-299", "200-299,404", " 201 , 204-206", "", "-", "1-2-3", "299-200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMatcher(s)
		if err != nil {
			return
		}
		for _, code := range []int{0, 100, 199, 500, 599, 1000, -1} {
			if match(m, code) {
				t.Fatalf("ParseMatcher(%q) accepts code %d, outside 200-499", s, code)
			}
		}
		if m.String() != s {
			t.Fatalf("String: got %q, want %q", m.String(), s)
		}
	})
}

// FuzzParsePortRange: a port range never panics, and one that parses lies
// within 1024-65535 with lo <= hi.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"32768-60999", "1024-1024", "49153-65535", "1-2", "70000-80000", "x-y", "", "5000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParsePortRange(s)
		if err != nil {
			return
		}
		if lo < 1024 || hi > 65535 || lo > hi {
			t.Fatalf("ParsePortRange(%q) = %d-%d, outside 1024-65535 or reversed", s, lo, hi)
		}
	})
}
