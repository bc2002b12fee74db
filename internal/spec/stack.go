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
	// AWSAPI is the endpoint that serves the ECS and ELBv2 APIs, so that
	// the AWS CLI and SDKs drive the running stack.
	AWSAPI AWSAPI `yaml:"aws_api" json:"aws_api"`
	// Metrics is the Prometheus endpoint that serves the load balancer's
	// metrics, named after ALB's CloudWatch metrics. Default: off.
	Metrics Metrics `yaml:"metrics" json:"metrics"`
	// Dashboard is the live web dashboard shoal up serves: the stack as a
	// picture, its events, and buttons to scale services, stop tasks and
	// drain instances. Default: on, at 127.0.0.1, a free port.
	Dashboard Dashboard `yaml:"dashboard" json:"dashboard"`
	// Registry is a container image registry that shoal up runs, as the
	// tutorial's ECR: `docker push 127.0.0.1:5000/catalog:1`, then a task
	// definition's image names it. Default: off.
	Registry Registry `yaml:"registry" json:"registry"`
	// SecurityGroups by name: allow-lists of inbound connections, as AWS
	// security groups. A load balancer's groups guard its listeners, the
	// cluster's guard its instances' task ports (enforced with
	// cluster.isolation: netns), a service's add to its instances' for its
	// own task ports. Default: none (everything may connect).
	SecurityGroups map[string]*SecurityGroup `yaml:"security_groups,omitempty" json:"security_groups,omitempty"`

	// File is the path the stack was read from ("" when parsed from memory).
	File string `yaml:"-" json:"-"`
	// Dir is the folder relative paths in the stack are resolved against:
	// the folder of File.
	Dir string `yaml:"-" json:"-"`

	// src is where each field was written, so that Validate can point at
	// lines; nil for a stack built in code.
	src *source
	// loadWarnings are what reading the files the stack names found to
	// say (ECS task definitions' fields shoal does not implement).
	loadWarnings ErrorList
}

// LoadBalancer is a named set of listeners, like an AWS Application Load
// Balancer.
type LoadBalancer struct {
	// Listeners take connections and route each request. At least one.
	Listeners []*Listener `yaml:"listeners" json:"listeners"`
	// IdleTimeout is ALB's connection idle timeout, 1-4000 s: a request
	// whose connection to the client or to its target carried no data
	// either way for this long ends (504 when the target had not started
	// answering), and a client connection idle between requests closes.
	// Default: 60 s.
	IdleTimeout Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// ClientKeepAlive is the longest a client connection stays open, as
	// ALB's client_keep_alive.seconds, 60-604800 s: past it, the
	// connection closes after the request in progress. Default: 3600 s.
	ClientKeepAlive Duration `yaml:"client_keep_alive" json:"client_keep_alive"`
	// HeaderReadTimeout is how long a client may take to send a whole
	// request head, from its first byte (or the connection's start), 1-
	// 4000 s: a slow sender (slowloris) is closed past it. shoal's own
	// setting; ALB's is not published. Default: 10 s.
	HeaderReadTimeout Duration `yaml:"header_read_timeout" json:"header_read_timeout"`
	// DesyncMitigationMode is how the load balancer treats requests that
	// could be read two ways (HTTP desync), as ALB's
	// routing.http.desync_mitigation_mode: monitor forwards them all;
	// defensive answers severe ones 400 and closes the connections after
	// ambiguous ones; strictest answers 400 to both. Default: defensive.
	DesyncMitigationMode string `yaml:"desync_mitigation_mode" json:"desync_mitigation_mode"`
	// AccessLog writes a line per request the load balancer answered, with
	// the fields of ALB's access log, in its order.
	AccessLog AccessLog `yaml:"access_log" json:"access_log"`
	// XFFHeaderProcessing is what the load balancer does with a request's
	// X-Forwarded-For header, as ALB's routing.http.xff_header_processing.mode:
	// append (add the client's address), preserve (forward it unchanged;
	// none is added when absent) or remove (drop it). Default: append.
	XFFHeaderProcessing string `yaml:"xff_header_processing" json:"xff_header_processing"`
	// XFFClientPort appends the client's port too (ip:port), as ALB's
	// routing.http.xff_client_port.enabled; append only. Default: false.
	XFFClientPort bool `yaml:"xff_client_port" json:"xff_client_port"`
	// MaxRequestBody is the largest request body the load balancer takes,
	// in bytes: a larger one is answered 413, before it goes to a target
	// when its Content-Length says so, else as soon as it runs past (the
	// request is then cut short). shoal's own setting: ALB has no such
	// limit. 0 is none. Default: 0.
	MaxRequestBody int64 `yaml:"max_request_body" json:"max_request_body"`
	// SecurityGroups name the groups that guard the load balancer's
	// listeners: a connection whose source no rule of them allows is
	// closed before a byte is read. Default: none (anyone may connect).
	SecurityGroups []string `yaml:"security_groups,omitempty" json:"security_groups,omitempty"`
}

// AccessLog is a load balancer's access log.
type AccessLog struct {
	// Enabled turns the log on. Default: false.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Path is the file the lines are appended to (created when missing),
	// relative to the stack file's folder; - is shoal's standard output.
	// Default: -.
	Path string `yaml:"path" json:"path"`
	// Format is alb (ALB's space-separated line, quoted fields as ALB
	// quotes them) or json (one object a line, the same fields by ALB's
	// names, every value a string). Default: alb.
	Format string `yaml:"format" json:"format"`
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
	// Protocol of the listener: http or https. Default: http.
	Protocol string `yaml:"protocol" json:"protocol"`
	// Certificates of an https listener, as PEM files relative to the
	// stack file's folder: the first is the default, the others are
	// chosen by the name the client asks for (SNI), as ALB's certificate
	// list. Required for https. Default: none.
	Certificates []Certificate `yaml:"certificates" json:"certificates,omitempty"`
	// Rules route requests by their host, path, headers, method, query
	// string or source address before the default action: the lowest
	// priority first, the first that matches wins. Default: none.
	Rules []*Rule `yaml:"rules" json:"rules,omitempty"`
	// DefaultAction is what the listener does with a request no rule
	// matched. Required.
	DefaultAction Action `yaml:"default_action" json:"default_action"`
	// Headers changes the headers of the listener's answers and the names
	// of the headers it adds to requests, as ALB's listener attributes.
	Headers ListenerHeaders `yaml:"headers" json:"headers"`
}

