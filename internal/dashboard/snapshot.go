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

// Group is a target group: its targets and its traffic, per second over
// the last rate window.
type Group struct {
	Name    string               `json:"name"`
	Targets []proxy.TargetHealth `json:"targets"`
	// Requests is the requests routed to the group since it was
	// configured.
	Requests uint64 `json:"requests"`
	// RequestsPerSecond and Errors5xxPerSecond (the targets' 5xx and the
	// balancer's own) are over the last rate window.
	RequestsPerSecond  float64 `json:"requests_per_second"`
	Errors5xxPerSecond float64 `json:"errors_5xx_per_second"`
}

// rateWindow is how often a stream computes the groups' rates.
const rateWindow = time.Second

// rates turns the balancer's counters into per-second rates, for one
// stream.
type rates struct {
	at   time.Time
	last map[string]proxy.GroupMetrics
	rps  map[string][2]float64 // requests, 5xx
}

// update reads the counters when the window is over (at the first call
// too, whose rates are 0).
func (r *rates) update(b Backend, now time.Time) {
	if r.last != nil && now.Sub(r.at) < rateWindow {
		return
	}
	next := map[string]proxy.GroupMetrics{}
	rps := map[string][2]float64{}
	secs := now.Sub(r.at).Seconds()
	for _, g := range b.TargetGroups() {
		m, ok := b.GroupMetrics(g)
		if !ok {
			continue
		}
		next[g] = m
		if prev, ok := r.last[g]; ok && secs > 0 {
			d := m.Sub(prev)
			rps[g] = [2]float64{round(float64(d.RequestCount) / secs), round(float64(d.Target5XX+d.ELB5XX) / secs)}
		}
	}
	r.at, r.last, r.rps = now, next, rps
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
		g := Group{Name: name, Targets: nonNil(targets[name])}
		if m, ok := r.last[name]; ok {
			g.Requests = m.RequestCount
		}
		g.RequestsPerSecond, g.Errors5xxPerSecond = r.rps[name][0], r.rps[name][1]
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
