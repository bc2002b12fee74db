package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/hook"
	"github.com/shoalhq/shoal/internal/routing"
	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/strategy"
)

// canaryStack is rolling(desired, command) deployed as a canary: green in
// target group app-green, the listener's default action re-weighted.
func canaryStack(desired int, command string, hooks ...LifecycleHook) *Stack {
	s := rolling(desired, command, false)
	s.LoadBalancer.TargetGroups["app-green"] = testGroup()
	s.LoadBalancer.Listeners[0].TargetGroup = ""
	s.LoadBalancer.Listeners[0].Routes = routing.Listener{Default: routing.Action{Type: routing.Forward,
		Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: "app", Weight: 1}}}}}
	svc := s.Services["web"]
	svc.Strategy = &Strategy{Kind: strategy.Canary, AlternateTargetGroup: "app-green",
		ProductionRule: RuleRef{Listener: "web/0"}, CanaryPercent: 10, CanaryBakeTime: time.Minute,
		BakeTime: time.Minute, Hooks: hooks}
	s.Services["web"] = svc
	return s
}

// weights are the forward weights of the listener's default action, as
// served.
func (h *harness) weights() map[string]int {
	out := map[string]int{}
	for _, g := range h.agent.LoadBalancer().Listeners[0].Routes.Default.Forward.Groups {
		out[g.Name] = g.Weight
	}
	return out
}

func (h *harness) stage() strategy.Stage {
	d := h.agent.Services()[0].Deployments[0]
	if d.Strategy == nil {
		return ""
	}
	return d.Strategy.Stage
}

