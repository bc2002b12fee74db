package kubernetes

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shoalhq/shoal/internal/spec"
)

// env is a container's environment: shoal's own variables as the Docker
// driver sets them (the pod's name is the task id, its node the
// instance), under the task definition's, under the container's, with
// ${services.NAME.…} resolved to Service DNS names. Sorted by name.
func (x *exporter) env(name string, wl *workload, i int) []corev1.EnvVar {
	vars := map[string]corev1.EnvVar{}
	set := func(k, v string) { vars[k] = corev1.EnvVar{Name: k, Value: v} }
	set("HOST", "0.0.0.0")
	if wl.port != 0 {
		set("PORT", strconv.Itoa(wl.port))
	}
	set("SHOAL_SERVICE", name)
	vars["SHOAL_TASK_ID"] = fieldEnv("SHOAL_TASK_ID", "metadata.name")
	vars["SHOAL_INSTANCE"] = fieldEnv("SHOAL_INSTANCE", "spec.nodeName")
	for k, v := range wl.td.Environment {
		set(k, x.resolve(wl.tdPath+".environment."+k, v))
	}
	if len(wl.td.Containers) > 0 {
		for k, v := range wl.containers[i].Environment {
			set(k, x.resolve(wl.paths[i]+".environment."+k, v))
		}
	}
	out := make([]corev1.EnvVar, 0, len(vars))
	for _, k := range sortedKeys(vars) {
		out = append(out, vars[k])
	}
	return out
}

func fieldEnv(name, field string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: field}}}
}

// resolve replaces each ${services.NAME.address|host|port} in an
// environment value with the Service that reaches NAME.
func (x *exporter) resolve(p, value string) string {
	phs := spec.FindPlaceholders(value)
	for i := len(phs) - 1; i >= 0; i-- {
		ph := phs[i]
		host, port, ok := x.address(p, ph.Service)
		if ph.Err != "" || !ok {
			continue
		}
		var v string
		switch ph.Field {
		case "address":
			v = host + ":" + strconv.Itoa(port)
		case "host":
			v = host
		case "port":
			v = strconv.Itoa(port)
		}
		value = value[:ph.Start] + v + value[ph.End:]
	}
	return value
}

// address is the Service DNS name (in the same namespace) and port that
// reach service name: its target group's Service, or its own.
func (x *exporter) address(p, name string) (host string, port int, ok bool) {
	sv := x.s.Services[name]
	if sv == nil {
		return "", 0, false
	}
	if sv.TargetGroup != "" {
		return x.tgServiceName(sv.TargetGroup), x.tgPort(sv.TargetGroup), true
	}
	wl := x.pods[name]
	if wl.port == 0 {
		x.w.Add(p, "service %s has no port, so no Service reaches it: give its task definition a port", name)
	}
	return wl.name, wl.port, true
}

// resources are a container's requests and limits: ECS's 1024 CPU units
// are one CPU; memory is in MiB. A task's cpu and memory are reservations
// (requests); a container's memory is a hard limit.
func (x *exporter) resources(wl *workload, i int) corev1.ResourceRequirements {
	c, td := wl.containers[i], wl.td
	var r corev1.ResourceRequirements
	cpu, mem, limit := c.CPU, c.MemoryReservation, c.Memory
	cpuPath := wl.paths[i] + ".cpu"
	if len(td.Containers) == 0 {
		cpu, mem, limit, cpuPath = td.CPU, td.Memory, 0, wl.tdPath+".cpu"
		if mem == 0 {
			mem = td.MemoryReservation
		}
	} else {
		if mem == 0 {
			mem = limit
		}
		if td.CPU != 0 {
			x.w.Add(wl.tdPath+".cpu", "not carried over: Kubernetes reserves per container (pod-level resources are behind the PodLevelResources feature gate); give each container its cpu")
		}
		if td.Memory != 0 {
			x.w.Add(wl.tdPath+".memory", "not carried over: Kubernetes reserves per container; give each container its memory")
		}
	}
	if cpu != 0 {
		milli := (int64(cpu)*1000 + 1023) / 1024
		if int64(cpu)*1000%1024 != 0 {
			x.w.Add(cpuPath, "%d CPU units become %dm (1024 units are one CPU), rounded up", cpu, milli)
		}
		r.Requests = corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(milli, resource.DecimalSI)}
	}
	if mem != 0 {
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		r.Requests[corev1.ResourceMemory] = mib(mem)
	}
	if limit != 0 {
		r.Limits = corev1.ResourceList{corev1.ResourceMemory: mib(limit)}
	}
	return r
}

