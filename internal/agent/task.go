package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
)

// failureOutputLines is how many lines of a failed task's output its stop
// event shows, when its output is not streamed.
const failureOutputLines = 5

// Stop codes, as ECS reports them.
const (
	StopTaskFailedToStart         = "TaskFailedToStart"
	StopEssentialContainerExited  = "EssentialContainerExited"
	StopServiceSchedulerInitiated = "ServiceSchedulerInitiated"
)

// task is the agent's record of one task. Its fields are guarded by the
// agent's mutex, except handle, which only the task's own goroutine sets
// (before it publishes it under the mutex) and uses.
type task struct {
	id, service, taskDef string
	deployment           string // the id of the deployment that started it
	def                  TaskDefinition
	targetGroup          string
	instance             instance.Instance

	status        sched.Status
	health        sched.Health
	healthReason  string
	addr          string
	handle        driver.Task
	createdAt     time.Time
	startedAt     time.Time
	healthyAt     time.Time
	stoppedAt     time.Time
	stopRequested bool
	stopCode      string
	stopReason    string
	failed        bool
	exit          string
	stop          chan struct{} // closed when a stop is requested
	// output streams the task's output to Config.TaskOutput; nil when
	// that is not set.
	output *lineWriter
	// env is what the definition's environment values that name other
	// services come to, resolved when the task is created.
	env map[string]string
	// probe is set for a task that others depend on and that has no target
	// group: it serves once it takes a TCP connection, not at RUNNING.
	probe bool
	// containerHealth is its container health check's status ("": none).
	containerHealth sched.ContainerHealth
	// killed is set when its instance stopped: it dies at once, without a
	// drain or a stop timeout, as on a failed host.
	killed bool
	// pausedBy is the id of the fault that holds it paused, while one does.
	pausedBy string
}

func (t *task) observed() sched.Task {
	return sched.Task{
		ID: t.id, Service: t.service, Instance: t.instance.Name, Status: t.status, TargetGroup: t.targetGroup,
		Deployment: t.deployment, ContainerHealth: t.containerHealth,
		Reserved:      sched.Reserved{CPU: t.def.CPU, Memory: t.def.Memory},
		StopRequested: t.stopRequested, Health: t.health,
		CreatedAt: t.createdAt, StartedAt: t.startedAt, HealthyAt: t.healthyAt,
		StoppedAt: t.stoppedAt, Failed: t.failed,
	}
}

// startLocked records new tasks and starts their lifecycle goroutines.
func (a *Agent) startLocked(placements []sched.Placement) {
	for _, p := range placements {
		t := a.newTaskLocked(p)
		a.tasks[t.id] = t
		svc := p.Service
		a.events.addGrouped("started|"+svc, Event{Time: a.clock.Now(), Service: svc}, "task "+t.id,
			func(tasks []string) string {
				return fmt.Sprintf("service %s has started %d tasks: %s.", svc, len(tasks), strings.Join(tasks, " "))
			})
		a.wg.Add(1)
		go a.runTask(t)
	}
}

// newTaskLocked makes a task of the service's PRIMARY deployment (or of
// the one the placement names): its revision of the task definition, its
// target group.
func (a *Agent) newTaskLocked(p sched.Placement) *task {
	dep := a.state.Services[p.Service].primary()
	if p.Deployment != "" { // blue's, kept beside green in a blue/green deployment
		for _, d := range a.state.Services[p.Service].Deployments {
			if d.ID == p.Deployment {
				dep = d
			}
		}
	}
	def, _ := a.state.definition(dep.TaskDefinition)
	id := p.Service + "-" + randomHex(4)
	var output *lineWriter
	if a.cfg.TaskOutput != nil {
		output = newLineWriter(id, a.cfg.TaskOutput, a.events.flush)
	}
	t := &task{
		id: id, service: p.Service, taskDef: dep.TaskDefinition, deployment: dep.ID, output: output,
		def: def, targetGroup: dep.TargetGroup,
		instance: a.instanceLocked(p.Instance), status: sched.Provisioning,
		createdAt: a.clock.Now(), stop: make(chan struct{}),
	}
	if def.Task.HealthCheck != nil {
		t.containerHealth = sched.ContainerUnknown
	}
	t.env = a.resolveEnvLocked(t)
	t.probe = t.targetGroup == "" && slices.Contains(dependedOn(a.stack), p.Service)
	return t
}

