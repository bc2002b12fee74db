package spec

import (
	"fmt"
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
