package agent

import (
	"fmt"
	"strings"

	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
)

// HealthChanged takes the load balancer's target state changes. Pass it as
// proxy.Options.OnHealthChange. A change that makes a task unhealthy wakes
// the scheduler, which replaces the task once its grace period is over.
func (a *Agent) HealthChanged(c proxy.HealthChange) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recordHealthLocked(c)
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
	if h == sched.HealthHealthy {
		a.taskHealthyLocked(t)
	}
	a.poke()
}

func healthMessage(c proxy.HealthChange) string {
	if c.To == proxy.StateInitial && (c.From == "" || c.From == proxy.StateUnused) {
		return fmt.Sprintf("target %s in target-group %s: %s%s.", c.Target, c.Group, c.To, reasonSuffix(c))
	}
	return fmt.Sprintf("target %s in target-group %s: %s → %s%s.", c.Target, c.Group, c.From, c.To, reasonSuffix(c))
}

// reasonSuffix is the reason code and description of a change, in
// parentheses. The line names the target already, so a description that
// names the target's address too (the load balancer's say "… at host:port:
// …" where a check failed) leaves it out; one that names another address,
// like a health check port's, keeps it.
func reasonSuffix(c proxy.HealthChange) string {
	desc := strings.Replace(c.Description, " at "+c.Target+": ", ": ", 1)
	switch {
	case desc != "":
		return " (" + string(c.Reason) + ": " + desc + ")"
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

// recordHealthLocked records a target's change; the same change of several
// targets of a group at once (a batch turning healthy) is one line.
func (a *Agent) recordHealthLocked(c proxy.HealthChange) {
	one := healthMessage(c)
	key := fmt.Sprintf("health|%s|%s|%s|%s|%s", c.Group, c.From, c.To, c.Reason, c.Description)
	ev := Event{Time: c.At, Target: c.Target}
	if t := a.byTarget[targetKey(c.Group, c.Target)]; t != nil {
		ev.Service, ev.Task = t.service, t.id
		key += "|" + t.service
	}
	a.events.addGrouped(key, ev, c.Target, func(targets []string) string {
		if len(targets) == 1 {
			return one
		}
		return "targets " + strings.Join(targets, " ") + strings.TrimPrefix(one, "target "+c.Target)
	})
}
