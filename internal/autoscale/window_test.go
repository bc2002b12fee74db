package autoscale

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sec is the time s seconds after t0.
func sec(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// steadyTask is a task started at start that is sent reqPerSec requests and
// uses cpuPerSecond of CPU time every second.
type steadyTask struct {
	start        int
	reqPerSec    uint64
	cpuPerSecond time.Duration
}

func (st steadyTask) at(s int) TaskCounters {
	ran := uint64(s - st.start)
	return TaskCounters{Started: sec(st.start), Requests: st.reqPerSec * ran, CPU: st.cpuPerSecond * time.Duration(ran)}
}

// feed adds a sample every step seconds from from to to (both included),
// of the tasks that tasks returns for that second.
func feed(w *Window, from, to, step int, cpuPerTask time.Duration, tasks func(s int) map[string]TaskCounters) {
	for s := from; s <= to; s += step {
		w.Add(Sample{At: sec(s), Tasks: tasks(s), CPUPerTask: cpuPerTask})
	}
}

// approx compares floats to 1e-9.
var approx = cmpopts.EquateApprox(0, 1e-9)

func TestWindow_SteadyTraffic(t *testing.T) {
	a := steadyTask{start: 0, reqPerSec: 2, cpuPerSecond: 250 * time.Millisecond}
	b := steadyTask{start: 0, reqPerSec: 2, cpuPerSecond: 250 * time.Millisecond}
	w := NewWindow(time.Minute)
	feed(w, 0, 120, 5, 500*time.Millisecond, func(s int) map[string]TaskCounters {
		return map[string]TaskCounters{"a": a.at(s), "b": b.at(s)}
	})
	got, ok := w.Metrics()
	want := Metrics{Over: time.Minute, Tasks: 2, RequestCountPerTarget: 120, CPUUtilization: 50, HaveRequests: true, HaveCPU: true}
	if diff := cmp.Diff(want, got, approx); !ok || diff != "" {
		t.Errorf("Metrics: ok %v (-want +got):\n%s", ok, diff)
	}
}

func TestWindow_ReadyOnceThePeriodIsSpanned(t *testing.T) {
	a := steadyTask{reqPerSec: 1}
	w := NewWindow(time.Minute)
	tasks := func(s int) map[string]TaskCounters { return map[string]TaskCounters{"a": a.at(s)} }
	if _, ok := w.Metrics(); ok {
		t.Errorf("empty window: ready, want not")
	}
	feed(w, 0, 50, 10, 0, tasks)
	if _, ok := w.Metrics(); ok {
		t.Errorf("after 50 s of a 1 min period: ready, want not")
	}
	feed(w, 60, 60, 10, 0, tasks)
	if m, ok := w.Metrics(); !ok || m.RequestCountPerTarget != 60 {
		t.Errorf("after 60 s: got %+v ready %v, want 60 per target per minute", m, ok)
	}
}

func TestWindow_TasksComingAndGoing(t *testing.T) {
	// Each task is sent 1 request a second: however tasks come and go, each
	// target gets 60 a minute, and Tasks says how many ran on average.
	a := steadyTask{start: -100, reqPerSec: 1}
	tests := []struct {
		name  string
		tasks func(s int) map[string]TaskCounters
		want  Metrics
	}{
		{
			name: "a task started between two samples counts from 0",
			tasks: func(s int) map[string]TaskCounters {
				m := map[string]TaskCounters{"a": a.at(s)}
				if b := (steadyTask{start: 25, reqPerSec: 1}); s >= 30 {
					m["b"] = b.at(s) // 5 requests when first seen
				}
				return m
			},
			want: Metrics{Tasks: 95.0 / 60}, // b ran 35 s of the 60
		},
		{
			name: "a task already running when first seen counts from then",
			tasks: func(s int) map[string]TaskCounters {
				m := map[string]TaskCounters{"a": a.at(s)}
				if b := (steadyTask{start: 15, reqPerSec: 1}); s >= 30 {
					m["b"] = b.at(s) // 15 requests, before the sample at 20
				}
				return m
			},
			want: Metrics{Tasks: 1.5},
		},
		{
			name: "a task without a start time counts from when first seen",
			tasks: func(s int) map[string]TaskCounters {
				m := map[string]TaskCounters{"a": a.at(s)}
				if s >= 30 {
					m["b"] = TaskCounters{Requests: uint64(s - 15)}
				}
				return m
			},
			want: Metrics{Tasks: 1.5},
		},
		{
			name: "a stopped task leaves, taking its counts but no one else's",
			tasks: func(s int) map[string]TaskCounters {
				m := map[string]TaskCounters{"a": a.at(s)}
				if b := (steadyTask{start: -100, reqPerSec: 1}); s <= 30 {
					m["b"] = b.at(s) // 130 requests at 30, then gone
				}
				return m
			},
			want: Metrics{Tasks: 1.5},
		},
		{
			name: "all tasks replaced",
			tasks: func(s int) map[string]TaskCounters {
				if s < 30 {
					return map[string]TaskCounters{"a": a.at(s)}
				}
				return map[string]TaskCounters{"c": (steadyTask{start: 28, reqPerSec: 1}).at(s)}
			},
			want: Metrics{Tasks: (20 + 32) / 60.0}, // a 0-20, c 28-60
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWindow(time.Minute)
			feed(w, 0, 60, 10, 0, tt.tasks)
			got, ok := w.Metrics()
			tt.want.Over, tt.want.RequestCountPerTarget, tt.want.HaveRequests = time.Minute, 60, true
			if diff := cmp.Diff(tt.want, got, approx); !ok || diff != "" {
				t.Errorf("Metrics: ok %v (-want +got):\n%s", ok, diff)
			}
		})
	}
}

