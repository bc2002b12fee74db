package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExport_CloudFormation: shoal export cloudformation writes the
// catalog example's template to standard output, its warnings on stderr
// at their lines and as comments at the top; -o writes
// catalog.cloudformation.yaml, the same bytes.
func TestExport_CloudFormation(t *testing.T) {
	file := filepath.Join("..", "..", "examples", "catalog", "shoal.yaml")
	code, stdout, stderr := run(t, context.Background(), "export", "cloudformation", "-f", file)
	if code != 0 {
		t.Fatalf("got exit %d, stderr:\n%s\nwant 0", code, stderr)
	}
	for _, want := range []string{
		"AWSTemplateFormatVersion: \"2010-09-09\"",
		"Type: AWS::ECS::Service",
		"Type: AWS::ElastiCache::CacheCluster",
		"Fn::Sub: redis://${CacheRedis.RedisEndpoint.Address}:${CacheRedis.RedisEndpoint.Port}/0",
		"# shoal export: 9 setting(s) do not carry over exactly:",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the template has no %q", want)
		}
	}
	wantWarning := "warning: " + file + ":58:5: task_definitions.catalog.command: changes meaning: ECS runs containers, not processes: give parameter CatalogImage"
	if !strings.Contains(stderr, wantWarning) {
		t.Errorf("stderr has no %q:\n%s", wantWarning, stderr)
	}
	if n := strings.Count(stderr, "warning: "); n != 9 {
		t.Errorf("got %d warnings on stderr, want 9:\n%s", n, stderr)
	}

	dir := t.TempDir()
	code, out, stderr := run(t, context.Background(), "export", "cloudformation", "-f", file, "-o", dir)
	path := filepath.Join(dir, "catalog.cloudformation.yaml")
	if code != 0 || out != "" || !strings.HasSuffix(stderr, "wrote "+path+" (9 warnings)\n") {
		t.Fatalf("got exit %d, stdout %q, stderr:\n%s\nwant 0, nothing, and wrote %s (9 warnings)", code, out, stderr, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, []byte(stdout)) {
		t.Errorf("%s differs from the standard output of the same export", path)
	}
}

// TestExport_UnknownEngineListsCloudFormation: a wrong engine name is a
// usage error that lists the engines.
func TestExport_UnknownEngineListsCloudFormation(t *testing.T) {
	code, _, stderr := run(t, context.Background(), "export", "cloudformations", "-f", filepath.Join("..", "..", "examples", "catalog", "shoal.yaml"))
	if code != 2 || !strings.Contains(stderr, `no exporter for "cloudformations"`) || !strings.Contains(stderr, "cloudformation") {
		t.Errorf("got exit %d, stderr:\n%s\nwant 2 and the engines", code, stderr)
	}
}
