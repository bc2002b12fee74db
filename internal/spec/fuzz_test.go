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
