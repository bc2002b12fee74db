// Package spec is the stack file: the types of shoal.yaml, their defaults,
// decoding with file:line:column positions, and validation.
//
// The doc comment of every field is its user documentation; the default is
// written next to it and is the AWS default unless said otherwise. Durations
// are written either as a number of seconds (`30`, as in the AWS APIs) or as a
// Go duration string (`500ms`, `1m30s`).
//
// This package imports only the standard library and the YAML decoder.
package spec

import "time"

// Stack is one shoal.yaml: everything shoal runs.
type Stack struct {
	// Name of the stack. Default: the name of the folder that holds the file.
	Name string `yaml:"name" json:"name"`
	// LoadBalancers by name. Each has listeners that take client traffic.
	LoadBalancers map[string]*LoadBalancer `yaml:"load_balancers" json:"load_balancers,omitempty"`
	// TargetGroups by name: pools of targets with a health check.
	TargetGroups map[string]*TargetGroup `yaml:"target_groups" json:"target_groups,omitempty"`
	// Cluster is the set of instances that tasks are placed on.
	Cluster Cluster `yaml:"cluster" json:"cluster"`
	// TaskDefinitions by name: how to start one copy of an application.
	TaskDefinitions map[string]*TaskDefinition `yaml:"task_definitions" json:"task_definitions,omitempty"`
	// Services by name: each keeps a number of tasks of a task definition running.
	Services map[string]*Service `yaml:"services" json:"services,omitempty"`

	// File is the path the stack was read from ("" when parsed from memory).
	File string `yaml:"-" json:"-"`
	// Dir is the folder relative paths in the stack are resolved against:
	// the folder of File.
	Dir string `yaml:"-" json:"-"`

	// src is where each field was written, so that Validate can point at
	// lines; nil for a stack built in code.
	src *source
}

// LoadBalancer is a named set of listeners, like an AWS Application Load
// Balancer.
type LoadBalancer struct {
	// Listeners take connections and route each request. At least one.
	Listeners []*Listener `yaml:"listeners" json:"listeners"`
	// IdleTimeout is how long the load balancer waits for a target to
	// answer before it gives up with 504, 1-4000 s. Default: 60 s.
	IdleTimeout Duration `yaml:"idle_timeout" json:"idle_timeout"`
}

// Listener accepts client connections on one address and port.
type Listener struct {
	// Port to listen on, 1-65535; 0 picks a free port (printed at start).
	// Required.
	Port int `yaml:"port" json:"port"`
	// Address to listen on. Default: 127.0.0.1 (only this machine). Use
	// 0.0.0.0 to take traffic from other machines, as an internet-facing ALB
	// does.
	Address string `yaml:"address" json:"address"`
	// Protocol of the listener. Default: http. (https comes later.)
	Protocol string `yaml:"protocol" json:"protocol"`
	// DefaultAction is what the listener does with every request. Required.
	DefaultAction Action `yaml:"default_action" json:"default_action"`
}

// Action is what a listener does with a request. Exactly one kind is set.
type Action struct {
	// Forward sends the request to a target group.
	Forward *ForwardAction `yaml:"forward" json:"forward,omitempty"`
}

// ForwardAction forwards requests to a target group.
type ForwardAction struct {
	// TargetGroup is the name of the target group. Required.
	TargetGroup string `yaml:"target_group" json:"target_group"`
}

// TargetGroup is a pool of targets that a load balancer forwards to, with
// the health check that decides which of them get traffic.
type TargetGroup struct {
	// Protocol used to reach the targets. Default: http.
	Protocol string `yaml:"protocol" json:"protocol"`
	// Algorithm that picks a target among the healthy ones.
	// Default: round_robin (the only one so far).
	Algorithm string `yaml:"algorithm" json:"algorithm"`
	// HealthCheck decides which targets are healthy.
	HealthCheck HealthCheck `yaml:"health_check" json:"health_check"`
	// DeregistrationDelay is how long a deregistered target keeps serving
	// its in-flight requests (state draining) before it is dropped; draining
	// ends early once nothing is in flight. 0-3600 s. Default: 300 s.
	DeregistrationDelay Duration `yaml:"deregistration_delay" json:"deregistration_delay"`
	// Targets lists static targets as address:port, for servers shoal does
	// not run (like ALB IP targets registered by hand). Services register
	// their own tasks; they need not be listed. Default: none.
	Targets []string `yaml:"targets" json:"targets,omitempty"`
}

// HealthCheck is an ALB target group health check.
type HealthCheck struct {
	// Path requested with GET. Must start with /. Default: /.
	Path string `yaml:"path" json:"path"`
	// Port checked: traffic-port (the port the target takes traffic on) or
	// a number. Default: traffic-port.
	Port string `yaml:"port" json:"port"`
	// Interval between two checks of one target. AWS allows 5-300 s; shoal
	// also allows down to 100ms for local work. Default: 30 s.
	Interval Duration `yaml:"interval" json:"interval"`
	// Timeout after which a check with no answer fails. Must be less than
	// Interval. Default: 5 s.
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// HealthyThreshold is how many consecutive passes make an unhealthy
	// target healthy again. 2-10. Default: 5. (A new target needs only one
	// pass to leave `initial`.)
	HealthyThreshold int `yaml:"healthy_threshold" json:"healthy_threshold"`
	// UnhealthyThreshold is how many consecutive failures make a target
	// unhealthy. 2-10. Default: 2.
	UnhealthyThreshold int `yaml:"unhealthy_threshold" json:"unhealthy_threshold"`
	// Matcher lists the HTTP codes that count as a pass: single codes and
	// ranges, comma-separated, each within 200-499 ("200", "200,202",
	// "200-299"). Default: 200.
	Matcher Matcher `yaml:"matcher" json:"matcher"`
}

