package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exportGolden is the Kubernetes exporter's golden file of the catalog's
// Docker stack, relative to the module root.
const exportGolden = "internal/export/kubernetes/testdata/golden/catalog-shoal.docker"

// TestExport_Kubernetes: shoal export kubernetes writes the exporter's
// document into -o DIR, or to standard output with -o -, and the warnings
// on standard error, each at its file:line.
func TestExport_Kubernetes(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	const stack = "examples/catalog/shoal.docker.yaml"
	want, err := os.ReadFile(exportGolden + ".kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := run(t, context.Background(), "export", "kubernetes", "-f", stack, "-o", dir)
	file := filepath.Join(dir, "catalog.kubernetes.yaml")
	if code != 0 || stdout != "" || !strings.HasSuffix(stderr, "wrote "+file+" (13 warnings)\n") {
		t.Fatalf("got exit %d, stdout %q, stderr:\n%s\nwant exit 0, no stdout, wrote %s (13 warnings)", code, stdout, stderr, file)
	}
	if n := strings.Count(stderr, "warning: "+stack+":"); n != 13 {
		t.Errorf("got %d warnings at %s:LINE on stderr, want 13:\n%s", n, stack, stderr)
	}
	got, err := os.ReadFile(file)
	if err != nil || string(got) != string(want) {
		t.Errorf("%s (err %v) differs from %s.kubernetes.yaml", file, err, exportGolden)
	}

	code, stdout, _ = run(t, context.Background(), "export", "kubernetes", "-f", stack, "-o", "-")
	if code != 0 || stdout != string(want) {
		t.Errorf("-o -: got exit %d and %d bytes on stdout, want exit 0 and the golden file's %d", code, len(stdout), len(want))
	}
	wantALB, err := os.ReadFile(exportGolden + ".alb.kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = run(t, context.Background(), "export", "kubernetes", "--ingress-class", "alb", "-f", stack)
	if code != 0 || stdout != string(wantALB) {
		t.Errorf("--ingress-class alb: got exit %d and %d bytes on stdout, want exit 0 and the golden file's %d", code, len(stdout), len(wantALB))
	}
}

// TestExport_ProcessSaysHowToFix: a process task definition is refused at
// its line, and nothing is written.
func TestExport_ProcessSaysHowToFix(t *testing.T) {
	stack := writeStack(t, "task_definitions:\n  app:\n    command: [./app]\nservices:\n  app: {task_definition: app}\n")
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := run(t, context.Background(), "export", "kubernetes", "-f", stack, "-o", dir)
	want := "shoal: " + stack + ":3:5: task_definitions.app.command: a process (./app) cannot be exported to Kubernetes, which runs only images: add image:"
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "docs/containers.md") {
		t.Errorf("got exit %d, stdout %q, stderr:\n%s\nwant exit 1, stderr starting %q", code, stdout, stderr, want)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s was created for a stack that cannot be exported", dir)
	}
}

// TestExport_UnknownEngine names the engines there are.
func TestExport_UnknownEngine(t *testing.T) {
	code, stdout, stderr := run(t, context.Background(), "export", "swarm")
	if code != 2 || stdout != "" || !strings.Contains(stderr, `no exporter for "swarm"; the engines are:`) ||
		!strings.Contains(stderr, "\n  kubernetes      manifests") || !strings.Contains(stderr, "\n  nomad           a Nomad job") {
		t.Errorf("got exit %d, stdout %q, stderr:\n%s\nwant exit 2 listing the engines", code, stdout, stderr)
	}
	code, _, stderr = run(t, context.Background(), "export")
	if code != 2 || !strings.Contains(stderr, "shoal export takes one engine:\n  kubernetes ") {
		t.Errorf("export without an engine: exit %d, stderr:\n%s\nwant exit 2 listing the engines", code, stderr)
	}
	code, _, stderr = run(t, context.Background(), "export", "nomad", "--ingress-class", "alb", "-f", "testdata/none.yaml")
	if code != 2 || !strings.Contains(stderr, "--ingress-class is for shoal export kubernetes only") {
		t.Errorf("--ingress-class with nomad: exit %d, stderr:\n%s\nwant exit 2", code, stderr)
	}
}
