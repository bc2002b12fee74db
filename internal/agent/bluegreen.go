package agent

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shoalhq/shoal/internal/hook"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/strategy"
)

// Blue/green, canary and linear deployments: package strategy decides each
// step; the agent observes (green's health, the hooks' verdicts, the
// alarms), and carries the steps out: it starts green in the other target
// group, holds blue, re-weights the production and test rules, calls the
// hooks, and stops blue at clean-up or green on a rollback.

// defaultCallBackDelay is how long ECS waits before calling a hook that
// answered IN_PROGRESS again, when it does not say.
const defaultCallBackDelay = 30 * time.Second

// alarmEvery is how often alarms are evaluated while a deployment runs.
const alarmEvery = time.Second

// hooksAfterRoutes is how soon to look again at hooks that wait for the
// balancer to serve their stage's weights.
const hooksAfterRoutes = 50 * time.Millisecond

// hookRun is the current run of a service's lifecycle hooks for one stage
// (or one step of PRODUCTION_TRAFFIC_SHIFT) of one deployment.
type hookRun struct {
	key     string // deployment id and strategy.Effects.HookRun
	verdict strategy.Hook
	reason  string
	running bool
	// next is when to call the hooks again after IN_PROGRESS; done counts
	// the hooks that passed, in order.
	next time.Time
	done int
	// first is when the run was first asked for.
	first time.Time
}

// hookStageTimeout is how long ECS lets a stage's hooks answer
// IN_PROGRESS before it rolls back (timeoutConfiguration's default, 1440
// min), divided by the deployment's time scale.
const hookStageTimeout = 24 * time.Hour

// alarmWatch keeps a service's green target group's counters over time,
// to take each alarm's metric over its period.
type alarmWatch struct {
	deployment string
	samples    []metricSample
}

type metricSample struct {
	at time.Time
	m  proxy.GroupMetrics
}

// strategyConfig is a service's strategy as package strategy takes it.
func strategyConfig(st *Strategy, timeScale float64) strategy.Config {
	c := strategy.Config{
		Kind: st.Kind, CanaryPercent: st.CanaryPercent, CanaryBakeTime: st.CanaryBakeTime,
		StepPercent: st.StepPercent, StepBakeTime: st.StepBakeTime, BakeTime: st.BakeTime,
		TestListener: st.TestRule != nil, TimeScale: timeScale,
	}
	for _, h := range st.Hooks {
		for _, s := range h.Stages {
			if !slices.Contains(c.Hooks, s) {
				c.Hooks = append(c.Hooks, s)
			}
		}
	}
	return c
}

// active reports whether d is a blue/green, canary or linear deployment
// under way.
func (d *Deployment) active() bool { return d != nil && d.Strategy != nil && !d.Strategy.Done }

// otherGroup is the target group of a strategy service that tg is not.
func otherGroup(svc Service, tg string) string {
	if tg == svc.TargetGroup {
		return svc.Strategy.AlternateTargetGroup
	}
	return svc.TargetGroup
}

// advanceStrategiesLocked moves every blue/green, canary and linear
// deployment under way as far as it can go now. It reports when to look
// again at the latest, and whether the state changed.
func (a *Agent) advanceStrategiesLocked(now time.Time) (wake time.Time, changed bool) {
	for _, name := range sortedKeys(a.stack.Services) {
		svc := a.stack.Services[name]
		ss := a.state.Services[name]
		d := ss.primary()
		if svc.Strategy == nil || !d.active() {
			continue
		}
		cfg := strategyConfig(svc.Strategy, d.TimeScale)
		o := strategy.Observed{
			GreenReady: a.greenReadyLocked(name, d, ss.Desired),
			BlueGone:   a.blueGoneLocked(name, d),
			Alarm:      a.alarmLocked(name, svc.Strategy, d, now),
		}
		if r := a.hooks[name]; r != nil && r.key == hookKey(d) {
			o.Hook, o.HookReason = r.verdict, r.reason // else: a verdict of a stage or step that ended
		}
		before := *d.Strategy
		next, e := strategy.Advance(cfg, before, o, now)
		d.Strategy = &next
		if next.Stage != before.Stage || next.Step != before.Step || next.TestWeight != before.TestWeight || next.Done != before.Done {
			changed = true
			a.routesDirty = true
			a.announceStageLocked(name, d, cfg, before)
		}
		switch {
		case e.RollBack != "":
			a.rollBackStrategyLocked(name, ss, d, e.RollBack, now)
			changed = true
			continue
		case e.RunHooks != "":
			if w := a.runHooksLocked(name, svc, d, e, now); !w.IsZero() {
				wake = earliest(wake, w)
			}
		}
		wake = earliest(wake, e.Wake)
		if len(svc.Strategy.Alarms) > 0 {
			wake = earliest(wake, now.Add(alarmEvery))
		}
	}
	return wake, changed
}

