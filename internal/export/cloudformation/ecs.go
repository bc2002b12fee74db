package cloudformation

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/shoalhq/shoal/internal/spec"
)

// DefaultMemoryReservation is the memory reservation, in MiB, of a
// container for which the stack reserves none: ECS on EC2 needs one.
const DefaultMemoryReservation = 128

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// taskDefinitions adds a task definition per task definition that a
// service other than a cache runs, or that no service runs.
func (b *builder) taskDefinitions() {
	for _, name := range sortedKeys(b.s.TaskDefinitions) {
		if b.onlyCaches(name) {
			continue
		}
		td, path := b.s.TaskDefinitions[name], "task_definitions."+name
		id := b.id(name, "TaskDefinition")
		b.taskDefs[name] = id
		out := &TaskDefinition{
			Family: b.s.Name + "-" + name, NetworkMode: "bridge", RequiresCompatibilities: []string{"EC2"},
			ExecutionRoleArn: getAtt(idExecutionRole, "Arn"),
		}
		if td.CPU > 0 {
			out.CPU = strconv.Itoa(td.CPU)
		}
		if td.Memory > 0 {
			out.Memory = strconv.Itoa(td.Memory)
		}
		if len(td.Containers) > 0 {
			for i, c := range td.Containers {
				out.ContainerDefinitions = append(out.ContainerDefinitions, b.container(fmt.Sprintf("%s.containers[%d]", path, i), name, td, c))
			}
		} else {
			out.ContainerDefinitions = []ContainerDefinition{b.mainContainer(path, name, td)}
		}
		for i := range out.ContainerDefinitions {
			out.ContainerDefinitions[i].LogConfiguration = logs(name)
		}
		b.resource(id, "AWS::ECS::TaskDefinition", out)
	}
}

// logs sends a container's output to the stack's log group, in streams
// named after the task definition, as shoal logs shows a task's.
func logs(taskDef string) *LogConfiguration {
	return &LogConfiguration{LogDriver: "awslogs", Options: map[string]any{
		"awslogs-group": ref(idLogGroup), "awslogs-region": ref("AWS::Region"), "awslogs-stream-prefix": taskDef,
	}}
}

// onlyCaches reports whether every service that runs task definition
// name is a cache (and at least one does).
func (b *builder) onlyCaches(name string) bool {
	n := 0
	for _, svc := range sortedKeys(b.s.Services) {
		if b.s.Services[svc].TaskDefinition == name {
			if !b.isCache(svc) {
				return false
			}
			n++
		}
	}
	return n > 0
}

// mainContainer maps a task definition of one container, or of one
// process: ECS runs containers only, so a process's image is a parameter
// without a default, and a warning says how to make it.
func (b *builder) mainContainer(path, name string, td *spec.TaskDefinition) ContainerDefinition {
	param := b.id(name, "Image")
	p := &Parameter{Type: "String", MinLength: intp(1), Description: fmt.Sprintf("URI of the image of task definition %s", name)}
	b.param(param, p)
	c := ContainerDefinition{Name: name, Image: ref(param), Essential: true, EntryPoint: td.EntryPoint,
		WorkingDirectory: td.WorkingDirectory, User: td.User, MemoryReservation: td.MemoryReservation}
	env := maps.Clone(td.Environment)
	if env == nil {
		env = map[string]string{}
	}
	switch {
	case td.IsContainer():
		c.Command = td.Command
		b.imageDefault(path, param, p, td.Image, td.Build)
	default:
		listen := ""
		if td.Port > 0 {
			listen = fmt.Sprintf(", listening on $HOST:$PORT (the template sets HOST=0.0.0.0 and PORT=%d)", td.Port)
		}
		b.w.Add(path+".command", "changes meaning: ECS runs containers, not processes: give parameter %s the URI of an image that runs this command%s; add image: to the task definition, or build: {context: .} and run it with the Docker driver, then push the image to ECR (docs/containers.md). The command itself is not carried over: the image's CMD runs", param, listen)
		if td.Build.Command != "" {
			b.w.Add(path+".build", "not carried over: the build runs here; the image must hold its output")
		}
		if td.WorkingDir != "" {
			b.w.Add(path+".working_dir", "not carried over: the image's WORKDIR is the folder the command runs in")
		}
		if _, ok := env["HOST"]; !ok {
			env["HOST"] = "0.0.0.0"
		}
	}
	for _, m := range td.PortMappings {
		c.PortMappings = append(c.PortMappings, PortMapping{m.ContainerPort, m.HostPort, m.Protocol})
	}
	if len(td.PortMappings) == 0 && td.Port > 0 {
		c.PortMappings = []PortMapping{{ContainerPort: td.Port, HostPort: 0, Protocol: "tcp"}}
	}
	if _, port := targetContainer(name, td); port > 0 {
		if _, ok := env["PORT"]; !ok {
			env["PORT"] = strconv.Itoa(port)
		}
	}
	c.Environment = b.environment(path+".environment", env)
	if td.HealthCheck != nil {
		c.HealthCheck = b.healthCheck(path+".health_check", td.HealthCheck)
	}
	c.StopTimeout = intp(b.seconds(path+".stop_timeout", td.StopTimeout, 2, 120))
	if td.Memory == 0 && td.MemoryReservation == 0 {
		c.MemoryReservation = DefaultMemoryReservation
		set := "memory"
		if td.IsContainer() {
			set = "memory or memory_reservation"
		}
		b.w.Add(path, "approximate: no memory set: ECS on EC2 needs a memory reservation, and the template reserves %d MiB; set %s", DefaultMemoryReservation, set)
	}
	return c
}

