package sched

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

var twoInstances = instances(2)

// instances is a cluster of n ACTIVE instances.
func instances(n int) []Instance {
	var out []Instance
	for i := range n {
		out = append(out, Instance{Name: fmt.Sprint("instance-", i+1), Status: InstanceActive, CPU: 2048, Memory: 4096})
	}
	return out
}

// plain is a service with ECS's default rollout bounds and no target group.
func plain(name string, desired int) Service {
	return Service{Name: name, Desired: desired, MinHealthyPercent: 100, MaxPercent: 200}
}

func api(desired int) Service {
	s := plain("api", desired)
	s.TargetGroup, s.GracePeriod = "api-tg", 10*time.Second
	return s
}

func running(id, instance string, h Health) Task {
	return Task{ID: id, Service: "api", Instance: instance, Status: Running, Health: h, CreatedAt: at(0), StartedAt: at(1), HealthyAt: at(2)}
}

// startingTasks are n tasks running but not healthy yet, spread over the
// two instances.
func startingTasks(n int) []Task {
	var out []Task
	for i := range n {
		out = append(out, Task{ID: fmt.Sprint("s", i), Service: "api", Instance: twoInstances[i%2].Name, Status: Running, Health: HealthInitial, CreatedAt: at(0), StartedAt: at(1)})
	}
	return out
}

// repeatPlacements is n placements of api alternating over the two
// instances, instance-1 first.
func repeatPlacements(n int) []Placement {
	var out []Placement
	for i := range n {
		out = append(out, Placement{Service: "api", Instance: twoInstances[i%2].Name})
	}
	return out
}

func failed(id string, stoppedAt int) Task {
	return Task{ID: id, Service: "api", Instance: "instance-1", Status: Stopped, Failed: true, CreatedAt: at(0), StoppedAt: at(stoppedAt)}
}

