package proxy

import (
	"context"
	"net"
	"os"
	"syscall"
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

// testProbe is the health check the health tests' results come from.
var testProbe = probe{addr: "127.0.0.2:44842", path: "/health", timeout: 5 * time.Second}

// Descriptions of testProbe's failures.
const (
	timedOutDesc = "Request timed out at 127.0.0.2:44842: no answer to GET /health within the 5s health check timeout"
	refusedDesc  = "Health checks failed: connection refused at 127.0.0.2:44842: nothing listens there; " +
		"the app must listen on $HOST:$PORT (it may have bound 127.0.0.1, localhost or another port)"
)

// runHealth feeds steps to a new target's health, one second apart: the
// target registers at t0, step i happens at t0+(i+1)s.
func runHealth(t0 time.Time, steps []string) health {
	th := thresholds{healthy: 3, unhealthy: 2}
	p := testProbe
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
			h = h.observe(p.codeMismatch(code), th, now)
		case "timeout":
			h = h.observe(p.fail(causeTimeout), th, now)
		case "refused":
			h = h.observe(p.fail(causeRefused), th, now)
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
			unhealthy(3, ReasonTimeout, timedOutDesc)},
		{"initial: failures then a pass", []string{"checking", "500", "pass"}, healthy(3)},
		{"healthy: one failure stays healthy", []string{"pass", "500"}, healthy(1)},
		{"healthy: unhealthy_threshold failures, response code", []string{"pass", "500", "500"},
			unhealthy(3, ReasonResponseCodeMismatch, mismatch500)},
		{"healthy: unhealthy_threshold failures, timeout", []string{"pass", "timeout", "timeout"},
			unhealthy(3, ReasonTimeout, timedOutDesc)},
		{"healthy: unhealthy_threshold failures, connection", []string{"pass", "refused", "refused"},
			unhealthy(3, ReasonFailedHealthChecks, refusedDesc)},
		{"healthy: reason is the last failure's", []string{"pass", "refused", "404"},
			unhealthy(3, ReasonResponseCodeMismatch, "Health checks failed with these codes: [404]")},
		{"healthy: a pass resets the failure streak", []string{"pass", "500", "pass", "500"}, healthy(1)},
		{"unhealthy: passes below healthy_threshold", []string{"pass", "500", "500", "pass", "pass"},
			unhealthy(3, ReasonResponseCodeMismatch, mismatch500)},
		{"unhealthy: healthy_threshold passes", []string{"pass", "500", "500", "pass", "pass", "pass"},
			healthy(6)},
		{"unhealthy: a failure resets the pass streak",
			[]string{"pass", "500", "500", "pass", "pass", "refused", "pass", "pass"},
			unhealthy(3, ReasonFailedHealthChecks, refusedDesc)},
		{"unhealthy: reason follows the latest failure", []string{"pass", "500", "500", "timeout"},
			unhealthy(3, ReasonTimeout, timedOutDesc)},
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

func TestCheckResult_ReasonAndDescription(t *testing.T) {
	p := testProbe
	tests := []struct {
		name   string
		r      checkResult
		reason Reason
		desc   string
	}{
		{"pass", checkPassed(), "", ""},
		{"code mismatch", p.codeMismatch(404), ReasonResponseCodeMismatch, "Health checks failed with these codes: [404]"},
		{"timeout", p.fail(causeTimeout), ReasonTimeout, timedOutDesc},
		{"refused", p.fail(causeRefused), ReasonFailedHealthChecks, refusedDesc},
		{"closed", p.fail(causeClosed), ReasonFailedHealthChecks,
			"Health checks failed: connection closed at 127.0.0.2:44842: the app accepted the connection but closed it before answering GET /health"},
		{"not HTTP", p.fail(causeNotHTTP), ReasonFailedHealthChecks,
			"Health checks failed: malformed HTTP response at 127.0.0.2:44842: the port does not speak HTTP (is it HTTPS or another protocol?)"},
		{"connection failed", p.failDetail(causeConnect, "no route to host"), ReasonFailedHealthChecks,
			"Health checks failed: connection failed at 127.0.0.2:44842: no route to host"},
		{"other", p.failDetail(causeOther, "too many open files"), ReasonFailedHealthChecks,
			"Health checks failed: GET /health failed at 127.0.0.2:44842: too many open files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.r.pass() != (tt.reason == "") || tt.r.reason() != tt.reason || tt.r.description() != tt.desc {
				t.Errorf("got pass %v, %q: %q\nwant %q: %q", tt.r.pass(), tt.r.reason(), tt.r.description(), tt.reason, tt.desc)
			}
		})
	}
}

// TestHealth_InternalErrorsAreNotTheTargets: a check shoal could not make
// for its own reasons (out of file descriptors) is classified as
// Elb.InternalError and changes neither the state nor the streaks.
func TestHealth_InternalErrorsAreNotTheTargets(t *testing.T) {
	err := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}
	r := testProbe.classify(context.Background(), err, false, false)
	if r.cause != causeInternal || r.reason() != ReasonInternalError {
		t.Fatalf("EMFILE: got cause %d reason %s, want causeInternal, %s", r.cause, r.reason(), ReasonInternalError)
	}
	th := thresholds{healthy: 3, unhealthy: 2}
	now := time.Unix(0, 0)
	h := runHealth(now, []string{"pass", "500"}) // healthy, one failure of two
	for range 5 {
		h = h.observe(r, th, now)
	}
	if h.state != StateHealthy || h.fails != 1 {
		t.Errorf("after 5 internal errors: %s with %d failures in a row, want healthy with 1", h.state, h.fails)
	}
}
