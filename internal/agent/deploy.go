package agent

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/strategy"
)

// Deployment statuses, as ECS names them.
const (
	DeploymentPrimary  = "PRIMARY"  // the revision the service runs now
	DeploymentActive   = "ACTIVE"   // an older one whose tasks are being replaced
	DeploymentInactive = "INACTIVE" // completely replaced
)

// historyKept is how many INACTIVE deployments a service remembers: the
// circuit breaker rolls back to the last COMPLETED one, which may be
// among them.
const historyKept = 5

// Deployment is a service moving to a task definition revision, with the
// ECS fields.
type Deployment struct {
	ID             string             `json:"id"`
	Status         string             `json:"status"`
	TaskDefinition string             `json:"task_definition"`
	TargetGroup    string             `json:"target_group,omitempty"`
	Rollout        sched.RolloutState `json:"rollout_state"`
	Reason         string             `json:"rollout_state_reason"`
	// FailedTasks counts the deployment's tasks that failed in a row, for
	// the circuit breaker; a task of it turning healthy resets it, as ECS.
	FailedTasks int `json:"failed_tasks"`
	// RollbackOf is set on a deployment the circuit breaker rolled back
	// to: the id of the deployment that failed. Its own breaker does not
	// roll back again.
	RollbackOf string    `json:"rollback_of,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Strategy is a blue_green, canary or linear deployment's progress
	// through the lifecycle stages, with its timeline (nil: rolling).
	Strategy *strategy.State `json:"strategy,omitempty"`
	// TimeScale divides the deployment's bake and wait times (0 or 1: as
	// configured).
	TimeScale float64 `json:"time_scale,omitempty"`
}

// Revision is one revision of a task definition: a task definition whose
// content changed gets the next number, as ECS registers catalog:2.
type Revision struct {
	Number     int            `json:"number"`
	Hash       string         `json:"hash"`
	Definition TaskDefinition `json:"definition"`
	// Status is RevisionActive ("" in records made before it existed) or
	// RevisionInactive once deregistered.
	Status         string    `json:"status,omitempty"`
	RegisteredAt   time.Time `json:"registered_at,omitzero"`
	DeregisteredAt time.Time `json:"deregistered_at,omitzero"`
}

// serviceState is what the agent keeps of a service beyond its stack
// entry: its desired count as it is now, and its deployments.
type serviceState struct {
	Desired int `json:"desired"`
	// FileDesired is what the stack file said when it was last applied:
	// a count set by `shoal scale` or autoscaling holds until the file
	// says another.
	FileDesired int `json:"file_desired"`
	// Deployments: PRIMARY first, then ACTIVE ones, newest first.
	Deployments []*Deployment `json:"deployments"`
	// History is the last INACTIVE deployments, newest first.
	History      []*Deployment `json:"history,omitempty"`
	LastScaleOut time.Time     `json:"last_scale_out,omitzero"`
	LastScaleIn  time.Time     `json:"last_scale_in,omitzero"`
	// FileRevision is the revision the stack file's task definition came
	// to when it was last applied: a service moved to another revision by
	// UpdateService stays on it until the file's task definition changes.
	FileRevision string `json:"file_revision,omitempty"`
	// DeploymentConfig is set by UpdateService over the file's settings,
	// which FileDeploymentConfig records; it holds until the file's
	// settings change.
	DeploymentConfig     *DeploymentConfig `json:"deployment_config,omitempty"`
	FileDeploymentConfig *DeploymentConfig `json:"file_deployment_config,omitempty"`
}

func (ss *serviceState) primary() *Deployment {
	if ss == nil || len(ss.Deployments) == 0 {
		return nil
	}
	return ss.Deployments[0]
}

// clone copies the service state, so that a change can be made aside and
// swapped in whole. Deployments are shared until changed.
func (ss *serviceState) clone() *serviceState {
	if ss == nil {
		return &serviceState{}
	}
	c := *ss
	c.Deployments = slices.Clone(ss.Deployments)
	c.History = slices.Clone(ss.History)
	return &c
}

// state is everything the agent must not forget: task definition
// revisions, services' desired counts and deployments, instance statuses.
// It is saved with the stack, in one atomic write.
type state struct {
	Revisions map[string][]*Revision          `json:"revisions"`
	Services  map[string]*serviceState        `json:"services"`
	Instances map[string]sched.InstanceStatus `json:"instances,omitempty"`
	// LoadBalancer is what was changed through the API over the stack
	// file's load balancer (nil: nothing).
	LoadBalancer *lbOverrides `json:"load_balancer,omitempty"`
}

func newState() *state {
	return &state{Revisions: map[string][]*Revision{}, Services: map[string]*serviceState{}, Instances: map[string]sched.InstanceStatus{}}
}

// revision returns the latest revision of family when it has td's
// content, or registers the next one, as ECS does: going back to earlier
// content is a new revision too.
func (st *state) revision(family string, td TaskDefinition, now time.Time) *Revision {
	h := definitionHash(td)
	revs := st.Revisions[family]
	n := 1
	if len(revs) > 0 {
		latest := revs[len(revs)-1]
		if latest.Hash == h {
			return latest
		}
		n = latest.Number + 1
	}
	r := &Revision{Number: n, Hash: h, Definition: td, Status: RevisionActive, RegisteredAt: now}
	st.Revisions[family] = append(slices.Clone(revs), r)
	return r
}

// fileRevision is the revision a service's task definition from the stack
// file comes to: the one it came to last time while its content is the
// same (whatever UpdateService registered since), else the latest one
// with this content or a new one.
func (st *state) fileRevision(ss *serviceState, family string, td TaskDefinition, now time.Time) string {
	if r := st.find(ss.FileRevision); r != nil && r.Hash == definitionHash(td) {
		return ss.FileRevision
	}
	return revisionName(family, st.revision(family, td, now).Number)
}

// find returns the revision named "family:number", or nil.
func (st *state) find(name string) *Revision {
	family, num, ok := strings.Cut(name, ":")
	if !ok {
		return nil
	}
	for _, r := range st.Revisions[family] {
		if fmt.Sprint(r.Number) == num {
			return r
		}
	}
	return nil
}

// definition returns the task definition of a revision named
// "family:number".
func (st *state) definition(name string) (TaskDefinition, bool) {
	if r := st.find(name); r != nil {
		return r.Definition, true
	}
	return TaskDefinition{}, false
}

// definitionHash identifies a task definition's content: anything that
// changes how its tasks start changes it.
func definitionHash(td TaskDefinition) string {
	td.Task.Output = nil
	b, err := json.Marshal(td)
	if err != nil {
		panic("agent: task definition does not encode: " + err.Error()) // every field is plain data
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// newDeploymentID makes an id the way ECS writes them: ecs-svc/ and 19
// digits.
func newDeploymentID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(8e18)) // 1e18 + 8e18 stays below MaxInt64
	return fmt.Sprintf("ecs-svc/%019d", n.Int64()+1e18)
}

// Started is a deployment that an Apply started.
type Started struct {
	Service        string `json:"service"`
	Deployment     string `json:"deployment"`
	TaskDefinition string `json:"task_definition"`
	// Replaces is the task definition revision the service ran before
	// ("" for a new service).
	Replaces string `json:"replaces,omitempty"`
}

// nextStateLocked is the state after applying s: task definitions whose
// content changed get a new revision, and each service whose revision or
// target group changed, or whose deployment FAILED, gets a new PRIMARY
// deployment, its former one turning ACTIVE. The current state is not changed.
func (a *Agent) nextStateLocked(s *Stack, lb *lbOverrides, now time.Time) (*state, []Started, error) {
	next := &state{
		Revisions:    make(map[string][]*Revision, len(a.state.Revisions)),
		Services:     map[string]*serviceState{},
		Instances:    a.state.Instances,
		LoadBalancer: lb,
	}
	for k, v := range a.state.Revisions {
		next.Revisions[k] = v
	}
	var started []Started
	for _, name := range sortedKeys(s.Services) {
		svc := s.Services[name]
		cur := a.state.Services[name]
		ss := cur.clone()
		revName := next.fileRevision(ss, svc.TaskDefinition, s.TaskDefinitions[svc.TaskDefinition], now)
		if cur == nil || svc.Desired != cur.FileDesired {
			ss.Desired = svc.Desired
		}
		ss.FileDesired = svc.Desired
		if as := svc.Autoscaling; as != nil {
			ss.Desired = min(max(ss.Desired, as.Min), as.Max)
		}
		if ss.FileDeploymentConfig == nil || *ss.FileDeploymentConfig != svc.Deployment {
			ss.DeploymentConfig = nil // the file's settings changed: they win
		}
		ss.FileDeploymentConfig = &svc.Deployment
		// The file's task definition changed (or its target group): deploy
		// it. A revision UpdateService moved the service to holds until
		// then. A FAILED deployment launches nothing more, and a rollback
		// left the file's revision: deploying the same stack again is a
		// new attempt, as ECS's --force-new-deployment.
		p := ss.primary()
		fileChanged := revName != ss.FileRevision
		if ss.FileRevision == "" && p != nil { // a record from before FileRevision
			fileChanged = p.TaskDefinition != revName
		}
		ss.FileRevision = revName
		rolledBack := p != nil && p.RollbackOf != "" && p.TaskDefinition != revName
		groupChanged := p != nil && p.TargetGroup != svc.TargetGroup &&
			(svc.Strategy == nil || p.TargetGroup != svc.Strategy.AlternateTargetGroup)
		if p == nil || fileChanged || rolledBack || groupChanged || p.Rollout == sched.RolloutFailed {
			if p.active() {
				return nil, nil, fmt.Errorf("%w: service %s: deployment %s of %s is at %s: a new revision can be deployed once it completed or rolled back (shoal deployments %s)",
					ErrInvalid, name, p.ID, p.TaskDefinition, p.Strategy.Stage, name)
			}
			if groupChanged {
				started = append(started, startDeployment(name, ss, revName, svc.TargetGroup, now))
			} else {
				started = append(started, startStrategyDeployment(name, svc, ss, revName, cmp.Or(s.TimeScale, a.cfg.TimeScale), now))
			}
		}
		next.Services[name] = ss
	}
	return next, started, nil
}

// startDeployment makes a new PRIMARY deployment of revision rev for a
// service; its former PRIMARY turns ACTIVE.
func startDeployment(service string, ss *serviceState, rev, targetGroup string, now time.Time) Started {
	return startDeploymentOf(service, ss, &Deployment{TaskDefinition: rev, TargetGroup: targetGroup}, now)
}

// startStrategyDeployment starts a deployment of rev for a service: a
// blue_green, canary or linear one when the service has a strategy and a
// revision to replace (green goes to the target group blue does not use,
// as ECS alternates them), else a rolling one.
func startStrategyDeployment(service string, svc Service, ss *serviceState, rev string, timeScale float64, now time.Time) Started {
	p := ss.primary()
	if svc.Strategy == nil || p == nil {
		return startDeployment(service, ss, rev, svc.TargetGroup, now)
	}
	st := strategy.Start(now)
	return startDeploymentOf(service, ss, &Deployment{
		TaskDefinition: rev, TargetGroup: otherGroup(svc, p.TargetGroup), Strategy: &st, TimeScale: timeScale,
	}, now)
}

// startDeploymentOf makes d the PRIMARY deployment of a service, its
// former PRIMARY turning ACTIVE.
func startDeploymentOf(service string, ss *serviceState, d *Deployment, now time.Time) Started {
	d.ID, d.Status, d.Rollout, d.CreatedAt, d.UpdatedAt = newDeploymentID(), DeploymentPrimary, sched.RolloutInProgress, now, now
	rev := d.TaskDefinition
	d.Reason = "ECS deployment " + d.ID + " in progress."
	st := Started{Service: service, Deployment: d.ID, TaskDefinition: rev}
	if p := ss.primary(); p != nil {
		old := *p
		old.Status, old.UpdatedAt = DeploymentActive, now
		ss.Deployments[0] = &old
		st.Replaces = p.TaskDefinition
	}
	ss.Deployments = append([]*Deployment{d}, ss.Deployments...)
	return st
}

// announceStartedLocked records the deployments an Apply started.
func (a *Agent) announceStartedLocked(started []Started) {
	for _, st := range started {
		cfg := a.deploymentConfigLocked(st.Service)
		msg := fmt.Sprintf("service %s (deployment %s) deployment started: %s", st.Service, st.Deployment, st.TaskDefinition)
		d := a.state.Services[st.Service].primary()
		switch {
		case st.Replaces != "" && d != nil && d.ID == st.Deployment && d.Strategy != nil:
			msg += fmt.Sprintf(" replaces %s (%s: green in target group %s)", st.Replaces, a.stack.Services[st.Service].Strategy.Kind, d.TargetGroup)
		case st.Replaces != "":
			msg += fmt.Sprintf(" replaces %s (minimum healthy %d%%, maximum %d%%)", st.Replaces,
				cfg.MinHealthyPercent, cfg.MaxPercent)
		}
		a.events.add(Event{Time: a.clock.Now(), Service: st.Service, Message: msg + "."})
	}
}

// rolloutsLocked carries out the rollouts the scheduler says ended:
// COMPLETED, or FAILED by the circuit breaker, which rolls back to the last
// completed deployment when the service asks for it. It reports whether
// the state changed.
func (a *Agent) rolloutsLocked(rollouts []sched.Rollout) bool {
	now := a.clock.Now()
	for _, r := range rollouts {
		ss := a.state.Services[r.Service]
		d := ss.primary()
		if d == nil || d.ID != r.Deployment {
			continue
		}
		if r.State == sched.RolloutCompleted && d.active() {
			continue // a blue/green deployment completes at the end of its lifecycle (package strategy says when)
		}
		d.Rollout, d.Reason, d.UpdatedAt = r.State, r.Reason, now
		if r.State == sched.RolloutCompleted {
			a.events.add(Event{Time: now, Service: r.Service, Message: fmt.Sprintf("service %s (deployment %s) deployment completed.", r.Service, d.ID)})
			continue
		}
		a.events.add(Event{Time: now, Service: r.Service, Message: fmt.Sprintf(
			"service %s (deployment %s) deployment failed: tasks failed to start (%d tasks failed, the circuit breaker's threshold).", r.Service, d.ID, d.FailedTasks)})
		if d.active() { // blue still serves: a blue/green deployment always goes back to it
			next, _ := strategy.Advance(strategy.Config{}, *d.Strategy, strategy.Observed{Breaker: d.Reason}, now)
			d.Strategy = &next
			a.rollBackStrategyLocked(r.Service, ss, d, "tasks failed to start (the circuit breaker's threshold)", now)
			continue
		}
		if a.deploymentConfigLocked(r.Service).Rollback && d.RollbackOf == "" {
			a.rollBackLocked(r.Service, ss, d, "ECS deployment circuit breaker", now)
		}
	}
	return len(rollouts) > 0
}

// deploymentConfigLocked is a service's deployment settings: UpdateService's
// when it set them, else the stack file's.
func (a *Agent) deploymentConfigLocked(service string) DeploymentConfig {
	if ss := a.state.Services[service]; ss != nil && ss.DeploymentConfig != nil {
		return *ss.DeploymentConfig
	}
	return a.stack.Services[service].Deployment
}

// rollBackLocked makes the last COMPLETED deployment of a service PRIMARY
// again, as ECS's circuit breaker does: the failed one turns ACTIVE and
// its tasks are replaced. why says what rolled it back, in its Reason.
func (a *Agent) rollBackLocked(service string, ss *serviceState, failed *Deployment, why string, now time.Time) {
	var to *Deployment
	for _, d := range slices.Concat(ss.Deployments[1:], ss.History) {
		if d.Rollout == sched.RolloutCompleted {
			to = d
			break
		}
	}
	if to == nil {
		a.events.add(Event{Time: now, Service: service, Message: fmt.Sprintf(
			"service %s has no completed deployment to roll back to: it keeps what runs and starts nothing until the next shoal deploy.", service)})
		return
	}
	failed.Status = DeploymentActive
	to.Status, to.Rollout, to.FailedTasks, to.RollbackOf, to.UpdatedAt = DeploymentPrimary, sched.RolloutInProgress, 0, failed.ID, now
	to.Reason = why + ": rolling back to deploymentId " + to.ID + "."
	rest := []*Deployment{to}
	for _, d := range ss.Deployments {
		if d != to {
			rest = append(rest, d)
		}
	}
	ss.Deployments = rest
	ss.History = slices.DeleteFunc(ss.History, func(d *Deployment) bool { return d == to })
	a.events.add(Event{Time: now, Service: service, Message: fmt.Sprintf("service %s rolling back to deployment %s (%s).", service, to.ID, to.TaskDefinition)})
}

// retireDeploymentsLocked turns the ACTIVE deployments that run no task
// any more INACTIVE. It reports whether any did.
func (a *Agent) retireDeploymentsLocked() bool {
	live := map[string]bool{}
	for _, t := range a.tasks {
		if t.status != sched.Stopped {
			live[t.deployment] = true
		}
	}
	changed := false
	for _, ss := range a.state.Services {
		for i := len(ss.Deployments) - 1; i >= 1; i-- {
			d := ss.Deployments[i]
			if live[d.ID] {
				continue
			}
			d.Status, d.UpdatedAt = DeploymentInactive, a.clock.Now()
			ss.Deployments = slices.Delete(ss.Deployments, i, i+1)
			ss.History = append([]*Deployment{d}, ss.History...)[:min(len(ss.History)+1, historyKept)]
			changed = true
		}
	}
	return changed
}

// taskFailedLocked counts a failed task against its deployment's circuit
// breaker, while that deployment is rolling out.
func (a *Agent) taskFailedLocked(t *task) {
	if d := a.state.Services[t.service].primary(); d != nil && d.ID == t.deployment && d.Rollout == sched.RolloutInProgress {
		d.FailedTasks++
	}
}

// taskHealthyLocked resets the circuit breaker's count: only failures in a
// row count, as ECS's default.
func (a *Agent) taskHealthyLocked(t *task) {
	if d := a.state.Services[t.service].primary(); d != nil && d.ID == t.deployment {
		d.FailedTasks = 0
	}
}
