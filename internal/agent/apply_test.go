package agent

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/proxy"
)

// freeAddr is a loopback address:port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// withListener adds listener web/1 on addr to s.
func withListener(s *Stack, addr string) *Stack {
	s.LoadBalancer.Listeners = append(s.LoadBalancer.Listeners,
		proxy.ListenerConfig{Name: "web/1", Address: addr, TargetGroup: "app", IdleTimeout: time.Minute})
	return s
}

// TestAgent_FailedApplyChangesNothing fails an Apply at each of its steps
// and checks that the running stack is exactly as it was: the agent's
// stack, the load balancer's listeners, the store's record, and the port
// the failed stack's new listener had bound.
func TestAgent_FailedApplyChangesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name    string
		breakIt func(h *harness, s *Stack) // makes the Apply of s fail
		want    string                     // in the error
	}{
		{"validate: no runner for the kind", func(h *harness, s *Stack) {
			s.TaskDefinitions["app"] = TaskDefinition{Kind: "docker"}
		}, `no runner for "docker"`},
		{"validate: too many instances", func(h *harness, s *Stack) { s.Instances = 300 }, "1-250 instances"},
		{"build: a listener's port is taken", func(h *harness, s *Stack) {
			withListener(s, taken.Addr().String())
		}, "address already in use"},
		{"build: a build command fails", func(h *harness, s *Stack) {
			td := s.TaskDefinitions["app"]
			td.Build, td.BuildDir = "echo compiling; exit 3", t.TempDir()
			s.TaskDefinitions["app"] = td
		}, "build of task definition app failed (exit status 3)"},
		{"build: the program is missing after the build", func(h *harness, s *Stack) {
			h.runner.checkErr = errors.New(`program "app" is not found in PATH`)
		}, `task definition app: program "app" is not found in PATH`},
		{"persist: the store cannot write", func(h *harness, s *Stack) {
			h.store.err = errors.New("disk full")
		}, "record desired state: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.run(t, testStack(1))
			waitFor(t, "1 running task", h.running(1))
			h.agent.mu.Lock()
			running := h.agent.stack
			h.agent.mu.Unlock()
			listeners, records := h.lb.ListenerAddrs(), h.store.records()

			next := testStack(3)
			extra := freeAddr(t)
			withListener(next, extra) // bound by Prepare, then released
			tt.breakIt(h, next)
			err := h.agent.Apply(context.Background(), next)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply: got %v, want an error with %q", err, tt.want)
			}

			h.agent.mu.Lock()
			stack := h.agent.stack
			h.agent.mu.Unlock()
			if stack != running {
				t.Errorf("the agent runs the rejected stack")
			}
			if diff := cmp.Diff(listeners, h.lb.ListenerAddrs()); diff != "" {
				t.Errorf("listeners changed (-before +after):\n%s", diff)
			}
			if got := h.store.records(); got != records {
				t.Errorf("store records: got %d, want %d", got, records)
			}
			l, err := net.Listen("tcp", extra)
			if err != nil {
				t.Errorf("the rejected stack's listener still holds %s: %v", extra, err)
			} else {
				l.Close()
			}
			h.agent.reconcile()
			if n := len(h.runner.started()); n != 1 {
				t.Errorf("tasks started: got %d, want 1 (the rejected stack asked for 3)", n)
			}
		})
	}
}

// TestAgent_AppliesAreSerialised runs a second Apply while the first is
// in its build step: the second waits for the first to finish, both
// succeed, and the stack that runs is the second.
func TestAgent_AppliesAreSerialised(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	dir := t.TempDir()
	first := testStack(2)
	td := first.TaskDefinitions["app"]
	td.Build, td.BuildDir = "echo first; while [ ! -e go ]; do sleep 0.01; done", dir
	first.TaskDefinitions["app"] = td
	firstDone := make(chan error, 1)
	go func() { firstDone <- h.agent.Apply(context.Background(), withListener(first, "127.0.0.1:0")) }()
	waitFor(t, "the first Apply to build", func() bool { return strings.Contains(h.build.String(), "first") })

	second := testStack(3)
	secondDone := make(chan error, 1)
	go func() { secondDone <- h.agent.Apply(context.Background(), second) }()
	waitFor(t, "the second Apply to wait for the first", func() bool { return applyWaitsForLock() })

	if err := touch(dir + "/go"); err != nil {
		t.Fatal(err)
	}
	for i, done := range []chan error{firstDone, secondDone} {
		if err := <-done; err != nil {
			t.Errorf("Apply %d: %v", i+1, err)
		}
	}
	h.agent.mu.Lock()
	defer h.agent.mu.Unlock()
	if h.agent.stack != second {
		t.Errorf("the running stack is not the second one applied")
	}
	if got := len(h.lb.ListenerAddrs()); got != 1 {
		t.Errorf("listeners: got %d, want the second stack's 1", got)
	}
}

