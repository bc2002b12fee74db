package awsapi

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/shoalhq/shoal/internal/agent"
)

// ECS container instances: ListContainerInstances,
// DescribeContainerInstances, UpdateContainerInstancesState.
//
// shoal's instance statuses are ACTIVE, DRAINING and STOPPED. STOPPED is
// shoal's simulated host failure; ECS has no such status: a container
// instance whose host is gone stays ACTIVE with its agent disconnected,
// and that is how it is shown (agentConnected false, with a statusReason).

type ecsContainerInstanceJSON struct {
	ContainerInstanceArn string         `json:"containerInstanceArn"`
	Ec2InstanceID        string         `json:"ec2InstanceId"`
	Status               string         `json:"status"`
	StatusReason         string         `json:"statusReason,omitempty"`
	AgentConnected       bool           `json:"agentConnected"`
	RunningTasksCount    int            `json:"runningTasksCount"`
	PendingTasksCount    int            `json:"pendingTasksCount"`
	RegisteredResources  []ecsResource  `json:"registeredResources"`
	RemainingResources   []ecsResource  `json:"remainingResources"`
	VersionInfo          ecsVersionInfo `json:"versionInfo"`
}

type ecsResource struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	IntegerValue int    `json:"integerValue"`
}

type ecsVersionInfo struct {
	AgentVersion string `json:"agentVersion"`
	AgentHash    string `json:"agentHash,omitempty"`
}

// ecsInstanceStatus is an instance's status as ECS names it.
func ecsInstanceStatus(in agent.InstanceStatus) string {
	if in.Status == "STOPPED" {
		return "ACTIVE"
	}
	return in.Status
}

// ec2InstanceID is an instance's EC2 id ("i-" and 17 hex digits), stable
// for the stack and the instance's name.
func (n arns) ec2InstanceID(name string) string {
	sum := sha256.Sum256([]byte(n.cluster + "\x00ec2-instance\x00" + name))
	return "i-" + hex.EncodeToString(sum[:9])[:17]
}

// agentVersion is shoal's version, as the instances' agent's.
func agentVersion() ecsVersionInfo {
	v := ecsVersionInfo{AgentVersion: "shoal"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.AgentVersion = "shoal " + bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v.AgentHash = s.Value[:min(len(s.Value), 8)]
		}
	}
	return v
}

func (c ecsCluster) containerInstance(in agent.InstanceStatus) ecsContainerInstanceJSON {
	out := ecsContainerInstanceJSON{
		ContainerInstanceArn: c.containerInstanceARN(in.Name), Ec2InstanceID: c.ec2InstanceID(in.Name),
		Status: ecsInstanceStatus(in), StatusReason: in.StatusDescription, AgentConnected: in.AgentConnected,
		RunningTasksCount: in.RunningTasks, PendingTasksCount: in.PendingTasks,
		RegisteredResources: []ecsResource{
			{Name: "CPU", Type: "INTEGER", IntegerValue: in.RegisteredCPU},
			{Name: "MEMORY", Type: "INTEGER", IntegerValue: in.RegisteredMemory},
		},
		RemainingResources: []ecsResource{
			{Name: "CPU", Type: "INTEGER", IntegerValue: in.RemainingCPU},
			{Name: "MEMORY", Type: "INTEGER", IntegerValue: in.RemainingMemory},
		},
		VersionInfo: agentVersion(),
	}
	if in.Status == "STOPPED" && out.StatusReason == "" {
		out.StatusReason = "Instance " + in.Name + " is STOPPED (shoal's simulated host failure): its agent is disconnected and it runs no task. Set it ACTIVE to bring it back."
	}
	return out
}

// findInstance is the instance a reference (name or ARN) names.
func (c ecsCluster) findInstance(instances []agent.InstanceStatus, ref string) (agent.InstanceStatus, bool) {
	name, ok := c.resourceName("container-instance", ref)
	if !ok {
		return agent.InstanceStatus{}, false
	}
	i := slices.IndexFunc(instances, func(in agent.InstanceStatus) bool { return in.Name == name })
	if i < 0 {
		return agent.InstanceStatus{}, false
	}
	return instances[i], true
}

// instanceFailure is the MISSING failure for a reference to no instance.
func (c ecsCluster) instanceFailure(ref string) ecsFailure {
	if strings.HasPrefix(ref, "arn:") {
		return missing(ref)
	}
	return missing(c.containerInstanceARN(ref))
}

var listContainerInstancesMembers = members{
	"cluster": used, "status": used, "maxResults": used, "nextToken": used,
	"filter": refused("shoal has no cluster query language: filter by status, or describe the instances and pick"),
}

