// Package autoscale is ECS service auto scaling with target tracking
// policies (AWS Application Auto Scaling), as pure functions. The caller
// samples each task's cumulative counters into a Window, and asks Decide
// what the service's desired count should be; it then carries the decision
// out and records it in the State. Nothing here does I/O, starts a goroutine
// or reads a clock: the time is an argument.
//
//	per-task counters ─▶ Window.Add ─▶ Window.Metrics ─┐
//	Config, desired count, State, deploying, now ──────┴─▶ Decide ─▶ Decision
//	Decision, now ─▶ State.Record ─▶ the next State (when the cooldowns began)
//
// What AWS does, and where it says so:
//
//   - A policy's metric is proportional to the load per task, so the count
//     that brings it back to the target is ceil(tasks × metric / target),
//     within [Min, Max]. "Tasks" is the running tasks the metric was
//     measured over, not the desired count: "the actual running task count
//     in a service is the value that Service Auto Scaling uses as its
//     starting point, as opposed to the desired count … This prevents
//     excessive (runaway) scaling" (ECS: service-auto-scaling).
//   - With several policies, it "will scale out the scalable target if any
//     of the target tracking policies are ready for scale out, but will
//     scale in only if all of the target tracking policies (with the
//     scale-in portion enabled) are ready to scale in", and then "scales
//     based on the policy that provides the largest capacity for both scale
//     in and scale out" (target tracking, Considerations). A policy with
//     DisableScaleIn thus neither votes for nor blocks a scale-in; shoal
//     still never scales in below its proposal, which it would scale
//     straight back out to.
//   - It scales in "only when utilization passes a threshold that is far
//     enough below the target value (usually more than 10% lower)" (target
//     tracking, high utilization): below 90% of the target.
//   - It "does not scale in when the state of the alarm is
//     INSUFFICIENT_DATA": a policy without its metric cannot scale out and
//     blocks scale-in.
//   - Cooldowns, per policy, 300 s by default for ECS services (filled in by
//     the stack file, not here; 0 here is none). Scale-in: "scale-in
//     activities are blocked until the cooldown period has expired.
//     However, if another alarm triggers a scale-out activity during the
//     scale-in cooldown period, Application Auto Scaling scales out the
//     target immediately." Scale-out: "The scaling policy won't increase the
//     desired capacity again unless either a larger scale out is triggered
//     or the cooldown period ends. While the scale-out cooldown period is in
//     effect, the capacity added by the initiating scale-out activity is
//     calculated as part of the desired capacity for the next scale-out
//     activity" (target tracking, Cooldown period).
//   - "Application Auto Scaling turns off scale-in processes while Amazon
//     ECS deployments are in progress. However, scale-out processes continue
//     to occur" (ECS: service-auto-scaling).
//
// Where shoal differs, and why: AWS waits for alarms of one-minute
// datapoints (several in a row) before it acts, which is what makes it
// scale in "more gradually"; shoal reads a Window averaged over its period
// each time it looks. So it holds scale-outs for the whole scale-out
// cooldown (a window still filling with a rising load, or tasks burning CPU
// as they boot, would otherwise step the count up again and again), and a
// scale-in waits for the scale-in cooldown after a scale-out as well as
// after a scale-in. A count outside [Min, Max] is moved to the nearest
// bound at once, deployment or not (AWS does it at the next scaling
// activity), and starts no cooldown.
//
// Sources:
//   - https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html
//     (source: github.com/awsdocs/application-auto-scaling-user-guide,
//     doc_source/application-auto-scaling-target-tracking.md)
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-auto-scaling.html
//     (source: github.com/awsdocs/amazon-ecs-developer-guide,
//     doc_source/service-auto-scaling.md)
//   - https://docs.aws.amazon.com/autoscaling/application/APIReference/API_TargetTrackingScalingPolicyConfiguration.html
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/target-tracking-create-policy.html
//     (ALBRequestCountPerTarget: "the average number of requests per minute
//     that task should ideally receive")
package autoscale

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Metric names: AWS's predefined metric types.
const (
	// ALBRequestCountPerTarget is the requests the load balancer sent to
	// each task, per minute.
	ALBRequestCountPerTarget = "ALBRequestCountPerTarget"
	// ECSServiceAverageCPUUtilization is the CPU time the tasks used, in
	// percent of the CPU their task definition reserves (it may pass 100).
	ECSServiceAverageCPUUtilization = "ECSServiceAverageCPUUtilization"
)

// scaleInThreshold is the fraction of its target a policy's metric must be
// below for the policy to be ready to scale in (AWS: "usually more than 10%
// lower").
const scaleInThreshold = 0.9

// Policy is one target tracking scaling policy.
type Policy struct {
	// Metric is ALBRequestCountPerTarget or ECSServiceAverageCPUUtilization.
	Metric string
	// Target is the value to keep the metric at, above 0: requests per
	// task per minute, or percent.
	Target float64
	// ScaleOutCooldown is how long after a scale-out this policy does not
	// scale out again. 0: no wait.
	ScaleOutCooldown time.Duration
	// ScaleInCooldown is how long after a scale-in, or a scale-out, this
	// policy does not agree to scale in. 0: no wait.
	ScaleInCooldown time.Duration
	// DisableScaleIn makes the policy only add tasks: it takes no part in
	// the vote to scale in.
	DisableScaleIn bool
}

// Config is a service's auto scaling: its bounds and its policies.
type Config struct {
	// Min and Max bound the desired count: 0 <= Min <= Max.
	Min, Max int
	// Policies track one metric each.
	Policies []Policy
}

// Validate reports every problem of c. Decide assumes a valid Config.
func (c Config) Validate() error {
	var errs []error
	if c.Min < 0 {
		errs = append(errs, fmt.Errorf("min %d is below 0", c.Min))
	}
	if c.Max < c.Min {
		errs = append(errs, fmt.Errorf("max %d is below min %d", c.Max, c.Min))
	}
	seen := map[string]int{}
	for i, p := range c.Policies {
		errs = append(errs, p.validate(i+1)...)
		if j, ok := seen[p.Metric]; ok {
			errs = append(errs, fmt.Errorf("policies %d and %d both track %s", j, i+1, p.Metric))
		}
		seen[p.Metric] = i + 1
	}
	return errors.Join(errs...)
}

// validate reports the problems of the n-th policy (from 1).
func (p Policy) validate(n int) []error {
	var errs []error
	switch p.Metric {
	case ALBRequestCountPerTarget, ECSServiceAverageCPUUtilization:
	default:
		errs = append(errs, fmt.Errorf("policy %d: unknown metric %q (want %s or %s)",
			n, p.Metric, ALBRequestCountPerTarget, ECSServiceAverageCPUUtilization))
	}
	if !(p.Target > 0) || math.IsInf(p.Target, 1) {
		errs = append(errs, fmt.Errorf("policy %d: target %v is not a number above 0", n, p.Target))
	}
	if p.ScaleOutCooldown < 0 {
		errs = append(errs, fmt.Errorf("policy %d: scale-out cooldown %v is negative", n, p.ScaleOutCooldown))
	}
	if p.ScaleInCooldown < 0 {
		errs = append(errs, fmt.Errorf("policy %d: scale-in cooldown %v is negative", n, p.ScaleInCooldown))
	}
	return errs
}