// hookKey names the run of hooks of the stage (or production step) the
// deployment is at: its id and what strategy.Effects.HookRun says.
func hookKey(d *Deployment) string {
	if s := d.Strategy; s.Stage == strategy.ProductionTrafficShift {
		return fmt.Sprintf("%s/%s/%d", d.ID, s.Stage, s.Step)
	}
	return d.ID + "/" + string(d.Strategy.Stage)
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// greenReadyLocked: the deployment runs the desired count, all serving.
func (a *Agent) greenReadyLocked(service string, d *Deployment, desired int) bool {
	n := 0
	for _, t := range a.tasks {
		if t.service == service && t.deployment == d.ID && !t.stopRequested && t.serving() {
			n++
		}
	}
	return n >= desired
}

// blueGoneLocked: no task of another deployment of the service is left.
func (a *Agent) blueGoneLocked(service string, d *Deployment) bool {
	for _, t := range a.tasks {
		if t.service == service && t.deployment != d.ID && t.status != sched.Stopped {
			return false
		}
	}
	return true
}

// announceStageLocked records each stage or step the deployment entered
// since before: several may pass at one instant.
func (a *Agent) announceStageLocked(service string, d *Deployment, cfg strategy.Config, before strategy.State) {
	s := d.Strategy
	now := a.clock.Now()
	steps := cfg.Steps()
	step := len(productionSteps(before.Timeline)) // the production step the next such line is
	for _, ev := range s.Timeline[min(len(before.Timeline), len(s.Timeline)):] {
		msg := fmt.Sprintf("service %s (deployment %s) %s.", service, d.ID, ev.Stage)
		switch {
		case ev.Stage == strategy.ProductionTrafficShift:
			w := steps[min(step, len(steps)-1)]
			step++
			msg = fmt.Sprintf("service %s (deployment %s) %s: production traffic %g%% to %s, %g%% to %s.",
				service, d.ID, ev.Stage, w, d.TaskDefinition, 100-w, a.blueRevisionLocked(service, d))
		case ev.Stage == strategy.TestTrafficShift && cfg.TestListener:
			msg = fmt.Sprintf("service %s (deployment %s) %s: test traffic 100%% to %s.", service, d.ID, ev.Stage, d.TaskDefinition)
		}
		a.events.add(Event{Time: now, Service: service, Message: msg})
	}
	if s.Done && !s.RolledBack && !before.Done {
		a.events.add(Event{Time: now, Service: service, Message: fmt.Sprintf("service %s (deployment %s) finished its lifecycle: blue is stopped.", service, d.ID)})
	}
}

// productionSteps are the production traffic shift's lines of a timeline.
func productionSteps(tl []strategy.Event) []strategy.Event {
	return slices.DeleteFunc(slices.Clone(tl), func(e strategy.Event) bool { return e.Stage != strategy.ProductionTrafficShift })
}

// blueRevisionLocked is the revision the deployment replaces.
func (a *Agent) blueRevisionLocked(service string, d *Deployment) string {
	for _, o := range a.state.Services[service].Deployments {
		if o != d {
			return o.TaskDefinition
		}
	}
	return "none"
}

// rollBackStrategyLocked ends a deployment that must roll back: every
// request goes to blue again, which turns PRIMARY, and green's tasks stop.
func (a *Agent) rollBackStrategyLocked(service string, ss *serviceState, green *Deployment, reason string, now time.Time) {
	green.Rollout, green.UpdatedAt = sched.RolloutFailed, now
	green.Reason = "ECS deployment " + green.ID + " rolled back: " + reason
	a.routesDirty = true
	a.events.add(Event{Time: now, Service: service, Message: fmt.Sprintf("service %s (deployment %s) deployment failed: %s; every request goes to the previous revision again.", service, green.ID, reason)})
	a.rollBackLocked(service, ss, green, reason, now)
	delete(a.hooks, service)
	delete(a.alarmWatch, service)
}

// runHooksLocked calls the hooks of the stage the deployment is at, one
// after the other, unless they are running, passed, or wait for their
// call-back delay. It returns when to look again (a call-back).
func (a *Agent) runHooksLocked(service string, svc Service, d *Deployment, e strategy.Effects, now time.Time) time.Time {
	key := d.ID + "/" + e.HookRun
	r := a.hooks[service]
	if r == nil || r.key != key {
		r = &hookRun{key: key, first: now}
		a.hooks[service] = r
	}
	switch {
	case r.running || r.verdict != strategy.HookPending:
		return time.Time{}
	case now.Sub(r.first) > scaleDuration(hookStageTimeout, d.TimeScale):
		// A hook that keeps answering IN_PROGRESS fails at ECS's hook
		// timeout, and rolls back (its default action).
		r.verdict, r.reason = strategy.HookFailed, fmt.Sprintf("still IN_PROGRESS after %s, the hook timeout", scaleDuration(hookStageTimeout, d.TimeScale))
		a.poke()
		return time.Time{}
	case now.Before(r.next):
		return r.next
	case a.routesDirty:
		// The balancer does not serve the stage's weights yet (test
		// traffic to green, a production step): a hook must see them.
		// applyRoutes serves them right after this pass, which the new
		// stage pokes the loop again for; the wake is for a retry.
		return now.Add(hooksAfterRoutes)
	}
	var hooks []hook.Hook
	for _, h := range svc.Strategy.Hooks {
		if slices.Contains(h.Stages, e.RunHooks) {
			hooks = append(hooks, h.Hook)
		}
	}
	req := a.hookRequestLocked(service, svc, d, e)
	pending := hooks[min(r.done, len(hooks)):] // those that passed are not called again
	timeScale := d.TimeScale
	r.running = true
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		verdict, reason, delay, done := a.callHooks(pending, req)
		a.mu.Lock()
		defer a.mu.Unlock()
		r.running, r.done = false, r.done+done
		switch verdict {
		case hook.InProgress:
			if delay <= 0 {
				delay = defaultCallBackDelay
			}
			r.next = a.clock.Now().Add(scaleDuration(delay, timeScale))
		case hook.Failed:
			r.verdict, r.reason = strategy.HookFailed, reason
		default:
			r.verdict = strategy.HookPassed
		}
		a.poke()
	}()
	return time.Time{}
}

