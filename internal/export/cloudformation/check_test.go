package cloudformation

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkDir holds the Node checker of templates against the AWS resource
// specification (@aws-cdk/aws-service-spec), and its pinned packages.
const checkDir = "testdata/check"

// checker returns the node command, or skips the test when node or the
// checker's packages are missing; with CI=1 it fails instead, so that CI
// never passes without checking.
func checker(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		msg := what + ": run .ci/export-cloudformation.sh (npm ci in " + checkDir + ") to check the templates against the AWS resource specification"
		if os.Getenv("CI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(checkDir, "node_modules/@aws-cdk/aws-service-spec/db.json.gz")); err != nil {
		missing("the checker's node_modules are missing")
	}
	return node
}

// toJSON writes a YAML template as JSON into dir, for the checker.
func toJSON(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s is not YAML: %v", name, err)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".json")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// runChecker runs check.js on files and returns its output and whether it
// found nothing.
func runChecker(t *testing.T, node string, files ...string) (string, bool) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(node, append([]string{filepath.Join(checkDir, "check.js")}, files...)...)
	out, err := cmd.CombinedOutput()
	t.Logf("checker ran in %v", time.Since(start).Round(time.Millisecond))
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running the checker: %v", err)
	}
	return string(out), err == nil
}

// TestExport_PassesChecker checks the template of every stack (the golden
// files' sources) against the AWS resource specification.
func TestExport_PassesChecker(t *testing.T) {
	node := checker(t)
	dir := t.TempDir()
	var files []string
	for name, file := range stacks(t) {
		files = append(files, toJSON(t, dir, name, exportFile(t, file).Data))
	}
	out, ok := runChecker(t, node, files...)
	if !ok {
		t.Errorf("the checker found problems:\n%s", out)
	}
	t.Log(strings.TrimSpace(out))
}

// TestExport_SpecStacksPassChecker checks, without golden files, the
// templates of the stacks the spec package keeps as valid (one of them
// sets nearly every field), so that a field the examples leave out cannot
// make a template AWS refuses.
func TestExport_SpecStacksPassChecker(t *testing.T) {
	node := checker(t)
	files, err := filepath.Glob("../../spec/testdata/valid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no stacks in ../../spec/testdata/valid (%v)", err)
	}
	dir := t.TempDir()
	var jsons []string
	for _, f := range files {
		jsons = append(jsons, toJSON(t, dir, strings.TrimSuffix(filepath.Base(f), ".yaml"), exportFile(t, f).Data))
	}
	if out, ok := runChecker(t, node, jsons...); !ok {
		t.Errorf("the checker found problems:\n%s", out)
	}
}

// TestChecker_CatchesMistakes plants a mistake of each kind in a good
// template and wants the checker to name each.
func TestChecker_CatchesMistakes(t *testing.T) {
	node := checker(t)
	data := exportFile(t, "../../../examples/catalog/shoal.yaml").Data
	var tpl map[string]any
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	res := tpl["Resources"].(map[string]any)
	props := func(id string) map[string]any { return res[id].(map[string]any)["Properties"].(map[string]any) }
	props("ApiTargetGroup")["HealthCheckPathh"] = "/"                                          // unknown property
	delete(props("WebListener8080"), "DefaultActions")                                         // missing required
	props("WebLoadBalancer")["SecurityGroups"] = []any{getAtt("AlbSecurityGroup", "GroupIdd")} // bad GetAtt attribute
	props("ApiService")["Cluster"] = ref("Clusterr")                                           // bad Ref
	props("ApiService")["SchedulingStrategy"] = "REPLICAS"                                     // not an allowed value
	props("ApiService")["DesiredCount"] = "three"                                              // wrong kind
	props("WebLoadBalancer")["Subnets"] = ref("VpcId")                                         // one value where a list is expected
	props("ApiTargetGroup")["VpcId"] = ref("Subnets")                                          // a list where one value is expected
	res["ApiService"].(map[string]any)["DependsOn"] = []any{"NoSuchListener"}                  // bad DependsOn
	res["Extra"] = map[string]any{"Type": "AWS::ECS::Servise", "Properties": map[string]any{}} // unknown type
	env := props("CatalogTaskDefinition")["ContainerDefinitions"].([]any)[0].(map[string]any)["Environment"].([]any)
	env[len(env)-1].(map[string]any)["Value"] = sub("redis://${CacheRedis.Endpoint.Address}:${NoSuchPort}/0") // bad Fn::Sub
	tpl["Parameters"].(map[string]any)["InstanceCount"].(map[string]any)["Default"] = "two"                   // not a number
	props("Cluster")["ClusterSettings"] = map[string]any{"Fn::Nope": "x"}                                     // unknown function
	out, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	got, ok := runChecker(t, node, file)
	if ok {
		t.Fatalf("the checker passed a broken template:\n%s", got)
	}
	for _, want := range []string{
		"Resources.ApiTargetGroup.Properties.HealthCheckPathh: AWS::ElasticLoadBalancingV2::TargetGroup has no property HealthCheckPathh",
		"Resources.WebListener8080.Properties: AWS::ElasticLoadBalancingV2::Listener requires DefaultActions",
		"Fn::GetAtt AlbSecurityGroup.GroupIdd: AWS::EC2::SecurityGroup has no attribute GroupIdd",
		"Resources.ApiService.Properties.Cluster: Ref to Clusterr: no parameter, resource or pseudo parameter of that name",
		`Resources.ApiService.Properties.SchedulingStrategy: "REPLICAS" is not one of DAEMON, REPLICA`,
		`Resources.ApiService.Properties.DesiredCount: expected an integer, got "three"`,
		"Resources.WebLoadBalancer.Properties.Subnets: Ref gives a single value where a list is expected",
		"Resources.ApiTargetGroup.Properties.VpcId: Ref gives a list where string is expected",
		"Resources.ApiService.DependsOn: NoSuchListener: no such resource",
		`Resources.Extra.Type: unknown resource type "AWS::ECS::Servise"`,
		"Fn::GetAtt CacheRedis.Endpoint.Address: AWS::ElastiCache::CacheCluster has no attribute Endpoint.Address",
		"${NoSuchPort}: Ref to NoSuchPort: no parameter, resource or pseudo parameter of that name",
		"Resources.Cluster.Properties.ClusterSettings: unknown intrinsic function Fn::Nope",
		`Parameters.InstanceCount.Default: "two" is not a number`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the checker did not report %q; it said:\n%s", want, got)
		}
	}
}
