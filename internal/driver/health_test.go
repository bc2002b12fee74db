package driver

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
	"github.com/shoalhq/shoal/internal/testkit"
)

func TestHealthState_Observe(t *testing.T) {
	start := time.Unix(1000, 0)
	pass := func(at time.Duration) checkRun { return checkRun{at: start.Add(at), passed: true} }
	fail := func(at time.Duration, why string) checkRun { return checkRun{at: start.Add(at), failure: why} }
	tests := []struct {
		name        string
		startPeriod time.Duration
		runs        []checkRun
		want        []ContainerHealth // after each run
		wantFailure string
	}{
		{
			name: "one pass is healthy",
			runs: []checkRun{pass(10 * time.Second)},
			want: []ContainerHealth{HealthHealthy},
		},
		{
			name: "retries failures in a row are unhealthy",
			runs: []checkRun{fail(10*time.Second, "a"), fail(20*time.Second, "b"), fail(30*time.Second, "c")},
			want: []ContainerHealth{HealthUnknown, HealthUnknown, HealthUnhealthy}, wantFailure: "c",
		},
		{
			name: "a pass resets the count",
			runs: []checkRun{
				pass(10 * time.Second), fail(20*time.Second, "a"), fail(30*time.Second, "b"),
				pass(40 * time.Second), fail(50*time.Second, "c"), fail(60*time.Second, "d"), fail(70*time.Second, "e"),
			},
			want: []ContainerHealth{
				HealthHealthy, HealthHealthy, HealthHealthy,
				HealthHealthy, HealthHealthy, HealthHealthy, HealthUnhealthy,
			},
			wantFailure: "e",
		},
		{
			name: "unhealthy turns healthy on one pass, keeping the last failure",
			runs: []checkRun{fail(10*time.Second, "a"), fail(20*time.Second, "b"), fail(30*time.Second, "c"), pass(40 * time.Second)},
			want: []ContainerHealth{HealthUnknown, HealthUnknown, HealthUnhealthy, HealthHealthy}, wantFailure: "c",
		},
		{
			name:        "failures within the start period do not count",
			startPeriod: 30 * time.Second,
			runs: []checkRun{
				fail(10*time.Second, "a"), fail(20*time.Second, "b"), fail(29*time.Second, "c"),
				fail(30*time.Second, "d"), fail(40*time.Second, "e"), fail(50*time.Second, "f"),
			},
			want: []ContainerHealth{
				HealthUnknown, HealthUnknown, HealthUnknown,
				HealthUnknown, HealthUnknown, HealthUnhealthy,
			},
			wantFailure: "f",
		},
		{
			name:        "a pass within the start period is healthy, and failures count from then on",
			startPeriod: time.Minute,
			runs:        []checkRun{pass(10 * time.Second), fail(20*time.Second, "a"), fail(30*time.Second, "b"), fail(40*time.Second, "c")},
			want:        []ContainerHealth{HealthHealthy, HealthHealthy, HealthHealthy, HealthUnhealthy},
			wantFailure: "c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := &HealthCheck{Command: []string{"true"}, Interval: 10 * time.Second, Timeout: time.Second, StartPeriod: tt.startPeriod, Retries: 3}
			s := newHealthState()
			var got []ContainerHealth
			for _, r := range tt.runs {
				s = s.observe(r, hc, start)
				got = append(got, s.status)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("statuses after each run (-want +got):\n%s", diff)
			}
			if s.failure != tt.wantFailure {
				t.Errorf("failure = %q, want %q", s.failure, tt.wantFailure)
			}
		})
	}
}

