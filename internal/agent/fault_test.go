package agent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/sched"
)

// faultEvents are the events' lines that start with "fault ".
func (h *harness) faultEvents() []string {
	var out []string
	for _, e := range h.agent.Events(0) {
		if strings.HasPrefix(e.Message, "fault ") {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestAgent_HealthFaultExpiresOnTheClock(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	addr := h.runner.started()[0].addr
	f, err := h.agent.InjectFault(fault.Request{Kind: fault.FailHealth, TargetGroup: "app", Target: addr, For: fault.Duration(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "f-1" || !f.Until.Equal(h.clock.Now().Add(30*time.Second)) {
		t.Errorf("got %+v, want f-1 until +30s", f)
	}
	if got := h.agent.Faults(); len(got) != 1 || got[0].ID != "f-1" {
		t.Errorf("active: got %+v, want f-1", got)
	}
	h.clock.Advance(29 * time.Second)
	if len(h.agent.Faults()) != 1 {
		t.Fatal("the fault ended before its time")
	}
	h.clock.Advance(time.Second)
	waitFor(t, "the fault's end", func() bool { return len(h.agent.Faults()) == 0 })
	want := []string{
		"fault f-1: target " + addr + " in target-group app fails its health checks until 12:00:30.",
		"fault f-1 ended: target " + addr + " in target-group app takes its health checks again.",
	}
	if diff := cmp.Diff(want, h.faultEvents()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !contains(h.rec.list(), "health fault "+addr+" true") || !contains(h.rec.list(), "health fault "+addr+" false") {
		t.Errorf("balancer calls: %v", h.rec.list())
	}
}

func TestAgent_PauseFaultResumesWhenRemoved(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	task := h.agent.Tasks(false)[0]
	f, err := h.agent.InjectFault(fault.Request{Kind: fault.PauseTask, Task: task.ID[:len("web-")+2], For: fault.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if f.Task != task.ID {
		t.Errorf("got task %s, want the prefix resolved to %s", f.Task, task.ID)
	}
	if got := h.agent.Tasks(false)[0].PausedBy; got != f.ID {
		t.Errorf("paused by: got %q, want %s", got, f.ID)
	}
	if _, err := h.agent.InjectFault(fault.Request{Kind: fault.PauseTask, Task: task.ID, For: fault.Duration(time.Minute)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("pausing it again: got %v, want ErrInvalid", err)
	}
	if err := h.agent.RemoveFault(f.ID); err != nil {
		t.Fatal(err)
	}
	if got := h.agent.Tasks(false)[0].PausedBy; got != "" {
		t.Errorf("paused by after rm: got %q, want none", got)
	}
	addr := h.runner.started()[0].addr
	calls := h.rec.list()
	if !contains(calls, "SIGSTOP "+addr) || !contains(calls, "SIGCONT "+addr) {
		t.Errorf("calls: %v", calls)
	}
	if got := h.faultEvents(); len(got) != 2 || !strings.HasPrefix(got[1], "fault f-1 removed: task "+task.ID+" resumed") {
		t.Errorf("events: %v", got)
	}
	if err := h.agent.RemoveFault(f.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing it again: got %v, want ErrNotFound", err)
	}
}

func TestAgent_KillFaultIsReplaced(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	task := h.agent.Tasks(false)[0]
	f, err := h.agent.InjectFault(fault.Request{Kind: fault.KillTask, Task: task.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Instant() || len(h.agent.Faults()) != 0 {
		t.Errorf("a kill is instant: got %+v, active %v", f, h.agent.Faults())
	}
	waitFor(t, "a replacement running", func() bool { return len(h.runner.started()) == 2 && h.running(1)() })
	if got := h.faultEvents(); len(got) != 1 || got[0] != "fault f-1: task "+task.ID+" killed (SIGKILL)." {
		t.Errorf("events: %v", got)
	}
}

func TestAgent_StopInstanceFaultActivatesAtItsEnd(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(2))
	waitFor(t, "2 running tasks", h.running(2))
	name := h.agent.Instances()[0].Name
	if _, err := h.agent.InjectFault(fault.Request{Kind: fault.StopInstance, Instance: name, For: fault.Duration(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got := h.agent.Instances()[0].Status; got != string(sched.InstanceStopped) {
		t.Errorf("instance: got %s, want STOPPED", got)
	}
	h.clock.Advance(time.Minute)
	waitFor(t, "the instance ACTIVE again", func() bool { return h.agent.Instances()[0].Status == string(sched.InstanceActive) })
}

// Every bad request is refused with the right kind of error, and changes
// nothing: no fault, no event, no call.
func TestAgent_BadFaultsChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	minute := fault.Duration(time.Minute)
	tests := []struct {
		name string
		req  fault.Request
		want error
	}{
		{"unknown task", fault.Request{Kind: fault.KillTask, Task: "nope-1"}, ErrNotFound},
		{"unknown instance", fault.Request{Kind: fault.StopInstance, Instance: "i-9"}, ErrNotFound},
		{"unknown target group", fault.Request{Kind: fault.Errors, TargetGroup: "nope", For: minute}, ErrNotFound},
		{"unknown target", fault.Request{Kind: fault.FailHealth, TargetGroup: "app", Target: "127.0.0.9:1", For: minute}, ErrNotFound},
		{"negative duration", fault.Request{Kind: fault.PauseTask, Task: "web", For: -minute}, ErrInvalid},
		{"fraction above 1", fault.Request{Kind: fault.Errors, TargetGroup: "app", Fraction: 2, For: minute}, ErrInvalid},
		{"status 404", fault.Request{Kind: fault.Errors, TargetGroup: "app", Status: 404, For: minute}, ErrInvalid},
		{"delay too long", fault.Request{Kind: fault.Latency, TargetGroup: "app", Delay: fault.Duration(time.Hour), For: minute}, ErrInvalid},
	}
	calls := len(h.rec.list())
	events := len(h.agent.Events(0))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.agent.InjectFault(tt.req)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	if len(h.agent.Faults()) != 0 || len(h.rec.list()) != calls || len(h.agent.Events(0)) != events {
		t.Errorf("a refused fault changed something: faults %v, calls %v", h.agent.Faults(), h.rec.list()[calls:])
	}
}

// An errors fault reaches the load balancer: the group answers 503 until
// the fault is removed.
func TestAgent_ErrorsFaultIsSetAndEndedInTheBalancer(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	f, err := h.agent.InjectFault(fault.Request{Kind: fault.Errors, TargetGroup: "app", For: fault.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != 503 || f.Fraction != 1 {
		t.Errorf("got %+v, want status 503 on every request", f)
	}
	if _, err := h.agent.InjectFault(fault.Request{Kind: fault.Latency, TargetGroup: "app", Delay: fault.Duration(time.Second), For: fault.Duration(time.Minute)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a second response fault on app: got %v, want ErrInvalid", err)
	}
	if err := h.agent.RemoveFault(f.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"fault f-1: target-group app answers 100% of its requests with 503 until 12:01:00.",
		"fault f-1 removed: target-group app forwards every request to its targets again.",
	}
	if diff := cmp.Diff(want, h.faultEvents()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// A paused task that stops before its fault ends leaves nothing to
// resume: the end says so.
func TestAgent_PauseFaultOfAStoppedTaskEndsSaying(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	task := h.agent.Tasks(false)[0]
	if _, err := h.agent.InjectFault(fault.Request{Kind: fault.PauseTask, Task: task.ID, For: fault.Duration(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	h.runner.started()[0].die(driver.Exit{Code: -1, Signal: "SIGKILL"})
	waitFor(t, "the paused task STOPPED", func() bool {
		for _, ts := range h.agent.Tasks(true) {
			if ts.ID == task.ID {
				return ts.LastStatus == "STOPPED"
			}
		}
		return false
	})
	h.clock.Advance(time.Minute)
	waitFor(t, "the fault's end", func() bool { return len(h.agent.Faults()) == 0 })
	if got := h.faultEvents(); len(got) != 2 || got[1] != "fault f-1 ended: task "+task.ID+" had stopped; nothing to resume." {
		t.Errorf("events: %q", got)
	}
}
