package agent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shoalhq/shoal/internal/sched"
)

// Revision statuses, as ECS names a task definition's.
const (
	RevisionActive   = "ACTIVE"
	RevisionInactive = "INACTIVE"
)

// StopUserInitiated is the stop code of a task stopped by StopTask.
const StopUserInitiated = "UserInitiated"

// FamilyRevision is one revision of a task definition family, as
// DescribeTaskDefinition shows it.
type FamilyRevision struct {
	Family string `json:"family"`
	Revision
}

// Name is the revision's "family:number".
func (r FamilyRevision) Name() string { return revisionName(r.Family, r.Number) }

func revisionName(family string, number int) string { return family + ":" + strconv.Itoa(number) }

// ServiceUpdate is a change to a service, as ECS's UpdateService takes it.
// Each field left zero keeps what the service has.
type ServiceUpdate struct {
	// Desired, if set, is the new desired count (as SetDesired).
	Desired *int
	// TaskDefinition is "family" (its latest ACTIVE revision) or
	// "family:number": the service deploys that revision.
	TaskDefinition string
	// ForceNewDeployment starts a new deployment even when nothing else
	// changes, replacing every task.
	ForceNewDeployment bool
	// Deployment, if set, replaces the service's deployment settings.
	Deployment *DeploymentConfig
}

// UpdateService changes a service as ECS's UpdateService does, all or
// nothing: deployment settings, desired count, and a new deployment when
// the revision changes or one is forced (the same deployment `shoal
// deploy` makes). What it sets holds until the stack file changes the
// same thing, and is recorded.
func (a *Agent) UpdateService(name string, u ServiceUpdate) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil {
		return fmt.Errorf("%w: no stack is running", ErrInvalid)
	}
	svc, ok := a.stack.Services[name]
	if !ok {
		return fmt.Errorf("%w: no service %q: the services are %v", ErrNotFound, name, sortedKeys(a.stack.Services))
	}
	ss := a.state.Services[name].clone()
	cfg := a.deploymentConfigLocked(name)
	if u.Deployment != nil {
		if err := checkDeploymentConfig(*u.Deployment); err != nil {
			return err
		}
		cfg = *u.Deployment
		ss.DeploymentConfig = &cfg
	}
	if u.Desired != nil {
		n := *u.Desired
		switch {
		case svc.Daemon:
			return fmt.Errorf("%w: service %s is a daemon service: it runs one task per ACTIVE instance and has no desired count to set", ErrInvalid, name)
		case n < 0 || n > 1000:
			return fmt.Errorf("%w: desired count %d is out of range: use 0-1000", ErrInvalid, n)
		}
		ss.Desired = n
	}
	if err := deploymentRoom(ss.Desired, cfg); err != nil && !svc.Daemon {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	p := ss.primary()
	rev := p.TaskDefinition
	if u.TaskDefinition != "" {
		r, err := a.resolveRevisionLocked(u.TaskDefinition)
		if err != nil {
			return err
		}
		rev = r
	}
	now := a.clock.Now()
	var started []Started
	if rev != p.TaskDefinition || u.ForceNewDeployment {
		if p.active() {
			return fmt.Errorf("%w: service %s: deployment %s of %s is at %s: a new one can start once it completed or rolled back",
				ErrInvalid, name, p.ID, p.TaskDefinition, p.Strategy.Stage)
		}
		if svc.Strategy != nil {
			started = append(started, startStrategyDeployment(name, svc, ss, rev, a.cfg.TimeScale, now))
		} else {
			started = append(started, startDeployment(name, ss, rev, p.TargetGroup, now))
		}
	}
	if u.Desired != nil && *u.Desired != a.state.Services[name].Desired {
		a.events.add(Event{Time: now, Service: name, Message: fmt.Sprintf("service %s desired count set to %d (was %d).", name, *u.Desired, a.state.Services[name].Desired)})
	}
	a.state.Services[name] = ss
	a.announceStartedLocked(started)
	a.saveLocked()
	a.poke()
	return nil
}

// checkDeploymentConfig checks deployment settings as ECS does.
func checkDeploymentConfig(c DeploymentConfig) error {
	switch {
	case c.MinHealthyPercent < 0 || c.MinHealthyPercent > 100:
		return fmt.Errorf("%w: minimum healthy percent %d: use 0-100", ErrInvalid, c.MinHealthyPercent)
	case c.MaxPercent < 100 || c.MaxPercent > 200:
		return fmt.Errorf("%w: maximum percent %d: use 100-200", ErrInvalid, c.MaxPercent)
	case c.Rollback && !c.CircuitBreaker:
		return fmt.Errorf("%w: rollback needs the deployment circuit breaker enabled", ErrInvalid)
	}
	return nil
}