func TestHealthCheck_Validate(t *testing.T) {
	valid := HealthCheck{Command: []string{"true"}, Interval: time.Second, Timeout: time.Second, Retries: 1}
	tests := []struct {
		name   string
		change func(*HealthCheck)
		want   string
	}{
		{"valid", func(*HealthCheck) {}, ""},
		{"no command", func(h *HealthCheck) { h.Command = nil }, "health check: no command"},
		{"zero interval", func(h *HealthCheck) { h.Interval = 0 }, "health check: interval 0s is not positive"},
		{"zero timeout", func(h *HealthCheck) { h.Timeout = 0 }, "health check: timeout 0s is not positive"},
		{"negative start period", func(h *HealthCheck) { h.StartPeriod = -time.Second }, "health check: start period -1s is negative"},
		{"no retries", func(h *HealthCheck) { h.Retries = 0 }, "health check: retries 0 is less than 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := valid
			tt.change(&h)
			got := ""
			if err := h.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// healthLog records the statuses OnHealth is called with.
type healthLog struct {
	mu  sync.Mutex
	got []ContainerHealth
}

func (h *healthLog) add(s ContainerHealth) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, s)
}

func (h *healthLog) list() []ContainerHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ContainerHealth(nil), h.got...)
}

// checkedTask is a spec of a task that sleeps, with check as its health
// check (run by sh), every 10 s with 3 retries, and OnHealth recorded.
func checkedTask(t *testing.T, check string) (TaskSpec, *healthLog) {
	spec := shTask(t, `echo ready; sleep 1000`)
	log := &healthLog{}
	spec.HealthCheck = &HealthCheck{
		Command:  []string{"/bin/sh", "-c", check},
		Interval: 10 * time.Second,
		Timeout:  exitTimeout,
		Retries:  3,
	}
	spec.OnHealth = log.add
	return spec, log
}

// nextCheck moves the fake clock to the task's next health check and
// returns once the check's result is in: the checker arms its timer for
// the one after only then.
func nextCheck(t *testing.T, fake *clocktest.Fake, task Task, interval time.Duration) {
	t.Helper()
	armed := func() (bool, error) {
		select {
		case <-task.Done():
			return false, fmt.Errorf("the task exited: %v", task.Exit())
		default:
		}
		return fake.Timers() == 1, nil
	}
	testkit.Poll(t, startTimeout, "the health checker to arm its timer", armed, nil)
	fake.Advance(interval)
	testkit.Poll(t, startTimeout, "the health check to finish", armed, nil)
}

func checkHealth(t *testing.T, task Task, want ContainerHealth, wantFailure string) {
	t.Helper()
	got, failure := task.Health()
	if got != want || failure != wantFailure {
		t.Errorf("Health() = %s, %q; want %s, %q", got, failure, want, wantFailure)
	}
}

// The check runs every interval of the driver's clock, never before, and
// its status moves as ECS says: one pass is healthy, three failures in a
// row unhealthy, one pass healthy again. OnHealth hears every change.
func TestProcess_HealthCheckStatusFollowsChecks(t *testing.T) {
	fake := clocktest.NewFake(time.Unix(0, 0))
	p := NewProcess(ProcessOptions{Clock: fake})
	spec, log := checkedTask(t, `echo run >> runs; test -e ok || { echo "not ok yet" >&2; exit 3; }`)
	task := startTask(t, p, spec)
	checkHealth(t, task, HealthUnknown, "")
	runs := func() int {
		b, _ := os.ReadFile(filepath.Join(spec.Dir, "runs"))
		return strings.Count(string(b), "run")
	}
	// Not before the interval.
	waitFor(t, startTimeout, "the health checker to arm its timer", func() bool { return fake.Timers() == 1 })
	fake.Advance(spec.HealthCheck.Interval - time.Millisecond)
	if n := runs(); n != 0 {
		t.Fatalf("%d checks ran before the interval", n)
	}
	fake.Advance(time.Millisecond)
	waitFor(t, startTimeout, "the first check to finish", func() bool { return fake.Timers() == 1 })

	const failure = "exit status 3: not ok yet"
	checkHealth(t, task, HealthUnknown, failure)
	nextCheck(t, fake, task, spec.HealthCheck.Interval)
	checkHealth(t, task, HealthUnknown, failure)
	nextCheck(t, fake, task, spec.HealthCheck.Interval)
	checkHealth(t, task, HealthUnhealthy, failure)

	writeFile(t, filepath.Join(spec.Dir, "ok"), "", 0o644)
	nextCheck(t, fake, task, spec.HealthCheck.Interval)
	checkHealth(t, task, HealthHealthy, failure) // the last failure stays
	nextCheck(t, fake, task, spec.HealthCheck.Interval)
	checkHealth(t, task, HealthHealthy, failure)
	if n := runs(); n != 5 {
		t.Errorf("%d checks ran, want 5", n)
	}
	if diff := cmp.Diff([]ContainerHealth{HealthUnhealthy, HealthHealthy}, log.list()); diff != "" {
		t.Errorf("OnHealth calls (-want +got):\n%s", diff)
	}
}

