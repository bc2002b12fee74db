package kubernetes

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// stacks are the stacks the golden tests export, relative to the module
// root: every example, and this package's own.
func stacks(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"examples/*/*.yaml", "internal/export/kubernetes/testdata/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil || len(m) == 0 {
			t.Fatalf("got no files for %s (err %v), want some", pattern, err)
		}
		files = append(files, m...)
	}
	return files
}

// toRoot makes the module root the working directory, so that stack
// files and positions in warnings read as from there.
func toRoot(t *testing.T) {
	t.Helper()
	t.Chdir(filepath.Join("..", "..", ".."))
}

// goldenName is the golden file of a stack exported with class:
// testdata/golden/DIR-FILE[.CLASS].kubernetes.yaml, or .error when it
// cannot be exported.
func goldenName(file, class, ext string) string {
	base := filepath.Base(filepath.Dir(file)) + "-" + strings.TrimSuffix(filepath.Base(file), ".yaml")
	if class != "" {
		base += "." + class
	}
	return filepath.Join("internal", "export", "kubernetes", "testdata", "golden", base+ext)
}

func exportFile(t *testing.T, file string, o export.Options) (*export.Document, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse(file, data)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return Export(s, o)
}

// TestExport_Golden exports every example and testdata stack, plain and
// for the AWS Load Balancer Controller, and compares the manifests (or the
// error) with the golden files.
func TestExport_Golden(t *testing.T) {
	toRoot(t)
	for _, file := range stacks(t) {
		for _, class := range []string{"", ingressClassALB} {
			name := class
			if name == "" {
				name = "plain"
			}
			t.Run(file+"/"+name, func(t *testing.T) {
				doc, err := exportFile(t, file, export.Options{IngressClass: class})
				if err != nil {
					if class == "" {
						golden(t, goldenName(file, "", ".error"), err.Error()+"\n")
					}
					return
				}
				golden(t, goldenName(file, class, ".kubernetes.yaml"), string(doc.Data))
				if want := filepath.Base(doc.Name); want != doc.Name || !strings.HasSuffix(doc.Name, ".kubernetes.yaml") {
					t.Errorf("got name %q, want STACK.kubernetes.yaml", doc.Name)
				}
				if len(doc.Warnings) > 0 && !bytes.HasPrefix(doc.Data, []byte(export.Comment("#", doc.Warnings))) {
					t.Errorf("the document does not start with its %d warnings as comments", len(doc.Warnings))
				}
			})
		}
	}
}

// TestExport_Deterministic: the same stack, parsed anew each time (maps
// iterate in another order), gives the same bytes.
func TestExport_Deterministic(t *testing.T) {
	toRoot(t)
	for _, file := range []string{"internal/export/kubernetes/testdata/shop.yaml", "examples/catalog/shoal.docker.yaml"} {
		for _, class := range []string{"", ingressClassALB} {
			first, err := exportFile(t, file, export.Options{IngressClass: class})
			if err != nil {
				t.Fatal(err)
			}
			for range 20 {
				again, err := exportFile(t, file, export.Options{IngressClass: class})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(first.Data), string(again.Data)); diff != "" {
					t.Fatalf("%s exported twice differs (-first +again):\n%s", file, diff)
				}
				if diff := cmp.Diff(first.Warnings.Error(), again.Warnings.Error()); diff != "" {
					t.Fatalf("%s warnings differ (-first +again):\n%s", file, diff)
				}
			}
		}
	}
}

// TestExport_ProcessIsAnError: a process without an image is refused at
// the line of its command, each one, saying how to fix it; a known server
// (redis-server) is not.
func TestExport_ProcessIsAnError(t *testing.T) {
	toRoot(t)
	_, err := exportFile(t, "internal/export/kubernetes/testdata/process.yaml", export.Options{})
	var list spec.ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("got error %v, want an ErrorList of 2", err)
	}
	for i, want := range []struct {
		line int
		path string
	}{{7, "task_definitions.app.command"}, {10, "task_definitions.worker.command"}} {
		e := list[i]
		if e.Line != want.line || e.Path != want.path || !strings.Contains(e.Msg, "add image:") || !strings.Contains(e.Msg, "docs/containers.md") {
			t.Errorf("error %d: got %v, want line %d, path %s, saying add image: and docs/containers.md", i, e, want.line, want.path)
		}
	}
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run go test -update to write it", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got), run go test -update to accept:\n%s", path, diff)
	}
}

// BenchmarkExport_Shop exports the testdata stack that has every mapping.
func BenchmarkExport_Shop(b *testing.B) {
	data, err := os.ReadFile("testdata/shop.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := spec.Parse("testdata/shop.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Export(s, export.Options{IngressClass: ingressClassALB}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIngress_Path: ALB's path patterns become the closest Ingress path,
// with a warning unless the meaning is the same; with the AWS Load
// Balancer Controller they stay as written.
func TestIngress_Path(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		typ           networkingv1.PathType
		warns, ok     bool
	}{
		{"/health", "/health", networkingv1.PathTypeExact, false, true},
		{"/*", "/", networkingv1.PathTypePrefix, false, true},
		{"/api/*", "/api", networkingv1.PathTypePrefix, true, true},
		{"/admin*", "/admin", networkingv1.PathTypePrefix, true, true},
		{"/img/*.png", "/img/*.png", networkingv1.PathTypeImplementationSpecific, true, true},
		{"/a?c", "/a?c", networkingv1.PathTypeImplementationSpecific, true, true},
		{"*.png", "", "", true, false},
	} {
		for _, alb := range []bool{false, true} {
			s := &spec.Stack{}
			x := &exporter{s: s, w: export.NewWarnings(s), alb: alb}
			in := &ingress{x: x}
			path, typ, ok := in.path("p", tc.pattern)
			want, wantTyp, wantOK, wantWarn := tc.path, tc.typ, tc.ok, tc.warns
			if alb {
				want, wantTyp, wantOK, wantWarn = tc.pattern, networkingv1.PathTypeImplementationSpecific, true, false
			}
			if path != want || typ != wantTyp || ok != wantOK || (len(x.w.List()) > 0) != wantWarn {
				t.Errorf("alb %v, %q: got %q %s %v, %d warnings; want %q %s %v, warning %v", alb, tc.pattern, path, typ, ok, len(x.w.List()), want, wantTyp, wantOK, wantWarn)
			}
		}
	}
}

// TestProgram: the program a task's command runs, past a shell's exec.
func TestProgram(t *testing.T) {
	for _, tc := range []struct {
		cmd  spec.Command
		want string
	}{
		{spec.Command{"bin/catalog"}, "bin/catalog"},
		{spec.Command{"redis-server", "--port", "6379"}, "redis-server"},
		{spec.Command{"/bin/sh", "-c", `exec redis-server --bind "$HOST"`}, "redis-server"},
		{spec.Command{"/bin/sh", "-c", "FOO=1 exec /usr/bin/memcached -p $PORT"}, "/usr/bin/memcached"},
		{spec.Command{"/bin/sh", "-c", "python3 -m worker"}, "python3"},
	} {
		if got := program(tc.cmd); got != tc.want {
			t.Errorf("program(%q): got %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
