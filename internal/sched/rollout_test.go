package sched

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// deployed is a service in the middle of a rollout to deployment "new".
func deployed(desired, minHealthy, maxPercent int) Service {
	s := api(desired)
	s.Deployment, s.Rollout = "new", RolloutInProgress
	s.MinHealthyPercent, s.MaxPercent = minHealthy, maxPercent
	return s
}

// blueGreen is svc in a blue/green deployment: blue's tasks are kept.
func blueGreen(svc Service) Service {
	svc.KeepOutgoing = true
	return svc
}

func task(id, deployment, instance string, h Health) Task {
	t := running(id, instance, h)
	t.Deployment, t.TargetGroup = deployment, "api-tg"
	if h != HealthHealthy {
		t.HealthyAt = time.Time{}
	}
	return t
}

func TestReconcile_Rollout(t *testing.T) {
	scale := func(id string) StopOrder {
		return StopOrder{TaskID: id, Reason: "Scaling activity initiated by (deployment new)"}
	}
	tests := []struct {
		name     string
		svc      Service
		cluster  []Instance
		tasks    []Task
		want     Plan
		wantNote string
	}{
		{
			name: "100/200: new tasks start first, old ones all stay",
			svc:  deployed(2, 100, 200),
			tasks: []Task{
				task("o1", "old", "instance-1", HealthHealthy), task("o2", "old", "instance-2", HealthHealthy),
			},
			want: Plan{Start: []Placement{{Service: "api", Instance: "instance-1"}, {Service: "api", Instance: "instance-2"}}},
		},
		{
			name: "100/200: an old task goes for each new one that serves",
			svc:  deployed(2, 100, 200),
			tasks: []Task{
				task("o1", "old", "instance-1", HealthHealthy), task("o2", "old", "instance-2", HealthHealthy),
				task("n1", "new", "instance-1", HealthHealthy), task("n2", "new", "instance-2", HealthInitial),
			},
			want: Plan{Stop: []StopOrder{scale("o1")}},
		},
		{
			name: "50/100: half the old tasks stop before any new one starts",
			svc:  deployed(4, 50, 100),
			tasks: []Task{
				task("o1", "old", "instance-1", HealthHealthy), task("o2", "old", "instance-2", HealthHealthy),
				task("o3", "old", "instance-1", HealthHealthy), task("o4", "old", "instance-2", HealthHealthy),
			},
			want: Plan{Stop: []StopOrder{scale("o1"), scale("o2")}},
		},
		{
			name: "stopping tasks count toward the maximum",
			svc:  deployed(2, 50, 100),
			tasks: []Task{
				task("o1", "old", "instance-1", HealthHealthy),
				{ID: "o2", Service: "api", Instance: "instance-2", Status: Deactivating, StopRequested: true, Deployment: "old", TargetGroup: "api-tg"},
			},
			want: Plan{},
		},
		{
			name: "old tasks that do not serve go at once",
			svc:  deployed(2, 100, 200),
			tasks: []Task{
				task("o1", "old", "instance-1", HealthHealthy), task("o2", "old", "instance-2", HealthUnhealthy),
			},
			want: Plan{
				Start: []Placement{{Service: "api", Instance: "instance-1"}, {Service: "api", Instance: "instance-2"}},
				Stop:  []StopOrder{{TaskID: "o2", Reason: "Task failed ELB health checks in (target-group api-tg)", Failed: true}},
			},
		},
		{
			name: "the rollout completes once only new tasks run, all healthy",
			svc:  deployed(2, 100, 200),
			tasks: []Task{
				task("n1", "new", "instance-1", HealthHealthy), task("n2", "new", "instance-2", HealthHealthy),
				{ID: "o1", Service: "api", Instance: "instance-1", Status: Stopped, Deployment: "old", TargetGroup: "api-tg"},
			},
			want: Plan{Steady: []string{"api"}, Rollouts: []Rollout{{Service: "api", Deployment: "new", State: RolloutCompleted, Reason: "ECS deployment new completed."}}},
		},
		{
			name: "the rollout waits while an old task still drains",
			svc:  deployed(2, 100, 200),
			tasks: []Task{
				task("n1", "new", "instance-1", HealthHealthy), task("n2", "new", "instance-2", HealthHealthy),
				{ID: "o1", Service: "api", Instance: "instance-1", Status: Deactivating, StopRequested: true, Deployment: "old", TargetGroup: "api-tg"},
			},
			want: Plan{},
		},
		{
			name: "a draining instance's tasks are replaced elsewhere first",
			svc:  api(2),
			cluster: []Instance{
				{Name: "instance-1", Status: InstanceActive, CPU: 2048, Memory: 4096},
				{Name: "instance-2", Status: InstanceDraining, CPU: 2048, Memory: 4096},
			},
			tasks: []Task{task("a", "", "instance-1", HealthHealthy), task("b", "", "instance-2", HealthHealthy)},
			want:  Plan{Start: []Placement{{Service: "api", Instance: "instance-1"}}},
		},
		{
			name: "a draining instance's task stops once its replacement serves",
			svc:  api(2),
			cluster: []Instance{
				{Name: "instance-1", Status: InstanceActive, CPU: 2048, Memory: 4096},
				{Name: "instance-2", Status: InstanceDraining, CPU: 2048, Memory: 4096},
			},
			tasks: []Task{task("a", "", "instance-1", HealthHealthy), task("b", "", "instance-2", HealthHealthy), task("c", "", "instance-1", HealthHealthy)},
			want:  Plan{Stop: []StopOrder{{TaskID: "b", Reason: "Container instance instance-2 is no longer ACTIVE"}}},
		},
		{
			name: "blue/green: green starts at full size beside blue, beyond the maximum",
			svc:  blueGreen(deployed(2, 100, 100)),
			tasks: []Task{
				task("o1", "old", "instance-1", HealthHealthy), task("o2", "old", "instance-2", HealthHealthy),
			},
			want: Plan{Start: []Placement{{Service: "api", Instance: "instance-1"}, {Service: "api", Instance: "instance-2"}}},
		},
		{
			name: "blue/green: blue is kept while green serves, and nothing is COMPLETED",
			svc:  blueGreen(deployed(2, 100, 200)),
			tasks: []Task{
				task("o1", "old", "instance-1", HealthHealthy), task("o2", "old", "instance-2", HealthHealthy),
				task("n1", "new", "instance-1", HealthHealthy), task("n2", "new", "instance-2", HealthHealthy),
			},
			want: Plan{},
		},
		{
			name: "blue/green: blue keeps its desired count too (after a restart, both start)",
			svc:  func() Service { s := blueGreen(deployed(2, 100, 200)); s.Blue = "old"; return s }(),
			tasks: []Task{
				task("n1", "new", "instance-1", HealthHealthy), task("n2", "new", "instance-2", HealthHealthy),
				task("o1", "old", "instance-1", HealthHealthy),
			},
			want: Plan{Start: []Placement{{Service: "api", Instance: "instance-2", Deployment: "old"}}},
		},
		{
			name: "blue/green: nothing starts while a PRE_SCALE_UP hook holds it",
			svc:  func() Service { s := blueGreen(deployed(2, 100, 200)); s.HoldStart = true; return s }(),
			tasks: []Task{
				task("o1", "old", "instance-1", HealthHealthy), task("o2", "old", "instance-2", HealthHealthy),
			},
			want: Plan{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := tt.cluster
			if cluster == nil {
				cluster = twoInstances
			}
			got := Reconcile(Desired{Instances: cluster, Services: []Service{tt.svc}}, Observed{Tasks: tt.tasks}, at(60))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReconcile_CircuitBreaker(t *testing.T) {
	svc := deployed(2, 100, 200)
	svc.CircuitBreaker = true
	old := []Task{task("o1", "old", "instance-1", HealthHealthy), task("o2", "old", "instance-2", HealthHealthy)}
	svc.FailedTasks = 2
	if p := Reconcile(Desired{Instances: twoInstances, Services: []Service{svc}}, Observed{Tasks: old}, at(60)); len(p.Rollouts) != 0 || len(p.Start) != 2 {
		t.Fatalf("below the threshold of 3: got %+v, want two starts and no rollout change", p)
	}
	svc.FailedTasks = 3
	p := Reconcile(Desired{Instances: twoInstances, Services: []Service{svc}}, Observed{Tasks: old}, at(60))
	want := []Rollout{{Service: "api", Deployment: "new", State: RolloutFailed, Reason: "ECS deployment circuit breaker: tasks failed to start."}}
	if diff := cmp.Diff(want, p.Rollouts); diff != "" || len(p.Start) != 0 || len(p.Stop) != 0 {
		t.Fatalf("at the threshold: rollouts (-want +got):\n%s\nstarts %v, stops %v: want none", diff, p.Start, p.Stop)
	}
	svc.Rollout = RolloutFailed
	if p := Reconcile(Desired{Instances: twoInstances, Services: []Service{svc}}, Observed{Tasks: old}, at(60)); len(p.Start) != 0 || len(p.Stop) != 0 {
		t.Fatalf("a FAILED deployment launches nothing and keeps the old tasks: got %+v", p)
	}
}

func TestFailureThreshold(t *testing.T) {
	for desired, want := range map[int]int{0: 3, 1: 3, 6: 3, 7: 4, 25: 13, 399: 200, 400: 200, 1000: 200} {
		if got := FailureThreshold(desired); got != want {
			t.Errorf("FailureThreshold(%d) = %d, want %d", desired, got, want)
		}
	}
}

// world is a simulated cluster the rollout property test drives: tasks go
// PENDING → RUNNING (initial) → healthy one step at a time, stops take a
// step, and random events strike in between.
type world struct {
	r        *rand.Rand
	svc      Service
	cluster  []Instance
	tasks    []Task
	now      time.Time
	next     int
	deployed int
}

func (w *world) apply(p Plan) {
	for _, s := range p.Stop {
		for i := range w.tasks {
			if w.tasks[i].ID == s.TaskID {
				w.tasks[i].StopRequested, w.tasks[i].Status = true, Deactivating
				w.tasks[i].Failed = s.Failed
			}
		}
	}
	for _, pl := range p.Start {
		w.next++
		w.tasks = append(w.tasks, Task{ID: fmt.Sprint("t", w.next), Service: pl.Service, Instance: pl.Instance,
			Status: Pending, Deployment: w.svc.Deployment, TargetGroup: w.svc.TargetGroup, CreatedAt: w.now})
	}
	for _, ro := range p.Rollouts {
		w.svc.Rollout = ro.State
	}
}

// progress moves every task one step on; healthy is the chance that a
// starting target passes its first check in this step.
func (w *world) progress(healthy float64) {
	for i := range w.tasks {
		t := &w.tasks[i]
		switch {
		case t.Status == Stopped:
		case t.StopRequested:
			t.Status, t.StoppedAt = Stopped, w.now
		case t.Status == Pending:
			t.Status, t.Health, t.StartedAt = Running, HealthInitial, w.now
		case t.Status == Running && t.Health == HealthInitial && w.r.Float64() < healthy:
			t.Health, t.HealthyAt = HealthHealthy, w.now
		}
	}
	w.now = w.now.Add(5 * time.Second)
}

// strike makes one random thing happen: a task exits or turns unhealthy, a
// deployment starts, the desired count changes, an instance drains or
// comes back.
func (w *world) strike() {
	live := activeTasks(w.tasks)
	switch w.r.IntN(6) {
	case 0:
		if len(live) > 0 {
			w.kill(live[w.r.IntN(len(live))].ID)
		}
	case 1:
		if len(live) > 0 {
			w.sicken(live[w.r.IntN(len(live))].ID)
		}
	case 2:
		w.deployed++
		w.svc.Deployment, w.svc.Rollout = fmt.Sprint("d", w.deployed), RolloutInProgress
	case 3:
		w.svc.Desired = w.r.IntN(9)
	case 4:
		i := w.r.IntN(len(w.cluster))
		w.cluster[i].Status = []InstanceStatus{InstanceActive, InstanceDraining}[w.r.IntN(2)]
		if !slices.ContainsFunc(w.cluster, func(in Instance) bool { return in.Status == InstanceActive }) {
			w.cluster[i].Status = InstanceActive
		}
	}
}

func (w *world) kill(id string) {
	for i := range w.tasks {
		if w.tasks[i].ID == id {
			w.tasks[i].Status, w.tasks[i].Failed, w.tasks[i].StoppedAt = Stopped, true, w.now
		}
	}
}

func (w *world) sicken(id string) {
	for i := range w.tasks {
		if w.tasks[i].ID == id && w.tasks[i].Status == Running {
			w.tasks[i].Health = HealthUnhealthy
		}
	}
}

func serveCount(tasks []Task, except map[string]bool) int {
	n := 0
	for _, t := range activeTasks(tasks) {
		if serving(t) && !except[t.ID] {
			n++
		}
	}
	return n
}

// TestReconcile_RolloutProperties drives random sequences of task exits,
// health changes, deployments, scale changes and instance drains through
// Reconcile and checks after every plan: no more tasks than maximum_percent
// of desired are started past, no serving task is stopped when that leaves
// fewer than minimum_healthy_percent serving, and once the events stop,
// the service settles: desired count of the latest deployment, all
// healthy, rollout COMPLETED.
func TestReconcile_RolloutProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	percents := [][2]int{{100, 200}, {50, 200}, {50, 150}, {0, 100}, {100, 150}, {75, 125}}
	for run := range 300 {
		pc := percents[r.IntN(len(percents))]
		svc := api(1 + r.IntN(8))
		svc.MinHealthyPercent, svc.MaxPercent, svc.GracePeriod = pc[0], pc[1], 0
		svc.Deployment, svc.Rollout = "d0", RolloutInProgress
		w := &world{r: r, svc: svc, cluster: instances(2 + r.IntN(2)), now: at(0)}
		step := func(events bool) Plan {
			if events && r.IntN(3) == 0 {
				w.strike()
			}
			if roomless(w.svc) {
				w.svc.Desired++ // such a stack is refused at validation
			}
			p := Reconcile(Desired{Instances: w.cluster, Services: []Service{w.svc}}, Observed{Tasks: w.tasks}, w.now)
			checkRolloutBounds(t, run, w, p)
			w.apply(p)
			if events {
				w.progress(0.7)
			} else {
				w.progress(1)
			}
			return p
		}
		for range 60 {
			step(true)
		}
		settled := false
		for range 80 {
			if p := step(false); len(p.Steady) == 1 && len(p.Start) == 0 && len(p.Stop) == 0 {
				settled = true
				break
			}
		}
		if !settled {
			t.Fatalf("run %d: the service never settled after the events stopped: %+v\ntasks %+v", run, w.svc, activeTasks(w.tasks))
		}
		for _, tk := range activeTasks(w.tasks) {
			if tk.Deployment != w.svc.Deployment {
				t.Fatalf("run %d: settled with task %s of deployment %s, want %s", run, tk.ID, tk.Deployment, w.svc.Deployment)
			}
		}
	}
}

func roomless(svc Service) bool {
	most, least := svc.Desired*svc.MaxPercent/100, (svc.Desired*svc.MinHealthyPercent+99)/100
	return svc.Desired > 0 && most <= svc.Desired && least >= svc.Desired
}

func checkRolloutBounds(t *testing.T, run int, w *world, p Plan) {
	t.Helper()
	b := boundsOf(w.svc, newCluster(w.cluster, w.tasks, w.now))
	if len(p.Start) > 0 && notStopped(w.tasks)+len(p.Start) > b.most {
		t.Fatalf("run %d: started %d with %d not stopped: above the maximum %d (%d%% of %d)", run, len(p.Start), notStopped(w.tasks), b.most, w.svc.MaxPercent, b.desired)
	}
	stopped := map[string]bool{}
	servingStopped := false
	for _, s := range p.Stop {
		stopped[s.TaskID] = true
		for _, tk := range w.tasks {
			if tk.ID == s.TaskID && serving(tk) {
				servingStopped = true
			}
		}
	}
	if servingStopped && serveCount(w.tasks, stopped) < b.least {
		t.Fatalf("run %d: stopped serving tasks leaving %d serving, below the minimum healthy %d (%d%% of %d)\nstops %+v\ntasks %+v",
			run, serveCount(w.tasks, stopped), b.least, w.svc.MinHealthyPercent, b.desired, p.Stop, activeTasks(w.tasks))
	}
}

func TestReconcile_Daemon(t *testing.T) {
	daemon := plain("agent", 0)
	daemon.Daemon, daemon.MinHealthyPercent, daemon.MaxPercent = true, 0, 100
	cluster := instances(3)
	cluster[2].Status = InstanceDraining
	got := Reconcile(Desired{Instances: cluster, Services: []Service{daemon}}, Observed{}, at(0))
	want := []Placement{{Service: "agent", Instance: "instance-1"}, {Service: "agent", Instance: "instance-2"}}
	if diff := cmp.Diff(want, got.Start); diff != "" {
		t.Errorf("a daemon places one task on each ACTIVE instance (-want +got):\n%s", diff)
	}

	onDraining := Task{ID: "d3", Service: "agent", Instance: "instance-3", Status: Running, CreatedAt: at(0), StartedAt: at(1), HealthyAt: at(1)}
	one := Task{ID: "d1", Service: "agent", Instance: "instance-1", Status: Running, CreatedAt: at(0), StartedAt: at(1), HealthyAt: at(1)}
	got = Reconcile(Desired{Instances: cluster, Services: []Service{daemon}}, Observed{Tasks: []Task{one, onDraining}}, at(5))
	if diff := cmp.Diff([]StopOrder{{TaskID: "d3", Reason: "Container instance instance-3 is no longer ACTIVE"}}, got.Stop); diff != "" {
		t.Errorf("a daemon task on a draining instance stops (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Placement{{Service: "agent", Instance: "instance-2"}}, got.Start); diff != "" {
		t.Errorf("the instance without its task gets one (-want +got):\n%s", diff)
	}
}

func TestReconcile_UnplacedSaysWhy(t *testing.T) {
	svc := api(2)
	svc.Need = Reserved{Memory: 3000}
	got := Reconcile(Desired{Instances: twoInstances, Services: []Service{svc}}, Observed{Tasks: []Task{
		{ID: "a", Service: "api", Instance: "instance-1", Status: Running, Reserved: Reserved{Memory: 3000}, TargetGroup: "api-tg"},
		{ID: "b", Service: "other", Instance: "instance-2", Status: Running, Reserved: Reserved{Memory: 2000}},
	}}, at(0))
	if len(got.Start) != 0 || len(got.Unplaced) != 1 || !strings.Contains(got.Unplaced[0].Reason, "insufficient memory available") {
		t.Errorf("got starts %v, unplaced %+v; want none placed and ECS's insufficient memory sentence", got.Start, got.Unplaced)
	}
}
