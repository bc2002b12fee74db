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
	"slices"
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
	Instances []Instance
	Services  []Service
}

// RolloutState is the state of a deployment's rollout, with the ECS names.
type RolloutState string

// Rollout states.
const (
	RolloutInProgress RolloutState = "IN_PROGRESS"
	RolloutCompleted  RolloutState = "COMPLETED"
	RolloutFailed     RolloutState = "FAILED"
)

// Service is one service's desired state: its PRIMARY deployment (the task
// definition revision it runs now) and how to reach it.
type Service struct {
	Name string
	// Desired is the desired count; a daemon service ignores it and wants
	// one task on every ACTIVE instance.
	Desired int
	Daemon  bool
	// Deployment is the id of the PRIMARY deployment: tasks of any other
	// deployment are replaced by tasks of this one.
	Deployment string
	// Rollout is the PRIMARY deployment's rollout state ("" is taken as
	// COMPLETED); FailedTasks counts its tasks that failed, for the
	// circuit breaker when CircuitBreaker is set.
	Rollout        RolloutState
	FailedTasks    int
	CircuitBreaker bool
	// MinHealthyPercent and MaxPercent bound a rollout, as ECS's
	// minimumHealthyPercent and maximumPercent.
	MinHealthyPercent, MaxPercent int
	// TargetGroup is the target group the PRIMARY deployment registers its
	// tasks in ("" for none); when set, target health counts.
	TargetGroup string
	// ContainerHealthCheck is set when the PRIMARY deployment's tasks have a
	// container health check: they are healthy only once it says HEALTHY.
	ContainerHealthCheck bool
	// GracePeriod is how long after a task started its unhealthy target
	// state and container health are ignored.
	GracePeriod time.Duration
	// DependsOn names services that must have a healthy task before this
	// one starts any.
	DependsOn []string
	// Need is what each new task reserves; Strategies and Distinct say
	// where new tasks go (package place.go).
	Need       Reserved
	Strategies []PlacementStrategy
	Distinct   bool
	// KeepOutgoing holds the tasks of other deployments (the blue revision
	// of a blue/green, canary or linear deployment) until the agent lets
	// them go at clean-up: none is retired, and the PRIMARY deployment
	// starts its full desired count at once, beyond MaxPercent. The rollout
	// is not declared COMPLETED while they run.
	KeepOutgoing bool
	// HoldStart starts no task of the PRIMARY deployment (a PRE_SCALE_UP
	// lifecycle hook has not passed yet).
	HoldStart bool
	// Blue, with KeepOutgoing, is the deployment blue's tasks are of: it
	// keeps its desired count too, as ECS keeps both revisions of a
	// blue/green deployment running (a blue task that fails is replaced;
	// after a restart of shoal, blue starts again beside green).
	Blue string
}

// ContainerHealth is a task's container health status, as ECS names it.
type ContainerHealth string

// Container health statuses ("" when the task has no health check).
const (
	ContainerUnknown   ContainerHealth = "UNKNOWN"
	ContainerHealthy   ContainerHealth = "HEALTHY"
	ContainerUnhealthy ContainerHealth = "UNHEALTHY"
)

// Task is one task as observed, running or recently stopped.
type Task struct {
	ID       string
	Service  string
	Instance string
	Status   Status
	// Deployment is the id of the deployment that started the task.
	Deployment string
	// TargetGroup is the target group the task was registered in ("" for
	// none).
	TargetGroup string
	// StopRequested is set once the scheduler or a user asked the task to
	// stop: it no longer counts toward the desired count.
	StopRequested bool
	Health        Health
	// ContainerHealth is its container health check's status ("": none).
	ContainerHealth ContainerHealth
	// Reserved is what the task reserves on its instance.
	Reserved  Reserved
	CreatedAt time.Time
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
	// Rollouts are the PRIMARY deployments whose rollout just ended:
	// COMPLETED, or FAILED by the circuit breaker.
	Rollouts []Rollout
	// Unplaced lists the services that could not place every task they
	// need, and why.
	Unplaced []Unplaced
}

// Rollout is the end of a PRIMARY deployment's rollout.
type Rollout struct {
	Service, Deployment string
	State               RolloutState
	// Reason is ECS's rolloutStateReason.
	Reason string
}

// Unplaced is a service that needs tasks no instance can take now.
type Unplaced struct {
	Service string
	// Reason is the ECS event sentence.
	Reason string
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
	// Deployment is the deployment the task is of: "" for the service's
	// PRIMARY one, else its Blue one.
	Deployment string
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
	c := newCluster(d.Instances, o.Tasks, now)
	ready := readyServices(d.Services, o.Tasks)
	for _, svc := range d.Services {
		p.merge(reconcileService(svc, c, tasksOf(svc.Name, o.Tasks), notReady(svc, ready), now))
	}
	p.Stop = append(p.Stop, stopOrphans(d.Services, o.Tasks)...)
	return p
}