// callHooks calls hooks in order until one does not pass. It returns the
// verdict, and how many passed.
func (a *Agent) callHooks(hooks []hook.Hook, req hook.Request) (hook.Status, string, time.Duration, int) {
	for i, h := range hooks {
		ctx, cancel := context.WithCancel(a.life)
		res := hook.Run(ctx, h, req)
		cancel()
		if res.Status != hook.Succeeded {
			return res.Status, res.Reason, res.CallBackDelay, i
		}
	}
	return hook.Succeeded, "", 0, len(hooks)
}

// hookRequestLocked is what the hooks are told, in ECS's payload.
func (a *Agent) hookRequestLocked(service string, svc Service, d *Deployment, e strategy.Effects) hook.Request {
	green, blue := d.TaskDefinition, a.blueRevisionLocked(service, d)
	req := hook.Request{
		ExecutionID: d.ID + "/" + e.HookRun, LifecycleStage: string(e.RunHooks),
		ResourceARN: "service-deployment/" + a.stack.Name + "/" + service + "/" + d.ID,
		ServiceARN:  "service/" + a.stack.Name + "/" + service, TargetServiceRevisionARN: green,
		ProductionTrafficWeights: map[string]int{green: int(e.Weight), blue: 100 - int(e.Weight)},
		GreenTargetGroup:         d.TargetGroup,
	}
	if svc.Strategy.TestRule != nil {
		req.TestTrafficWeights = map[string]int{green: int(e.TestWeight), blue: 100 - int(e.TestWeight)}
	}
	req.ProductionURL, req.TestURL = a.ruleURLs(svc.Strategy)
	return req
}

// ruleURLs are the URLs of the production and test rules' listeners.
func (a *Agent) ruleURLs(st *Strategy) (production, test string) {
	urls := a.cfg.Balancer.ListenerURLs() // lock-free: it reads the balancer's table
	for i, l := range a.served.Listeners {
		if i >= len(urls) {
			break
		}
		if l.Name == st.ProductionRule.Listener {
			production = urls[i]
		}
		if st.TestRule != nil && l.Name == st.TestRule.Listener {
			test = urls[i]
		}
	}
	return production, test
}

func scaleDuration(d time.Duration, scale float64) time.Duration {
	if scale <= 1 {
		return d
	}
	return time.Duration(float64(d) / scale)
}