func TestAgent_CanaryShiftsTrafficByStepsThenStopsBlue(t *testing.T) {
	h := newHarness(t)
	h.run(t, canaryStack(2, "v1"))
	waitFor(t, "2 running tasks", h.running(2))
	h.healthyAll()
	waitFor(t, "the first deployment COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	if w := h.weights(); w["app"] != 999 || w["app-green"] != 0 {
		t.Fatalf("weights before the canary: %v, want everything to app", w)
	}

	if _, err := h.agent.Deploy(context.Background(), canaryStack(2, "v2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "green's 2 tasks running beside blue's 2", h.running(4))
	for _, ts := range h.agent.Tasks(false) {
		if ts.TaskDefinition == "app:2" && ts.TargetGroup != "app-green" {
			t.Errorf("green task %s registered in %s, want app-green", ts.ID, ts.TargetGroup)
		}
	}
	h.healthyAll()
	waitFor(t, "the canary step served: app-green 100 of 999 (10%)", func() bool {
		w := h.weights()
		return h.stage() == strategy.ProductionTrafficShift && w["app-green"] == 100 && w["app"] == 899
	})
	if _, err := h.agent.Deploy(context.Background(), canaryStack(2, "v3")); err == nil || !strings.Contains(err.Error(), "PRODUCTION_TRAFFIC_SHIFT") {
		t.Errorf("a deploy during the canary: %v, want it refused, naming the stage", err)
	}
	h.clock.Advance(time.Minute) // the canary's bake time
	waitFor(t, "the bake time, everything to app-green", func() bool {
		w := h.weights()
		return h.stage() == strategy.BakeTime && w["app-green"] == 999 && w["app"] == 0
	})
	if n := len(h.agent.Tasks(false)); n != 4 {
		t.Errorf("%d tasks during the bake time, want blue kept beside green", n)
	}
	h.clock.Advance(time.Minute)
	waitFor(t, "blue stopped and the deployment COMPLETED", func() bool {
		return h.running(2)() && h.rollout("web")() == sched.RolloutCompleted
	})
	d := h.agent.Services()[0].Deployments[0]
	var stages []string
	for _, ev := range d.Strategy.Timeline {
		stages = append(stages, string(ev.Stage)+" "+ev.Detail)
	}
	want := "PRE_SCALE_UP |SCALE_UP |POST_SCALE_UP |TEST_TRAFFIC_SHIFT |POST_TEST_TRAFFIC_SHIFT |PRE_PRODUCTION_TRAFFIC_SHIFT |" +
		"PRODUCTION_TRAFFIC_SHIFT production 10%|PRODUCTION_TRAFFIC_SHIFT production 100%|POST_PRODUCTION_TRAFFIC_SHIFT |BAKE_TIME |CLEAN_UP "
	if got := strings.Join(stages, "|"); got != want {
		t.Errorf("timeline:\n%s\nwant\n%s", got, want)
	}
	// Every stage passed has its event, those passed at one instant too.
	events := ""
	for _, e := range h.agent.Events(0) {
		events += e.Message + "\n"
	}
	for _, want := range []string{"SCALE_UP.", "POST_TEST_TRAFFIC_SHIFT.", "PRODUCTION_TRAFFIC_SHIFT: production traffic 10% to app:2, 90% to app:1.",
		"PRODUCTION_TRAFFIC_SHIFT: production traffic 100% to app:2, 0% to app:1.", "BAKE_TIME.", "CLEAN_UP.", "finished its lifecycle"} {
		if !strings.Contains(events, want) {
			t.Errorf("no event says %q:\n%s", want, events)
		}
	}
}

func TestAgent_FailedHookRollsBackToBlue(t *testing.T) {
	h := newHarness(t)
	fail := LifecycleHook{Stages: []strategy.Stage{strategy.PostScaleUp}, Hook: hook.Hook{Command: []string{"sh", "-c", "echo smoke test failed; exit 3"}, Timeout: 10 * time.Second}}
	h.run(t, canaryStack(2, "v1", fail))
	waitFor(t, "2 running tasks", h.running(2))
	h.healthyAll()
	waitFor(t, "the first deployment COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	blue := h.agent.Services()[0].Deployments[0].ID
	if _, err := h.agent.Deploy(context.Background(), canaryStack(2, "v2", fail)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "green running", h.running(4))
	h.healthyAll()
	waitFor(t, "blue PRIMARY again and green gone", func() bool {
		s := h.agent.Services()[0]
		return s.Deployments[0].ID == blue && h.running(2)() && len(s.Deployments) == 1
	})
	for _, ts := range h.agent.Tasks(false) {
		if ts.TaskDefinition != "app:1" {
			t.Errorf("task %s runs %s after the rollback", ts.ID, ts.TaskDefinition)
		}
	}
	waitFor(t, "everything to blue after the rollback", func() bool { return h.weights()["app"] == 999 })
	events := ""
	for _, e := range h.agent.Events(0) {
		events += e.Message + "\n"
	}

	if !strings.Contains(events, "lifecycle hook failed at POST_SCALE_UP") || !strings.Contains(events, "smoke test failed") {
		t.Errorf("events do not say why it rolled back:\n%s", events)
	}
}

// shoal stops during a canary: the next one starts blue again beside
// green, and the canary goes on with the same weights.
func TestAgent_CanaryResumesAfterARestartWithBlueAndGreen(t *testing.T) {
	h := newHarness(t)
	h.run(t, canaryStack(2, "v1"))
	waitFor(t, "2 running tasks", h.running(2))
	h.healthyAll()
	waitFor(t, "the first deployment COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	if _, err := h.agent.Deploy(context.Background(), canaryStack(2, "v2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "green running", h.running(4))
	h.healthyAll()
	waitFor(t, "the canary step", func() bool { return h.stage() == strategy.ProductionTrafficShift })
	record := h.lastSaved(t)
	h.stop()

	h2 := newHarness(t)
	if err := h2.agent.Restore(record); err != nil {
		t.Fatal(err)
	}
	h2.run(t, canaryStack(2, "v2"))
	waitFor(t, "blue's 2 tasks and green's 2 started again", func() bool {
		n := map[string]int{}
		for _, ts := range h2.agent.Tasks(false) {
			n[ts.TaskDefinition+" "+ts.TargetGroup]++
		}
		return n["app:1 app"] == 2 && n["app:2 app-green"] == 2
	})
	if h2.stage() != strategy.ProductionTrafficShift {
		t.Errorf("after the restart the deployment is at %s, want PRODUCTION_TRAFFIC_SHIFT still", h2.stage())
	}
	if w := h2.weights(); w["app-green"] != 100 || w["app"] != 899 {
		t.Errorf("weights after the restart: %v, want the canary's", w)
	}
	if r := h2.rollout("web")(); r != sched.RolloutInProgress {
		t.Errorf("rollout %s after the restart, want IN_PROGRESS", r)
	}
}

// A hook that keeps answering IN_PROGRESS fails at the hook timeout (24 h,
// divided by the time scale) and the deployment rolls back.
func TestAgent_HookStillInProgressAtTheTimeoutRollsBack(t *testing.T) {
	h := newHarness(t)
	wait := LifecycleHook{Stages: []strategy.Stage{strategy.PostScaleUp},
		Hook: hook.Hook{Command: []string{"sh", "-c", `echo '{"hookStatus": "IN_PROGRESS", "callBackDelay": 60}'`}, Timeout: 10 * time.Second}}
	h.run(t, canaryStack(1, "v1", wait))
	waitFor(t, "1 running task", h.running(1))
	h.healthyAll()
	waitFor(t, "the first deployment COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	blue := h.agent.Services()[0].Deployments[0].ID
	v2 := canaryStack(1, "v2", wait)
	v2.TimeScale = 3600 // the 24 h timeout is 24 s, the call-back 60 s is 1/60 s
	if _, err := h.agent.Deploy(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "green running", h.running(2))
	h.healthyAll()
	waitFor(t, "the hook called", func() bool { return h.stage() == strategy.PostScaleUp })
	h.clock.Advance(25 * time.Second)
	waitFor(t, "blue PRIMARY again", func() bool { return h.agent.Services()[0].Deployments[0].ID == blue })
	events := ""
	for _, e := range h.agent.Events(0) {
		events += e.Message + "\n"
	}
	if !strings.Contains(events, "still IN_PROGRESS after 24s") {
		t.Errorf("events do not say the hook timed out:\n%s", events)
	}
}
