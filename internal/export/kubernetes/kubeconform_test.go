package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/export"
)

// kubernetesModule is the module whose OpenAPI document the manifests are
// checked against: the control plane k8s.io/api v0.36.3 goes with.
const kubernetesModule = "k8s.io/kubernetes@v1.36.3"

// TestExport_Kubeconform validates every manifest the golden stacks give,
// plain and for the AWS Load Balancer Controller, with kubeconform in
// strict mode against JSON schemas made from the pinned module's OpenAPI
// document, offline. Without kubeconform or the module it skips, unless
// CI=1 (.ci/export-kubernetes.sh installs both).
func TestExport_Kubeconform(t *testing.T) {
	kubeconform, swagger := kubeconformTools(t)
	schemas := t.TempDir()
	start := time.Now()
	n, err := writeSchemas(swagger, schemas)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d schemas from %s in %s", n, swagger, time.Since(start).Round(time.Millisecond))
	location := filepath.Join(schemas, "{{ .ResourceKind }}{{ .KindSuffix }}.json")

	toRoot(t)
	out := t.TempDir()
	var files []string
	for _, file := range stacks(t) {
		for _, class := range []string{"", ingressClassALB} {
			doc, err := exportFile(t, file, export.Options{IngressClass: class})
			if err != nil {
				continue // a stack that cannot be exported: TestExport_Golden checks its error
			}
			path := filepath.Join(out, class+doc.Name)
			if err := os.WriteFile(path, doc.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, path)
		}
	}
	if len(files) < 4 {
		t.Fatalf("got %d exported files, want at least 4", len(files))
	}
	start = time.Now()
	summary := runKubeconform(t, kubeconform, location, files...)
	t.Logf("kubeconform on %d files in %s: %s", len(files), time.Since(start).Round(time.Millisecond), summary)

	// The check is not vacuous: unknown fields, at the top and deep down,
	// a string where a number goes and a bool where an int-or-string goes
	// are caught, each.
	for _, bad := range []struct{ field, manifest string }{
		{"selectr", "spec:\n  selectr: {}\n"},
		{"replicas", "spec:\n  replicas: \"3\"\n"},
		{"imagee", "spec:\n  template: {spec: {containers: [{name: x, image: x, imagee: y}]}}\n"},
		{"port", "spec:\n  template: {spec: {containers: [{name: x, image: x, readinessProbe: {httpGet: {port: true}}}]}}\n"},
	} {
		path := filepath.Join(out, "bad.yaml")
		if err := os.WriteFile(path, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"+bad.manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := exec.Command(kubeconform, "-strict", "-summary", "-schema-location", location, path).CombinedOutput()
		if err == nil || !strings.Contains(string(got), bad.field) {
			t.Errorf("kubeconform on a Deployment with a bad %s: got %v:\n%s\nwant it invalid, naming %s", bad.field, err, got, bad.field)
		}
	}
}

// kubeconformTools finds kubeconform and the pinned module's OpenAPI
// document, or skips (fails with CI=1).
func kubeconformTools(t *testing.T) (kubeconform, swagger string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) + " (.ci/export-kubernetes.sh installs it)"
		if os.Getenv("CI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	kubeconform, err := exec.LookPath("kubeconform")
	if err != nil {
		missing("kubeconform is not installed: go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0")
	}
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		missing("go env GOMODCACHE: %v", err)
	}
	swagger = filepath.Join(strings.TrimSpace(string(modcache)), filepath.FromSlash(kubernetesModule), "api", "openapi-spec", "swagger.json")
	if _, err := os.Stat(swagger); err != nil {
		missing("%s is not in the module cache: go mod download %s", kubernetesModule, kubernetesModule)
	}
	return kubeconform, swagger
}

// runKubeconform validates files in strict mode and returns its summary;
// any invalid, erroneous or skipped resource fails the test.
func runKubeconform(t *testing.T, kubeconform, location string, files ...string) string {
	t.Helper()
	args := append([]string{"-strict", "-summary", "-schema-location", location}, files...)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kubeconform, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	summary := strings.TrimSpace(stdout.String())
	if err != nil || !regexp.MustCompile(`Invalid: 0, Errors: 0, Skipped: 0`).MatchString(summary) {
		t.Fatalf("kubeconform: %v\n%s\n%s", err, summary, stderr.String())
	}
	return summary
}

// writeSchemas turns the OpenAPI (v2) document at swagger into one
// standalone JSON schema per kind, as kubeconform finds them
// (KIND-GROUP-VERSION.json): each holds the definitions it refers to; an
// object with properties takes no others (strict), an int-or-string is
// either, and apiVersion and kind must be the kind's own.
func writeSchemas(swagger, dir string) (int, error) {
	data, err := os.ReadFile(swagger)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return 0, err
	}
	for _, def := range doc.Definitions {
		strict(def)
	}
	n := 0
	for _, def := range doc.Definitions {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			apiVersion, suffix := version, "-"+strings.ToLower(version)
			if group != "" {
				apiVersion = group + "/" + version
				suffix = "-" + strings.ToLower(strings.Split(group, ".")[0]) + "-" + strings.ToLower(version)
			}
			schema := map[string]any{}
			for k, v := range def {
				schema[k] = v
			}
			props := map[string]any{}
			old, _ := def["properties"].(map[string]any)
			for k, v := range old {
				props[k] = v
			}
			props["apiVersion"] = map[string]any{"type": "string", "enum": []string{apiVersion}}
			props["kind"] = map[string]any{"type": "string", "enum": []string{kind}}
			schema["properties"] = props
			defs := map[string]any{}
			collect(doc.Definitions, def, defs)
			schema["definitions"] = defs
			out, err := json.Marshal(schema)
			if err != nil {
				return n, err
			}
			if err := os.WriteFile(filepath.Join(dir, strings.ToLower(kind)+suffix+".json"), out, 0o644); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// strict rewrites a schema in place: no other properties where some are
// listed, int-or-string as a oneOf.
func strict(node map[string]any) {
	if node["format"] == "int-or-string" {
		delete(node, "type")
		delete(node, "format")
		node["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for _, p := range props {
			if m, ok := p.(map[string]any); ok {
				strict(m)
			}
		}
		if _, set := node["additionalProperties"]; !set {
			node["additionalProperties"] = false
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if m, ok := node[key].(map[string]any); ok {
			strict(m)
		}
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		list, _ := node[key].([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				strict(m)
			}
		}
	}
}

// collect adds to defs every definition node refers to, transitively.
func collect(all map[string]map[string]any, node any, defs map[string]any) {
	switch v := node.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if _, seen := defs[name]; !seen && all[name] != nil {
				defs[name] = all[name]
				collect(all, all[name], defs)
			}
		}
		for _, e := range v {
			collect(all, e, defs)
		}
	case []any:
		for _, e := range v {
			collect(all, e, defs)
		}
	}
}
