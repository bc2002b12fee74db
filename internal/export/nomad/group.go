package nomad

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/shoalhq/shoal/internal/spec"
)

// Nomad's defaults that the export writes out, so that the job says what
// it does.
const (
	// maxKillTimeout is the client's max_kill_timeout by default: a task's
	// kill_timeout above it is cut to it.
	maxKillTimeout = 30 * time.Second
	// tcpCheckInterval and tcpCheckTimeout are the TCP check of a service
	// without a target group (shoal: healthy once it takes connections).
	tcpCheckInterval = 10 * time.Second
	tcpCheckTimeout  = 2 * time.Second
	// processPort is the port label of a process task: its PORT.
	processPort = "port"
	// minCheckTime is the shortest check interval and timeout Nomad takes.
	minCheckTime = time.Second
)

// group is what a task group's tasks add up to while it is built.
type group struct {
	ports   []api.Port // dynamic ports
	static  []api.Port // reserved (static) ports
	traffic string     // the port label the target group reaches
	hasPort bool       // whether traffic names a port
}

// addPort adds a port label for a container port (host 0: dynamic) once
// and returns its label.
func (g *group) addPort(container, host int) string {
	label := "p" + strconv.Itoa(container)
	for _, p := range append(g.ports, g.static...) {
		if p.Label == label {
			return label
		}
	}
	p := api.Port{Label: label, To: container}
	if host != 0 {
		p.Value = host
		g.static = append(g.static, p)
	} else {
		g.ports = append(g.ports, p)
	}
	return label
}

// setPort gives the container that publishes the traffic port PORT, the
// container port it listens on, as shoal's docker driver does, unless its
// environment sets PORT.
func (g *group) setPort(tasks []*api.Task) {
	for _, task := range tasks {
		labels, _ := task.Config["ports"].([]string)
		if task.Driver != "docker" || !slices.Contains(labels, g.traffic) {
			continue
		}
		for _, p := range append(g.ports, g.static...) {
			if _, set := task.Env["PORT"]; p.Label == g.traffic && !set {
				if task.Env == nil {
					task.Env = map[string]string{}
				}
				task.Env["PORT"] = strconv.Itoa(p.To)
			}
		}
		return
	}
}

// publishCheckPorts has the container that publishes the traffic port
// publish the ports its checks use too (a health check on a port of its
// own).
func (g *group) publishCheckPorts(tasks []*api.Task, service *api.Service) {
	for _, task := range tasks {
		labels, _ := task.Config["ports"].([]string)
		if task.Driver != "docker" || !slices.Contains(labels, g.traffic) {
			continue
		}
		for _, c := range service.Checks {
			if !slices.Contains(labels, c.PortLabel) {
				labels = append(labels, c.PortLabel)
			}
		}
		task.Config["ports"] = labels
		return
	}
}

