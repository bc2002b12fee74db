package proxy

import "time"

// Slow start, as ALB does it (slow_start.duration_seconds):
//
//   - A target enters slow start when it becomes healthy, if the group then
//     has another healthy target that is not in slow start. A target
//     registered while the group had no such target (ALB: "targets
//     registered in a single operation" to an empty group) does not enter
//     slow start when it first becomes healthy.
//   - Targets already healthy when slow start is turned on do not enter it.
//   - A target leaves slow start when the duration has passed, or when it
//     becomes unhealthy; it enters slow start again when it is healthy
//     again. A deregistered target leaves it too.
//   - During slow start the share of the requests the target gets grows
//     linearly from minRamp of its full share to its full share.
//   - Only with round robin: ALB refuses slow start with least outstanding
//     requests and with weighted random (settingsFrom drops it there).
//
// Stickiness comes first: a request with a cookie for a target in slow
// start goes to it.

// minRamp is the fraction of its full share that a target gets as it
// enters slow start. ALB says only that the share grows linearly.
const minRamp = 0.01

// ramp is the fraction of its full share that a target in slow start for
// elapsed out of d gets: from minRamp up to 1, linearly. It is 1 once d has
// passed.
func ramp(elapsed, d time.Duration) float64 {
	if d <= 0 || elapsed >= d {
		return 1
	}
	return max(float64(elapsed)/float64(d), minRamp)
}

// ramp returns the fraction of its full share that target i gets at now.
func (p *pool) ramp(i int, now time.Time, d time.Duration) float64 {
	if p.rampFrom == nil || p.rampFrom[i].IsZero() {
		return 1
	}
	return ramp(now.Sub(p.rampFrom[i]), d)
}

// rampSum returns how many targets of p are in slow start at now and the
// sum of their ramps.
func (p *pool) rampSum(now time.Time, d time.Duration) (n int, sum float64) {
	for i := range p.rampFrom {
		if r := p.ramp(i, now, d); r < 1 {
			n, sum = n+1, sum+r
		}
	}
	return n, sum
}

// share returns the fraction of the requests that target i gets at now,
// when ramping targets are in slow start with ramps summing to sum. A
// target in slow start gets its ramp of the share it would get without
// slow start (1/n of n candidates); the others share the rest equally.
// When every candidate is in slow start they share everything by ramp.
func (p *pool) share(i int, now time.Time, d time.Duration, ramping int, sum float64) float64 {
	n := len(p.targets)
	r := p.ramp(i, now, d)
	switch {
	case ramping == n:
		return r / sum
	case r < 1:
		return r / float64(n)
	}
	return (1 - sum/float64(n)) / float64(n-ramping)
}

// rampedPick returns the index of the target for request seq, each target
// getting its share; false when no target is in slow start at now. The
// requests are spread by the golden ratio sequence (seq·φ modulo 1), whose
// points fill [0, 1) evenly at every length: each target gets its share of
// every short run of requests, not only on average, as a weighted round
// robin.
func (p *pool) rampedPick(seq uint64, now time.Time, d time.Duration) (int, bool) {
	ramping, sum := p.rampSum(now, d)
	if ramping == 0 {
		return 0, false
	}
	u := goldenFraction(seq)
	last := len(p.targets) - 1
	for i := range last {
		if u -= p.share(i, now, d, ramping, sum); u < 0 {
			return i, true
		}
	}
	return last, true
}

// goldenFraction returns seq/φ modulo 1, in [0, 1).
func goldenFraction(seq uint64) float64 {
	const inverseGolden = 0x9E3779B97F4A7C15 // 2^64/φ
	return float64((seq*inverseGolden)>>11) * 0x1p-53
}

// rampLocked starts or ends the slow start of t, whose state has just
// changed from prev.
func (g *targetGroup) rampLocked(t *target, prev State, now time.Time) {
	t.rampFrom = time.Time{}
	d := g.settings.Load().slowStart
	if d <= 0 || t.health.state != StateHealthy {
		return
	}
	if prev == StateInitial && !t.rampOnHealthy {
		return
	}
	if g.steadyLocked(t, now) {
		t.rampFrom = now
	}
}

// steadyLocked reports whether the group has a healthy target other than
// except that is not in slow start at now.
func (g *targetGroup) steadyLocked(except *target, now time.Time) bool {
	d := g.settings.Load().slowStart
	for _, u := range g.targets {
		if u != except && u.health.state == StateHealthy &&
			(u.rampFrom.IsZero() || ramp(now.Sub(u.rampFrom), d) >= 1) {
			return true
		}
	}
	return false
}
