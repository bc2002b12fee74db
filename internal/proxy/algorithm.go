package proxy

import (
	"math"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// algorithm is how a target group picks the target of a request that no
// stickiness cookie sends to a target: ALB's load_balancing.algorithm.type.
// Every algorithm picks among the candidates (targetSet.candidates): the
// healthy targets, or every target not draining when none is healthy.
type algorithm uint8

const (
	// algoRoundRobin sends the requests to the candidates in turn. While
	// targets are in slow start it is a weighted round robin (rampedPick).
	algoRoundRobin algorithm = iota
	// algoLeastOutstanding sends a request to the candidate with the fewest
	// requests in flight. Ties go round robin: the scan for the least busy
	// starts one candidate further at each request, and the first of the
	// least busy wins.
	algoLeastOutstanding
	// algoWeightedRandom draws a candidate at random, each with a chance in
	// proportion to its weight. ALB's weights come from anomaly mitigation
	// (load_balancing.algorithm.anomaly_mitigation), which lowers the
	// weight of targets that answer worse than the others; shoal does not
	// implement anomaly mitigation, so every target weighs the same, as in
	// ALB with anomaly mitigation off.
	algoWeightedRandom
)

// parseAlgorithm reads a TargetGroupConfig.Algorithm; "" and unknown
// values are round robin, ALB's default (Config.validate is where an
// unknown value would be refused).
func parseAlgorithm(s string) algorithm {
	switch s {
	case LeastOutstandingRequests:
		return algoLeastOutstanding
	case WeightedRandom:
		return algoWeightedRandom
	}
	return algoRoundRobin
}

// String returns ALB's name of the algorithm.
func (a algorithm) String() string {
	switch a {
	case algoLeastOutstanding:
		return LeastOutstandingRequests
	case algoWeightedRandom:
		return WeightedRandom
	}
	return RoundRobin
}

// pool is one list of candidates with what the algorithms need to know of
// them. Immutable once published, but for the ramping latch.
type pool struct {
	targets []*target
	// weights are the targets' weights, for weighted random, and wsum
	// their sum; weights is nil when every target weighs 1.
	weights []uint32
	wsum    uint64
	// rampFrom[i] is when targets[i] entered slow start, zero if it did
	// not; nil when no target did.
	rampFrom []time.Time
	// ramping is set when rampFrom is not nil, and cleared by the first
	// pick that finds every slow start over: round robin then takes its
	// plain path again without reading the clock.
	ramping atomic.Bool
}

func newPool(ts []*target) *pool {
	p := &pool{targets: ts}
	for i, t := range ts {
		if !t.rampFrom.IsZero() {
			if p.rampFrom == nil {
				p.rampFrom = make([]time.Time, len(ts))
			}
			p.rampFrom[i] = t.rampFrom
		}
		if w := t.weight; w > 1 && p.weights == nil {
			p.weights = make([]uint32, len(ts))
		}
	}
	p.ramping.Store(p.rampFrom != nil)
	for i, t := range ts {
		w := max(t.weight, 1)
		p.wsum += uint64(w)
		if p.weights != nil {
			p.weights[i] = w
		}
	}
	return p
}

// weight is the weight of target i for weighted random.
func (p *pool) weight(i int) uint32 {
	if p.weights == nil {
		return 1
	}
	return p.weights[i]
}

// choose returns the index in p, which is not empty, of the target the
// group's algorithm picks for the next request.
func (g *targetGroup) choose(p *pool, s *groupSettings) int {
	switch s.algorithm {
	case algoLeastOutstanding:
		return p.leastOutstanding(g.next.Add(1) - 1)
	case algoWeightedRandom:
		return p.weightedRandom()
	}
	seq := g.next.Add(1) - 1
	if s.slowStart > 0 && p.ramping.Load() {
		if i, ok := p.rampedPick(seq, g.d.clock.Now(), s.slowStart); ok {
			return i
		}
		p.ramping.Store(false)
	}
	return int(seq % uint64(len(p.targets)))
}

// leastOutstanding returns the index of the target with the fewest
// requests in flight, looking from index start on (modulo the length).
// Picks running at the same time may both choose the same target: the
// counts are read, not reserved.
func (p *pool) leastOutstanding(start uint64) int {
	n := len(p.targets)
	first := int(start % uint64(n))
	best, least := first, int64(math.MaxInt64)
	for k := range n {
		i := first + k
		if i >= n {
			i -= n
		}
		if f := p.targets[i].inflight.Load(); f < least {
			best, least = i, f
		}
	}
	return best
}

// weightedRandom draws the index of a target, each with a chance of its
// weight over the sum of the weights.
func (p *pool) weightedRandom() int {
	if p.weights == nil {
		return rand.IntN(len(p.targets))
	}
	x := rand.Uint64N(p.wsum)
	for i, w := range p.weights {
		if x < uint64(w) {
			return i
		}
		x -= uint64(w)
	}
	return len(p.weights) - 1
}

// PickExplanation says which target of a target group a request would go
// to now, and why: what `shoal explain` shows.
type PickExplanation struct {
	TargetGroup string `json:"target_group"`
	// Algorithm is ALB's name of the group's algorithm.
	Algorithm string `json:"algorithm"`
	// Target is where the request would go now; "" when the group has no
	// target to send it to (503), or when weighted random would draw it at
	// random: the candidates' shares are then the odds.
	Target string `json:"target,omitempty"`
	Reason string `json:"reason"`
	// FailOpen is set when no target is healthy, so that every target
	// that is not draining is a candidate.
	FailOpen bool `json:"fail_open,omitempty"`
	// SlowStartSeconds is the group's slow start duration; 0 when off.
	SlowStartSeconds float64 `json:"slow_start_seconds,omitempty"`
	// Stickiness is what the request's stickiness cookie does; nil when
	// the group has no stickiness.
	Stickiness *StickinessExplanation `json:"stickiness,omitempty"`
	// Candidates are the targets the request may go to, by address.
	Candidates []CandidateExplanation `json:"candidates"`
}

// StickinessExplanation is what a request's stickiness cookie does.
type StickinessExplanation struct {
	// Type is lb_cookie or app_cookie.
	Type string `json:"type"`
	// Cookie is the cookie read; "" when the request has none.
	Cookie string `json:"cookie,omitempty"`
	// Target is the target the cookie names, when it opens.
	Target string `json:"target,omitempty"`
	// Honoured is set when the request goes to Target.
	Honoured bool   `json:"honoured"`
	Reason   string `json:"reason"`
}

// CandidateExplanation is one candidate of a pick.
type CandidateExplanation struct {
	Target   string `json:"target"`
	State    State  `json:"state"`
	InFlight int64  `json:"in_flight"`
	// Weight is the target's weight for weighted random.
	Weight uint32 `json:"weight"`
	// Share is the fraction of the requests without stickiness the target
	// gets now, with round robin (slow start included) and weighted
	// random; 0 with least outstanding requests, which follows InFlight.
	Share float64 `json:"share,omitempty"`
	// SlowStartUntil is when the target's slow start ends, and
	// SlowStartRamp the fraction of its full share it gets now; both unset
	// when the target is not in slow start.
	SlowStartUntil *time.Time `json:"slow_start_until,omitempty"`
	SlowStartRamp  float64    `json:"slow_start_ramp,omitempty"`
}

// explainPick says which target a request like r would go to now, and
// why, without sending it or counting it anywhere.
func (g *targetGroup) explainPick(r *http.Request) PickExplanation {
	s := g.settings.Load()
	set := g.set.Load()
	p := set.candidates()
	now := g.d.clock.Now()
	e := PickExplanation{
		TargetGroup:      g.name,
		Algorithm:        s.algorithm.String(),
		FailOpen:         len(set.healthy.targets) == 0 && len(p.targets) > 0,
		SlowStartSeconds: s.slowStart.Seconds(),
		Candidates:       g.explainCandidates(p, s, now),
	}
	if len(p.targets) == 0 {
		e.Reason = "the group has no registered target that is not draining: 503"
		return e
	}
	if s.sticky.kind != stickyOff {
		k := g.readSticky(r, s.sticky, p, now)
		e.Stickiness = &StickinessExplanation{
			Type: s.sticky.kind.String(), Cookie: k.cookie, Target: k.target, Honoured: k.idx >= 0, Reason: k.why,
		}
		if k.idx >= 0 {
			e.Target, e.Reason = k.target, "stickiness: "+k.why
			return e
		}
	}
	i, why := g.explainChoice(p, s, now)
	if i >= 0 {
		e.Target = p.targets[i].addr
	}
	e.Reason = why
	return e
}

// explainChoice returns the index of the target the algorithm would pick
// now, -1 when it draws at random, and why.
func (g *targetGroup) explainChoice(p *pool, s *groupSettings, now time.Time) (int, string) {
	seq := g.next.Load()
	switch s.algorithm {
	case algoLeastOutstanding:
		return p.leastOutstanding(seq), "least outstanding requests: the fewest requests in flight, ties taken in turn"
	case algoWeightedRandom:
		if len(p.targets) == 1 {
			return 0, "weighted random: the only candidate"
		}
		return -1, "weighted random: each request draws a candidate, with the odds of its share"
	}
	if s.slowStart > 0 {
		if i, ok := p.rampedPick(seq, now, s.slowStart); ok {
			return i, "round robin weighted by slow start: the next in turn, each candidate by its share"
		}
	}
	return int(seq % uint64(len(p.targets))), "round robin: the next in turn"
}

// explainCandidates describes the candidates of p at now.
func (g *targetGroup) explainCandidates(p *pool, s *groupSettings, now time.Time) []CandidateExplanation {
	ramping, sum := 0, 0.0
	if s.algorithm == algoRoundRobin && s.slowStart > 0 {
		ramping, sum = p.rampSum(now, s.slowStart)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]CandidateExplanation, len(p.targets))
	for i, t := range p.targets {
		c := CandidateExplanation{
			Target: t.addr, State: t.health.state, InFlight: t.inflight.Load(), Weight: p.weight(i),
		}
		switch {
		case s.algorithm == algoWeightedRandom:
			c.Share = float64(c.Weight) / float64(p.wsum)
		case s.algorithm == algoRoundRobin && ramping > 0:
			c.Share = p.share(i, now, s.slowStart, ramping, sum)
		case s.algorithm == algoRoundRobin:
			c.Share = 1 / float64(len(p.targets))
		}
		if r := p.ramp(i, now, s.slowStart); s.slowStart > 0 && r < 1 {
			until := p.rampFrom[i].Add(s.slowStart)
			c.SlowStartUntil, c.SlowStartRamp = &until, r
		}
		out[i] = c
	}
	return out
}