// serviceGroup is a shoal service as a task group.
func (e *exporter) serviceGroup(name string, svc *spec.Service) *api.TaskGroup {
	at := "services." + name
	td := e.s.TaskDefinitions[svc.TaskDefinition]
	tdAt := "task_definitions." + svc.TaskDefinition
	count := e.count(at, svc)
	tg := &api.TaskGroup{Name: new(name), Count: new(count), Meta: map[string]string{"shoal_service": name, "shoal_task_definition": svc.TaskDefinition}}
	var g group
	switch {
	case len(td.Containers) > 0:
		for i, c := range td.Containers {
			tg.Tasks = append(tg.Tasks, e.containerTask(fmt.Sprintf("%s.containers[%d]", tdAt, i), td, c, &g))
		}
		if td.CPU != 0 || td.Memory != 0 {
			e.warn.Add(tdAt, "the task's cpu and memory are not carried over: Nomad reserves resources per task (container), set them on each container")
		}
	case td.IsContainer():
		tg.Tasks = append(tg.Tasks, e.imageTask(name, tdAt, td, &g))
	default:
		tg.Tasks = append(tg.Tasks, e.processTask(name, tdAt, td, &g))
	}
	g.setPort(tg.Tasks)
	var target *spec.TargetGroup
	if svc.TargetGroup != "" {
		target = e.s.TargetGroups[svc.TargetGroup]
	}
	if service := e.registration(at, name, svc, target, &g); service != nil {
		tg.Services = []*api.Service{service}
		g.publishCheckPorts(tg.Tasks, service)
	}
	if len(g.ports) > 0 || len(g.static) > 0 {
		tg.Networks = []*api.NetworkResource{{DynamicPorts: g.ports, ReservedPorts: g.static}}
	}
	if target != nil {
		tg.ShutdownDelay = new(target.DeregistrationDelay.D())
	}
	e.containerHealth(tdAt, td)
	if svc.SchedulingStrategy == spec.StrategyDaemon {
		tg.Count = nil // a system job runs one on every client
		tg.Update = e.systemUpdate(at, svc, count)
	} else {
		tg.Update = e.update(at, svc, count, len(tg.Services) > 0 && len(tg.Services[0].Checks) > 0, target)
	}
	tg.Scaling = e.scaling(at, svc)
	tg.Constraints, tg.Spreads = e.placement(at, svc)
	if len(svc.DependsOn) > 0 {
		e.warn.Add(at+".depends_on", "not carried over as an order: Nomad starts every group at once; a task whose environment names a service waits for its template to render and restarts when the address changes")
	}
	if svc.HealthCheckGracePeriod != 0 && target == nil {
		e.warn.Add(at+".health_check_grace_period", "not carried over: the service has no target group, so no HTTP check to give grace to")
	}
	return tg
}

// count is the group's count: desired, or one per instance for a daemon.
func (e *exporter) count(at string, svc *spec.Service) int {
	if svc.SchedulingStrategy == spec.StrategyDaemon {
		e.warn.Add(at+".scheduling_strategy", "daemon is a group of the stack's system job, %s-daemons, in a file of its own (%s-daemons.nomad.json: run both): one allocation on every client, as ECS runs one task on every instance", e.s.Name, e.s.Name)
		return e.s.Cluster.Instances
	}
	if a := svc.Autoscaling; a != nil {
		return min(max(svc.Desired, a.Min), a.Max)
	}
	return svc.Desired
}

// placement maps placement strategies and constraints.
func (e *exporter) placement(at string, svc *spec.Service) ([]*api.Constraint, []*api.Spread) {
	var cs []*api.Constraint
	var spreads []*api.Spread
	distinct := false // a daemon needs none: its system job runs one on every client
	for _, c := range svc.PlacementConstraints {
		if c.Type == spec.ConstraintDistinctInstance {
			distinct = true
		}
	}
	if distinct {
		cs = append(cs, &api.Constraint{Operand: api.ConstraintDistinctHosts, RTarget: "true"})
	}
	for i, p := range svc.PlacementStrategy {
		pat := fmt.Sprintf("%s.placement_strategy[%d]", at, i)
		switch p.Type {
		case "spread":
			spreads = append(spreads, &api.Spread{Attribute: "${node.unique.id}", Weight: new(int8(100 - 50*min(i, 1)))})
		case "binpack":
			e.warn.Add(pat, "binpack is Nomad's default scheduler algorithm, set for the whole cluster (nomad operator scheduler set-config), not per job; binpack by %s is not carried over", p.Field)
		default:
			e.warn.Add(pat, "%s is not carried over: Nomad places by its scheduler algorithm (binpack or spread)", p.Type)
		}
	}
	return cs, spreads
}

