package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/strategy"
)

// shoal deployments shows a canary's timeline: each stage and step, how
// long it took here, and on AWS, where its bake time runs whole.
func TestDeployments_PrintsTheTimelineWithItsAWSEstimate(t *testing.T) {
	b := newFixedBackend()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	b.services = []agent.ServiceStatus{{Name: "api", Strategy: "canary", TaskDefinition: "api:2",
		Deployments: []agent.DeploymentStatus{{Deployment: agent.Deployment{
			ID: "ecs-svc/1234567890123456789", Status: "PRIMARY", TaskDefinition: "api:2", Rollout: "COMPLETED",
			Reason: "ECS deployment ecs-svc/1234567890123456789 completed.", TimeScale: 60,
			Strategy: &strategy.State{Stage: strategy.CleanUp, Done: true, Timeline: []strategy.Event{
				{Stage: strategy.ScaleUp, Start: at(0), End: at(3), Outcome: "SUCCEEDED"},
				{Stage: strategy.ProductionTrafficShift, Start: at(3), End: at(13), Detail: "production 10%", Outcome: "SUCCEEDED", Wait: 10 * time.Minute},
				{Stage: strategy.ProductionTrafficShift, Start: at(13), End: at(13), Detail: "production 100%", Outcome: "SUCCEEDED"},
				{Stage: strategy.BakeTime, Start: at(13), End: at(18), Outcome: "SUCCEEDED", Wait: 5 * time.Minute},
			}},
		}}},
		Recent: []agent.Deployment{{ID: "ecs-svc/2234567890123456789", Status: "INACTIVE", TaskDefinition: "api:1", Rollout: "COMPLETED", Reason: "done"}},
	}}
	state, _ := serveAdmin(t, b)
	code, out, errOut := run(t, context.Background(), "deployments", "api", "--state-dir", state)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"service api deploys canary.",
		"ecs-svc/1234567890123456789 PRIMARY api:2: COMPLETED",
		"PRODUCTION_TRAFFIC_SHIFT production 10% +3s 10s 10m0s SUCCEEDED",
		"BAKE_TIME - +13s 5s 5m0s SUCCEEDED",
		"total 18s 15m3s",
		"divided by 60 here",
		"ecs-svc/2234567890123456789 INACTIVE api:1: COMPLETED (done)",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) { // the table's columns, whatever their width
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := run(t, context.Background(), "deployments", "nope", "--state-dir", state); code != 1 || !strings.Contains(errOut, `no service "nope"`) {
		t.Errorf("unknown service: exit %d, %s", code, errOut)
	}
}
