package autoscale

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// now is the time of every decision in the tables: an hour after t0.
var now = t0.Add(time.Hour)

// ago is a time d before now.
func ago(d time.Duration) time.Time { return now.Add(-d) }

func requestPolicy(target float64) Policy {
	return Policy{Metric: ALBRequestCountPerTarget, Target: target}
}

func cpuPolicy(target float64) Policy {
	return Policy{Metric: ECSServiceAverageCPUUtilization, Target: target}
}

// cooled is p with both cooldowns.
func cooled(p Policy, out, in time.Duration) Policy {
	p.ScaleOutCooldown, p.ScaleInCooldown = out, in
	return p
}

func noScaleIn(p Policy) Policy {
	p.DisableScaleIn = true
	return p
}

func config(min, max int, ps ...Policy) Config { return Config{Min: min, Max: max, Policies: ps} }

// reqs are metrics with requests only, over a minute.
func reqs(tasks, perTarget float64) Metrics {
	return Metrics{Over: time.Minute, Tasks: tasks, RequestCountPerTarget: perTarget, HaveRequests: true}
}

// both are metrics with requests and CPU, over a minute.
func both(tasks, perTarget, cpu float64) Metrics {
	m := reqs(tasks, perTarget)
	m.CPUUtilization, m.HaveCPU = cpu, true
	return m
}