// cluster is the instances and what every active task holds on them, kept
// up to date as services place tasks in one Reconcile.
type cluster struct {
	instances    []Instance
	status       map[string]InstanceStatus
	reservations map[string]Reserved
	load         map[string]int
	seed         uint64
}

func newCluster(instances []Instance, tasks []Task, now time.Time) *cluster {
	c := &cluster{
		instances: instances, status: map[string]InstanceStatus{},
		reservations: map[string]Reserved{}, load: map[string]int{},
		seed: uint64(now.UnixNano()),
	}
	for _, in := range instances {
		c.status[in.Name] = in.Status
	}
	for _, t := range tasks {
		if !isActive(t) {
			continue
		}
		r := c.reservations[t.Instance]
		c.reservations[t.Instance] = Reserved{CPU: r.CPU + t.Reserved.CPU, Memory: r.Memory + t.Reserved.Memory}
		c.load[t.Instance]++
	}
	return c
}

// active counts the ACTIVE instances.
func (c *cluster) active() int {
	n := 0
	for _, in := range c.instances {
		if in.Status == InstanceActive {
			n++
		}
	}
	return n
}

// place places n tasks of svc and records them in the cluster.
func (c *cluster) place(svc Service, mine []Task, n int) ([]Placement, string) {
	c.seed++
	out, unplaced := placeTasks(placeRequest{
		Service: svc.Name, N: n, Need: svc.Need, Strategies: svc.Strategies,
		Distinct: svc.Distinct || svc.Daemon, Instances: c.instances, Mine: mine,
		Reservations: c.reservations, Load: c.load, Seed: c.seed,
	})
	for _, pl := range out {
		r := c.reservations[pl.Instance]
		c.reservations[pl.Instance] = Reserved{CPU: r.CPU + svc.Need.CPU, Memory: r.Memory + svc.Need.Memory}
		c.load[pl.Instance]++
	}
	return out, unplaced
}

