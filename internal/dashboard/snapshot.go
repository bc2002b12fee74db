package dashboard

import (
	"slices"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
)

// Snapshot is the state event's data: the whole picture.
type Snapshot struct {
	Stack     string                 `json:"stack"`
	Listeners []Listener             `json:"listeners"`
	Groups    []Group                `json:"target_groups"`
	Tasks     []agent.TaskStatus     `json:"tasks"`
	Instances []agent.InstanceStatus `json:"instances"`
	Services  []agent.ServiceStatus  `json:"services"`
	// SecurityGroups are the stack's groups, each with its rules and what
	// it guards; Isolated says the instances' groups are enforced.
	SecurityGroups []SecurityGroup `json:"security_groups"`
	Isolated       bool            `json:"isolated"`
	// Faults are the active faults, oldest first.
	Faults []fault.Fault `json:"faults"`
}

// SecurityGroup is a group as the picture shows it.
type SecurityGroup struct {
	Name string `json:"name"`
	// Rules in the words of `shoal sg explain` ("tcp 8080 from 0.0.0.0/0").
	Rules []string `json:"rules"`
	// Listeners it guards, by name, and whether it guards the instances.
	Listeners []string `json:"listeners"`
	Instances bool     `json:"instances"`
}

// Listener is a listener and the target groups its rules forward to.
type Listener struct {
	Name     string   `json:"name"`
	Address  string   `json:"address"`
	Protocol string   `json:"protocol"`
	Groups   []string `json:"target_groups"`
}

// Group is a target group: its targets and their traffic.
type Group struct {
	Name    string               `json:"name"`
	Targets []proxy.TargetHealth `json:"targets"`
	// Requests is the requests routed to the group since it was
	// configured.
	Requests uint64 `json:"requests"`
	// Stats is the group's traffic, TargetStats each target's by address
	// (a target registered within the last window has none yet).
	Stats
	TargetStats map[string]Stats `json:"target_stats"`
}