// outcome is what the tables check of a Decision.
type outcome struct {
	Action  Action
	Desired int
	Block   Block
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		current   int
		m         Metrics
		st        State
		deploying bool
		want      outcome
		reason    string // checked when set
	}{
		// One policy, proportional.
		{
			name: "requests above target scale out proportionally",
			cfg:  config(1, 10, requestPolicy(100)), current: 2, m: reqs(2, 240),
			want:   outcome{ScaleOut, 5, NotBlocked},
			reason: "ALBRequestCountPerTarget is 240.0 per target per minute over the last 1m0s, above the target 100.0 with 2 tasks: setting desired count to 5 (max 10).",
		},
		{
			name: "CPU above target scales out proportionally",
			cfg:  config(1, 10, cpuPolicy(50)), current: 3, m: both(3, 0, 80),
			want:   outcome{ScaleOut, 5, NotBlocked},
			reason: "ECSServiceAverageCPUUtilization is 80.0% over the last 1m0s, above the target 50.0% with 3 tasks: setting desired count to 5 (max 10).",
		},
		{
			name: "an exact multiple is not rounded up",
			cfg:  config(1, 10, requestPolicy(100)), current: 2, m: reqs(2, 150),
			want: outcome{ScaleOut, 3, NotBlocked},
		},
		{
			name: "scale-out stops at the maximum",
			cfg:  config(1, 10, requestPolicy(100)), current: 2, m: reqs(2, 5000),
			want: outcome{ScaleOut, 10, NotBlocked},
		},
		{
			name: "already at the maximum",
			cfg:  config(1, 10, requestPolicy(100)), current: 10, m: reqs(10, 500),
			want:   outcome{NoChange, 10, AtMax},
			reason: "ALBRequestCountPerTarget is 500.0 per target per minute over the last 1m0s, above the target 100.0 with 10 tasks, but the desired count is already at the maximum 10.",
		},
		{
			name: "the running tasks are the starting point, not the desired count",
			// 5 desired, 2 running at 150: 3 tasks carry the load.
			cfg: config(1, 10, requestPolicy(100)), current: 5, m: reqs(2, 150),
			want: outcome{NoChange, 5, NotBlocked},
		},
		{
			name: "at the target nothing changes",
			cfg:  config(1, 10, requestPolicy(100)), current: 4, m: reqs(4, 100),
			want: outcome{NoChange, 4, NotBlocked},
		},
		{
			name: "less than 10% below the target nothing changes",
			cfg:  config(1, 10, requestPolicy(100)), current: 10, m: reqs(10, 91),
			want: outcome{NoChange, 10, NotBlocked},
		},
		{
			name: "far below the target scales in proportionally",
			cfg:  config(1, 10, requestPolicy(100)), current: 4, m: reqs(4, 60),
			want:   outcome{ScaleIn, 3, NotBlocked},
			reason: "ALBRequestCountPerTarget is 60.0 per target per minute over the last 1m0s, below the target 100.0 with 4 tasks: setting desired count to 3 (min 1).",
		},
		{
			name: "no traffic scales in to the minimum",
			cfg:  config(2, 10, requestPolicy(100)), current: 7, m: reqs(7, 0),
			want: outcome{ScaleIn, 2, NotBlocked},
		},
		{
			name: "no traffic scales in to zero with min 0",
			cfg:  config(0, 10, requestPolicy(100)), current: 3, m: reqs(3, 0),
			want: outcome{ScaleIn, 0, NotBlocked},
		},
		{
			name: "already at the minimum",
			cfg:  config(2, 10, requestPolicy(100)), current: 2, m: reqs(2, 10),
			want:   outcome{NoChange, 2, AtMin},
			reason: "ALBRequestCountPerTarget is 10.0 per target per minute over the last 1m0s, below the target 100.0 with 2 tasks, but the desired count is already at the minimum 2.",
		},
		{
			name: "far below the target, but the load needs the count: nothing changes",
			// 10 running (a scale-in under way) at 89: 9 tasks carry it.
			cfg: config(1, 10, requestPolicy(100)), current: 9, m: reqs(10, 89),
			want: outcome{NoChange, 9, NotBlocked},
		},
		{
			name: "a fractional number of tasks",
			cfg:  config(1, 10, requestPolicy(100)), current: 3, m: reqs(2.5, 200),
			want:   outcome{ScaleOut, 5, NotBlocked},
			reason: "ALBRequestCountPerTarget is 200.0 per target per minute over the last 1m0s, above the target 100.0 with 2.5 tasks: setting desired count to 5 (max 10).",
		},
		{
			name: "one task",
			cfg:  config(1, 10, cpuPolicy(50)), current: 1, m: both(1, 0, 120),
			want:   outcome{ScaleOut, 3, NotBlocked},
			reason: "ECSServiceAverageCPUUtilization is 120.0% over the last 1m0s, above the target 50.0% with 1 task: setting desired count to 3 (max 10).",
		},

		// Several policies.
		{
			name: "any policy above its target scales out, over one below",
			cfg:  config(1, 20, requestPolicy(100), cpuPolicy(50)), current: 4, m: both(4, 20, 75),
			want: outcome{ScaleOut, 6, NotBlocked},
		},
		{
			name: "the largest scale-out wins",
			cfg:  config(1, 20, requestPolicy(100), cpuPolicy(50)), current: 4, m: both(4, 300, 75),
			want: outcome{ScaleOut, 12, NotBlocked},
		},
		{
			name: "scale in only when all agree, to the largest proposal",
			cfg:  config(1, 20, requestPolicy(100), cpuPolicy(50)), current: 10, m: both(10, 20, 10),
			want:   outcome{ScaleIn, 2, NotBlocked},
			reason: "ALBRequestCountPerTarget is 20.0 per target per minute over the last 1m0s, below the target 100.0; ECSServiceAverageCPUUtilization is 10.0% over the last 1m0s, below the target 50.0% with 10 tasks: setting desired count to 2 (min 1).",
		},
		{
			name: "one policy near its target holds the scale-in",
			cfg:  config(1, 20, requestPolicy(100), cpuPolicy(50)), current: 10, m: both(10, 20, 48),
			want: outcome{NoChange, 10, NotBlocked},
		},

		// Missing metrics.
		{
			name: "no metrics, nothing happens",
			cfg:  config(1, 10, requestPolicy(100)), current: 4, m: Metrics{},
			want: outcome{NoChange, 4, NotBlocked},
		},
		{
			name: "no running task is no metric",
			cfg:  config(0, 10, requestPolicy(100)), current: 2, m: reqs(0, 0),
			want: outcome{NoChange, 2, NotBlocked},
		},
		{
			name: "a policy without data blocks scale-in",
			cfg:  config(1, 20, requestPolicy(100), cpuPolicy(50)), current: 10, m: reqs(10, 10),
			want: outcome{NoChange, 10, NotBlocked},
		},
		{
			name: "a policy without data does not stop another scaling out",
			cfg:  config(1, 20, requestPolicy(100), cpuPolicy(50)), current: 2, m: reqs(2, 300),
			want: outcome{ScaleOut, 6, NotBlocked},
		},

		// DisableScaleIn.
		{
			name: "a policy with scale-in disabled does not scale in",
			cfg:  config(1, 10, noScaleIn(requestPolicy(100))), current: 8, m: reqs(8, 0),
			want: outcome{NoChange, 8, NotBlocked},
		},
		{
			name: "a policy with scale-in disabled still scales out",
			cfg:  config(1, 10, noScaleIn(requestPolicy(100))), current: 2, m: reqs(2, 200),
			want: outcome{ScaleOut, 4, NotBlocked},
		},
		{
			name: "a policy with scale-in disabled leaves the vote to the others",
			cfg:  config(1, 20, noScaleIn(requestPolicy(100)), cpuPolicy(50)), current: 10, m: both(10, 85, 10),
			want: outcome{ScaleIn, 9, NotBlocked}, // CPU alone would go to 2: not below what requests needs
		},
		{
			name: "a policy with scale-in disabled and no data does not block scale-in",
			cfg:  config(1, 20, noScaleIn(cpuPolicy(50)), requestPolicy(100)), current: 10, m: reqs(10, 20),
			want: outcome{ScaleIn, 2, NotBlocked},
		},
		{
			name: "a policy with scale-in disabled holds the count when it would scale straight back out",
			cfg:  config(1, 20, noScaleIn(requestPolicy(100)), cpuPolicy(50)), current: 10, m: both(10, 99.99, 10),
			want: outcome{NoChange, 10, NotBlocked},
		},

		// Cooldowns.
		{
			name: "a scale-out waits for the scale-out cooldown",
			cfg:  config(1, 10, cooled(requestPolicy(100), 5*time.Minute, 0)), current: 5, m: reqs(5, 200),
			st:     State{LastScaleOut: ago(time.Minute)},
			want:   outcome{NoChange, 5, ScaleOutCooldown},
			reason: "ALBRequestCountPerTarget is 200.0 per target per minute over the last 1m0s, above the target 100.0 with 5 tasks: desired count would be 10 (max 10), but the scale-out cooldown lasts another 4m0s.",
		},
		{
			name: "a scale-out after the scale-out cooldown",
			cfg:  config(1, 10, cooled(requestPolicy(100), 5*time.Minute, 0)), current: 5, m: reqs(5, 200),
			st:   State{LastScaleOut: ago(5 * time.Minute)},
			want: outcome{ScaleOut, 10, NotBlocked},
		},
		{
			name: "the remaining cooldown is rounded up to the second",
			cfg:  config(1, 10, cooled(requestPolicy(100), 5*time.Minute, 0)), current: 5, m: reqs(5, 200),
			st:     State{LastScaleOut: ago(time.Minute + 1)},
			want:   outcome{NoChange, 5, ScaleOutCooldown},
			reason: "ALBRequestCountPerTarget is 200.0 per target per minute over the last 1m0s, above the target 100.0 with 5 tasks: desired count would be 10 (max 10), but the scale-out cooldown lasts another 4m0s.",
		},
		{
			name: "a scale-out interrupts the scale-in cooldown",
			cfg:  config(1, 10, cooled(requestPolicy(100), 5*time.Minute, 5*time.Minute)), current: 2, m: reqs(2, 200),
			st:   State{LastScaleIn: ago(10 * time.Second)},
			want: outcome{ScaleOut, 4, NotBlocked},
		},
		{
			name:    "each policy has its own scale-out cooldown",
			cfg:     config(1, 20, cooled(requestPolicy(100), 10*time.Minute, 0), cooled(cpuPolicy(50), time.Minute, 0)),
			current: 4, m: both(4, 400, 75),
			st:   State{LastScaleOut: ago(2 * time.Minute)},
			want: outcome{ScaleOut, 6, NotBlocked}, // CPU's 6; requests' 16 is held
		},
		{
			name: "a scale-in waits for the scale-in cooldown",
			cfg:  config(1, 10, cooled(requestPolicy(100), 0, 5*time.Minute)), current: 4, m: reqs(4, 20),
			st:     State{LastScaleIn: ago(2 * time.Minute)},
			want:   outcome{NoChange, 4, ScaleInCooldown},
			reason: "ALBRequestCountPerTarget is 20.0 per target per minute over the last 1m0s, below the target 100.0 with 4 tasks: desired count would be 1 (min 1), but the scale-in cooldown after the last scale-in lasts another 3m0s.",
		},
		{
			name: "a scale-in waits for the scale-in cooldown after a scale-out too",
			cfg:  config(1, 10, cooled(requestPolicy(100), 0, 5*time.Minute)), current: 4, m: reqs(4, 20),
			st:     State{LastScaleIn: ago(time.Hour), LastScaleOut: ago(4 * time.Minute)},
			want:   outcome{NoChange, 4, ScaleInCooldown},
			reason: "ALBRequestCountPerTarget is 20.0 per target per minute over the last 1m0s, below the target 100.0 with 4 tasks: desired count would be 1 (min 1), but the scale-in cooldown after the last scale-out lasts another 1m0s.",
		},
		{
			name: "a scale-in after the scale-in cooldown",
			cfg:  config(1, 10, cooled(requestPolicy(100), 0, 5*time.Minute)), current: 4, m: reqs(4, 20),
			st:   State{LastScaleIn: ago(6 * time.Minute), LastScaleOut: ago(5 * time.Minute)},
			want: outcome{ScaleIn, 1, NotBlocked},
		},
		{
			name:    "every policy voting in must be past its scale-in cooldown",
			cfg:     config(1, 20, cooled(requestPolicy(100), 0, time.Minute), cooled(cpuPolicy(50), 0, 10*time.Minute)),
			current: 10, m: both(10, 20, 10),
			st:   State{LastScaleIn: ago(5 * time.Minute)},
			want: outcome{NoChange, 10, ScaleInCooldown},
		},

		// Deployments.
		{
			name: "no scale-in while deploying",
			cfg:  config(1, 10, requestPolicy(100)), current: 4, m: reqs(4, 20), deploying: true,
			want:   outcome{NoChange, 4, Deploying},
			reason: "ALBRequestCountPerTarget is 20.0 per target per minute over the last 1m0s, below the target 100.0 with 4 tasks: desired count would be 1 (min 1), but scale-in is suspended while the service is deploying.",
		},
		{
			name: "scale-out while deploying",
			cfg:  config(1, 10, requestPolicy(100)), current: 2, m: reqs(2, 300), deploying: true,
			want: outcome{ScaleOut, 6, NotBlocked},
		},

		// Bounds.
		{
			name: "below the minimum moves to it",
			cfg:  config(2, 10, requestPolicy(100)), current: 0, m: reqs(0, 0),
			want:   outcome{Bound, 2, NotBlocked},
			reason: "Desired count 0 is below the minimum 2: setting desired count to 2.",
		},
		{
			name: "above the maximum moves to it, even while deploying",
			cfg:  config(1, 4, requestPolicy(100)), current: 6, m: reqs(6, 500), deploying: true,
			want:   outcome{Bound, 4, NotBlocked},
			reason: "Desired count 6 is above the maximum 4: setting desired count to 4.",
		},
		{
			name: "no policies, in bounds: nothing",
			cfg:  config(1, 4), current: 3, m: reqs(3, 500),
			want: outcome{NoChange, 3, NotBlocked},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatalf("invalid config in the test: %v", err)
			}
			d := Decide(tt.cfg, tt.current, tt.m, tt.st, tt.deploying, now)
			if diff := cmp.Diff(tt.want, outcome{d.Action, d.Desired, d.Block}); diff != "" {
				t.Errorf("decision (-want +got):\n%s\nreason: %s", diff, d.Reason)
			}
			if tt.reason != "" && d.Reason != tt.reason {
				t.Errorf("reason:\ngot  %s\nwant %s", d.Reason, tt.reason)
			}
			if (d.Reason == "") != (d.Action == NoChange && d.Block == NotBlocked) {
				t.Errorf("reason %q with action %v and block %v: want one exactly when something was asked for", d.Reason, d.Action, d.Block)
			}
		})
	}
}