func TestWindow_CounterStartingAgainIsNotNegative(t *testing.T) {
	// The target was registered again at 35: its counter went back to 0.
	counts := map[int]uint64{0: 0, 10: 10, 20: 20, 30: 30, 40: 5, 50: 15, 60: 25}
	w := NewWindow(time.Minute)
	feed(w, 0, 60, 10, 0, func(s int) map[string]TaskCounters {
		return map[string]TaskCounters{"a": {Started: sec(-5), Requests: counts[s]}}
	})
	got, ok := w.Metrics()
	// 30 before, 5 after starting again seen at 40 (5 lost), 20 after.
	want := Metrics{Over: time.Minute, Tasks: 1, RequestCountPerTarget: 55, HaveRequests: true}
	if diff := cmp.Diff(want, got, approx); !ok || diff != "" {
		t.Errorf("Metrics: ok %v (-want +got):\n%s", ok, diff)
	}
}

func TestWindow_OldSamplesLeave(t *testing.T) {
	busy := steadyTask{reqPerSec: 10, cpuPerSecond: time.Second}
	w := NewWindow(time.Minute)
	tasks := func(s int) map[string]TaskCounters {
		return map[string]TaskCounters{"a": busy.at(min(s, 120))} // idle after 120
	}
	feed(w, 0, 120, 5, time.Second, tasks)
	if m, _ := w.Metrics(); m.RequestCountPerTarget != 600 || m.CPUUtilization != 100 {
		t.Errorf("busy: got %v requests, %v%% CPU, want 600 and 100%%", m.RequestCountPerTarget, m.CPUUtilization)
	}
	feed(w, 125, 180, 5, time.Second, tasks)
	m, ok := w.Metrics()
	want := Metrics{Over: time.Minute, Tasks: 1, HaveRequests: true, HaveCPU: true}
	if diff := cmp.Diff(want, m, approx); !ok || diff != "" {
		t.Errorf("a minute after the traffic stopped: ok %v (-want +got):\n%s", ok, diff)
	}
	if n := len(w.intervals); n != 12 {
		t.Errorf("intervals kept: got %d, want 12 (a minute of 5 s)", n)
	}
}

func TestWindow_IgnoresSamplesNotAfterTheLast(t *testing.T) {
	a := steadyTask{reqPerSec: 1}
	w := NewWindow(time.Minute)
	feed(w, 0, 60, 10, 0, func(s int) map[string]TaskCounters { return map[string]TaskCounters{"a": a.at(s)} })
	before, _ := w.Metrics()
	w.Add(Sample{At: sec(60), Tasks: map[string]TaskCounters{"a": {Requests: 1000}}})
	w.Add(Sample{At: sec(30), Tasks: map[string]TaskCounters{"a": {Requests: 2000}}})
	if after, _ := w.Metrics(); after != before {
		t.Errorf("after samples at or before the last: got %+v, want %+v", after, before)
	}
}

func TestWindow_CPUNeedsItsReservation(t *testing.T) {
	a := steadyTask{reqPerSec: 1, cpuPerSecond: 100 * time.Millisecond}
	tasks := func(s int) map[string]TaskCounters { return map[string]TaskCounters{"a": a.at(s)} }
	w := NewWindow(time.Minute)
	feed(w, 0, 60, 10, 0, tasks)
	if m, _ := w.Metrics(); m.HaveCPU || !m.HaveRequests {
		t.Errorf("without CPUPerTask: got HaveCPU %v HaveRequests %v, want false and true", m.HaveCPU, m.HaveRequests)
	}
	feed(w, 70, 110, 10, 200*time.Millisecond, tasks)
	if m, _ := w.Metrics(); m.HaveCPU {
		t.Errorf("with CPUPerTask for 50 s of the minute: got HaveCPU, want none")
	}
	feed(w, 120, 120, 10, 200*time.Millisecond, tasks)
	if m, _ := w.Metrics(); !m.HaveCPU || math.Abs(m.CPUUtilization-50) > 1e-9 {
		t.Errorf("with CPUPerTask for the minute: got %v%% (have %v), want 50%%", m.CPUUtilization, m.HaveCPU)
	}
}

func TestWindow_NoTasksNoRates(t *testing.T) {
	w := NewWindow(time.Minute)
	feed(w, 0, 60, 10, time.Second, func(int) map[string]TaskCounters { return nil })
	m, ok := w.Metrics()
	if diff := cmp.Diff(Metrics{Over: time.Minute}, m); !ok || diff != "" {
		t.Errorf("no tasks: ok %v (-want +got):\n%s", ok, diff)
	}
}

