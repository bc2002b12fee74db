package autoscale

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// State is what Decide needs to remember between decisions: when the
// service last scaled. Zero times mean never.
type State struct {
	LastScaleOut, LastScaleIn time.Time
}

// Record returns the state after d was carried out at now: a scale-out or a
// scale-in starts its cooldowns; moving into [Min, Max] starts none (AWS's
// cooldowns follow the policies' own activities only).
func (s State) Record(d Decision, now time.Time) State {
	switch d.Action {
	case ScaleOut:
		s.LastScaleOut = now
	case ScaleIn:
		s.LastScaleIn = now
	}
	return s
}

// Action is what a Decision does to the desired count.
type Action int

const (
	NoChange Action = iota
	ScaleOut        // more tasks, as a policy asks
	ScaleIn         // fewer tasks, as all policies agree
	// Bound moves a desired count outside [Min, Max] to the nearest bound.
	Bound
)

// String names the action.
func (a Action) String() string {
	switch a {
	case NoChange:
		return "no change"
	case ScaleOut:
		return "scale out"
	case ScaleIn:
		return "scale in"
	case Bound:
		return "bound"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Block is why the policies' proposal was not carried out.
type Block int

const (
	NotBlocked       Block = iota
	ScaleOutCooldown       // a scale-out within the scale-out cooldown
	ScaleInCooldown        // a scale-in within the scale-in cooldown
	Deploying              // a scale-in while the service deploys
	AtMax                  // a scale-out at the maximum
	AtMin                  // a scale-in at the minimum
)

// String names the block.
func (b Block) String() string {
	switch b {
	case NotBlocked:
		return "not blocked"
	case ScaleOutCooldown:
		return "scale-out cooldown"
	case ScaleInCooldown:
		return "scale-in cooldown"
	case Deploying:
		return "deploying"
	case AtMax:
		return "at maximum"
	case AtMin:
		return "at minimum"
	}
	return "Block(" + strconv.Itoa(int(b)) + ")"
}

// Vote is what one policy asks for.
type Vote int

const (
	// NoData: the policy has no value of its metric (AWS's alarm state
	// INSUFFICIENT_DATA). It cannot scale out and blocks scale-in.
	NoData Vote = iota
	// Hold: the metric is near the target (from 90% of it up to it), or
	// the proposal does not change the count, or a policy with
	// DisableScaleIn would scale in.
	Hold
	Out // the metric is above the target and the proposal above the count
	In  // the metric is below 90% of the target and the proposal below the count
)

// PolicyDecision is one policy's view.
type PolicyDecision struct {
	Policy Policy
	// Value is the policy's metric over Metrics.Over; 0 with NoData.
	Value float64
	// Proposal is ceil(Metrics.Tasks × Value / Target) within [Min, Max]:
	// the count that brings the metric back to the target. With NoData it
	// is the current count.
	Proposal int
	Vote     Vote
}

// Decision is what Decide decided, and why.
type Decision struct {
	Action Action
	// Desired is the new desired count; the current one with NoChange.
	Desired int
	// Block is set, with NoChange, when the policies asked for a change
	// that a cooldown, a deployment or a bound held back. A caller that
	// records Reason when Action or Block differs from the last decision's
	// records each such state once, not at every look.
	Block Block
	// Reason says, as a scaling activity would, what the metrics are and
	// what was done or held back: "ALBRequestCountPerTarget is 240.0 per
	// target per minute over the last 1m0s, above the target 100.0 with 2
	// tasks: setting desired count to 5 (max 10)." Empty when nothing was
	// asked for.
	Reason string
	// Policies are the policies' views, in the order of Config.Policies.
	Policies []PolicyDecision
}

// Decide returns the desired count of a service that has current as its
// desired count, given cfg (valid, see Config.Validate), the metrics m of
// its running tasks, when it last scaled, whether a deployment of it is in
// progress, and the time. The rules are AWS's, with the differences the
// package documentation lists:
//
//   - A current count outside [Min, Max] moves to the nearest bound, and
//     nothing else happens this time.
//   - Each policy proposes ceil(m.Tasks × metric / target) within
//     [Min, Max] and votes Out (metric above target, proposal above the
//     count), In (metric below 90% of target, proposal below the count,
//     scale-in enabled), Hold, or NoData.
//   - Scale out when any policy votes Out, to the largest proposal of
//     those out of their scale-out cooldown; deploying or not.
//   - Scale in when no policy votes Out, every policy with scale-in enabled
//     votes In (there is at least one), the service is not deploying and
//     each of them is past its scale-in cooldown since the last scale-in
//     and the last scale-out; to the largest proposal of all policies with
//     data.
func Decide(cfg Config, current int, m Metrics, st State, deploying bool, now time.Time) Decision {
	d := Decision{Desired: current}
	for _, p := range cfg.Policies {
		d.Policies = append(d.Policies, evaluate(p, cfg, current, m))
	}
	switch {
	case current < cfg.Min:
		d.Action, d.Desired = Bound, cfg.Min
		d.Reason = fmt.Sprintf("Desired count %d is below the minimum %d: setting desired count to %d.", current, cfg.Min, cfg.Min)
	case current > cfg.Max:
		d.Action, d.Desired = Bound, cfg.Max
		d.Reason = fmt.Sprintf("Desired count %d is above the maximum %d: setting desired count to %d.", current, cfg.Max, cfg.Max)
	case d.votes(Out):
		d.scaleOut(cfg, current, m, st, now)
	default:
		d.scaleIn(cfg, current, m, st, deploying, now)
	}
	return d
}

// evaluate is one policy's view of the metrics.
func evaluate(p Policy, cfg Config, current int, m Metrics) PolicyDecision {
	pd := PolicyDecision{Policy: p, Proposal: current}
	v, ok := m.value(p.Metric)
	if !ok {
		return pd // NoData
	}
	pd.Value = v
	// Rounded up, so as never to add too little or remove too much; the
	// small slack keeps 2 × 150 / 100 at 3 whatever the floating point.
	need := math.Ceil(m.Tasks*v/p.Target - 1e-9)
	pd.Proposal = cfg.Min
	if need > float64(cfg.Min) {
		pd.Proposal = int(math.Min(need, float64(cfg.Max)))
	}
	switch {
	case v > p.Target && need > float64(current):
		pd.Vote = Out
	case v < scaleInThreshold*p.Target && need < float64(current) && !p.DisableScaleIn:
		pd.Vote = In
	default:
		pd.Vote = Hold
	}
	return pd
}

func (d *Decision) votes(v Vote) bool {
	for _, pd := range d.Policies {
		if pd.Vote == v {
			return true
		}
	}
	return false
}

// scaleOut decides when some policy votes Out.
func (d *Decision) scaleOut(cfg Config, current int, m Metrics, st State, now time.Time) {
	var by, held *PolicyDecision // the largest proposal out of cooldown, and in it
	var wait time.Duration       // the wait of held
	for i := range d.Policies {
		pd := &d.Policies[i]
		if pd.Vote != Out {
			continue
		}
		if left := cooldownLeft(st.LastScaleOut, pd.Policy.ScaleOutCooldown, now); left > 0 {
			if held == nil || pd.Proposal > held.Proposal {
				held, wait = pd, left
			}
			continue
		}
		if by == nil || pd.Proposal > by.Proposal {
			by = pd
		}
	}
	switch {
	case current >= cfg.Max:
		pd := by
		if pd == nil {
			pd = held
		}
		d.Block = AtMax
		d.Reason = fmt.Sprintf("%s with %s, but the desired count is already at the maximum %d.",
			describe(*pd, m, "above"), tasks(m.Tasks), cfg.Max)
	case by == nil:
		d.Block = ScaleOutCooldown
		d.Reason = fmt.Sprintf("%s with %s: desired count would be %d (max %d), but the scale-out cooldown lasts another %v.",
			describe(*held, m, "above"), tasks(m.Tasks), held.Proposal, cfg.Max, wait)
	default:
		d.Action, d.Desired = ScaleOut, by.Proposal
		d.Reason = fmt.Sprintf("%s with %s: setting desired count to %d (max %d).",
			describe(*by, m, "above"), tasks(m.Tasks), by.Proposal, cfg.Max)
	}
}

// scaleIn decides when no policy votes Out.
func (d *Decision) scaleIn(cfg Config, current int, m Metrics, st State, deploying bool, now time.Time) {
	var voters []string // the In policies, described
	var wait time.Duration
	var after string // what the longest scale-in cooldown follows
	for _, pd := range d.Policies {
		if pd.Policy.DisableScaleIn {
			continue
		}
		if pd.Vote != In {
			return // not all agree: nothing asked for
		}
		voters = append(voters, describe(pd, m, "below"))
		last, what := st.LastScaleIn, "scale-in"
		if st.LastScaleOut.After(last) {
			last, what = st.LastScaleOut, "scale-out"
		}
		if left := cooldownLeft(last, pd.Policy.ScaleInCooldown, now); left > wait {
			wait, after = left, what
		}
	}
	if len(voters) == 0 {
		return
	}
	want := cfg.Min // never below any policy's proposal
	for _, pd := range d.Policies {
		if pd.Vote != NoData {
			want = max(want, pd.Proposal)
		}
	}
	why := strings.Join(voters, "; ") + " with " + tasks(m.Tasks)
	switch {
	case want >= current && current <= cfg.Min:
		d.Block = AtMin
		d.Reason = fmt.Sprintf("%s, but the desired count is already at the minimum %d.", why, cfg.Min)
	case want >= current:
		// A policy with scale-in disabled would scale straight back out:
		// it holds the count, as it would on its own.
	case deploying:
		d.Block = Deploying
		d.Reason = fmt.Sprintf("%s: desired count would be %d (min %d), but scale-in is suspended while the service is deploying.",
			why, want, cfg.Min)
	case wait > 0:
		d.Block = ScaleInCooldown
		d.Reason = fmt.Sprintf("%s: desired count would be %d (min %d), but the scale-in cooldown after the last %s lasts another %v.",
			why, want, cfg.Min, after, wait)
	default:
		d.Action, d.Desired = ScaleIn, want
		d.Reason = fmt.Sprintf("%s: setting desired count to %d (min %d).", why, want, cfg.Min)
	}
}

// cooldownLeft is how much of a cooldown begun at since is left at now,
// rounded up to the second; 0 when none is.
func cooldownLeft(since time.Time, cooldown time.Duration, now time.Time) time.Duration {
	if since.IsZero() {
		return 0
	}
	left := since.Add(cooldown).Sub(now)
	if left <= 0 {
		return 0
	}
	return (left + time.Second - 1).Truncate(time.Second)
}

// describe says a policy's metric against its target: "CPU is 80.0% over
// the last 1m0s, above the target 50.0%".
func describe(pd PolicyDecision, m Metrics, side string) string {
	unit, per := "%", ""
	if pd.Policy.Metric == ALBRequestCountPerTarget {
		unit, per = "", " per target per minute"
	}
	return fmt.Sprintf("%s is %.1f%s%s over the last %v, %s the target %.1f%s",
		pd.Policy.Metric, pd.Value, unit, per, roundOver(m.Over), side, pd.Policy.Target, unit)
}

// tasks says an average number of tasks: "1 task", "2.5 tasks".
func tasks(n float64) string {
	r := math.Round(n*10) / 10
	if r == 1 {
		return "1 task"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + " tasks"
}

// roundOver rounds the time metrics cover for a sentence: to the second
// from 10 s up, to the tenth of a second below.
func roundOver(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
