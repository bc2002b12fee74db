package cloudformation

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// stacks are the stack files the golden files are made from: every
// example, and this package's own testdata stacks, each by a name of its
// own.
func stacks(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pattern := range []string{"../../../examples/*/*.yaml", "testdata/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			if dir := filepath.Base(filepath.Dir(f)); dir != "testdata" {
				name = dir + "-" + name
			}
			out[name] = f
		}
	}
	if len(out) == 0 {
		t.Fatal("no stack files found")
	}
	return out
}

// exportFile loads a stack file and exports it, its warnings naming the
// file relative to the module root, as a user in it would.
func exportFile(t *testing.T, file string) *export.Document {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rel string
	switch {
	case strings.HasPrefix(file, "../../../"):
		rel = strings.TrimPrefix(file, "../../../")
	case strings.HasPrefix(file, "../../"):
		rel = "internal/" + strings.TrimPrefix(file, "../../")
	default:
		rel = "internal/export/cloudformation/" + file
	}
	// Parse reads the files the stack names (ECS task definitions) from
	// the stack's folder: parse it where it is, then name it as a user
	// at the module root would.
	s, err := spec.Parse(file, data)
	if err != nil {
		t.Fatalf("loading %s: %v", file, err)
	}
	s.File = rel
	doc, err := Export(s, export.Options{})
	if err != nil {
		t.Fatalf("exporting %s: %v", file, err)
	}
	return doc
}

// TestExport_Golden exports every stack and compares the template with
// testdata/golden/NAME.cloudformation.yaml; -update rewrites them.
func TestExport_Golden(t *testing.T) {
	for name, file := range stacks(t) {
		t.Run(name, func(t *testing.T) {
			doc := exportFile(t, file)
			golden := filepath.Join("testdata", "golden", name+".cloudformation.yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, doc.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(doc.Data, want) {
				t.Errorf("%s differs from the export of %s; run go test ./internal/export/cloudformation -update and review the diff", golden, file)
			}
		})
	}
}
