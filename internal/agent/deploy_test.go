package agent

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
)

// rolling is testStack with ECS's default deployment settings and, with
// breaker, the circuit breaker with rollback.
func rolling(desired int, command string, breaker bool) *Stack {
	s := testStack(desired)
	td := s.TaskDefinitions["app"]
	td.Task.Command = []string{command}
	s.TaskDefinitions["app"] = td
	svc := s.Services["web"]
	svc.Deployment = DeploymentConfig{MinHealthyPercent: 100, MaxPercent: 200, CircuitBreaker: breaker, Rollback: breaker}
	s.Services["web"] = svc
	return s
}

func (h *harness) service(t *testing.T, name string) ServiceStatus {
	t.Helper()
	for _, s := range h.agent.Services() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s", name)
	return ServiceStatus{}
}

// healthyAll marks every running task's target healthy.
func (h *harness) healthyAll() {
	for _, ts := range h.agent.Tasks(false) {
		if ts.LastStatus == "RUNNING" && ts.Health != "healthy" {
			h.agent.HealthChanged(proxy.HealthChange{Group: ts.TargetGroup, Target: ts.Address, From: proxy.StateInitial, To: proxy.StateHealthy, At: h.clock.Now()})
		}
	}
}

func (h *harness) rollout(name string) func() sched.RolloutState {
	return func() sched.RolloutState {
		for _, s := range h.agent.Services() {
			if s.Name == name {
				return s.Deployments[0].Rollout
			}
		}
		return ""
	}
}

