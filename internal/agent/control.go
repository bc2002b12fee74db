package agent

import (
	"errors"
	"fmt"
	"slices"

	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/sched"
)

// ErrInvalid is returned for a request that cannot be carried out as
// asked; its message says why and what would do.
var ErrInvalid = errors.New("invalid request")

// SetDesired sets a service's desired count, as `shoal scale` (ECS's
// UpdateService --desired-count): it holds until the stack file gives the
// service another `desired`. An autoscaled service takes any count; its
// policies move it back into their range at their next decision.
func (a *Agent) SetDesired(service string, n int) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil {
		return fmt.Errorf("%w: no stack is running", ErrInvalid)
	}
	svc, ok := a.stack.Services[service]
	if !ok {
		return fmt.Errorf("%w: no service %q: the services are %v", ErrNotFound, service, sortedKeys(a.stack.Services))
	}
	switch {
	case svc.Daemon:
		return fmt.Errorf("%w: service %s is a daemon service: it runs one task per ACTIVE instance and has no desired count to set", ErrInvalid, service)
	case n < 0 || n > 1000:
		return fmt.Errorf("%w: desired count %d is out of range: use 0-1000", ErrInvalid, n)
	}
	if err := deploymentRoom(n, a.deploymentConfigLocked(service)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	ss := a.state.Services[service]
	was := ss.Desired
	ss.Desired = n
	a.events.add(Event{Time: a.clock.Now(), Service: service, Message: fmt.Sprintf("service %s desired count set to %d (was %d).", service, n, was)})
	a.saveLocked()
	a.poke()
	return nil
}

// deploymentRoom is spec.DeploymentRoom, which the agent cannot import:
// whether a rollout at this count could start or stop anything.
func deploymentRoom(desired int, cfg DeploymentConfig) error {
	most := desired * cfg.MaxPercent / 100
	least := (desired*cfg.MinHealthyPercent + 99) / 100
	if desired == 0 || most > desired || least < desired {
		return nil
	}
	return fmt.Errorf("with desired count %d, maximum_percent %d and minimum_healthy_percent %d a deployment could neither start nor stop a task; pick another count or change the service's deployment settings",
		desired, cfg.MaxPercent, cfg.MinHealthyPercent)
}

// InstanceStatus is an instance as `shoal instances` shows it, with the
// ECS container instance fields.
type InstanceStatus struct {
	Name              string `json:"name"`
	Address           string `json:"address"`
	Status            string `json:"status"`
	RunningTasks      int    `json:"running_tasks_count"`
	PendingTasks      int    `json:"pending_tasks_count"`
	RegisteredCPU     int    `json:"registered_cpu"`
	RegisteredMemory  int    `json:"registered_memory"`
	RemainingCPU      int    `json:"remaining_cpu"`
	RemainingMemory   int    `json:"remaining_memory"`
	AgentConnected    bool   `json:"agent_connected"`
	StatusDescription string `json:"status_reason,omitempty"`
}

// Instances lists the cluster's instances.
func (a *Agent) Instances() []InstanceStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []InstanceStatus
	for _, in := range a.instances {
		st := InstanceStatus{
			Name: in.Name, Address: in.Address, Status: string(a.instanceStatusLocked(in.Name)),
			AgentConnected: a.instanceStatusLocked(in.Name) != sched.InstanceStopped,
		}
		if a.stack != nil {
			st.RegisteredCPU, st.RegisteredMemory = a.stack.InstanceCPU, a.stack.InstanceMemory
		}
		st.RemainingCPU, st.RemainingMemory = st.RegisteredCPU, st.RegisteredMemory
		for _, t := range a.tasks {
			if t.instance.Name != in.Name || t.status == sched.Stopped {
				continue
			}
			if t.status == sched.Running {
				st.RunningTasks++
			} else {
				st.PendingTasks++
			}
			st.RemainingCPU -= t.def.CPU
			st.RemainingMemory -= t.def.Memory
		}
		out = append(out, st)
	}
	return out
}

// Instance actions for InstanceAction.
const (
	ActionDrain    = "drain"
	ActionActivate = "activate"
	ActionStop     = "stop"
)

// InstanceAction drains, activates or stops an instance:
//
//   - drain: DRAINING, as ECS: no new task goes there, and its services'
//     tasks are replaced elsewhere first (within each service's minimum
//     healthy and maximum percent), then stopped the proper way;
//   - activate: ACTIVE again, taking new tasks;
//   - stop: a simulated instance failure: its tasks die at once (SIGKILL,
//     no drain) and the services replace them on the other instances.
func (a *Agent) InstanceAction(name, action string) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.ContainsFunc(a.instances, func(in instance.Instance) bool { return in.Name == name }) {
		var names []string
		for _, in := range a.instances {
			names = append(names, in.Name)
		}
		return fmt.Errorf("%w: no instance %q: the instances are %v", ErrNotFound, name, names)
	}
	was := a.instanceStatusLocked(name)
	var to sched.InstanceStatus
	switch action {
	case ActionDrain:
		to = sched.InstanceDraining
		if was == sched.InstanceStopped {
			return fmt.Errorf("%w: instance %s is STOPPED: activate it first", ErrInvalid, name)
		}
	case ActionActivate:
		to = sched.InstanceActive
	case ActionStop:
		to = sched.InstanceStopped
	default:
		return fmt.Errorf("%w: unknown instance action %q: use drain, activate or stop", ErrInvalid, action)
	}
	now := a.clock.Now()
	if to == sched.InstanceActive {
		delete(a.state.Instances, name)
	} else {
		a.state.Instances = cloneMap(a.state.Instances)
		a.state.Instances[name] = to
	}
	a.events.add(Event{Time: now, Message: fmt.Sprintf("container instance %s: %s → %s.", name, was, to)})
	if to == sched.InstanceStopped {
		a.killInstanceLocked(name)
	}
	a.saveLocked()
	a.poke()
	return nil
}

// killInstanceLocked makes every task on a stopped instance die at once.
func (a *Agent) killInstanceLocked(name string) {
	for _, t := range a.tasks {
		if t.instance.Name != name || t.status == sched.Stopped {
			continue
		}
		t.killed = true
		a.requestStopLocked(t, "Host EC2 (instance "+name+") terminated.", false)
	}
}

func (a *Agent) activeInstancesLocked() int {
	n := 0
	for _, in := range a.instances {
		if a.instanceStatusLocked(in.Name) == sched.InstanceActive {
			n++
		}
	}
	return n
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