// runTask walks one task through its whole life. Whatever happens, a task
// that was registered in its target group is deregistered and drained
// before it gets SIGTERM.
func (a *Agent) runTask(t *task) {
	defer a.wg.Done()
	h, err := a.launch(t)
	if err != nil {
		a.finish(t, StopTaskFailedToStart, err.Error(), true, "")
		return
	}
	registered := !a.stopRequested(t) && a.activate(t)
	if registered {
		a.setRunning(t)
		if t.probe {
			a.awaitListening(t, h.Done())
		}
		select {
		case <-h.Done():
			a.exitedOnItsOwn(t)
		case <-t.stop:
		}
	}
	a.teardown(t, h, registered)
}

// launch starts the task's process: PROVISIONING → PENDING → started.
func (a *Agent) launch(t *task) (driver.Task, error) {
	a.setStatus(t, sched.Pending)
	spec := t.spec()
	if t.def.Image != nil {
		spec.Containers = withImage(spec.Containers, a.builtImage(*t.def.Image))
	}
	if hasHealthCheck(spec) {
		spec.OnHealth = func(h driver.ContainerHealth) { a.containerHealthChanged(t, h) }
	}
	h, err := a.cfg.Runners[t.def.Kind].Start(a.life, spec)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	t.handle, t.addr = h, h.Addr()
	a.mu.Unlock()
	return h, nil
}

// activate registers the task in its target group (ACTIVATING). It returns
// false when the task must not go on to RUNNING.
func (a *Agent) activate(t *task) bool {
	a.setStatus(t, sched.Activating)
	if t.targetGroup == "" {
		return true
	}
	a.mu.Lock()
	a.byTarget[targetKey(t.targetGroup, t.addr)] = t
	t.health, t.healthReason = sched.HealthInitial, string(proxy.ReasonRegistrationInProgress)
	a.mu.Unlock()
	if err := a.cfg.Balancer.Register(t.targetGroup, t.addr); err != nil {
		a.mu.Lock()
		a.requestStopLocked(t, "register in target group "+t.targetGroup+": "+err.Error(), true)
		a.mu.Unlock()
		return false
	}
	a.events.addGrouped("registered|"+t.service+"|"+t.targetGroup,
		Event{Time: a.clock.Now(), Service: t.service, Task: t.id, Target: t.addr}, t.addr,
		func(addrs []string) string {
			return fmt.Sprintf("service %s registered %d targets in target-group %s: %s.", t.service, len(addrs), t.targetGroup, strings.Join(addrs, " "))
		})
	return true
}

// containerHealthChanged takes a task's container health status from its
// driver. UNHEALTHY wakes the scheduler, which stops the task once its
// grace period is over.
func (a *Agent) containerHealthChanged(t *task, h driver.ContainerHealth) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t.containerHealth = sched.ContainerHealth(h)
	if h == driver.HealthHealthy {
		a.taskHealthyLocked(t)
	}
	a.events.add(Event{Time: a.clock.Now(), Service: t.service, Task: t.id,
		Message: fmt.Sprintf("task %s container health: %s.", t.id, h)})
	a.poke()
}

func (a *Agent) setRunning(t *task) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t.status, t.startedAt = sched.Running, a.clock.Now()
	if t.targetGroup == "" && !t.probe {
		t.healthyAt = t.startedAt
		a.taskHealthyLocked(t)
	}
	a.events.addGrouped("running|"+t.service, Event{Time: t.startedAt, Service: t.service, Task: t.id},
		fmt.Sprintf("%s on %s at %s", t.id, t.instance.Name, t.addr),
		func(tasks []string) string {
			if len(tasks) == 1 {
				return "task " + tasks[0] + " is RUNNING."
			}
			return fmt.Sprintf("%d tasks of service %s are RUNNING: %s.", len(tasks), t.service, strings.Join(tasks, ", "))
		})
	a.poke()
}