// ListenerHeaders are a listener's header modifications.
type ListenerHeaders struct {
	// Response headers set on every answer, replacing the target's: only
	// the ones ALB lets a listener set (Strict-Transport-Security,
	// Access-Control-Allow-Origin, -Methods, -Headers, -Credentials,
	// -Expose-Headers, -Max-Age, Content-Security-Policy,
	// X-Content-Type-Options, X-Frame-Options). Default: none.
	Response map[string]string `yaml:"response" json:"response,omitempty"`
	// Server keeps the Server header of the load balancer's own answers;
	// false drops it (ALB's routing.http.response.server.enabled; a
	// target's Server header passes through). Default: true.
	Server bool `yaml:"server" json:"server"`
	// Rename gives the headers the load balancer adds to requests other
	// names, by their usual name. Default: none.
	Rename map[string]string `yaml:"rename" json:"rename,omitempty"`
}

// Certificate is a TLS certificate and its private key.
type Certificate struct {
	// Certificate is the PEM file of the certificate (and its chain).
	// Required.
	Certificate string `yaml:"certificate" json:"certificate"`
	// Key is the PEM file of its private key. Required.
	Key string `yaml:"key" json:"key"`
}

// Rule is a listener rule: when all its conditions match, its action is
// taken.
type Rule struct {
	// Priority orders the listener's rules, 1-50000, lowest first; unique
	// per listener. Required.
	Priority int `yaml:"priority" json:"priority"`
	// Conditions must all match (within one, any value may). At least one.
	Conditions Conditions `yaml:"conditions" json:"conditions"`
	// Action is what the rule does. Required.
	Action Action `yaml:"action" json:"action"`
	// Transforms rewrite the request once the rule matched (the routing
	// decision is made on the original): at most one of each type.
	// Default: none.
	Transforms []Transform `yaml:"transforms" json:"transforms,omitempty"`
}

// Transform rewrites the Host header or the URL of a request a rule
// matched, as ALB's rule transforms.
type Transform struct {
	// Type: host_header_rewrite or url_rewrite. Required.
	Type string `yaml:"type" json:"type"`
	// Regex to match: ALB's dialect, without lookarounds or
	// backreferences. Required.
	Regex string `yaml:"regex" json:"regex"`
	// Replace is what a match becomes; $1, $2 … are its groups.
	// Default: none (the match is removed).
	Replace string `yaml:"replace" json:"replace"`
}

// Conditions of a rule, by type, as ALB's rule conditions.
type Conditions struct {
	// HostHeader patterns, not case-sensitive, with * and ?.
	// Default: none.
	HostHeader []string `yaml:"host_header" json:"host_header,omitempty"`
	// PathPattern patterns, case-sensitive, with * and ?, matched against
	// the path only (not the query string). Default: none.
	PathPattern []string `yaml:"path_pattern" json:"path_pattern,omitempty"`
	// HTTPHeader matches a header's values. Default: none.
	HTTPHeader *HeaderCondition `yaml:"http_header" json:"http_header,omitempty"`
	// HTTPRequestMethod names, case-sensitive (GET, POST). Default: none.
	HTTPRequestMethod []string `yaml:"http_request_method" json:"http_request_method,omitempty"`
	// QueryString pairs: a request matches when one of its query
	// parameters matches one pair. Default: none.
	QueryString []QueryPair `yaml:"query_string" json:"query_string,omitempty"`
	// SourceIP networks (CIDR) the client's address must be in: the
	// connection's peer, never X-Forwarded-For. Default: none.
	SourceIP []string `yaml:"source_ip" json:"source_ip,omitempty"`
}

// HeaderCondition matches one header.
type HeaderCondition struct {
	// Name of the header, not case-sensitive. Required.
	Name string `yaml:"name" json:"name"`
	// Values are patterns, not case-sensitive, with * and ?. Required.
	Values []string `yaml:"values" json:"values"`
}

// QueryPair is a query string condition's key and value; either may hold
// * and ?.
type QueryPair struct {
	// Key of the parameter; empty matches any key. Default: any.
	Key string `yaml:"key" json:"key,omitempty"`
	// Value of the parameter. Required.
	Value string `yaml:"value" json:"value"`
}

// Action is what a listener or a rule does with a request. Exactly one
// kind is set.
type Action struct {
	// Forward sends the request to a target group, or to several by
	// weight.
	Forward *ForwardAction `yaml:"forward" json:"forward,omitempty"`
	// Redirect answers with a redirect to a URL made of the request's
	// parts.
	Redirect *RedirectAction `yaml:"redirect" json:"redirect,omitempty"`
	// FixedResponse answers with a status code and a body.
	FixedResponse *FixedResponseAction `yaml:"fixed_response" json:"fixed_response,omitempty"`
	// AuthenticateOIDC signs users in through an OpenID Connect provider
	// before the action above (https listeners only).
	AuthenticateOIDC *OIDCAuthentication `yaml:"authenticate_oidc" json:"authenticate_oidc,omitempty"`
	// VerifyJWT lets through only requests with a valid JSON Web Token
	// before the action above.
	VerifyJWT *JWTVerification `yaml:"verify_jwt" json:"verify_jwt,omitempty"`
}

