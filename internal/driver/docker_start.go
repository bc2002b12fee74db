package driver

import (
	"context"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/go-connections/nat"
)

// dependencyPoll is how often a container waiting for a HEALTHY
// dependency asks the engine about it.
const dependencyPoll = 100 * time.Millisecond

// PullError is why an image could not be pulled. Its text starts with
// "CannotPullContainerError: ", ECS's reason for such a stopped task.
type PullError struct {
	Image string
	Err   error
}

func (e *PullError) Error() string {
	return fmt.Sprintf("CannotPullContainerError: pull image %q: %v", e.Image, e.Err)
}

func (e *PullError) Unwrap() error { return e.Err }

// binding is one port mapping of a container with its host port decided.
type binding struct {
	containerPort, hostPort int
	proto                   string
}

// port is the engine's name of the binding's container port ("8080/tcp").
func (b binding) port() nat.Port {
	return nat.Port(strconv.Itoa(b.containerPort) + "/" + b.proto)
}

// Start pulls the images that are not present, then creates and starts
// spec's containers in dependency order, each once its dependencies have
// reached their conditions, with host ports on spec.Address. It returns
// once every container has started, or with an error, and then no
// container of the task is left and its ports are released. A cancelled
// ctx aborts a start in progress.
func (d *Docker) Start(ctx context.Context, spec TaskSpec) (Task, error) {
	if err := checkContainers(spec, true); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("task %s: start: %w", spec.ID, err)
	}
	for _, c := range spec.Containers {
		if err := d.ensureImage(ctx, c.Image, spec.Output); err != nil {
			return nil, err
		}
	}
	t, err := d.newTask(spec)
	if err != nil {
		return nil, err
	}
	for _, c := range t.containers {
		if err := t.startContainer(ctx, c); err != nil {
			t.abort()
			return nil, err
		}
	}
	t.startHealthPoll()
	go t.run()
	d.log.Debug("task started", "task", spec.ID, "pid", t.Pid(), "addr", t.addr)
	return t, nil
}

// ensureImage pulls ref unless the engine has it, writing the pull's
// progress to out (nil: nowhere).
func (d *Docker) ensureImage(ctx context.Context, ref string, out io.Writer) error {
	_, err := d.cli.ImageInspect(ctx, ref)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %q: %w", ref, err)
	}
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "pulling image %s\n", ref)
	rc, err := d.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return &PullError{Image: ref, Err: err}
	}
	defer rc.Close()
	if err := copyMessages(rc, out); err != nil {
		return &PullError{Image: ref, Err: err}
	}
	return nil
}

// newTask is a task whose containers are planned, in start order, with
// their host ports allocated; none is created yet. It fails, with every
// port it took released, when the allocator has no port left.
func (d *Docker) newTask(spec TaskSpec) (*dockerTask, error) {
	order, _ := startOrder(spec.Containers) // Check saw no cycle
	ctx, cancel := context.WithCancel(context.Background())
	logsCtx, cancelLogs := context.WithCancel(ctx)
	healthCtx, cancelHealth := context.WithCancel(ctx)
	t := &dockerTask{
		d: d, spec: spec, logs: NewLogBuffer(d.logBytes),
		ctx: ctx, cancel: cancel, logsCtx: logsCtx, cancelLogs: cancelLogs,
		healthCtx: healthCtx, cancelHealth: cancelHealth,
		stopReq: make(chan struct{}), killReq: make(chan struct{}), ending: make(chan struct{}),
		done: make(chan struct{}), health: HealthUnknown,
	}
	t.sink = newLogSink(t.logs, spec.Output)
	for _, i := range order {
		t.containers = append(t.containers, t.newContainer(spec.Containers[i]))
	}
	if err := t.allocatePorts(); err != nil {
		t.releasePorts()
		cancel()
		return nil, fmt.Errorf("task %s: %w", spec.ID, err)
	}
	t.pickTarget()
	return t, nil
}