// imageDefault gives an image parameter the stack's image as its
// default, unless the image is only on this machine.
func (b *builder) imageDefault(path, param string, p *Parameter, image string, build spec.Build) {
	switch {
	case image == "" && build.IsImage():
		b.w.Add(path+".build", "not carried over: the image is built here: push it to a registry AWS reaches (ECR) and give its URI as parameter %s", param)
	case localRegistry(image):
		b.w.Add(path+".image", "not carried over: %s is in a registry of this machine: push it to ECR and give its URI as parameter %s", image, param)
	case image != "":
		p.Default = image
	}
}

// localRegistry reports whether an image names a registry on loopback,
// like shoal's own.
func localRegistry(image string) bool {
	host, _, ok := strings.Cut(image, "/")
	if !ok {
		return false
	}
	h, _, _ := strings.Cut(host, ":")
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.") || strings.HasPrefix(host, "[::1]")
}

// container maps one container of a task of several.
func (b *builder) container(path, tdName string, td *spec.TaskDefinition, c *spec.Container) ContainerDefinition {
	param := b.id(tdName+"-"+c.Name, "Image")
	p := &Parameter{Type: "String", MinLength: intp(1), Description: fmt.Sprintf("URI of the image of container %s of task definition %s", c.Name, tdName)}
	b.param(param, p)
	build := spec.Build{}
	if c.Image == "" {
		build = td.Build
	}
	b.imageDefault(path, param, p, c.Image, build)
	out := ContainerDefinition{Name: c.Name, Image: ref(param), Essential: c.Essential, EntryPoint: c.EntryPoint, Command: c.Command,
		WorkingDirectory: c.WorkingDirectory, User: c.User, CPU: c.CPU, Memory: c.Memory, MemoryReservation: c.MemoryReservation}
	for _, m := range c.PortMappings {
		out.PortMappings = append(out.PortMappings, PortMapping{m.ContainerPort, m.HostPort, m.Protocol})
	}
	env := maps.Clone(c.Environment)
	if len(c.PortMappings) > 0 {
		if env == nil {
			env = map[string]string{}
		}
		if _, ok := env["PORT"]; !ok {
			env["PORT"] = strconv.Itoa(c.PortMappings[0].ContainerPort)
		}
	}
	out.Environment = b.environment(path+".environment", env)
	for _, d := range c.DependsOn {
		out.DependsOn = append(out.DependsOn, ContainerDepends{d.ContainerName, d.Condition})
	}
	if c.HealthCheck != nil {
		out.HealthCheck = b.healthCheck(path+".health_check", c.HealthCheck)
	}
	if c.StopTimeout != 0 {
		out.StopTimeout = intp(b.seconds(path+".stop_timeout", c.StopTimeout, 2, 120))
	} else {
		out.StopTimeout = intp(b.seconds("task_definitions."+tdName+".stop_timeout", td.StopTimeout, 2, 120))
	}
	if td.Memory == 0 && c.Memory == 0 && c.MemoryReservation == 0 {
		out.MemoryReservation = DefaultMemoryReservation
		b.w.Add(path, "approximate: no memory set: ECS on EC2 needs a memory reservation, and the template reserves %d MiB; set memory or memory_reservation", DefaultMemoryReservation)
	}
	return out
}