// processTask is a process task definition run by raw_exec.
func (e *exporter) processTask(name, at string, td *spec.TaskDefinition, g *group) *api.Task {
	e.warn.Add(at+".command", "a process runs with Nomad's raw_exec driver: not isolated, and only on clients that enable it (plugin \"raw_exec\" { config { enabled = true } }), with the program installed at the same path on each; give the task definition an image to run it with the docker driver")
	if len(td.Command) > 0 && !path.IsAbs(td.Command[0]) && strings.Contains(td.Command[0], "/") {
		e.warn.Add(at+".command", "%s is relative to working_dir here, and to the task's directory on a Nomad client: ship it with an artifact block or install it", td.Command[0])
	}
	if td.Build.Command != "" {
		e.warn.Add(at+".build", "not carried over: Nomad runs no build; build the program (or an image) before the job runs")
	}
	// Here every replica runs in one folder; on Nomad each allocation has
	// a task directory of its own, so a relative path such as a SQLite
	// file's no longer names one file for all.
	if td.WorkingDir != "" {
		e.warn.Add(at+".working_dir", "not carried over: a raw_exec task runs in its task directory, one per allocation: files named by relative paths are not shared between replicas")
	} else {
		e.warn.Add(at, "approximate: here the replicas run in the stack file's folder and share the files they name by relative paths (a SQLite database, say); on Nomad each allocation runs in a task directory of its own")
	}
	g.ports = append(g.ports, api.Port{Label: processPort})
	g.traffic, g.hasPort = processPort, true
	task := &api.Task{
		Name:   name,
		Driver: "raw_exec",
		Config: map[string]any{"command": td.Command[0]},
	}
	if len(td.Command) > 1 {
		task.Config["args"] = []string(td.Command[1:])
	}
	env := map[string]string{
		"PORT": "${NOMAD_PORT_" + processPort + "}",
		"HOST": "${NOMAD_IP_" + processPort + "}",
	}
	if td.Port != 0 {
		env["SHOAL_CONTAINER_PORT"] = strconv.Itoa(td.Port)
	}
	e.environment(at+".environment", td.Environment, env, task)
	task.Resources = e.resources(at, td.CPU, td.Memory, td.MemoryReservation)
	task.KillTimeout = e.killTimeout(at+".stop_timeout", td.StopTimeout.D())
	return task
}

// imageTask is a one-container task definition run by docker.
func (e *exporter) imageTask(name, at string, td *spec.TaskDefinition, g *group) *api.Task {
	image := e.image(at, td.Image, td)
	mappings := td.PortMappings
	if len(mappings) == 0 && td.Port != 0 {
		mappings = []*spec.PortMapping{{ContainerPort: td.Port}}
	}
	task := e.dockerTask(name, at, image, td.Command, td.EntryPoint, mappings, td.Port, g)
	task.User = td.User
	if td.WorkingDirectory != "" {
		task.Config["work_dir"] = td.WorkingDirectory
	}
	e.environment(at+".environment", td.Environment, map[string]string{}, task)
	task.Resources = e.resources(at, td.CPU, td.Memory, td.MemoryReservation)
	task.KillTimeout = e.killTimeout(at+".stop_timeout", td.StopTimeout.D())
	return task
}

// containerTask is one container of a task definition of several.
func (e *exporter) containerTask(at string, td *spec.TaskDefinition, c *spec.Container, g *group) *api.Task {
	image := e.image(at, c.Image, td)
	task := e.dockerTask(c.Name, at, image, c.Command, c.EntryPoint, c.PortMappings, td.Port, g)
	task.User = c.User
	switch essential := countEssential(td.Containers); {
	case c.Essential && essential == 1:
		task.Leader = true
		e.warn.Add(at+".essential", "approximate: the essential container is the leader task (its exit stops the others); Nomad restarts a failed task in place first, where ECS replaces the whole task")
	case c.Essential:
		e.warn.Add(at+".essential", "approximate: Nomad takes one leader task, and %d containers are essential: none is the leader, so one exiting does not stop the others (Nomad restarts it in place)", essential)
	}
	if c.WorkingDirectory != "" {
		task.Config["work_dir"] = c.WorkingDirectory
	}
	if len(c.DependsOn) > 0 {
		e.warn.Add(at+".depends_on", "not carried over: Nomad orders tasks only by lifecycle hooks (prestart, poststart, sidecar)")
	}
	e.environment(at+".environment", c.Environment, map[string]string{}, task)
	task.Resources = e.resources(at, c.CPU, c.Memory, c.MemoryReservation)
	stop := td.StopTimeout
	if c.StopTimeout != 0 {
		stop = c.StopTimeout
	}
	task.KillTimeout = e.killTimeout(at+".stop_timeout", stop.D())
	if c.HealthCheck != nil {
		e.warn.Add(at+".health_check", "not carried over: Nomad's own service checks are http and tcp (script checks need Consul), and its docker driver runs only the image's HEALTHCHECK")
	}
	return task
}

