package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

const nomadStack = `name: shop
load_balancers:
  web:
    listeners:
      - port: 8080
        default_action: {forward: {target_group: api}}
target_groups:
  api:
    health_check: {path: /healthz, interval: 2s, timeout: 1s}
task_definitions:
  api:
    image: shop/api:1
    port: 3000
    environment:
      REDIS_URL: redis://${services.cache.address}/0
  redis:
    image: redis:7
    port_mappings: [{container_port: 6379}]
services:
  cache: {task_definition: redis}
  api:
    task_definition: api
    desired: 3
    target_group: api
    depends_on: [cache]
    deployment:
      circuit_breaker: {enable: true, rollback: true}
`

// TestExport_NomadWritesTheJob: shoal export nomad -o DIR writes
// STACK.nomad.json, a job nomad job run -json takes, and says on stderr
// each warning at its line, the same as the file holds beside the job.
func TestExport_NomadWritesTheJob(t *testing.T) {
	stack := writeStack(t, nomadStack)
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := run(t, context.Background(), "export", "nomad", "-f", stack, "-o", out)
	if code != 0 || stdout != "" {
		t.Fatalf("got exit %d, stdout %q, stderr:\n%s\nwant exit 0 and nothing on stdout", code, stdout, stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "shop.nomad.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Job                 *api.Job
		ShoalExportWarnings []string
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Job == nil {
		t.Fatalf("got %v decoding the output into api.Job, want a job", err)
	}
	job := doc.Job
	if *job.ID != "shop" || len(job.TaskGroups) != 3 {
		t.Fatalf("got job %s with %d groups, want shop with api, cache and lb-web", *job.ID, len(job.TaskGroups))
	}
	apiGroup := job.LookupTaskGroup("api")
	if *apiGroup.Count != 3 || !*apiGroup.Update.AutoRevert || apiGroup.Services[0].Checks[0].Path != "/healthz" {
		t.Errorf("got api group count %d, auto_revert %v, check %+v; want 3, true, /healthz", *apiGroup.Count, *apiGroup.Update.AutoRevert, apiGroup.Services[0].Checks[0])
	}
	var warnings []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if w, ok := strings.CutPrefix(line, "warning: "); ok {
			warnings = append(warnings, w)
		}
	}
	if len(warnings) == 0 || !strings.HasSuffix(stderr, "wrote "+filepath.Join(out, "shop.nomad.json")+" ("+itoa(len(warnings))+" warnings)\n") {
		t.Errorf("got stderr:\n%s\nwant warnings then the file written", stderr)
	}
	if got := strings.Join(doc.ShoalExportWarnings, "\n"); got != strings.Join(warnings, "\n") {
		t.Errorf("got warnings beside the job:\n%s\nwant those on stderr:\n%s", got, strings.Join(warnings, "\n"))
	}
	if !strings.Contains(stderr, stack+":14:5: task_definitions.api.environment: approximate:") {
		t.Errorf("got stderr:\n%s\nwant the placeholder's warning at its line", stderr)
	}
}

// TestExport_NomadToStdout: -o - writes the same bytes to stdout, and an
// unknown engine lists nomad among those there are.
func TestExport_NomadToStdout(t *testing.T) {
	stack := writeStack(t, nomadStack)
	code, stdout, _ := run(t, context.Background(), "export", "nomad", "-f", stack)
	if code != 0 || !json.Valid([]byte(stdout)) {
		t.Fatalf("got exit %d and stdout %.200q, want 0 and JSON", code, stdout)
	}
	_, again, _ := run(t, context.Background(), "export", "nomad", "-f", stack, "-o", "-")
	if !bytes.Equal([]byte(stdout), []byte(again)) {
		t.Error("two exports of the same stack differ")
	}
	code, _, stderr := run(t, context.Background(), "export", "nomadd", "-f", stack)
	if code == 0 || !strings.Contains(stderr, "nomad") {
		t.Errorf("got exit %d, stderr %q; want a usage error naming nomad", code, stderr)
	}
}

// TestExport_NomadDaemons: a daemon service is a system job of its own, a
// second file: -o DIR writes both, and -o - refuses, naming them, and
// writes nothing.
func TestExport_NomadDaemons(t *testing.T) {
	stack := writeStack(t, nomadStack+"  agent: {task_definition: redis, scheduling_strategy: daemon}\n")
	code, stdout, stderr := run(t, context.Background(), "export", "nomad", "-f", stack)
	if code == 0 || stdout != "" || !strings.Contains(stderr, "2 files (shop.nomad.json, shop-daemons.nomad.json): write them to a folder with -o DIR") {
		t.Errorf("got exit %d, stdout %.100q, stderr:\n%s\nwant a usage error naming both files, and nothing on stdout", code, stdout, stderr)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr = run(t, context.Background(), "export", "nomad", "-f", stack, "-o", out)
	if code != 0 {
		t.Fatalf("got exit %d, stderr:\n%s", code, stderr)
	}
	for name, want := range map[string]string{"shop.nomad.json": api.JobTypeService, "shop-daemons.nomad.json": api.JobTypeSystem} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Job *api.Job }
		if err := json.Unmarshal(data, &doc); err != nil || doc.Job == nil || *doc.Job.Type != want {
			t.Errorf("%s: got %v, want a job of type %s", name, err, want)
		}
		if !strings.Contains(stderr, "wrote "+filepath.Join(out, name)) {
			t.Errorf("got stderr:\n%s\nwant it to name %s", stderr, name)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