// targetContainer is the container a target group reaches in a task of
// definition name, and its container port: the mapping of port, else the
// first mapping (the first essential container's, in a task of several).
func targetContainer(name string, td *spec.TaskDefinition) (string, int) {
	if len(td.Containers) == 0 {
		for _, m := range td.PortMappings {
			if td.Port == 0 || m.ContainerPort == td.Port {
				return name, m.ContainerPort
			}
		}
		return name, td.Port
	}
	var first *spec.Container
	for _, c := range td.Containers {
		for _, m := range c.PortMappings {
			if m.ContainerPort == td.Port {
				return c.Name, m.ContainerPort
			}
			if first == nil && c.Essential {
				first = c
			}
		}
	}
	if first != nil {
		return first.Name, first.PortMappings[0].ContainerPort
	}
	return td.Containers[0].Name, 0
}

// environment maps the variables, in name order; ${services.NAME.address}
// (host, port) of a Redis backing service becomes its endpoint through
// Fn::Sub.
func (b *builder) environment(path string, env map[string]string) []EnvVar {
	var out []EnvVar
	for _, k := range sortedKeys(env) {
		out = append(out, EnvVar{Name: k, Value: b.envValue(path+"."+k, env[k])})
	}
	return out
}

func (b *builder) envValue(path, v string) any {
	phs := spec.FindPlaceholders(v)
	if len(phs) == 0 {
		return v
	}
	var sb strings.Builder
	resolved, at := false, 0
	for _, ph := range phs {
		sb.WriteString(escapeSub(v[at:ph.Start]))
		at = ph.End
		id, ok := b.caches[ph.Service]
		if !ok {
			b.w.Add(path, "not carried over: ECS gives service %s no address (no service discovery in the template): %s stays as written; set it by hand, or add ECS Service Connect", ph.Service, ph.Text)
			sb.WriteString(escapeSub(ph.Text))
			continue
		}
		resolved = true
		switch ph.Field {
		case "host":
			fmt.Fprintf(&sb, "${%s.RedisEndpoint.Address}", id)
		case "port":
			fmt.Fprintf(&sb, "${%s.RedisEndpoint.Port}", id)
		default:
			fmt.Fprintf(&sb, "${%s.RedisEndpoint.Address}:${%s.RedisEndpoint.Port}", id, id)
		}
	}
	sb.WriteString(escapeSub(v[at:]))
	if !resolved {
		return v
	}
	return sub(sb.String())
}

// escapeSub keeps a literal ${ through Fn::Sub.
func escapeSub(s string) string { return strings.ReplaceAll(s, "${", "${!") }

// healthCheck maps a container health check, its times in AWS's ranges.
func (b *builder) healthCheck(path string, hc *spec.ContainerHealthCheck) *HealthCheck {
	cmd := []string(hc.Command)
	switch {
	case len(cmd) == 3 && cmd[0] == "/bin/sh" && cmd[1] == "-c":
		cmd = []string{"CMD-SHELL", cmd[2]}
	case len(cmd) > 0 && (cmd[0] == "CMD" || cmd[0] == "CMD-SHELL"):
	default:
		cmd = append([]string{"CMD"}, cmd...)
	}
	return &HealthCheck{
		Command:     cmd,
		Interval:    b.seconds(path+".interval", hc.Interval, 5, 300),
		Timeout:     b.seconds(path+".timeout", hc.Timeout, 2, 60),
		Retries:     hc.Retries,
		StartPeriod: b.seconds(path+".start_period", hc.StartPeriod, 0, 300),
	}
}

// servicesResources adds an ECS service per service that is not a cache,
// and its auto scaling.
func (b *builder) servicesResources() {
	for _, name := range sortedKeys(b.s.Services) {
		if !b.isCache(name) {
			b.services[name] = b.id(name, "Service")
		}
	}
	for _, name := range sortedKeys(b.services) {
		b.service(name)
	}
}

