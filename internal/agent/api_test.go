package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
	"github.com/shoalhq/shoal/internal/sched"
)

// lastSaved is the state the store got last.
func (h *harness) lastSaved(t *testing.T) []byte {
	t.Helper()
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	if len(h.store.saved) == 0 {
		t.Fatal("nothing recorded")
	}
	return h.store.saved[len(h.store.saved)-1].State
}

func TestAgent_UpdateServiceDeploysARegisteredRevisionAndItHoldsAcrossRestarts(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(2, "v1", false))
	waitFor(t, "2 running tasks", h.running(2))
	h.healthyAll()

	td := rolling(2, "v2", false).TaskDefinitions["app"]
	rev, err := h.agent.RegisterTaskDefinition("app", td)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Name() != "app:2" || rev.Status != RevisionActive || rev.RegisteredAt.IsZero() {
		t.Fatalf("registered %+v, want app:2 ACTIVE with a registration time", rev)
	}
	two := 3
	if err := h.agent.UpdateService("web", ServiceUpdate{TaskDefinition: "app", Desired: &two}); err != nil {
		t.Fatal(err)
	}
	s := h.service(t, "web")
	if s.TaskDefinition != "app:2" || s.Desired != 3 || len(s.Deployments) != 2 || s.Deployments[1].TaskDefinition != "app:1" {
		t.Fatalf("after UpdateService: %s desired %d deployments %+v; want app:2 (latest ACTIVE), 3, replacing app:1", s.TaskDefinition, s.Desired, s.Deployments)
	}
	waitFor(t, "3 tasks of app:2 running", func() bool {
		n := 0
		for _, ts := range h.agent.Tasks(false) {
			if ts.TaskDefinition == "app:2" && ts.LastStatus == "RUNNING" {
				n++
			}
		}
		return n == 3
	})

	// A new shoal on the record, given the same file: the service stays
	// on app:2, with no new deployment.
	h2 := newHarness(t)
	if err := h2.agent.Restore(h.lastSaved(t)); err != nil {
		t.Fatal(err)
	}
	started, err := h2.agent.Deploy(context.Background(), rolling(2, "v1", false))
	if err != nil {
		t.Fatal(err)
	}
	if s := h2.service(t, "web"); len(started) != 0 || s.TaskDefinition != "app:2" || s.Desired != 3 {
		t.Errorf("restored on the same file: started %+v, service on %s desired %d; want nothing started, app:2, 3", started, s.TaskDefinition, s.Desired)
	}
	// The file's task definition changes: the file wins.
	started, err = h2.agent.Deploy(context.Background(), rolling(2, "v3", false))
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 1 || started[0].TaskDefinition != "app:3" || started[0].Replaces != "app:2" {
		t.Errorf("the file changed: started %+v, want app:3 replacing app:2", started)
	}
}

func TestAgent_UpdateServiceRefusesWithoutChangingAnything(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(2, "v1", false))
	before := h.service(t, "web")
	n := 2000
	bad := []struct {
		name string
		svc  string
		u    ServiceUpdate
		want error
	}{
		{"unknown service", "nope", ServiceUpdate{}, ErrNotFound},
		{"count out of range", "web", ServiceUpdate{Desired: &n}, ErrInvalid},
		{"unknown family", "web", ServiceUpdate{TaskDefinition: "other"}, ErrNotFound},
		{"unknown revision", "web", ServiceUpdate{TaskDefinition: "app:9"}, ErrNotFound},
		{"maximum percent", "web", ServiceUpdate{Deployment: &DeploymentConfig{MinHealthyPercent: 100, MaxPercent: 250}}, ErrInvalid},
		{"rollback without breaker", "web", ServiceUpdate{Deployment: &DeploymentConfig{MinHealthyPercent: 50, MaxPercent: 200, Rollback: true}}, ErrInvalid},
		{"no room", "web", ServiceUpdate{Deployment: &DeploymentConfig{MinHealthyPercent: 100, MaxPercent: 100}}, ErrInvalid},
	}
	for _, c := range bad {
		if err := h.agent.UpdateService(c.svc, c.u); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	after := h.service(t, "web")
	if after.TaskDefinition != before.TaskDefinition || after.Desired != before.Desired || after.DeploymentConfig != before.DeploymentConfig || len(after.Deployments) != len(before.Deployments) {
		t.Errorf("refused updates changed the service: %+v, was %+v", after, before)
	}
}

