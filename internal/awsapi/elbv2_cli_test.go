package awsapi

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestELBAWSCLI drives the endpoint with the AWS CLI itself (its botocore
// parses the answers): $SHOAL_TEST_AWS_CLI (.ci/run sets Debian's), else
// the one on PATH, when one is installed.
func TestELBAWSCLI(t *testing.T) {
	cli := os.Getenv("SHOAL_TEST_AWS_CLI")
	if cli == "" {
		path, err := exec.LookPath("aws")
		if err != nil {
			t.Skip("no aws CLI installed (apt-get install awscli)")
		}
		cli = path
	}
	b := elbBackend()
	_, _, srv := serve(t, b)
	home := t.TempDir()
	run := func(args ...string) (map[string]any, string, error) {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"elbv2", "--endpoint-url", srv.URL, "--output", "json"}, args...)...)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "AWS_ACCESS_KEY_ID="+testCredentials.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+testCredentials.SecretAccessKey,
			"AWS_DEFAULT_REGION="+testRegion, "AWS_REGION="+testRegion, "HOME="+home,
			"AWS_CONFIG_FILE="+home+"/config", "AWS_SHARED_CREDENTIALS_FILE="+home+"/credentials", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var m map[string]any
		if err == nil && len(out) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %v: %v\n%s", args, err, out)
			}
		}
		return m, stderr.String(), err
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		m, stderr, err := run(args...)
		if err != nil {
			t.Fatalf("aws elbv2 %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return m
	}

	lbs := must("describe-load-balancers")["LoadBalancers"].([]any)
	if len(lbs) != 2 || lbs[1].(map[string]any)["DNSName"] != "127.0.0.1" {
		t.Errorf("load balancers %v", lbs)
	}
	rules := must("describe-rules", "--listener-arn", elbARNs.listenerARN("web", 0))["Rules"].([]any)
	if len(rules) != 4 || rules[3].(map[string]any)["Priority"] != "default" {
		t.Errorf("rules %v", rules)
	}
	health := must("describe-target-health", "--target-group-arn", elbARNs.targetGroupARN("api"))["TargetHealthDescriptions"].([]any)
	if len(health) != 3 || health[1].(map[string]any)["TargetHealth"].(map[string]any)["Reason"] != "Target.ResponseCodeMismatch" {
		t.Errorf("target health %v", health)
	}
	// A page at a time, as the CLI does when asked for one page size
	// (it then leaves the paging to the caller).
	page := must("describe-target-groups", "--page-size", "1")
	next, _ := page["NextMarker"].(string)
	page2 := must("describe-target-groups", "--page-size", "1", "--marker", next)
	if tgs := page2["TargetGroups"].([]any); next == "" || len(tgs) != 1 || tgs[0].(map[string]any)["TargetGroupName"] != "api" {
		t.Errorf("second page %v (marker %q)", page2, next)
	}

	must("modify-rule", "--rule-arn", elbARNs.ruleARN("web", 0, 10), "--conditions", "Field=path-pattern,Values=/v3/*")
	if got := b.elbConfig().Listeners[0].Routes.Rules[1].Conditions; len(got) != 1 || !slices.Equal(got[0].Values, []string{"/v3/*"}) {
		t.Errorf("conditions after modify-rule %+v", got)
	}
	must("register-targets", "--target-group-arn", elbARNs.targetGroupARN("admin"), "--targets", "Id=127.0.0.1,Port=9010")
	if got := b.elbConfig().TargetGroups["admin"].Targets; !slices.Contains(got, "127.0.0.1:9010") {
		t.Errorf("admin targets %v", got)
	}
	attrs := must("modify-target-group-attributes", "--target-group-arn", elbARNs.targetGroupARN("api"),
		"--attributes", "Key=deregistration_delay.timeout_seconds,Value=10")["Attributes"].([]any)
	if len(attrs) != 14 || b.elbConfig().TargetGroups["api"].DeregistrationDelay.Seconds() != 10 {
		t.Errorf("attributes %v", attrs)
	}

	if _, stderr, err := run("describe-target-groups", "--names", "nope"); err == nil || !strings.Contains(stderr, "TargetGroupNotFound") {
		t.Errorf("unknown target group: %v %s", err, stderr)
	}
	if _, stderr, err := run("create-load-balancer", "--name", "x"); err == nil || !strings.Contains(stderr, "UnsupportedOperation") {
		t.Errorf("unsupported operation: %v %s", err, stderr)
	}
}
