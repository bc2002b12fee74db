package kubernetes

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shoalhq/shoal/internal/spec"
)

// portName names the container port a service's target is (ALB's
// traffic port), so that its Services and probes follow it whatever its
// number.
const portName = "traffic"

// maxPreStop caps the preStop pause that stands for a target group's
// deregistration delay: ALB's drain ends once nothing is in flight, a
// pause always lasts its whole time.
const maxPreStop = 60 * time.Second

// knownServers are the programs a process task definition may run and
// still be exported: the servers of backing services, which have an
// official image that runs the same command. The version is the one to
// pin; PORT is the server's usual port.
var knownServers = map[string]struct {
	image string
	port  int
}{
	"redis-server":  {"redis:7.4", 6379},
	"valkey-server": {"valkey/valkey:8.1", 6379},
	"memcached":     {"memcached:1.6", 11211},
}

// workload is a service as Kubernetes runs it: its pods' template, and
// where its tasks take traffic.
type workload struct {
	name    string // the Kubernetes name
	svcPath string
	tdPath  string
	svc     *spec.Service
	td      *spec.TaskDefinition
	// containers are the task's containers, one for a one-container task
	// definition; paths are where each is written in the stack.
	containers []*spec.Container
	paths      []string
	// image is the image of a one-container task, once resolved.
	images []string
	// port is the container port of the service's target (or the port
	// its dependents reach it on); 0 when it has none. target is the
	// index of the container that has it.
	port, target int
}

// workloads makes a Deployment or DaemonSet per service, after checking
// that every task definition runs an image.
func (x *exporter) workloads() error {
	x.pods = map[string]*workload{}
	var errs spec.ErrorList
	refused := map[string]bool{} // task definitions refused, once each
	for _, name := range sortedKeys(x.s.Services) {
		sv := x.s.Services[name]
		td := x.s.TaskDefinitions[sv.TaskDefinition]
		wl := &workload{
			name: x.kname("services."+name, name), svcPath: "services." + name,
			tdPath: "task_definitions." + sv.TaskDefinition, svc: sv, td: td,
		}
		if err := x.resolveContainers(wl); err != nil && !refused[sv.TaskDefinition] {
			refused[sv.TaskDefinition] = true
			errs = append(errs, err)
		}
		x.pods[name] = wl
	}
	errs = append(errs, x.checkNames()...)
	if err := errs.Err(); err != nil {
		return err
	}
	for _, name := range sortedKeys(x.s.Services) {
		x.workload(name, x.pods[name])
	}
	return nil
}

// resolveContainers lists the task's containers with their images and
// finds its port; a process without a known server is an error.
func (x *exporter) resolveContainers(wl *workload) *spec.Error {
	td := wl.td
	if len(td.Containers) > 0 {
		for i, c := range td.Containers {
			p := fmt.Sprintf("%s.containers[%d]", wl.tdPath, i)
			img := c.Image
			if img == "" {
				img = x.builtImage(wl)
			} else {
				x.checkImage(p+".image", img)
			}
			wl.containers, wl.paths, wl.images = append(wl.containers, c), append(wl.paths, p), append(wl.images, img)
		}
		wl.port, wl.target = containersPort(td)
		return nil
	}
	c := &spec.Container{
		Name: dnsLabel(wl.svc.TaskDefinition), Essential: true,
		Command: td.Command, EntryPoint: td.EntryPoint, WorkingDirectory: td.WorkingDirectory,
		User: td.User, PortMappings: td.PortMappings, MemoryReservation: td.MemoryReservation,
		HealthCheck: td.HealthCheck,
	}
	img := td.Image
	switch {
	case img != "":
		x.checkImage(wl.tdPath+".image", img)
	case td.Build.IsImage():
		img = x.builtImage(wl)
	default:
		prog := program(td.Command)
		known, ok := knownServers[path.Base(prog)]
		if !ok {
			return x.s.ErrorAt(wl.tdPath+".command", fmt.Sprintf(
				"a process (%s) cannot be exported to Kubernetes, which runs only images: add image: with an image the cluster can pull, "+
					"or build one with the Docker driver (build: {context: ., dockerfile: Dockerfile}), push it to shoal's registry (registry.address) "+
					"and name it in image: (see docs/containers.md)", prog))
		}
		img = known.image
		if td.Port == 0 {
			c.PortMappings = []*spec.PortMapping{{ContainerPort: known.port, Protocol: spec.DefaultPortProtocol}}
		}
		x.w.Add(wl.tdPath+".command", "a process: exported as the official image %s running the same command, with PORT=%d and HOST=0.0.0.0; pin the version you run", img, portOf(td, c))
		if td.WorkingDir != "" {
			x.w.Add(wl.tdPath+".working_dir", "not carried over: the command runs in the image's WORKDIR")
		}
	}
	if td.Port != 0 && len(c.PortMappings) == 0 {
		c.PortMappings = []*spec.PortMapping{{ContainerPort: td.Port, Protocol: spec.DefaultPortProtocol}}
	}
	wl.containers, wl.paths, wl.images = []*spec.Container{c}, []string{wl.tdPath}, []string{img}
	wl.port = portOf(td, c)
	return nil
}