func TestAgent_RollingDeploymentReplacesTasksOnlyOnceNewOnesServe(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(2, "v1", false))
	waitFor(t, "2 running tasks", h.running(2))
	h.healthyAll()
	waitFor(t, "the first deployment COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	old := h.runner.started()

	started, err := h.agent.Deploy(context.Background(), rolling(2, "v2", false))
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 1 || started[0].TaskDefinition != "app:2" || started[0].Replaces != "app:1" {
		t.Fatalf("started %+v, want one deployment of app:2 replacing app:1", started)
	}
	waitFor(t, "2 new tasks running beside the 2 old", h.running(4))
	for _, o := range old {
		if contains(h.rec.list(), "SIGTERM "+o.addr) {
			t.Fatalf("old task %s stopped before any new task served: %v", o.addr, h.rec.list())
		}
	}
	if got := h.service(t, "web").Deployments; len(got) != 2 || got[0].Status != "PRIMARY" || got[1].Status != "ACTIVE" {
		t.Fatalf("deployments %+v, want PRIMARY app:2 and ACTIVE app:1", got)
	}
	// Each deployment counts its own tasks: the old ones serve, the new
	// ones not yet.
	if got := h.service(t, "web").Deployments; got[0].Running != 2 || got[0].Healthy != 0 || got[1].Running != 2 || got[1].Healthy != 2 {
		t.Errorf("deployments running/healthy: new %d/%d, old %d/%d; want 2/0 and 2/2", got[0].Running, got[0].Healthy, got[1].Running, got[1].Healthy)
	}
	h.healthyAll()
	waitFor(t, "the rollout COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	calls := h.rec.list()
	for _, o := range old {
		if i, j := index(calls, "deregister "+o.addr), index(calls, "SIGTERM "+o.addr); i < 0 || j < i {
			t.Errorf("old task %s: deregistered at %d, SIGTERM at %d: want deregistration first", o.addr, i, j)
		}
	}
	for _, ts := range h.agent.Tasks(false) {
		if ts.TaskDefinition != "app:2" {
			t.Errorf("task %s runs %s after the rollout, want app:2", ts.ID, ts.TaskDefinition)
		}
	}
	if got := h.service(t, "web").Deployments; len(got) != 1 {
		t.Errorf("deployments after the rollout: %+v, want the PRIMARY alone (the old one INACTIVE)", got)
	}
	if again, err := h.agent.Deploy(context.Background(), rolling(2, "v2", false)); err != nil || len(again) != 0 {
		t.Errorf("the same stack again started %+v (err %v), want nothing", again, err)
	}
}

func TestAgent_CircuitBreakerRollsBackToTheLastCompletedDeployment(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(1, "v1", true))
	waitFor(t, "1 running task", h.running(1))
	h.healthyAll()
	waitFor(t, "the first deployment COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	first := h.service(t, "web").Deployments[0].ID
	good := h.runner.started()[0]

	// A second on, so that the failures below come after the first task
	// turned healthy: only those count in the streak that backs off
	// replacements (at the same instant, nothing would hold them back, and
	// the breaker could trip before the status below is read).
	h.clock.Advance(time.Second)
	h.runner.mu.Lock()
	h.runner.startErr = errors.New("exec: crash: not found")
	h.runner.mu.Unlock()
	started, err := h.agent.Deploy(context.Background(), rolling(1, "crash", true))
	if err != nil {
		t.Fatal(err)
	}
	// While the breaker watches, the deployment says how many failures
	// trip it: ECS's minimum, 3, for 1 desired task.
	if d := h.service(t, "web").Deployments[0]; d.ID != started[0].Deployment || d.FailureThreshold != 3 {
		t.Errorf("the new deployment %s has failure_threshold %d, want %s with 3", d.ID, d.FailureThreshold, started[0].Deployment)
	}
	// Failed starts back off (1 s, 2 s): move the clock until the breaker
	// has seen its 3 failures and rolled back.
	waitFor(t, "a rollback to the first deployment", func() bool {
		h.clock.Advance(time.Second)
		s := h.service(t, "web")
		return s.Deployments[0].ID == first && s.Deployments[0].RollbackOf == started[0].Deployment
	})
	if d := h.service(t, "web").Deployments[0]; d.FailureThreshold != 0 {
		t.Errorf("the rollback has failure_threshold %d, want 0: its own breaker does not roll back", d.FailureThreshold)
	}
	h.runner.mu.Lock()
	h.runner.startErr = nil
	h.runner.mu.Unlock()
	waitFor(t, "the rollback COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
	if contains(h.rec.list(), "SIGTERM "+good.addr) {
		t.Errorf("the good task was stopped during the failed deployment: %v", h.rec.list())
	}
	var msgs []string
	for _, ev := range h.agent.Events(0) {
		msgs = append(msgs, ev.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"(deployment " + started[0].Deployment + ") deployment failed: tasks failed to start",
		"rolling back to deployment " + first,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("events lack %q:\n%s", want, all)
		}
	}
}

func TestAgent_RestoreKeepsRevisionsDeploymentsAndScaledCounts(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(2, "v1", false))
	if _, err := h.agent.Deploy(context.Background(), rolling(2, "v2", false)); err != nil {
		t.Fatal(err)
	}
	if err := h.agent.SetDesired("web", 3); err != nil {
		t.Fatal(err)
	}
	h.store.mu.Lock()
	saved := h.store.saved[len(h.store.saved)-1]
	h.store.mu.Unlock()

	// A new shoal on the same record, given the v2 file again: no new
	// revision, no new deployment, the rollout in progress goes on, and
	// the count set by shoal scale holds.
	h2 := newHarness(t)
	if err := h2.agent.Restore(saved.State); err != nil {
		t.Fatal(err)
	}
	started, err := h2.agent.Deploy(context.Background(), rolling(2, "v2", false))
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 0 {
		t.Errorf("restored then deployed the same file: started %+v, want nothing", started)
	}
	s := h2.service(t, "web")
	if s.TaskDefinition != "app:2" || s.Desired != 3 || s.Deployments[0].Rollout != sched.RolloutInProgress {
		t.Errorf("restored service: %s desired %d rollout %s; want app:2, 3 and IN_PROGRESS", s.TaskDefinition, s.Desired, s.Deployments[0].Rollout)
	}
	// The file's desired count changes: the file wins.
	if _, err := h2.agent.Deploy(context.Background(), rolling(5, "v2", false)); err != nil {
		t.Fatal(err)
	}
	if got := h2.service(t, "web").Desired; got != 5 {
		t.Errorf("after the file changed desired to 5: desired %d", got)
	}
	var st state
	if err := json.Unmarshal(saved.State, &st); err != nil || len(st.Revisions["app"]) != 2 {
		t.Errorf("recorded state: %v, revisions %v; want 2 revisions of app", err, st.Revisions)
	}
}

func TestAgent_StoppedInstanceKillsItsTasksAtOnceAndTheServiceRecovers(t *testing.T) {
	h := newHarness(t)
	h.run(t, rolling(2, "v1", false))
	waitFor(t, "2 running tasks", h.running(2))
	h.healthyAll()
	var victim TaskStatus
	for _, ts := range h.agent.Tasks(false) {
		if ts.Instance == "instance-2" {
			victim = ts
		}
	}
	if err := h.agent.InstanceAction("instance-2", ActionStop); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the victim stopped", func() bool {
		got, err := FindTask(h.agent.Tasks(true), victim.ID)
		return err == nil && got.LastStatus == "STOPPED"
	})
	calls := h.rec.list()
	if i, j := index(calls, "SIGTERM "+victim.Address), index(calls, "deregister "+victim.Address); j >= 0 && j < i {
		t.Errorf("a failed instance's task was drained before it died: %v", calls)
	}
	waitFor(t, "2 tasks running on instance-1", func() bool {
		n := 0
		for _, ts := range h.agent.Tasks(false) {
			if ts.LastStatus == "RUNNING" && ts.Instance == "instance-1" {
				n++
			}
		}
		return n == 2
	})
	got, _ := FindTask(h.agent.Tasks(true), victim.ID)
	if got.StoppedReason != "Host EC2 (instance instance-2) terminated." {
		t.Errorf("stop reason %q", got.StoppedReason)
	}
	if err := h.agent.InstanceAction("instance-9", ActionDrain); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown instance: %v, want ErrNotFound", err)
	}
	if err := h.agent.SetDesired("web", -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("desired -1: %v, want ErrInvalid", err)
	}
}

