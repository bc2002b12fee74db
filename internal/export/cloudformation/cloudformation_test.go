package cloudformation

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
)

// TestExport_Deterministic: the same stack gives the same bytes, export
// after export (maps are walked in a new order each time) and parse after
// parse.
func TestExport_Deterministic(t *testing.T) {
	for name, file := range stacks(t) {
		t.Run(name, func(t *testing.T) {
			first := exportFile(t, file)
			for range 20 {
				if again := exportFile(t, file); !bytes.Equal(again.Data, first.Data) {
					t.Fatalf("two exports of %s differ", file)
				}
			}
		})
	}
}

// TestExport_TemplateIsYAMLWithWarningsOnTop: the warnings are comments
// above the template, one per warning, and the rest is one YAML document
// with the sections CloudFormation takes.
func TestExport_TemplateIsYAMLWithWarningsOnTop(t *testing.T) {
	doc := exportFile(t, "../../../examples/routing/shoal.yaml")
	if doc.Name != "routing.cloudformation.yaml" {
		t.Errorf("got name %q, want routing.cloudformation.yaml", doc.Name)
	}
	head, _, _ := bytes.Cut(doc.Data, []byte("AWSTemplateFormatVersion"))
	for _, w := range doc.Warnings {
		if !bytes.Contains(head, []byte("#   "+w.Error())) {
			t.Errorf("the comments above the template do not say %q", w.Error())
		}
	}
	var tpl Template
	if err := yaml.Unmarshal(doc.Data, &tpl); err != nil {
		t.Fatal(err)
	}
	if tpl.AWSTemplateFormatVersion != "2010-09-09" || len(tpl.Resources) == 0 || len(tpl.Parameters) == 0 || len(tpl.Outputs) == 0 {
		t.Errorf("got version %q, %d resources, %d parameters, %d outputs; want 2010-09-09 and some of each",
			tpl.AWSTemplateFormatVersion, len(tpl.Resources), len(tpl.Parameters), len(tpl.Outputs))
	}
}

func parse(t *testing.T, src string) *spec.Stack {
	t.Helper()
	s, err := spec.Parse("shoal.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parsing the stack: %v", err)
	}
	return s
}

func export1(t *testing.T, src string) (*Template, string) {
	t.Helper()
	doc, err := Export(parse(t, src), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var tpl Template
	if err := yaml.Unmarshal(doc.Data, &tpl); err != nil {
		t.Fatal(err)
	}
	return &tpl, doc.Warnings.Error()
}

// TestExport_ProcessNeedsAnImage: a task definition that runs a process
// gets an image parameter without a default, so that a deploy without
// the image fails at once, and a warning at its command that says how to
// make one.
func TestExport_ProcessNeedsAnImage(t *testing.T) {
	tpl, warnings := export1(t, `name: p
task_definitions:
  app:
    command: [bin/app]
    port: 3000
services:
  app: {task_definition: app}
`)
	p := tpl.Parameters["AppImage"]
	if p == nil || p.Default != nil {
		t.Fatalf("got parameter AppImage %+v, want one without a default", p)
	}
	want := "shoal.yaml:4:5: task_definitions.app.command: changes meaning: ECS runs containers, not processes: give parameter AppImage the URI of an image"
	if !strings.Contains(warnings, want) || !strings.Contains(warnings, "docs/containers.md") {
		t.Errorf("got warnings:\n%s\nwant %q, naming docs/containers.md", warnings, want)
	}
}

// TestExport_Placeholders: a Redis service's placeholders become its
// endpoint through Fn::Sub, other ${…} stay literal (escaped as ${!…}),
// and another service's address stays as written, with a warning.
func TestExport_Placeholders(t *testing.T) {
	_, warnings := export1(t, `name: p
task_definitions:
  app:
    image: app:1
    port: 3000
    environment:
      CACHE: redis://${services.cache.host}:${services.cache.port}/${DB}
      OTHER: ${services.worker.address}
  redis: {image: "redis:7", port: 6379}
  worker: {image: "worker:1", port: 4000}
services:
  cache: {task_definition: redis}
  worker: {task_definition: worker}
  app: {task_definition: app, depends_on: [cache, worker]}
`)
	b := newBuilder(parse(t, `name: q
task_definitions:
  redis: {image: "redis:7"}
services:
  cache: {task_definition: redis}
`))
	b.build()
	got := b.envValue("x", "redis://${services.cache.host}:${services.cache.port}/${DB}")
	want := sub("redis://${CacheRedis.RedisEndpoint.Address}:${CacheRedis.RedisEndpoint.Port}/${!DB}")
	if gm, wm := got.(map[string]any)["Fn::Sub"], want.(map[string]any)["Fn::Sub"]; gm != wm {
		t.Errorf("got %v, want %v", gm, wm)
	}
	if got := b.envValue("x", "plain ${DB}"); got != "plain ${DB}" {
		t.Errorf("got %v, want the value as written", got)
	}
	if !strings.Contains(warnings, "task_definitions.app.environment.OTHER: not carried over: ECS gives service worker no address") {
		t.Errorf("got warnings:\n%s\nwant one at OTHER", warnings)
	}
}

// BenchmarkExport exports the stack of every mapping, parsed once.
func BenchmarkExport(b *testing.B) {
	data, err := os.ReadFile("testdata/everything.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := spec.Parse("testdata/everything.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Export(s, export.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
