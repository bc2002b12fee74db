package agent

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
)

// faultSubject is what a fault acts on, found before anything changes.
type faultSubject struct {
	service string
	task    driver.Signaler // kill-task, pause-task
}

// InjectFault injects a fault (`shoal fault`, POST /v1/faults): it kills
// or pauses a task, stops an instance, fails a target's health checks, or
// adds latency or errors to a target group's answers, records the start
// as an event and, for a fault with a duration, its end when it expires
// (the loop wakes for it) or RemoveFault ends it. A request with bad
// values is an error matching ErrInvalid, one naming something that does
// not exist matches ErrNotFound; either changes nothing.
func (a *Agent) InjectFault(req fault.Request) (fault.Fault, error) {
	if err := req.Validate(); err != nil {
		return fault.Fault{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	a.faultMu.Lock()
	defer a.faultMu.Unlock()
	sub, err := a.faultSubject(&req)
	if err != nil {
		return fault.Fault{}, err
	}
	if f, ok := a.faults.Conflict(req); ok {
		return fault.Fault{}, fmt.Errorf("%w: fault %s (%s) is active on the same thing until %s: remove it first (shoal fault rm %s)",
			ErrInvalid, f.ID, f.Kind, f.Until.Format(time.TimeOnly), f.ID)
	}
	if err := a.startFault(req, sub); err != nil {
		return fault.Fault{}, err
	}
	f := a.faults.Add(req, a.clock.Now())
	if f.Kind == fault.PauseTask {
		a.setPausedBy(f.Task, f.ID)
	}
	a.events.add(Event{Time: f.Created, Service: sub.service, Task: f.Task, Target: f.Target, Message: f.StartMessage()})
	a.poke() // the loop wakes at the new fault's end
	return f, nil
}

// Faults lists the active faults, oldest first.
func (a *Agent) Faults() []fault.Fault {
	a.faultMu.Lock()
	defer a.faultMu.Unlock()
	return a.faults.Active()
}

// RemoveFault ends an active fault before its time, and records it.
func (a *Agent) RemoveFault(id string) error {
	a.faultMu.Lock()
	defer a.faultMu.Unlock()
	f, ok := a.faults.Remove(id)
	if !ok {
		return fmt.Errorf("%w: no active fault %q: the active faults are %v (kill-task and stop-instance without a duration are done at once and never active)",
			ErrNotFound, id, a.faults.IDs())
	}
	a.endFault(f, true)
	return nil
}

// expireFaults ends the faults whose time is up, and returns when the
// next one ends (zero: none is active).
func (a *Agent) expireFaults() time.Time {
	a.faultMu.Lock()
	defer a.faultMu.Unlock()
	for _, f := range a.faults.Expire(a.clock.Now()) {
		a.endFault(f, false)
	}
	return a.faults.Next()
}

// faultSubject finds what req acts on, and puts a task's full id in
// req.Task.
func (a *Agent) faultSubject(req *fault.Request) (faultSubject, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil {
		return faultSubject{}, fmt.Errorf("%w: no stack is running", ErrInvalid)
	}
	switch req.Kind {
	case fault.KillTask, fault.PauseTask:
		return a.faultTaskLocked(req)
	case fault.StopInstance:
		names := make([]string, len(a.instances))
		for i, in := range a.instances {
			names[i] = in.Name
		}
		if !slices.ContainsFunc(a.instances, func(in instance.Instance) bool { return in.Name == req.Instance }) {
			return faultSubject{}, fmt.Errorf("%w: no instance %q: the instances are %v", ErrNotFound, req.Instance, names)
		}
		if a.instanceStatusLocked(req.Instance) == sched.InstanceStopped {
			return faultSubject{}, fmt.Errorf("%w: instance %s is already STOPPED", ErrInvalid, req.Instance)
		}
		return faultSubject{}, nil
	}
	if _, ok := a.base.TargetGroups[req.TargetGroup]; !ok {
		return faultSubject{}, fmt.Errorf("%w: no target group %q: the target groups are %v", ErrNotFound, req.TargetGroup, sortedKeys(a.base.TargetGroups))
	}
	if t := a.byTarget[targetKey(req.TargetGroup, req.Target)]; t != nil {
		return faultSubject{service: t.service}, nil
	}
	return faultSubject{}, nil
}

func (a *Agent) faultTaskLocked(req *fault.Request) (faultSubject, error) {
	all := make([]TaskStatus, 0, len(a.tasks))
	for _, t := range a.tasks {
		all = append(all, TaskStatus{ID: t.id})
	}
	found, err := FindTask(all, req.Task)
	if err != nil {
		return faultSubject{}, err
	}
	t := a.tasks[found.ID]
	req.Task = t.id
	if t.status == sched.Stopped || t.handle == nil || t.stopRequested {
		return faultSubject{}, fmt.Errorf("%w: task %s is %s: only a task that runs and is not stopping can be killed or paused", ErrInvalid, t.id, t.status)
	}
	sig, ok := t.handle.(driver.Signaler)
	if !ok {
		return faultSubject{}, fmt.Errorf("%w: task %s: its driver cannot kill or pause it", ErrInvalid, t.id)
	}
	return faultSubject{service: t.service, task: sig}, nil
}

// startFault carries req out.
func (a *Agent) startFault(req fault.Request, sub faultSubject) error {
	lb := a.cfg.Balancer
	var err error
	switch req.Kind {
	case fault.KillTask:
		err = sub.task.Kill()
	case fault.PauseTask:
		err = sub.task.Pause()
	case fault.StopInstance:
		err = a.InstanceAction(req.Instance, ActionStop)
	case fault.FailHealth:
		err = lb.SetHealthFault(req.TargetGroup, req.Target, true)
		if errors.Is(err, proxy.ErrUnknownTarget) {
			err = fmt.Errorf("%w: no target %s in target group %s: its targets are %v", ErrNotFound, req.Target, req.TargetGroup, a.targetsOf(req.TargetGroup))
		}
	case fault.Latency, fault.Errors:
		err = lb.SetResponseFault(req.TargetGroup, &proxy.ResponseFault{
			Fraction: req.Fraction, Delay: time.Duration(req.Delay), Status: req.Status,
		})
	}
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
		return fmt.Errorf("fault %s: %w", req.Kind, err)
	}
	return err
}

// setPausedBy marks a task as paused by fault id ("": no longer), for
// `shoal ps`.
func (a *Agent) setPausedBy(id, faultID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.tasks[id]; t != nil {
		t.pausedBy = faultID
	}
}

// targetsOf are the registered targets of a group, for error messages.
func (a *Agent) targetsOf(group string) []string {
	var out []string
	for _, th := range a.cfg.Balancer.Targets() {
		if th.Group == group && th.State != proxy.StateDraining && th.State != proxy.StateUnused {
			out = append(out, th.Target)
		}
	}
	return out
}

// endFault undoes f and records its end. What it acted on may be gone by
// then (the paused task replaced, the target deregistered): there is
// nothing left to undo, and the end is recorded all the same.
func (a *Agent) endFault(f fault.Fault, removed bool) {
	lb := a.cfg.Balancer
	var err error
	gone := false
	switch f.Kind {
	case fault.PauseTask:
		a.setPausedBy(f.Task, "")
		var h driver.Task
		a.mu.Lock()
		if t := a.tasks[f.Task]; t != nil && t.status != sched.Stopped {
			h = t.handle
		}
		a.mu.Unlock()
		sig, ok := h.(driver.Signaler)
		if ok {
			err = sig.Resume()
		}
		gone = !ok || err != nil
	case fault.StopInstance:
		err = a.InstanceAction(f.Instance, ActionActivate)
	case fault.FailHealth:
		err = lb.SetHealthFault(f.TargetGroup, f.Target, false)
		gone = err != nil
	case fault.Latency, fault.Errors:
		err = lb.SetResponseFault(f.TargetGroup, nil)
	}
	if err != nil {
		a.log.Debug("ending a fault: nothing left to undo", "fault", f.ID, "err", err)
	}
	a.events.add(Event{Time: a.clock.Now(), Task: f.Task, Target: f.Target, Message: f.EndMessage(removed, gone)})
}
