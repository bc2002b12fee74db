package awsapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
)

// ECS services: ListServices, DescribeServices, UpdateService.

type ecsServiceJSON struct {
	ServiceArn              string                     `json:"serviceArn"`
	ServiceName             string                     `json:"serviceName"`
	ClusterArn              string                     `json:"clusterArn"`
	Status                  string                     `json:"status"`
	DesiredCount            int                        `json:"desiredCount"`
	RunningCount            int                        `json:"runningCount"`
	PendingCount            int                        `json:"pendingCount"`
	LaunchType              string                     `json:"launchType"`
	SchedulingStrategy      string                     `json:"schedulingStrategy"`
	TaskDefinition          string                     `json:"taskDefinition,omitempty"`
	LoadBalancers           []ecsLoadBalancer          `json:"loadBalancers"`
	DeploymentConfiguration ecsDeploymentConfiguration `json:"deploymentConfiguration"`
	DeploymentController    ecsDeploymentController    `json:"deploymentController"`
	Deployments             []ecsDeployment            `json:"deployments"`
	Events                  []ecsEvent                 `json:"events"`
	CreatedAt               *epoch                     `json:"createdAt,omitempty"`
}

type ecsLoadBalancer struct {
	TargetGroupArn string `json:"targetGroupArn"`
	ContainerName  string `json:"containerName,omitempty"`
	ContainerPort  int    `json:"containerPort,omitempty"`
}

type ecsDeploymentConfiguration struct {
	DeploymentCircuitBreaker ecsCircuitBreaker `json:"deploymentCircuitBreaker"`
	MaximumPercent           int               `json:"maximumPercent"`
	MinimumHealthyPercent    int               `json:"minimumHealthyPercent"`
	Strategy                 string            `json:"strategy"`
}

// ecsStrategy is a service's deployment strategy as ECS names it
// (ROLLING, BLUE_GREEN, CANARY, LINEAR).
func ecsStrategy(s string) string {
	if s == "" {
		return "ROLLING"
	}
	return strings.ToUpper(s)
}

type ecsCircuitBreaker struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

type ecsDeploymentController struct {
	Type string `json:"type"`
}

type ecsDeployment struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	TaskDefinition     string `json:"taskDefinition"`
	DesiredCount       int    `json:"desiredCount"`
	RunningCount       int    `json:"runningCount"`
	PendingCount       int    `json:"pendingCount"`
	FailedTasks        int    `json:"failedTasks"`
	CreatedAt          *epoch `json:"createdAt,omitempty"`
	UpdatedAt          *epoch `json:"updatedAt,omitempty"`
	LaunchType         string `json:"launchType"`
	RolloutState       string `json:"rolloutState,omitempty"`
	RolloutStateReason string `json:"rolloutStateReason,omitempty"`
}

type ecsEvent struct {
	ID        string `json:"id"`
	CreatedAt *epoch `json:"createdAt"`
	Message   string `json:"message"`
}

// maxServiceEvents is how many events DescribeServices shows per service,
// newest first, as ECS.
const maxServiceEvents = 100

// revisionIndex finds task definition revisions by "family:number".
type revisionIndex map[string]agent.FamilyRevision

func (a *api) revisionIndex() revisionIndex {
	idx := revisionIndex{}
	for _, r := range a.b.TaskDefinitions() {
		idx[r.Name()] = r
	}
	return idx
}