// resolveRevisionLocked names the revision ref means: "family:number", or
// "family" for its latest ACTIVE revision. An INACTIVE revision cannot
// start a deployment, as in ECS.
func (a *Agent) resolveRevisionLocked(ref string) (string, error) {
	family, _, hasNum := strings.Cut(ref, ":")
	revs := a.state.Revisions[family]
	if len(revs) == 0 {
		return "", fmt.Errorf("%w: no task definition family %q: the families are %v", ErrNotFound, family, sortedKeys(a.state.Revisions))
	}
	if !hasNum {
		for i := len(revs) - 1; i >= 0; i-- {
			if revs[i].Status != RevisionInactive {
				return revisionName(family, revs[i].Number), nil
			}
		}
		return "", fmt.Errorf("%w: task definition family %s has no ACTIVE revision", ErrInvalid, family)
	}
	r := a.state.find(ref)
	if r == nil {
		return "", fmt.Errorf("%w: no task definition %s: %s has revisions 1 to %d", ErrNotFound, ref, family, revs[len(revs)-1].Number)
	}
	if r.Status == RevisionInactive {
		return "", fmt.Errorf("%w: task definition %s is INACTIVE: it cannot start a deployment; register a new revision", ErrInvalid, ref)
	}
	return revisionName(family, r.Number), nil
}

// StopTask stops a task (its id, or a unique prefix of it), as ECS's
// StopTask: it is deregistered and drained, then stopped the ECS way,
// with stop code UserInitiated and reason as its stopped reason. A
// service replaces it. Stopping a task that is already stopping or
// stopped does nothing.
func (a *Agent) StopTask(ref, reason string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	all := make([]TaskStatus, 0, len(a.tasks))
	for _, t := range a.tasks {
		all = append(all, TaskStatus{ID: t.id})
	}
	found, err := FindTask(all, ref)
	if err != nil {
		return err
	}
	t := a.tasks[found.ID]
	if t.stopRequested || t.status == sched.Stopped {
		return nil
	}
	t.stopRequested = true
	t.stopCode, t.stopReason = StopUserInitiated, reason
	close(t.stop)
	a.events.add(Event{Time: a.clock.Now(), Service: t.service, Task: t.id, Message: fmt.Sprintf("task %s stopping: %s.", t.id, strings.TrimSuffix(reason, "."))})
	a.poke()
	return nil
}

// TaskDefinitions lists every family's revisions, by family then number.
func (a *Agent) TaskDefinitions() []FamilyRevision {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []FamilyRevision
	for _, family := range sortedKeys(a.state.Revisions) {
		for _, r := range a.state.Revisions[family] {
			out = append(out, familyRevision(family, r))
		}
	}
	return out
}

func familyRevision(family string, r *Revision) FamilyRevision {
	fr := FamilyRevision{Family: family, Revision: *r}
	if fr.Status == "" {
		fr.Status = RevisionActive
	}
	return fr
}

// RegisterTaskDefinition registers def as the next revision of family, as
// ECS's RegisterTaskDefinition: always a new revision, even when its
// content is a former one's. Its runner must be able to start it. A
// service runs it once UpdateService names it.
func (a *Agent) RegisterTaskDefinition(family string, def TaskDefinition) (FamilyRevision, error) {
	if family == "" {
		return FamilyRevision{}, fmt.Errorf("%w: a task definition needs a family", ErrInvalid)
	}
	if _, ok := a.cfg.Runners[def.Kind]; !ok {
		return FamilyRevision{}, fmt.Errorf("%w: task definition kind %q has no runner", ErrInvalid, def.Kind)
	}
	if c, ok := a.cfg.Runners[def.Kind].(Checker); ok {
		if err := c.Check(def.Task); err != nil {
			return FamilyRevision{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil {
		return FamilyRevision{}, fmt.Errorf("%w: no stack is running", ErrInvalid)
	}
	revs := a.state.Revisions[family]
	n := 1
	if len(revs) > 0 {
		n = revs[len(revs)-1].Number + 1
	}
	r := &Revision{Number: n, Hash: definitionHash(def), Definition: def, Status: RevisionActive, RegisteredAt: a.clock.Now()}
	a.state.Revisions[family] = append(slices.Clone(revs), r)
	a.events.add(Event{Time: r.RegisteredAt, Message: fmt.Sprintf("task definition %s registered.", revisionName(family, n))})
	a.saveLocked()
	return familyRevision(family, r), nil
}

// DeregisterTaskDefinition makes a revision INACTIVE, as ECS's
// DeregisterTaskDefinition: no new deployment may use it; services and
// tasks that run it keep running, and may still replace their tasks.
func (a *Agent) DeregisterTaskDefinition(family string, number int) (FamilyRevision, error) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	name := revisionName(family, number)
	r := a.state.find(name)
	if r == nil {
		return FamilyRevision{}, fmt.Errorf("%w: no task definition %s", ErrNotFound, name)
	}
	if r.Status != RevisionInactive {
		c := *r // revisions are shared with copies of the state: replace, never change
		c.Status, c.DeregisteredAt = RevisionInactive, a.clock.Now()
		revs := slices.Clone(a.state.Revisions[family])
		for i := range revs {
			if revs[i] == r {
				revs[i] = &c
			}
		}
		a.state.Revisions[family] = revs
		r = &c
		a.events.add(Event{Time: c.DeregisteredAt, Message: fmt.Sprintf("task definition %s deregistered.", name)})
		a.saveLocked()
	}
	return familyRevision(family, r), nil
}