// The check runs in the task's working directory, with its environment.
func TestProcess_HealthCheckGetsTaskDirAndEnv(t *testing.T) {
	fake := clocktest.NewFake(time.Unix(0, 0))
	p := NewProcess(ProcessOptions{Clock: fake})
	spec, log := checkedTask(t, `echo "host=$HOST port=$PORT greeting=$GREETING dir=$(pwd)" > check.env`)
	spec.Env = map[string]string{"GREETING": "hello"}
	task := startTask(t, p, spec)
	nextCheck(t, fake, task, spec.HealthCheck.Interval)
	checkHealth(t, task, HealthHealthy, "")
	_, port, _ := net.SplitHostPort(task.Addr())
	b, err := os.ReadFile(filepath.Join(spec.Dir, "check.env"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("host=127.0.0.1 port=%s greeting=hello dir=%s\n", port, spec.Dir)
	if string(b) != want {
		t.Errorf("the check saw %q, want %q", b, want)
	}
	if diff := cmp.Diff([]ContainerHealth{HealthHealthy}, log.list()); diff != "" {
		t.Errorf("OnHealth calls (-want +got):\n%s", diff)
	}
}

// How failed runs are told apart, with one retry so that each makes the
// task unhealthy.
func TestProcess_HealthCheckFailures(t *testing.T) {
	tests := []struct {
		name    string
		command []string
		want    string
	}{
		{"exit status with output", []string{"/bin/sh", "-c", `echo "curl: (7) Failed to connect"; exit 7`}, "exit status 7: curl: (7) Failed to connect"},
		{"exit status without output", []string{"false"}, "exit status 1"},
		{"killed by a signal", []string{"/bin/sh", "-c", `kill -KILL $$`}, "killed by SIGKILL"},
		{"not found", []string{"no-such-check-3f9a"}, `start "no-such-check-3f9a": executable file not found in $PATH`},
		{"missing relative to the working dir", []string{"bin/check"}, `start "bin/check": no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clocktest.NewFake(time.Unix(0, 0))
			p := NewProcess(ProcessOptions{Clock: fake})
			spec, _ := checkedTask(t, "")
			spec.HealthCheck.Command, spec.HealthCheck.Retries = tt.command, 1
			task := startTask(t, p, spec)
			nextCheck(t, fake, task, spec.HealthCheck.Interval)
			checkHealth(t, task, HealthUnhealthy, tt.want)
		})
	}
}

// The end of a long output is what is kept.
func TestProcess_HealthCheckKeepsEndOfOutput(t *testing.T) {
	fake := clocktest.NewFake(time.Unix(0, 0))
	p := NewProcess(ProcessOptions{Clock: fake})
	spec, _ := checkedTask(t, `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; exit 1`)
	task := startTask(t, p, spec)
	nextCheck(t, fake, task, spec.HealthCheck.Interval)
	_, failure := task.Health()
	if !strings.HasPrefix(failure, "exit status 1: ") || !strings.HasSuffix(failure, "\nline 1999") || strings.Contains(failure, "line 0\n") {
		t.Errorf("Health() failure = %q; want exit status 1 and the end of the output", failure)
	}
	if max := len("exit status 1: ") + healthOutputBytes; len(failure) > max {
		t.Errorf("failure is %d bytes long, want at most %d", len(failure), max)
	}
}

// A run past its timeout fails, and its whole process group is killed.
func TestProcess_HealthCheckTimeoutKillsGroup(t *testing.T) {
	fake := clocktest.NewFake(time.Unix(0, 0))
	p := NewProcess(ProcessOptions{Clock: fake})
	spec, _ := checkedTask(t, `echo $$ > check.pgid; echo started; sleep 1000 & sleep 1000`)
	spec.HealthCheck.Timeout, spec.HealthCheck.Retries = 200*time.Millisecond, 1
	task := startTask(t, p, spec)
	nextCheck(t, fake, task, spec.HealthCheck.Interval)
	checkHealth(t, task, HealthUnhealthy, "timed out after 200ms: started")
	b, err := os.ReadFile(filepath.Join(spec.Dir, "check.pgid"))
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, exitTimeout, "the check's group to be gone", func() bool { return len(groupProcs(t, pgid)) == 0 })
}

// A failure in the start period does not count until the task has been
// healthy; a pass in it counts at once.
func TestProcess_HealthCheckStartPeriod(t *testing.T) {
	t.Run("failures count once it is over", func(t *testing.T) {
		fake := clocktest.NewFake(time.Unix(0, 0))
		p := NewProcess(ProcessOptions{Clock: fake})
		spec, log := checkedTask(t, `exit 1`)
		spec.HealthCheck.StartPeriod, spec.HealthCheck.Retries = 25*time.Second, 1
		task := startTask(t, p, spec)
		nextCheck(t, fake, task, spec.HealthCheck.Interval) // at 10 s
		checkHealth(t, task, HealthUnknown, "exit status 1")
		nextCheck(t, fake, task, spec.HealthCheck.Interval) // at 20 s
		checkHealth(t, task, HealthUnknown, "exit status 1")
		nextCheck(t, fake, task, spec.HealthCheck.Interval) // at 30 s: past the start period
		checkHealth(t, task, HealthUnhealthy, "exit status 1")
		if diff := cmp.Diff([]ContainerHealth{HealthUnhealthy}, log.list()); diff != "" {
			t.Errorf("OnHealth calls (-want +got):\n%s", diff)
		}
	})
	t.Run("once healthy, failures in it count", func(t *testing.T) {
		fake := clocktest.NewFake(time.Unix(0, 0))
		p := NewProcess(ProcessOptions{Clock: fake})
		spec, log := checkedTask(t, `test -e ok`)
		spec.HealthCheck.StartPeriod, spec.HealthCheck.Retries = time.Minute, 1
		writeFile(t, filepath.Join(spec.Dir, "ok"), "", 0o644)
		task := startTask(t, p, spec)
		nextCheck(t, fake, task, spec.HealthCheck.Interval)
		checkHealth(t, task, HealthHealthy, "")
		if err := os.Remove(filepath.Join(spec.Dir, "ok")); err != nil {
			t.Fatal(err)
		}
		nextCheck(t, fake, task, spec.HealthCheck.Interval)
		checkHealth(t, task, HealthUnhealthy, "exit status 1")
		if diff := cmp.Diff([]ContainerHealth{HealthHealthy, HealthUnhealthy}, log.list()); diff != "" {
			t.Errorf("OnHealth calls (-want +got):\n%s", diff)
		}
	})
}

// With the real clock and a short interval, a task turns healthy by itself.
func TestProcess_HealthCheckWithRealClock(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	spec, log := checkedTask(t, `test -e ok`)
	spec.HealthCheck.Interval, spec.HealthCheck.Timeout = 100*time.Millisecond, 5*time.Second
	task := startTask(t, p, spec)
	waitFor(t, startTimeout, "a failed check", func() bool { _, f := task.Health(); return f == "exit status 1" })
	writeFile(t, filepath.Join(spec.Dir, "ok"), "", 0o644)
	waitFor(t, startTimeout, "the task to turn healthy", func() bool { h, _ := task.Health(); return h == HealthHealthy })
	if got := log.list(); len(got) == 0 || got[len(got)-1] != HealthHealthy {
		t.Errorf("OnHealth calls %v, want the last HEALTHY", got)
	}
}

func TestProcess_NoHealthCheckIsUnknown(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	task := startTask(t, p, shTask(t, `exit 0`))
	waitDone(t, task)
	checkHealth(t, task, HealthUnknown, "")
}

func TestProcess_StartRejectsInvalidHealthCheck(t *testing.T) {
	ports, port := onePortAllocator(t)
	p := NewProcess(ProcessOptions{Ports: ports})
	spec, _ := checkedTask(t, "true")
	spec.HealthCheck.Interval = 0
	task, err := p.Start(context.Background(), spec)
	if err == nil {
		task.Stop(context.Background())
		t.Fatal("Start succeeded with a zero health check interval")
	}
	if want := "task api-1: health check: interval 0s is not positive"; err.Error() != want {
		t.Errorf("Start error %q, want %q", err, want)
	}
	checkPortFreeAgain(t, ports, port)
}

// checkNoLeak fails the test if the goroutines do not come back down to
// base.
func checkNoLeak(t *testing.T, base int) {
	t.Helper()
	testkit.Poll(t, exitTimeout, fmt.Sprintf("goroutines to come back down to %d", base), func() (bool, error) {
		return runtime.NumGoroutine() <= base, nil
	}, func() string {
		buf := make([]byte, 1<<20)
		return string(buf[:runtime.Stack(buf, true)])
	})
}

// Stopping a task ends its checks at once, a check in progress included
// (killed with its group, and counting for nothing); no goroutine is left.
func TestProcess_StopEndsHealthChecks(t *testing.T) {
	base := runtime.NumGoroutine()
	fake := clocktest.NewFake(time.Unix(0, 0))
	p := NewProcess(ProcessOptions{Clock: fake})
	spec, log := checkedTask(t, `echo $$ > check.pgid; sleep 1000`)
	spec.HealthCheck.Timeout = time.Hour
	task := startTask(t, p, spec)
	waitFor(t, startTimeout, "the health checker to arm its timer", func() bool { return fake.Timers() == 1 })
	fake.Advance(spec.HealthCheck.Interval)
	var pgid int
	waitFor(t, startTimeout, "the check to run", func() bool {
		b, _ := os.ReadFile(filepath.Join(spec.Dir, "check.pgid"))
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		pgid = n
		return err == nil
	})
	if diff := cmp.Diff(Exit{Code: -1, Signal: "SIGTERM"}, task.Stop(context.Background()), exitCmp); diff != "" {
		t.Errorf("Stop() exit (-want +got):\n%s", diff)
	}
	checkHealth(t, task, HealthUnknown, "")
	if len(log.list()) != 0 {
		t.Errorf("OnHealth called with %v, want no calls", log.list())
	}
	waitFor(t, exitTimeout, "the check's group to be gone", func() bool { return len(groupProcs(t, pgid)) == 0 })
	checkNoLeak(t, base)
}

// A task that exits by itself ends its checks too; the status stays.
func TestProcess_ExitEndsHealthChecks(t *testing.T) {
	base := runtime.NumGoroutine()
	fake := clocktest.NewFake(time.Unix(0, 0))
	p := NewProcess(ProcessOptions{Clock: fake})
	spec, _ := checkedTask(t, `true`)
	spec.Command = []string{"sh", "-c", `while [ ! -e exit ]; do sleep 0.05; done`}
	task := startTask(t, p, spec)
	nextCheck(t, fake, task, spec.HealthCheck.Interval)
	checkHealth(t, task, HealthHealthy, "")
	writeFile(t, filepath.Join(spec.Dir, "exit"), "", 0o644)
	waitDone(t, task)
	if n := fake.Timers(); n != 0 {
		t.Errorf("%d timers armed after the task exited, want none", n)
	}
	checkHealth(t, task, HealthHealthy, "")
	checkNoLeak(t, base)
}
