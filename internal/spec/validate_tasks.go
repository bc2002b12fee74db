package spec

import (
	"slices"
	"strings"
	"time"
)

func (v *validator) cluster() {
	c := v.s.Cluster
	v.intRange("cluster.instances", "instances", c.Instances, 1, 250)
	v.intRange("cluster.instance_cpu", "instance_cpu", c.InstanceCPU, 128, 196608)
	v.intRange("cluster.instance_memory", "instance_memory", c.InstanceMemory, 128, 1572864)
	if c.HostPortRange == "" {
		return
	}
	if _, _, err := ParsePortRange(c.HostPortRange); err != nil {
		v.errorf("cluster.host_port_range", "%v", err)
	}
}

func (v *validator) taskDefinitions() {
	for _, name := range sortedKeys(v.s.TaskDefinitions) {
		td := v.s.TaskDefinitions[name]
		path, ok := entry(v, "task_definitions", name, td)
		if !ok {
			continue
		}
		if td.IsContainer() {
			v.containerTask(path, td)
		} else if len(td.Command) == 0 {
			v.errorf(path+".command", `command is required: write the command that starts the task, like [bin/app] or "python app.py", or give an image to run`)
		}
		if !td.IsContainer() {
			v.processOnly(path, td)
		}
		v.port(path+".port", td.Port, "none")
		v.durationRange(path+".stop_timeout", "stop_timeout", td.StopTimeout, 0, 120*time.Second)
		for _, key := range sortedKeys(td.Environment) {
			v.envName(joinPath(path+".environment", key), key)
		}
		v.reservation(path+".cpu", "cpu", td.CPU, 16384, "cluster.instance_cpu", v.s.Cluster.InstanceCPU)
		v.reservation(path+".memory", "memory", td.Memory, 122880, "cluster.instance_memory", v.s.Cluster.InstanceMemory)
		if td.HealthCheck != nil {
			v.containerHealthCheck(path+".health_check", td.HealthCheck)
		}
	}
}

// reservation checks a task definition's cpu or memory: within ECS's
// range, and small enough for an instance to hold.
func (v *validator) reservation(path, field string, n, hi int, instanceField string, instance int) {
	v.intRange(path, field, n, 0, hi)
	if n > instance && n <= hi {
		v.errorf(path, "%s %d is more than an instance has (%s %d): no task could be placed; lower it or raise %s", field, n, instanceField, instance, instanceField)
	}
}

// containerHealthCheck checks a task definition's ECS container health
// check.
func (v *validator) containerHealthCheck(path string, hc *ContainerHealthCheck) {
	switch {
	case len(hc.Command) == 0:
		v.errorf(path+".command", `command is required: write a command that exits 0 when the task is healthy, like "curl -fs http://$HOST:$PORT/ || exit 1"`)
	case hc.Command[0] == "CMD-SHELL" && len(hc.Command) != 2:
		v.errorf(path+".command", `CMD-SHELL takes exactly one string, the shell command: ["CMD-SHELL", "curl -fs http://$HOST:$PORT/ || exit 1"]`)
	case hc.Command[0] == "CMD" && len(hc.Command) < 2:
		v.errorf(path+".command", `CMD needs the program to run: ["CMD", "/bin/check", "arg"]`)
	}
	v.durationRange(path+".interval", "interval", hc.Interval, 100*time.Millisecond, 300*time.Second)
	v.durationRange(path+".timeout", "timeout", hc.Timeout, 100*time.Millisecond, 60*time.Second)
	v.intRange(path+".retries", "retries", hc.Retries, 1, 10)
	v.durationRange(path+".start_period", "start_period", hc.StartPeriod, 0, 300*time.Second)
}

func (v *validator) envName(path, name string) {
	if why, ok := reservedEnv(name); ok {
		v.errorf(path, "%s is set by shoal: %s; remove it", name, why)
		return
	}
	if !validEnvName(name) {
		v.errorf(path, "%q is not a valid environment variable name: use letters, digits and _, not starting with a digit", name)
	}
}