func mib(n int) resource.Quantity {
	return *resource.NewQuantity(int64(n)<<20, resource.BinarySI)
}

// readiness is the readiness probe of the container that takes the
// service's traffic: its target group's health check, or, for a service
// without one, a TCP connection as shoal checks it.
func (x *exporter) readiness(wl *workload) *corev1.Probe {
	tgName := wl.svc.TargetGroup
	tg := x.s.TargetGroups[tgName]
	if tg == nil {
		if wl.port == 0 {
			return nil
		}
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(portName)}}}
	}
	hc, p := tg.HealthCheck, "target_groups."+tgName+".health_check"
	port := intstr.FromString(portName)
	if hc.Port != spec.TrafficPort {
		n, _ := strconv.Atoi(hc.Port)
		port = intstr.FromInt32(int32(n))
	}
	scheme := corev1.URISchemeHTTP
	if tg.Protocol == "https" {
		scheme = corev1.URISchemeHTTPS
	}
	if m := hc.Matcher.String(); m != "200-399" {
		x.w.Add(p+".matcher", "matcher %s: a probe passes on any answer from 200 to 399", m)
	}
	if hc.HealthyThreshold > 1 {
		x.w.Add(p+".healthy_threshold", "becomes successThreshold %d: a new pod needs %d passes in a row to become ready, where ALB's new target needs one", hc.HealthyThreshold, hc.HealthyThreshold)
	}
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: hc.Path, Port: port, Scheme: scheme}},
		PeriodSeconds:    x.seconds(p+".interval", hc.Interval),
		TimeoutSeconds:   x.seconds(p+".timeout", hc.Timeout),
		SuccessThreshold: int32(hc.HealthyThreshold),
		FailureThreshold: int32(hc.UnhealthyThreshold),
	}
}

// liveness is the container health check as a liveness probe.
func (x *exporter) liveness(p string, hc *spec.ContainerHealthCheck) *corev1.Probe {
	x.w.Add(p, "becomes a liveness probe: ECS replaces a task that turns UNHEALTHY, Kubernetes restarts the container in its pod")
	pr := &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: healthCommand(hc.Command)}},
		PeriodSeconds:    x.seconds(p+".interval", hc.Interval),
		TimeoutSeconds:   x.seconds(p+".timeout", hc.Timeout),
		FailureThreshold: int32(hc.Retries),
	}
	if hc.StartPeriod > 0 {
		pr.InitialDelaySeconds = x.seconds(p+".start_period", hc.StartPeriod)
		x.w.Add(p+".start_period", "becomes initialDelaySeconds %d: no check runs before it, where ECS runs them and counts only the passes", pr.InitialDelaySeconds)
	}
	return pr
}

// healthCommand is the argv of a container health check: ECS's CMD-SHELL
// and a string run with /bin/sh -c, CMD runs the rest as is.
func healthCommand(cmd spec.Command) []string {
	if len(cmd) > 0 {
		switch cmd[0] {
		case "CMD-SHELL":
			return []string{"/bin/sh", "-c", strings.Join(cmd[1:], " ")}
		case "CMD":
			return append([]string(nil), cmd[1:]...)
		}
	}
	return commandArgs(cmd)
}

// tgServiceName is the Service of target group tg.
func (x *exporter) tgServiceName(tg string) string { return dnsLabel(tg) }

// tgPort is the port the Service of target group tg takes: 80, or 443
// for https.
func (x *exporter) tgPort(tg string) int {
	if t := x.s.TargetGroups[tg]; t != nil && t.Protocol == "https" {
		return 443
	}
	return 80
}
