package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/store"
)

// testStack is a stack of one service, web, with desired tasks of the
// task definition app on two instances, registered in the target group app.
func testStack(desired int) *Stack {
	return &Stack{
		Name: "test", File: "/stacks/shoal.yaml", Source: []byte("source"), Instances: 2,
		LoadBalancer: proxy.Config{
			Listeners:    []proxy.ListenerConfig{{Name: "web/0", Address: "127.0.0.1:0", TargetGroup: "app", IdleTimeout: time.Minute}},
			TargetGroups: map[string]proxy.TargetGroupConfig{"app": testGroup()},
		},
		TaskDefinitions: map[string]TaskDefinition{
			"app": {Kind: KindProcess, Task: driver.TaskSpec{Command: []string{"app"}, StopTimeout: 30 * time.Second}},
		},
		Services: map[string]Service{"web": {TaskDefinition: "app", Desired: desired, TargetGroup: "app"}},
	}
}

// testGroup is a target group with the AWS defaults.
func testGroup() proxy.TargetGroupConfig {
	return proxy.TargetGroupConfig{
		HealthCheck: proxy.HealthCheckConfig{
			Path: "/", Interval: 30 * time.Second, Timeout: 5 * time.Second,
			HealthyThreshold: 5, UnhealthyThreshold: 2, Success: proxy.Matcher{{Lo: 200, Hi: 200}},
		},
		DeregistrationDelay: 300 * time.Second,
	}
}

// recorder keeps the order of effects the agent caused.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// fakeTask is a driver.Task whose exit the test controls. Nothing listens
// at its address unless the test does.
type fakeTask struct {
	addr     string
	env      map[string]string // what it was started with
	onHealth func(driver.ContainerHealth)
	rec      *recorder
	exitOnce sync.Once
	done     chan struct{}
	exit     driver.Exit
}

func (f *fakeTask) Addr() string          { return f.addr }
func (f *fakeTask) Pid() int              { return 0 }
func (f *fakeTask) Done() <-chan struct{} { return f.done }
func (f *fakeTask) Exit() driver.Exit     { <-f.done; return f.exit }
func (f *fakeTask) Logs(from int64) ([]byte, int64) {
	return []byte("hello\n"), 6
}
func (f *fakeTask) Health() (driver.ContainerHealth, string) { return driver.HealthUnknown, "" }
func (f *fakeTask) CPUTime() (time.Duration, error)          { return 0, nil }
func (f *fakeTask) die(e driver.Exit) {
	f.exitOnce.Do(func() { f.exit = e; close(f.done) })
}
func (f *fakeTask) Kill() error {
	f.rec.add("SIGKILL %s", f.addr)
	f.die(driver.Exit{Code: -1, Signal: "SIGKILL"})
	return nil
}
func (f *fakeTask) Pause() error  { f.rec.add("SIGSTOP %s", f.addr); return nil }
func (f *fakeTask) Resume() error { f.rec.add("SIGCONT %s", f.addr); return nil }
func (f *fakeTask) Stop(ctx context.Context) driver.Exit {
	f.rec.add("SIGTERM %s", f.addr)
	f.die(driver.Exit{Code: 0})
	return f.exit
}

// fakeRunner starts fakeTasks, or fails when startErr is set; its Check
// fails with checkErr.
type fakeRunner struct {
	rec      *recorder
	mu       sync.Mutex
	n        int
	tasks    []*fakeTask
	startErr error
	checkErr error
}

func (r *fakeRunner) Check(driver.TaskSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkErr
}

func (r *fakeRunner) Start(ctx context.Context, s driver.TaskSpec) (driver.Task, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.startErr != nil {
		r.rec.add("start failed")
		return nil, r.startErr
	}
	r.n++
	t := &fakeTask{addr: fmt.Sprintf("%s:%d", s.Address, 40000+r.n), rec: r.rec, done: make(chan struct{}), env: s.Env, onHealth: s.OnHealth}
	if s.Output != nil {
		fmt.Fprintf(s.Output, "listening on %s\n", t.addr)
	}
	r.tasks = append(r.tasks, t)
	r.rec.add("start %s", t.addr)
	return t, nil
}

func (r *fakeRunner) started() []*fakeTask {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*fakeTask(nil), r.tasks...)
}

// fakeBalancer is a real load balancer (its listeners are bound, its
// configuration prepared and committed for real) whose registrations are
// only recorded; Deregister waits for drain to be released when the test
// holds it.
type fakeBalancer struct {
	*proxy.Balancer
	rec   *recorder
	drain chan struct{} // nil: drains end at once

	mu         sync.Mutex
	registered map[string]bool // by targetKey
}

