package nomad

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// stacks are the stacks the golden tests export, relative to the module's
// root: every example, this package's own of every mapping, and spec's
// valid stacks (full.yaml sets every field).
func stacks(t *testing.T) []string {
	t.Helper()
	root := moduleRoot(t)
	var files []string
	for _, pattern := range []string{"examples/*/*.yaml", "internal/export/nomad/testdata/*.yaml", "internal/spec/testdata/valid/*.yaml"} {
		found, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil || len(found) == 0 {
			t.Fatalf("got no files for %s (err %v), want some", pattern, err)
		}
		for _, f := range found {
			rel, _ := filepath.Rel(root, f)
			files = append(files, filepath.ToSlash(rel))
		}
	}
	return files
}

// exportFile parses a stack as the CLI does, from the module's root so
// that the warnings name it by the same path on every machine, and exports
// it.
func exportFile(t *testing.T, file string) *export.Document {
	t.Helper()
	source, err := os.ReadFile(filepath.Join(moduleRoot(t), file))
	if err != nil {
		t.Fatal(err)
	}
	return exportSource(t, file, source)
}

// exportSource parses a stack file's content, read from file, and exports
// it.
func exportSource(t *testing.T, file string, source []byte) *export.Document {
	t.Helper()
	s, err := spec.Parse(file, source)
	if err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
	doc, err := Export(s, export.Options{})
	if err != nil {
		t.Fatalf("exporting %s: %v", file, err)
	}
	return doc
}

// TestExport_Golden exports every stack and compares the job with
// testdata/golden/NAME.nomad.json (the warnings are in its Meta).
func TestExport_Golden(t *testing.T) {
	for _, file := range stacks(t) {
		t.Run(file, func(t *testing.T) {
			doc := exportFile(t, file)
			name := strings.NewReplacer("internal/export/nomad/testdata/", "", "internal/spec/testdata/valid/", "spec_", "/", "_", ".yaml", "").Replace(file)
			golden(t, filepath.Join("testdata", "golden", name+".nomad.json"), doc.Data)
			for _, more := range doc.More { // the daemons' system job
				golden(t, filepath.Join("testdata", "golden", name+".daemons.nomad.json"), more.Data)
			}
			if !strings.HasSuffix(doc.Name, ".nomad.json") {
				t.Errorf("got name %q, want STACK.nomad.json", doc.Name)
			}
		})
	}
}

// TestExport_SameStackSameBytes: maps are walked in a random order, the
// output is not.
func TestExport_SameStackSameBytes(t *testing.T) {
	for _, file := range stacks(t) {
		first := exportFile(t, file)
		for range 5 {
			again := exportFile(t, file)
			if !bytes.Equal(first.Data, again.Data) {
				t.Fatalf("%s: two exports differ:\n%s", file, cmp.Diff(string(first.Data), string(again.Data)))
			}
			if diff := cmp.Diff(first.Warnings.Error(), again.Warnings.Error()); diff != "" {
				t.Fatalf("%s: warnings differ:\n%s", file, diff)
			}
		}
	}
}

// decode reads a document back into Nomad's own types, refusing fields
// api.Job does not have.
func decode(t *testing.T, data []byte) *api.Job {
	t.Helper()
	var wrapper Output
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wrapper); err != nil {
		t.Fatalf("decoding into api.Job: %v", err)
	}
	if wrapper.Job == nil {
		t.Fatal("got no Job, want one")
	}
	return wrapper.Job
}

func groupNamed(t *testing.T, job *api.Job, name string) *api.TaskGroup {
	t.Helper()
	if g := job.LookupTaskGroup(name); g != nil {
		return g
	}
	t.Fatalf("job has no group %q", name)
	return nil
}