// program is the program a command runs: its first word, past a shell's
// exec.
func program(cmd spec.Command) string {
	if len(cmd) == 3 && cmd[0] == "/bin/sh" && cmd[1] == "-c" {
		cmd = cmd[2:] // a string command, as the stack file holds it
	}
	if len(cmd) != 1 {
		return cmd[0]
	}
	fields := strings.Fields(cmd[0])
	for len(fields) > 0 && (fields[0] == "exec" || strings.Contains(fields[0], "=")) {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return cmd[0]
	}
	return fields[0]
}

// portOf is the container port of a one-container task: port, else its
// first mapping.
func portOf(td *spec.TaskDefinition, c *spec.Container) int {
	if td.Port != 0 {
		return td.Port
	}
	if len(c.PortMappings) > 0 {
		return c.PortMappings[0].ContainerPort
	}
	return 0
}

// containersPort finds the target of a task of several containers: the
// mapping of port, else the first mapping.
func containersPort(td *spec.TaskDefinition) (port, index int) {
	for i, c := range td.Containers {
		for _, m := range c.PortMappings {
			if td.Port == 0 || m.ContainerPort == td.Port {
				return m.ContainerPort, i
			}
		}
	}
	return td.Port, 0
}

// builtImage is the image name a Docker build of the stack stands for:
// shoal tags it by its context's hash here, which no cluster can pull.
func (x *exporter) builtImage(wl *workload) string {
	img := dnsLabel(wl.svc.TaskDefinition) + ":latest"
	x.w.Add(wl.tdPath+".build", "built here by the Docker driver (tagged shoal-build/CONTEXT:HASH), which no cluster can pull: exported as image %s; "+
		"build and push it to a registry the cluster pulls from (docker build -t REGISTRY/%s, docker push), then name it in image:", img, img)
	if wl.td.WorkingDir != "" {
		x.w.Add(wl.tdPath+".working_dir", "not carried over: the folder of the build command, run here")
	}
	return img
}

// checkImage warns about an image in shoal's local registry.
func (x *exporter) checkImage(p, img string) {
	host, _, _ := strings.Cut(img, "/")
	if strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "localhost") || strings.HasPrefix(host, "[::1]") {
		x.w.Add(p, "%s is in a registry on this machine's loopback address, which the cluster's nodes cannot pull from: push it to a registry they reach and change the name", img)
	}
}