// alarmLocked evaluates the service's alarms over its green target
// group's metrics; it returns why one is in ALARM ("" when none is).
func (a *Agent) alarmLocked(service string, st *Strategy, d *Deployment, now time.Time) string {
	if len(st.Alarms) == 0 {
		return ""
	}
	w := a.alarmWatch[service]
	if w == nil || w.deployment != d.ID {
		w = &alarmWatch{deployment: d.ID}
		a.alarmWatch[service] = w
	}
	m, ok := a.cfg.Balancer.GroupMetrics(d.TargetGroup)
	if !ok {
		return ""
	}
	if n := len(w.samples); n == 0 || now.Sub(w.samples[n-1].at) >= alarmEvery/2 {
		w.samples = append(w.samples, metricSample{at: now, m: m})
	}
	longest := time.Duration(0)
	for _, al := range st.Alarms {
		longest = max(longest, al.Period)
	}
	for len(w.samples) > 2 && now.Sub(w.samples[1].at) > longest {
		w.samples = w.samples[1:]
	}
	for _, al := range st.Alarms {
		if reason := evaluate(al, w.samples, m, now); reason != "" {
			return reason
		}
	}
	return ""
}

// minRequestsForPercent is how many requests a period needs before a
// percent alarm may go off: a handful of requests says little.
const minRequestsForPercent = 20

// evaluate takes an alarm's metric over its period (from the oldest sample
// within it) and says why it is above the threshold.
func evaluate(al Alarm, samples []metricSample, now proxy.GroupMetrics, at time.Time) string {
	from := samples[0]
	for _, s := range samples {
		if at.Sub(s.at) <= al.Period {
			from = s
			break
		}
	}
	m := now.Sub(from.m)
	var value float64
	var unit string
	switch al.Metric {
	case "HTTPCode_Target_5XX_Count":
		value, unit = float64(m.Target5XX), ""
	case "HTTPCode_ELB_5XX_Count":
		value, unit = float64(m.ELB5XX), ""
	case "Target_5XX_Percent":
		if m.RequestCount < minRequestsForPercent {
			return ""
		}
		value, unit = 100*float64(m.Target5XX)/float64(m.RequestCount), "%"
	case "TargetResponseTime":
		if m.TargetResponseTime.Count() == 0 {
			return ""
		}
		value, unit = m.TargetResponseTime.Quantile(al.Quantile).Seconds(), "s"
	}
	if value <= al.Threshold {
		return ""
	}
	return fmt.Sprintf("%s is in ALARM: %s %.3g%s > %g%s over %s", al.Name, al.Metric, value, unit, al.Threshold, unit, at.Sub(from.at).Round(time.Second))
}

// deploymentRoutes sets the forward of each strategy service's production
// and test rules in cfg (the stack file's, with the API's changes): green
// gets its weight of a deployment under way, blue the rest; with none, the
// PRIMARY deployment's target group takes everything. Stickiness stays as
// the rule says.
func deploymentRoutes(services map[string]Service, st *state, cfg proxy.Config) proxy.Config {
	out := cloneConfig(cfg)
	for _, name := range sortedKeys(services) {
		svc := services[name]
		d := st.Services[name].primary()
		if svc.Strategy == nil || d == nil {
			continue
		}
		// With no deployment under way, the PRIMARY deployment's group
		// takes everything; during one, it is green's, and takes its share.
		blue, green := d.TargetGroup, otherGroup(svc, d.TargetGroup)
		weight, test := 0.0, 0.0
		if d.active() {
			blue, green = green, blue
			weight, test = d.Strategy.Weight(strategyConfig(svc.Strategy, d.TimeScale)), d.Strategy.TestWeight
		}
		setWeights(&out, svc.Strategy.ProductionRule, blue, green, weight)
		if r := svc.Strategy.TestRule; r != nil {
			setWeights(&out, *r, blue, green, test)
		}
	}
	return out
}

// weightTotal is what blue's and green's weights add up to: ALB's largest
// weight, for the finest shares (a tenth of a percent).
const weightTotal = 999

// setWeights makes rule r forward green's percent of requests to green and
// the rest to blue.
func setWeights(cfg *proxy.Config, r RuleRef, blue, green string, percent float64) {
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		if l.Name != r.Listener {
			continue
		}
		action := &l.Routes.Default
		for j := range l.Routes.Rules {
			if l.Routes.Rules[j].Priority == r.Priority && r.Priority != 0 {
				action = &l.Routes.Rules[j].Action
			}
		}
		if action.Forward == nil {
			return // spec made sure it forwards; a stack made in code may not
		}
		gw := int(percent*weightTotal/100 + 0.5)
		action.Forward.Groups = []routing.WeightedGroup{{Name: blue, Weight: weightTotal - gw}, {Name: green, Weight: gw}}
	}
}
