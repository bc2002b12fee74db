package agent

import (
	"fmt"

	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
)

// HealthChanged takes the load balancer's target state changes. Pass it as
// proxy.Options.OnHealthChange. A change that makes a task unhealthy wakes
// the scheduler, which replaces the task once its grace period is over.
func (a *Agent) HealthChanged(c proxy.HealthChange) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events.add(Event{Time: c.At, Target: c.Target, Message: healthMessage(c)})
	t := a.byTarget[targetKey(c.Group, c.Target)]
	if t == nil {
		return
	}
	h, ok := schedHealth(c.To)
	if !ok {
		return
	}
	t.health, t.healthReason = h, string(c.Reason)
	if h == sched.HealthHealthy && t.healthyAt.IsZero() {
		t.healthyAt = c.At
	}
	a.poke()
}

func healthMessage(c proxy.HealthChange) string {
	if c.To == proxy.StateInitial && (c.From == "" || c.From == proxy.StateUnused) {
		return fmt.Sprintf("target %s in target-group %s: %s%s.", c.Target, c.Group, c.To, reasonSuffix(c))
	}
	return fmt.Sprintf("target %s in target-group %s: %s → %s%s.", c.Target, c.Group, c.From, c.To, reasonSuffix(c))
}

func reasonSuffix(c proxy.HealthChange) string {
	switch {
	case c.Description != "":
		return " (" + string(c.Reason) + ": " + c.Description + ")"
	case c.Reason != "":
		return " (" + string(c.Reason) + ")"
	}
	return ""
}

// schedHealth maps target states to what the scheduler judges by; draining
// and unused are the agent's own doing and change nothing.
func schedHealth(s proxy.State) (sched.Health, bool) {
	switch s {
	case proxy.StateInitial:
		return sched.HealthInitial, true
	case proxy.StateHealthy:
		return sched.HealthHealthy, true
	case proxy.StateUnhealthy:
		return sched.HealthUnhealthy, true
	}
	return "", false
}
