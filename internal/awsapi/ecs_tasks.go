package awsapi

import (
	"cmp"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/shoalhq/shoal/internal/agent"
)

// ECS tasks: ListTasks, DescribeTasks, StopTask.

type ecsTaskJSON struct {
	TaskArn              string             `json:"taskArn"`
	ClusterArn           string             `json:"clusterArn"`
	TaskDefinitionArn    string             `json:"taskDefinitionArn"`
	ContainerInstanceArn string             `json:"containerInstanceArn,omitempty"`
	Group                string             `json:"group,omitempty"`
	StartedBy            string             `json:"startedBy,omitempty"`
	LastStatus           string             `json:"lastStatus"`
	DesiredStatus        string             `json:"desiredStatus"`
	HealthStatus         string             `json:"healthStatus"`
	LaunchType           string             `json:"launchType"`
	CPU                  string             `json:"cpu,omitempty"`
	Memory               string             `json:"memory,omitempty"`
	CreatedAt            *epoch             `json:"createdAt,omitempty"`
	StartedAt            *epoch             `json:"startedAt,omitempty"`
	StoppedAt            *epoch             `json:"stoppedAt,omitempty"`
	StopCode             string             `json:"stopCode,omitempty"`
	StoppedReason        string             `json:"stoppedReason,omitempty"`
	Containers           []ecsContainerJSON `json:"containers"`
}

type ecsContainerJSON struct {
	ContainerArn      string              `json:"containerArn"`
	TaskArn           string              `json:"taskArn"`
	Name              string              `json:"name"`
	LastStatus        string              `json:"lastStatus"`
	ExitCode          *int                `json:"exitCode,omitempty"`
	Reason            string              `json:"reason,omitempty"`
	NetworkBindings   []ecsNetworkBinding `json:"networkBindings"`
	HealthStatus      string              `json:"healthStatus"`
	CPU               string              `json:"cpu,omitempty"`
	MemoryReservation string              `json:"memoryReservation,omitempty"`
}

