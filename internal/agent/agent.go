// Package agent is where shoal acts. It applies a stack, records it in the
// store, and runs the control loop: on every change (stack applied, task
// exited, target health changed, timer) it asks the scheduler for a plan and
// carries it out through a driver (start and stop tasks) and the load
// balancer (register, deregister and drain targets).
//
// The agent owns every goroutine it starts: one loop, and one per task that
// walks the task through its lifecycle. Shutdown stops them all.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/shoalhq/shoal/internal/clock"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/endpoint"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/secgroup"
	"github.com/shoalhq/shoal/internal/store"
	"github.com/shoalhq/shoal/internal/strategy"
)

// ErrNotFound is returned for a task id the agent does not know.
var ErrNotFound = errors.New("not found")

// ErrClosed is returned by Apply once the agent is shutting down.
var ErrClosed = errors.New("shoal is shutting down")

// Runner starts tasks: a driver. There is one per kind of task definition.
type Runner interface {
	Start(ctx context.Context, spec driver.TaskSpec) (driver.Task, error)
}

// Instances is the instance provider: it says where a cluster's instances
// are (package instance).
type Instances interface {
	Cluster(n int) ([]instance.Instance, error)
}

// Balancer is the part of the load balancer the agent drives.
type Balancer interface {
	// Prepare binds a configuration's new listeners without serving by it;
	// the agent commits the change once the stack is recorded, or aborts it.
	Prepare(ctx context.Context, cfg proxy.Config) (*proxy.Change, error)
	Register(group, target string) error
	Deregister(ctx context.Context, group, target string) error
	Targets() []proxy.TargetHealth
	// GroupMetrics are a target group's counters, for deployment alarms.
	GroupMetrics(group string) (proxy.GroupMetrics, bool)
	ListenerAddrs() []string
	// ListenerURLs are the same, as scheme://address/.
	ListenerURLs() []string
	// SetHealthFault fails every health check of a target while on;
	// SetResponseFault sets (nil: ends) a target group's response fault.
	// Both inject faults (InjectFault).
	SetHealthFault(group, target string, on bool) error
	SetResponseFault(group string, f *proxy.ResponseFault) error
}

// DesiredStore records the stack a user asked for.
type DesiredStore interface {
	SaveDesired(store.Desired) error
}

// EventStore records the service events; a DesiredStore that is one too
// gets them saved at most every eventSave and at shutdown.
type EventStore interface {
	SaveEvents(data []byte) error
}

// eventSave is how often new events are written to the store.
const eventSave = time.Second

// Config is what an Agent needs.
type Config struct {
	// Runners start tasks, by task definition kind (KindProcess).
	Runners   map[string]Runner
	Instances Instances
	Balancer  Balancer
	Store     DesiredStore
	Clock     clock.Clock  // nil: the real clock
	Logger    *slog.Logger // nil: discard
	// OnEvent, if set, is called with every event as it is recorded (the
	// CLI prints them as progress). It must not block.
	OnEvent func(Event)
	// BuildOutput receives the output of build commands. nil: discarded.
	BuildOutput io.Writer
	// TimeScale divides the bake and wait times of blue/green, canary and
	// linear deployments that UpdateService starts, and of those a stack
	// starts when it does not say (`shoal up --time-scale`). 0 or 1: as
	// configured.
	TimeScale float64
	// TaskOutput, if set, receives every task's output as it comes, each
	// line prefixed with the task's id; when it is nil, a failed task's
	// last lines go into its stop event instead.
	TaskOutput io.Writer
	// Dial connects to tasks: for the endpoints of services others depend
	// on, and to check that such a task takes connections. Default: a
	// plain TCP dial.
	Dial endpoint.DialFunc
	// EndpointHost is the address the endpoints of the services others
	// depend on listen on, which their tasks must reach. Default:
	// 127.0.0.1.
	EndpointHost string
	// BalancerAddrs are the addresses the load balancer (and the
	// endpoints) dial tasks from: the members of the load balancers'
	// security groups. Default: 127.0.0.1.
	BalancerAddrs []netip.Addr
	// HostAddr is the address this host's own processes connect to the
	// instances from, for `shoal sg explain`. Default: 127.0.0.1.
	HostAddr netip.Addr
	// Firewall, if set, enforces the instances' security groups (isolated
	// mode); nil: they are not enforced.
	Firewall Firewall
	// KeepStopped is how many stopped tasks are kept for `shoal ps -a`,
	// their logs and the restart back-off. Default: 100.
	KeepStopped int
}

