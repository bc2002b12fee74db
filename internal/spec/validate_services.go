package spec

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// deployment checks a service's deployment settings, and that a rolling
// deployment can make progress at every desired count the service can have.
func (v *validator) deployment(path string, sv *Service) {
	d := sv.Deployment
	okMin := v.intRangeOK(path+".minimum_healthy_percent", "minimum_healthy_percent", d.MinimumHealthyPercent, 0, 100)
	okMax := v.intRangeOK(path+".maximum_percent", "maximum_percent", d.MaximumPercent, 100, 200)
	if !okMin || !okMax {
		return
	}
	lo, hi := sv.Desired, sv.Desired
	switch {
	case sv.SchedulingStrategy == StrategyDaemon:
		lo, hi = v.s.Cluster.Instances, v.s.Cluster.Instances
	case sv.Autoscaling != nil:
		lo, hi = sv.Autoscaling.Min, sv.Autoscaling.Max
	}
	for n := max(lo, 1); n <= hi && n <= 1000; n++ {
		if err := DeploymentRoom(n, d.MinimumHealthyPercent, d.MaximumPercent); err != nil {
			v.errorf(path+".maximum_percent", "%v", err)
			return
		}
	}
}

// DeploymentRoom says why a rolling deployment of a service with desired
// tasks could not make progress under these percentages: it could neither
// start a new task (maximum) nor stop an old one (minimum healthy). nil
// when it can.
func DeploymentRoom(desired, minHealthyPercent, maxPercent int) error {
	most := desired * maxPercent / 100              // rounded down, as ECS
	least := (desired*minHealthyPercent + 99) / 100 // rounded up, as ECS
	if desired == 0 || most > desired || least < desired {
		return nil
	}
	return fmt.Errorf("with desired count %d, maximum_percent %d lets no more than %d run and minimum_healthy_percent %d keeps all %d healthy: a deployment could neither start a new task nor stop an old one; raise maximum_percent or lower minimum_healthy_percent",
		desired, maxPercent, most, minHealthyPercent, least)
}

// placement checks a service's placement strategies and constraints.
func (v *validator) placement(path string, sv *Service) {
	daemon := sv.SchedulingStrategy == StrategyDaemon
	if daemon && len(sv.PlacementStrategy) > 0 {
		v.errorf(path+".placement_strategy", "a daemon service runs one task on every instance and takes no placement_strategy; remove it")
	}
	for i, ps := range sv.PlacementStrategy {
		at := indexPath(path+".placement_strategy", i)
		switch ps.Type {
		case "spread":
			if ps.Field != "" && ps.Field != "instanceId" {
				v.errorf(at+".field", "spread by %q is not supported: shoal's instances have no other attributes; use field: instanceId", ps.Field)
			}
		case "binpack":
			if ps.Field != "cpu" && ps.Field != "memory" {
				v.errorf(at+".field", "binpack needs field: cpu or field: memory (got %q)", ps.Field)
			}
		case "random":
			if ps.Field != "" {
				v.errorf(at+".field", "random takes no field; remove it")
			}
		default:
			v.errorf(at+".type", "placement strategy type %q is not supported: use spread, binpack or random", ps.Type)
		}
	}
	for i, pc := range sv.PlacementConstraints {
		at := indexPath(path+".placement_constraints", i) + ".type"
		switch {
		case pc.Type == ConstraintDistinctInstance || pc.Type == "distinctInstance":
			if sv.SchedulingStrategy == StrategyReplica && sv.Desired > v.s.Cluster.Instances {
				v.errorf(at, "distinct_instance puts every task on its own instance, but desired %d is more than the %d instances: lower desired or add instances", sv.Desired, v.s.Cluster.Instances)
			}
		case pc.Type == "memberOf":
			v.errorf(at, "memberOf constraints are not supported: shoal's instances have no attributes to match; use distinct_instance")
		default:
			v.errorf(at, "placement constraint type %q is not supported: use distinct_instance", pc.Type)
		}
	}
}

// autoscaling checks a service's auto scaling settings.
func (v *validator) autoscaling(path string, sv *Service) {
	as := sv.Autoscaling
	if sv.SchedulingStrategy == StrategyDaemon {
		v.errorf(path, "a daemon service runs one task per instance and cannot autoscale; remove autoscaling or use scheduling_strategy: replica")
		return
	}
	v.intRange(path+".min", "min", as.Min, 0, 1000)
	if as.Max < max(as.Min, 1) || as.Max > 1000 {
		v.errorf(path+".max", "max %d is out of range: use %d-1000 (at least min, at least 1)", as.Max, max(as.Min, 1))
	}
	v.durationRange(path+".period", "period", as.Period, time.Second, 5*time.Minute)
	if len(as.TargetTracking) == 0 {
		v.errorf(path+".target_tracking", "autoscaling needs a policy: add target_tracking: [{metric: ECSServiceAverageCPUUtilization, target: 50}]")
	}
	for i, tt := range as.TargetTracking {
		at := indexPath(path+".target_tracking", i)
		switch tt.Metric {
		case MetricRequestCountPerTarget:
			if sv.TargetGroup == "" {
				v.errorf(at+".metric", "%s counts the requests of the service's target group, and this service has none: set target_group, or use %s", tt.Metric, MetricCPUUtilization)
			}
		case MetricCPUUtilization:
		default:
			v.errorf(at+".metric", "metric %q is not supported: use %s or %s", tt.Metric, MetricRequestCountPerTarget, MetricCPUUtilization)
		}
		if tt.Target <= 0 || tt.Target > 1e9 {
			v.errorf(at+".target", "target %g is out of range: use a number above 0", tt.Target)
		}
		v.durationRange(at+".scale_out_cooldown", "scale_out_cooldown", tt.ScaleOutCooldown, 0, time.Hour)
		v.durationRange(at+".scale_in_cooldown", "scale_in_cooldown", tt.ScaleInCooldown, 0, time.Hour)
	}
}