// workload writes the Deployment (or DaemonSet) of one service.
func (x *exporter) workload(name string, wl *workload) {
	sv := wl.svc
	x.serviceWarnings(name, wl)
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: x.selector(wl.name)},
		Spec:       x.podSpec(name, wl),
	}
	if sv.TargetGroup != "" {
		tmpl.Labels[labelTargetGroup] = dnsLabel(sv.TargetGroup)
	}
	meta := metav1.ObjectMeta{Name: wl.name, Labels: x.labels(wl.name)}
	sel := &metav1.LabelSelector{MatchLabels: x.selector(wl.name)}
	d := sv.Deployment
	unavailable := intstr.FromString(strconv.Itoa(100-d.MinimumHealthyPercent) + "%")
	surge := intstr.FromString(strconv.Itoa(d.MaximumPercent-100) + "%")
	if sv.SchedulingStrategy == spec.StrategyDaemon {
		// A DaemonSet takes exactly one of the two.
		switch hasU, hasS := d.MinimumHealthyPercent < 100, d.MaximumPercent > 100; {
		case hasU && hasS:
			surge = intstr.FromString("0%")
			x.w.Add(wl.svcPath+".deployment.maximum_percent", "not carried over: a DaemonSet either starts a node's new pod first (maxSurge) or stops its old one first (maxUnavailable), not both; maxUnavailable %s is kept", unavailable.StrVal)
		case !hasU && !hasS:
			unavailable = intstr.FromInt32(1)
			x.w.Add(wl.svcPath+".deployment", "minimum_healthy_percent 100 and maximum_percent 100 leave a daemon no way to replace a task; a DaemonSet needs one: exported with maxUnavailable 1")
		}
		x.add(orderWorkload, "DaemonSet/"+wl.name, &appsv1.DaemonSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
			ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl, UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &unavailable, MaxSurge: &surge},
			}},
		})
		return
	}
	if n := sv.Desired * (d.MaximumPercent - 100); n%100 != 0 {
		// ECS rounds the tasks above desired down, Kubernetes rounds a
		// percentage of surge up: a count keeps ECS's.
		surge = intstr.FromInt32(int32(n / 100))
		if sv.Autoscaling != nil {
			x.w.Add(wl.svcPath+".deployment.maximum_percent", "becomes maxSurge %d, %d%% of desired %d rounded down as ECS does (Kubernetes rounds a percentage up); it stays %d when the autoscaler changes the count", n/100, d.MaximumPercent-100, sv.Desired, n/100)
		}
	}
	noSurge := surge.Type == intstr.Int && surge.IntVal == 0 || surge.Type == intstr.String && d.MaximumPercent == 100
	if d.MinimumHealthyPercent == 100 && noSurge {
		unavailable = intstr.FromInt32(1)
		x.w.Add(wl.svcPath+".deployment", "minimum_healthy_percent 100 with no task above desired cannot replace a task (ECS stays stuck); Kubernetes refuses it: exported with maxUnavailable 1")
	}
	replicas := int32(sv.Desired)
	x.add(orderWorkload, "Deployment/"+wl.name, &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: tmpl, Strategy: appsv1.DeploymentStrategy{
			Type:          appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &unavailable, MaxSurge: &surge},
		}},
	})
}

// podSpec is the pod of one task: its containers, how it stops, where it
// goes.
func (x *exporter) podSpec(name string, wl *workload) corev1.PodSpec {
	var ps corev1.PodSpec
	stop, preStop := x.stopTimes(wl)
	inits := initContainers(wl.containers)
	for i, c := range wl.containers {
		kc := x.container(name, wl, i)
		if inits[c.Name] {
			x.w.Add(wl.paths[i]+".essential", "becomes an init container: it runs to its end before the pod's other containers start, which wait for it (COMPLETE as SUCCESS: an init container must exit 0)")
			kc.ReadinessProbe, kc.LivenessProbe = nil, nil
			ps.InitContainers = append(ps.InitContainers, kc)
			continue
		}
		if preStop > 0 {
			kc.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: int64(preStop / time.Second)}}}
		}
		if !c.Essential {
			x.w.Add(wl.paths[i]+".essential", "not carried over: Kubernetes restarts a container that exits, essential or not; a task's end when an essential container exits has no counterpart")
		}
		for j, d := range c.DependsOn {
			if !inits[d.ContainerName] {
				x.w.Add(fmt.Sprintf("%s.depends_on[%d]", wl.paths[i], j), "not carried over: a pod's containers start together (only a non-essential container waited for with SUCCESS or COMPLETE becomes an init container)")
			}
		}
		ps.Containers = append(ps.Containers, kc)
	}
	grace := int64((stop + preStop) / time.Second)
	ps.TerminationGracePeriodSeconds = &grace
	x.placement(wl, &ps)
	return ps
}

