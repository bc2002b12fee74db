package agent

import (
	"time"

	"github.com/shoalhq/shoal/internal/autoscale"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/sched"
)

// scaler is the agent's autoscaling memory: a metrics window per service
// and what was last said about it. The loop owns it.
type scaler struct {
	windows map[string]*autoscale.Window
	said    map[string]said
}

// said is the last decision recorded as an event, so that one that
// repeats (a cooldown holding a scale-out back) is said once.
type said struct {
	action autoscale.Action
	block  autoscale.Block
}

func newScaler() *scaler {
	return &scaler{windows: map[string]*autoscale.Window{}, said: map[string]said{}}
}

// sampleEvery is how often the loop samples autoscaled services' metrics:
// a quarter of the shortest period, between 250ms and 5s. Zero: no
// service autoscales.
func (a *Agent) sampleEvery() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var every time.Duration
	if a.stack == nil {
		return 0
	}
	for _, svc := range a.stack.Services {
		if svc.Autoscaling != nil {
			d := min(max(svc.Autoscaling.Period/4, 250*time.Millisecond), 5*time.Second)
			if every == 0 || d < every {
				every = d
			}
		}
	}
	return every
}

// scaledTask is what sampling needs of a running task of an autoscaled
// service.
type scaledTask struct {
	service, id, group, addr string
	started                  time.Time
	handle                   driver.Task
	cpu                      int
}

// autoscale samples the metrics of every autoscaled service (requests from
// the load balancer, CPU time from the task processes: neither under the
// agent's lock) and lets autoscale.Decide move its desired count.
func (a *Agent) autoscale() {
	tasks := a.scaledTasks()
	requests := map[string]uint64{}
	for _, th := range a.cfg.Balancer.Targets() {
		requests[targetKey(th.Group, th.Target)] = th.Requests
	}
	now := a.clock.Now()
	samples := map[string]autoscale.Sample{}
	for _, t := range tasks {
		s, ok := samples[t.service]
		if !ok {
			s = autoscale.Sample{At: now, Tasks: map[string]autoscale.TaskCounters{}, CPUPerTask: cpuPerTask(t.cpu)}
		}
		c := autoscale.TaskCounters{Started: t.started, Requests: requests[targetKey(t.group, t.addr)]}
		if cpu, err := t.handle.CPUTime(); err == nil {
			c.CPU = cpu
		} else {
			s.CPUPerTask = 0 // no CPU figure for the service this time
		}
		s.Tasks[t.id] = c
		samples[t.service] = s
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil || a.applying || a.closing {
		return
	}
	for name, svc := range a.stack.Services {
		if svc.Autoscaling == nil {
			continue
		}
		s, ok := samples[name]
		if !ok {
			s = autoscale.Sample{At: now, Tasks: map[string]autoscale.TaskCounters{}}
		}
		a.scaleLocked(name, svc.Autoscaling, s, now)
	}
}

// cpuPerTask is a task's CPU reservation as CPU time per second: 1024
// units are one vCPU; without a reservation, one vCPU.
func cpuPerTask(units int) time.Duration {
	if units <= 0 {
		return time.Second
	}
	return time.Duration(units) * time.Second / 1024
}

func (a *Agent) scaleLocked(name string, as *Autoscaling, s autoscale.Sample, now time.Time) {
	w := a.scaler.windows[name]
	if w == nil {
		w = autoscale.NewWindow(as.Period)
		a.scaler.windows[name] = w
	}
	w.Add(s)
	m, ok := w.Metrics()
	if !ok {
		return
	}
	ss := a.state.Services[name]
	cfg := scalingConfig(as)
	st := autoscale.State{LastScaleOut: ss.LastScaleOut, LastScaleIn: ss.LastScaleIn}
	deploying := ss.primary().Rollout == sched.RolloutInProgress
	d := autoscale.Decide(cfg, ss.Desired, m, st, deploying, now)
	last := a.scaler.said[name]
	a.scaler.said[name] = said{d.Action, d.Block}
	if d.Action == autoscale.NoChange {
		if d.Reason != "" && (d.Block != last.block || last.action != autoscale.NoChange) {
			a.events.add(Event{Time: now, Service: name, Message: "service " + name + " autoscaling: " + d.Reason})
		}
		return
	}
	st = st.Record(d, now)
	ss.Desired, ss.LastScaleOut, ss.LastScaleIn = d.Desired, st.LastScaleOut, st.LastScaleIn
	a.events.add(Event{Time: now, Service: name, Message: "service " + name + " autoscaling: " + d.Reason})
	a.saveLocked()
	a.poke()
}

func (a *Agent) scaledTasks() []scaledTask {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil {
		return nil
	}
	var out []scaledTask
	for _, t := range a.tasks {
		svc, ok := a.stack.Services[t.service]
		if !ok || svc.Autoscaling == nil || t.status != sched.Running || t.stopRequested || t.handle == nil {
			continue
		}
		out = append(out, scaledTask{service: t.service, id: t.id, group: t.targetGroup, addr: t.addr,
			started: t.startedAt, handle: t.handle, cpu: t.def.CPU})
	}
	return out
}

// scalingConfig is a service's autoscaling as package autoscale takes it.
func scalingConfig(as *Autoscaling) autoscale.Config {
	cfg := autoscale.Config{Min: as.Min, Max: as.Max}
	for _, p := range as.Policies {
		cfg.Policies = append(cfg.Policies, autoscale.Policy{
			Metric: p.Metric, Target: p.Target, DisableScaleIn: p.DisableScaleIn,
			ScaleOutCooldown: p.ScaleOutCooldown, ScaleInCooldown: p.ScaleInCooldown,
		})
	}
	return cfg
}