// intRangeOK is intRange that says whether n was in range.
func (v *validator) intRangeOK(path, field string, n, lo, hi int) bool {
	v.intRange(path, field, n, lo, hi)
	return n >= lo && n <= hi
}

// Deployment strategies, as the stack names them.
var deploymentStrategies = []string{StrategyRolling, "blue_green", "canary", "linear"}

// HookStages are the lifecycle stages that take hooks, as ECS's.
var HookStages = []string{"PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
	"PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"}

// AlarmMetrics are the metrics an alarm may watch.
var AlarmMetrics = []string{"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "Target_5XX_Percent", "TargetResponseTime"}

// AlarmStatistics are TargetResponseTime's statistics.
var AlarmStatistics = []string{"p50", "p90", "p95", "p99", "p99.9"}

const maxBake = 1440 * time.Minute // ECS's limit on every bake time

// deploymentStrategy checks a service's deployment strategy: blue_green, canary and
// linear need a second target group and a production rule that forwards
// to the service's target groups.
func (v *validator) deploymentStrategy(path, name string, sv *Service) {
	d := sv.Deployment
	if !slices.Contains(deploymentStrategies, d.Strategy) {
		v.errorf(path+".strategy", "strategy %q: use %s", d.Strategy, strings.Join(deploymentStrategies, ", "))
		return
	}
	v.durationRange(path+".bake_time", "bake_time", d.BakeTime, 0, maxBake)
	if d.Strategy == StrategyRolling {
		if d.AlternateTargetGroup != "" || d.ProductionListenerRule != nil || d.TestListenerRule != nil || len(d.LifecycleHooks) > 0 || len(d.Alarms) > 0 {
			v.errorf(path+".strategy", "alternate_target_group, listener rules, lifecycle_hooks and alarms take strategy blue_green, canary or linear; a rolling deployment uses none of them")
		}
		return
	}
	if sv.SchedulingStrategy == StrategyDaemon {
		v.errorf(path+".strategy", "a daemon service deploys one instance at a time: it takes only strategy rolling")
		return
	}
	if sv.TargetGroup == "" {
		v.errorf(path+".strategy", "strategy %s moves traffic between target groups: give the service a target_group", d.Strategy)
		return
	}
	switch alt := d.AlternateTargetGroup; {
	case alt == "":
		v.errorf(path+".alternate_target_group", "alternate_target_group is required with strategy %s: a second target group for the green revision (define one under target_groups, with the same health check)", d.Strategy)
	case alt == sv.TargetGroup:
		v.errorf(path+".alternate_target_group", "alternate_target_group is the service's target_group %s: name a second one", alt)
	default:
		ref(v, path+".alternate_target_group", "alternate_target_group", "target group", "target_groups", alt, v.s.TargetGroups)
		for _, other := range sortedKeys(v.s.Services) {
			if o := v.s.Services[other]; o != nil && other != name && (o.TargetGroup == alt || o.Deployment.AlternateTargetGroup == alt) {
				v.errorf(path+".alternate_target_group", "target group %s is service %s's too: each service needs target groups of its own", alt, other)
			}
		}
	}
	switch d.Strategy {
	case "canary":
		if c := d.Canary; c.Percent < 0.1 || c.Percent > 100 || !tenths(c.Percent) {
			v.errorf(path+".canary.percent", "percent %g: use 0.1-100, in steps of 0.1", c.Percent)
		}
		v.durationRange(path+".canary.bake_time", "bake_time", d.Canary.BakeTime, 0, maxBake)
	case "linear":
		if l := d.Linear; l.StepPercent < 3 || l.StepPercent > 100 || !tenths(l.StepPercent) {
			v.errorf(path+".linear.step_percent", "step_percent %g: use 3-100, in steps of 0.1", l.StepPercent)
		}
		v.durationRange(path+".linear.step_bake_time", "step_bake_time", d.Linear.StepBakeTime, 0, maxBake)
	}
	if d.ProductionListenerRule == nil {
		v.errorf(path+".production_listener_rule", "production_listener_rule is required with strategy %s: the rule (load_balancer, listener, priority; priority 0 for the default action) whose forward moves traffic from blue to green", d.Strategy)
	} else {
		v.ruleRef(path+".production_listener_rule", d.ProductionListenerRule, sv.TargetGroup, d.AlternateTargetGroup)
	}
	if r := d.TestListenerRule; r != nil {
		v.ruleRef(path+".test_listener_rule", r, sv.TargetGroup, d.AlternateTargetGroup)
		if p := d.ProductionListenerRule; p != nil && *p == *r {
			v.errorf(path+".test_listener_rule", "test_listener_rule is the production rule: test traffic needs a rule of its own (on another listener, or another path)")
		}
	}
	v.hooks(path+".lifecycle_hooks", d.LifecycleHooks)
	v.alarms(path+".alarms", d.Alarms)
}

// tenths reports whether p is a multiple of 0.1, as ECS's percents.
func tenths(p float64) bool {
	return math.Abs(p*10-math.Round(p*10)) < 1e-6
}

// ruleRef checks that r names a rule (or default action) that forwards
// to the service's target group or its alternate, and to nothing else.
func (v *validator) ruleRef(path string, r *ListenerRuleRef, groups ...string) {
	lb, ok := v.s.LoadBalancers[r.LoadBalancer]
	if !ok || lb == nil {
		v.errorf(path+".load_balancer", "%s", noSuch("load balancer", "load_balancers", r.LoadBalancer, sortedKeys(v.s.LoadBalancers)))
		return
	}
	if r.Listener < 0 || r.Listener >= len(lb.Listeners) || lb.Listeners[r.Listener] == nil {
		v.errorf(path+".listener", "load balancer %s has listeners 0 to %d, not %d", r.LoadBalancer, len(lb.Listeners)-1, r.Listener)
		return
	}
	l := lb.Listeners[r.Listener]
	action := &l.DefaultAction
	if r.Priority != 0 {
		action = nil
		for _, rule := range l.Rules {
			if rule != nil && rule.Priority == r.Priority {
				action = &rule.Action
			}
		}
		if action == nil {
			v.errorf(path+".priority", "listener %d of %s has no rule with priority %d (priority 0 names its default action)", r.Listener, r.LoadBalancer, r.Priority)
			return
		}
	}
	f := action.Forward
	if f == nil {
		v.errorf(path, "that rule does not forward: its action must forward to target group %s", groups[0])
		return
	}
	names := []string{f.TargetGroup}
	if f.TargetGroup == "" {
		names = nil
		for _, g := range f.TargetGroups {
			names = append(names, g.Name)
		}
	}
	for _, n := range names {
		if !slices.Contains(groups, n) {
			v.errorf(path, "that rule forwards to target group %s: it must forward to the service's target groups only (%s)", n, strings.Join(groups, ", "))
			return
		}
	}
}

// hooks checks lifecycle hooks.
func (v *validator) hooks(path string, hooks []*LifecycleHook) {
	for i, h := range hooks {
		at := indexPath(path, i)
		if h == nil {
			v.errorf(at, "a lifecycle hook needs stages and a command or url")
			continue
		}
		if len(h.Stages) == 0 {
			v.errorf(at+".stages", "stages is required: one or more of %s", strings.Join(HookStages, ", "))
		}
		for j, st := range h.Stages {
			if !slices.Contains(HookStages, st) {
				v.errorf(indexPath(at+".stages", j), "stage %q takes no hook: use %s (SCALE_UP, BAKE_TIME and CLEAN_UP take none, as in ECS)", st, strings.Join(HookStages, ", "))
			}
		}
		switch {
		case len(h.Command) == 0 && h.URL == "":
			v.errorf(at, "a lifecycle hook needs a command or a url")
		case len(h.Command) > 0 && h.URL != "":
			v.errorf(at+".url", "give a command or a url, not both")
		case h.URL != "":
			if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.errorf(at+".url", "url %q: write an http:// or https:// URL", h.URL)
			}
		}
		v.durationRange(at+".timeout", "timeout", h.Timeout, time.Second, 15*time.Minute)
	}
}

// alarms checks deployment alarms.
func (v *validator) alarms(path string, alarms []*Alarm) {
	names := map[string]bool{}
	for i, a := range alarms {
		at := indexPath(path, i)
		if a == nil {
			v.errorf(at, "an alarm needs a name, a metric and a threshold")
			continue
		}
		switch {
		case a.Name == "":
			v.errorf(at+".name", "name is required: it is shown when the alarm goes off")
		case names[a.Name]:
			v.errorf(at+".name", "alarm %s is defined twice", a.Name)
		}
		names[a.Name] = true
		if !slices.Contains(AlarmMetrics, a.Metric) {
			v.errorf(at+".metric", "metric %q: use %s", a.Metric, strings.Join(AlarmMetrics, ", "))
		}
		if a.Metric == "TargetResponseTime" && !slices.Contains(AlarmStatistics, a.Statistic) {
			v.errorf(at+".statistic", "statistic %q: use %s", a.Statistic, strings.Join(AlarmStatistics, ", "))
		}
		if a.Threshold < 0 {
			v.errorf(at+".threshold", "threshold %g: use 0 or more", a.Threshold)
		}
		v.durationRange(at+".period", "period", a.Period, 10*time.Second, time.Hour)
	}
}