func TestWindow_KeepsItsOwnCopyOfTheSample(t *testing.T) {
	w := NewWindow(time.Minute)
	tasks := map[string]TaskCounters{"a": {Started: sec(-1)}}
	w.Add(Sample{At: sec(0), Tasks: tasks})
	tasks["a"] = TaskCounters{Started: sec(-1), Requests: 1_000_000} // the caller reuses its map
	w.Add(Sample{At: sec(60), Tasks: map[string]TaskCounters{"a": {Started: sec(-1), Requests: 60}}})
	if m, _ := w.Metrics(); m.RequestCountPerTarget != 60 {
		t.Errorf("got %v per target per minute, want 60", m.RequestCountPerTarget)
	}
}

// TestWindow_Invariants feeds random task lives (tasks starting between
// samples or before them, stopping, counters starting again) and checks the
// averages: never negative or NaN, the per target rate between the slowest
// and the fastest task's (at most the fastest's when counters start again),
// and Tasks at most the most tasks ever running.
func TestWindow_Invariants(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := range 300 {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkRandomWindow(t, r) })
	}
}

// randomTask is a task that gets rate requests and uses cpu CPU time every
// second since its counters last started at base.
type randomTask struct {
	started, base int
	reported      bool // whether Started is given
	rate          uint64
	cpu           time.Duration
}

func checkRandomWindow(t *testing.T, r *rand.Rand) {
	period := time.Duration(10+r.IntN(60)) * time.Second
	resets := r.IntN(2) == 0
	w := NewWindow(period)
	tasks := map[string]*randomTask{}
	minRate, maxRate := uint64(math.MaxUint64), uint64(0)
	minCPU, maxCPU := time.Duration(math.MaxInt64), time.Duration(0)
	mostTasks, next, now := 0, 0, 0
	for range 200 {
		prev := now
		now += 1 + r.IntN(10)
		for id, tk := range tasks {
			switch {
			case r.IntN(20) == 0:
				delete(tasks, id)
			case resets && r.IntN(20) == 0:
				tk.base = prev + r.IntN(now-prev+1)
			}
		}
		for range r.IntN(3) {
			if len(tasks) >= 8 {
				break
			}
			started := prev + 1 + r.IntN(now-prev) // between the samples
			if r.IntN(4) == 0 {
				started = prev - r.IntN(30) // before the last sample, unseen
			}
			tk := &randomTask{started: started, base: started, reported: r.IntN(5) > 0,
				rate: uint64(r.IntN(10)), cpu: time.Duration(r.IntN(1000)) * time.Millisecond}
			tasks[fmt.Sprint("t", next)] = tk
			next++
			minRate, maxRate = min(minRate, tk.rate), max(maxRate, tk.rate)
			minCPU, maxCPU = min(minCPU, tk.cpu), max(maxCPU, tk.cpu)
		}
		mostTasks = max(mostTasks, len(tasks))
		s := Sample{At: sec(now), Tasks: map[string]TaskCounters{}, CPUPerTask: time.Second}
		for id, tk := range tasks {
			ran := now - tk.base
			c := TaskCounters{Requests: tk.rate * uint64(ran), CPU: tk.cpu * time.Duration(ran)}
			if tk.reported {
				c.Started = sec(tk.started)
			}
			s.Tasks[id] = c
		}
		w.Add(s)

		m, ok := w.Metrics()
		if !ok {
			continue
		}
		for name, v := range map[string]float64{"Tasks": m.Tasks, "requests": m.RequestCountPerTarget, "CPU": m.CPUUtilization} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("at %d s: %s is %v", now, name, v)
			}
		}
		if m.Over < period {
			t.Fatalf("at %d s: over %v, less than the period %v", now, m.Over, period)
		}
		if m.Tasks > float64(mostTasks)+1e-9 {
			t.Fatalf("at %d s: %v tasks on average, more than the %d ever running", now, m.Tasks, mostTasks)
		}
		if m.HaveRequests != (m.Tasks > 0) || m.HaveCPU != m.HaveRequests {
			t.Fatalf("at %d s: have requests %v and CPU %v with %v tasks", now, m.HaveRequests, m.HaveCPU, m.Tasks)
		}
		if !m.HaveRequests {
			continue
		}
		lo, hi := 60*float64(minRate), 60*float64(maxRate)
		if resets {
			lo = 0 // what a counter counted before starting again is lost
		}
		if m.RequestCountPerTarget < lo-1e-6 || m.RequestCountPerTarget > hi+1e-6 {
			t.Fatalf("at %d s: %v per target per minute, outside the tasks' [%v, %v]", now, m.RequestCountPerTarget, lo, hi)
		}
		cpuLo, cpuHi := 100*minCPU.Seconds(), 100*maxCPU.Seconds()
		if resets {
			cpuLo = 0
		}
		if m.CPUUtilization < cpuLo-1e-6 || m.CPUUtilization > cpuHi+1e-6 {
			t.Fatalf("at %d s: CPU %v%%, outside the tasks' [%v, %v]", now, m.CPUUtilization, cpuLo, cpuHi)
		}
	}
}