func TestDecide_PolicyDecisions(t *testing.T) {
	cfg := config(1, 20, requestPolicy(100), cpuPolicy(50), noScaleIn(cpuPolicy(50)))
	cfg.Policies[2].Metric = "Unknown" // not valid, but Decide must not mind: no data
	d := Decide(cfg, 4, reqs(4, 300), State{}, false, now)
	want := []PolicyDecision{
		{Policy: cfg.Policies[0], Value: 300, Proposal: 12, Vote: Out},
		{Policy: cfg.Policies[1], Proposal: 4, Vote: NoData},
		{Policy: cfg.Policies[2], Proposal: 4, Vote: NoData},
	}
	if diff := cmp.Diff(want, d.Policies); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
}

func TestState_Record(t *testing.T) {
	st := State{LastScaleOut: t0, LastScaleIn: t0}
	tests := []struct {
		action Action
		want   State
	}{
		{NoChange, st},
		{Bound, st},
		{ScaleOut, State{LastScaleOut: now, LastScaleIn: t0}},
		{ScaleIn, State{LastScaleOut: t0, LastScaleIn: now}},
	}
	for _, tt := range tests {
		if got := st.Record(Decision{Action: tt.action}, now); got != tt.want {
			t.Errorf("Record(%v): got %+v, want %+v", tt.action, got, tt.want)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // the lines of the error; none for valid
	}{
		{"valid", config(0, 3, requestPolicy(100), cooled(cpuPolicy(50), time.Minute, 0)), nil},
		{"no policies", config(2, 2), nil},
		{"bounds", config(-1, -2), []string{"min -1 is below 0", "max -2 is below min -1"}},
		{"policies", config(1, 2, Policy{Metric: "CPU", Target: 0}, cooled(cpuPolicy(math.NaN()), -1, -1), cpuPolicy(math.Inf(1))), []string{
			`policy 1: unknown metric "CPU" (want ALBRequestCountPerTarget or ECSServiceAverageCPUUtilization)`,
			"policy 1: target 0 is not a number above 0",
			"policy 2: target NaN is not a number above 0",
			"policy 2: scale-out cooldown -1ns is negative",
			"policy 2: scale-in cooldown -1ns is negative",
			"policy 3: target +Inf is not a number above 0",
			"policies 2 and 3 both track ECSServiceAverageCPUUtilization",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if err := tt.cfg.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{NoChange.String(), "no change"}, {Bound.String(), "bound"}, {Action(9).String(), "Action(9)"},
		{ScaleOutCooldown.String(), "scale-out cooldown"}, {AtMin.String(), "at minimum"}, {Block(9).String(), "Block(9)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestDecide_Invariants runs Decide on random configs, counts, metrics,
// states and deployments, and checks what must always hold, computing each
// policy's wish on its own rather than trusting Decision.Policies.
func TestDecide_Invariants(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 10000 {
		c := randomCase(r)
		d := Decide(c.cfg, c.current, c.m, c.st, c.deploying, now)
		if problems := c.check(d); len(problems) > 0 {
			t.Fatalf("case %d: %+v\ndecision %v to %d (block %v): %s\n%s", i, c, d.Action, d.Desired, d.Block, d.Reason, strings.Join(problems, "\n"))
		}
	}
}

type randomDecision struct {
	cfg       Config
	current   int
	m         Metrics
	st        State
	deploying bool
}

func randomCase(r *rand.Rand) randomDecision {
	cooldowns := []time.Duration{0, time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute}
	when := func() time.Time { // a past scaling activity, or none
		if r.IntN(3) == 0 {
			return time.Time{}
		}
		return ago(time.Duration(r.IntN(900)) * time.Second)
	}
	min := r.IntN(4)
	c := randomDecision{
		cfg:       Config{Min: min, Max: min + r.IntN(12)},
		st:        State{LastScaleOut: when(), LastScaleIn: when()},
		deploying: r.IntN(4) == 0,
	}
	c.current = c.cfg.Min + r.IntN(c.cfg.Max-c.cfg.Min+1)
	if r.IntN(8) == 0 { // outside the bounds now and then
		c.current = r.IntN(c.cfg.Max + 6)
	}
	c.m = Metrics{
		Over:         time.Minute,
		Tasks:        float64(c.current),
		HaveRequests: r.IntN(6) > 0,
		HaveCPU:      r.IntN(6) > 0,
	}
	if r.IntN(3) == 0 { // running tasks other than the desired count
		c.m.Tasks = float64(r.IntN(40)) / 2
	}
	// Values around the targets: far below, just below, at, above.
	ratios := []float64{0, 0.3, 0.7, 0.89, 0.9, 0.95, 1, 1.01, 1.5, 3, 10}
	metrics := []string{ALBRequestCountPerTarget, ECSServiceAverageCPUUtilization}
	r.Shuffle(len(metrics), func(i, j int) { metrics[i], metrics[j] = metrics[j], metrics[i] })
	for _, metric := range metrics[:r.IntN(3)] {
		p := Policy{
			Metric:           metric,
			Target:           float64(1 + r.IntN(200)),
			ScaleOutCooldown: cooldowns[r.IntN(len(cooldowns))],
			ScaleInCooldown:  cooldowns[r.IntN(len(cooldowns))],
			DisableScaleIn:   r.IntN(4) == 0,
		}
		c.cfg.Policies = append(c.cfg.Policies, p)
		v := p.Target * ratios[r.IntN(len(ratios))]
		if metric == ALBRequestCountPerTarget {
			c.m.RequestCountPerTarget = v
		} else {
			c.m.CPUUtilization = v
		}
	}
	return c
}

// wish is what a policy wants, computed independently of Decide.
type wish struct {
	have      bool
	out, in   bool // ready to scale out, in
	proposal  int  // within [Min, Max]
	cooledOut bool // past its scale-out cooldown
	cooledIn  bool // past its scale-in cooldown since the last scaling
}

func (c randomDecision) wishes() []wish {
	var out []wish
	for _, p := range c.cfg.Policies {
		v, have := c.m.RequestCountPerTarget, c.m.HaveRequests
		if p.Metric == ECSServiceAverageCPUUtilization {
			v, have = c.m.CPUUtilization, c.m.HaveCPU
		}
		w := wish{have: have && c.m.Tasks > 0}
		n := math.Ceil(c.m.Tasks*v/p.Target - 1e-9)
		w.proposal = int(math.Max(float64(c.cfg.Min), math.Min(n, float64(c.cfg.Max))))
		w.out = w.have && v > p.Target && n > float64(c.current)
		w.in = w.have && v < 0.9*p.Target && n < float64(c.current)
		w.cooledOut = c.st.LastScaleOut.IsZero() || !now.Before(c.st.LastScaleOut.Add(p.ScaleOutCooldown))
		w.cooledIn = (c.st.LastScaleIn.IsZero() || !now.Before(c.st.LastScaleIn.Add(p.ScaleInCooldown))) &&
			(c.st.LastScaleOut.IsZero() || !now.Before(c.st.LastScaleOut.Add(p.ScaleInCooldown)))
		out = append(out, w)
	}
	return out
}

func (c randomDecision) check(d Decision) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	lo, hi := c.cfg.Min, c.cfg.Max
	inBounds := c.current >= lo && c.current <= hi
	if d.Desired < lo || d.Desired > hi {
		fail("desired %d outside [%d, %d]", d.Desired, lo, hi)
	}
	switch d.Action {
	case NoChange:
		if d.Desired != c.current {
			fail("no change, but desired %d is not current %d", d.Desired, c.current)
		}
	case Bound:
		if inBounds {
			fail("bound with current %d already within bounds", c.current)
		}
	case ScaleOut:
		if d.Desired <= c.current {
			fail("scale out to %d from %d", d.Desired, c.current)
		}
	case ScaleIn:
		if d.Desired >= c.current {
			fail("scale in to %d from %d", d.Desired, c.current)
		}
	}
	if d.Block != NotBlocked && d.Action != NoChange {
		fail("block %v with action %v", d.Block, d.Action)
	}
	if (d.Reason == "") != (d.Action == NoChange && d.Block == NotBlocked) {
		fail("reason %q with action %v and block %v", d.Reason, d.Action, d.Block)
	}
	if !inBounds {
		return problems
	}
	ws := c.wishes()
	anyOut := false
	for _, w := range ws {
		anyOut = anyOut || w.out
	}
	if c.deploying && d.Desired < c.current {
		fail("scaled in while deploying")
	}
	if anyOut && d.Desired < c.current {
		fail("scaled in while a policy wants out")
	}
	if d.Desired > c.current {
		// Some policy out of its cooldown asked for exactly this.
		ok := false
		for _, w := range ws {
			ok = ok || (w.out && w.cooledOut && w.proposal == d.Desired)
		}
		if !ok {
			fail("scaled out to %d with no policy out of its scale-out cooldown asking for it", d.Desired)
		}
	}
	// And what must happen: a policy past its cooldown gets its scale-out,
	// and policies that all agree get their scale-in.
	bestOut, ready, voters, want := -1, true, 0, lo
	for i, w := range ws {
		if w.out && w.cooledOut {
			bestOut = max(bestOut, w.proposal)
		}
		if w.have {
			want = max(want, w.proposal)
		}
		if !c.cfg.Policies[i].DisableScaleIn {
			voters++
			ready = ready && w.in && w.cooledIn
		}
	}
	if bestOut > c.current && d.Desired != bestOut {
		fail("desired %d, want the scale-out to %d of a policy past its cooldown", d.Desired, bestOut)
	}
	if !anyOut && voters > 0 && ready && !c.deploying && want < c.current && d.Desired != want {
		fail("desired %d, want the scale-in to %d all policies agree on", d.Desired, want)
	}
	if d.Desired < c.current {
		voters := 0
		for i, w := range ws {
			if c.cfg.Policies[i].DisableScaleIn {
				if w.have && w.proposal > d.Desired {
					fail("scaled in to %d below the %d of a policy with scale-in disabled", d.Desired, w.proposal)
				}
				continue
			}
			voters++
			if !w.in {
				fail("scaled in though policy %d is not ready to", i+1)
			}
			if !w.cooledIn {
				fail("scaled in within policy %d's scale-in cooldown", i+1)
			}
			if w.proposal > d.Desired {
				fail("scaled in to %d below policy %d's %d", d.Desired, i+1, w.proposal)
			}
		}
		if voters == 0 {
			fail("scaled in with no policy voting in")
		}
	}
	return problems
}