// newContainer is c, not created yet, with its host ports still to be
// allocated.
func (t *dockerTask) newContainer(c ContainerSpec) *dockerContainer {
	stop := c.StopTimeout
	if stop <= 0 {
		stop = max(t.spec.StopTimeout, 0)
	}
	dc := &dockerContainer{spec: c, name: "shoal-" + t.spec.ID + "-" + c.Name, stopTimeout: stop, exited: make(chan struct{})}
	for _, m := range c.PortMappings {
		proto := m.Protocol
		if proto == "" {
			proto = "tcp"
		}
		dc.bindings = append(dc.bindings, binding{containerPort: m.ContainerPort, hostPort: m.HostPort, proto: proto})
	}
	return dc
}

// allocatePorts gives every mapping with HostPort 0 a port of the
// allocator on the task's address.
func (t *dockerTask) allocatePorts() error {
	for _, c := range t.containers {
		for i := range c.bindings {
			if c.bindings[i].hostPort != 0 {
				continue
			}
			port, err := t.d.ports.Allocate(t.spec.Address)
			if err != nil {
				return err
			}
			t.allocated = append(t.allocated, port)
			c.bindings[i].hostPort = port
		}
	}
	return nil
}

// pickTarget finds the task's target: the host port mapped to
// spec.ContainerPort in the first container (in the spec's order) that
// maps it, else the first mapping of the first container that has one.
// The target's container, else the first essential one, is the task's
// main container, whose pid and health the task reports.
func (t *dockerTask) pickTarget() {
	for _, want := range []int{t.spec.ContainerPort, 0} {
		for _, cs := range t.spec.Containers {
			c := t.container(cs.Name)
			if b, ok := c.mapping(want); ok {
				t.main, t.addr = c, hostPort(t.spec.Address, b.hostPort)
				return
			}
		}
	}
	for _, cs := range t.spec.Containers {
		if cs.Essential {
			t.main = t.container(cs.Name)
			return
		}
	}
}

// mapping is c's mapping of containerPort, or its first one when
// containerPort is 0.
func (c *dockerContainer) mapping(containerPort int) (binding, bool) {
	for _, b := range c.bindings {
		if containerPort == 0 || b.containerPort == containerPort {
			return b, true
		}
	}
	return binding{}, false
}

// ownTarget is the mapping that makes c's PORT: that of containerPort,
// else c's first.
func (c *dockerContainer) ownTarget(containerPort int) (binding, bool) {
	if b, ok := c.mapping(containerPort); ok {
		return b, true
	}
	return c.mapping(0)
}

// startContainer waits for c's dependencies, then creates and starts it,
// and starts following its output and waiting for its exit.
func (t *dockerTask) startContainer(ctx context.Context, c *dockerContainer) error {
	if err := t.awaitDependencies(ctx, c); err != nil {
		return fmt.Errorf("task %s: container %q: %w", t.spec.ID, c.spec.Name, err)
	}
	config, hostConfig := t.containerConfig(c)
	resp, err := t.d.cli.ContainerCreate(ctx, config, hostConfig, nil, nil, c.name)
	if err != nil {
		return fmt.Errorf("task %s: create container %q: %w", t.spec.ID, c.spec.Name, err)
	}
	c.id = resp.ID
	for _, w := range resp.Warnings {
		t.d.log.Warn("docker engine warning", "task", t.spec.ID, "container", c.spec.Name, "warning", w)
	}
	// Attached before it starts, as `docker run` does: a container that
	// exits at once has its whole output, which a log stream opened after
	// the start can miss (the engine's log file lags the exit).
	if err := t.follow(ctx, c); err != nil {
		return err
	}
	if err := t.d.cli.ContainerStart(ctx, c.id, container.StartOptions{}); err != nil {
		return fmt.Errorf("task %s: start container %q: %w", t.spec.ID, c.spec.Name, err)
	}
	t.watch(c)
	if ins, err := t.d.cli.ContainerInspect(ctx, c.id); err == nil && ins.State != nil {
		c.pid = ins.State.Pid
	}
	return nil
}