// initContainers are the containers that run to their end before others
// start: not essential, waited for with SUCCESS or COMPLETE, waiting for
// none themselves, and not the task's target.
func initContainers(cs []*spec.Container) map[string]bool {
	out := map[string]bool{}
	for _, c := range cs {
		for _, d := range c.DependsOn {
			if d.Condition == "SUCCESS" || d.Condition == "COMPLETE" {
				out[d.ContainerName] = true
			}
		}
	}
	for _, c := range cs {
		if out[c.Name] && (c.Essential || len(c.DependsOn) > 0 || len(c.PortMappings) > 0) {
			delete(out, c.Name)
		}
	}
	return out
}

// stopTimes are the task's stop timeout (the longest of its containers')
// and the preStop pause of its target group's deregistration delay.
func (x *exporter) stopTimes(wl *workload) (stop, preStop time.Duration) {
	stop = wl.td.StopTimeout.D()
	for i, c := range wl.containers {
		if c.StopTimeout > 0 && c.StopTimeout.D() != stop {
			if c.StopTimeout.D() > stop {
				stop = c.StopTimeout.D()
			}
			x.w.Add(wl.paths[i]+".stop_timeout", "a pod has one grace period: the longest stop_timeout of its containers, %s", stop)
		}
	}
	stop = stop.Round(time.Second)
	if tg := x.s.TargetGroups[wl.svc.TargetGroup]; tg != nil {
		preStop = tg.DeregistrationDelay.D().Round(time.Second)
		if preStop > maxPreStop {
			x.w.Add("target_groups."+wl.svc.TargetGroup+".deregistration_delay",
				"becomes a preStop pause of %s (capped from %s) before SIGTERM, so that the pod leaves the Service's endpoints first; ALB's drain ends once nothing is in flight, a pause always lasts its whole time", maxPreStop, preStop)
			preStop = maxPreStop
		}
	}
	return stop, preStop
}

// container is the Kubernetes container of the task's i-th container.
func (x *exporter) container(name string, wl *workload, i int) corev1.Container {
	c, p := wl.containers[i], wl.paths[i]
	kc := corev1.Container{Name: x.kname(p+".name", c.Name), Image: wl.images[i], WorkingDir: c.WorkingDirectory}
	if len(wl.containers) == 1 {
		kc.Name = dnsLabel(c.Name)
	}
	kc.Command = commandArgs(c.EntryPoint)
	kc.Args = commandArgs(c.Command)
	for j, m := range c.PortMappings {
		cp := corev1.ContainerPort{ContainerPort: int32(m.ContainerPort), Protocol: corev1.Protocol(strings.ToUpper(m.Protocol))}
		if i == wl.target && m.ContainerPort == wl.port {
			cp.Name = portName
		}
		if m.HostPort != 0 {
			cp.HostPort = int32(m.HostPort)
			x.w.Add(fmt.Sprintf("%s.port_mappings[%d].host_port", p, j), "becomes hostPort %d: a pod of the service per node at most, as a static host port on ECS", m.HostPort)
		}
		kc.Ports = append(kc.Ports, cp)
	}
	kc.Env = x.env(name, wl, i)
	x.user(p+".user", c.User, &kc)
	kc.Resources = x.resources(wl, i)
	if i == wl.target {
		kc.ReadinessProbe = x.readiness(wl)
	}
	if c.HealthCheck != nil {
		kc.LivenessProbe = x.liveness(p+".health_check", c.HealthCheck)
	}
	return kc
}

// commandArgs turns a command into an argv: a string runs with /bin/sh -c.
func commandArgs(cmd spec.Command) []string {
	switch len(cmd) {
	case 0:
		return nil
	case 1:
		return []string{"/bin/sh", "-c", cmd[0]}
	}
	return append([]string(nil), cmd...)
}