// service is the JSON of one service. events are the agent's, oldest
// first.
func (c ecsCluster) service(s agent.ServiceStatus, revs revisionIndex, events []agent.Event) ecsServiceJSON {
	out := ecsServiceJSON{
		ServiceArn: c.serviceARN(s.Name), ServiceName: s.Name, ClusterArn: c.clusterARN(), Status: "ACTIVE",
		DesiredCount: s.Desired, RunningCount: s.Running, PendingCount: s.Pending,
		LaunchType: "EC2", SchedulingStrategy: strings.ToUpper(s.SchedulingStrategy),
		TaskDefinition: c.revisionARN(s.TaskDefinition),
		LoadBalancers:  []ecsLoadBalancer{},
		DeploymentConfiguration: ecsDeploymentConfiguration{
			DeploymentCircuitBreaker: ecsCircuitBreaker{Enable: s.DeploymentConfig.CircuitBreaker, Rollback: s.DeploymentConfig.Rollback},
			MaximumPercent:           s.DeploymentConfig.MaxPercent,
			MinimumHealthyPercent:    s.DeploymentConfig.MinHealthyPercent,
			Strategy:                 ecsStrategy(s.Strategy),
		},
		DeploymentController: ecsDeploymentController{Type: "ECS"},
		Deployments:          []ecsDeployment{},
		Events:               []ecsEvent{},
	}
	if s.TargetGroup != "" {
		family, _ := splitRevision(s.TaskDefinition)
		out.LoadBalancers = append(out.LoadBalancers, ecsLoadBalancer{
			TargetGroupArn: c.targetGroupARN(s.TargetGroup), ContainerName: family,
			ContainerPort: revs[s.TaskDefinition].Definition.Task.ContainerPort,
		})
	}
	var oldest time.Time
	for _, d := range s.Deployments {
		// INACTIVE deployments are history: ECS lists only PRIMARY and
		// ACTIVE ones, and `aws ecs wait services-stable` counts on it.
		if d.Status != agent.DeploymentPrimary && d.Status != agent.DeploymentActive {
			continue
		}
		out.Deployments = append(out.Deployments, ecsDeployment{
			ID: d.ID, Status: d.Status, TaskDefinition: c.revisionARN(d.TaskDefinition),
			DesiredCount: d.Desired, RunningCount: d.Running, PendingCount: d.Pending, FailedTasks: d.FailedTasks,
			CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt), LaunchType: "EC2",
			RolloutState: string(d.Rollout), RolloutStateReason: d.Reason,
		})
		if oldest.IsZero() || (!d.CreatedAt.IsZero() && d.CreatedAt.Before(oldest)) {
			oldest = d.CreatedAt
		}
	}
	out.CreatedAt = timestamp(oldest)
	for i := len(events) - 1; i >= 0 && len(out.Events) < maxServiceEvents; i-- {
		if e := events[i]; e.Service == s.Name {
			out.Events = append(out.Events, ecsEvent{ID: c.eventID(e.Seq), CreatedAt: timestamp(e.Time), Message: e.Message})
		}
	}
	return out
}