// OIDCAuthentication is ALB's authenticate-oidc action.
type OIDCAuthentication struct {
	// Issuer of the provider's tokens. Required.
	Issuer string `yaml:"issuer" json:"issuer"`
	// AuthorizationEndpoint users are sent to, to sign in. Required.
	AuthorizationEndpoint string `yaml:"authorization_endpoint" json:"authorization_endpoint"`
	// TokenEndpoint the load balancer exchanges the code at. Required.
	TokenEndpoint string `yaml:"token_endpoint" json:"token_endpoint"`
	// UserInfoEndpoint the load balancer reads the user's claims from.
	// Required.
	UserInfoEndpoint string `yaml:"user_info_endpoint" json:"user_info_endpoint"`
	// ClientID and ClientSecret of the load balancer at the provider.
	// Required.
	ClientID     string `yaml:"client_id" json:"client_id"`
	ClientSecret string `yaml:"client_secret" json:"client_secret"`
	// Scope asked for. Default: openid.
	Scope string `yaml:"scope" json:"scope"`
	// SessionCookieName. Default: AWSELBAuthSessionCookie.
	SessionCookieName string `yaml:"session_cookie_name" json:"session_cookie_name"`
	// SessionTimeout of a signed-in session, 1 s-7 d. Default: 604800 s.
	SessionTimeout Duration `yaml:"session_timeout" json:"session_timeout"`
	// OnUnauthenticatedRequest: authenticate (send to the provider),
	// allow (forward without the user's claims) or deny (401).
	// Default: authenticate.
	OnUnauthenticatedRequest string `yaml:"on_unauthenticated_request" json:"on_unauthenticated_request"`
	// ExtraParams added to the authorization request. Default: none.
	ExtraParams map[string]string `yaml:"authentication_request_extra_params" json:"authentication_request_extra_params,omitempty"`
}

// JWTVerification is ALB's jwt-validation action.
type JWTVerification struct {
	// JWKSEndpoint serves the keys tokens are signed with. Required.
	JWKSEndpoint string `yaml:"jwks_endpoint" json:"jwks_endpoint"`
	// Issuer a token's iss must equal. Required.
	Issuer string `yaml:"issuer" json:"issuer"`
	// AdditionalClaims a token must carry, up to 10. Default: none.
	AdditionalClaims []ClaimRequirement `yaml:"additional_claims" json:"additional_claims,omitempty"`
}

// ClaimRequirement is a claim a token must carry.
type ClaimRequirement struct {
	// Name of the claim. Required.
	Name string `yaml:"name" json:"name"`
	// Format: single_string, string_array or space_separated_values.
	// Default: single_string.
	Format string `yaml:"format" json:"format"`
	// Values, one of which the claim must hold. Required.
	Values []string `yaml:"values" json:"values"`
}

// ForwardAction forwards requests to a target group, or to up to 5
// weighted ones (blue/green and canary releases).
type ForwardAction struct {
	// TargetGroup is the one target group to forward to; or set
	// TargetGroups. Default: none.
	TargetGroup string `yaml:"target_group" json:"target_group,omitempty"`
	// TargetGroups are up to 5 target groups with weights 0-999; each gets
	// its weight's share of requests. Default: none.
	TargetGroups []WeightedTargetGroup `yaml:"target_groups" json:"target_groups,omitempty"`
	// Stickiness keeps a client on the target group it was first sent to.
	Stickiness *GroupStickiness `yaml:"stickiness" json:"stickiness,omitempty"`
}

// WeightedTargetGroup is a target group and its weight.
type WeightedTargetGroup struct {
	// Name of the target group. Required.
	Name string `yaml:"name" json:"name"`
	// Weight, 0-999: the group's share is its weight over the sum.
	// Default: 1.
	Weight int `yaml:"weight" json:"weight"`
}

// GroupStickiness is target group stickiness of a forward action.
type GroupStickiness struct {
	// Enabled turns it on. Default: false.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Duration a client stays on its target group, 1 s-7 d.
	// Default: 3600 s.
	Duration Duration `yaml:"duration" json:"duration"`
}

// RedirectAction answers with a redirect. Each part may use the request's
// own: #{protocol}, #{host}, #{port}, #{path} (without its leading /, as
// ALB) and #{query}.
type RedirectAction struct {
	// Protocol: HTTP, HTTPS or #{protocol}. Default: #{protocol}.
	Protocol string `yaml:"protocol" json:"protocol"`
	// Host to redirect to. Default: #{host}.
	Host string `yaml:"host" json:"host"`
	// Port, 1-65535 or #{port}. Default: #{port}.
	Port string `yaml:"port" json:"port"`
	// Path, starting with /. Default: /#{path}.
	Path string `yaml:"path" json:"path"`
	// Query without the leading ?. Default: #{query}.
	Query string `yaml:"query" json:"query"`
	// StatusCode: HTTP_301 (permanent) or HTTP_302 (temporary); 301 and
	// 302 are taken too. Required.
	StatusCode string `yaml:"status_code" json:"status_code"`
}

// FixedResponseAction answers every request it gets the same way.
type FixedResponseAction struct {
	// StatusCode: a 2XX, 4XX or 5XX code. Required.
	StatusCode int `yaml:"status_code" json:"status_code"`
	// ContentType: text/plain, text/css, text/html,
	// application/javascript or application/json. Default: text/plain.
	ContentType string `yaml:"content_type" json:"content_type"`
	// MessageBody, up to 1024 bytes. Default: none.
	MessageBody string `yaml:"message_body" json:"message_body,omitempty"`
}