// stopOrphans stops the tasks of services no longer in the stack.
func stopOrphans(services []Service, tasks []Task) []StopOrder {
	known := make(map[string]bool, len(services))
	for _, svc := range services {
		known[svc.Name] = true
	}
	var out []StopOrder
	for _, t := range tasks {
		if isActive(t) && !known[t.Service] {
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
	p.Rollouts = append(p.Rollouts, q.Rollouts...)
	p.Unplaced = append(p.Unplaced, q.Unplaced...)
	p.Wake = earliest(p.Wake, q.Wake)
}

// readyServices are the services with a task that serves healthy now: in
// its target group, or, without one, since it first did (RUNNING, or
// accepting connections when the agent checks that).
func readyServices(services []Service, tasks []Task) map[string]bool {
	ready := map[string]bool{}
	for _, t := range tasks {
		if isActive(t) && serving(t) {
			ready[t.Service] = true
		}
	}
	return ready
}

// serving reports whether a task serves healthy now: RUNNING, its target
// healthy (or, without a target group, since it first served), and its
// container health check, if any, HEALTHY.
func serving(t Task) bool {
	switch {
	case t.Status != Running:
		return false
	case t.TargetGroup != "" && t.Health != HealthHealthy:
		return false
	case t.TargetGroup == "" && t.HealthyAt.IsZero():
		return false
	}
	return t.ContainerHealth == "" || t.ContainerHealth == ContainerHealthy
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

// bounds are a service's limits during a rollout: at most Most tasks
// active, at least Least of them healthy.
type bounds struct{ desired, most, least int }

func boundsOf(svc Service, c *cluster) bounds {
	desired := svc.Desired
	if svc.Daemon {
		desired = c.active()
	}
	return bounds{
		desired: desired,
		most:    desired * svc.MaxPercent / 100,             // rounded down, as ECS
		least:   (desired*svc.MinHealthyPercent + 99) / 100, // rounded up, as ECS
	}
}

// reconcileService plans one service; waitingFor lists its dependencies
// that have no healthy task yet: until they do, it starts nothing.
//
// A service's active tasks are current (its PRIMARY deployment's, on an
// ACTIVE instance) or outgoing (an older deployment's, or on an instance
// that drains or stopped). Outgoing tasks are replaced the way ECS rolls a
// deployment: new tasks start while no more than maximum_percent of the
// desired count is active, and outgoing ones stop while at least
// minimum_healthy_percent stays healthy.
func reconcileService(svc Service, c *cluster, tasks []Task, waitingFor []string, now time.Time) Plan {
	var p Plan
	b := boundsOf(svc, c)
	active, stops, wake := stopUnhealthy(svc, activeTasks(tasks), now)
	p.Stop, p.Wake = stops, wake
	current, outgoing := split(svc, c, active)
	if len(current) > b.desired {
		in := scaleIn(svc, current, len(current)-b.desired)
		p.Stop = append(p.Stop, in...)
		current = without(current, in)
	}
	if !svc.KeepOutgoing {
		retire := retireOutgoing(svc, b, current, outgoing)
		p.Stop = append(p.Stop, retire...)
		outgoing = without(outgoing, retire)
	}

	tripped := svc.CircuitBreaker && svc.Rollout == RolloutInProgress && svc.FailedTasks >= FailureThreshold(b.desired)
	if tripped {
		p.Rollouts = []Rollout{{Service: svc.Name, Deployment: svc.Deployment, State: RolloutFailed,
			Reason: "ECS deployment circuit breaker: tasks failed to start."}}
	}
	switch {
	case len(current) >= b.desired:
	case tripped || svc.Rollout == RolloutFailed:
		// A failed deployment starts nothing more; its service keeps what runs.
	case svc.HoldStart:
	case len(waitingFor) > 0:
		p.Waiting = []Waiting{{Service: svc.Name, For: waitingFor}}
	default:
		p.merge(startTasks(svc, c, b, tasks, current, outgoing, now))
	}
	if svc.KeepOutgoing && svc.Blue != "" && len(waitingFor) == 0 {
		p.merge(startBlue(svc, c, b, tasks, current, outgoing, now))
	}
	if len(p.Start) == 0 && len(p.Stop) == 0 && steady(svc, b, tasks, current) {
		p.Steady = []string{svc.Name}
		if svc.Rollout == RolloutInProgress {
			p.Rollouts = []Rollout{{Service: svc.Name, Deployment: svc.Deployment, State: RolloutCompleted,
				Reason: "ECS deployment " + svc.Deployment + " completed."}}
		}
	}
	return p
}

// startTasks starts what the service lacks, within the rollout's maximum,
// the launch batch and the restart back-off.
func startTasks(svc Service, c *cluster, b bounds, tasks, current, outgoing []Task, now time.Time) Plan {
	var p Plan
	if wait := restartDelay(tasks, now); wait > 0 {
		failures, _ := failureStreak(tasks)
		p.Wake = now.Add(wait)
		p.BackingOff = []BackingOff{{Service: svc.Name, Failures: failures, Delay: backoff(failures), Until: now.Add(wait)}}
		return p
	}
	live := notStopped(tasks)
	if svc.Daemon {
		// A daemon's desired count is its ACTIVE instances: a task left on
		// a draining one is no part of it and holds no place.
		live = notStopped(slices.DeleteFunc(slices.Clone(tasks), func(t Task) bool { return c.status[t.Instance] != InstanceActive }))
	}
	most := max(b.most, b.desired) - live
	if svc.KeepOutgoing {
		most = b.desired - len(current) // green starts at full size beside blue
	}
	n := min(b.desired-len(current), most, LaunchBatch-starting(slices.Concat(current, outgoing)))
	if n <= 0 {
		return p
	}
	mine := current
	if svc.Distinct && !svc.Daemon {
		mine = append(slices.Clone(current), outgoing...) // ECS counts every task of the service
	}
	var unplaced string
	p.Start, unplaced = c.place(svc, mine, n)
	if unplaced != "" {
		p.Unplaced = []Unplaced{{Service: svc.Name, Reason: unplaced}}
	}
	return p
}

// startBlue starts what blue lacks of the desired count, while a
// blue/green deployment keeps it, within the launch batch and the restart
// back-off.
func startBlue(svc Service, c *cluster, b bounds, tasks, current, outgoing []Task, now time.Time) Plan {
	var p Plan
	blue := slices.DeleteFunc(slices.Clone(outgoing), func(t Task) bool {
		return t.Deployment != svc.Blue || c.status[t.Instance] != InstanceActive
	})
	n := min(b.desired-len(blue), LaunchBatch-starting(slices.Concat(current, outgoing)))
	if n <= 0 || restartDelay(tasks, now) > 0 {
		return p
	}
	placed, unplaced := c.place(svc, blue, n)
	for i := range placed {
		placed[i].Deployment = svc.Blue
	}
	p.Start = placed
	if unplaced != "" {
		p.Unplaced = []Unplaced{{Service: svc.Name, Reason: unplaced}}
	}
	return p
}

// notStopped counts the tasks not yet stopped, those being stopped included:
// ECS's maximum percent counts tasks PENDING, RUNNING and STOPPING.
func notStopped(tasks []Task) int {
	n := 0
	for _, t := range tasks {
		if t.Status != Stopped {
			n++
		}
	}
	return n
}

// FailureThreshold is when ECS's deployment circuit breaker trips: half the
// desired count, rounded up, at least 3 and at most 200 failed tasks.
func FailureThreshold(desired int) int {
	return min(max((desired+1)/2, 3), 200)
}

// split sorts active tasks into current and outgoing ones.
func split(svc Service, c *cluster, active []Task) (current, outgoing []Task) {
	current = make([]Task, 0, len(active))
	for _, t := range active {
		if t.Deployment == svc.Deployment && t.TargetGroup == svc.TargetGroup && c.status[t.Instance] == InstanceActive {
			current = append(current, t)
		} else {
			outgoing = append(outgoing, t)
		}
	}
	return current, outgoing
}

// retireOutgoing stops the outgoing tasks that can go now: every one that
// does not serve, and serving ones while the service keeps its minimum
// healthy count, oldest first.
func retireOutgoing(svc Service, b bounds, current, outgoing []Task) []StopOrder {
	healthy := 0
	for _, t := range current {
		if serving(t) {
			healthy++
		}
	}
	for _, t := range outgoing {
		if serving(t) {
			healthy++
		}
	}
	order := slices.Clone(outgoing)
	slices.SortStableFunc(order, func(x, y Task) int {
		if sx, sy := serving(x), serving(y); sx != sy {
			if sx {
				return 1
			}
			return -1
		}
		return x.CreatedAt.Compare(y.CreatedAt)
	})
	var out []StopOrder
	for _, t := range order {
		if serving(t) {
			if healthy-1 < b.least {
				break
			}
			healthy--
		}
		out = append(out, StopOrder{TaskID: t.ID, Reason: retireReason(svc, t)})
	}
	return out
}

// retireReason says why an outgoing task stops, as ECS would.
func retireReason(svc Service, t Task) string {
	if t.Deployment == svc.Deployment && t.TargetGroup == svc.TargetGroup {
		return "Container instance " + t.Instance + " is no longer ACTIVE"
	}
	return "Scaling activity initiated by (deployment " + svc.Deployment + ")"
}

// without returns tasks minus the ones stops name.
func without(tasks []Task, stops []StopOrder) []Task {
	gone := make(map[string]bool, len(stops))
	for _, s := range stops {
		gone[s.TaskID] = true
	}
	var out []Task
	for _, t := range tasks {
		if !gone[t.ID] {
			out = append(out, t)
		}
	}
	return out
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
	out := make([]Task, 0, len(tasks))
	for _, t := range tasks {
		if isActive(t) {
			out = append(out, t)
		}
	}
	return out
}

func isActive(t Task) bool { return t.Status != Stopped && !t.StopRequested }

// stopUnhealthy orders tasks past their grace period to stop when their
// target is unhealthy or their container health check says UNHEALTHY, as
// ECS replaces them. It returns the tasks left and, when a grace period is
// still running, when it ends.
func stopUnhealthy(svc Service, active []Task, now time.Time) (left []Task, stops []StopOrder, wake time.Time) {
	left = make([]Task, 0, len(active))
	for _, t := range active {
		reason := ""
		switch {
		case t.ContainerHealth == ContainerUnhealthy:
			reason = "Task failed container health checks"
		case t.TargetGroup != "" && t.Health == HealthUnhealthy:
			reason = "Task failed ELB health checks in (target-group " + t.TargetGroup + ")"
		}
		if reason == "" {
			left = append(left, t)
			continue
		}
		graceEnds := t.StartedAt.Add(svc.GracePeriod)
		if now.Before(graceEnds) {
			left = append(left, t)
			wake = earliest(wake, graceEnds)
			continue
		}
		stops = append(stops, StopOrder{TaskID: t.ID, Reason: reason, Failed: true})
	}
	return left, stops, wake
}

// steady reports whether the service has its desired count of current
// tasks, every one serving healthy, and nothing else on its way up or down.
func steady(svc Service, b bounds, tasks, current []Task) bool {
	isCurrent := make(map[string]bool, len(current))
	for _, t := range current {
		isCurrent[t.ID] = true
	}
	for _, t := range tasks {
		if t.Status != Stopped && (t.StopRequested || !isCurrent[t.ID]) {
			return false
		}
	}
	for _, t := range current {
		if !serving(t) {
			return false
		}
	}
	return len(current) == b.desired
}

func tasksOf(service string, tasks []Task) []Task {
	out := make([]Task, 0, len(tasks))
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
