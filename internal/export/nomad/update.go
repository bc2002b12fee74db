package nomad

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/shoalhq/shoal/internal/spec"
)

// Nomad's update defaults, written out.
const (
	healthyDeadline  = 5 * time.Minute
	progressDeadline = 10 * time.Minute
)

// update maps a service's deployment settings to the group's update
// stanza. Nomad's rolling update replaces max_parallel allocations at a
// time (the old one stops, its replacement starts): it never runs more
// than count, so a surge is a canary, promoted once healthy.
func (e *exporter) update(at string, svc *spec.Service, count int, checks bool, target *spec.TargetGroup) *api.UpdateStrategy {
	d := svc.Deployment
	dAt := at + ".deployment"
	u := &api.UpdateStrategy{
		HealthCheck:      new("task_states"),
		MinHealthyTime:   new(10 * time.Second),
		HealthyDeadline:  new(healthyDeadline),
		ProgressDeadline: new(progressDeadline),
		AutoRevert:       new(d.CircuitBreaker.Enable && d.CircuitBreaker.Rollback),
		Canary:           new(0),
		AutoPromote:      new(false),
	}
	if checks {
		u.HealthCheck = new("checks")
		if target != nil {
			// A new target is healthy at its first passing check.
			u.MinHealthyTime = new(max(target.HealthCheck.Interval.D(), minCheckTime))
		}
	}
	// ECS may stop down to minimum_healthy_percent (rounded up) and run up
	// to maximum_percent (rounded down) of the desired count.
	down := count - int(math.Ceil(float64(count)*float64(d.MinimumHealthyPercent)/100))
	up := int(math.Floor(float64(count)*float64(d.MaximumPercent)/100)) - count
	switch strategy := d.Strategy; {
	case strategy != "" && strategy != spec.StrategyRolling:
		e.trafficShift(dAt, d, count, u)
	case down >= 1:
		u.MaxParallel = new(down)
		if up > 0 {
			e.warn.Add(dAt+".maximum_percent", "approximate: Nomad replaces %d allocation(s) at a time (max_parallel, from minimum_healthy_percent) and starts none beyond count, where ECS may also start %d more first", down, up)
		}
	case up >= count && count > 0:
		// Nothing may stop first, and a whole second set may run: start
		// the new ones beside the old (canaries), promote once healthy.
		u.MaxParallel, u.Canary, u.AutoPromote = new(count), new(count), new(true)
	case count > 0:
		u.MaxParallel = new(1)
		if up > 0 {
			u.Canary, u.AutoPromote = new(up), new(true)
		}
		e.warn.Add(dAt+".minimum_healthy_percent", "approximate: Nomad runs no more than count beside its canaries (%d), then replaces the rest one at a time, stopping each old allocation first: one fewer than minimum_healthy_percent asks is healthy during each step", up)
	default:
		u.MaxParallel = new(1)
	}
	e.deadlines(dAt, svc, count, u)
	for i := range d.LifecycleHooks {
		e.warn.Add(fmt.Sprintf("%s.lifecycle_hooks[%d]", dAt, i), "not carried over: Nomad deployments have no lifecycle hooks (a poststart task or an external check on the deployment can stand in)")
	}
	for i := range d.Alarms {
		e.warn.Add(fmt.Sprintf("%s.alarms[%d]", dAt, i), "not carried over: Nomad deployments watch only health checks, not metrics")
	}
	return u
}

// systemUpdate maps a daemon's deployment settings to its system job
// group's update stanza. ECS replaces a daemon's tasks as many at a time as
// minimum_healthy_percent lets stop (the default, 0, all at once); a Nomad
// system job replaces max_parallel allocations at a time, and has no
// deployment: no canaries, no health deadlines, no auto_revert.
func (e *exporter) systemUpdate(at string, svc *spec.Service, instances int) *api.UpdateStrategy {
	d := svc.Deployment
	dAt := at + ".deployment"
	down := instances - int(math.Ceil(float64(instances)*float64(d.MinimumHealthyPercent)/100))
	if d.CircuitBreaker.Enable {
		e.warn.Add(dAt+".circuit_breaker", "not carried over: a Nomad system job has no deployment to fail or revert")
	}
	if d.Strategy != "" && d.Strategy != spec.StrategyRolling {
		e.warn.Add(dAt+".strategy", "not carried over: a Nomad system job replaces its allocations in place, max_parallel at a time")
	}
	for i := range d.LifecycleHooks {
		e.warn.Add(fmt.Sprintf("%s.lifecycle_hooks[%d]", dAt, i), "not carried over: a Nomad system job has no deployment")
	}
	for i := range d.Alarms {
		e.warn.Add(fmt.Sprintf("%s.alarms[%d]", dAt, i), "not carried over: a Nomad system job has no deployment")
	}
	return &api.UpdateStrategy{MaxParallel: new(max(down, 1))}
}

