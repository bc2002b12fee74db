package proxy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// healthView is what the health tests compare.
type healthView struct {
	State       State
	Reason      Reason
	Description string
	Since       time.Time
}

func viewOf(h health) healthView {
	return healthView{h.state, h.reason, h.description, h.since}
}

// runHealth feeds steps to a new target's health, one second apart: the
// target registers at t0, step i happens at t0+(i+1)s.
func runHealth(t0 time.Time, steps []string) health {
	th := thresholds{healthy: 3, unhealthy: 2}
	h := newHealth(t0)
	for i, s := range steps {
		now := t0.Add(time.Duration(i+1) * time.Second)
		switch s {
		case "checking":
			h = h.checking()
		case "pass":
			h = h.observe(checkPassed(), th, now)
		case "500", "404", "302":
			code := map[string]int{"500": 500, "404": 404, "302": 302}[s]
			h = h.observe(checkCodeMismatch(code), th, now)
		case "timeout":
			h = h.observe(checkTimedOut(), th, now)
		case "refused":
			h = h.observe(checkFailed(), th, now)
		case "drain":
			h = h.drain(now)
		case "unused":
			h = h.unused(now)
		default:
			panic("unknown step " + s)
		}
	}
	return h
}

func TestHealth_Transitions(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(step int) time.Time { return t0.Add(time.Duration(step) * time.Second) }
	initial := func(r Reason, d string) healthView { return healthView{StateInitial, r, d, t0} }
	healthy := func(step int) healthView { return healthView{StateHealthy, "", "", at(step)} }
	unhealthy := func(step int, r Reason, d string) healthView {
		return healthView{StateUnhealthy, r, d, at(step)}
	}
	mismatch500 := "Health checks failed with these codes: [500]"
	tests := []struct {
		name  string
		steps []string
		want  healthView
	}{
		{"registered", nil,
			initial(ReasonRegistrationInProgress, "Target registration is in progress")},
		{"checks started", []string{"checking"},
			initial(ReasonInitialHealthChecking, "Initial health checks in progress")},
		{"one pass leaves initial", []string{"checking", "pass"}, healthy(2)},
		{"initial: one failure stays initial", []string{"checking", "500"},
			initial(ReasonInitialHealthChecking, "Initial health checks in progress")},
		{"initial: unhealthy_threshold failures", []string{"checking", "500", "timeout"},
			unhealthy(3, ReasonTimeout, "Request timed out")},
		{"initial: failures then a pass", []string{"checking", "500", "pass"}, healthy(3)},
		{"healthy: one failure stays healthy", []string{"pass", "500"}, healthy(1)},
		{"healthy: unhealthy_threshold failures, response code", []string{"pass", "500", "500"},
			unhealthy(3, ReasonResponseCodeMismatch, mismatch500)},
		{"healthy: unhealthy_threshold failures, timeout", []string{"pass", "timeout", "timeout"},
			unhealthy(3, ReasonTimeout, "Request timed out")},
		{"healthy: unhealthy_threshold failures, connection", []string{"pass", "refused", "refused"},
			unhealthy(3, ReasonFailedHealthChecks, "Health checks failed")},
		{"healthy: reason is the last failure's", []string{"pass", "refused", "404"},
			unhealthy(3, ReasonResponseCodeMismatch, "Health checks failed with these codes: [404]")},
		{"healthy: a pass resets the failure streak", []string{"pass", "500", "pass", "500"}, healthy(1)},
		{"unhealthy: passes below healthy_threshold", []string{"pass", "500", "500", "pass", "pass"},
			unhealthy(3, ReasonResponseCodeMismatch, mismatch500)},
		{"unhealthy: healthy_threshold passes", []string{"pass", "500", "500", "pass", "pass", "pass"},
			healthy(6)},
		{"unhealthy: a failure resets the pass streak",
			[]string{"pass", "500", "500", "pass", "pass", "refused", "pass", "pass"},
			unhealthy(3, ReasonFailedHealthChecks, "Health checks failed")},
		{"unhealthy: reason follows the latest failure", []string{"pass", "500", "500", "timeout"},
			unhealthy(3, ReasonTimeout, "Request timed out")},
		{"healthy again needs unhealthy_threshold failures", []string{
			"pass", "500", "500", "pass", "pass", "pass", "500"}, healthy(6)},
		{"drain from healthy", []string{"pass", "drain"},
			healthView{StateDraining, ReasonDeregistrationInProgress, "Target deregistration is in progress", at(2)}},
		{"drain from initial", []string{"drain"},
			healthView{StateDraining, ReasonDeregistrationInProgress, "Target deregistration is in progress", at(1)}},
		{"draining ignores checks", []string{"pass", "drain", "500", "500", "pass"},
			healthView{StateDraining, ReasonDeregistrationInProgress, "Target deregistration is in progress", at(2)}},
		{"unused after draining", []string{"pass", "drain", "unused"},
			healthView{StateUnused, ReasonNotRegistered, "Target is not registered to the target group", at(3)}},
		{"unused ignores checks", []string{"drain", "unused", "pass"},
			healthView{StateUnused, ReasonNotRegistered, "Target is not registered to the target group", at(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := viewOf(runHealth(t0, tt.steps))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("health after %v (-want +got):\n%s", tt.steps, diff)
			}
		})
	}
}

func TestHealth_CheckingLeavesOtherStatesAlone(t *testing.T) {
	h := runHealth(time.Unix(0, 0), []string{"pass", "500", "500"})
	if diff := cmp.Diff(viewOf(h), viewOf(h.checking())); diff != "" {
		t.Errorf("checking changed an unhealthy target (-before +after):\n%s", diff)
	}
}