// exitedOnItsOwn records a task that ended while it should have run.
func (a *Agent) exitedOnItsOwn(t *task) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !t.stopRequested {
		t.stopRequested, t.failed = true, true
		t.stopCode = StopEssentialContainerExited
		t.stopReason = "Essential container in task exited"
		close(t.stop)
	}
	a.poke()
}

// teardown: DEACTIVATING (deregister, drain) → STOPPING (SIGTERM, stop
// timeout, SIGKILL) → DEPROVISIONING → STOPPED.
func (a *Agent) teardown(t *task, h driver.Task, registered bool) {
	if a.isKilled(t) {
		a.die(t, h, registered)
		return
	}
	a.setStatus(t, sched.Deactivating)
	if registered && t.targetGroup != "" {
		a.events.addGrouped("deregistered|"+t.service+"|"+t.targetGroup,
			Event{Time: a.clock.Now(), Service: t.service, Task: t.id, Target: t.addr}, t.addr,
			func(addrs []string) string {
				return fmt.Sprintf("service %s deregistered %d targets in target-group %s: %s.", t.service, len(addrs), t.targetGroup, strings.Join(addrs, " "))
			})
		if err := a.cfg.Balancer.Deregister(a.life, t.targetGroup, t.addr); err != nil {
			a.log.Warn("deregister", "task", t.id, "target", t.addr, "err", err)
		}
	}
	a.setStatus(t, sched.Stopping)
	exit := h.Stop(a.life)
	a.setStatus(t, sched.Deprovisioning)
	<-h.Done()
	if t.output != nil {
		t.output.Close()
	}
	a.finish(t, "", "", false, exit.String())
}

func (a *Agent) isKilled(t *task) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return t.killed
}

// die ends a task whose instance stopped: SIGKILL at once, then its target
// is dropped without a drain, as when a host fails under ECS: its
// in-flight requests fail with it.
func (a *Agent) die(t *task, h driver.Task, registered bool) {
	a.setStatus(t, sched.Stopping)
	dead, cancel := context.WithCancel(context.Background())
	cancel() // a cancelled context skips the stop timeout
	exit := h.Stop(dead)
	<-h.Done()
	if registered && t.targetGroup != "" {
		if err := a.cfg.Balancer.Deregister(dead, t.targetGroup, t.addr); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("deregister", "task", t.id, "target", t.addr, "err", err)
		}
	}
	a.setStatus(t, sched.Deprovisioning)
	if t.output != nil {
		t.output.Close()
	}
	a.finish(t, "", "", false, exit.String())
}

// finish marks the task STOPPED. A stop code and reason already recorded
// (by the scheduler's stop order) win over the ones given here.
func (a *Agent) finish(t *task, code, reason string, failed bool, exit string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.stopCode == "" {
		t.stopCode, t.stopReason = code, reason
	}
	t.failed = t.failed || failed
	t.status, t.stoppedAt, t.exit = sched.Stopped, a.clock.Now(), exit
	if t.failed {
		a.taskFailedLocked(t)
	}
	delete(a.byTarget, targetKey(t.targetGroup, t.addr))
	what := t.stopReason
	if exit != "" {
		what += " (" + exit + ")"
	}
	if tail := a.failureOutputLocked(t); tail != "" {
		// Alone on its line: the output is what differs between tasks.
		a.events.add(Event{Time: t.stoppedAt, Service: t.service, Task: t.id,
			Message: fmt.Sprintf("task %s stopped: %s. Its last output:%s", t.id, what, tail)})
	} else {
		a.events.addGrouped("stopped|"+t.service+"|"+what, Event{Time: t.stoppedAt, Service: t.service, Task: t.id}, t.id,
			func(ids []string) string {
				if len(ids) == 1 {
					return fmt.Sprintf("task %s stopped: %s.", ids[0], what)
				}
				return fmt.Sprintf("tasks %s stopped: %s.", strings.Join(ids, " "), what)
			})
	}
	a.poke()
}