// reservedEnv says why a variable shoal sets for every task cannot be set
// in a task definition.
func reservedEnv(name string) (string, bool) {
	switch name {
	case "PORT":
		return "each task gets its own dynamic host port", true
	case "HOST":
		return "it is the address of the task's instance", true
	case "SHOAL_TASK_ID":
		return "it is the id of the task", true
	case "SHOAL_SERVICE":
		return "it is the name of the task's service", true
	case "SHOAL_INSTANCE":
		return "it is the instance the task runs on", true
	case "SHOAL_CONTAINER_PORT":
		return "it is the task definition's port", true
	}
	return "", false
}

func (v *validator) services() {
	for _, name := range sortedKeys(v.s.Services) {
		sv := v.s.Services[name]
		path, ok := entry(v, "services", name, sv)
		if !ok {
			continue
		}
		ref(v, path+".task_definition", "task_definition", "task definition", "task_definitions",
			sv.TaskDefinition, v.s.TaskDefinitions)
		if sv.TargetGroup != "" {
			ref(v, path+".target_group", "target_group", "target group", "target_groups", sv.TargetGroup, v.s.TargetGroups)
		}
		v.intRange(path+".desired", "desired", sv.Desired, 0, 1000)
		v.strategy(path+".scheduling_strategy", sv.SchedulingStrategy)
		v.durationRange(path+".health_check_grace_period", "health_check_grace_period",
			sv.HealthCheckGracePeriod, 0, 2147483647*time.Second)
		v.dependsOn(path, name, sv)
		v.placeholders(name, sv)
		v.deployment(path+".deployment", sv)
		v.deploymentStrategy(path+".deployment", name, sv)
		v.placement(path, sv)
		if sv.Autoscaling != nil {
			v.autoscaling(path+".autoscaling", sv)
		}
	}
	v.dependencyCycles()
}

// dependsOn checks the names a service depends on.
func (v *validator) dependsOn(path, name string, sv *Service) {
	seen := map[string]bool{}
	for i, dep := range sv.DependsOn {
		at := indexPath(path+".depends_on", i)
		switch {
		case dep == name:
			v.errorf(at, "service %s cannot depend on itself", name)
		case seen[dep]:
			v.errorf(at, "%s is listed twice", dep)
		default:
			ref(v, at, "depends_on", "service", "services", dep, v.s.Services)
		}
		seen[dep] = true
	}
}

// dependencyCycles reports services that depend on themselves through
// others: none of them could ever start.
func (v *validator) dependencyCycles() {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(name string, trail []string)
	visit = func(name string, trail []string) {
		sv := v.s.Services[name]
		if sv == nil || state[name] == done {
			return
		}
		if state[name] == visiting {
			cycle := append(trail[slices.Index(trail, name):], name)
			v.errorf(joinPath("services", name)+".depends_on", "services depend on each other in a circle (%s): none of them could start; remove one of these dependencies",
				strings.Join(cycle, " → "))
			return
		}
		state[name] = visiting
		for _, dep := range sv.DependsOn {
			if dep != name { // reported by dependsOn
				visit(dep, append(trail, name))
			}
		}
		state[name] = done
	}
	for _, name := range sortedKeys(v.s.Services) {
		if state[name] == unvisited {
			visit(name, nil)
		}
	}
}

// placeholders checks the ${services.NAME.FIELD} placeholders in the
// environment of a service's task definition: each names a field that
// exists, of a service this one depends on (so that it is ready when the
// task starts).
func (v *validator) placeholders(name string, sv *Service) {
	td := v.s.TaskDefinitions[sv.TaskDefinition]
	if td == nil {
		return
	}
	for _, key := range sortedKeys(td.Environment) {
		at := joinPath(joinPath("task_definitions", sv.TaskDefinition)+".environment", key)
		reported := map[string]bool{}
		for _, ph := range FindPlaceholders(td.Environment[key]) {
			switch {
			case ph.Err != "":
				v.errorf(at, "%s: %s", ph.Text, ph.Err)
			case !slices.Contains(sv.DependsOn, ph.Service) && !reported[ph.Service]:
				reported[ph.Service] = true
				v.errorf(at, "%s names service %s, which service %s does not depend on: add depends_on: [%s] to services.%s",
					ph.Text, ph.Service, name, ph.Service, name)
			}
		}
	}
}

func (v *validator) strategy(path, s string) {
	if s != StrategyReplica && s != StrategyDaemon {
		v.errorf(path, "scheduling_strategy %q is not supported: use replica or daemon", s)
	}
}
