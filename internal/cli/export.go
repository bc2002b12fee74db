package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/export/cloudformation"
	"github.com/shoalhq/shoal/internal/export/kubernetes"
	"github.com/shoalhq/shoal/internal/export/nomad"
	"github.com/shoalhq/shoal/internal/spec"
	"github.com/shoalhq/shoal/internal/store"
)

// exporter is one engine shoal export writes for.
type exporter struct {
	name    string
	summary string
	export  func(*spec.Stack, export.Options) (*export.Document, error)
}

// exporters lists the engines, in the order help shows them.
func exporters() []exporter {
	return []exporter{
		{"kubernetes", "manifests: a Deployment or DaemonSet per service, Services, Ingresses, NetworkPolicies, HPAs (docs/export-kubernetes.md)", kubernetes.Export},
		{"cloudformation", "one AWS CloudFormation template: ECS on EC2 behind an Application Load Balancer (docs/export-cloudformation.md)", cloudformation.Export},
		{"nomad", "a Nomad job: the JSON nomad job run -json takes (docs/export-nomad.md)", nomad.Export},
	}
}

func runExport(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "kubernetes|cloudformation|nomad [-f FILE] [-o DIR|-] [--ingress-class CLASS]")
	file := fs.String("f", "", "stack `file` (default ./shoal.yaml)")
	out := fs.String("o", "-", "write the output into folder `DIR` (created if needed), or to standard output with -")
	var opts export.Options
	fs.StringVar(&opts.IngressClass, "ingress-class", "", "kubernetes: the Ingress `class`; alb adds the AWS Load Balancer Controller's annotations")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	ex, err := pickExporter(pos)
	if err != nil {
		return err
	}
	if opts.IngressClass != "" && ex.name != "kubernetes" {
		return fmt.Errorf("%w: --ingress-class is for shoal export kubernetes only", errUsage)
	}
	if *file == "" && !exists(defaultStackFile) {
		noStackFile(e, defaultStateDir(e.getenv))
		return exitError(1)
	}
	s, err := parseStackFile(*file)
	if err != nil {
		return err
	}
	doc, err := ex.export(s, opts)
	if err != nil {
		return err
	}
	for _, w := range doc.Warnings {
		fmt.Fprintf(e.stderr, "warning: %v\n", w)
	}
	if *out == "-" {
		if len(doc.More) > 0 {
			return fmt.Errorf("%w: the export of stack %s is %d files (%s): write them to a folder with -o DIR", errUsage, s.Name, 1+len(doc.More), docNames(doc))
		}
		_, err := e.stdout.Write(doc.Data)
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, d := range append([]*export.Document{doc}, doc.More...) {
		path := filepath.Join(*out, d.Name)
		if err := store.WriteFileAtomic(path, d.Data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s (%d warnings)\n", path, len(doc.Warnings))
	}
	return nil
}

// docNames lists an export's file names.
func docNames(doc *export.Document) string {
	names := []string{doc.Name}
	for _, d := range doc.More {
		names = append(names, d.Name)
	}
	return strings.Join(names, ", ")
}

// pickExporter finds the engine named by the one positional argument; a
// wrong one gets the list of engines, each with what it writes.
func pickExporter(pos []string) (exporter, error) {
	var list strings.Builder
	for _, ex := range exporters() {
		if len(pos) == 1 && ex.name == pos[0] {
			return ex, nil
		}
		fmt.Fprintf(&list, "\n  %-15s %s", ex.name, ex.summary)
	}
	if len(pos) != 1 {
		return exporter{}, fmt.Errorf("%w: shoal export takes one engine:%s", errUsage, list.String())
	}
	return exporter{}, fmt.Errorf("%w: no exporter for %q; the engines are:%s", errUsage, pos[0], list.String())
}

// parseStackFile reads and validates a stack file without compiling it for
// this machine: an export does not run the stack here, so commands that are
// not installed here are no reason to refuse it.
func parseStackFile(file string) (*spec.Stack, error) {
	if file == "" {
		file = defaultStackFile
	}
	source, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return spec.Parse(file, source)
}
