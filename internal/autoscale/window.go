package autoscale

import (
	"maps"
	"math"
	"time"
)

// TaskCounters are one task's cumulative counters at one time.
//
// Counters are per task, not summed over the service, because a sum is not
// monotonic: when a task stops its counts leave the sum, and a new task
// starts from 0, so the difference of two sums can be negative or miss a
// burst. Per task, the Window takes each task's own increase between two
// samples, and counts a task only over the time it was seen running: a
// stopped task simply stops contributing, a new one contributes from 0.
type TaskCounters struct {
	// Started is when the task started running. A task missing from the
	// previous sample counts from 0 if it started at or after that sample
	// (all its counts are then new); otherwise, or when Started is zero, its
	// counts so far are a baseline and it counts from the next sample on.
	Started time.Time
	// Requests is the number of requests the load balancer has sent to the
	// task (proxy.TargetHealth.Requests of its target). A value below the
	// previous one means the counter started again (the target was
	// registered again): the value itself is the increase.
	Requests uint64
	// CPU is the CPU time the task has used since it started; like
	// Requests, a value below the previous one means it started again.
	CPU time.Duration
}

// Sample is one reading of a service's running tasks.
type Sample struct {
	At time.Time
	// Tasks are the service's running tasks, by task id.
	Tasks map[string]TaskCounters
	// CPUPerTask is the CPU each task reserves, as CPU time per second:
	// time.Second is one vCPU (1024 CPU units in a task definition). 0 when
	// unknown: the Window then reports no CPU utilization.
	CPUPerTask time.Duration
}

// Metrics are a service's averages over a Window's period.
type Metrics struct {
	// Over is the time the averages cover: at least the Window's period,
	// and less than the period plus the time between the two oldest
	// samples kept.
	Over time.Duration
	// Tasks is the average number of running tasks over Over: the capacity
	// the metrics were measured with.
	Tasks float64
	// RequestCountPerTarget is ALBRequestCountPerTarget: requests per task
	// per minute. Set when HaveRequests.
	RequestCountPerTarget float64
	// CPUUtilization is ECSServiceAverageCPUUtilization: the CPU time used
	// in percent of the CPU reserved. Set when HaveCPU.
	CPUUtilization float64
	// HaveRequests is set when some task ran over Over; HaveCPU when, in
	// addition, every sample gave CPUPerTask.
	HaveRequests, HaveCPU bool
}

// value returns the value of the named metric, and whether there is one to
// scale on: none without a running task (per task of nothing is no value).
func (m Metrics) value(metric string) (float64, bool) {
	var v float64
	var have bool
	switch metric {
	case ALBRequestCountPerTarget:
		v, have = m.RequestCountPerTarget, m.HaveRequests
	case ECSServiceAverageCPUUtilization:
		v, have = m.CPUUtilization, m.HaveCPU
	}
	if !have || !(m.Tasks > 0) || !(v >= 0) || math.IsInf(v, 1) || math.IsInf(m.Tasks, 1) {
		return 0, false
	}
	return v, true
}

// Window keeps the samples of one service over a period and averages them.
// It stores, for each two consecutive samples, what the tasks did in
// between, and only the last sample itself. The zero Window is not ready to
// use: call NewWindow.
type Window struct {
	period    time.Duration
	last      Sample // the newest sample; At is zero before the first
	intervals []interval
}

// interval is what the counted tasks did between two consecutive samples.
// A task is counted when it is in both samples, or in the later one and
// started within the interval.
type interval struct {
	from     time.Time
	requests uint64
	cpu      time.Duration
	// taskTime is the time the counted tasks ran within the interval,
	// summed over them.
	taskTime time.Duration
	// cpuPerTask is the later sample's; 0 when unknown.
	cpuPerTask time.Duration
}

// NewWindow returns an empty Window that averages over period (AWS's
// metrics are one-minute datapoints).
func NewWindow(period time.Duration) *Window {
	return &Window{period: period}
}

// Add records a sample. A sample not later than the previous one is
// ignored. The window keeps the newest intervals that still cover the
// period and drops older ones.
func (w *Window) Add(s Sample) {
	if !w.last.At.IsZero() && !s.At.After(w.last.At) {
		return
	}
	s.Tasks = maps.Clone(s.Tasks) // the caller may reuse its map
	if !w.last.At.IsZero() {
		w.intervals = append(w.intervals, between(w.last, s))
	}
	w.last = s
	// Drop the oldest interval while the others still cover the period.
	drop := 0
	for drop+1 < len(w.intervals) && s.At.Sub(w.intervals[drop+1].from) >= w.period {
		drop++
	}
	w.intervals = append(w.intervals[:0], w.intervals[drop:]...)
}

// Metrics returns the averages over the window, and false until the samples
// span the period.
func (w *Window) Metrics() (Metrics, bool) {
	if len(w.intervals) == 0 {
		return Metrics{}, false
	}
	over := w.last.At.Sub(w.intervals[0].from)
	if over < w.period {
		return Metrics{}, false
	}
	var (
		requests        uint64
		cpu, taskTime   time.Duration
		cpuSeconds      float64 // CPU time reserved for the counted tasks
		cpuPerTaskKnown = true
	)
	for _, iv := range w.intervals {
		requests += iv.requests
		cpu += iv.cpu
		taskTime += iv.taskTime
		cpuSeconds += iv.taskTime.Seconds() * iv.cpuPerTask.Seconds()
		cpuPerTaskKnown = cpuPerTaskKnown && iv.cpuPerTask > 0
	}
	m := Metrics{Over: over, Tasks: taskTime.Seconds() / over.Seconds()}
	if taskTime > 0 {
		m.RequestCountPerTarget = float64(requests) / taskTime.Minutes()
		m.HaveRequests = true
	}
	if taskTime > 0 && cpuPerTaskKnown {
		m.CPUUtilization = 100 * cpu.Seconds() / cpuSeconds
		m.HaveCPU = true
	}
	return m, true
}

// between is what the tasks of cur did since prev.
func between(prev, cur Sample) interval {
	iv := interval{from: prev.At, cpuPerTask: max(cur.CPUPerTask, 0)}
	for id, c := range cur.Tasks {
		p, seen := prev.Tasks[id]
		switch {
		case seen:
			iv.requests += increase(c.Requests, p.Requests)
			iv.cpu += increase(c.CPU, p.CPU)
			iv.taskTime += cur.At.Sub(prev.At)
		case !c.Started.IsZero() && !c.Started.Before(prev.At):
			// Started within the interval: everything it counted is new.
			iv.requests += c.Requests
			iv.cpu += max(c.CPU, 0)
			iv.taskTime += max(cur.At.Sub(c.Started), 0)
		}
		// Otherwise it ran before prev without being in it: its counts
		// are a baseline for the next interval.
	}
	return iv
}

// increase is how much a cumulative counter grew from prev to cur. A
// counter that went down started again from 0 in between: it grew by at
// least cur (what it counted before starting again is lost).
func increase[T ~uint64 | ~int64](cur, prev T) T {
	if cur >= prev {
		return cur - prev
	}
	return max(cur, 0)
}