// Agent applies stacks and keeps them running.
type Agent struct {
	cfg    Config
	clock  clock.Clock
	log    *slog.Logger
	events *eventLog

	// life is cancelled when a shutdown runs out of time: every drain and
	// stop still under way then ends at once.
	life       context.Context
	cancelLife context.CancelFunc
	wake       chan struct{}
	wg         sync.WaitGroup // task goroutines

	// fwMu serialises syncFirewall and guards fwApplied, the rules the
	// firewall took last.
	fwMu      sync.Mutex
	fwApplied map[string][]secgroup.Admission

	// faultMu serialises fault injection and guards faults, the active
	// ones. It is taken before applyMu and mu, never after.
	faultMu sync.Mutex
	faults  fault.Table

	applyMu sync.Mutex // serialises Apply; guards recorded and previous
	// recorded is the stack record last saved, previous the one before.
	recorded, previous *store.Desired

	mu        sync.Mutex
	stack     *Stack
	instances []instance.Instance
	tasks     map[string]*task              // every task not yet forgotten, by id
	byTarget  map[string]*task              // running tasks by targetKey(group, addr)
	steady    map[string]bool               // services whose steady state was announced
	backoff   map[string]announcedBackoff   // services whose back-off was announced
	waiting   map[string]string             // services announced waiting, and for what
	endpoints map[string]*endpoint.Endpoint // of the services others depend on
	images    map[ImageBuild]string         // the image last built from each build
	closing   bool
	// state is the revisions, desired counts, deployments and instance
	// statuses; applying is set while an Apply records a new one, when
	// the loop leaves the state alone.
	state    *state
	applying bool
	// base is the load balancer's configuration: the stack's, with the
	// changes made through the API over it; served is base with the
	// weights of the blue/green, canary and linear deployments, as the
	// balancer serves it. routesDirty is set when those weights changed
	// and the balancer has yet to take them.
	base, served proxy.Config
	routesDirty  bool
	hooks        map[string]*hookRun    // by service: its current lifecycle hooks run
	alarmWatch   map[string]*alarmWatch // by service: its green target group's metrics
	unplaced     map[string]string      // services announced unplaceable, and why
	scaler       *scaler                // the loop's autoscaling memory
}

// New returns an agent. Call Apply to give it a stack and Run to start it.
func New(cfg Config) *Agent {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BuildOutput == nil {
		cfg.BuildOutput = io.Discard
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{}).DialContext
	}
	if cfg.KeepStopped <= 0 {
		cfg.KeepStopped = 100
	}
	life, cancel := context.WithCancel(context.Background())
	return &Agent{
		cfg: cfg, clock: cfg.Clock, log: cfg.Logger,
		events: newEventLog(1000, cfg.OnEvent),
		life:   life, cancelLife: cancel,
		wake:  make(chan struct{}, 1),
		tasks: make(map[string]*task), byTarget: make(map[string]*task),
		steady: make(map[string]bool), backoff: make(map[string]announcedBackoff),
		waiting: make(map[string]string), endpoints: make(map[string]*endpoint.Endpoint),
		state: newState(), unplaced: make(map[string]string), scaler: newScaler(),
		hooks: make(map[string]*hookRun), alarmWatch: make(map[string]*alarmWatch),
	}
}

