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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/shoalhq/shoal/internal/clock"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/spec"
	"github.com/shoalhq/shoal/internal/store"
)

// ErrNotFound is returned for a task id the agent does not know.
var ErrNotFound = errors.New("not found")

// Runner starts tasks: a driver.
type Runner interface {
	Start(ctx context.Context, spec driver.TaskSpec) (driver.Task, error)
}

// Balancer is the part of the load balancer the agent drives.
type Balancer interface {
	Apply(ctx context.Context, cfg proxy.Config) error
	Register(group, target string) error
	Deregister(ctx context.Context, group, target string) error
	Targets() []proxy.TargetHealth
	ListenerAddrs() []string
}

// DesiredStore records the stack a user asked for.
type DesiredStore interface {
	SaveDesired(store.Desired) error
}

// Config is what an Agent needs.
type Config struct {
	Runner   Runner
	Balancer Balancer
	Store    DesiredStore
	Clock    clock.Clock  // nil: the real clock
	Logger   *slog.Logger // nil: discard
	// OnEvent, if set, is called with every event as it is recorded (the
	// CLI prints them as progress). It must not block.
	OnEvent func(Event)
	// BuildOutput receives the output of build commands. nil: discarded.
	BuildOutput io.Writer
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

	mu        sync.Mutex
	stack     *spec.Stack
	instances []instance
	tasks     map[string]*task // every task not yet forgotten, by id
	byTarget  map[string]*task // running tasks by targetKey(group, addr)
	steady    map[string]bool  // services whose steady state was announced
	closing   bool
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
		steady: make(map[string]bool),
	}
}

// Apply makes s the desired state: it runs the task definitions' build
// commands, configures the load balancer, records the stack in the store and
// wakes the loop. If any step fails before the stack is recorded, the
// running stack is left as it was.
func (a *Agent) Apply(ctx context.Context, s *spec.Stack, source []byte) error {
	if err := a.build(ctx, s); err != nil {
		return err
	}
	if err := a.cfg.Balancer.Apply(ctx, proxy.ConfigFromStack(s)); err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	if a.cfg.Store != nil {
		d := store.Desired{File: absFile(s), Source: source, AppliedAt: a.clock.Now()}
		if err := a.cfg.Store.SaveDesired(d); err != nil {
			return fmt.Errorf("record desired state: %w", err)
		}
	}
	a.mu.Lock()
	a.stack = s
	a.instances = clusterInstances(s.Cluster.Instances)
	a.mu.Unlock()
	a.poke()
	return nil
}

// absFile is the stack file's absolute path, so that the record still
// points at it from any folder.
func absFile(s *spec.Stack) string {
	if s.File == "" {
		return ""
	}
	return filepath.Join(s.Dir, filepath.Base(s.File))
}

// Run runs the control loop until ctx is done. Tasks keep running after
// Run returns; Shutdown stops them.
func (a *Agent) Run(ctx context.Context) {
	timer := a.clock.NewTimer(time.Hour)
	timer.Stop() // armed only when a plan asks to be woken
	defer timer.Stop()
	for {
		if wake := a.reconcile(); !wake.IsZero() {
			timer.Reset(max(wake.Sub(a.clock.Now()), 0))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-timer.C():
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
	if a.stack == nil || a.closing {
		return time.Time{}
	}
	now := a.clock.Now()
	plan := sched.Reconcile(a.desiredLocked(), a.observedLocked(), now)
	for _, o := range plan.Stop {
		a.requestStopLocked(a.tasks[o.TaskID], o.Reason, o.Failed)
	}
	a.startLocked(plan.Start)
	a.announceSteadyLocked(plan.Steady)
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
}

func (a *Agent) desiredLocked() sched.Desired {
	d := sched.Desired{}
	for _, in := range a.instances {
		d.Instances = append(d.Instances, in.Name)
	}
	for _, name := range sortedKeys(a.stack.Services) {
		svc := a.stack.Services[name]
		d.Services = append(d.Services, sched.Service{
			Name: name, Desired: svc.Desired, TargetGroup: svc.TargetGroup,
			GracePeriod: svc.HealthCheckGracePeriod.D(),
		})
	}
	return d
}

func (a *Agent) observedLocked() sched.Observed {
	o := sched.Observed{Tasks: make([]sched.Task, 0, len(a.tasks))}
	for _, t := range a.tasks {
		o.Tasks = append(o.Tasks, t.observed())
	}
	return o
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
