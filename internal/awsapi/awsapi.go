// Package awsapi serves the part of the Amazon ECS and Elastic Load
// Balancing v2 APIs that maps onto a running stack, so that the unmodified
// AWS CLI and SDKs drive shoal: every call acts on the actual tasks,
// targets and traffic, through the same agent and load balancer as the
// shoal CLI.
//
// One HTTP endpoint takes both services, told apart as AWS's own
// endpoints do: ECS requests use the JSON 1.1 protocol
// (X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>), ELBv2
// requests the query protocol (a form with Action and Version, answered in
// XML). Every request must carry a valid Signature Version 4 signature made
// with shoal's access key (see Credentials); the region and service in the
// signature's scope must be the stack's region and "ecs" or
// "elasticloadbalancing".
//
// An operation shoal does not implement is refused with
// UnsupportedOperation, naming it, never answered with a made-up success.
// docs/aws-api.md lists what is supported, parameter by parameter.
package awsapi

import (
	"context"
	"errors"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/proxy"
)

// AccountID is the account every ARN names: a fixed local one, as
// emulators use, so that ARNs are stable across runs.
const AccountID = "000000000000"

// DefaultRegion is the region when the stack does not name one.
const DefaultRegion = "us-east-1"

// Backend is what the API acts on: the agent and the load balancer of a
// running shoal (package cli implements it).
//
// Errors wrapping agent.ErrNotFound or agent.ErrInvalid are the caller's
// mistake and become AWS client errors carrying the error's message; any
// other error is shoal's own and becomes a server error.
type Backend interface {
	// Status is the stack: its name, file, listeners and services.
	Status() agent.Status
	// Services lists the services with their deployments, counts and
	// deployment settings.
	Services() []agent.ServiceStatus
	// Tasks lists the tasks; with all, the stopped ones the agent still
	// remembers too.
	Tasks(all bool) []agent.TaskStatus
	// Events are the agent's events after seq (0: all it keeps), oldest
	// first, in ECS's sentences.
	Events(since int64) []agent.Event
	// Instances lists the cluster's container instances.
	Instances() []agent.InstanceStatus
	// InstanceAction drains ("drain"), activates ("activate") or stops
	// ("stop") an instance.
	InstanceAction(name, action string) error
	// UpdateService changes a service as ECS's UpdateService: desired
	// count, task definition revision, a forced new deployment, deployment
	// settings.
	UpdateService(name string, u agent.ServiceUpdate) error
	// StopTask stops a task (id or unique prefix) with ECS's
	// UserInitiated stop code and the reason given.
	StopTask(id, reason string) error
	// TaskDefinitions lists every family's revisions, ACTIVE and INACTIVE,
	// by family then number.
	TaskDefinitions() []agent.FamilyRevision
	// RegisterTaskDefinition registers def as the next revision of family.
	RegisterTaskDefinition(family string, def agent.TaskDefinition) (agent.FamilyRevision, error)
	// DeregisterTaskDefinition makes a revision INACTIVE: no new service
	// deployment may use it; running tasks keep running.
	DeregisterTaskDefinition(family string, number int) (agent.FamilyRevision, error)

	// LoadBalancer is the load balancer's configuration as it is served
	// now, changes made through this API included. Listener names are
	// "<load balancer>/<index>".
	LoadBalancer() proxy.Config
	// Targets is every target's health, as DescribeTargetHealth reports
	// it.
	Targets() []proxy.TargetHealth
	// ModifyLoadBalancer changes the served configuration: change gets a
	// copy of it to edit; the result is checked, applied without dropping
	// a request, and recorded, or refused whole (an error from change
	// itself is returned as is).
	ModifyLoadBalancer(ctx context.Context, change func(*proxy.Config) error) error
}

// Config is the endpoint's settings.
type Config struct {
	// Region every ARN names and every signature's scope must carry.
	Region string
	// Credentials are the only ones accepted.
	Credentials Credentials
}

// Credentials are an access key and its secret, as an AWS user's.
type Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// Error is an AWS error: a code from the service's list, an HTTP status,
// and a message. Handlers return it; the protocol writes it in the
// service's shape (JSON for ECS, XML for ELBv2).
type Error struct {
	Code    string
	Status  int
	Message string
	// Sender is true for the caller's mistakes ("Sender" in ELBv2's
	// <Type>), false for shoal's own ("Receiver").
	Sender bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// clientError is a 400 error with code, the caller's mistake.
func clientError(code, msg string) *Error {
	return &Error{Code: code, Status: 400, Message: msg, Sender: true}
}

// serverError is shoal's own failure.
func serverError(code, msg string) *Error {
	return &Error{Code: code, Status: 500, Message: msg}
}

// unsupported refuses an operation shoal does not implement.
func unsupported(service, op string) *Error {
	return clientError("UnsupportedOperation", "shoal does not implement "+service+":"+op+"; see docs/aws-api.md for the operations it serves")
}

// asError maps a Backend error to an AWS error: notFound and invalid are
// the codes the operation uses for agent.ErrNotFound and agent.ErrInvalid
// (ECS: ServiceNotFoundException, InvalidParameterException; ELBv2:
// TargetGroupNotFound, ValidationError); anything else is shoal's own.
func asError(err error, notFound, invalid, internal string) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, agent.ErrNotFound):
		return clientError(notFound, err.Error())
	case errors.Is(err, agent.ErrInvalid):
		return clientError(invalid, err.Error())
	default:
		return serverError(internal, err.Error())
	}
}