// Restore takes the state a previous shoal recorded (Desired.State), before
// the first Apply: task definition revisions, desired counts set by `shoal
// scale` or autoscaling, deployments (one in progress resumes), instance
// statuses.
func (a *Agent) Restore(raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	st := newState()
	if err := json.Unmarshal(raw, st); err != nil {
		return fmt.Errorf("recorded state: %w", err)
	}
	for name, ss := range st.Services {
		if ss == nil || len(ss.Deployments) == 0 {
			delete(st.Services, name)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = st
	return nil
}

// Apply makes s the desired state, all or nothing, one Apply at a time:
//
//  1. validate: every task definition has a runner, the cluster's
//     instances exist;
//  2. build: the load balancer binds the new listeners (so a busy port
//     fails before anything slow), then the task definitions' build
//     commands run, then the runners check that the tasks can start;
//  3. persist: the stack is recorded in the store;
//  4. swap: the load balancer serves the new configuration and the loop
//     reconciles toward the new stack.
//
// A failure at any step leaves the running stack exactly as it was: the
// listeners just bound are closed and the record is not changed.
func (a *Agent) Apply(ctx context.Context, s *Stack) error {
	_, err := a.Deploy(ctx, s)
	return err
}

// Deploy is Apply, and returns the deployments it started: one for each
// service whose task definition's content or target group changed.
func (a *Agent) Deploy(ctx context.Context, s *Stack) ([]Started, error) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	instances, err := a.validate(s)
	if err != nil {
		return nil, err
	}
	if s.LoadBalancer.SecurityGroups, err = a.securitySet(s, instances); err != nil {
		return nil, err
	}
	a.mu.Lock()
	base, overrides := a.state.LoadBalancer.over(s.LoadBalancer)
	next, started, err := a.nextStateLocked(s, overrides, a.clock.Now())
	var served proxy.Config
	if err == nil {
		served = deploymentRoutes(s.Services, next, base)
	}
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	change, err := a.cfg.Balancer.Prepare(ctx, served)
	if err != nil {
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	endpoints, err := a.prepareEndpoints(s)
	if err != nil {
		change.Abort()
		return nil, err
	}
	abort := func() {
		change.Abort()
		closeEndpoints(endpoints)
	}
	if err := a.build(ctx, s); err != nil {
		abort()
		return nil, err
	}
	if err := a.check(s); err != nil {
		abort()
		return nil, err
	}
	if err := a.persistNext(s, next); err != nil {
		abort()
		return nil, err
	}
	if err := change.Commit(); err != nil {
		closeEndpoints(endpoints)
		a.restoreRecord()
		a.setApplying(false)
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	a.mu.Lock()
	a.stack, a.instances, a.state, a.applying = s, instances, next, false
	a.base, a.served = base, served
	dropped := a.commitEndpointsLocked(s, endpoints)
	a.announceStartedLocked(started)
	a.mu.Unlock()
	closeEndpoints(dropped)
	a.syncFirewall(ctx) // at once: a change of rules must not wait for the loop
	a.poke()
	return started, nil
}

// persistNext records s with the state it leads to. From then until the
// swap (or its failure) the loop leaves the state alone.
func (a *Agent) persistNext(s *Stack, next *state) error {
	a.mu.Lock()
	a.applying = true
	a.mu.Unlock()
	if err := a.persist(s, next); err != nil {
		a.setApplying(false)
		return err
	}
	return nil
}

func (a *Agent) setApplying(on bool) {
	a.mu.Lock()
	a.applying = on
	a.mu.Unlock()
	a.poke()
}

// validate checks what the agent needs of s that only the agent knows: a
// runner for every kind of task definition, and the instances. It returns
// the instances.
func (a *Agent) validate(s *Stack) ([]instance.Instance, error) {
	a.mu.Lock()
	closing := a.closing
	a.mu.Unlock()
	if closing {
		return nil, ErrClosed
	}
	for _, name := range sortedKeys(s.TaskDefinitions) {
		if kind := s.TaskDefinitions[name].Kind; a.cfg.Runners[kind] == nil {
			return nil, fmt.Errorf("task definition %s: no runner for %q task definitions", name, kind)
		}
	}
	for _, name := range sortedKeys(s.Services) {
		svc := s.Services[name]
		if _, ok := s.TaskDefinitions[svc.TaskDefinition]; !ok {
			return nil, fmt.Errorf("service %s: no task definition named %q", name, svc.TaskDefinition)
		}
		if _, ok := s.LoadBalancer.TargetGroups[svc.TargetGroup]; svc.TargetGroup != "" && !ok {
			return nil, fmt.Errorf("service %s: no target group named %q", name, svc.TargetGroup)
		}
		if as := svc.Autoscaling; as != nil {
			if err := scalingConfig(as).Validate(); err != nil {
				return nil, fmt.Errorf("service %s: autoscaling: %w", name, err)
			}
		}
	}
	instances, err := a.cfg.Instances.Cluster(s.Instances)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return instances, nil
}

// Checker is a Runner that can tell before any start whether a task
// definition's tasks can start at all (a missing program), so that such a
// stack is refused with the reason instead of its tasks failing forever.
type Checker interface {
	Check(spec driver.TaskSpec) error
}

// check asks the runners to check every task definition, once built.
func (a *Agent) check(s *Stack) error {
	for _, name := range sortedKeys(s.TaskDefinitions) {
		td := s.TaskDefinitions[name]
		if c, ok := a.cfg.Runners[td.Kind].(Checker); ok {
			spec := td.Task
			if td.Image != nil {
				spec.Containers = withImage(spec.Containers, a.builtImage(*td.Image))
			}
			if err := c.Check(spec); err != nil {
				return fmt.Errorf("task definition %s: %w", name, err)
			}
		}
	}
	return nil
}

// persist records s in the store, with the state it leads to.
func (a *Agent) persist(s *Stack, st *state) error {
	if a.cfg.Store == nil {
		return nil
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("record desired state: %w", err)
	}
	return a.persistRaw(s, raw)
}

// persistRaw records s with an encoded state.
func (a *Agent) persistRaw(s *Stack, raw json.RawMessage) error {
	if a.cfg.Store == nil {
		return nil
	}
	d := store.Desired{File: s.File, Source: s.Source, AppliedAt: a.clock.Now(), State: raw}
	if err := a.cfg.Store.SaveDesired(d); err != nil {
		return fmt.Errorf("record desired state: %w", err)
	}
	a.previous, a.recorded = a.recorded, &d
	return nil
}

// saveLocked records the running stack's state after the loop, `shoal
// scale` or an instance command changed it. A failure is logged: the
// running state is right, and the next save records it.
func (a *Agent) saveLocked() {
	if a.cfg.Store == nil || a.recorded == nil {
		return
	}
	raw, err := json.Marshal(a.state)
	if err != nil {
		a.log.Warn("record state", "err", err)
		return
	}
	d := *a.recorded
	d.State = raw
	if err := a.cfg.Store.SaveDesired(d); err != nil {
		a.log.Warn("record state", "err", err)
		return
	}
	a.recorded = &d
}

// restoreRecord puts back the record of the running stack after a stack
// was recorded but could not be swapped in (the load balancer closed under
// it, as shoal shuts down).
func (a *Agent) restoreRecord() {
	if a.previous == nil {
		return
	}
	if err := a.cfg.Store.SaveDesired(*a.previous); err != nil {
		a.log.Warn("restore the record of the running stack", "err", err)
		return
	}
	a.recorded = a.previous
}

// Run runs the control loop until ctx is done. Tasks keep running after
// Run returns; Shutdown stops them.
func (a *Agent) Run(ctx context.Context) {
	timer := a.clock.NewTimer(time.Hour)
	timer.Stop() // armed only when a plan asks to be woken
	defer timer.Stop()
	sample := a.clock.NewTimer(time.Hour)
	sample.Stop() // armed while a service autoscales
	defer sample.Stop()
	sampling := false
	// Events are saved every eventSave, when the store keeps them.
	save := a.clock.NewTimer(eventSave)
	defer save.Stop()
	if _, ok := a.cfg.Store.(EventStore); !ok {
		save.Stop()
	}
	for {
		wake := earliest(a.reconcile(), a.expireFaults())
		a.applyRoutes(ctx)
		a.syncFirewall(ctx)
		if !wake.IsZero() {
			timer.Reset(max(wake.Sub(a.clock.Now()), 0))
		} else {
			timer.Stop()
		}
		if every := a.sampleEvery(); every > 0 && !sampling {
			sample.Reset(every)
			sampling = true
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-timer.C():
		case <-sample.C():
			sampling = false
			a.autoscale()
		case <-save.C():
			a.saveEvents()
			save.Reset(eventSave)
		}
	}
}

// poke asks the loop to reconcile again soon.
func (a *Agent) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// reconcile runs the scheduler once and carries out its plan. It returns
// when the scheduler wants to be asked again.
func (a *Agent) reconcile() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil || a.closing || a.applying {
		return time.Time{} // Apply pokes the loop once it is done
	}
	now := a.clock.Now()
	plan := sched.Reconcile(a.desiredLocked(), a.observedLocked(), now)
	for _, o := range plan.Stop {
		a.requestStopLocked(a.tasks[o.TaskID], o.Reason, o.Failed)
	}
	a.startLocked(plan.Start)
	changed := a.rolloutsLocked(plan.Rollouts)
	wake, advanced := a.advanceStrategiesLocked(now)
	if advanced {
		changed = true
		a.poke() // a new stage may change the plan: keep blue, start green
	}
	plan.Wake = earliest(plan.Wake, wake)
	a.announceSteadyLocked(plan.Steady)
	a.announceBackoffLocked(plan.BackingOff)
	a.announceWaitingLocked(plan.Waiting)
	a.announceUnplacedLocked(plan.Unplaced)
	if a.retireDeploymentsLocked() || changed {
		a.saveLocked()
		if len(plan.Rollouts) > 0 {
			a.poke() // a rollback has a new PRIMARY to reconcile toward
		}
	}
	a.forgetOldLocked()
	return plan.Wake
}

// Shutdown stops every task the proper way (deregister, drain, SIGTERM,
// stop timeout, SIGKILL) and returns when all are stopped. When ctx is done
// first, drains and stop timeouts are cut short: tasks are killed at once.
// Call it after Run has returned.
func (a *Agent) Shutdown(ctx context.Context) {
	a.mu.Lock()
	a.closing = true
	for _, t := range a.tasks {
		a.requestStopLocked(t, "shoal is shutting down", false)
	}
	a.mu.Unlock()
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		a.cancelLife()
		<-done
	}
	a.cancelLife()
	a.mu.Lock()
	endpoints := a.endpoints
	a.endpoints = map[string]*endpoint.Endpoint{}
	a.mu.Unlock()
	closeEndpoints(endpoints) // not under a.mu: their connections ask the agent for tasks
	a.events.close()
	a.saveEvents()
}

// saveEvents writes the events to the store when new ones came.
func (a *Agent) saveEvents() {
	es, ok := a.cfg.Store.(EventStore)
	if !ok {
		return
	}
	events, changed := a.events.snapshot()
	if !changed {
		return
	}
	data, err := json.Marshal(events)
	if err == nil {
		err = es.SaveEvents(data)
	}
	if err != nil {
		a.log.Warn("record events", "err", err)
	}
}

// RestoreEvents puts back the events a previous shoal recorded
// (EventStore), so that `shoal events` tells what happened before the
// restart too.
func (a *Agent) RestoreEvents(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var events []Event
	if err := json.Unmarshal(data, &events); err != nil {
		return fmt.Errorf("recorded events: %w", err)
	}
	a.events.restore(events)
	return nil
}

func (a *Agent) desiredLocked() sched.Desired {
	d := sched.Desired{}
	for _, in := range a.instances {
		d.Instances = append(d.Instances, sched.Instance{
			Name: in.Name, Status: a.instanceStatusLocked(in.Name),
			CPU: a.stack.InstanceCPU, Memory: a.stack.InstanceMemory,
		})
	}
	for _, name := range sortedKeys(a.stack.Services) {
		svc := a.stack.Services[name]
		ss := a.state.Services[name]
		dep := ss.primary()
		def, _ := a.state.definition(dep.TaskDefinition)
		cfg := a.deploymentConfigLocked(name)
		keep, hold, blue := false, false, ""
		if dep.active() {
			keep, hold = dep.Strategy.Stage != strategy.CleanUp, dep.Strategy.Stage == strategy.PreScaleUp
			if len(ss.Deployments) > 1 {
				blue = ss.Deployments[1].ID
			}
		}
		d.Services = append(d.Services, sched.Service{
			KeepOutgoing: keep, HoldStart: hold, Blue: blue,
			Name: name, Desired: ss.Desired, Daemon: svc.Daemon,
			Deployment: dep.ID, Rollout: dep.Rollout, FailedTasks: dep.FailedTasks,
			CircuitBreaker:    cfg.CircuitBreaker && dep.RollbackOf == "",
			MinHealthyPercent: cfg.MinHealthyPercent, MaxPercent: cfg.MaxPercent,
			TargetGroup: dep.TargetGroup, ContainerHealthCheck: def.Task.HealthCheck != nil,
			GracePeriod: svc.GracePeriod, DependsOn: svc.DependsOn,
			Need:       sched.Reserved{CPU: def.CPU, Memory: def.Memory},
			Strategies: svc.Strategies, Distinct: svc.Distinct,
		})
	}
	return d
}

// instanceStatusLocked is an instance's status: ACTIVE unless `shoal
// instance` drained or stopped it.
func (a *Agent) instanceStatusLocked(name string) sched.InstanceStatus {
	if s, ok := a.state.Instances[name]; ok {
		return s
	}
	return sched.InstanceActive
}

// announceUnplacedLocked says once, per reason, why a service cannot
// place a task.
func (a *Agent) announceUnplacedLocked(unplaced []sched.Unplaced) {
	now := map[string]string{}
	for _, u := range unplaced {
		now[u.Service] = u.Reason
		if a.unplaced[u.Service] != u.Reason {
			a.events.add(Event{Time: a.clock.Now(), Service: u.Service, Message: u.Reason})
		}
	}
	a.unplaced = now
}

func (a *Agent) observedLocked() sched.Observed {
	o := sched.Observed{Tasks: make([]sched.Task, 0, len(a.tasks))}
	for _, t := range a.tasks {
		o.Tasks = append(o.Tasks, t.observed())
	}
	return o
}

// announceBackoffLocked says once per failure count that a service waits
// before its next start, rather than letting the same start-and-fail
// events repeat without a word on why nothing happens in between.
func (a *Agent) announceBackoffLocked(backoffs []sched.BackingOff) {
	now := a.clock.Now()
	for _, b := range backoffs {
		if a.backoff[b.Service].failures == b.Failures {
			continue
		}
		a.backoff[b.Service] = announcedBackoff{b.Failures, now}
		a.events.add(Event{Time: now, Service: b.Service, Message: fmt.Sprintf(
			"service %s is backing off: %d tasks failed in a row; the next starts in %s (at %s), and the wait doubles after each failure, up to 1m.",
			b.Service, b.Failures, roundDuration(b.Until.Sub(now)), b.Until.Format(time.TimeOnly))})
	}
	for svc, b := range a.backoff {
		if a.healthySinceLocked(svc, b.at) {
			delete(a.backoff, svc) // the streak is over
		}
	}
}

// announcedBackoff is a back-off said, at that many failures.
type announcedBackoff struct {
	failures int
	at       time.Time
}

// healthySinceLocked reports whether a task of svc first served healthy
// after t.
func (a *Agent) healthySinceLocked(svc string, t time.Time) bool {
	for _, task := range a.tasks {
		if task.service == svc && task.healthyAt.After(t) {
			return true
		}
	}
	return false
}

func (a *Agent) announceSteadyLocked(steady []string) {
	now := make(map[string]bool, len(steady))
	for _, name := range steady {
		now[name] = true
		if !a.steady[name] {
			a.events.add(Event{Time: a.clock.Now(), Service: name, Message: "service " + name + " has reached a steady state."})
		}
	}
	a.steady = now
}