// TargetGroup is a pool of targets that a load balancer forwards to, with
// the health check that decides which of them get traffic.
type TargetGroup struct {
	// Protocol used to reach the targets: http or https (TLS, the
	// target's certificate not verified, as ALB). Default: http.
	Protocol string `yaml:"protocol" json:"protocol"`
	// ProtocolVersion requests are sent to the targets with: HTTP1,
	// HTTP2 (HTTP/2 to the target) or GRPC (HTTP/2 end to end, for gRPC
	// services). Default: HTTP1.
	ProtocolVersion string `yaml:"protocol_version" json:"protocol_version"`
	// Algorithm that picks a target among the healthy ones: round_robin,
	// least_outstanding_requests or weighted_random. Default: round_robin.
	Algorithm string `yaml:"algorithm" json:"algorithm"`
	// SlowStart ramps a newly healthy target's share of requests up
	// linearly over this long: 30-900 s, or 0 for off. Default: 0.
	SlowStart Duration `yaml:"slow_start" json:"slow_start"`
	// Stickiness keeps a client on the target it was first sent to, with
	// a cookie.
	Stickiness Stickiness `yaml:"stickiness" json:"stickiness"`
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

// Stickiness is a target group's sticky sessions.
type Stickiness struct {
	// Enabled turns stickiness on. Default: false.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Type: lb_cookie (the load balancer's AWSALB cookie) or app_cookie
	// (follows the application's cookie, cookie_name). Default: lb_cookie.
	Type string `yaml:"type" json:"type"`
	// Duration a client stays on its target, 1 s-7 d. Default: 86400 s.
	Duration Duration `yaml:"duration" json:"duration"`
	// CookieName is the application's cookie, for app_cookie. Default:
	// none.
	CookieName string `yaml:"cookie_name" json:"cookie_name,omitempty"`
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
	// InstanceCPU is the CPU each instance registers, in ECS CPU units
	// (1024 = one vCPU), 128-196608: task definitions' cpu reservations
	// are placed against it. Default: 2048 (like a t3.medium).
	InstanceCPU int `yaml:"instance_cpu" json:"instance_cpu"`
	// InstanceMemory is the memory each instance registers, in MiB,
	// 128-1572864. Default: 4096.
	InstanceMemory int `yaml:"instance_memory" json:"instance_memory"`
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
	// SecurityGroups name the groups of the instances (the tutorial's EC2
	// instance group): who may connect to their tasks' ports. Enforced
	// with isolation: netns. Default: none.
	SecurityGroups []string `yaml:"security_groups,omitempty" json:"security_groups,omitempty"`
	// Isolation is how instances are kept apart: none (every instance is a
	// loopback address of this host, any local process can reach a task)
	// or netns (every instance is a network namespace on a bridge of its
	// own, and its security groups are nftables rules: Linux, as root).
	// Default: none.
	Isolation string `yaml:"isolation" json:"isolation"`
	// Network is the IPv4 range isolated instances take their addresses
	// from, /24 or larger: the stack uses one /24 of it that no address or
	// route of this host overlaps. Default: 198.18.0.0/15 (reserved for
	// benchmarking, RFC 2544: never routed on the internet).
	Network string `yaml:"network" json:"network"`
}

// Registry is shoal's container image registry (an OCI distribution
// registry, as ECR is), its images kept in the state directory.
type Registry struct {
	// Address is the host:port it listens on, a loopback address (Docker
	// pushes to loopback registries over plain HTTP); "" runs none.
	// Default: "" (off).
	Address string `yaml:"address" json:"address,omitempty"`
}

// AWSAPI is shoal's AWS API endpoint: the ECS and Elastic Load Balancing
// v2 operations that map onto the running stack, for the AWS CLI and
// SDKs (docs/aws-api.md).
type AWSAPI struct {
	// Enabled serves the endpoint while shoal up runs. Default: true.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Address is the host:port the endpoint listens on, a loopback
	// address: requests are signed, but travel in the clear. Port 0 picks
	// a free port. Default: 127.0.0.1:0.
	Address string `yaml:"address" json:"address"`
	// Region is the AWS region ARNs name and requests must be signed for.
	// Default: us-east-1.
	Region string `yaml:"region" json:"region"`
}

// Dashboard is shoal's live web dashboard (docs/dashboard.md), behind a
// random token: shoal up prints its URL with the token, and shoal status
// --json gives it as dashboard.
type Dashboard struct {
	// Enabled serves the dashboard while shoal up runs (shoal up
	// --no-dashboard turns it off for one run). Default: true.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Address is the host:port the dashboard listens on, a loopback
	// address unless AllowRemote. Port 0 picks a free port. Default:
	// 127.0.0.1:0.
	Address string `yaml:"address" json:"address"`
	// AllowRemote lets Address be any address of this machine: the
	// dashboard, its token included, then travels unencrypted over the
	// network. Default: false.
	AllowRemote bool `yaml:"allow_remote" json:"allow_remote,omitempty"`
}

// Metrics is shoal's Prometheus endpoint: GET /metrics with the load
// balancer's metrics, named after ALB's CloudWatch metrics
// (shoal_alb_RequestCount, shoal_alb_TargetResponseTime …), and the Go
// runtime's and the process's.
type Metrics struct {
	// Address is the host:port shoal up serves GET /metrics on, while it
	// runs: 127.0.0.1:9100 for this machine only, 0.0.0.0:9100 for a
	// Prometheus elsewhere. Port 0 picks a free port (shoal up prints it,
	// and shoal status --json gives it as metrics). Default: "" (off).
	Address string `yaml:"address" json:"address,omitempty"`
}

// TaskDefinition says how to start one copy of an application.
type TaskDefinition struct {
	// Command starts the task: a list (run as is) or a string (run by
	// /bin/sh -c). It runs in WorkingDir, with PORT set to the task's
	// dynamic host port and HOST to its instance's address, which it must
	// listen on. Required.
	Command Command `yaml:"command,omitempty" json:"command"`
	// Build makes what the tasks run, once, before the first task of
	// this definition starts; if it fails nothing starts. A string is a
	// shell command run in WorkingDir (`go build -o bin/app .`); a mapping
	// {context: ., dockerfile: Dockerfile} builds a Docker image from that
	// context (relative to the stack file's folder), which the task's
	// container runs unless it names an image of its own; an unchanged
	// context is not built again. The mapping may have a command too, run
	// first (`CGO_ENABLED=0 go build -o bin/app .`, for a FROM scratch
	// image). Default: none.
	Build Build `yaml:"build" json:"build,omitempty"`
	// Image is the Docker image the task runs as a container, with ECS's
	// bridge networking ("catalog:1", "127.0.0.1:5000/catalog:1"); an
	// image that is not on this host is pulled. Command, if set,
	// overrides the image's CMD. Default: none (the task is a process).
	Image string `yaml:"image" json:"image,omitempty"`
	// PortMappings publish the container's ports on its instance's
	// address, each {container_port: 3000, host_port: 0}; host port 0
	// takes a dynamic host port, as ECS. The target is the mapping of
	// port. Default: [{container_port: PORT, host_port: 0}] when port is
	// set.
	PortMappings []*PortMapping `yaml:"port_mappings" json:"port_mappings,omitempty"`
	// EntryPoint overrides the image's ENTRYPOINT. Default: the image's.
	EntryPoint Command `yaml:"entry_point,omitempty" json:"entry_point,omitempty"`
	// WorkingDirectory is the directory in the container the command
	// runs in. Default: the image's WORKDIR.
	WorkingDirectory string `yaml:"working_directory" json:"working_directory,omitempty"`
	// User the container runs as ("1000", "app:app"). Default: the
	// image's.
	User string `yaml:"user" json:"user,omitempty"`
	// MemoryReservation is a container's soft memory limit, in MiB.
	// Default: 0 (none).
	MemoryReservation int `yaml:"memory_reservation" json:"memory_reservation,omitempty"`
	// Containers make a task of several containers, each with its own
	// image, as an ECS task definition's containerDefinitions; the fields
	// above that describe one container (image, command, port_mappings …)
	// are then not used. Default: none.
	Containers []*Container `yaml:"containers" json:"containers,omitempty"`
	// ECSTaskDefinition is a file holding the JSON that `aws ecs
	// register-task-definition --cli-input-json` takes, relative to the
	// stack file's folder: its containerDefinitions become Containers.
	// Fields shoal does not implement are listed in one warning.
	// Default: none.
	ECSTaskDefinition string `yaml:"ecs_task_definition" json:"ecs_task_definition,omitempty"`
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
	// CPU is what each task reserves on its instance, in ECS CPU units
	// (1024 = one vCPU), 0-16384; placement never puts more on an
	// instance than it has (cluster.instance_cpu), and binpack packs by
	// it. It is a reservation, not a limit. Default: 0 (none).
	CPU int `yaml:"cpu" json:"cpu,omitempty"`
	// Memory is what each task reserves on its instance, in MiB,
	// 0-122880; like cpu, a reservation for placement. Default: 0 (none).
	Memory int `yaml:"memory" json:"memory,omitempty"`
	// HealthCheck is the container health check, as in an ECS task
	// definition: a command run inside the task's environment. An
	// unhealthy task is stopped and replaced. Default: none.
	HealthCheck *ContainerHealthCheck `yaml:"health_check" json:"health_check,omitempty"`
}

// Build is a task definition's build: a shell command, or a Docker
// build of a context.
type Build struct {
	// Command is a shell command: the string form, or run before the
	// Docker build in the mapping form.
	Command string `json:"command,omitempty"`
	// Context is the folder sent to the Docker engine, relative to the
	// stack file's folder, and Dockerfile the file in it (default
	// Dockerfile): the mapping form.
	Context    string `json:"context,omitempty"`
	Dockerfile string `json:"dockerfile,omitempty"`
}

// MarshalYAML writes the build as it is read: a string, or a mapping.
func (b Build) MarshalYAML() (any, error) {
	if !b.IsImage() {
		return b.Command, nil
	}
	return struct {
		Command    string `yaml:"command,omitempty"`
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	}{b.Command, b.Context, b.Dockerfile}, nil
}

// IsImage reports whether the build makes a Docker image.
func (b Build) IsImage() bool { return b.Context != "" }

// PortMapping publishes a container port on its instance.
type PortMapping struct {
	// ContainerPort is the port the application listens on in the
	// container, 1-65535. Required.
	ContainerPort int `yaml:"container_port" json:"container_port"`
	// HostPort is the port on the instance's address, 0 for a dynamic
	// one. Default: 0.
	HostPort int `yaml:"host_port" json:"host_port"`
	// Protocol is tcp or udp. Default: tcp.
	Protocol string `yaml:"protocol" json:"protocol"`
}

// Container is one container of a task of several, as an ECS container
// definition.
type Container struct {
	// Name is the container's name, unique in the task. Required.
	Name string `yaml:"name" json:"name"`
	// Image to run. Required, unless the task definition's build makes it.
	Image string `yaml:"image" json:"image,omitempty"`
	// Essential containers stop the task when they exit; a task needs at
	// least one. Default: true.
	Essential bool `yaml:"essential" json:"essential"`
	// Command overrides the image's CMD. Default: the image's.
	Command Command `yaml:"command,omitempty" json:"command,omitempty"`
	// EntryPoint overrides the image's ENTRYPOINT. Default: the image's.
	EntryPoint Command `yaml:"entry_point,omitempty" json:"entry_point,omitempty"`
	// Environment variables of the container, which may name services as
	// the task definition's can. Default: none.
	Environment map[string]string `yaml:"environment" json:"environment,omitempty"`
	// WorkingDirectory in the container. Default: the image's.
	WorkingDirectory string `yaml:"working_directory" json:"working_directory,omitempty"`
	// User the container runs as. Default: the image's.
	User string `yaml:"user" json:"user,omitempty"`
	// PortMappings publish its ports; see the task definition's.
	// Default: none.
	PortMappings []*PortMapping `yaml:"port_mappings" json:"port_mappings,omitempty"`
	// CPU shares in ECS units, Memory its hard limit and
	// MemoryReservation its soft one, in MiB. Default: 0 (none).
	CPU               int `yaml:"cpu" json:"cpu,omitempty"`
	Memory            int `yaml:"memory" json:"memory,omitempty"`
	MemoryReservation int `yaml:"memory_reservation" json:"memory_reservation,omitempty"`
	// DependsOn makes it start once other containers reached a
	// condition, each {container_name: db, condition: HEALTHY}: START,
	// COMPLETE, SUCCESS or HEALTHY. Default: none.
	DependsOn []*ContainerDependency `yaml:"depends_on" json:"depends_on,omitempty"`
	// HealthCheck is the container's health check, run by the engine
	// inside it. Default: none.
	HealthCheck *ContainerHealthCheck `yaml:"health_check" json:"health_check,omitempty"`
	// StopTimeout is its time between SIGTERM and SIGKILL, 0-120 s.
	// Default: the task definition's.
	StopTimeout Duration `yaml:"stop_timeout" json:"stop_timeout,omitempty"`
}

// ContainerDependency is one entry of a container's depends_on.
type ContainerDependency struct {
	// ContainerName is the container depended on. Required.
	ContainerName string `yaml:"container_name" json:"container_name"`
	// Condition is START, COMPLETE, SUCCESS or HEALTHY. Default: START.
	Condition string `yaml:"condition" json:"condition"`
}

// ContainerHealthCheck is an ECS container health check: a command run in
// the task's environment (working_dir, environment, PORT and HOST) every
// interval; exit code 0 passes.
type ContainerHealthCheck struct {
	// Command to run: a string runs with /bin/sh -c (ECS's CMD-SHELL), a
	// list runs as is; a list may start with ECS's "CMD" or "CMD-SHELL".
	// Required.
	Command Command `yaml:"command" json:"command"`
	// Interval between two checks. ECS allows 5-300 s; shoal also allows
	// down to 100ms for local work. Default: 30 s.
	Interval Duration `yaml:"interval" json:"interval"`
	// Timeout after which a check that has not exited fails (and is
	// killed). 2-60 s in ECS; down to 100ms here. Default: 5 s.
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Retries is how many consecutive failures make the task UNHEALTHY,
	// 1-10. Default: 3.
	Retries int `yaml:"retries" json:"retries"`
	// StartPeriod is a time after the task starts during which failures
	// do not count (a pass still makes it HEALTHY), 0-300 s. Default: 0.
	StartPeriod Duration `yaml:"start_period" json:"start_period"`
}

// Service keeps tasks of a task definition running and registered.
type Service struct {
	// TaskDefinition is the name of the task definition to run. Required.
	TaskDefinition string `yaml:"task_definition" json:"task_definition"`
	// Desired is how many tasks to keep running, 0-1000. Default: 1.
	Desired int `yaml:"desired" json:"desired"`
	// SchedulingStrategy: replica keeps Desired tasks, placed by
	// placement_strategy; daemon runs exactly one task on every ACTIVE
	// instance (Desired is then ignored). Default: replica.
	SchedulingStrategy string `yaml:"scheduling_strategy" json:"scheduling_strategy"`
	// Deployment says how a changed task definition rolls out.
	Deployment Deployment `yaml:"deployment" json:"deployment"`
	// PlacementStrategy lists how instances are chosen for new tasks, in
	// order (the first decides, the next break its ties), as in ECS:
	// {type: spread, field: instanceId}, {type: binpack, field: cpu} or
	// {field: memory}, {type: random}. Default: spread by instanceId.
	PlacementStrategy []PlacementStrategy `yaml:"placement_strategy" json:"placement_strategy,omitempty"`
	// PlacementConstraints limit where tasks go: {type: distinct_instance}
	// (ECS's distinctInstance) puts every task of the service on a
	// different instance. Default: none.
	PlacementConstraints []PlacementConstraint `yaml:"placement_constraints" json:"placement_constraints,omitempty"`
	// Autoscaling changes Desired with the load (ECS service auto
	// scaling, target tracking). Default: none.
	Autoscaling *Autoscaling `yaml:"autoscaling" json:"autoscaling,omitempty"`
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
	// SecurityGroups name groups that admit connections to this
	// service's task ports on top of the instances' groups
	// (cluster.security_groups). Default: none.
	SecurityGroups []string `yaml:"security_groups,omitempty" json:"security_groups,omitempty"`
}

// Deployment is how a service replaces its tasks when its task definition
// changes (ECS's rolling update).
type Deployment struct {
	// MinimumHealthyPercent of Desired (rounded up) must stay healthy
	// during a deployment or an instance drain, 0-100. Default: 100 (0 for
	// a daemon service).
	MinimumHealthyPercent int `yaml:"minimum_healthy_percent" json:"minimum_healthy_percent"`
	// MaximumPercent of Desired (rounded down) may run at once during a
	// deployment, 100-200. Default: 200 (100 for a daemon service).
	MaximumPercent int `yaml:"maximum_percent" json:"maximum_percent"`
	// CircuitBreaker fails a deployment whose new tasks keep failing.
	CircuitBreaker CircuitBreaker `yaml:"circuit_breaker" json:"circuit_breaker"`
	// Strategy is how a new revision takes over, as ECS's: rolling
	// (within minimum_healthy_percent and maximum_percent), or blue_green,
	// canary or linear: the new (green) revision starts at full size in
	// alternate_target_group beside the old (blue) one, and production
	// traffic moves to it by the weights of production_listener_rule.
	// Default: rolling.
	Strategy string `yaml:"strategy" json:"strategy"`
	// AlternateTargetGroup is the second target group of a blue_green,
	// canary or linear service: each deployment's green revision registers
	// in the one the service does not use now, as ECS alternates them.
	// Required with those strategies.
	AlternateTargetGroup string `yaml:"alternate_target_group" json:"alternate_target_group,omitempty"`
	// ProductionListenerRule is the rule (or default action) whose forward
	// is re-weighted between blue and green. Required with blue_green,
	// canary and linear.
	ProductionListenerRule *ListenerRuleRef `yaml:"production_listener_rule" json:"production_listener_rule,omitempty"`
	// TestListenerRule, if set, forwards to green from TEST_TRAFFIC_SHIFT
	// on, before any production traffic does. Default: none.
	TestListenerRule *ListenerRuleRef `yaml:"test_listener_rule" json:"test_listener_rule,omitempty"`
	// BakeTime is how long blue keeps running once green takes all
	// production traffic, for an instant rollback, 0-1440 min. Default: 0s.
	BakeTime Duration `yaml:"bake_time" json:"bake_time"`
	// Canary is a canary deployment's first step.
	Canary CanaryStep `yaml:"canary" json:"canary"`
	// Linear is a linear deployment's steps.
	Linear LinearSteps `yaml:"linear" json:"linear"`
	// LifecycleHooks run at the deployment's lifecycle stages; one that
	// fails rolls the deployment back. Default: none.
	LifecycleHooks []*LifecycleHook `yaml:"lifecycle_hooks" json:"lifecycle_hooks,omitempty"`
	// Alarms over the load balancer's metrics of the green revision roll
	// the deployment back when they go off. Default: none.
	Alarms []*Alarm `yaml:"alarms" json:"alarms,omitempty"`
}

// ListenerRuleRef names a listener rule of the stack.
type ListenerRuleRef struct {
	// LoadBalancer is the load balancer's name. Required.
	LoadBalancer string `yaml:"load_balancer" json:"load_balancer"`
	// Listener is the listener's index in the load balancer's list, from
	// 0. Default: 0.
	Listener int `yaml:"listener" json:"listener"`
	// Priority is the rule's priority; 0 names the listener's default
	// action. Default: 0.
	Priority int `yaml:"priority" json:"priority"`
}

// CanaryStep is a canary deployment's first production step.
type CanaryStep struct {
	// Percent of production traffic green gets first, 0.1-100 in steps of
	// 0.1. Default: 5.
	Percent float64 `yaml:"percent" json:"percent"`
	// BakeTime is how long the canary runs before all production traffic
	// moves, 0-1440 min. Default: 600 s.
	BakeTime Duration `yaml:"bake_time" json:"bake_time"`
}

// LinearSteps are a linear deployment's production steps.
type LinearSteps struct {
	// StepPercent more of production traffic moves to green at each
	// step, 3-100 in steps of 0.1. Default: 10.
	StepPercent float64 `yaml:"step_percent" json:"step_percent"`
	// StepBakeTime is how long each step runs before the next, 0-1440
	// min. Default: 360 s.
	StepBakeTime Duration `yaml:"step_bake_time" json:"step_bake_time"`
}

// LifecycleHook is a command or an HTTP URL called at lifecycle stages.
type LifecycleHook struct {
	// Stages it runs at: PRE_SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT,
	// POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT,
	// PRODUCTION_TRAFFIC_SHIFT (at every step), POST_PRODUCTION_TRAFFIC_SHIFT.
	// At least one.
	Stages []string `yaml:"stages" json:"stages"`
	// Command runs the hook in the stack file's folder: exit 0 passes,
	// anything else fails, unless its last output line is ECS's JSON
	// answer ({"hookStatus": "IN_PROGRESS"}). Give command or url.
	Command Command `yaml:"command,omitempty" json:"command,omitempty"`
	// URL is POSTed ECS's hook payload; a 2xx answer passes (or says
	// hookStatus). Give command or url.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Timeout of one call, 1s-15m. Default: 60 s.
	Timeout Duration `yaml:"timeout" json:"timeout"`
}

// Alarm watches one load balancer metric of the green revision's target
// group during a deployment, as a CloudWatch alarm on ECS.
type Alarm struct {
	// Name of the alarm, shown when it goes off. Required.
	Name string `yaml:"name" json:"name"`
	// Metric: HTTPCode_Target_5XX_Count, HTTPCode_ELB_5XX_Count,
	// Target_5XX_Percent (5XX answers per 100 requests; needs 20 requests
	// in the period) or TargetResponseTime. Required.
	Metric string `yaml:"metric" json:"metric"`
	// Statistic of TargetResponseTime: p50, p90, p95, p99 or p99.9.
	// Default: p99.
	Statistic string `yaml:"statistic" json:"statistic,omitempty"`
	// Threshold: the alarm goes off when the metric is above it (a count,
	// a percent, or seconds for TargetResponseTime). Required.
	Threshold float64 `yaml:"threshold" json:"threshold"`
	// Period the metric is taken over, the last 10s-1h. Default: 60 s.
	Period Duration `yaml:"period" json:"period"`
}

// CircuitBreaker is ECS's deployment circuit breaker: a deployment fails
// once as many of its tasks have failed as half the desired count (at least
// 3, at most 200).
type CircuitBreaker struct {
	// Enable turns the circuit breaker on. Default: false.
	Enable bool `yaml:"enable" json:"enable"`
	// Rollback goes back to the last deployment that completed when the
	// breaker trips. Default: false.
	Rollback bool `yaml:"rollback" json:"rollback"`
}

// Threshold is how many failed tasks trip ECS's circuit breaker in a
// deployment to desired tasks: half of them, rounded up, at least 3 and at
// most 200. The scheduler counts to it (sched.FailureThreshold, kept equal
// by a test of compile's); exporters map it to what their engine has.
func (CircuitBreaker) Threshold(desired int) int {
	return min(max((desired+1)/2, 3), 200)
}

// PlacementStrategy is one ECS task placement strategy.
type PlacementStrategy struct {
	// Type: spread, binpack or random. Required.
	Type string `yaml:"type" json:"type"`
	// Field: instanceId for spread (the default for spread); cpu or
	// memory for binpack (required); none for random.
	Field string `yaml:"field" json:"field,omitempty"`
}

// PlacementConstraint is an ECS task placement constraint.
type PlacementConstraint struct {
	// Type: distinct_instance (ECS's distinctInstance). Required.
	Type string `yaml:"type" json:"type"`
}

// Autoscaling is ECS service auto scaling with target tracking policies.
type Autoscaling struct {
	// Min is the fewest tasks, 0-1000. Required.
	Min int `yaml:"min" json:"min"`
	// Max is the most tasks, Min-1000. Required.
	Max int `yaml:"max" json:"max"`
	// Period is how long the metrics are averaged over before a decision
	// (AWS: one-minute datapoints). 1 s-5 m. Default: 60 s.
	Period Duration `yaml:"period" json:"period"`
	// TargetTracking policies: scale out when any asks for more tasks, in
	// only when all agree. At least one.
	TargetTracking []TargetTracking `yaml:"target_tracking" json:"target_tracking"`
}

// TargetTracking is one target tracking scaling policy.
type TargetTracking struct {
	// Metric, AWS's predefined metric type: ALBRequestCountPerTarget
	// (requests per target per minute, from the load balancer; the service
	// needs a target group) or ECSServiceAverageCPUUtilization (percent of
	// the task definition's cpu, or of one vCPU without one). Required.
	Metric string `yaml:"metric" json:"metric"`
	// Target value of the metric, above 0. Required.
	Target float64 `yaml:"target" json:"target"`
	// ScaleOutCooldown is how long after a scale-out before the next one.
	// 0-3600 s. Default: 300 s.
	ScaleOutCooldown Duration `yaml:"scale_out_cooldown" json:"scale_out_cooldown"`
	// ScaleInCooldown is how long after a scale-in before the next one.
	// 0-3600 s. Default: 300 s.
	ScaleInCooldown Duration `yaml:"scale_in_cooldown" json:"scale_in_cooldown"`
	// DisableScaleIn lets this policy only add tasks. Default: false.
	DisableScaleIn bool `yaml:"disable_scale_in" json:"disable_scale_in"`
}

// SecurityGroup is an allow-list of inbound connections, as an AWS
// security group: a connection to something the group guards is allowed if
// one of its rules (or a rule of another group guarding the same thing)
// admits it, and dropped otherwise. Egress is not filtered.
type SecurityGroup struct {
	// Description says what the group is for. Default: none.
	Description string `yaml:"description" json:"description,omitempty"`
	// Ingress lists the rules, each admitting one protocol and port range
	// from one source. Default: none (nothing is admitted).
	Ingress []*IngressRule `yaml:"ingress" json:"ingress,omitempty"`
}

// IngressRule admits new connections of a protocol, to a port range, from
// a CIDR or from the members of another group (exactly one of the two).
type IngressRule struct {
	// Protocol is tcp, udp, icmp or all (AWS's -1, 6, 17 and 1 are
	// accepted too). Default: tcp.
	Protocol string `yaml:"protocol" json:"protocol"`
	// Port is a port (80), a range (8000-8100) or all. Required for tcp
	// and udp; icmp and all take every port.
	Port string `yaml:"port" json:"port,omitempty"`
	// CIDR is the range of source addresses, IPv4 or IPv6: 0.0.0.0/0 is
	// anyone, 203.0.113.7/32 one host.
	CIDR string `yaml:"cidr" json:"cidr,omitempty"`
	// SourceGroup is another group whose members may connect: a load
	// balancer's group admits the load balancer, the cluster's group the
	// instances.
	SourceGroup string `yaml:"source_group" json:"source_group,omitempty"`
	// Description says what the rule is for. Default: none.
	Description string `yaml:"description" json:"description,omitempty"`
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
	DefaultAWSAPIAddress       = "127.0.0.1:0"
	DefaultDashboardAddress    = "127.0.0.1:0"
	DefaultAWSRegion           = "us-east-1"
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
	DefaultClientKeepAlive     = 3600 * time.Second
	DefaultHeaderReadTimeout   = 10 * time.Second
	DefaultDesyncMode          = "defensive"
	DefaultAccessLogPath       = "-"
	DefaultAccessLogFormat     = "alb"
	DefaultXFFHeaderProcessing = "append"
	DefaultStopTimeout         = 30 * time.Second
	DefaultDesired             = 1
	DefaultInstances           = 1
	DefaultIsolation           = "none"
	DefaultNetwork             = "198.18.0.0/15"
	DefaultIngressProtocol     = "tcp"
	DefaultDockerfile          = "Dockerfile"
	DefaultPortProtocol        = "tcp"
	DefaultDependsCondition    = "START"
	StrategyReplica            = "replica"
	DefaultProtocolVersion     = "HTTP1"
	DefaultStickinessType      = "lb_cookie"
	DefaultStickinessDuration  = 86400 * time.Second
	DefaultGroupStickiness     = 3600 * time.Second
	DefaultContentType         = "text/plain"
	DefaultWeight              = 1
	DefaultOIDCScope           = "openid"
	DefaultSessionCookie       = "AWSELBAuthSessionCookie"
	DefaultSessionTimeout      = 604800 * time.Second
	DefaultUnauthenticated     = "authenticate"
	DefaultClaimFormat         = "single_string"
	StrategyDaemon             = "daemon"
	DefaultInstanceCPU         = 2048
	DefaultInstanceMemory      = 4096
	DefaultMinimumHealthy      = 100
	StrategyRolling            = "rolling"
	DefaultCanaryPercent       = 5.0
	DefaultCanaryBakeTime      = 10 * time.Minute
	DefaultStepPercent         = 10.0
	DefaultStepBakeTime        = 6 * time.Minute
	DefaultHookTimeout         = time.Minute
	DefaultAlarmPeriod         = time.Minute
	DefaultAlarmStatistic      = "p99"
	DefaultMaximumPercent      = 200
	DaemonMinimumHealthy       = 0
	DaemonMaximumPercent       = 100
	DefaultCHInterval          = 30 * time.Second
	DefaultCHTimeout           = 5 * time.Second
	DefaultCHRetries           = 3
	DefaultScalingPeriod       = 60 * time.Second
	DefaultCooldown            = 300 * time.Second
	// The target tracking metrics, AWS's predefined metric types.
	MetricRequestCountPerTarget = "ALBRequestCountPerTarget"
	MetricCPUUtilization        = "ECSServiceAverageCPUUtilization"
	// ConstraintDistinctInstance is the distinct_instance constraint.
	ConstraintDistinctInstance = "distinct_instance"
)
