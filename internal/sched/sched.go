// Package sched decides what runs where. Reconcile is a pure function: the
// desired state, the observed state and the current time go in, a Plan comes
// out. It does no I/O and keeps no state, so every decision can be replayed in
// a table test; the agent carries plans out.
//
//	desired (stack) ─┐
//	observed (tasks) ─┼─▶ Reconcile ─▶ Plan{Start, Stop, Wake, Steady}
//	now ─────────────┘
package sched

import (
	"time"
)

// Status is a task's lifecycle state, with the ECS names.
type Status string

// Task lifecycle, in order. A task moves only forward.
const (
	Provisioning   Status = "PROVISIONING"   // host port being allocated
	Pending        Status = "PENDING"        // process starting
	Activating     Status = "ACTIVATING"     // registering in its target group
	Running        Status = "RUNNING"        // registered and serving
	Deactivating   Status = "DEACTIVATING"   // deregistering, draining
	Stopping       Status = "STOPPING"       // SIGTERM sent, stop timeout running
	Deprovisioning Status = "DEPROVISIONING" // host port being released
	Stopped        Status = "STOPPED"        // gone
)

// Health is the load balancer's view of a task: the target health state of
// its target, or HealthUnknown when the service has no target group.
type Health string

// Health values, the ALB target states that matter to the scheduler.
const (
	HealthUnknown   Health = ""
	HealthInitial   Health = "initial"
	HealthHealthy   Health = "healthy"
	HealthUnhealthy Health = "unhealthy"
)

// Desired is what the stack asks for.
type Desired struct {
	// Instances are the cluster's instances, in placement order.
	Instances []string
	Services  []Service
}

// Service is one service's desired state.
type Service struct {
	Name    string
	Desired int
	// TargetGroup is the target group the service registers its tasks in
	// ("" for none); when set, target health counts.
	TargetGroup string
	// GracePeriod is how long after a task started its unhealthy target
	// state is ignored.
	GracePeriod time.Duration
	// DependsOn names services that must have a healthy task before this
	// one starts any.
	DependsOn []string
}

// Task is one task as observed, running or recently stopped.
type Task struct {
	ID       string
	Service  string
	Instance string
	Status   Status
	// TargetGroup is the target group the task was registered in ("" for
	// none).
	TargetGroup string
	// StopRequested is set once the scheduler or a user asked the task to
	// stop: it no longer counts toward the desired count.
	StopRequested bool
	Health        Health
	CreatedAt     time.Time
	// StartedAt is when the task reached RUNNING (zero before).
	StartedAt time.Time
	// HealthyAt is when the task first served healthy: its target turned
	// healthy, or it reached RUNNING in a service without a target group.
	HealthyAt time.Time
	StoppedAt time.Time
	// Failed marks a stopped task that ended badly: it failed to start,
	// exited while it should have run, or failed its health checks.
	Failed bool
}

// Observed is what is running now, plus recently stopped tasks.
type Observed struct {
	Tasks []Task
}

// Plan is what the agent should do now.
type Plan struct {
	Start []Placement
	Stop  []StopOrder
	// Wake is when Reconcile should run again if nothing else happens
	// (zero: no need), for example when a restart back-off or a health
	// check grace period ends.
	Wake time.Time
	// Steady lists the services that have reached a steady state: desired
	// count running, every task healthy, nothing starting or stopping.
	Steady []string
	// BackingOff lists the services that wait before they start a
	// replacement, because their tasks keep failing.
	BackingOff []BackingOff
	// Waiting lists the services that start nothing until services they
	// depend on have a healthy task.
	Waiting []Waiting
}

// Waiting is a service waiting for its dependencies.
type Waiting struct {
	Service string
	// For names the dependencies with no healthy task yet.
	For []string
}

// BackingOff is a service waiting before its next start.
type BackingOff struct {
	Service string
	// Failures is how many of its tasks failed in a row.
	Failures int
	// Delay is the whole wait after the last failure; Until is when it
	// ends.
	Delay time.Duration
	Until time.Time
}

// Placement starts one task of Service on Instance.
type Placement struct {
	Service  string
	Instance string
}

// StopOrder stops one task, for Reason (an ECS stoppedReason sentence).
type StopOrder struct {
	TaskID string
	Reason string
	// Failed marks the stop as the task's failure (for back-off).
	Failed bool
}

// LaunchBatch is the most tasks of one service that are starting at once:
// started and not yet healthy (registered and not yet passing a health
// check, or not yet RUNNING without a target group). A large service is
// brought up in batches, so that a thousand processes starting together
// do not starve each other's health checks into failing and being
// replaced, over and over.
const LaunchBatch = 10

// Restart back-off: after consecutive failures a service waits before it
// starts a replacement, as ECS throttles tasks that keep failing to start.
const (
	backoffBase = time.Second
	backoffMax  = time.Minute
)

// Reconcile computes the plan that moves observed toward desired.
func Reconcile(d Desired, o Observed, now time.Time) Plan {
	var p Plan
	load := instanceLoad(d.Instances, o.Tasks)
	ready := readyServices(d.Services, o.Tasks)
	for _, svc := range d.Services {
		p.merge(reconcileService(svc, d.Instances, load, tasksOf(svc.Name, o.Tasks), notReady(svc, ready), now))
	}
	p.Stop = append(p.Stop, stopOrphans(d.Services, o.Tasks)...)
	return p
}

// stopOrphans stops the tasks of services no longer in the stack.
func stopOrphans(services []Service, tasks []Task) []StopOrder {
	known := make(map[string]bool, len(services))
	for _, svc := range services {
		known[svc.Name] = true
	}
	var out []StopOrder
	for _, t := range activeTasks(tasks) {
		if !known[t.Service] {
			out = append(out, StopOrder{TaskID: t.ID, Reason: "Service " + t.Service + " deleted"})
		}
	}
	return out
}