// TestExport_DecodesToTheJob reads the export of every mapping back into
// api.Job and checks what each shoal setting became.
func TestExport_DecodesToTheJob(t *testing.T) {
	doc := exportFile(t, "internal/export/nomad/testdata/everything.yaml")
	job := decode(t, doc.Data)

	if *job.ID != "shop" || *job.Type != api.JobTypeService || !slices.Equal(job.Datacenters, []string{"*"}) {
		t.Errorf("got job %s of type %s in %v, want shop, service, [*]", *job.ID, *job.Type, job.Datacenters)
	}
	var names []string
	for _, g := range job.TaskGroups {
		names = append(names, *g.Name)
	}
	if want := []string{"api", "api-green", "cache", "pods", "lb-web"}; !slices.Equal(names, want) {
		t.Errorf("got groups %v, want %v", names, want)
	}

	api1 := groupNamed(t, job, "api")
	if *api1.Count != 4 {
		t.Errorf("api: got count %d, want 4 (desired)", *api1.Count)
	}
	ports := api1.Networks[0].DynamicPorts
	if len(ports) != 2 || ports[0].Label != "p3000" || ports[0].To != 3000 || ports[1].To != 9102 {
		t.Errorf("api: got ports %+v, want p3000 and p9102 mapped to their container ports", ports)
	}
	task := api1.Tasks[0]
	if task.Driver != "docker" || task.Config["image"] != "registry.shop.test/api:2" || *task.KillTimeout != 45*time.Second {
		t.Errorf("api: got driver %s, config %v, kill timeout %v", task.Driver, task.Config, *task.KillTimeout)
	}
	if r := task.Resources; *r.CPU != 512 || *r.MemoryMB != 256 || *r.MemoryMaxMB != 1024 {
		t.Errorf("api: got cpu %d memory %d max %d, want 512, 256 (reservation), 1024", *r.CPU, *r.MemoryMB, *r.MemoryMaxMB)
	}
	if len(task.Templates) != 1 || !*task.Templates[0].Envvars || !strings.Contains(*task.Templates[0].EmbeddedTmpl, `REDIS_URL="redis://{{ with nomadService "shop-cache" }}{{ with index . 0 }}{{ .Address }}:{{ .Port }}{{ end }}{{ end }}/0"`) {
		t.Errorf("api: got templates %+v, want REDIS_URL from nomadService shop-cache", task.Templates)
	}
	svc := api1.Services[0]
	check := svc.Checks[0]
	if svc.Name != "shop-api" || svc.Provider != "nomad" || svc.PortLabel != "p3000" ||
		check.Type != "http" || check.Path != "/healthz" || check.Interval != 5*time.Second || check.Timeout != 2*time.Second ||
		check.CheckRestart.Limit != 3 || *check.CheckRestart.Grace != 20*time.Second {
		t.Errorf("api: got service %+v with check %+v", svc, check)
	}
	if *api1.ShutdownDelay != 15*time.Second {
		t.Errorf("api: got shutdown delay %v, want 15s (deregistration_delay)", *api1.ShutdownDelay)
	}
	u := api1.Update
	if *u.MaxParallel != 2 || *u.HealthCheck != "checks" || *u.MinHealthyTime != 5*time.Second || !*u.AutoRevert || *u.Canary != 0 {
		t.Errorf("api: got update %+v, want max_parallel 2 (50%% of 4 may stop), checks, 5s, auto_revert", u)
	}
	// The circuit breaker: the first failed allocation fails the
	// deployment; healthy_deadline stays Nomad's.
	if *u.ProgressDeadline != 0 || *u.HealthyDeadline != 5*time.Minute {
		t.Errorf("api: got progress_deadline %v healthy_deadline %v, want 0 (circuit breaker) and 5m", *u.ProgressDeadline, *u.HealthyDeadline)
	}
	if s := api1.Scaling; *s.Min != 2 || *s.Max != 10 || !*s.Enabled || s.Policy["evaluation_interval"] != "1m0s" {
		t.Errorf("api: got scaling %+v, want 2-10 with a policy", s)
	}
	if len(api1.Constraints) != 1 || api1.Constraints[0].Operand != api.ConstraintDistinctHosts || len(api1.Spreads) != 1 {
		t.Errorf("api: got constraints %+v spreads %+v, want distinct_hosts and a spread", api1.Constraints, api1.Spreads)
	}

	green := groupNamed(t, job, "api-green")
	if u := green.Update; *u.Canary != 1 || !*u.AutoPromote || *u.MaxParallel != 2 {
		t.Errorf("api-green: got update %+v, want 1 canary of 2 (25%%), auto-promoted", u)
	}
	pods := groupNamed(t, job, "pods")
	if u := pods.Update; *u.Canary != 1 || !*u.AutoPromote || *u.MaxParallel != 1 {
		t.Errorf("pods: got update %+v, want 1 canary (150%% of 2), then one at a time", u)
	}
	if u := pods.Update; *u.ProgressDeadline != 10*time.Minute {
		t.Errorf("pods: got progress_deadline %v, want Nomad's 10m (no circuit breaker)", *u.ProgressDeadline)
	}
	if len(pods.Tasks) != 2 || !pods.Tasks[0].Leader || pods.Tasks[1].Leader {
		t.Errorf("pods: got tasks %+v, want app (leader) and sidecar", pods.Tasks)
	}
	// The daemon: a system job of its own.
	if len(doc.More) != 1 || doc.More[0].Name != "shop-daemons.nomad.json" {
		t.Fatalf("got %d more documents, want shop-daemons.nomad.json", len(doc.More))
	}
	daemons := decode(t, doc.More[0].Data)
	if *daemons.ID != "shop-daemons" || *daemons.Type != api.JobTypeSystem || len(daemons.TaskGroups) != 1 {
		t.Fatalf("got job %s of type %s with %d groups, want shop-daemons, system, agents", *daemons.ID, *daemons.Type, len(daemons.TaskGroups))
	}
	agents := groupNamed(t, daemons, "agents")
	if agents.Count != nil || len(agents.Constraints) != 0 || agents.Tasks[0].Driver != "raw_exec" ||
		agents.Tasks[0].Env["PORT"] != "${NOMAD_PORT_port}" || agents.Tasks[0].Config["command"] != "/usr/local/bin/agent" || *agents.Update.MaxParallel != 4 {
		t.Errorf("agents: got count %v, constraints %+v, task %+v, update %+v; want one on every client (no count), raw_exec with PORT, all 4 at once (minimum_healthy_percent 0)", agents.Count, agents.Constraints, agents.Tasks[0], agents.Update)
	}
	cache := groupNamed(t, job, "cache")
	if c := cache.Services[0].Checks[0]; c.Type != "tcp" || cache.Services[0].Name != "shop-cache" {
		t.Errorf("cache: got service %+v, want shop-cache with a TCP check", cache.Services[0])
	}

	lb := groupNamed(t, job, "lb-web")
	if rp := lb.Networks[0].ReservedPorts; len(rp) != 2 || rp[0].Value != 8080 || rp[1].Value != 8081 {
		t.Errorf("lb-web: got reserved ports %+v, want 8080 and 8081", rp)
	}
	conf := *lb.Tasks[0].Templates[0].EmbeddedTmpl
	for _, want := range []string{
		`{{- range nomadService "shop-api" }}`,
		"least_conn;",
		"allow 203.0.113.0/24;",
		`if ($shoal_c = "hpm") { set $shoal_rule "l0_r20"; }`,
		"75.00% tg_api_green;",
		`return 301 "https://$host:8443$uri$is_args$args";`,
		`return 404 "{\"error\":\"not here, ${shoal_dollar}USER\"}";`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q:\n%s", want, conf)
		}
	}

	var out Output
	if err := json.Unmarshal(doc.Data, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.ShoalExportWarnings) != len(doc.Warnings) {
		t.Errorf("got %d warnings beside the job, want the document's %d", len(out.ShoalExportWarnings), len(doc.Warnings))
	}
	if len(job.Meta) != 1 || job.Meta["shoal_stack"] != "shop" {
		t.Errorf("got job Meta %v, want only shoal_stack: Nomad hands job Meta to every task, and a change to it replaces them all", job.Meta)
	}
}