// countEssential counts the essential containers.
func countEssential(cs []*spec.Container) int {
	n := 0
	for _, c := range cs {
		if c.Essential {
			n++
		}
	}
	return n
}

// image is the image a task runs: the one named, or the one the build
// makes, which must then be pushed to a registry the clients pull from.
func (e *exporter) image(at, image string, td *spec.TaskDefinition) string {
	if image != "" {
		if host, _, ok := strings.Cut(image, "/"); ok && (strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "localhost")) {
			e.warn.Add(at+".image", "%s is in a registry on this machine: push it to one the Nomad clients reach and name that", image)
		}
		return image
	}
	tdName := strings.SplitN(at, ".", 3)[1]
	built := dnsLabel(e.s.Name+"-"+tdName) + ":latest"
	e.warn.Add("task_definitions."+tdName+".build", "not carried over: Nomad builds no image; build it, push it to a registry the clients pull from, and set image (the job names %s)", built)
	return built
}

// dockerTask is a docker task with its ports; the first mapping of the
// task definition's port (or the first mapping) takes the traffic.
func (e *exporter) dockerTask(name, at, image string, cmd, entry spec.Command, mappings []*spec.PortMapping, port int, g *group) *api.Task {
	config := map[string]any{"image": image}
	if len(cmd) > 0 {
		config["command"] = cmd[0]
		if len(cmd) > 1 {
			config["args"] = []string(cmd[1:])
		}
	}
	if len(entry) > 0 {
		config["entrypoint"] = []string(entry)
	}
	var labels []string
	for i, m := range mappings {
		label := g.addPort(m.ContainerPort, m.HostPort)
		labels = append(labels, label)
		if m.Protocol == "udp" {
			e.warn.Add(fmt.Sprintf("%s.port_mappings[%d].protocol", at, i), "approximate: Nomad's docker driver maps the port for tcp and udp alike")
		}
		if !g.hasPort || m.ContainerPort == port && g.traffic != label {
			g.traffic, g.hasPort = label, true
		}
	}
	if len(labels) > 0 {
		config["ports"] = labels
	}
	return &api.Task{Name: name, Driver: "docker", Config: config}
}

// resources maps ECS cpu units and MiB: one cpu unit is one MHz (1024
// units, one vCPU, is 1024 MHz), memory is memory, and a soft limit below a
// hard one is Nomad's memory (reserved) under memory_max (the limit).
func (e *exporter) resources(at string, cpu, memory, reservation int) *api.Resources {
	r := &api.Resources{}
	if cpu > 0 {
		r.CPU = new(cpu)
	}
	switch {
	case reservation > 0 && memory > reservation:
		r.MemoryMB, r.MemoryMaxMB = new(reservation), new(memory)
		e.warn.Add(at+".memory_reservation", "memory_reservation is Nomad's memory and memory its memory_max, which the servers honour only with memory oversubscription enabled (nomad operator scheduler set-config -memory-oversubscription=true)")
	case reservation > 0:
		r.MemoryMB = new(reservation)
	case memory > 0:
		r.MemoryMB = new(memory)
	}
	if r.CPU == nil && r.MemoryMB == nil {
		return nil
	}
	return r
}

// killTimeout is the stop timeout, with a warning past the clients'
// default max_kill_timeout.
func (e *exporter) killTimeout(at string, d time.Duration) *time.Duration {
	if d > maxKillTimeout {
		e.warn.Add(at, "a kill_timeout of %v is cut to the clients' max_kill_timeout, 30s unless their configuration raises it", d)
	}
	return new(d)
}