// Stats is the traffic of a target group or of one target, from the load
// balancer's own counters: rates over the last rateWindow, response time
// percentiles over the last latencyWindows of them.
type Stats struct {
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Errors4xxPerSecond are the targets' 4xx; Errors5xxPerSecond the
	// targets' 5xx and the balancer's own (502, 503, 504).
	Errors4xxPerSecond float64 `json:"errors_4xx_per_second"`
	Errors5xxPerSecond float64 `json:"errors_5xx_per_second"`
	// P50Ms and P99Ms are TargetResponseTime percentiles, in
	// milliseconds; 0 when no target answered in the window.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

const (
	// rateWindow is how often a stream reads the counters, and the window
	// of its rates.
	rateWindow = time.Second
	// latencyWindows is how many rate windows the percentiles span: enough
	// answers for a p99 at a few requests per second, recent enough to
	// follow a fault.
	latencyWindows = 5
)

// frame is the counters read at one time, by group name and by
// "group|target address".
type frame struct {
	at time.Time
	m  map[string]proxy.GroupMetrics
}

// rates turns the balancer's counters into the Stats of one stream.
type rates struct {
	frames []frame // oldest first, at most latencyWindows+1
	stats  map[string]Stats
}

// counters are the load balancer's counters, which rates reads.
type counters interface {
	TargetGroups() []string
	GroupMetrics(group string) (proxy.GroupMetrics, bool)
	TargetMetrics(group string) map[string]proxy.GroupMetrics
}

// update reads the counters when the window is over (at the first call
// too, which has no rates yet).
func (r *rates) update(b counters, now time.Time) {
	if n := len(r.frames); n > 0 && now.Sub(r.frames[n-1].at) < rateWindow {
		return
	}
	cur := frame{at: now, m: map[string]proxy.GroupMetrics{}}
	for _, g := range b.TargetGroups() {
		if m, ok := b.GroupMetrics(g); ok {
			cur.m[g] = m
		}
		for addr, m := range b.TargetMetrics(g) {
			cur.m[g+"|"+addr] = m
		}
	}
	r.stats = map[string]Stats{}
	if n := len(r.frames); n > 0 {
		last, first := r.frames[n-1], r.frames[0]
		secs := now.Sub(last.at).Seconds()
		for k, m := range cur.m {
			prev, ok := last.m[k]
			if !ok || secs <= 0 {
				continue // new since the last window: no rate yet
			}
			r.stats[k] = statsOf(m.Sub(prev), m.Sub(first.m[k]), secs)
		}
	}
	r.frames = append(r.frames, cur)
	if len(r.frames) > latencyWindows+1 {
		r.frames = r.frames[1:]
	}
}

// statsOf is the Stats of window d, secs long, with the percentiles of
// the longer window long.
func statsOf(d, long proxy.GroupMetrics, secs float64) Stats {
	per := func(n uint64) float64 { return round(float64(n) / secs) }
	st := Stats{
		RequestsPerSecond:  per(d.RequestCount),
		Errors4xxPerSecond: per(d.Target4XX),
		Errors5xxPerSecond: per(d.Target5XX + d.ELB5XX),
	}
	if h := long.TargetResponseTime; h.Count() > 0 {
		ms := func(q float64) float64 { return round(float64(h.Quantile(q)) / float64(time.Millisecond)) }
		st.P50Ms, st.P99Ms = ms(0.5), ms(0.99)
	}
	return st
}

// requests is group's requests since it was configured, as last read; 0
// before the first read.
func (r *rates) requests(group string) uint64 {
	if n := len(r.frames); n > 0 {
		return r.frames[n-1].m[group].RequestCount
	}
	return 0
}

// round keeps two decimals: a snapshot changes when a rate does, not
// with the noise of the window's length.
func round(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

// snapshot reads the whole picture from b.
func snapshot(b Backend, r *rates) Snapshot {
	st := b.Status()
	s := Snapshot{
		Stack:     st.Stack,
		Tasks:     nonNil(b.Tasks(false)),
		Instances: nonNil(b.Instances()),
		Services:  nonNil(b.Services()),
		Listeners: []Listener{},
		Groups:    []Group{},
		Faults:    nonNil(b.Faults()),
	}
	s.SecurityGroups, s.Isolated = securityGroups(b.SecurityGroups())
	for _, l := range b.Rules() {
		s.Listeners = append(s.Listeners, Listener{Name: l.Listener, Address: l.Address, Protocol: l.Protocol, Groups: forwardsTo(l)})
	}
	names := b.TargetGroups()
	targets := map[string][]proxy.TargetHealth{}
	for _, t := range b.Targets() {
		if !slices.Contains(names, t.Group) {
			names = append(names, t.Group) // draining after it was removed
		}
		targets[t.Group] = append(targets[t.Group], t)
	}
	for _, name := range names {
		g := Group{Name: name, Targets: nonNil(targets[name]), Requests: r.requests(name),
			Stats: r.stats[name], TargetStats: map[string]Stats{}}
		for _, t := range g.Targets {
			if st, ok := r.stats[name+"|"+t.Target]; ok {
				g.TargetStats[t.Target] = st
			}
		}
		s.Groups = append(s.Groups, g)
	}
	return s
}

// forwardsTo lists the target groups a listener's rules and default
// action forward to, each once, in order.
func forwardsTo(l proxy.ListenerRules) []string {
	out := []string{}
	add := func(a routing.Action) {
		if a.Forward == nil {
			return
		}
		for _, g := range a.Forward.Groups {
			if !slices.Contains(out, g.Name) {
				out = append(out, g.Name)
			}
		}
	}
	for _, r := range l.Rules {
		add(r.Action)
	}
	add(l.Default)
	return out
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// securityGroups is the picture of the stack's groups: rules, and what
// each guards (a group on every task is the instances').
func securityGroups(v agent.SecurityView) ([]SecurityGroup, bool) {
	out := []SecurityGroup{}
	for _, g := range v.Groups {
		sg := SecurityGroup{Name: g.Name, Rules: []string{}, Listeners: []string{}}
		for _, r := range g.Ingress {
			sg.Rules = append(sg.Rules, r.String())
		}
		for _, l := range v.Listeners {
			if slices.Contains(l.Groups, g.Name) {
				sg.Listeners = append(sg.Listeners, l.Name)
			}
		}
		sg.Instances = len(v.Tasks) > 0 && !slices.ContainsFunc(v.Tasks, func(t agent.GuardedPort) bool { return !slices.Contains(t.Groups, g.Name) })
		out = append(out, sg)
	}
	return out, v.Isolated
}