func (b *builder) service(name string) {
	svc, id, path := b.s.Services[name], b.services[name], "services."+name
	td := b.s.TaskDefinitions[svc.TaskDefinition]
	d := svc.Deployment
	out := &Service{
		Cluster: ref(idCluster), TaskDefinition: ref(b.taskDefs[svc.TaskDefinition]), LaunchType: "EC2",
		SchedulingStrategy:      strings.ToUpper(svc.SchedulingStrategy),
		DeploymentConfiguration: DeploymentConfig{MinimumHealthyPercent: d.MinimumHealthyPercent, MaximumPercent: d.MaximumPercent},
		Tags:                    tags(b.s.Name, name),
	}
	if d.CircuitBreaker.Enable {
		out.DeploymentConfiguration.DeploymentCircuitBreaker = &CircuitBreaker{Enable: true, Rollback: d.CircuitBreaker.Rollback}
	}
	if svc.SchedulingStrategy == spec.StrategyDaemon {
		if len(svc.PlacementStrategy) > 0 && !(len(svc.PlacementStrategy) == 1 && svc.PlacementStrategy[0].Type == "spread") {
			b.w.Add(path+".placement_strategy", "not carried over: ECS places a daemon service's tasks one per instance, without strategies")
		}
	} else {
		out.DesiredCount = intp(svc.Desired)
		for _, p := range svc.PlacementStrategy {
			field := p.Field
			if p.Type == "spread" && field == "" {
				field = "instanceId"
			}
			out.PlacementStrategies = append(out.PlacementStrategies, Placement{Type: p.Type, Field: field})
		}
		for _, c := range svc.PlacementConstraints {
			if c.Type == spec.ConstraintDistinctInstance {
				out.PlacementConstraints = append(out.PlacementConstraints, Placement{Type: "distinctInstance"})
			}
		}
	}
	deps := []string{idAutoScalingGroup}
	if svc.TargetGroup != "" {
		container, port := targetContainer(svc.TaskDefinition, td)
		if port == 0 {
			b.w.Add(path+".target_group", "not carried over: the task definition has no port for the target group to reach: give it port (or port_mappings)")
		} else {
			out.LoadBalancers = []ServiceLoadBalancer{{ContainerName: container, ContainerPort: port, TargetGroupArn: ref(b.targetGroups[svc.TargetGroup])}}
		}
		deps = append(deps, b.tgUsers[svc.TargetGroup]...)
	}
	if g := svc.HealthCheckGracePeriod; g != 0 {
		out.HealthCheckGracePeriodSeconds = intp(b.seconds(path+".health_check_grace_period", g, 0, 2147483647))
	}
	for _, dep := range svc.DependsOn {
		if id, ok := b.caches[dep]; ok {
			deps = append(deps, id)
			continue
		}
		deps = append(deps, b.services[dep])
		b.w.Add(path+".depends_on", "approximate: CloudFormation creates service %s first, but ECS starts this service's tasks without waiting for %s's to be healthy", dep, dep)
	}
	deps = append(deps, b.deployment(path+".deployment", svc, out)...)
	slices.Sort(deps)
	b.resource(id, "AWS::ECS::Service", out, slices.Compact(deps)...)
	if svc.Autoscaling != nil {
		b.autoscaling(name, path+".autoscaling", svc)
	}
}

// autoscaling adds the service's scalable target and a target tracking
// policy per policy.
func (b *builder) autoscaling(name, path string, svc *spec.Service) {
	a, svcID := svc.Autoscaling, b.services[name]
	target := b.id(name, "ScalableTarget")
	b.resource(target, "AWS::ApplicationAutoScaling::ScalableTarget", &ScalableTarget{
		MinCapacity: a.Min, MaxCapacity: a.Max, ScalableDimension: "ecs:service:DesiredCount", ServiceNamespace: "ecs",
		ResourceID: sub(fmt.Sprintf("service/${%s}/${%s.Name}", idCluster, svcID)),
	})
	if a.Period.D() != spec.DefaultScalingPeriod {
		b.w.Add(path+".period", "approximate: AWS's target tracking takes one-minute datapoints, not %s", a.Period)
	}
	for i, tt := range a.TargetTracking {
		metric := PredefinedMetric{PredefinedMetricType: tt.Metric}
		if tt.Metric == spec.MetricRequestCountPerTarget {
			lb, ok := b.tgBalancer[svc.TargetGroup]
			if !ok {
				b.w.Add(fmt.Sprintf("%s.target_tracking[%d]", path, i), "not carried over: no load balancer forwards to the service's target group, so it has no request count")
				continue
			}
			metric.ResourceLabel = sub(fmt.Sprintf("${%s.LoadBalancerFullName}/${%s.TargetGroupFullName}", b.loadBalancers[lb], b.targetGroups[svc.TargetGroup]))
		}
		tp := fmt.Sprintf("%s.target_tracking[%d]", path, i)
		b.resource(b.id(name, fmt.Sprintf("ScalingPolicy%d", i+1)), "AWS::ApplicationAutoScaling::ScalingPolicy", &ScalingPolicy{
			PolicyName: fmt.Sprintf("%s-%s-%s", b.s.Name, name, strings.ToLower(tt.Metric)), PolicyType: "TargetTrackingScaling",
			ScalingTargetID: ref(target),
			TargetTrackingScalingPolicyConfiguration: TrackingConfig{
				TargetValue:      tt.Target,
				ScaleOutCooldown: b.seconds(tp+".scale_out_cooldown", tt.ScaleOutCooldown, 0, 3600),
				ScaleInCooldown:  b.seconds(tp+".scale_in_cooldown", tt.ScaleInCooldown, 0, 3600),
				DisableScaleIn:   tt.DisableScaleIn, PredefinedMetricSpecification: metric,
			},
		})
	}
}
