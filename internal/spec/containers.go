package spec

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// IsContainer reports whether the task definition's tasks run as
// containers (an image, a Docker build, containers or an ECS task
// definition) rather than as processes.
func (td *TaskDefinition) IsContainer() bool {
	return td.Image != "" || td.Build.IsImage() || len(td.Containers) > 0 || td.ECSTaskDefinition != ""
}

// Dependency conditions of a container's depends_on, as ECS's.
var dependsConditions = []string{"START", "COMPLETE", "SUCCESS", "HEALTHY"}

// processOnly refuses the fields that only containers take on a process
// task definition.
func (v *validator) processOnly(path string, td *TaskDefinition) {
	const why = "is for containers: give the task definition an image (or build: {context: .}) to run it as one"
	if len(td.PortMappings) > 0 {
		v.errorf(path+".port_mappings", "port_mappings %s; a process gets its dynamic host port in PORT", why)
	}
	if len(td.EntryPoint) > 0 {
		v.errorf(path+".entry_point", "entry_point %s", why)
	}
	if td.WorkingDirectory != "" {
		v.errorf(path+".working_directory", "working_directory %s; a process runs in working_dir", why)
	}
	if td.User != "" {
		v.errorf(path+".user", "user %s", why)
	}
	if td.MemoryReservation != 0 {
		v.errorf(path+".memory_reservation", "memory_reservation %s", why)
	}
}

// containerTask checks a task definition run as containers.
func (v *validator) containerTask(path string, td *TaskDefinition) {
	if v.s.Cluster.Isolation == IsolationNetns {
		v.errorf(path, "containers do not run in isolated instances yet (the engine publishes their ports in this host's network): run this stack with cluster.isolation: none, or run the task as a process")
	}
	several := len(td.Containers) > 0 || td.ECSTaskDefinition != ""
	if several {
		v.oneContainerFields(path, td)
	}
	if td.WorkingDir != "" && !td.Build.IsImage() && td.Build.Command == "" {
		v.errorf(path+".working_dir", "working_dir is the folder of a process or of a build command; a container's is working_directory")
	}
	if td.Build.IsImage() && td.Image == "" && several && countImageless(td.Containers) != 1 {
		v.errorf(path+".build", "the built image goes to the one container without an image; %d have none", countImageless(td.Containers))
	}
	v.portMappings(path+".port_mappings", td.PortMappings)
	v.intRange(path+".memory_reservation", "memory_reservation", td.MemoryReservation, 0, 122880)
	v.containers(path, td)
}

func countImageless(cs []*Container) int {
	n := 0
	for _, c := range cs {
		if c != nil && c.Image == "" {
			n++
		}
	}
	return n
}

// oneContainerFields refuses the fields of a one-container task on a task
// definition that lists its containers.
func (v *validator) oneContainerFields(path string, td *TaskDefinition) {
	const why = "describes the task's one container; with containers (or ecs_task_definition), set it on a container"
	for field, set := range map[string]bool{
		"image": td.Image != "", "command": len(td.Command) > 0, "port_mappings": len(td.PortMappings) > 0,
		"entry_point": len(td.EntryPoint) > 0, "working_directory": td.WorkingDirectory != "", "user": td.User != "",
		"memory_reservation": td.MemoryReservation != 0, "health_check": td.HealthCheck != nil,
	} {
		if set {
			v.errorf(path+"."+field, "%s %s", field, why)
		}
	}
}

// portMappings checks a list of port mappings.
func (v *validator) portMappings(path string, ms []*PortMapping) {
	for i, m := range ms {
		p := indexPath(path, i)
		if m == nil {
			v.errorf(p, "empty port mapping: write {container_port: 3000, host_port: 0}")
			continue
		}
		if m.ContainerPort < 1 || m.ContainerPort > 65535 {
			v.errorf(p+".container_port", "container_port %d is out of range: use 1-65535", m.ContainerPort)
		}
		v.port(p+".host_port", m.HostPort, "a dynamic host port")
		if m.Protocol != "tcp" && m.Protocol != "udp" {
			v.errorf(p+".protocol", "protocol %q is not supported: use tcp or udp", m.Protocol)
		}
	}
}