// TestExport_Canonicalizes: Nomad's client library fills in its defaults
// on every exported job without a panic, and keeps what was exported.
func TestExport_Canonicalizes(t *testing.T) {
	for _, file := range stacks(t) {
		job := decode(t, exportFile(t, file).Data)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s: Canonicalize panicked: %v", file, r)
				}
			}()
			job.Canonicalize()
		}()
		for _, g := range job.TaskGroups {
			if g.Count == nil || g.Update == nil && !strings.HasPrefix(*g.Name, "lb-") {
				t.Errorf("%s: group %s lost its count or update: %+v", file, *g.Name, g)
			}
			for _, task := range g.Tasks {
				if task.Driver == "" || task.Config["image"] == nil && task.Config["command"] == nil {
					t.Errorf("%s: task %s has no driver or nothing to run", file, task.Name)
				}
			}
		}
	}
}

// TestExport_NoStack refuses nil instead of panicking.
func TestExport_NoStack(t *testing.T) {
	if _, err := Export(nil, export.Options{}); err == nil {
		t.Error("got no error for a nil stack, want one")
	}
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run go test -update to write it", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got), run go test -update to accept:\n%s", path, diff)
	}
}

// moduleRoot is the folder of the go.mod above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// BenchmarkExport exports the stack of every mapping, parsed once.
func BenchmarkExport(b *testing.B) {
	source, err := os.ReadFile(filepath.Join("testdata", "everything.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	s, err := spec.Parse("everything.yaml", source)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Export(s, export.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExport_CheckOnAPortOfItsOwn: a health check on another container
// port than the traffic port is published by the same container.
func TestExport_CheckOnAPortOfItsOwn(t *testing.T) {
	s, err := spec.Parse("shoal.yaml", []byte(`name: p
target_groups:
  app: {health_check: {port: "9000", path: /health}}
task_definitions:
  app: {image: app:1, port: 3000}
services:
  app: {task_definition: app, target_group: app}
`))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Export(s, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := groupNamed(t, decode(t, doc.Data), "app")
	ports := g.Networks[0].DynamicPorts
	check := g.Services[0].Checks[0]
	labels := g.Tasks[0].Config["ports"]
	if len(ports) != 2 || ports[1].Label != "p9000" || ports[1].To != 9000 || check.PortLabel != "p9000" || g.Services[0].PortLabel != "p3000" ||
		!slices.Equal(toStrings(labels), []string{"p3000", "p9000"}) {
		t.Errorf("got ports %+v, check port %s, service port %s, docker ports %v; want p3000 for traffic and p9000 for the check, both published", ports, check.PortLabel, g.Services[0].PortLabel, labels)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
