package proxy

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrUnknownTarget is returned for a target not registered in its group.
var ErrUnknownTarget = errors.New("unknown target")

// ResponseFault is an injected fault on a target group's answers (`shoal
// fault latency|errors`): a Fraction of its requests are delayed by Delay
// before they are forwarded, or, with Status set, answered with Status by
// the load balancer as if from the target (counted in
// HTTPCode_Target_5XX_Count, not HTTPCode_ELB_5XX_Count).
type ResponseFault struct {
	// Fraction is the share of the requests touched, in (0, 1].
	Fraction float64
	// Delay is added before the request is forwarded; 0 with Status set.
	Delay time.Duration
	// Status, 500-599, is the answer; 0 for a latency fault.
	Status int
}

// faultHealthDetail is the description of a check failed by a health
// fault.
const faultHealthDetail = "shoal's fault injection fails every health check of this target until the fault ends"

// SetHealthFault makes every health check of target in group fail (on) or
// be made again (off). A failed check is reported as ALB reports a check
// that got no usable answer, Target.FailedHealthChecks, and counts toward
// the group's unhealthy threshold like any other: the target turns
// unhealthy after unhealthy_threshold checks, and healthy again after
// healthy_threshold passing checks once the fault is off.
func (b *Balancer) SetHealthFault(group, target string, on bool) error {
	g := b.table.Load().groups[group]
	if g == nil {
		return fmt.Errorf("%w %q", ErrUnknownTargetGroup, group)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.targets[target]
	if t == nil || t.finished || (on && t.draining.Load()) {
		return fmt.Errorf("%w %s in target group %s", ErrUnknownTarget, target, group)
	}
	t.healthFault.Store(on)
	return nil
}

// SetResponseFault sets the group's response fault; nil ends it. The
// forward path pays one atomic load for it when none is set.
func (b *Balancer) SetResponseFault(group string, f *ResponseFault) error {
	g := b.table.Load().groups[group]
	if g == nil {
		return fmt.Errorf("%w %q", ErrUnknownTargetGroup, group)
	}
	g.fault.Store(f)
	return nil
}

// faultNoteLocked says what the faults injected do to t: TargetHealth.Fault.
func (g *targetGroup) faultNoteLocked(t *target) string {
	var notes []string
	if t.healthFault.Load() {
		notes = append(notes, "health checks fail")
	}
	if f := g.fault.Load(); f != nil {
		share := strconv.FormatFloat(math.Round(f.Fraction*10000)/100, 'f', -1, 64) + "% of the group's requests"
		if f.Status != 0 {
			notes = append(notes, strconv.Itoa(f.Status)+" on "+share)
		} else {
			notes = append(notes, "+"+f.Delay.String()+" on "+share)
		}
	}
	return strings.Join(notes, "; ")
}

// injectFault applies the group's response fault f to r: it waits out a
// latency fault's delay, then lets r go on (false), or answers r with an
// errors fault's status (true). A request the fault's fraction spares goes
// on untouched, as does one that finds no target.
func (g *targetGroup) injectFault(w http.ResponseWriter, r *http.Request, f *ResponseFault) bool {
	if f.Fraction < 1 && rand.Float64() >= f.Fraction {
		return false
	}
	if f.Status == 0 {
		timer := time.NewTimer(f.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
			return false
		case <-r.Context().Done():
			return true // the client went away: nobody to answer
		}
	}
	t := g.pickFor(w, r)
	if t == nil {
		return false
	}
	defer t.release()
	t.metrics.request()
	if e := entryOf(r); e != nil {
		e.target = t.addr
	}
	g.metrics.targetAnswered(f.Status, 0)
	t.metrics.targetAnswered(f.Status, 0)
	body := strconv.Itoa(f.Status) + " " + http.StatusText(f.Status) + " (injected by shoal fault)\n"
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(f.Status)
	w.Write([]byte(body))
	return true
}
