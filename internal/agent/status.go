package agent

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/strategy"
)

// TaskStatus is one task as `shoal ps` shows it, with the ECS field names.
type TaskStatus struct {
	ID             string `json:"id"`
	Service        string `json:"service"`
	TaskDefinition string `json:"task_definition"`
	Instance       string `json:"instance"`
	Address        string `json:"address,omitempty"`
	Pid            int    `json:"pid,omitempty"`
	LastStatus     string `json:"last_status"`
	DesiredStatus  string `json:"desired_status"`
	Health         string `json:"health,omitempty"`
	HealthReason   string `json:"health_reason,omitempty"`
	TargetGroup    string `json:"target_group,omitempty"`
	// ContainerPort is the port the task definition names (0: none): with
	// the task's host port in Address, ECS's network binding.
	ContainerPort int `json:"container_port,omitempty"`
	// ContainerHealth is the task's container health check status,
	// HEALTHY, UNHEALTHY or UNKNOWN ("": the task definition has none).
	ContainerHealth string     `json:"container_health,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	StoppedAt       *time.Time `json:"stopped_at,omitempty"`
	StopCode        string     `json:"stop_code,omitempty"`
	StoppedReason   string     `json:"stopped_reason,omitempty"`
	Exit            string     `json:"exit,omitempty"`
	// ExitCode is the code a stopped task's process exited with (0 is
	// shown); ExitSignal the signal that killed it. At most one is set, and
	// neither when the task never started or could not be waited for (Exit
	// then says why).
	ExitCode   *int   `json:"exit_code,omitempty"`
	ExitSignal string `json:"exit_signal,omitempty"`
	// PausedBy is the id of the fault that holds the task paused
	// (`shoal fault pause`), while it does.
	PausedBy string `json:"paused_by,omitempty"`
}

// Status is the whole picture: the stack, its listeners, its services.
type Status struct {
	Stack     string   `json:"stack"`
	File      string   `json:"file"`
	Listeners []string `json:"listeners"`
	// URLs are the listeners as http:// or https:// URLs.
	URLs     []string        `json:"urls"`
	Services []ServiceStatus `json:"services"`
	// AWSEndpoint is the URL of the AWS API endpoint ("" when off), and
	// AWSRegion the region requests must be signed for: shoal up fills
	// them in (the agent does not serve it).
	AWSEndpoint string `json:"aws_endpoint,omitempty"`
	AWSRegion   string `json:"aws_region,omitempty"`
	// Metrics is the URL of the Prometheus metrics ("" when off): shoal
	// up fills it in.
	Metrics string `json:"metrics,omitempty"`
	// Dashboard is the URL of the web dashboard, with its token ("" when
	// off): shoal up fills it in.
	Dashboard string `json:"dashboard,omitempty"`
}

// ServiceStatus counts a service's tasks as ECS does, and lists its
// deployments.
type ServiceStatus struct {
	Name               string `json:"name"`
	SchedulingStrategy string `json:"scheduling_strategy"`
	TaskDefinition     string `json:"task_definition"`
	Desired            int    `json:"desired"`
	Running            int    `json:"running"`
	Pending            int    `json:"pending"`
	Healthy            int    `json:"healthy"`
	TargetGroup        string `json:"target_group,omitempty"`
	SteadyState        bool   `json:"steady_state"`
	// DeploymentConfig is the service's deployment settings as they are
	// now (the stack file's, or UpdateService's).
	DeploymentConfig DeploymentConfig `json:"deployment_configuration"`
	// Deployments: PRIMARY first, then ACTIVE ones.
	Deployments []DeploymentStatus `json:"deployments"`
	// Recent are the last INACTIVE deployments, newest first.
	Recent []Deployment `json:"recent,omitempty"`
	// Strategy is how the service deploys: rolling, blue_green, canary or
	// linear.
	Strategy string `json:"strategy"`
	// Autoscaling is the service's range, when it scales itself.
	Autoscaling *ScalingRange `json:"autoscaling,omitempty"`
}

// ScalingRange is an autoscaled service's bounds.
type ScalingRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// DeploymentStatus is a deployment with its task counts.
type DeploymentStatus struct {
	Deployment
	Desired int `json:"desired"`
	Running int `json:"running"`
	Pending int `json:"pending"`
	// Healthy counts its running tasks that take traffic (healthy in
	// their target group, or with no target group and no failing health
	// check), as the service's healthy count.
	Healthy int `json:"healthy"`
	// FailureThreshold is how many of FailedTasks trip the circuit
	// breaker of an IN_PROGRESS primary deployment (ECS: half the desired
	// count, from 3 to 200); 0 when no breaker watches it.
	FailureThreshold int `json:"failure_threshold,omitempty"`
}

// Tasks lists the tasks, running ones first by service and creation time;
// with all, stopped tasks too.
func (a *Agent) Tasks(all bool) []TaskStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []TaskStatus
	for _, t := range a.tasks {
		if all || t.status != sched.Stopped {
			out = append(out, t.statusLocked())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.LastStatus == "STOPPED") != (b.LastStatus == "STOPPED") {
			return b.LastStatus == "STOPPED"
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.CreatedAt.Before(b.CreatedAt)
	})
	return out
}

func (t *task) statusLocked() TaskStatus {
	s := TaskStatus{
		ID: t.id, Service: t.service, TaskDefinition: t.taskDef, Instance: t.instance.Name,
		Address: t.addr, LastStatus: string(t.status), DesiredStatus: "RUNNING",
		Health: string(t.health), HealthReason: t.healthReason, TargetGroup: t.targetGroup,
		CreatedAt: t.createdAt, StopCode: t.stopCode, StoppedReason: t.stopReason, Exit: t.exit,
		StartedAt: timePtr(t.startedAt), StoppedAt: timePtr(t.stoppedAt),
		ContainerPort: t.def.Task.ContainerPort, ContainerHealth: string(t.containerHealth),
	}
	if t.stopRequested {
		s.DesiredStatus = "STOPPED"
	}
	if t.handle != nil && t.status != sched.Stopped {
		s.Pid = t.handle.Pid()
		s.PausedBy = t.pausedBy
	}
	// A task is STOPPED only once its handle is done, so its exit is known.
	if t.handle != nil && t.status == sched.Stopped {
		switch e := t.handle.Exit(); {
		case e.Err != nil:
		case e.Signal != "":
			s.ExitSignal = e.Signal
		default:
			s.ExitCode = &e.Code
		}
	}
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// TaskLogs returns a task's output from offset from, and where to go on.
func (a *Agent) TaskLogs(id string, from int64) ([]byte, int64, error) {
	a.mu.Lock()
	t := a.tasks[id]
	var h driver.Task
	if t != nil {
		h = t.handle
	}
	a.mu.Unlock()
	if t == nil {
		return nil, 0, fmt.Errorf("task %q: %w", id, ErrNotFound)
	}
	if h == nil { // it failed to start: no output
		return nil, from, nil
	}
	data, next := h.Logs(from)
	return data, next, nil
}

// ErrAmbiguous is returned for a task id prefix that more than one task's
// id starts with.
var ErrAmbiguous = errors.New("ambiguous task id prefix")

// FindTask picks the task ref names among tasks: the one whose id is ref,
// else the only one whose id starts with ref (as `docker` takes a unique
// prefix of a container id). It fails with ErrNotFound when none matches and
// ErrAmbiguous, naming the matches, when several do.
func FindTask(tasks []TaskStatus, ref string) (TaskStatus, error) {
	var matches []TaskStatus
	for _, t := range tasks {
		if t.ID == ref {
			return t, nil
		}
		if ref != "" && strings.HasPrefix(t.ID, ref) {
			matches = append(matches, t)
		}
	}
	switch len(matches) {
	case 0:
		return TaskStatus{}, fmt.Errorf("task %q: %w", ref, ErrNotFound)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, len(matches))
	for i, t := range matches {
		ids[i] = t.ID
	}
	sort.Strings(ids)
	return TaskStatus{}, fmt.Errorf("%w %q: it matches %d tasks: %s", ErrAmbiguous, ref, len(ids), strings.Join(ids, ", "))
}

// Targets lists every target group's targets with their health.
func (a *Agent) Targets() []proxy.TargetHealth { return a.cfg.Balancer.Targets() }

// Events returns the events after seq, oldest first.
func (a *Agent) Events(seq int64) []Event { return a.events.since(seq) }

// AppliedStack is the stack file the running stack was last applied
// from, and the content it had then; "" and nil before the first Apply.
func (a *Agent) AppliedStack() (file string, source []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil {
		return "", nil
	}
	return a.stack.File, a.stack.Source
}

// Status summarises the stack and its services.
func (a *Agent) Status() Status {
	// Not under a.mu: the balancer calls into the agent.
	st := Status{Listeners: a.cfg.Balancer.ListenerAddrs(), URLs: a.cfg.Balancer.ListenerURLs()}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stack == nil {
		return st
	}
	st.Stack, st.File = a.stack.Name, a.stack.File
	for _, name := range sortedKeys(a.stack.Services) {
		st.Services = append(st.Services, a.serviceStatusLocked(name))
	}
	return st
}

func (a *Agent) serviceStatusLocked(name string) ServiceStatus {
	svc := a.stack.Services[name]
	state := a.state.Services[name]
	primary := state.primary()
	ss := ServiceStatus{
		Name: name, SchedulingStrategy: "replica", TaskDefinition: primary.TaskDefinition,
		Desired: state.Desired, TargetGroup: primary.TargetGroup, SteadyState: a.steady[name],
		DeploymentConfig: a.deploymentConfigLocked(name),
	}
	if svc.Daemon {
		ss.SchedulingStrategy, ss.Desired = "daemon", a.activeInstancesLocked()
	}
	if as := svc.Autoscaling; as != nil {
		ss.Autoscaling = &ScalingRange{Min: as.Min, Max: as.Max}
	}
	ss.Strategy = string(strategy.Rolling)
	if svc.Strategy != nil {
		ss.Strategy = string(svc.Strategy.Kind)
	}
	for _, d := range state.History {
		ss.Recent = append(ss.Recent, *d)
	}
	byDeployment := map[string]*DeploymentStatus{}
	for i, d := range state.Deployments {
		ss.Deployments = append(ss.Deployments, DeploymentStatus{Deployment: *d})
		if i == 0 {
			ss.Deployments[0].Desired = ss.Desired
			if ss.DeploymentConfig.CircuitBreaker && d.RollbackOf == "" && d.Rollout == sched.RolloutInProgress {
				ss.Deployments[0].FailureThreshold = sched.FailureThreshold(ss.Desired)
			}
		}
	}
	for i := range ss.Deployments {
		byDeployment[ss.Deployments[i].ID] = &ss.Deployments[i]
	}
	for _, t := range a.tasks {
		if t.service != name || t.status == sched.Stopped || t.stopRequested {
			continue
		}
		d := byDeployment[t.deployment]
		if t.status == sched.Running {
			ss.Running++
			if d != nil {
				d.Running++
			}
		} else {
			ss.Pending++
			if d != nil {
				d.Pending++
			}
		}
		if t.serving() {
			ss.Healthy++
			if d != nil {
				d.Healthy++
			}
		}
	}
	return ss
}

// serving reports whether the task serves healthy now, as the scheduler
// judges it.
func (t *task) serving() bool {
	switch {
	case t.status != sched.Running:
		return false
	case t.targetGroup != "" && t.health != sched.HealthHealthy:
		return false
	case t.targetGroup == "" && t.healthyAt.IsZero():
		return false
	}
	return t.containerHealth == "" || t.containerHealth == sched.ContainerHealthy
}

// Services lists the services with their deployments.
func (a *Agent) Services() []ServiceStatus {
	return a.Status().Services
}

// Stopping says what a shutdown will wait for: the registered targets to
// drain, then the tasks to exit after SIGTERM, and the longest each may
// take.
type Stopping struct {
	Targets int           // registered targets, drained first
	Drain   time.Duration // the longest deregistration delay among them
	Tasks   int           // tasks to stop
	Timeout time.Duration // the longest stop timeout among them
}

// Stopping reports what stopping every task now would wait for.
func (a *Agent) Stopping() Stopping {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s Stopping
	for _, t := range a.tasks {
		if t.status == sched.Stopped {
			continue
		}
		s.Tasks++
		s.Timeout = max(s.Timeout, t.def.Task.StopTimeout)
		if t.targetGroup != "" && a.byTarget[targetKey(t.targetGroup, t.addr)] == t {
			s.Targets++
			if a.stack != nil {
				s.Drain = max(s.Drain, a.stack.LoadBalancer.TargetGroups[t.targetGroup].DeregistrationDelay)
			}
		}
	}
	return s
}