// containers checks the containers of a task definition.
func (v *validator) containers(path string, td *TaskDefinition) {
	names := map[string]bool{}
	essential := false
	for i, c := range td.Containers {
		p := indexPath(path+".containers", i)
		if c == nil {
			v.errorf(p, "empty container: write at least its name and image")
			continue
		}
		switch {
		case c.Name == "":
			v.errorf(p+".name", "name is required: each container has a name, unique in the task")
		case !validName(c.Name):
			v.errorf(p+".name", "invalid name %q: use up to 63 letters, digits, - and _, starting with a letter or digit", c.Name)
		case names[c.Name]:
			v.errorf(p+".name", "container %q is defined twice in this task: give each its own name", c.Name)
		}
		names[c.Name] = true
		essential = essential || c.Essential
		if c.Image == "" && !td.Build.IsImage() {
			v.errorf(p+".image", "image is required: the image the container runs, like catalog:1 (or give the task definition build: {context: .})")
		}
		for _, key := range sortedKeys(c.Environment) {
			v.envName(joinPath(p+".environment", key), key)
		}
		v.portMappings(p+".port_mappings", c.PortMappings)
		v.intRange(p+".cpu", "cpu", c.CPU, 0, 16384)
		v.intRange(p+".memory", "memory", c.Memory, 0, 122880)
		v.intRange(p+".memory_reservation", "memory_reservation", c.MemoryReservation, 0, 122880)
		v.durationRange(p+".stop_timeout", "stop_timeout", c.StopTimeout, 0, 120*time.Second)
		if c.HealthCheck != nil {
			v.containerHealthCheck(p+".health_check", c.HealthCheck)
		}
	}
	if len(td.Containers) > 0 && !essential {
		v.errorf(path+".containers", "no container is essential: a task needs one whose exit ends it (essential: true)")
	}
	v.containerDependencies(path, td.Containers)
}

// containerDependencies checks each depends_on: a container of the task,
// a known condition, and a health check to wait for with HEALTHY.
func (v *validator) containerDependencies(path string, cs []*Container) {
	byName := map[string]*Container{}
	for _, c := range cs {
		if c != nil {
			byName[c.Name] = c
		}
	}
	for i, c := range cs {
		if c == nil {
			continue
		}
		for j, d := range c.DependsOn {
			p := indexPath(indexPath(path+".containers", i)+".depends_on", j)
			if d == nil {
				v.errorf(p, "empty dependency: write {container_name: NAME, condition: START}")
				continue
			}
			dep, ok := byName[d.ContainerName]
			switch {
			case d.ContainerName == c.Name:
				v.errorf(p+".container_name", "container %q depends on itself", c.Name)
			case !ok:
				v.errorf(p+".container_name", "%s", noSuch("container", "containers", d.ContainerName, sortedKeys(byName)))
			case d.Condition == "HEALTHY" && dep.HealthCheck == nil:
				v.errorf(p+".condition", "container %q has no health_check, so it never turns HEALTHY: give it one, or wait for START", d.ContainerName)
			}
			if !slices.Contains(dependsConditions, d.Condition) {
				v.errorf(p+".condition", "condition %q is not supported: use START, COMPLETE, SUCCESS or HEALTHY", d.Condition)
			}
		}
	}
}

// registry checks registry.address: a loopback host:port, since Docker
// pushes to loopback registries over plain HTTP and shoal's has no
// authentication.
func (v *validator) registry() {
	addr := v.s.Registry.Address
	if addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf("registry.address", "address %q: write host:port, like 127.0.0.1:5000, or leave it out to run no registry", addr)
		return
	}
	if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
		v.errorf("registry.address", "address %q: the registry has no authentication and serves plain HTTP, so it listens on a loopback address, like 127.0.0.1:5000", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.errorf("registry.address", "address %q: port %q: use 1-65535 (docker push needs a port it can name)", addr, port)
	}
}

// loadECSTaskDefinitions reads the ECS task definitions the stack names
// into their task definitions' containers (and cpu and memory, where the
// stack leaves them out). Their problems are errors at the line of the
// JSON; the fields shoal does not implement become warnings.
func (s *Stack) loadECSTaskDefinitions() ErrorList {
	var errs ErrorList
	for _, name := range sortedKeys(s.TaskDefinitions) {
		td := s.TaskDefinitions[name]
		if td == nil || td.ECSTaskDefinition == "" {
			continue
		}
		path := joinPath("task_definitions", name) + ".ecs_task_definition"
		if len(td.Containers) > 0 {
			line, col := s.src.position(path)
			errs = append(errs, &Error{File: s.File, Line: line, Column: col, Path: path,
				Msg: "containers and ecs_task_definition both describe the containers: keep one"})
			continue
		}
		file := td.ECSTaskDefinition
		if !filepath.IsAbs(file) {
			file = filepath.Join(s.Dir, file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			line, col := s.src.position(path)
			errs = append(errs, &Error{File: s.File, Line: line, Column: col, Path: path,
				Msg: fmt.Sprintf("cannot read the ECS task definition: %v; the path is relative to the stack file's folder", err)})
			continue
		}
		def, warnings, err := ParseECSTaskDefinition(file, data)
		s.loadWarnings = append(s.loadWarnings, warnings...)
		var list ErrorList
		if errors.As(err, &list) {
			errs = append(errs, list...)
			continue
		}
		td.Containers = def.Containers
		if def.NetworkMode == "host" {
			s.loadWarnings = append(s.loadWarnings, &Error{File: file, Path: "networkMode",
				Msg: "host: shoal runs the containers in bridge mode, each containerPort published at the same host port"})
		}
		if td.CPU == 0 {
			td.CPU = def.CPU
		}
		if td.Memory == 0 {
			td.Memory = def.Memory
		}
	}
	return errs
}
