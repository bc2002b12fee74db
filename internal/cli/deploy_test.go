package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/testkit"
)

// TestDeploy_RollsOutScalesAndDrains drives a running shoal the way a user
// does: deploy a changed stack and watch it roll out, deploy a broken one
// (refused, nothing changes) and an unchanged one, scale, drain an
// instance and activate it again.
func TestDeploy_RollsOutScalesAndDrains(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	v1 := fmt.Sprintf(testStack, exe)
	stack := writeStack(t, v1)
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var upOut, upErr testkit.Buffer
	upDone := make(chan int, 1)
	go func() { upDone <- Main(ctx, []string{"up", "-q", "-f", stack, "--state-dir", state}, &upOut, &upErr) }()
	t.Cleanup(func() {
		cancel()
		<-upDone
	})
	waitSteady(t, state, upDone, &upErr)

	v2 := writeStack(t, strings.Replace(v1, `SHOAL_TEST_APP: "1"`, `SHOAL_TEST_APP: "1"
      RELEASE: "2"`, 1))
	code, out, errOut := run(t, ctx, "deploy", "-f", v2, "--state-dir", state)
	if code != 0 || !strings.Contains(out, "COMPLETED: app:2") || !strings.Contains(out, "deployment started: app:2 replaces app:1") {
		t.Fatalf("deploy: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	svc := services(t, state)[0]
	if svc.TaskDefinition != "app:2" || len(svc.Deployments) != 1 || svc.Deployments[0].Rollout != "COMPLETED" || svc.Running != 2 {
		t.Errorf("after the rollout: %+v", svc)
	}

	broken := writeStack(t, strings.Replace(v1, "desired: 2", "desired: -2", 1))
	code, _, errOut = run(t, ctx, "deploy", "-f", broken, "--state-dir", state)
	if code != 1 || !strings.Contains(errOut, "desired -2 is out of range") || !strings.Contains(errOut, "nothing was deployed") {
		t.Errorf("broken stack: exit %d, stderr:\n%s", code, errOut)
	}
	ports := writeStack(t, strings.Replace(v1, "instances: 2", "instances: 2\n  host_port_range: 30000-30999", 1))
	code, _, errOut = run(t, ctx, "deploy", "-f", ports, "--state-dir", state)
	if code != 1 || !strings.Contains(errOut, "cluster.host_port_range changed") {
		t.Errorf("changed host port range: exit %d, stderr:\n%s", code, errOut)
	}
	region := writeStack(t, v1+"\naws_api:\n  region: eu-west-3\n")
	code, _, errOut = run(t, ctx, "deploy", "-f", region, "--state-dir", state)
	if code != 1 || !strings.Contains(errOut, "aws_api changed") {
		t.Errorf("changed AWS API region: exit %d, stderr:\n%s", code, errOut)
	}
	code, out, _ = run(t, ctx, "deploy", "-f", v2, "--state-dir", state)
	if code != 0 || !strings.Contains(out, "nothing to roll out") {
		t.Errorf("unchanged stack: exit %d, stdout:\n%s", code, out)
	}
	if got := services(t, state)[0].TaskDefinition; got != "app:2" {
		t.Errorf("after a broken and an unchanged deploy the service runs %s, want app:2", got)
	}

	if code, out, errOut := run(t, ctx, "scale", "web", "3", "--state-dir", state); code != 0 || !strings.Contains(out, "desired count set to 3") {
		t.Fatalf("scale: exit %d, %s %s", code, out, errOut)
	}
	testkit.WaitFor(t, 30*time.Second, "3 running tasks", func() bool { return services(t, state)[0].Running == 3 })
	if code, _, errOut := run(t, ctx, "scale", "web", "many", "--state-dir", state); code != 2 || !strings.Contains(errOut, "not a whole number") {
		t.Errorf("scale web many: exit %d, %s", code, errOut)
	}
	if code, _, errOut := run(t, ctx, "scale", "nope", "1", "--state-dir", state); code != 1 || !strings.Contains(errOut, `no service "nope"`) {
		t.Errorf("scale nope: exit %d, %s", code, errOut)
	}

	if code, out, errOut := run(t, ctx, "instance", "drain", "instance-2", "--state-dir", state); code != 0 || !strings.Contains(out, "DRAINING") {
		t.Fatalf("drain: exit %d, %s %s", code, out, errOut)
	}
	testkit.WaitFor(t, 30*time.Second, "every task on instance-1", func() bool {
		for _, in := range instances(t, state) {
			if in.Name == "instance-2" && (in.RunningTasks+in.PendingTasks > 0 || in.Status != "DRAINING") {
				return false
			}
		}
		return services(t, state)[0].Running == 3
	})
	if code, _, _ := run(t, ctx, "instance", "activate", "instance-2", "--state-dir", state); code != 0 {
		t.Errorf("activate: exit %d", code)
	}
	if in := instances(t, state); in[1].Status != "ACTIVE" {
		t.Errorf("instance-2 after activate: %+v", in[1])
	}
	code, out, _ = run(t, ctx, "events", "web", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "service web desired count set to 3") || strings.Contains(out, "container instance") {
		t.Errorf("events web: exit %d, want web's events and no instance's:\n%s", code, out)
	}
}

func services(t *testing.T, state string) []agent.ServiceStatus {
	t.Helper()
	var out []agent.ServiceStatus
	listJSON(t, &out, "services", "--json", "--state-dir", state)
	return out
}

func instances(t *testing.T, state string) []agent.InstanceStatus {
	t.Helper()
	var out []agent.InstanceStatus
	listJSON(t, &out, "instances", "--json", "--state-dir", state)
	return out
}

func listJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	code, out, errOut := run(t, context.Background(), args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}