func TestReconcile(t *testing.T) {
	tests := []struct {
		name  string
		svc   Service
		tasks []Task
		now   time.Time
		want  Plan
	}{
		{
			name: "fresh service spreads over instances",
			svc:  api(3),
			now:  at(0),
			want: Plan{Start: []Placement{{Service: "api", Instance: "instance-1"}, {Service: "api", Instance: "instance-2"}, {Service: "api", Instance: "instance-1"}}},
		},
		{
			name:  "all running and healthy is steady",
			svc:   api(2),
			tasks: []Task{running("a", "instance-1", HealthHealthy), running("b", "instance-2", HealthHealthy)},
			now:   at(60),
			want:  Plan{Steady: []string{"api"}},
		},
		{
			name:  "initial target is not steady yet",
			svc:   api(1),
			tasks: []Task{running("a", "instance-1", HealthInitial)},
			now:   at(60),
			want:  Plan{},
		},
		{
			name:  "service without target group is steady when running",
			svc:   plain("api", 1),
			tasks: []Task{running("a", "instance-1", HealthUnknown)},
			now:   at(60),
			want:  Plan{Steady: []string{"api"}},
		},
		{
			name:  "exited task is replaced on the emptier instance",
			svc:   api(3),
			tasks: []Task{running("a", "instance-1", HealthHealthy), running("b", "instance-2", HealthHealthy), running("c", "instance-1", HealthHealthy), failed("d", 50)},
			now:   at(60),
			want:  Plan{Steady: []string{"api"}},
		},
		{
			name:  "one failure is replaced at once",
			svc:   api(2),
			tasks: []Task{running("a", "instance-1", HealthHealthy), failed("b", 59)},
			now:   at(60),
			want:  Plan{Start: []Placement{{Service: "api", Instance: "instance-2"}}},
		},
		{
			name: "unhealthy task past grace is stopped and replaced",
			svc:  api(2),
			tasks: []Task{
				running("a", "instance-1", HealthHealthy),
				running("b", "instance-2", HealthUnhealthy),
			},
			now: at(60),
			want: Plan{
				Start: []Placement{{Service: "api", Instance: "instance-2"}},
				Stop:  []StopOrder{{TaskID: "b", Reason: "Task failed ELB health checks in (target-group api-tg)", Failed: true}},
			},
		},
		{
			name:  "unhealthy task within grace is kept and a wake is planned",
			svc:   api(1),
			tasks: []Task{running("a", "instance-1", HealthUnhealthy)},
			now:   at(5),
			want:  Plan{Wake: at(11)},
		},
		{
			name:  "unhealthy task without target group is not judged",
			svc:   plain("api", 1),
			tasks: []Task{running("a", "instance-1", HealthUnhealthy)},
			now:   at(60),
			want:  Plan{Steady: []string{"api"}},
		},
		{
			name: "task asked to stop no longer counts",
			svc:  api(1),
			tasks: []Task{
				{ID: "a", Service: "api", Instance: "instance-1", Status: Deactivating, StopRequested: true, CreatedAt: at(0)},
			},
			now:  at(60),
			want: Plan{Start: []Placement{{Service: "api", Instance: "instance-1"}}},
		},
		{
			name: "scale in takes from the fullest instance, pending before running",
			svc:  api(2),
			tasks: []Task{
				running("a", "instance-1", HealthHealthy),
				{ID: "b", Service: "api", Instance: "instance-1", Status: Running, Health: HealthHealthy, CreatedAt: at(10)},
				{ID: "c", Service: "api", Instance: "instance-1", Status: Pending, CreatedAt: at(30)},
				running("d", "instance-2", HealthHealthy),
			},
			now: at(60),
			want: Plan{Stop: []StopOrder{
				{TaskID: "c", Reason: "Scaling activity initiated by (service api)"},
				{TaskID: "b", Reason: "Scaling activity initiated by (service api)"},
			}},
		},
		{
			name:  "consecutive failures back off",
			svc:   api(1),
			tasks: []Task{failed("a", 50), failed("b", 55), failed("c", 59)},
			now:   at(60),
			want:  Plan{Wake: at(61), BackingOff: []BackingOff{{Service: "api", Failures: 3, Delay: 2 * time.Second, Until: at(61)}}},
		},
		{
			name:  "back-off over, the replacement starts",
			svc:   api(1),
			tasks: []Task{failed("a", 50), failed("b", 55), failed("c", 59)},
			now:   at(61),
			want:  Plan{Start: []Placement{{Service: "api", Instance: "instance-1"}}},
		},
		{
			name: "a healthy task ends the failure streak",
			svc:  api(2),
			tasks: []Task{
				failed("a", 40), failed("b", 45),
				{ID: "c", Service: "api", Instance: "instance-1", Status: Running, Health: HealthHealthy, CreatedAt: at(46), StartedAt: at(47), HealthyAt: at(48)},
				failed("d", 59),
			},
			now:  at(60),
			want: Plan{Start: []Placement{{Service: "api", Instance: "instance-2"}}},
		},
		{
			name: "tasks in the service's old target group are replaced",
			svc:  api(2),
			tasks: []Task{
				running("a", "instance-1", HealthHealthy),
				{ID: "b", Service: "api", Instance: "instance-2", Status: Running, Health: HealthHealthy, TargetGroup: "old-tg", CreatedAt: at(0)},
			},
			now:  at(60),
			want: Plan{Start: []Placement{{Service: "api", Instance: "instance-2"}}}, // b goes once its replacement serves
		},
		{
			name:  "a service that leaves its target group replaces its tasks",
			svc:   plain("api", 1),
			tasks: []Task{{ID: "a", Service: "api", Instance: "instance-1", Status: Running, Health: HealthHealthy, TargetGroup: "old-tg", CreatedAt: at(0)}},
			now:   at(60),
			want:  Plan{Start: []Placement{{Service: "api", Instance: "instance-2"}}}, // a still holds instance-1 until it stops

		},
		{
			name: "a large service starts in batches",
			svc:  plain("api", 25),
			now:  at(0),
			want: Plan{Start: repeatPlacements(LaunchBatch)},
		},
		{
			name:  "the next batch waits for the tasks still starting",
			svc:   plain("api", 25),
			tasks: startingTasks(8),
			now:   at(5),
			want:  Plan{Start: repeatPlacements(2)},
		},
		{
			name: "desired zero with nothing running is steady",
			svc:  api(0),
			now:  at(0),
			want: Plan{Steady: []string{"api"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.tasks { // tasks are in the service's group unless a case says otherwise
				if tt.tasks[i].TargetGroup == "" {
					tt.tasks[i].TargetGroup = tt.svc.TargetGroup
				}
			}
			got := Reconcile(Desired{Instances: twoInstances, Services: []Service{tt.svc}}, Observed{Tasks: tt.tasks}, tt.now)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("plan mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReconcile_SpreadAcrossServices(t *testing.T) {
	d := Desired{Instances: twoInstances, Services: []Service{plain("api", 1), plain("worker", 1)}}
	got := Reconcile(d, Observed{}, at(0))
	want := []Placement{{Service: "api", Instance: "instance-1"}, {Service: "worker", Instance: "instance-2"}}
	if diff := cmp.Diff(want, got.Start); diff != "" {
		t.Errorf("placements (-want +got):\n%s", diff)
	}
}

func TestReconcile_StopsTasksOfDeletedServices(t *testing.T) {
	old := running("a", "instance-1", HealthHealthy)
	old.Service = "gone"
	got := Reconcile(Desired{Instances: twoInstances}, Observed{Tasks: []Task{old}}, at(0))
	want := []StopOrder{{TaskID: "a", Reason: "Service gone deleted"}}
	if diff := cmp.Diff(want, got.Stop); diff != "" {
		t.Errorf("stops (-want +got):\n%s", diff)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second, 7: 32 * time.Second, 8: time.Minute, 50: time.Minute} {
		if got := backoff(n); got != want {
			t.Errorf("backoff(%d): got %v, want %v", n, got, want)
		}
	}
}

// TestReconcile_Invariants runs Reconcile on random observed states and
// checks what must always hold: only active tasks are stopped, placements
// only go to known instances, the launch batch holds, and nothing starts
// beyond the rollout maximum.
func TestReconcile_Invariants(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		cluster := instances(1 + r.IntN(3))
		svc := plain("api", r.IntN(25))
		svc.TargetGroup, svc.GracePeriod = []string{"", "api"}[r.IntN(2)], time.Duration(r.IntN(3))*10*time.Second
		tasks := randomTasks(r, names(cluster), svc.TargetGroup)
		now := at(100)
		p := Reconcile(Desired{Instances: cluster, Services: []Service{svc}}, Observed{Tasks: tasks}, now)
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkInvariants(t, svc, names(cluster), tasks, p) })
	}
}

func randomTasks(r *rand.Rand, instances []string, group string) []Task {
	statuses := []Status{Provisioning, Pending, Activating, Running, Deactivating, Stopping, Stopped}
	healths := []Health{HealthInitial, HealthHealthy, HealthUnhealthy}
	var tasks []Task
	for j := range r.IntN(30) {
		s := statuses[r.IntN(len(statuses))]
		t := Task{
			ID: fmt.Sprint("t", j), Service: "api", Instance: instances[r.IntN(len(instances))],
			Status: s, Health: healths[r.IntN(len(healths))], CreatedAt: at(r.IntN(90)),
			StopRequested: s == Deactivating || s == Stopping || r.IntN(10) == 0,
			TargetGroup:   group,
		}
		if r.IntN(10) == 0 {
			t.Deployment = "ecs-svc/old" // left over from an earlier deployment
		}
		t.StartedAt = t.CreatedAt.Add(time.Second)
		if s == Stopped {
			t.StoppedAt, t.Failed = at(90+r.IntN(10)), r.IntN(2) == 0
		}
		tasks = append(tasks, t)
	}
	return tasks
}

func checkInvariants(t *testing.T, svc Service, instances []string, tasks []Task, p Plan) {
	active := map[string]bool{}
	for _, task := range activeTasks(tasks) {
		active[task.ID] = true
	}
	for _, s := range p.Stop {
		if !active[s.TaskID] {
			t.Fatalf("stopped %s, which is not active", s.TaskID)
		}
	}
	for _, pl := range p.Start {
		if !contains(instances, pl.Instance) {
			t.Fatalf("placed on unknown instance %q", pl.Instance)
		}
	}
	if most := svc.Desired * svc.MaxPercent / 100; len(p.Start) > 0 && notStopped(tasks)+len(p.Start) > most {
		t.Fatalf("started %d tasks with %d not stopped, above the maximum %d", len(p.Start), notStopped(tasks), most)
	}
	var left []Task
	for _, task := range activeTasks(tasks) {
		if !stoppedBy(p, task.ID) {
			left = append(left, task)
		}
	}
	if starting(left)+len(p.Start) > LaunchBatch && len(p.Start) > 0 {
		t.Fatalf("%d tasks starting after the plan, above the batch of %d", starting(left)+len(p.Start), LaunchBatch)
	}
	if len(activeTasks(tasks)) == 0 && len(p.Start) > 0 {
		checkBalanced(t, instances, p.Start)
	}
}

func names(instances []Instance) []string {
	var out []string
	for _, in := range instances {
		out = append(out, in.Name)
	}
	return out
}

func stoppedBy(p Plan, id string) bool {
	for _, s := range p.Stop {
		if s.TaskID == id {
			return true
		}
	}
	return false
}

func checkBalanced(t *testing.T, instances []string, start []Placement) {
	per := map[string]int{}
	for _, pl := range start {
		per[pl.Instance]++
	}
	lo, hi := len(start), 0
	for _, in := range instances {
		lo, hi = min(lo, per[in]), max(hi, per[in])
	}
	if hi-lo > 1 {
		t.Fatalf("placements unbalanced: %v", per)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func TestReconcile_DependenciesStartFirst(t *testing.T) {
	cache := plain("cache", 1)
	api := plain("api", 2)
	api.TargetGroup, api.DependsOn = "api-tg", []string{"cache"}
	d := Desired{Instances: twoInstances, Services: []Service{cache, api}}
	cacheTask := func(status Status, healthyAt time.Time) Task {
		return Task{ID: "c", Service: "cache", Instance: "instance-1", Status: status, CreatedAt: at(0), StartedAt: at(1), HealthyAt: healthyAt}
	}
	tests := []struct {
		name  string
		tasks []Task
		want  Plan
	}{
		{
			name: "nothing runs: the cache starts, the api waits",
			want: Plan{
				Start:   []Placement{{Service: "cache", Instance: "instance-1"}},
				Waiting: []Waiting{{Service: "api", For: []string{"cache"}}},
			},
		},
		{
			name:  "the cache runs but does not take connections yet: the api still waits",
			tasks: []Task{cacheTask(Running, time.Time{})},
			want:  Plan{Waiting: []Waiting{{Service: "api", For: []string{"cache"}}}},
		},
		{
			name:  "the cache is healthy: the api starts",
			tasks: []Task{cacheTask(Running, at(2))},
			want: Plan{
				Start:  []Placement{{Service: "api", Instance: "instance-2"}, {Service: "api", Instance: "instance-1"}},
				Steady: []string{"cache"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Reconcile(d, Observed{Tasks: tt.tasks}, at(5))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}