// containerConfig is how the engine is to create c: ECS's bridge mode, its
// ports published on the task's address, no restart policy (shoal decides
// what runs again), the host reachable as host.docker.internal.
func (t *dockerTask) containerConfig(c *dockerContainer) (*container.Config, *container.HostConfig) {
	cs := c.spec
	stop := stopSeconds(c.stopTimeout)
	config := &container.Config{
		Image:        cs.Image,
		Cmd:          cs.Command,
		Entrypoint:   cs.EntryPoint,
		WorkingDir:   cs.WorkingDir,
		User:         cs.User,
		Env:          t.containerEnv(c),
		Labels:       t.labels(c),
		ExposedPorts: nat.PortSet{},
		StopTimeout:  &stop,
		Healthcheck:  healthConfig(cs.HealthCheck),
	}
	host := &container.HostConfig{
		NetworkMode:  container.NetworkMode("bridge"),
		PortBindings: nat.PortMap{},
		ExtraHosts:   []string{"host.docker.internal:host-gateway"},
		Resources:    resources(cs),
	}
	for _, b := range c.bindings {
		config.ExposedPorts[b.port()] = struct{}{}
		host.PortBindings[b.port()] = append(host.PortBindings[b.port()],
			nat.PortBinding{HostIP: t.spec.Address, HostPort: strconv.Itoa(b.hostPort)})
	}
	return config, host
}