// failureOutputLocked is the last lines a task wrote, as lines to add to
// its stop event, when it failed and its output was not streamed already.
func (a *Agent) failureOutputLocked(t *task) string {
	if !t.failed || t.output != nil || t.handle == nil {
		return ""
	}
	out, _ := t.handle.Logs(0)
	var b strings.Builder
	for _, line := range lastLines(out, failureOutputLines) {
		b.WriteString("\n    " + line)
	}
	return b.String()
}

// requestStopLocked asks a task to stop; the first reason given is kept.
func (a *Agent) requestStopLocked(t *task, reason string, failed bool) {
	if t == nil || t.stopRequested || t.status == sched.Stopped {
		return
	}
	t.stopRequested, t.failed = true, failed
	t.stopCode, t.stopReason = StopServiceSchedulerInitiated, reason
	close(t.stop)
	a.events.addGrouped("stopping|"+t.service+"|"+reason, Event{Time: a.clock.Now(), Service: t.service, Task: t.id}, "task "+t.id,
		func(tasks []string) string {
			return fmt.Sprintf("service %s has stopped %d running tasks: %s (%s).", t.service, len(tasks), strings.Join(tasks, " "), reason)
		})
}

// stopRequested reports whether the task was asked to stop, for example by a
// shutdown that came while it was starting.
func (a *Agent) stopRequested(t *task) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return t.stopRequested
}

func (a *Agent) setStatus(t *task, s sched.Status) {
	a.mu.Lock()
	t.status = s
	a.mu.Unlock()
}

// forgetOldLocked drops the oldest stopped tasks beyond KeepStopped.
func (a *Agent) forgetOldLocked() {
	var stopped []*task
	for _, t := range a.tasks {
		if t.status == sched.Stopped {
			stopped = append(stopped, t)
		}
	}
	if len(stopped) <= a.cfg.KeepStopped {
		return
	}
	sort.Slice(stopped, func(i, j int) bool { return stopped[i].stoppedAt.Before(stopped[j].stoppedAt) })
	for _, t := range stopped[:len(stopped)-a.cfg.KeepStopped] {
		delete(a.tasks, t.id)
	}
}

// spec is the driver's spec of this task: its definition's, with the
// task's id and instance address, and what shoal tells a task about itself
// on top of its definition's environment. The driver adds PORT and HOST.
func (t *task) spec() driver.TaskSpec {
	s := t.def.Task
	s.ID, s.Address, s.Namespace = t.id, t.instance.Address, t.instance.Namespace
	if t.output != nil {
		s.Output = t.output
	}
	s.Env = make(map[string]string, len(t.def.Task.Env)+3)
	maps.Copy(s.Env, t.def.Task.Env)
	s.Env["SHOAL_TASK_ID"] = t.id
	s.Env["SHOAL_SERVICE"] = t.service
	s.Env["SHOAL_INSTANCE"] = t.instance.Name
	maps.Copy(s.Env, t.env)
	if len(s.Containers) > 0 {
		s.Containers = containersWithEnv(s.Containers, s.Env)
	}
	return s
}

// containersWithEnv gives every container of a task the task's
// environment under its own, and HOST=0.0.0.0: in a container, the
// application listens on every address of its own network, which the
// engine publishes on the instance's address.
func containersWithEnv(cs []driver.ContainerSpec, env map[string]string) []driver.ContainerSpec {
	out := slices.Clone(cs)
	for i := range out {
		merged := maps.Clone(env)
		merged["HOST"] = "0.0.0.0"
		maps.Copy(merged, cs[i].Env)
		out[i].Env = merged
	}
	return out
}

func targetKey(group, addr string) string { return group + "|" + addr }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// hasHealthCheck reports whether the task or one of its containers has a
// container health check.
func hasHealthCheck(s driver.TaskSpec) bool {
	return s.HealthCheck != nil || slices.ContainsFunc(s.Containers, func(c driver.ContainerSpec) bool { return c.HealthCheck != nil })
}
