package proxy

import (
	"fmt"
	"time"
)

// State is the health state of a target, named as AWS TargetHealth.State
// (in lower case).
type State string

// Target health states. A target moves initial → healthy ⇄ unhealthy while
// it is registered, and draining → unused once it is deregistered.
const (
	StateInitial   State = "initial"
	StateHealthy   State = "healthy"
	StateUnhealthy State = "unhealthy"
	StateDraining  State = "draining"
	StateUnused    State = "unused"
)

// String returns the state's name.
func (s State) String() string { return string(s) }

// Reason explains a state other than healthy, with the AWS reason codes.
type Reason string

// Reason codes, as in AWS TargetHealth.Reason. A healthy target has none.
const (
	ReasonRegistrationInProgress   Reason = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    Reason = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch     Reason = "Target.ResponseCodeMismatch"
	ReasonTimeout                  Reason = "Target.Timeout"
	ReasonFailedHealthChecks       Reason = "Target.FailedHealthChecks"
	ReasonDeregistrationInProgress Reason = "Target.DeregistrationInProgress"
	// ReasonNotRegistered is the reason of a target that has finished
	// draining: AWS reports a deregistered target as unused with this code.
	ReasonNotRegistered Reason = "Target.NotRegistered"
)

// String returns the reason code.
func (r Reason) String() string { return string(r) }

// Descriptions that go with the reasons, as AWS words them.
const (
	descRegistrationInProgress   = "Target registration is in progress"
	descInitialHealthChecking    = "Initial health checks in progress"
	descTimeout                  = "Request timed out"
	descFailedHealthChecks       = "Health checks failed"
	descDeregistrationInProgress = "Target deregistration is in progress"
	descNotRegistered            = "Target is not registered to the target group"
)

// HealthChange is one change of a target's state, reported through
// Options.OnHealthChange. Registration is reported as a change from unused
// (AWS's state of a target that is not registered) to initial.
type HealthChange struct {
	Group, Target string
	From, To      State
	Reason        Reason
	Description   string
	At            time.Time
}

// TargetHealth is the health of one registered (or draining) target.
type TargetHealth struct {
	Group       string `json:"target_group"`
	Target      string `json:"target"`
	State       State  `json:"state"`
	Reason      Reason `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	// Since is when the target entered State.
	Since time.Time `json:"since"`
	// InFlight is how many requests the target is serving now.
	InFlight int `json:"in_flight"`
}

// checkResult is the outcome of one health check.
type checkResult struct {
	pass        bool
	reason      Reason
	description string
}

func checkPassed() checkResult { return checkResult{pass: true} }

func checkCodeMismatch(code int) checkResult {
	return checkResult{
		reason:      ReasonResponseCodeMismatch,
		description: fmt.Sprintf("Health checks failed with these codes: [%d]", code),
	}
}

func checkTimedOut() checkResult {
	return checkResult{reason: ReasonTimeout, description: descTimeout}
}

func checkFailed() checkResult {
	return checkResult{reason: ReasonFailedHealthChecks, description: descFailedHealthChecks}
}

// thresholds are the consecutive results that flip a target's health.
type thresholds struct {
	healthy, unhealthy int
}

// health is the state machine of one target's health. It does no I/O and
// reads no clock: the caller feeds it results and the time. Its methods
// return the next value and leave the receiver alone.
type health struct {
	state       State
	reason      Reason
	description string
	since       time.Time
	// passes and fails are the current streaks of consecutive results.
	passes, fails int
}

// newHealth is the health of a target registered at now.
func newHealth(now time.Time) health {
	return health{
		state:       StateInitial,
		reason:      ReasonRegistrationInProgress,
		description: descRegistrationInProgress,
		since:       now,
	}
}

// checking notes that health checks of the target have started.
func (h health) checking() health {
	if h.state == StateInitial {
		h.reason, h.description = ReasonInitialHealthChecking, descInitialHealthChecking
	}
	return h
}

// observe feeds one check result to the state machine.
func (h health) observe(r checkResult, th thresholds, now time.Time) health {
	switch h.state {
	case StateInitial, StateHealthy, StateUnhealthy:
	default:
		return h // draining and unused targets are not checked
	}
	if r.pass {
		h.passes, h.fails = h.passes+1, 0
		// One pass is enough to leave initial.
		if h.state == StateInitial || (h.state == StateUnhealthy && h.passes >= th.healthy) {
			h = h.enter(StateHealthy, "", "", now)
		}
		return h
	}
	h.passes, h.fails = 0, h.fails+1
	switch {
	case h.state == StateUnhealthy:
		h.reason, h.description = r.reason, r.description // latest failure
	case h.fails >= th.unhealthy:
		h = h.enter(StateUnhealthy, r.reason, r.description, now)
	}
	return h
}

// drain is the health of a target being deregistered.
func (h health) drain(now time.Time) health {
	return h.enter(StateDraining, ReasonDeregistrationInProgress, descDeregistrationInProgress, now)
}

// unused is the health of a target that is no longer registered.
func (h health) unused(now time.Time) health {
	return h.enter(StateUnused, ReasonNotRegistered, descNotRegistered, now)
}

func (h health) enter(s State, r Reason, desc string, now time.Time) health {
	if s != h.state {
		h.since = now
	}
	h.state, h.reason, h.description = s, r, desc
	return h
}