// Cluster is the set of instances tasks are placed on.
type Cluster struct {
	// Instances is how many instances the cluster has, 1-250. Instance N
	// has the loopback address 127.0.0.(N+1), which its tasks bind to (on
	// a host with only 127.0.0.1, like macOS without lo0 aliases, they
	// share 127.0.0.1).
	// Default: 1.
	Instances int `yaml:"instances" json:"instances"`
	// HostPortRange is the range dynamic host ports are taken from, as
	// "first-last". Default: the kernel's ephemeral port range, as ECS
	// does (Linux: /proc/sys/net/ipv4/ip_local_port_range; macOS: the
	// net.inet.ip.portrange.first and .last sysctls).
	HostPortRange string `yaml:"host_port_range" json:"host_port_range,omitempty"`
}

// TaskDefinition says how to start one copy of an application.
type TaskDefinition struct {
	// Command starts the task: a list (run as is) or a string (run by
	// /bin/sh -c). It runs in WorkingDir, with PORT set to the task's
	// dynamic host port and HOST to its instance's address, which it must
	// listen on. Required.
	Command Command `yaml:"command" json:"command"`
	// Build is a shell command run once, in WorkingDir, before the first
	// task of this definition starts (for example `go build -o bin/app .`).
	// If it fails nothing starts. Default: none.
	Build string `yaml:"build" json:"build,omitempty"`
	// WorkingDir of the command and of Build, relative to the stack file's
	// folder. Default: the stack file's folder.
	WorkingDir string `yaml:"working_dir" json:"working_dir,omitempty"`
	// Port is the container port the application listens on, 1-65535. The
	// process driver gives every task a dynamic host port in PORT instead,
	// like ECS host port 0 with bridge networking, and passes this port as
	// SHOAL_CONTAINER_PORT. Default: none.
	Port int `yaml:"port" json:"port,omitempty"`
	// Environment variables given to the task, on top of shoal's own
	// (PORT, HOST, SHOAL_TASK_ID, SHOAL_SERVICE, SHOAL_INSTANCE,
	// SHOAL_CONTAINER_PORT) and the environment shoal runs in. A value may
	// name a service the task's service depends on:
	// ${services.NAME.address} is a local host:port that reaches a healthy
	// task of it, ${services.NAME.host} and ${services.NAME.port} its parts.
	// Default: none.
	Environment map[string]string `yaml:"environment" json:"environment,omitempty"`
	// StopTimeout is how long a task has to exit after SIGTERM before it is
	// killed with SIGKILL. 0-120 s. Default: 30 s.
	StopTimeout Duration `yaml:"stop_timeout" json:"stop_timeout"`
}

// Service keeps tasks of a task definition running and registered.
type Service struct {
	// TaskDefinition is the name of the task definition to run. Required.
	TaskDefinition string `yaml:"task_definition" json:"task_definition"`
	// Desired is how many tasks to keep running, 0-1000. Default: 1.
	Desired int `yaml:"desired" json:"desired"`
	// SchedulingStrategy: replica (keep Desired tasks, spread across
	// instances). Default: replica.
	SchedulingStrategy string `yaml:"scheduling_strategy" json:"scheduling_strategy"`
	// TargetGroup the service registers its tasks in. Default: none.
	TargetGroup string `yaml:"target_group" json:"target_group,omitempty"`
	// HealthCheckGracePeriod is how long after a task starts its failing
	// load balancer health checks are ignored, so that a slow starter is
	// not replaced. Default: 0.
	HealthCheckGracePeriod Duration `yaml:"health_check_grace_period" json:"health_check_grace_period"`
	// DependsOn names the services this one needs (a cache, a database):
	// its tasks start only once each of them has a healthy task, and its
	// task definition's environment can name their address with
	// ${services.NAME.address} (also .host and .port). A service without a
	// target group is healthy once its task accepts TCP connections.
	// Default: none.
	DependsOn []string `yaml:"depends_on,omitempty" json:"depends_on,omitempty"`
}

// Command is an argv. In YAML it is a list, or a string run by /bin/sh -c.
type Command []string

// Duration is a time.Duration written in YAML as seconds (30) or as a Go
// duration string ("500ms").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults, the AWS ones unless noted.
const (
	DefaultListenerAddress     = "127.0.0.1"
	DefaultProtocol            = "http"
	DefaultAlgorithm           = "round_robin"
	DefaultHealthCheckPath     = "/"
	TrafficPort                = "traffic-port"
	DefaultInterval            = 30 * time.Second
	DefaultTimeout             = 5 * time.Second
	DefaultHealthyThreshold    = 5
	DefaultUnhealthyThreshold  = 2
	DefaultMatcher             = "200"
	DefaultDeregistrationDelay = 300 * time.Second
	DefaultIdleTimeout         = 60 * time.Second
	DefaultStopTimeout         = 30 * time.Second
	DefaultDesired             = 1
	DefaultInstances           = 1
	StrategyReplica            = "replica"
)
