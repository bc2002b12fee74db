package driver

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The conditions of a container dependency, as ECS's dependsOn.
const (
	// DependStart: the dependency has been started.
	DependStart = "START"
	// DependComplete: the dependency has exited, whatever its exit code.
	DependComplete = "COMPLETE"
	// DependSuccess: the dependency has exited 0.
	DependSuccess = "SUCCESS"
	// DependHealthy: the dependency's health check passed.
	DependHealthy = "HEALTHY"
)

// containerNameRE is what the engine accepts in a container name, which
// the driver makes of the task's id and the container's name.
var containerNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Check reports, without asking the engine, what keeps spec from starting
// as a docker task: no containers or no essential one, a name that is
// empty, repeated or unusable in a container name, an image missing, a
// port mapping out of range, a dependency on a container that is not in
// the task or in a cycle, an unknown condition, COMPLETE or SUCCESS on an
// essential container (which ends the task when it exits), HEALTHY on a
// container without a health check, or an invalid health check. It names
// every problem it finds.
//
// The agent checks a task definition before any task of it exists, so
// Check leaves out the task's own id and address; Start checks them.
func (d *Docker) Check(spec TaskSpec) error { return checkContainers(spec, false) }

// checkContainers is Check; with task, the task's id and address too.
func checkContainers(spec TaskSpec, task bool) error {
	if len(spec.Containers) == 0 {
		return fmt.Errorf("task %s: no containers: a docker task needs at least one", spec.ID)
	}
	var errs []error
	if task && spec.Address == "" {
		errs = append(errs, errors.New("no address"))
	}
	if task && !containerNameRE.MatchString(spec.ID) {
		errs = append(errs, fmt.Errorf("the task id %q is not usable in a container name (letters, digits, '_', '.', '-')", spec.ID))
	}
	errs = append(errs, checkNames(spec.Containers)...)
	for i := range spec.Containers {
		errs = append(errs, checkContainer(spec.Containers, &spec.Containers[i])...)
	}
	if _, err := startOrder(spec.Containers); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("task %s: %w", spec.ID, err)
	}
	return nil
}

// checkNames reports empty and repeated names, and a task with no
// essential container.
func checkNames(cs []ContainerSpec) []error {
	var errs []error
	seen := make(map[string]bool)
	essential := false
	for _, c := range cs {
		switch {
		case c.Name == "":
			errs = append(errs, errors.New("a container has no name: give each one a name unique in the task"))
		case !containerNameRE.MatchString(c.Name):
			errs = append(errs, fmt.Errorf("container name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", c.Name))
		case seen[c.Name]:
			errs = append(errs, fmt.Errorf("container name %q is used twice: names must be unique in the task", c.Name))
		}
		seen[c.Name] = true
		essential = essential || c.Essential
	}
	if !essential {
		errs = append(errs, errors.New("no essential container: mark at least one essential (the task lives as long as its essential containers)"))
	}
	return errs
}

// checkContainer reports what is wrong with c itself and with its
// dependencies on the others of cs.
func checkContainer(cs []ContainerSpec, c *ContainerSpec) []error {
	var errs []error
	if c.Image == "" {
		errs = append(errs, fmt.Errorf("container %q: no image", c.Name))
	}
	for _, m := range c.PortMappings {
		if err := checkMapping(m); err != nil {
			errs = append(errs, fmt.Errorf("container %q: %w", c.Name, err))
		}
	}
	if c.HealthCheck != nil {
		if err := c.HealthCheck.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("container %q: %w", c.Name, err))
		}
	}
	for _, dep := range c.DependsOn {
		if err := checkDependency(cs, c, dep); err != nil {
			errs = append(errs, fmt.Errorf("container %q: %w", c.Name, err))
		}
	}
	return errs
}

// checkMapping reports a port mapping out of range or of an unknown
// protocol.
func checkMapping(m PortMapping) error {
	switch {
	case m.ContainerPort < 1 || m.ContainerPort > 65535:
		return fmt.Errorf("container port %d is not in 1-65535", m.ContainerPort)
	case m.HostPort < 0 || m.HostPort > 65535:
		return fmt.Errorf("host port %d is not in 0-65535 (0: a dynamic port)", m.HostPort)
	case m.Protocol != "" && m.Protocol != "tcp" && m.Protocol != "udp":
		return fmt.Errorf("protocol %q: use tcp or udp", m.Protocol)
	}
	return nil
}

// checkDependency reports a dependency of c that cannot be waited for.
func checkDependency(cs []ContainerSpec, c *ContainerSpec, dep ContainerDependency) error {
	i := slices.IndexFunc(cs, func(o ContainerSpec) bool { return o.Name == dep.Container })
	switch {
	case dep.Container == c.Name:
		return errors.New("depends on itself")
	case i < 0:
		return fmt.Errorf("depends on %q, which is not a container of the task", dep.Container)
	}
	target := cs[i]
	switch dep.Condition {
	case DependStart:
	case DependComplete, DependSuccess:
		if target.Essential {
			return fmt.Errorf("depends on %q with %s, but %q is essential and its exit would end the task: make it non-essential, or use START or HEALTHY",
				dep.Container, dep.Condition, dep.Container)
		}
	case DependHealthy:
		if target.HealthCheck == nil {
			return fmt.Errorf("depends on %q being HEALTHY, but %q has no health check: give it one", dep.Container, dep.Container)
		}
	default:
		return fmt.Errorf("depends on %q with condition %q: use START, COMPLETE, SUCCESS or HEALTHY", dep.Container, dep.Condition)
	}
	return nil
}

// startOrder returns the indexes of cs in an order that starts every
// container after those it depends on, keeping the given order where the
// dependencies leave a choice. Dependencies on names not in cs are left to
// checkDependency. A cycle is an error that names the containers in it.
func startOrder(cs []ContainerSpec) ([]int, error) {
	index := make(map[string]int, len(cs))
	for i, c := range cs {
		index[c.Name] = i
	}
	placed := make([]bool, len(cs))
	order := make([]int, 0, len(cs))
	for len(order) < len(cs) {
		next := nextToPlace(cs, index, placed)
		if next < 0 {
			return nil, cycleError(cs, placed)
		}
		placed[next] = true
		order = append(order, next)
	}
	return order, nil
}

// nextToPlace is the first container of cs not placed yet whose
// dependencies all are, or -1.
func nextToPlace(cs []ContainerSpec, index map[string]int, placed []bool) int {
	for i, c := range cs {
		if !placed[i] && depsPlaced(c, index, placed) {
			return i
		}
	}
	return -1
}

// depsPlaced reports whether every dependency of c that is in the task has
// been placed.
func depsPlaced(c ContainerSpec, index map[string]int, placed []bool) bool {
	for _, dep := range c.DependsOn {
		if i, ok := index[dep.Container]; ok && !placed[i] {
			return false
		}
	}
	return true
}

// cycleError names the containers that could not be placed.
func cycleError(cs []ContainerSpec, placed []bool) error {
	var names []string
	for i, c := range cs {
		if !placed[i] {
			names = append(names, fmt.Sprintf("%q", c.Name))
		}
	}
	return fmt.Errorf("the dependencies of containers %s form a cycle: none of them can start first", strings.Join(names, ", "))
}