func TestAgent_UnhealthyContainerIsReplaced(t *testing.T) {
	h := newHarness(t)
	s := rolling(1, "v1", false)
	td := s.TaskDefinitions["app"]
	td.Task.HealthCheck = &driver.HealthCheck{Command: []string{"check"}, Interval: time.Second, Timeout: time.Second, Retries: 1}
	s.TaskDefinitions["app"] = td
	h.run(t, s)
	waitFor(t, "1 running task", h.running(1))
	first := h.runner.started()[0]
	h.healthy(first.addr)
	if first.onHealth == nil {
		t.Fatal("the driver got no OnHealth for a task definition with a health check")
	}
	first.onHealth(driver.HealthHealthy)
	waitFor(t, "a steady state", func() bool { return h.service(t, "web").SteadyState })
	first.onHealth(driver.HealthUnhealthy)
	waitFor(t, "the unhealthy task stopped and replaced", func() bool {
		return len(h.runner.started()) == 2 && contains(h.rec.list(), "SIGTERM "+first.addr)
	})
	for _, ts := range h.agent.Tasks(true) {
		if ts.Address == first.addr && ts.StoppedReason != "Task failed container health checks" {
			t.Errorf("stop reason %q", ts.StoppedReason)
		}
	}
}

// eventStore is a fakeStore that keeps events too.
type eventStore struct {
	fakeStore
	events []byte
}

func (s *eventStore) SaveEvents(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = data
	return nil
}

func TestAgent_EventsOutliveARestart(t *testing.T) {
	h := newHarness(t)
	es := &eventStore{}
	h.agent.cfg.Store = es
	h.run(t, rolling(1, "v1", false))
	waitFor(t, "1 running task", h.running(1))
	h.stop() // Shutdown saves the events
	h.stop = func() {}
	es.mu.Lock()
	saved := es.events
	es.mu.Unlock()
	var before []Event
	if err := json.Unmarshal(saved, &before); err != nil || len(before) == 0 {
		t.Fatalf("saved events: %v, %d events", err, len(before))
	}

	h2 := newHarness(t)
	if err := h2.agent.RestoreEvents(saved); err != nil {
		t.Fatal(err)
	}
	h2.run(t, rolling(1, "v1", false))
	waitFor(t, "1 running task", h2.running(1))
	got := h2.agent.Events(0)
	if len(got) <= len(before) || got[0].Message != before[0].Message {
		t.Fatalf("after the restart: %d events starting %q; want the %d recorded first, then new ones", len(got), got[0].Message, len(before))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("event numbers do not go on: %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}
}

func TestAgent_AFailedDeploymentIsRetriedByDeployingAgain(t *testing.T) {
	h := newHarness(t)
	s := rolling(1, "v1", false)
	svc := s.Services["web"]
	svc.Deployment.CircuitBreaker = true // no rollback
	s.Services["web"] = svc
	h.runner.mu.Lock()
	h.runner.startErr = errors.New("exec: v1: not found")
	h.runner.mu.Unlock()
	h.run(t, s)
	waitFor(t, "the first deployment FAILED", func() bool {
		h.clock.Advance(time.Second)
		return h.rollout("web")() == sched.RolloutFailed
	})
	h.runner.mu.Lock()
	h.runner.startErr = nil
	h.runner.mu.Unlock()
	started, err := h.agent.Deploy(context.Background(), s)
	if err != nil || len(started) != 1 || started[0].TaskDefinition != "app:1" {
		t.Fatalf("deploying the failed stack again: %+v, %v; want a new deployment of app:1", started, err)
	}
	waitFor(t, "1 running task, once the restart back-off is over", func() bool {
		h.clock.Advance(time.Second)
		return h.running(1)()
	})
	h.healthyAll()
	waitFor(t, "the retry COMPLETED", func() bool { return h.rollout("web")() == sched.RolloutCompleted })
}