// user sets a container's user when it is numeric, as Kubernetes takes it.
func (x *exporter) user(p, user string, kc *corev1.Container) {
	if user == "" {
		return
	}
	uid, gid, hasGroup := strings.Cut(user, ":")
	u, err1 := strconv.ParseInt(uid, 10, 64)
	g, err2 := strconv.ParseInt(gid, 10, 64)
	if err1 != nil || hasGroup && err2 != nil {
		x.w.Add(p, "not carried over: Kubernetes takes numeric user and group IDs (runAsUser, runAsGroup); write them as 1000:1000")
		return
	}
	kc.SecurityContext = &corev1.SecurityContext{RunAsUser: &u}
	if hasGroup {
		kc.SecurityContext.RunAsGroup = &g
	}
}

// seconds is a probe's or a policy's duration in whole seconds (at least
// one), with a warning when that rounds it.
func (x *exporter) seconds(p string, d spec.Duration) int32 {
	s := int32((d.D() + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	if d.D() != time.Duration(s)*time.Second {
		x.w.Add(p, "becomes %d s: Kubernetes counts whole seconds", s)
	}
	return s
}

// serviceWarnings are the service's settings that ECS has and Kubernetes
// has not.
func (x *exporter) serviceWarnings(name string, wl *workload) {
	sv, p := wl.svc, wl.svcPath
	d := sv.Deployment
	if d.Strategy != spec.StrategyRolling {
		x.w.Add(p+".deployment.strategy", "not carried over: a Deployment rolls within maxSurge and maxUnavailable; %s needs a progressive delivery controller (Argo Rollouts, Flagger)", d.Strategy)
	}
	if d.CircuitBreaker.Enable {
		x.w.Add(p+".deployment.circuit_breaker", "not carried over: a stuck rollout is only marked Progressing=False after progressDeadlineSeconds (600 s), and never rolled back: kubectl rollout undo deployment/%s", wl.name)
	}
	if len(d.LifecycleHooks) > 0 {
		x.w.Add(p+".deployment.lifecycle_hooks", "not carried over: Deployments have no lifecycle hooks")
	}
	if len(d.Alarms) > 0 {
		x.w.Add(p+".deployment.alarms", "not carried over: Deployments do not watch metrics")
	}
	if sv.HealthCheckGracePeriod > 0 {
		x.w.Add(p+".health_check_grace_period", "not carried over: Kubernetes never replaces a pod for failing its readiness probe, so there is nothing to hold off")
	}
	if sv.TargetGroup != "" {
		x.w.Add(p+".target_group", "ECS replaces a task its target group finds unhealthy; Kubernetes only takes a pod failing its readiness probe out of the Service's endpoints (the liveness probe, from the container health check, restarts it)")
	}
	for i, dep := range sv.DependsOn {
		x.w.Add(fmt.Sprintf("%s.depends_on[%d]", p, i), "not carried over: the pods start without waiting for %s to be healthy; the application must retry until it answers", dep)
	}
	if sv.SchedulingStrategy == spec.StrategyDaemon && sv.Desired != spec.DefaultDesired {
		x.w.Add(p+".desired", "not used: a DaemonSet runs a pod on every node")
	}
}

// placement turns ECS's placement strategies and constraints into
// topology spread and anti-affinity.
func (x *exporter) placement(wl *workload, ps *corev1.PodSpec) {
	sel := &metav1.LabelSelector{MatchLabels: x.selector(wl.name)}
	for i, st := range wl.svc.PlacementStrategy {
		p := fmt.Sprintf("%s.placement_strategy[%d]", wl.svcPath, i)
		switch st.Type {
		case "spread":
			ps.TopologySpreadConstraints = append(ps.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
				MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: sel,
			})
			x.w.Add(p, "becomes a topology spread over nodes (maxSkew 1, ScheduleAnyway): the scheduler weighs it with its other scores, ECS applies it first")
		default:
			x.w.Add(p, "not carried over: placement %s is the scheduler's scoring profile (NodeResourcesFit MostAllocated for binpack), set for the whole cluster", st.Type)
		}
	}
	for i, pc := range wl.svc.PlacementConstraints {
		if pc.Type == spec.ConstraintDistinctInstance {
			ps.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: sel, TopologyKey: corev1.LabelHostname}},
			}}
			continue
		}
		x.w.Add(fmt.Sprintf("%s.placement_constraints[%d]", wl.svcPath, i), "not carried over: constraint %s", pc.Type)
	}
}
