package agent

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/testkit"
)

func TestLineWriter_PrefixesWholeLines(t *testing.T) {
	var out testkit.Buffer
	w := newLineWriter("api-1", &out, nil)
	for _, p := range []string{"hel", "lo\nwor", "ld\n", "\n", "no newline at the end"} {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q): got %d, %v", p, n, err)
		}
	}
	if got := out.String(); got != "api-1 | hello\napi-1 | world\napi-1 | \n" {
		t.Errorf("before Close: got %q", got)
	}
	w.Close()
	if got := out.String(); !strings.HasSuffix(got, "api-1 | no newline at the end\n") {
		t.Errorf("after Close: got %q", got)
	}
}

func TestLineWriter_LongLineIsWrittenInPieces(t *testing.T) {
	var out testkit.Buffer
	w := newLineWriter("api-1", &out, nil)
	w.Write([]byte(strings.Repeat("x", maxLine+10)))
	if got := strings.Count(out.String(), "api-1 | "); got != 1 {
		t.Errorf("a line longer than %d bytes without a newline: %d prefixed lines written, want 1", maxLine, got)
	}
}

// Lines of tasks writing at once never mix.
func TestLineWriter_TasksDoNotMixLines(t *testing.T) {
	var out testkit.Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		w := newLineWriter(fmt.Sprint("task-", i), &out, nil)
		wg.Go(func() {
			for range 200 {
				w.Write([]byte("abcdefghij"))
				w.Write([]byte("klmnopqrstuvwxyz\n"))
			}
		})
	}
	wg.Wait()
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if _, rest, ok := strings.Cut(line, " | "); !ok || rest != "abcdefghijklmnopqrstuvwxyz" {
			t.Fatalf("mixed line: %q", line)
		}
	}
}

func TestEventLog_GroupsEventsOfOneKind(t *testing.T) {
	l := newEventLog(100, nil)
	render := func(items []string) string {
		return fmt.Sprintf("%d targets: %s.", len(items), strings.Join(items, " "))
	}
	l.addGrouped("registered", Event{Service: "api", Target: "a"}, "a", render)
	l.addGrouped("registered", Event{Service: "api", Target: "b"}, "b", render)
	l.addGrouped("other", Event{Target: "c"}, "c", render)
	l.add(Event{Message: "later."})
	l.addGrouped("registered", Event{Service: "api", Target: "d"}, "d", render)
	if n := len(l.since(0)); n != 3 {
		t.Errorf("events before the window is over: got %d, want the 3 recorded", n)
	}
	l.flush()
	var got []Event
	for _, e := range l.since(0) {
		e.Seq = 0
		got = append(got, e)
	}
	want := []Event{
		{Service: "api", Message: "2 targets: a b."},
		{Target: "c", Message: "1 targets: c."},
		{Message: "later."},
		{Service: "api", Target: "d", Message: "1 targets: d."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Grouped events are recorded within the window even when nothing reads
// them, and delivered to OnEvent.
func TestEventLog_FlushesAfterTheWindow(t *testing.T) {
	got := make(chan Event, 1)
	l := newEventLog(100, func(e Event) { got <- e })
	defer l.close()
	l.addGrouped("k", Event{}, "x", func(items []string) string { return "one." })
	if e := <-got; e.Message != "one." {
		t.Errorf("delivered: got %q, want one.", e.Message)
	}
}

// harnessWithOutput is a harness whose agent streams task output.
func harnessWithOutput(t *testing.T, out *testkit.Buffer) *harness {
	h := newHarness(t)
	h.agent = New(Config{
		Runners:   map[string]Runner{KindProcess: h.runner},
		Instances: instance.NewLoopback(nil),
		Balancer:  h.lb, Store: h.store, Clock: h.clock, TaskOutput: out,
	})
	return h
}

func TestAgent_StreamsTaskOutputWithTheTaskID(t *testing.T) {
	var out testkit.Buffer
	h := harnessWithOutput(t, &out)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	id := h.agent.Tasks(false)[0].ID
	want := id + " | listening on " + h.runner.started()[0].addr + "\n"
	if got := out.String(); got != want {
		t.Errorf("task output: got %q, want %q", got, want)
	}
}

// Without streamed output, a task that fails shows its last lines in its
// stop event.
func TestAgent_FailedTaskShowsItsLastOutput(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	h.runner.started()[0].die(driver.Exit{Code: 1})
	waitFor(t, "the stop event with the task's output", func() bool {
		for _, e := range h.agent.Events(0) {
			if strings.HasSuffix(e.Message, "stopped: Essential container in task exited (exit code 1). Its last output:\n    hello") {
				return true
			}
		}
		return false
	})
}

func TestAgent_BackOffIsSaidOncePerFailureCount(t *testing.T) {
	h := newHarness(t)
	h.runner.startErr = fmt.Errorf("no such file")
	h.run(t, testStack(1))
	said := func() []string {
		var out []string
		for _, e := range h.agent.Events(0) {
			if strings.Contains(e.Message, "is backing off") {
				out = append(out, e.Message)
			}
		}
		return out
	}
	waitFor(t, "the back-off said", func() bool { return len(said()) == 1 })
	for range 3 { // every pass of the loop sees the same back-off
		h.agent.reconcile()
	}
	want := "service web is backing off: 2 tasks failed in a row; the next starts in 1s (at 12:00:01), and the wait doubles after each failure, up to 1m."
	if diff := cmp.Diff([]string{want}, said()); diff != "" {
		t.Errorf("back-off events (-want +got):\n%s", diff)
	}
	h.clock.Advance(1e9)
	waitFor(t, "the next failure's back-off said", func() bool { return len(said()) == 2 })
}