// eventID is an event's id in ECS's form (a UUID), stable for the stack
// and the event's sequence number.
func (n arns) eventID(seq int64) string {
	sum := sha256.Sum256([]byte(n.cluster + "\x00event\x00" + strconv.FormatInt(seq, 10)))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// revisionARN is the ARN of a revision named "family:number" ("" for "").
func (n arns) revisionARN(name string) string {
	family, number := splitRevision(name)
	if family == "" || number == 0 {
		return ""
	}
	return n.taskDefinitionARN(family, number)
}

// splitRevision splits "family:number"; number is 0 when it has none.
func splitRevision(name string) (family string, number int) {
	family, num, ok := strings.Cut(name, ":")
	if !ok {
		return family, 0
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return "", 0
	}
	return family, n
}

// findService is the service a reference (name or ARN) names.
func (c ecsCluster) findService(services []agent.ServiceStatus, ref string) (agent.ServiceStatus, bool) {
	name, ok := c.resourceName("service", ref)
	if !ok {
		return agent.ServiceStatus{}, false
	}
	i := slices.IndexFunc(services, func(s agent.ServiceStatus) bool { return s.Name == name })
	if i < 0 {
		return agent.ServiceStatus{}, false
	}
	return services[i], true
}

func serviceNotFound(services []agent.ServiceStatus, ref string) *Error {
	var names []string
	for _, s := range services {
		names = append(names, s.Name)
	}
	return clientError(codeServiceNotFound, fmt.Sprintf("Service not found. The cluster has no service %q; its services are: %s.", ref, strings.Join(names, ", ")))
}

var listServicesMembers = members{
	"cluster": used, "launchType": used, "schedulingStrategy": used, "resourceManagementType": used,
	"maxResults": used, "nextToken": used,
}

func (a *api) ecsListServices(body []byte) (any, *Error) {
	var req struct {
		Cluster                string `json:"cluster"`
		LaunchType             string `json:"launchType"`
		SchedulingStrategy     string `json:"schedulingStrategy"`
		ResourceManagementType string `json:"resourceManagementType"`
		MaxResults             *int   `json:"maxResults"`
		NextToken              string `json:"nextToken"`
	}
	if e := decodeRequest(body, &req, listServicesMembers); e != nil {
		return nil, e
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	var names []string
	for _, s := range c.st.Services {
		switch {
		case req.LaunchType != "" && req.LaunchType != "EC2":
		case req.SchedulingStrategy != "" && req.SchedulingStrategy != strings.ToUpper(s.SchedulingStrategy):
		case req.ResourceManagementType != "" && req.ResourceManagementType != "CUSTOMER":
		default:
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	out, next, e := page(names, func(s string) string { return s }, strings.Compare, req.NextToken, req.MaxResults, 10)
	if e != nil {
		return nil, e
	}
	resp := struct {
		ServiceArns []string `json:"serviceArns"`
		NextToken   string   `json:"nextToken,omitempty"`
	}{ServiceArns: []string{}, NextToken: next}
	for _, name := range out {
		resp.ServiceArns = append(resp.ServiceArns, c.serviceARN(name))
	}
	return resp, nil
}

var describeServicesMembers = members{"cluster": used, "services": used, "include": ignored}

func (a *api) ecsDescribeServices(body []byte) (any, *Error) {
	var req struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
	}
	if e := decodeRequest(body, &req, describeServicesMembers); e != nil {
		return nil, e
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	switch {
	case len(req.Services) == 0:
		return nil, invalidParameter("Services cannot be empty.")
	case len(req.Services) > 10:
		return nil, invalidParameter("services can name at most 10 services, not %d.", len(req.Services))
	}
	revs, events := a.revisionIndex(), a.b.Events(0)
	out := struct {
		Services []ecsServiceJSON `json:"services"`
		Failures []ecsFailure     `json:"failures"`
	}{Services: []ecsServiceJSON{}, Failures: []ecsFailure{}}
	for _, ref := range req.Services {
		s, ok := c.findService(c.st.Services, ref)
		if !ok {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = c.serviceARN(ref)
			}
			out.Failures = append(out.Failures, missing(arn))
			continue
		}
		out.Services = append(out.Services, c.service(s, revs, events))
	}
	return out, nil
}

var updateServiceMembers = members{
	"cluster": used, "service": used, "desiredCount": used, "taskDefinition": used,
	"forceNewDeployment": used, "deploymentConfiguration": used, "loadBalancers": used,
	"enableECSManagedTags": ignored, "propagateTags": ignored,
	"deploymentController": refusedUnless(isValue(map[string]string{"type": "ECS"}),
		"shoal's services deploy with ECS's rolling update, deployment controller type ECS"),
	"enableExecuteCommand": refused("shoal's tasks are local processes, without ECS Exec: run commands on this machine instead"),
	"availabilityZoneRebalancing": refusedUnless(isValue("DISABLED"),
		"shoal's instances are on one machine, in no Availability Zone"),
	"capacityProviderStrategy": refused("shoal's cluster has no capacity providers: its instances are cluster.instances in the stack file"),
	"networkConfiguration":     refused("shoal's tasks use bridge networking with dynamic host ports; awsvpc is not supported"),
	"placementConstraints":     refused("set the service's placement_constraints in the stack file and run shoal deploy"),
	"placementStrategy":        refused("set the service's placement_strategy in the stack file and run shoal deploy"),
	"platformVersion":          refused("platform versions are Fargate's; shoal's cluster runs the EC2 launch type"),
	"healthCheckGracePeriodSeconds": refused(
		"set the service's health_check_grace_period in the stack file and run shoal deploy"),
	"serviceRegistries": refused("shoal has no Cloud Map service discovery: a task reaches a service through ${services.NAME.address} in its environment"),
	"serviceConnectConfiguration": refusedUnless(isDisabled,
		"shoal has no Service Connect: a task reaches a service through ${services.NAME.address} in its environment"),
	"volumeConfigurations":     refused("shoal's tasks are local processes, without volumes"),
	"vpcLatticeConfigurations": refused("shoal has no VPC Lattice"),
	"gatewayConnectors":        refused("shoal has no ECS gateways"),
	"monitoring":               refused("shoal has no CloudWatch monitoring: `shoal events` and DescribeServices show what happens"),
}

var deploymentConfigurationMembers = members{
	"maximumPercent": used, "minimumHealthyPercent": used, "deploymentCircuitBreaker": used,
	"strategy": refusedUnless(isValue("ROLLING"), "a service's deployment strategy (BLUE_GREEN, CANARY, LINEAR) is set in the stack file: services.NAME.deployment.strategy, then shoal deploy"),
	"alarms": refusedUnless(isDisabledAlarms,
		"deployment alarms are set in the stack file (services.NAME.deployment.alarms, over shoal's own load balancer metrics), then shoal deploy"),
	"bakeTimeInMinutes":    refusedUnless(isValue(0), "bake time is set in the stack file (services.NAME.deployment.bake_time), then shoal deploy"),
	"lifecycleHooks":       refused("lifecycle hooks are set in the stack file (services.NAME.deployment.lifecycle_hooks), then shoal deploy"),
	"linearConfiguration":  refused("linear deployments are set in the stack file (services.NAME.deployment.linear), then shoal deploy"),
	"canaryConfiguration":  refused("canary deployments are set in the stack file (services.NAME.deployment.canary), then shoal deploy"),
	"earlySuccessCriteria": refused("shoal's deployments complete when every new task is healthy and no old one is left"),
}

var loadBalancerMembers = members{
	"targetGroupArn": used, "containerName": used, "containerPort": used,
	"loadBalancerName":      refused("Classic Load Balancers are not supported: a service's target group is its target_group in the stack file"),
	"advancedConfiguration": refused("a blue/green service's alternate target group and listener rules are set in the stack file (services.NAME.deployment), then shoal deploy"),
}

var circuitBreakerMembers = members{
	"enable": used, "rollback": used,
	"resetOnHealthyTask": refusedUnless(isValue(true),
		"shoal's circuit breaker counts failures in a row: a task turning healthy always resets the count"),
	"thresholdConfiguration": refused("shoal's circuit breaker threshold is ECS's default: half the desired count, at least 3 and at most 200"),
}

// isDisabled accepts a configuration {"enabled": false}.
func isDisabled(raw json.RawMessage) bool {
	var v struct {
		Enabled bool `json:"enabled"`
	}
	return json.Unmarshal(raw, &v) == nil && !v.Enabled
}

// isDisabledAlarms accepts deployment alarms that are not enabled.
func isDisabledAlarms(raw json.RawMessage) bool {
	var v struct {
		Enable bool `json:"enable"`
	}
	return json.Unmarshal(raw, &v) == nil && !v.Enable
}

type ecsDeploymentConfigurationRequest struct {
	MaximumPercent           *int `json:"maximumPercent"`
	MinimumHealthyPercent    *int `json:"minimumHealthyPercent"`
	DeploymentCircuitBreaker *struct {
		Enable   bool `json:"enable"`
		Rollback bool `json:"rollback"`
	} `json:"deploymentCircuitBreaker"`
}

func (a *api) ecsUpdateService(body []byte) (any, *Error) {
	var req struct {
		Cluster                 string          `json:"cluster"`
		Service                 string          `json:"service"`
		DesiredCount            *int            `json:"desiredCount"`
		TaskDefinition          string          `json:"taskDefinition"`
		ForceNewDeployment      bool            `json:"forceNewDeployment"`
		DeploymentConfiguration json.RawMessage `json:"deploymentConfiguration"`
		LoadBalancers           []struct {
			TargetGroupArn string `json:"targetGroupArn"`
			ContainerName  string `json:"containerName"`
			ContainerPort  int    `json:"containerPort"`
		} `json:"loadBalancers"`
	}
	if e := decodeRequest(body, &req, updateServiceMembers); e != nil {
		return nil, e
	}
	var raw struct {
		LoadBalancers []json.RawMessage `json:"loadBalancers"`
	}
	json.Unmarshal(body, &raw) // decoded above already
	for i, lb := range raw.LoadBalancers {
		if e := loadBalancerMembers.check(fmt.Sprintf("loadBalancers[%d].", i), lb); e != nil {
			return nil, e
		}
	}
	var dc *ecsDeploymentConfigurationRequest
	if !emptyJSON(req.DeploymentConfiguration) {
		if e := deploymentConfigurationMembers.check("deploymentConfiguration.", req.DeploymentConfiguration); e != nil {
			return nil, e
		}
		var raw struct {
			DeploymentCircuitBreaker json.RawMessage `json:"deploymentCircuitBreaker"`
		}
		dc = &ecsDeploymentConfigurationRequest{}
		if err := json.Unmarshal(req.DeploymentConfiguration, dc); err != nil {
			return nil, serializationError("deploymentConfiguration.", err)
		}
		json.Unmarshal(req.DeploymentConfiguration, &raw)
		if e := circuitBreakerMembers.check("deploymentConfiguration.deploymentCircuitBreaker.", raw.DeploymentCircuitBreaker); e != nil {
			return nil, e
		}
	}
	c, e := a.cluster(req.Cluster)
	if e != nil {
		return nil, e
	}
	if req.Service == "" {
		return nil, invalidParameter("service must name the service to update.")
	}
	svc, ok := c.findService(c.st.Services, req.Service)
	if !ok {
		return nil, serviceNotFound(c.st.Services, req.Service)
	}
	revs := a.revisionIndex()
	var u agent.ServiceUpdate
	if req.DesiredCount != nil {
		if *req.DesiredCount < 0 {
			return nil, invalidParameter("desiredCount must be 0 or more, not %d.", *req.DesiredCount)
		}
		n := *req.DesiredCount
		u.Desired = &n
	}
	if req.TaskDefinition != "" {
		name, e := c.deployableRevision(req.TaskDefinition)
		if e != nil {
			return nil, e
		}
		u.TaskDefinition = name
	}
	u.ForceNewDeployment = req.ForceNewDeployment
	if dc != nil {
		cfg := svc.DeploymentConfig
		if dc.MaximumPercent != nil {
			cfg.MaxPercent = *dc.MaximumPercent
		}
		if dc.MinimumHealthyPercent != nil {
			cfg.MinHealthyPercent = *dc.MinimumHealthyPercent
		}
		if cb := dc.DeploymentCircuitBreaker; cb != nil {
			cfg.CircuitBreaker, cfg.Rollback = cb.Enable, cb.Rollback
		}
		u.Deployment = &cfg
	}
	if req.LoadBalancers != nil {
		current := c.service(svc, revs, nil).LoadBalancers
		same := len(req.LoadBalancers) == len(current)
		for i := 0; same && i < len(current); i++ {
			lb, cur := req.LoadBalancers[i], current[i]
			same = lb.TargetGroupArn == cur.TargetGroupArn &&
				(lb.ContainerName == "" || lb.ContainerName == cur.ContainerName) &&
				(lb.ContainerPort == 0 || lb.ContainerPort == cur.ContainerPort)
		}
		if !same {
			return nil, invalidParameter("shoal does not support changing loadBalancers: a service's target group is its target_group in the stack file; change it there and run shoal deploy.")
		}
	}
	if u.Desired != nil || u.TaskDefinition != "" || u.ForceNewDeployment || u.Deployment != nil {
		if err := a.b.UpdateService(svc.Name, u); err != nil {
			return nil, backendError(err, codeServiceNotFound, codeInvalidParameter)
		}
	}
	after, ok := c.findService(a.b.Services(), svc.Name)
	if !ok {
		return nil, serviceNotFound(a.b.Services(), svc.Name)
	}
	return struct {
		Service ecsServiceJSON `json:"service"`
	}{c.service(after, a.revisionIndex(), a.b.Events(0))}, nil
}

// deployableRevision resolves UpdateService's taskDefinition ("family",
// "family:revision" or an ARN) to what agent.ServiceUpdate takes, as ECS
// refuses one that does not exist or is INACTIVE.
func (c ecsCluster) deployableRevision(ref string) (string, *Error) {
	family, number, ok := c.parseTaskDefinition(ref)
	if !ok {
		return "", ecsClientError("TaskDefinition not found. %q is not a task definition: give family, family:revision or its ARN.", ref)
	}
	revs := c.b.TaskDefinitions()
	if number == 0 {
		for _, r := range revs {
			if r.Family == family && revisionStatus(r) == agent.RevisionActive {
				return family, nil
			}
		}
		return "", ecsClientError("TaskDefinition not found. Family %s has no ACTIVE revision.", family)
	}
	for _, r := range revs {
		if r.Family == family && r.Number == number {
			if revisionStatus(r) != agent.RevisionActive {
				return "", ecsClientError("TaskDefinition is inactive. %s was deregistered: register it again to deploy its content.", r.Name())
			}
			return r.Name(), nil
		}
	}
	return "", ecsClientError("TaskDefinition not found. There is no %s:%d.", family, number)
}
