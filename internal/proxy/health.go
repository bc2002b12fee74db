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
	// ReasonInternalError is ALB's code for a check that failed for the
	// load balancer's own reasons.
	ReasonInternalError Reason = "Elb.InternalError"
	// ReasonRefusedConnection is shoal's own: a healthy target out of
	// rotation since a request found it refusing connections, until its
	// next passing check (ALB has no passive health check).
	ReasonRefusedConnection Reason = "Shoal.RefusedConnection"
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
	// Requests is how many requests the load balancer has sent to the
	// target in this group since it was registered, whether they were
	// answered or failed (502, 504, the client going away). It starts
	// again at 0 when the target is registered again. Health checks do not
	// count. Service auto scaling reads it per task (ALBRequestCountPerTarget).
	Requests uint64 `json:"requests"`
	// Fault says what an injected fault does to the target (`shoal
	// fault health|latency|errors`), while one does.
	Fault string `json:"fault,omitempty"`
}

// checkCause is why a health check failed. The reason code says it the
// AWS way; the cause picks the description, which says what to do.
type checkCause int

const (
	causeNone    checkCause = iota // the check passed
	causeCode                      // an answer with a code the matcher rejects
	causeTimeout                   // no answer within the timeout
	causeRefused                   // connection refused: nothing listens at the address
	causeClosed                    // connection closed or reset before an answer
	causeNotHTTP                   // an answer that is not HTTP
	causeConnect                   // the connection failed otherwise
	causeOther                     // any other error
	// causeInternal: the check could not be made for shoal's own reasons
	// (out of file descriptors or memory). ALB reports Elb.InternalError;
	// shoal never counts it against the target (see observe).
	causeInternal
	// causeFault: an injected fault failed the check (SetHealthFault).
	// It reads as ALB's Target.FailedHealthChecks, the code of a check
	// that got no usable answer.
	causeFault
)

// probe is one health check to make: GET path at addr (host:port) within
// timeout.
type probe struct {
	// scheme is https for a target group whose targets speak TLS.
	scheme     string
	addr, path string
	timeout    time.Duration
	// port is the target group's health check port; 0 when checks go to
	// the traffic port.
	port int
}

// checkResult is the outcome of one health check: passed, or failed with a
// cause at an address, from which come the reason code and the description
// a failing target gets.
type checkResult struct {
	cause  checkCause // causeNone: passed
	probe  probe      // the check made
	code   int        // causeCode: the status code answered
	detail string     // causeConnect, causeOther: what went wrong
}

func checkPassed() checkResult { return checkResult{} }

// fail is a failed check of p.
func (p probe) fail(c checkCause) checkResult { return checkResult{cause: c, probe: p} }

// codeMismatch: the target answered code, which the matcher rejects.
func (p probe) codeMismatch(code int) checkResult {
	return checkResult{cause: causeCode, probe: p, code: code}
}

// failDetail is a failure of no known cause; detail says what went wrong.
func (p probe) failDetail(c checkCause, detail string) checkResult {
	return checkResult{cause: c, probe: p, detail: detail}
}

func (r checkResult) pass() bool { return r.cause == causeNone }

// reason is the AWS reason code of a failed check.
func (r checkResult) reason() Reason {
	switch r.cause {
	case causeNone:
		return ""
	case causeCode:
		return ReasonResponseCodeMismatch
	case causeTimeout:
		return ReasonTimeout
	case causeInternal:
		return ReasonInternalError
	}
	// AWS: "the load balancer received an error while establishing a
	// connection to the target or the target response was malformed".
	return ReasonFailedHealthChecks
}

// description says what failed and, where the cause tells, what to do. It
// starts with AWS's description of the reason, and names the address
// checked as "… at host:port: …", so that where the target's own address is
// already named (as in the agent's event lines) it can be left out.
func (r checkResult) description() string {
	p := r.probe
	switch r.cause {
	case causeNone:
		return ""
	case causeCode:
		return fmt.Sprintf("Health checks failed with these codes: [%d]", r.code) // AWS's words
	case causeTimeout:
		return fmt.Sprintf("%s at %s: no answer to GET %s within the %v health check timeout",
			descTimeout, p.addr, p.path, p.timeout)
	case causeRefused:
		where := "the app must listen on $HOST:$PORT"
		if p.port != 0 {
			where = fmt.Sprintf("the app must answer health checks on $HOST:%d, the target group's health check port", p.port)
		}
		return fmt.Sprintf("%s: connection refused at %s: nothing listens there; %s (it may have bound 127.0.0.1, localhost or another port)",
			descFailedHealthChecks, p.addr, where)
	case causeClosed:
		return fmt.Sprintf("%s: connection closed at %s: the app accepted the connection but closed it before answering GET %s",
			descFailedHealthChecks, p.addr, p.path)
	case causeNotHTTP:
		return fmt.Sprintf("%s: malformed HTTP response at %s: the port does not speak HTTP (is it HTTPS or another protocol?)",
			descFailedHealthChecks, p.addr)
	case causeConnect:
		return fmt.Sprintf("%s: connection failed at %s: %s", descFailedHealthChecks, p.addr, r.detail)
	case causeInternal:
		return fmt.Sprintf("The health check of %s could not be made for shoal's own reasons (%s); not counted against the target", p.addr, r.detail)
	case causeFault:
		return fmt.Sprintf("%s at %s: %s", descFailedHealthChecks, p.addr, r.detail)
	}
	return fmt.Sprintf("%s: GET %s failed at %s: %s", descFailedHealthChecks, p.path, p.addr, r.detail)
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
	if r.cause == causeInternal {
		return h // shoal's failure, not the target's: no streak changes
	}
	if r.pass() {
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
		h.reason, h.description = r.reason(), r.description() // latest failure
	case h.fails >= th.unhealthy:
		h = h.enter(StateUnhealthy, r.reason(), r.description(), now)
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
