package compile

import (
	"maps"
	"slices"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/spec"
)

// containerTaskDefinition compiles a task definition whose tasks run as
// containers: its one container (image, command, port_mappings … on the
// task definition, named after it), or its containers.
func containerTaskDefinition(stackDir, name string, td *spec.TaskDefinition) agent.TaskDefinition {
	dir := workingDir(stackDir, td.WorkingDir)
	out := agent.TaskDefinition{
		Kind:     agent.KindDocker,
		Build:    td.Build.Command,
		BuildDir: dir,
		EnvRefs:  EnvRefs(td.Environment),
		CPU:      td.CPU,
		Memory:   td.Memory,
		Task: driver.TaskSpec{
			Env:           maps.Clone(td.Environment),
			ContainerPort: td.Port,
			StopTimeout:   td.StopTimeout.D(),
		},
	}
	if td.Build.IsImage() {
		out.Image = &agent.ImageBuild{Context: workingDir(stackDir, td.Build.Context), Dockerfile: td.Build.Dockerfile}
	}
	if len(td.Containers) == 0 {
		out.Task.Containers = []driver.ContainerSpec{oneContainer(name, td)}
		return out
	}
	for _, c := range td.Containers {
		out.Task.Containers = append(out.Task.Containers, container(c, td.StopTimeout.D()))
	}
	if out.Task.ContainerPort == 0 {
		out.Task.ContainerPort = firstContainerPort(out.Task.Containers)
	}
	return out
}

// oneContainer is the container of a task definition that describes one
// on its own fields.
func oneContainer(name string, td *spec.TaskDefinition) driver.ContainerSpec {
	mappings := portMappings(td.PortMappings)
	if len(mappings) == 0 && td.Port != 0 {
		mappings = []driver.PortMapping{{ContainerPort: td.Port, Protocol: spec.DefaultPortProtocol}}
	}
	return driver.ContainerSpec{
		Name: name, Image: td.Image, Essential: true,
		Command: slices.Clone(td.Command), EntryPoint: slices.Clone(td.EntryPoint),
		WorkingDir: td.WorkingDirectory, User: td.User,
		PortMappings: mappings,
		CPU:          td.CPU, Memory: td.Memory, MemoryReservation: td.MemoryReservation,
		HealthCheck: dockerHealthCheck(td.HealthCheck),
		StopTimeout: td.StopTimeout.D(),
	}
}

// container compiles one of a task definition's containers.
func container(c *spec.Container, taskStop time.Duration) driver.ContainerSpec {
	out := driver.ContainerSpec{
		Name: c.Name, Image: c.Image, Essential: c.Essential,
		Command: slices.Clone(c.Command), EntryPoint: slices.Clone(c.EntryPoint),
		Env:        maps.Clone(c.Environment),
		WorkingDir: c.WorkingDirectory, User: c.User,
		PortMappings: portMappings(c.PortMappings),
		CPU:          c.CPU, Memory: c.Memory, MemoryReservation: c.MemoryReservation,
		HealthCheck: dockerHealthCheck(c.HealthCheck),
		StopTimeout: c.StopTimeout.D(),
	}
	if out.StopTimeout == 0 {
		out.StopTimeout = taskStop
	}
	for _, d := range c.DependsOn {
		out.DependsOn = append(out.DependsOn, driver.ContainerDependency{Container: d.ContainerName, Condition: d.Condition})
	}
	return out
}

func portMappings(ms []*spec.PortMapping) []driver.PortMapping {
	var out []driver.PortMapping
	for _, m := range ms {
		out = append(out, driver.PortMapping{ContainerPort: m.ContainerPort, HostPort: m.HostPort, Protocol: m.Protocol})
	}
	return out
}

// firstContainerPort is the container port of the first mapping, which
// the load balancer targets when the task definition names no port.
func firstContainerPort(cs []driver.ContainerSpec) int {
	for _, c := range cs {
		if len(c.PortMappings) > 0 {
			return c.PortMappings[0].ContainerPort
		}
	}
	return 0
}

// dockerHealthCheck is a container health check in Docker's form: ["CMD",
// args…] or ["CMD-SHELL", command], as an ECS container definition gives
// it to the engine.
func dockerHealthCheck(hc *spec.ContainerHealthCheck) *driver.HealthCheck {
	if hc == nil {
		return nil
	}
	argv := slices.Clone([]string(hc.Command))
	switch {
	case argv[0] == "CMD" || argv[0] == "CMD-SHELL":
	case len(argv) == 3 && argv[0] == "/bin/sh" && argv[1] == "-c": // the string form
		argv = []string{"CMD-SHELL", argv[2]}
	default:
		argv = append([]string{"CMD"}, argv...)
	}
	return &driver.HealthCheck{
		Command: argv, Interval: hc.Interval.D(), Timeout: hc.Timeout.D(),
		StartPeriod: hc.StartPeriod.D(), Retries: hc.Retries,
	}
}