type ecsNetworkBinding struct {
	BindIP        string `json:"bindIP"`
	ContainerPort int    `json:"containerPort,omitempty"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

// defaultStopReason is ECS's stoppedReason for StopTask without a reason.
const defaultStopReason = "Task stopped by user"

// containerHealthStatus is the health status DescribeTasks shows for a
// task and its container. ECS's is the container health check's (HEALTHY,
// UNHEALTHY, UNKNOWN), never the load balancer's (agent.TaskStatus.Health
// is the target's, a different thing); a task whose definition has no
// container health check is UNKNOWN, as in ECS.
func containerHealthStatus(t agent.TaskStatus) string {
	if t.ContainerHealth == "" {
		return "UNKNOWN"
	}
	return t.ContainerHealth
}

// containerStatus is a container's lastStatus for its task's: ECS's
// containers are PENDING, RUNNING or STOPPED.
func containerStatus(task string) string {
	switch task {
	case "PROVISIONING", "PENDING", "ACTIVATING":
		return "PENDING"
	case "DEPROVISIONING", "STOPPED":
		return "STOPPED"
	}
	return "RUNNING"
}

// task is the JSON of one task.
func (c ecsCluster) task(t agent.TaskStatus, revs revisionIndex) ecsTaskJSON {
	family, _ := splitRevision(t.TaskDefinition)
	def := revs[t.TaskDefinition].Definition
	out := ecsTaskJSON{
		TaskArn: c.taskARN(t.ID), ClusterArn: c.clusterARN(), TaskDefinitionArn: c.revisionARN(t.TaskDefinition),
		StartedBy:  c.startedBy(t),
		LastStatus: t.LastStatus, DesiredStatus: t.DesiredStatus, HealthStatus: containerHealthStatus(t),
		LaunchType: "EC2",
		CreatedAt:  timestamp(t.CreatedAt), StartedAt: timestampPtr(t.StartedAt), StoppedAt: timestampPtr(t.StoppedAt),
		StopCode: t.StopCode, StoppedReason: t.StoppedReason,
	}
	if t.Instance != "" {
		out.ContainerInstanceArn = c.containerInstanceARN(t.Instance)
	}
	if t.Service != "" {
		out.Group = "service:" + t.Service
	}
	if def.CPU > 0 {
		out.CPU = strconv.Itoa(def.CPU)
	}
	if def.Memory > 0 {
		out.Memory = strconv.Itoa(def.Memory)
	}
	ct := ecsContainerJSON{
		ContainerArn: c.prefix("ecs") + "container/" + c.cluster + "/" + t.ID + "/" + c.id("container", t.ID),
		TaskArn:      out.TaskArn, Name: family, LastStatus: containerStatus(t.LastStatus),
		ExitCode: t.ExitCode, NetworkBindings: []ecsNetworkBinding{}, HealthStatus: out.HealthStatus,
		CPU: strconv.Itoa(def.CPU),
	}
	if t.ExitCode == nil {
		ct.Reason = t.Exit // why it has no exit code: killed by a signal, never started
	}
	if def.Memory > 0 {
		ct.MemoryReservation = strconv.Itoa(def.Memory)
	}
	if host, port, err := net.SplitHostPort(t.Address); err == nil {
		hostPort, _ := strconv.Atoi(port)
		ct.NetworkBindings = append(ct.NetworkBindings, ecsNetworkBinding{
			BindIP: host, ContainerPort: cmp.Or(t.ContainerPort, def.Task.ContainerPort), HostPort: hostPort, Protocol: "tcp",
		})
	}
	out.Containers = []ecsContainerJSON{ct}
	return out
}

// startedBy is what ECS records as a service's task's startedBy: its
// deployment's id, when the service still lists the deployment of the
// task's revision.
func (c ecsCluster) startedBy(t agent.TaskStatus) string {
	for _, s := range c.st.Services {
		if s.Name != t.Service {
			continue
		}
		for _, d := range s.Deployments {
			if d.TaskDefinition == t.TaskDefinition {
				return d.ID
			}
		}
	}
	return ""
}

// findTask is the task a reference (id, unique id prefix, or ARN) names.
func (c ecsCluster) findTask(tasks []agent.TaskStatus, ref string) (agent.TaskStatus, error) {
	id, ok := c.resourceName("task", ref)
	if !ok {
		return agent.TaskStatus{}, agent.ErrNotFound
	}
	return agent.FindTask(tasks, id)
}

var listTasksMembers = members{
	"cluster": used, "serviceName": used, "family": used, "desiredStatus": used, "containerInstance": used,
	"launchType": used, "startedBy": used, "maxResults": used, "nextToken": used,
	"daemonName": refused("shoal has no ECS daemons; a service with schedulingStrategy DAEMON is a service: give serviceName"),
}

func (a *api) ecsListTasks(body []byte) (any, *Error) {
	var req struct {
		Cluster           string `json:"cluster"`
		ServiceName       string `json:"serviceName"`
		Family            string `json:"family"`
		DesiredStatus     string `json:"desiredStatus"`
		ContainerInstance string `json:"containerInstance"`
		LaunchType        string `json:"launchType"`
		StartedBy         string `json:"startedBy"`
		MaxResults        *int   `json:"maxResults"`
		NextToken         string `json:"nextToken"`
	}
	if e := decodeRequest(body, &req, listTasksMembers); e != nil {
		return nil, e
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	desired := cmp.Or(req.DesiredStatus, "RUNNING")
	if !slices.Contains([]string{"RUNNING", "PENDING", "STOPPED"}, desired) {
		return nil, invalidParameter("desiredStatus must be RUNNING, PENDING or STOPPED, not %q.", req.DesiredStatus)
	}
	service := ""
	if req.ServiceName != "" {
		s, ok := c.findService(c.st.Services, req.ServiceName)
		if !ok {
			return nil, serviceNotFound(c.st.Services, req.ServiceName)
		}
		service = s.Name
	}
	instance := ""
	if req.ContainerInstance != "" {
		name, ok := c.resourceName("container-instance", req.ContainerInstance)
		if !ok {
			name = "\x00" // an ARN of another cluster's instance: none of these
		}
		instance = name
	}
	var ids []string
	for _, t := range a.b.Tasks(true) {
		family, _ := splitRevision(t.TaskDefinition)
		switch {
		case t.DesiredStatus != desired:
		case service != "" && t.Service != service:
		case req.Family != "" && family != req.Family:
		case instance != "" && t.Instance != instance:
		case req.LaunchType != "" && req.LaunchType != "EC2":
		case req.StartedBy != "" && c.startedBy(t) != req.StartedBy:
		default:
			ids = append(ids, t.ID)
		}
	}
	slices.Sort(ids)
	out, next, e := page(ids, func(s string) string { return s }, strings.Compare, req.NextToken, req.MaxResults, 100)
	if e != nil {
		return nil, e
	}
	resp := struct {
		TaskArns  []string `json:"taskArns"`
		NextToken string   `json:"nextToken,omitempty"`
	}{TaskArns: []string{}, NextToken: next}
	for _, id := range out {
		resp.TaskArns = append(resp.TaskArns, c.taskARN(id))
	}
	return resp, nil
}

var describeTasksMembers = members{"cluster": used, "tasks": used, "include": ignored}

func (a *api) ecsDescribeTasks(body []byte) (any, *Error) {
	var req struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if e := decodeRequest(body, &req, describeTasksMembers); e != nil {
		return nil, e
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	switch {
	case len(req.Tasks) == 0:
		return nil, invalidParameter("Tasks cannot be empty.")
	case len(req.Tasks) > 100:
		return nil, invalidParameter("tasks can name at most 100 tasks, not %d.", len(req.Tasks))
	}
	tasks, revs := a.b.Tasks(true), a.revisionIndex()
	out := struct {
		Tasks    []ecsTaskJSON `json:"tasks"`
		Failures []ecsFailure  `json:"failures"`
	}{Tasks: []ecsTaskJSON{}, Failures: []ecsFailure{}}
	for _, ref := range req.Tasks {
		t, err := c.findTask(tasks, ref)
		if err != nil {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = c.taskARN(ref)
			}
			f := missing(arn)
			if errors.Is(err, agent.ErrAmbiguous) {
				f.Detail = err.Error()
			}
			out.Failures = append(out.Failures, f)
			continue
		}
		out.Tasks = append(out.Tasks, c.task(t, revs))
	}
	return out, nil
}

var stopTaskMembers = members{"cluster": used, "task": used, "reason": used}

func (a *api) ecsStopTask(body []byte) (any, *Error) {
	var req struct {
		Cluster string `json:"cluster"`
		Task    string `json:"task"`
		Reason  string `json:"reason"`
	}
	if e := decodeRequest(body, &req, stopTaskMembers); e != nil {
		return nil, e
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	t, err := c.findTask(a.b.Tasks(true), req.Task)
	switch {
	case errors.Is(err, agent.ErrAmbiguous):
		return nil, invalidParameter("%v: give the whole task id.", err)
	case err != nil:
		return nil, invalidParameter("The referenced task was not found: %q.", req.Task)
	}
	// A task stopped or stopping already is answered as it is, as ECS
	// does: its first stop reason stays.
	if t.DesiredStatus != "STOPPED" && t.LastStatus != "STOPPED" {
		if err := a.b.StopTask(t.ID, cmp.Or(req.Reason, defaultStopReason)); err != nil {
			return nil, backendError(err, codeInvalidParameter, codeInvalidParameter)
		}
		if after, err := agent.FindTask(a.b.Tasks(true), t.ID); err == nil {
			t = after
		}
	}
	return struct {
		Task ecsTaskJSON `json:"task"`
	}{c.task(t, a.revisionIndex())}, nil
}