// containerHealth warns about a one-container task definition's health
// check: Nomad's own service checks cannot run a command.
func (e *exporter) containerHealth(at string, td *spec.TaskDefinition) {
	if td.HealthCheck != nil {
		e.warn.Add(at+".health_check", "not carried over: Nomad's own service checks are http and tcp (script checks need Consul), and its docker driver runs only the image's HEALTHCHECK; the target group's HTTP check is exported")
	}
}

// registration is the Nomad service a shoal service's tasks register as,
// with the target group's HTTP check, or a TCP check without one.
func (e *exporter) registration(at, name string, svc *spec.Service, target *spec.TargetGroup, g *group) *api.Service {
	if !g.hasPort {
		if target != nil {
			e.warn.Add(at+".target_group", "not carried over: the task definition maps no port to register")
		}
		return nil
	}
	s := &api.Service{Name: e.serviceName(name), Provider: "nomad", PortLabel: g.traffic}
	if target == nil {
		s.Checks = []api.ServiceCheck{{Name: "tcp", Type: "tcp", PortLabel: g.traffic, Interval: tcpCheckInterval, Timeout: tcpCheckTimeout}}
		return s
	}
	s.Tags = []string{"shoal-target-group=" + svc.TargetGroup}
	tgAt := "target_groups." + svc.TargetGroup
	hc := target.HealthCheck
	check := api.ServiceCheck{
		Name: "alb", Type: "http", Method: "GET", Path: hc.Path, PortLabel: g.traffic,
		Interval: max(hc.Interval.D(), minCheckTime), Timeout: max(hc.Timeout.D(), minCheckTime),
	}
	if hc.Interval.D() < minCheckTime || hc.Timeout.D() < minCheckTime {
		e.warn.Add(tgAt+".health_check", "approximate: Nomad takes check intervals and timeouts of 1s or more: %v and %v become %v and %v", hc.Interval, hc.Timeout, check.Interval, check.Timeout)
	}
	if target.Protocol == "https" {
		check.Protocol, check.TLSSkipVerify = "https", true
	}
	switch n, _ := strconv.Atoi(hc.Port); {
	case hc.Port == "" || hc.Port == spec.TrafficPort:
	case g.traffic == processPort:
		e.warn.Add(tgAt+".health_check.port", "not carried over: a raw_exec task has one port, PORT, and the check goes to it")
	default:
		check.PortLabel = g.addPort(n, 0)
		e.warn.Add(tgAt+".health_check.port", "approximate: port %d is checked on the container port %d, mapped to a dynamic port labelled %s", n, n, check.PortLabel)
	}
	grace := svc.HealthCheckGracePeriod.D()
	if grace == 0 {
		// Nomad's check_restart counts a check that has not run yet
		// (pending) as failing: without a grace period a task can be
		// restarted before its first check (seen on Nomad 1.6.3), where
		// a new target of ALB waits in initial for its first.
		grace = check.Interval + check.Timeout
		e.warn.Add(at+".health_check_grace_period", "approximate: none here, but check_restart's grace is one interval and timeout (%v): Nomad counts a check that has not run yet as failing", grace)
	}
	check.CheckRestart = &api.CheckRestart{Limit: hc.UnhealthyThreshold, Grace: new(grace)}
	e.warn.Add(tgAt+".health_check.unhealthy_threshold", "approximate: after %d failed checks in a row Nomad restarts the task (check_restart), where ECS stops it and starts a new one; the load balancer stops routing to it when its registration goes", hc.UnhealthyThreshold)
	e.warn.Add(tgAt+".health_check.healthy_threshold", "not carried over: a Nomad check passes on its first success (success_before_passing is Consul's)")
	if !matcherIs2xx(hc.Matcher) {
		e.warn.Add(tgAt+".health_check.matcher", "approximate: a Nomad HTTP check passes on any 2xx answer and fails on anything else")
	}
	s.Checks = []api.ServiceCheck{check}
	return s
}

// matcherIs2xx reports whether a matcher admits only 2xx codes, which a
// Nomad HTTP check admits all of.
func matcherIs2xx(m spec.Matcher) bool {
	for _, r := range m.Ranges() {
		if r[0] < 200 || r[1] > 299 {
			return false
		}
	}
	return true
}