// applyWaitsForLock reports whether a goroutine is blocked on a mutex
// inside Agent.Apply.
func applyWaitsForLock() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("sync.(*Mutex).Lock")) && bytes.Contains(g, []byte("agent.(*Agent).Apply(")) {
			return true
		}
	}
	return false
}

// TestAgent_MovedServiceDrainsThenReplacesItsTasks applies a stack that
// moves the service to another target group and drops the old one: each
// old task is deregistered (the old group drains) before SIGTERM, and its
// replacement registers in the new group.
func TestAgent_MovedServiceDrainsThenReplacesItsTasks(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	old := h.runner.started()[0].addr

	next := testStack(1)
	next.LoadBalancer.Listeners[0].TargetGroup = "app2"
	next.LoadBalancer.TargetGroups = map[string]proxy.TargetGroupConfig{"app2": testGroup()}
	next.Services["web"] = Service{TaskDefinition: "app", Desired: 1, TargetGroup: "app2"}
	if err := h.agent.Apply(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replacement registered in app2", func() bool {
		return len(h.runner.started()) == 2 && contains(h.rec.list(), "register "+h.runner.started()[1].addr+" in app2")
	})
	waitFor(t, "the old task stopped", func() bool { return contains(h.rec.list(), "SIGTERM "+old) })
	calls := h.rec.list()
	if index(calls, "deregister "+old) > index(calls, "SIGTERM "+old) {
		t.Errorf("SIGTERM before deregistration: %v", calls)
	}
	for _, ts := range h.agent.Tasks(true) {
		if ts.Address == old && !strings.HasPrefix(ts.StoppedReason, "Scaling activity initiated by (deployment ecs-svc/") {
			t.Errorf("old task's stop reason: got %q", ts.StoppedReason)
		}
	}
}

func index(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

func touch(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// A build that prints nothing for a while is said to be still running,
// every few seconds of the clock.
func TestAgent_BuildReportsProgress(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	s := testStack(1)
	td := s.TaskDefinitions["app"]
	td.Build, td.BuildDir = "while [ ! -e go ]; do sleep 0.01; done; echo compiled", dir
	s.TaskDefinitions["app"] = td
	done := make(chan error, 1)
	go func() { done <- h.agent.Apply(context.Background(), s) }()
	waitFor(t, "the build to start and arm its progress timer", func() bool {
		return strings.Contains(h.build.String(), "building task definition app") && h.clock.Timers() == 1
	})
	h.clock.Advance(buildProgressEvery)
	waitFor(t, "a progress line", func() bool {
		return strings.Contains(h.build.String(), "still building task definition app (4s so far)")
	})
	if err := touch(dir + "/go"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := h.build.String()
	for _, want := range []string{"compiled\n", "shoal: built task definition app in 4s\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
}

// A listener that cannot be bound fails the Apply before any build runs:
// a busy port is reported in the first second, not after a long build.
func TestAgent_BusyPortFailsBeforeTheBuild(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	h := newHarness(t)
	dir := t.TempDir()
	s := withListener(testStack(1), taken.Addr().String())
	td := s.TaskDefinitions["app"]
	td.Build, td.BuildDir = "touch built", dir
	s.TaskDefinitions["app"] = td
	if err := h.agent.Apply(context.Background(), s); err == nil {
		t.Fatal("Apply with a busy port: got nil error")
	}
	if _, err := os.Stat(dir + "/built"); err == nil {
		t.Errorf("the build ran before the busy port was found")
	}
}