func (b *fakeBalancer) Register(group, target string) error {
	b.rec.add("register %s in %s", target, group)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.registered == nil {
		b.registered = map[string]bool{}
	}
	b.registered[targetKey(group, target)] = true
	return nil
}

// SetHealthFault records the fault on a target Register recorded.
func (b *fakeBalancer) SetHealthFault(group, target string, on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.registered[targetKey(group, target)] {
		return fmt.Errorf("%w %s", proxy.ErrUnknownTarget, target)
	}
	b.rec.add("health fault %s %v", target, on)
	return nil
}
func (b *fakeBalancer) Deregister(ctx context.Context, group, target string) error {
	b.rec.add("deregister %s", target)
	b.mu.Lock()
	delete(b.registered, targetKey(group, target))
	b.mu.Unlock()
	if b.drain != nil {
		select {
		case <-b.drain:
		case <-ctx.Done():
		}
	}
	b.rec.add("drained %s", target)
	return nil
}

// fakeStore keeps what it is given, or fails with err.
type fakeStore struct {
	mu    sync.Mutex
	saved []store.Desired
	err   error
}

func (s *fakeStore) SaveDesired(d store.Desired) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.saved = append(s.saved, d)
	return nil
}

func (s *fakeStore) records() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.saved)
}

type harness struct {
	agent  *Agent
	runner *fakeRunner
	lb     *fakeBalancer
	rec    *recorder
	clock  *clocktest.Fake
	store  *fakeStore
	build  testkit.Buffer
	stop   func()
}

func newHarness(t *testing.T, options ...func(*Config)) *harness {
	t.Helper()
	rec := &recorder{}
	h := &harness{rec: rec, runner: &fakeRunner{rec: rec}, lb: &fakeBalancer{Balancer: proxy.New(proxy.Options{}), rec: rec},
		clock: clocktest.NewFake(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)), store: &fakeStore{}}
	t.Cleanup(func() { h.lb.Close(context.Background()) })
	cfg := Config{
		Runners:   map[string]Runner{KindProcess: h.runner},
		Instances: instance.NewLoopback(nil),
		Balancer:  h.lb, Store: h.store, Clock: h.clock, BuildOutput: &h.build,
	}
	for _, o := range options {
		o(&cfg)
	}
	h.agent = New(cfg)
	return h
}

// run applies the stack and starts the loop; cleanup stops everything.
func (h *harness) run(t *testing.T, s *Stack) {
	t.Helper()
	if err := h.agent.Apply(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.agent.Run(ctx)
	}()
	h.stop = func() {
		cancel()
		<-done
		h.agent.Shutdown(context.Background())
	}
	t.Cleanup(func() { h.stop() })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, what, cond)
}

func (h *harness) running(n int) func() bool {
	return func() bool {
		c := 0
		for _, ts := range h.agent.Tasks(false) {
			if ts.LastStatus == "RUNNING" {
				c++
			}
		}
		return c == n
	}
}

func (h *harness) healthy(target string) {
	h.agent.HealthChanged(proxy.HealthChange{Group: "app", Target: target, From: proxy.StateInitial, To: proxy.StateHealthy, At: h.clock.Now()})
}

func TestAgent_StopDeregistersAndDrainsBeforeSIGTERM(t *testing.T) {
	h := newHarness(t)
	h.lb.drain = make(chan struct{})
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	addr := h.runner.started()[0].addr

	stopped := make(chan struct{})
	stop := h.stop
	h.stop = func() { <-stopped }
	go func() {
		stop()
		close(stopped)
	}()
	waitFor(t, "deregistration", func() bool { return contains(h.rec.list(), "deregister "+addr) })
	if contains(h.rec.list(), "SIGTERM "+addr) {
		t.Fatal("SIGTERM sent while the target was still draining")
	}
	close(h.lb.drain)
	<-stopped
	want := []string{"start " + addr, "register " + addr + " in app", "deregister " + addr, "drained " + addr, "SIGTERM " + addr}
	if diff := cmp.Diff(want, h.rec.list()); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
}