func TestAgent_ForceNewDeploymentAndDeploymentSettings(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(2, "v1", false))
	waitFor(t, "2 running tasks", h.running(2))
	h.healthyAll()
	waitFor(t, "the first deployment COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	cfg := DeploymentConfig{MinHealthyPercent: 50, MaxPercent: 150, CircuitBreaker: true, Rollback: true}
	if err := h.agent.UpdateService("web", ServiceUpdate{ForceNewDeployment: true, Deployment: &cfg}); err != nil {
		t.Fatal(err)
	}
	s := h.service(t, "web")
	if len(s.Deployments) != 2 || s.Deployments[0].TaskDefinition != "app:1" || s.DeploymentConfig != cfg {
		t.Fatalf("forced deployment: %+v, settings %+v; want a second deployment of app:1 with %+v", s.Deployments, s.DeploymentConfig, cfg)
	}
	// With 50% minimum healthy of 2, one old task may stop at once.
	waitFor(t, "an old task stopping", func() bool {
		for _, ts := range h.agent.Tasks(true) {
			if ts.DesiredStatus == "STOPPED" { // only an old one can be
				return true
			}
		}
		return false
	})
	// The file's deployment settings change: they win.
	if _, err := h.agent.Deploy(context.Background(), rolling(2, "v1", true)); err != nil {
		t.Fatal(err)
	}
	if got := h.service(t, "web").DeploymentConfig; got != rolling(2, "v1", true).Services["web"].Deployment {
		t.Errorf("after the file's settings changed: %+v", got)
	}
}

func TestAgent_StopTaskIsUserInitiatedAndReplaced(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(2, "v1", false))
	waitFor(t, "2 running tasks", h.running(2))
	victim := h.agent.Tasks(false)[0]
	if err := h.agent.StopTask(victim.ID[:len(victim.ID)-2], "rehearsing a failure"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task stopped and a replacement running", func() bool {
		ts, err := FindTask(h.agent.Tasks(true), victim.ID)
		return err == nil && ts.LastStatus == "STOPPED" && h.running(2)()
	})
	ts, _ := FindTask(h.agent.Tasks(true), victim.ID)
	if ts.StopCode != StopUserInitiated || ts.StoppedReason != "rehearsing a failure" {
		t.Errorf("stopped task: code %q reason %q, want UserInitiated and the reason given", ts.StopCode, ts.StoppedReason)
	}
	if err := h.agent.StopTask(victim.ID, "again"); err != nil {
		t.Errorf("stopping a stopped task: %v, want nothing done", err)
	}
	if err := h.agent.StopTask("zzz", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown task: %v", err)
	}
}