func (a *api) ecsListContainerInstances(body []byte) (any, *Error) {
	var req struct {
		Cluster    string `json:"cluster"`
		Status     string `json:"status"`
		MaxResults *int   `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	if e := decodeRequest(body, &req, listContainerInstancesMembers); e != nil {
		return nil, e
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	if req.Status != "" && !slices.Contains([]string{"ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED"}, req.Status) {
		return nil, invalidParameter("status must be ACTIVE, DRAINING, REGISTERING, DEREGISTERING or REGISTRATION_FAILED, not %q.", req.Status)
	}
	var names []string
	for _, in := range a.b.Instances() {
		if req.Status == "" || ecsInstanceStatus(in) == req.Status {
			names = append(names, in.Name)
		}
	}
	compare := func(x, y string) int { return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y)) } // instance-2 before instance-10
	slices.SortFunc(names, compare)
	out, next, e := page(names, func(s string) string { return s }, compare, req.NextToken, req.MaxResults, 100)
	if e != nil {
		return nil, e
	}
	resp := struct {
		ContainerInstanceArns []string `json:"containerInstanceArns"`
		NextToken             string   `json:"nextToken,omitempty"`
	}{ContainerInstanceArns: []string{}, NextToken: next}
	for _, name := range out {
		resp.ContainerInstanceArns = append(resp.ContainerInstanceArns, c.containerInstanceARN(name))
	}
	return resp, nil
}

var describeContainerInstancesMembers = members{"cluster": used, "containerInstances": used, "include": ignored}

type ecsContainerInstancesResponse struct {
	ContainerInstances []ecsContainerInstanceJSON `json:"containerInstances"`
	Failures           []ecsFailure               `json:"failures"`
}

func (a *api) ecsDescribeContainerInstances(body []byte) (any, *Error) {
	var req struct {
		Cluster            string   `json:"cluster"`
		ContainerInstances []string `json:"containerInstances"`
	}
	if e := decodeRequest(body, &req, describeContainerInstancesMembers); e != nil {
		return nil, e
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	switch {
	case len(req.ContainerInstances) == 0:
		return nil, invalidParameter("ContainerInstances cannot be empty.")
	case len(req.ContainerInstances) > 100:
		return nil, invalidParameter("containerInstances can name at most 100 instances, not %d.", len(req.ContainerInstances))
	}
	instances := a.b.Instances()
	out := ecsContainerInstancesResponse{ContainerInstances: []ecsContainerInstanceJSON{}, Failures: []ecsFailure{}}
	for _, ref := range req.ContainerInstances {
		in, ok := c.findInstance(instances, ref)
		if !ok {
			out.Failures = append(out.Failures, c.instanceFailure(ref))
			continue
		}
		out.ContainerInstances = append(out.ContainerInstances, c.containerInstance(in))
	}
	return out, nil
}

var updateContainerInstancesStateMembers = members{"cluster": used, "containerInstances": used, "status": used}

func (a *api) ecsUpdateContainerInstancesState(body []byte) (any, *Error) {
	var req struct {
		Cluster            string   `json:"cluster"`
		ContainerInstances []string `json:"containerInstances"`
		Status             string   `json:"status"`
	}
	if e := decodeRequest(body, &req, updateContainerInstancesStateMembers); e != nil {
		return nil, e
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	action := map[string]string{"ACTIVE": agent.ActionActivate, "DRAINING": agent.ActionDrain}[req.Status]
	switch {
	case action == "":
		return nil, invalidParameter("status must be ACTIVE or DRAINING, not %q.", req.Status)
	case len(req.ContainerInstances) == 0:
		return nil, invalidParameter("ContainerInstances cannot be empty.")
	case len(req.ContainerInstances) > 10:
		return nil, invalidParameter("containerInstances can name at most 10 instances, not %d.", len(req.ContainerInstances))
	}
	var changed []string
	out := ecsContainerInstancesResponse{ContainerInstances: []ecsContainerInstanceJSON{}, Failures: []ecsFailure{}}
	instances := a.b.Instances()
	for _, ref := range req.ContainerInstances {
		in, ok := c.findInstance(instances, ref)
		if !ok {
			out.Failures = append(out.Failures, c.instanceFailure(ref))
			continue
		}
		err := a.b.InstanceAction(in.Name, action)
		switch {
		case err == nil:
			changed = append(changed, in.Name)
		case errors.Is(err, agent.ErrNotFound):
			out.Failures = append(out.Failures, c.instanceFailure(ref))
		case errors.Is(err, agent.ErrInvalid):
			out.Failures = append(out.Failures, ecsFailure{Arn: c.containerInstanceARN(in.Name), Reason: "INVALID", Detail: err.Error()})
		default:
			return nil, backendError(err, codeInvalidParameter, codeInvalidParameter)
		}
	}
	after := a.b.Instances()
	for _, name := range changed {
		if in, ok := c.findInstance(after, name); ok {
			out.ContainerInstances = append(out.ContainerInstances, c.containerInstance(in))
		}
	}
	return out, nil
}