func TestAgent_ReplacesTaskThatExits(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(2))
	waitFor(t, "2 running tasks", h.running(2))
	victim := h.runner.started()[0]
	victim.die(driver.Exit{Code: -1, Signal: "SIGKILL"})
	var stopped []TaskStatus
	waitFor(t, "a third task running and the dead one STOPPED", func() bool {
		stopped = nil
		for _, ts := range h.agent.Tasks(true) {
			if ts.LastStatus == "STOPPED" {
				stopped = append(stopped, ts)
			}
		}
		return len(h.runner.started()) == 3 && h.running(2)() && len(stopped) == 1
	})
	if len(stopped) != 1 || stopped[0].Address != victim.addr || stopped[0].StopCode != StopEssentialContainerExited ||
		stopped[0].StoppedReason != "Essential container in task exited" || stopped[0].Exit != "killed by SIGKILL" {
		t.Errorf("stopped tasks: %+v", stopped)
	}
	if !contains(h.rec.list(), "deregister "+victim.addr) {
		t.Error("the dead task's target was not deregistered")
	}
}

func TestAgent_ReplacesUnhealthyTask(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	first := h.runner.started()[0]
	h.healthy(first.addr)
	h.agent.HealthChanged(proxy.HealthChange{Group: "app", Target: first.addr, From: proxy.StateHealthy, To: proxy.StateUnhealthy,
		Reason: "Target.ResponseCodeMismatch", At: h.clock.Now()})
	waitFor(t, "the unhealthy task stopped and replaced", func() bool {
		return contains(h.rec.list(), "SIGTERM "+first.addr) && len(h.runner.started()) == 2 && h.running(1)()
	})
	for _, ts := range h.agent.Tasks(true) {
		if ts.Address == first.addr && !strings.HasPrefix(ts.StoppedReason, "Task failed ELB health checks") {
			t.Errorf("stopped reason: got %q, want it to start with %q", ts.StoppedReason, "Task failed ELB health checks")
		}
	}
}

func TestAgent_FailingStartsBackOff(t *testing.T) {
	h := newHarness(t)
	h.runner.startErr = errors.New(`start "app": no such file or directory`)
	h.run(t, testStack(1))
	// The first failure is retried at once, the second waits 1s of the
	// (fake) clock.
	waitFor(t, "two failed starts", func() bool { return count(h.rec.list(), "start failed") == 2 })
	waitFor(t, "the back-off timer armed", func() bool { return h.clock.Timers() > 0 })
	if n := count(h.rec.list(), "start failed"); n != 2 {
		t.Fatalf("starts before the back-off ended: got %d, want 2", n)
	}
	h.clock.Advance(time.Second)
	waitFor(t, "a third start after 1s", func() bool { return count(h.rec.list(), "start failed") == 3 })
	for _, ts := range h.agent.Tasks(true) {
		if ts.StopCode != StopTaskFailedToStart || !strings.Contains(ts.StoppedReason, "no such file") {
			t.Errorf("task %s: stop code %q, reason %q", ts.ID, ts.StopCode, ts.StoppedReason)
		}
	}
}

func TestAgent_SteadyStateIsAnnouncedOnce(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(2))
	waitFor(t, "2 running tasks", h.running(2))
	for _, task := range h.runner.started() {
		h.healthy(task.addr)
	}
	steady := func() int {
		n := 0
		for _, e := range h.agent.Events(0) {
			if e.Message == "service web has reached a steady state." {
				n++
			}
		}
		return n
	}
	waitFor(t, "steady state", func() bool { return steady() == 1 })
	// Every later pass of the loop finds the service steady again: none
	// may announce it a second time.
	for range 3 {
		h.agent.reconcile()
	}
	if n := steady(); n != 1 {
		t.Errorf("steady state announced %d times, want 1", n)
	}
	if !h.agent.Status().Services[0].SteadyState {
		t.Errorf("status: the service is not steady")
	}
	placed := map[string]int{}
	for _, ts := range h.agent.Tasks(false) {
		placed[ts.Instance]++
	}
	if diff := cmp.Diff(map[string]int{"instance-1": 1, "instance-2": 1}, placed); diff != "" {
		t.Errorf("placement (-want +got):\n%s", diff)
	}
}

func contains(xs []string, x string) bool { return count(xs, x) > 0 }

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

func TestAgent_StoppingSaysWhatAShutdownWaitsFor(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(2))
	waitFor(t, "2 running tasks", h.running(2))
	want := Stopping{Targets: 2, Drain: 300 * time.Second, Tasks: 2, Timeout: 30 * time.Second}
	if got := h.agent.Stopping(); got != want {
		t.Errorf("Stopping: got %+v, want %+v", got, want)
	}
}