// deadlines sets healthy_deadline and progress_deadline, Nomad's stand-ins
// for ECS's circuit breaker. ECS trips when its threshold of tasks (at
// least 3) have failed. Under a circuit breaker, the export sets
// progress_deadline to 0, which makes Nomad fail the deployment at its
// first failed allocation; with Nomad's default restart policy (2 restarts
// in place) an allocation fails when its task has failed 3 times, or when
// it is not healthy by healthy_deadline. Without one, ECS retries for ever
// and Nomad gives up after progress_deadline without progress (its
// default, 10 min).
func (e *exporter) deadlines(at string, svc *spec.Service, count int, u *api.UpdateStrategy) {
	cb := svc.Deployment.CircuitBreaker
	healthy, progress := healthyDeadline, progressDeadline
	// Nomad wants min_healthy_time < healthy_deadline < progress_deadline
	// (but for 0); min_healthy_time can be an interval of 5 min.
	if *u.MinHealthyTime >= healthy {
		healthy = *u.MinHealthyTime + healthyDeadline
		progress = healthy + progressDeadline
	}
	if cb.Enable {
		progress = 0
	}
	u.HealthyDeadline, u.ProgressDeadline = new(healthy), new(progress)

	threshold := cb.Threshold(count)
	switch {
	case cb.Enable && cb.Rollback:
		e.warn.Add(at+".circuit_breaker", "approximate: ECS rolls back after %d failed tasks; with progress_deadline 0 Nomad fails the deployment at its first failed allocation (its task failed 3 times: Nomad's default restart policy restarts it twice in place; or not healthy by healthy_deadline, %v), then auto_revert rolls back to the last stable job version", threshold, healthy)
	case cb.Enable:
		e.warn.Add(at+".circuit_breaker", "approximate: ECS fails the deployment after %d failed tasks; with progress_deadline 0 Nomad fails it at its first failed allocation (its task failed 3 times: Nomad's default restart policy restarts it twice in place; or not healthy by healthy_deadline, %v); without rollback it stays failed (auto_revert off)", threshold, healthy)
	case count > 0:
		e.warn.Add(at+".circuit_breaker", "approximate: without a circuit breaker ECS retries a failing deployment for ever; Nomad fails it when none of its allocations has turned healthy for progress_deadline (%v) and keeps the allocations it has", progress)
	}
}

// trafficShift maps blue_green, canary and linear: the new version starts
// beside the old as canaries, promoted once healthy; the balancer gives
// them traffic by their number, not by a weight.
func (e *exporter) trafficShift(at string, d spec.Deployment, count int, u *api.UpdateStrategy) {
	canaries := count
	switch d.Strategy {
	case "canary":
		canaries = int(math.Ceil(float64(count) * d.Canary.Percent / 100))
		e.warn.Add(at+".canary", "approximate: %g%% of traffic becomes %d canary allocation(s) of %d, which the balancer sends traffic to as to any other; bake_time is not waited for: they are promoted once healthy", d.Canary.Percent, canaries, count)
	case "linear":
		canaries = int(math.Ceil(float64(count) * d.Linear.StepPercent / 100))
		e.warn.Add(at+".linear", "approximate: the first step of %g%% becomes %d canary allocation(s) of %d; the steps after it and step_bake_time are not carried over: the rest is replaced once the canaries are healthy", d.Linear.StepPercent, canaries, count)
	default:
		e.warn.Add(at+".strategy", "approximate: blue_green starts a whole set of canaries beside the old allocations and promotes them once healthy; the balancer sends traffic to both meanwhile, and bake_time is not waited for")
	}
	canaries = max(1, min(canaries, count))
	u.MaxParallel, u.Canary, u.AutoPromote = new(max(count, 1)), new(canaries), new(true)
	if d.AlternateTargetGroup != "" {
		e.warn.Add(at+".alternate_target_group", "approximate: both revisions register as the service's one Nomad service, which the upstreams of both target groups read: the canaries get traffic like the others")
	}
	if d.TestListenerRule != nil {
		e.warn.Add(at+".test_listener_rule", "not carried over: the balancer has no test route to the canaries")
	}
}