// containerEnv is c's environment, sorted so the order is stable, with
// PORT set to the container port that c's target mapping publishes (the
// app listens on it inside the container, as the process driver's apps
// listen on PORT) unless c sets PORT itself. HOST is not set: inside its
// own network namespace the app listens on every address.
func (t *dockerTask) containerEnv(c *dockerContainer) []string {
	env := maps.Clone(c.spec.Env)
	if env == nil {
		env = make(map[string]string)
	}
	if b, ok := c.ownTarget(t.spec.ContainerPort); ok {
		if _, set := env["PORT"]; !set {
			env["PORT"] = strconv.Itoa(b.containerPort)
		}
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// labels are the task's labels, then the driver's own, which win: they
// say whose container it is.
func (t *dockerTask) labels(c *dockerContainer) map[string]string {
	l := maps.Clone(t.spec.Labels)
	if l == nil {
		l = make(map[string]string)
	}
	l[labelStack] = t.d.stack
	l[labelStateDir] = t.d.stateDir
	l[labelTask] = t.spec.ID
	l[labelContainer] = c.spec.Name
	return l
}

// resources are cs's CPU shares and memory limits; the hard limit covers
// swap too, so that a container past it is killed (as on ECS's hosts,
// which have no swap) rather than slowed down.
func resources(cs ContainerSpec) container.Resources {
	const mib = 1 << 20
	r := container.Resources{
		CPUShares:         int64(cs.CPU),
		Memory:            int64(cs.Memory) * mib,
		MemoryReservation: int64(cs.MemoryReservation) * mib,
	}
	r.MemorySwap = r.Memory
	return r
}

// healthConfig is the engine's form of hc, or nil. A command that does not
// start with Docker's CMD, CMD-SHELL or NONE is taken as a plain argv and
// given CMD.
func healthConfig(hc *HealthCheck) *container.HealthConfig {
	if hc == nil {
		return nil
	}
	test := slices.Clone(hc.Command)
	if len(test) > 0 && test[0] != "CMD" && test[0] != "CMD-SHELL" && test[0] != "NONE" {
		test = append([]string{"CMD"}, test...)
	}
	return &container.HealthConfig{
		Test:        test,
		Interval:    hc.Interval,
		Timeout:     hc.Timeout,
		StartPeriod: hc.StartPeriod,
		Retries:     hc.Retries,
	}
}

// stopSeconds is a stop timeout in the engine's whole seconds, rounded up
// so that a task is never given less time than it was promised.
func stopSeconds(d time.Duration) int {
	return int(math.Ceil(max(d, 0).Seconds()))
}

// awaitDependencies returns once every dependency of c has reached its
// condition, or with why it never will: a SUCCESS dependency that exited
// otherwise, a HEALTHY one that is unhealthy or exited, an essential
// container that exited meanwhile (the task is over), a cancelled ctx.
func (t *dockerTask) awaitDependencies(ctx context.Context, c *dockerContainer) error {
	for _, dep := range c.spec.DependsOn {
		d := t.container(dep.Container)
		var err error
		switch dep.Condition {
		case DependComplete, DependSuccess:
			err = t.awaitExit(ctx, d, dep.Condition == DependSuccess)
		case DependHealthy:
			err = t.awaitHealthy(ctx, d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// container is the task's container called name; it exists (Check).
func (t *dockerTask) container(name string) *dockerContainer {
	i := slices.IndexFunc(t.containers, func(c *dockerContainer) bool { return c.spec.Name == name })
	return t.containers[i]
}

// awaitExit waits for dependency d to exit, with code 0 when success.
func (t *dockerTask) awaitExit(ctx context.Context, d *dockerContainer, success bool) error {
	select {
	case <-d.exited:
	case <-t.ending:
		return t.endedDuringStart()
	case <-ctx.Done():
		return fmt.Errorf("waiting for %q to exit: %w", d.spec.Name, ctx.Err())
	}
	if success && (d.exit.Code != 0 || d.exit.Err != nil || d.exit.Signal != "") {
		return fmt.Errorf("depends on %q exiting successfully, but it ended with %s", d.spec.Name, d.exit)
	}
	return nil
}

// awaitHealthy polls dependency d until the engine says it is healthy.
func (t *dockerTask) awaitHealthy(ctx context.Context, d *dockerContainer) error {
	timer := t.d.clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-timer.C():
		case <-d.exited:
			return fmt.Errorf("depends on %q being healthy, but it ended with %s", d.spec.Name, d.exit)
		case <-t.ending:
			return t.endedDuringStart()
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q to be healthy: %w", d.spec.Name, ctx.Err())
		}
		ins, err := t.d.cli.ContainerInspect(ctx, d.id)
		if err != nil {
			return fmt.Errorf("waiting for %q to be healthy: %w", d.spec.Name, err)
		}
		status, failure := dockerHealth(ins.State.Health)
		switch status {
		case HealthHealthy:
			return nil
		case HealthUnhealthy:
			return fmt.Errorf("depends on %q being healthy, but it is unhealthy: %s", d.spec.Name, failure)
		}
		timer.Reset(dependencyPoll)
	}
}

// endedDuringStart says which essential container exited while the task
// was starting.
func (t *dockerTask) endedDuringStart() error {
	return fmt.Errorf("essential container %q exited (%s) before the task had started", t.endedBy.spec.Name, t.endedBy.exit)
}

// abort undoes a start that failed: it removes, by force, every container
// created so far, waits for the task's goroutines and releases its ports.
func (t *dockerTask) abort() {
	t.cancelHealth()
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	for _, c := range t.containers {
		if c.id == "" {
			continue
		}
		c.stopSent.Store(true)
		if err := t.d.cli.ContainerRemove(ctx, c.id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.d.log.Warn("removing a container of a task that failed to start", "task", t.spec.ID, "container", c.spec.Name, "err", err)
		}
	}
	t.cancel() // how the removed containers exited does not matter
	t.waiters.Wait()
	t.followers.Wait()
	t.releasePorts()
}

// releasePorts gives the task's allocated host ports back.
func (t *dockerTask) releasePorts() {
	for _, p := range t.allocated {
		t.d.ports.Release(t.spec.Address, p)
	}
	t.allocated = nil
}