func TestAgent_DeregisteredRevisionCannotStartADeployment(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(1, "v1", false))
	if _, err := h.agent.RegisterTaskDefinition("app", rolling(1, "v2", false).TaskDefinitions["app"]); err != nil {
		t.Fatal(err)
	}
	r, err := h.agent.DeregisterTaskDefinition("app", 2)
	if err != nil || r.Status != RevisionInactive || r.DeregisteredAt.IsZero() {
		t.Fatalf("deregister: %+v, %v", r, err)
	}
	if err := h.agent.UpdateService("web", ServiceUpdate{TaskDefinition: "app:2"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("deploying an INACTIVE revision: %v, want ErrInvalid", err)
	}
	// "app" alone means the latest ACTIVE one: app:1, what runs.
	if err := h.agent.UpdateService("web", ServiceUpdate{TaskDefinition: "app"}); err != nil || len(h.service(t, "web").Deployments) != 1 {
		t.Errorf("family alone: %v, deployments %+v; want app:1 and no new deployment", err, h.service(t, "web").Deployments)
	}
	var statuses []string
	for _, r := range h.agent.TaskDefinitions() {
		statuses = append(statuses, r.Name()+" "+r.Status)
	}
	if want := []string{"app:1 ACTIVE", "app:2 INACTIVE"}; !equal(statuses, want) {
		t.Errorf("task definitions %v, want %v", statuses, want)
	}
	if _, err := h.agent.DeregisterTaskDefinition("app", 7); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown revision: %v", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAgent_ModifyLoadBalancerHoldsUntilTheFileChangesTheSameThing(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(1, "v1", false))
	err := h.agent.ModifyLoadBalancer(context.Background(), func(c *proxy.Config) error {
		tg := c.TargetGroups["app"]
		tg.HealthCheck.Path = "/healthz"
		tg.DeregistrationDelay = 5 * time.Second
		c.TargetGroups["app"] = tg
		c.Listeners[0].Routes = routing.Listener{Default: routing.Action{Type: routing.FixedResponse, Fixed: &routing.FixedResponseAction{StatusCode: 503, ContentType: "text/plain", Body: "maintenance"}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := h.agent.LoadBalancer()
	if tg := got.TargetGroups["app"]; tg.HealthCheck.Path != "/healthz" || tg.DeregistrationDelay != 5*time.Second {
		t.Errorf("served target group %+v", tg)
	}
	if a := got.Listeners[0].Address; a == "127.0.0.1:0" {
		t.Errorf("listener address %s, want the bound one", a)
	}
	// Refused: a listener's address is the file's.
	err = h.agent.ModifyLoadBalancer(context.Background(), func(c *proxy.Config) error {
		c.Listeners[0].Address = "127.0.0.1:1"
		return nil
	})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("changing a listener's address: %v, want ErrInvalid", err)
	}
	// Refused by the balancer: a forward to no group; nothing changes.
	err = h.agent.ModifyLoadBalancer(context.Background(), func(c *proxy.Config) error {
		c.Listeners[0].Routes = routing.Listener{Default: routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: "ghost", Weight: 1}}}}}
		return nil
	})
	if !errors.Is(err, ErrInvalid) || h.agent.LoadBalancer().Listeners[0].Routes.Default.Type != routing.FixedResponse {
		t.Errorf("forward to an unknown group: %v; routes now %+v", err, h.agent.LoadBalancer().Listeners[0].Routes)
	}

	// A restart on the same file keeps both changes. The store writes the
	// record indented: what is read back is not byte for byte what was
	// marshalled.
	var record bytes.Buffer
	if err := json.Indent(&record, h.lastSaved(t), "", "  "); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t)
	if err := h2.agent.Restore(record.Bytes()); err != nil {
		t.Fatal(err)
	}
	h2.run(t, rolling(1, "v1", false))
	lb := h2.agent.LoadBalancer()
	if lb.TargetGroups["app"].HealthCheck.Path != "/healthz" || lb.Listeners[0].Routes.Default.Type != routing.FixedResponse {
		t.Errorf("after a restart: target group %+v, routes %+v; want the API's changes kept", lb.TargetGroups["app"], lb.Listeners[0].Routes)
	}
	// The file changes the target group: its change wins, and the
	// listener's override, which the file did not touch, holds.
	s := rolling(1, "v1", false)
	tg := s.LoadBalancer.TargetGroups["app"]
	tg.HealthCheck.Interval = 10 * time.Second
	s.LoadBalancer.TargetGroups["app"] = tg
	if _, err := h2.agent.Deploy(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	lb = h2.agent.LoadBalancer()
	if got := lb.TargetGroups["app"]; got.HealthCheck.Path != "/" || got.HealthCheck.Interval != 10*time.Second {
		t.Errorf("after the file changed the group: %+v, want the file's", got.HealthCheck)
	}
	if lb.Listeners[0].Routes.Default.Type != routing.FixedResponse {
		t.Errorf("the listener's override was dropped though the file did not change it")
	}
}