// scaling maps autoscaling: min and max, and a policy for the Nomad
// Autoscaler (a separate agent: Nomad itself never scales).
func (e *exporter) scaling(at string, svc *spec.Service) *api.ScalingPolicy {
	a := svc.Autoscaling
	if a == nil {
		return nil
	}
	aAt := at + ".autoscaling"
	e.warn.Add(aAt, "approximate: min and max are the scaling block's; its policy is read only by the Nomad Autoscaler, an agent of its own, with the nomad-apm plugin for CPU")
	var checks []any
	cooldown := time.Duration(0)
	for i, tt := range a.TargetTracking {
		tAt := fmt.Sprintf("%s.target_tracking[%d]", aAt, i)
		cooldown = max(cooldown, tt.ScaleInCooldown.D(), tt.ScaleOutCooldown.D())
		if tt.Metric != spec.MetricCPUUtilization {
			e.warn.Add(tAt+".metric", "not carried over: %s comes from ALB; the nginx balancer publishes no such metric for the Autoscaler (write a Prometheus query over an exporter of nginx)", tt.Metric)
			continue
		}
		check := map[string]any{
			"source":   "nomad-apm",
			"query":    "avg_cpu-allocated",
			"strategy": []any{map[string]any{"target-value": []any{map[string]any{"target": tt.Target}}}},
		}
		if tt.DisableScaleIn {
			e.warn.Add(tAt+".disable_scale_in", "not carried over: an Autoscaler check scales both ways")
		}
		checks = append(checks, map[string]any{fmt.Sprintf("cpu_%d", i): []any{check}})
	}
	policy := map[string]any{
		"evaluation_interval": a.Period.D().String(),
		"cooldown":            cooldown.String(),
	}
	if len(checks) > 0 {
		policy["check"] = checks
	}
	if len(a.TargetTracking) > 1 || cooldown != a.TargetTracking[0].ScaleOutCooldown.D() {
		e.warn.Add(aAt, "approximate: the Autoscaler has one cooldown per policy, the longest of the policies' (%v), where ECS has one per direction and policy", cooldown)
	}
	return &api.ScalingPolicy{
		Min: new(int64(a.Min)), Max: new(int64(a.Max)), Enabled: new(true), Type: "horizontal",
		Policy: policy,
	}
}

// environment sets a task's environment: plain values in env, and values
// that name services (${services.X.address}) in a template rendered from
// Nomad's service discovery into the task's environment.
func (e *exporter) environment(at string, vars, env map[string]string, task *api.Task) {
	var tmpl strings.Builder
	for _, k := range sortedKeys(vars) {
		v := vars[k]
		phs := spec.FindPlaceholders(v)
		if len(phs) == 0 {
			env[k] = v
			continue
		}
		fmt.Fprintf(&tmpl, "%s=\"", k)
		last := 0
		for _, ph := range phs {
			tmpl.WriteString(templateText(v[last:ph.Start]))
			tmpl.WriteString(e.lookup(ph))
			last = ph.End
		}
		tmpl.WriteString(templateText(v[last:]))
		tmpl.WriteString("\"\n")
	}
	if len(env) > 0 {
		task.Env = env
	}
	if tmpl.Len() == 0 {
		return
	}
	e.warn.Add(at, "approximate: ${services.NAME.…} becomes the first registration of the service in Nomad's service discovery (template nomadService, rendered into the environment); the task restarts when it changes, and shoal's local forwarder to a healthy task is not there")
	task.Templates = append(task.Templates, &api.Template{
		EmbeddedTmpl: new(tmpl.String()),
		DestPath:     new("local/shoal-services.env"),
		Envvars:      new(true),
		ChangeMode:   new("restart"),
	})
}

// lookup is the template text of one placeholder.
func (e *exporter) lookup(ph spec.Placeholder) string {
	field := "{{ .Address }}:{{ .Port }}"
	switch ph.Field {
	case "host":
		field = "{{ .Address }}"
	case "port":
		field = "{{ .Port }}"
	}
	return fmt.Sprintf(`{{ with nomadService %q }}{{ with index . 0 }}%s{{ end }}{{ end }}`, e.serviceName(ph.Service), field)
}

// templateText escapes literal text for a double-quoted value of an env
// template: the quotes and backslashes of the env file, and the
// template's own delimiters.
func templateText(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}
