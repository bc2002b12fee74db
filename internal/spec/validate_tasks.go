package spec

import "time"

func (v *validator) cluster() {
	c := v.s.Cluster
	v.intRange("cluster.instances", "instances", c.Instances, 1, 250)
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
		if len(td.Command) == 0 {
			v.errorf(path+".command", `command is required: write the command that starts the task, like [bin/app] or "python app.py"`)
		}
		v.port(path+".port", td.Port, "none")
		v.durationRange(path+".stop_timeout", "stop_timeout", td.StopTimeout, 0, 120*time.Second)
		for _, key := range sortedKeys(td.Environment) {
			v.envName(joinPath(path+".environment", key), key)
		}
	}
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
	}
}

func (v *validator) strategy(path, s string) {
	switch s {
	case StrategyReplica:
	case "daemon":
		v.errorf(path, "daemon services are not supported yet; use replica")
	default:
		v.errorf(path, "scheduling_strategy %q is not supported: use replica", s)
	}
}