func (p *Plan) merge(q Plan) {
	p.Start = append(p.Start, q.Start...)
	p.Stop = append(p.Stop, q.Stop...)
	p.Steady = append(p.Steady, q.Steady...)
	p.BackingOff = append(p.BackingOff, q.BackingOff...)
	p.Waiting = append(p.Waiting, q.Waiting...)
	p.Wake = earliest(p.Wake, q.Wake)
}

// readyServices are the services with a task that serves healthy now: in
// its target group, or, without one, since it first did (RUNNING, or
// accepting connections when the agent checks that).
func readyServices(services []Service, tasks []Task) map[string]bool {
	grouped := map[string]bool{}
	for _, svc := range services {
		grouped[svc.Name] = svc.TargetGroup != ""
	}
	ready := map[string]bool{}
	for _, t := range activeTasks(tasks) {
		switch {
		case t.Status != Running:
		case grouped[t.Service] && t.Health == HealthHealthy:
			ready[t.Service] = true
		case !grouped[t.Service] && !t.HealthyAt.IsZero():
			ready[t.Service] = true
		}
	}
	return ready
}

// notReady lists the dependencies of svc that are not ready.
func notReady(svc Service, ready map[string]bool) []string {
	var out []string
	for _, dep := range svc.DependsOn {
		if !ready[dep] {
			out = append(out, dep)
		}
	}
	return out
}

// reconcileService plans one service; waitingFor lists its dependencies
// that have no healthy task yet: until they do, it starts nothing.
func reconcileService(svc Service, instances []string, load map[string]int, tasks []Task, waitingFor []string, now time.Time) Plan {
	var p Plan
	active, moved := stopMoved(svc, activeTasks(tasks))
	active, p.Stop, p.Wake = stopUnhealthy(svc, active, now)
	p.Stop = append(moved, p.Stop...)
	switch {
	case len(active) > svc.Desired:
		p.Stop = append(p.Stop, scaleIn(svc, active, len(active)-svc.Desired)...)
	case len(active) < svc.Desired && len(waitingFor) > 0:
		p.Waiting = []Waiting{{Service: svc.Name, For: waitingFor}}
	case len(active) < svc.Desired:
		wait := restartDelay(tasks, now)
		if wait > 0 {
			p.Wake = earliest(p.Wake, now.Add(wait))
			failures, _ := failureStreak(tasks)
			p.BackingOff = []BackingOff{{Service: svc.Name, Failures: failures, Delay: backoff(failures), Until: now.Add(wait)}}
			break
		}
		n := min(svc.Desired-len(active), LaunchBatch-starting(active))
		if n > 0 {
			p.Start = place(svc.Name, instances, load, active, n)
		}
	}
	if len(p.Start) == 0 && len(p.Stop) == 0 && steady(svc, tasks) {
		p.Steady = []string{svc.Name}
	}
	return p
}

// starting counts the tasks that have not served healthy yet.
func starting(active []Task) int {
	n := 0
	for _, t := range active {
		if t.HealthyAt.IsZero() {
			n++
		}
	}
	return n
}

// activeTasks are the tasks that count toward the desired count.
func activeTasks(tasks []Task) []Task {
	var out []Task
	for _, t := range tasks {
		if t.Status != Stopped && !t.StopRequested {
			out = append(out, t)
		}
	}
	return out
}

// stopMoved orders the tasks registered in another target group than the
// service's now to stop: the stack moved the service to another group (the
// old one drains), and replacements register in the new one. It returns
// the tasks left.
func stopMoved(svc Service, active []Task) (left []Task, stops []StopOrder) {
	for _, t := range active {
		if t.TargetGroup == svc.TargetGroup {
			left = append(left, t)
			continue
		}
		to := "no target group"
		if svc.TargetGroup != "" {
			to = "target-group " + svc.TargetGroup
		}
		stops = append(stops, StopOrder{TaskID: t.ID, Reason: "Service " + svc.Name + " now registers its tasks in " + to})
	}
	return left, stops
}

// stopUnhealthy orders unhealthy tasks past their grace period to stop, as
// ECS replaces tasks that fail their ELB health checks. It returns the tasks
// left and, when a grace period is still running, when it ends.
func stopUnhealthy(svc Service, active []Task, now time.Time) (left []Task, stops []StopOrder, wake time.Time) {
	for _, t := range active {
		if svc.TargetGroup == "" || t.Health != HealthUnhealthy {
			left = append(left, t)
			continue
		}
		graceEnds := t.StartedAt.Add(svc.GracePeriod)
		if now.Before(graceEnds) {
			left = append(left, t)
			wake = earliest(wake, graceEnds)
			continue
		}
		stops = append(stops, StopOrder{
			TaskID: t.ID,
			Reason: "Task failed ELB health checks in (target-group " + svc.TargetGroup + ")",
			Failed: true,
		})
	}
	return left, stops, wake
}

// steady reports whether every task of the service runs and is healthy,
// nothing is on its way up or down, and the count is the desired one.
func steady(svc Service, tasks []Task) bool {
	running := 0
	for _, t := range tasks {
		if t.Status == Stopped {
			continue
		}
		if t.StopRequested || t.Status != Running {
			return false
		}
		if svc.TargetGroup != "" && t.Health != HealthHealthy || svc.TargetGroup == "" && t.HealthyAt.IsZero() {
			return false
		}
		running++
	}
	return running == svc.Desired
}

func tasksOf(service string, tasks []Task) []Task {
	var out []Task
	for _, t := range tasks {
		if t.Service == service {
			out = append(out, t)
		}
	}
	return out
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
