package proxy

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/shoalhq/shoal/internal/routing"
	"github.com/shoalhq/shoal/internal/secgroup"
)

// Config is what the balancer serves: listeners and the target groups they
// forward to. Apply takes a whole Config at a time. It holds plain values
// with every default already filled in (package compile builds it from a
// stack file); the balancer copies what it keeps.
type Config struct {
	Listeners []ListenerConfig
	// TargetGroups by name.
	TargetGroups map[string]TargetGroupConfig
	// SecurityGroups are the stack's security groups with their members;
	// a listener with SecurityGroups of its own closes every connection
	// whose source no rule of them admits. nil: no listener is guarded.
	// Not encoded: whoever copies a Config through JSON carries it over.
	SecurityGroups *secgroup.Set `json:"-"`
}

// ListenerConfig is one listener.
type ListenerConfig struct {
	// Name identifies the listener in errors and logs ("web/0").
	Name string
	// Address is host:port to listen on; port 0 picks a free port, kept
	// across Apply calls while the listener stays in the config.
	Address string
	// Protocol is "http" ("" too) or "https".
	Protocol string
	// Certificates of an https listener: the first is the default, the
	// others are picked by SNI, as ALB's certificate list.
	Certificates []Certificate
	// Routes are the listener's rules and default action.
	Routes routing.Listener
	// Headers are the listener's header modifications.
	Headers HeaderModification
	// TargetGroup, when Routes has no default action, is the default
	// action: forward to this group (a shorthand for tests and tools).
	TargetGroup string
	// IdleTimeout is ALB's idle timeout: a request whose connections, to
	// the client and to the target, carried no data either way for this
	// long ends (504 when the target had not started answering), and a
	// client connection idle this long between requests closes. A kept
	// listener takes a changed value at its next request (its HTTP/2
	// connections keep the one it started with).
	IdleTimeout time.Duration
	// HeaderReadTimeout bounds the time a client takes to send a request
	// head. Default: 10 s.
	HeaderReadTimeout time.Duration
	// ClientKeepAlive is the longest a client connection stays open (ALB's
	// client_keep_alive.seconds). Default: 3600 s.
	ClientKeepAlive time.Duration
	// DesyncMode is ALB's routing.http.desync_mitigation_mode: DesyncMonitor,
	// DesyncDefensive ("" too) or DesyncStrictest.
	DesyncMode string
	// AccessLog is the listener's access log; nil: none.
	AccessLog *AccessLogConfig
	// XFF is what the listener does with a request's X-Forwarded-For:
	// XFFAppend ("" too), XFFPreserve or XFFRemove, as ALB's
	// routing.http.xff_header_processing.mode.
	XFF string
	// XFFClientPort appends the client's address as ip:port ([ip]:port
	// for IPv6), as ALB's routing.http.xff_client_port.enabled; XFFAppend
	// only.
	XFFClientPort bool
	// MaxRequestBody is the largest request body taken, in bytes; larger
	// ones get 413. 0: no limit.
	MaxRequestBody int64
	// SecurityGroups name the groups of Config.SecurityGroups that guard
	// the listener (its load balancer's); none: anyone may connect.
	SecurityGroups []string
}

// X-Forwarded-For processing modes, as ALB names them.
const (
	// XFFAppend adds the client's address to the X-Forwarded-For list the
	// client sent, creating the header when absent.
	XFFAppend = "append"
	// XFFPreserve forwards the client's X-Forwarded-For unchanged, and adds
	// none when absent.
	XFFPreserve = "preserve"
	// XFFRemove drops X-Forwarded-For before forwarding.
	XFFRemove = "remove"
)

// HeaderModification is an ALB listener's header settings.
type HeaderModification struct {
	// Response headers added to every answer, replacing the target's, by
	// canonical name: only the ones ALB lets a listener set
	// (Strict-Transport-Security, Access-Control-Allow-Origin,
	// Access-Control-Allow-Methods, Access-Control-Allow-Headers,
	// Access-Control-Allow-Credentials, Access-Control-Expose-Headers,
	// Access-Control-Max-Age, Content-Security-Policy,
	// X-Content-Type-Options, X-Frame-Options).
	Response map[string]string
	// RemoveServer drops the Server header from answers (ALB's
	// routing.http.response.server.enabled false).
	RemoveServer bool
	// RequestRenames renames the headers the load balancer adds to
	// requests (X-Amzn-Tls-Version, X-Amzn-Tls-Cipher-Suite, and the mTLS
	// ones), by canonical name.
	RequestRenames map[string]string
}

// Certificate is a TLS certificate and its key, as PEM files.
type Certificate struct {
	CertFile, KeyFile string
}

// Target group protocol versions, as ALB names them.
const (
	HTTP1 = "HTTP1"
	HTTP2 = "HTTP2"
	GRPC  = "GRPC"
)

// Target group algorithms, as ALB names them (load_balancing.algorithm.type).
const (
	RoundRobin               = "round_robin"
	LeastOutstandingRequests = "least_outstanding_requests"
	WeightedRandom           = "weighted_random"
)

// Stickiness types.
const (
	LBCookie  = "lb_cookie"
	AppCookie = "app_cookie"
)

// Stickiness keeps a client on one target, with a cookie.
type Stickiness struct {
	// Type is "" (off), LBCookie (the balancer's AWSALB cookie) or
	// AppCookie (follows the application's cookie CookieName, with the
	// balancer's AWSALBAPP-N cookie).
	Type       string
	Duration   time.Duration
	CookieName string
}

// TargetGroupConfig is one target group.
type TargetGroupConfig struct {
	// Protocol reaches the targets: "http" ("" too) or "https".
	Protocol string
	// ProtocolVersion is HTTP1 ("" too), HTTP2 or GRPC: how requests are
	// sent to the targets.
	ProtocolVersion string
	// Algorithm picks a target: RoundRobin ("" too),
	// LeastOutstandingRequests or WeightedRandom.
	Algorithm  string
	Stickiness Stickiness
	// SlowStart ramps a new target's share of requests up linearly over
	// this long (0: off).
	SlowStart   time.Duration
	HealthCheck HealthCheckConfig
	// DeregistrationDelay is the longest a deregistered target drains; 0
	// drops it at once.
	DeregistrationDelay time.Duration
	// Targets are static targets (host:port) registered by Apply.
	Targets []string
}

// HealthCheckConfig is an ALB health check.
type HealthCheckConfig struct {
	// Path requested with GET.
	Path string
	// Port checked; 0 means the port the target takes traffic on.
	Port int
	// Interval between the starts of two checks of one target, and
	// Timeout of one check.
	Interval, Timeout time.Duration
	// HealthyThreshold consecutive passes make an unhealthy target healthy;
	// UnhealthyThreshold consecutive failures make a target unhealthy.
	HealthyThreshold, UnhealthyThreshold int
	// Success lists the status codes that pass.
	Success Matcher
}

// Matcher is a set of HTTP status codes, as ranges.
type Matcher []CodeRange

// CodeRange is the status codes Lo to Hi, both included.
type CodeRange struct{ Lo, Hi int }

// Match reports whether code is in the set.
func (m Matcher) Match(code int) bool {
	for _, r := range m {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// validate checks what the balancer relies on to route at all (a config
// from package compile always passes; one built by hand may not), before
// anything changes.
func (c Config) validate() error {
	keys := map[string]string{}
	for _, l := range c.Listeners {
		if _, _, err := net.SplitHostPort(l.Address); err != nil {
			return fmt.Errorf("listener %s: address %q: %v", l.Name, l.Address, err)
		}
		if other, dup := keys[listenerKey(l)]; dup {
			return fmt.Errorf("listeners %s and %s are both on %s", other, l.Name, l.Address)
		}
		keys[listenerKey(l)] = l.Name
		if _, err := routing.Compile(l.routes()); err != nil {
			return fmt.Errorf("listener %s: %v", l.Name, err)
		}
		for _, a := range l.allActions() {
			if a.Auth != nil && a.Auth.JWT != nil {
				if err := validateJWTAction(a.Auth.JWT); err != nil {
					return fmt.Errorf("listener %s: jwt validation: %v", l.Name, err)
				}
			}
		}
		if err := l.Headers.validate(); err != nil {
			return fmt.Errorf("listener %s: %v", l.Name, err)
		}
		if !slices.Contains([]string{"", "http", "https"}, l.Protocol) {
			return fmt.Errorf("listener %s: protocol %q: want http or https", l.Name, l.Protocol)
		}
		for _, name := range l.groupNames() {
			tg, ok := c.TargetGroups[name]
			if !ok {
				return fmt.Errorf("listener %s: %w %q", l.Name, ErrUnknownTargetGroup, name)
			}
			if l.Protocol != "https" && (tg.ProtocolVersion == HTTP2 || tg.ProtocolVersion == GRPC) {
				return fmt.Errorf("listener %s: target group %s speaks %s, which takes an https listener", l.Name, name, tg.ProtocolVersion)
			}
		}

		if l.AccessLog != nil {
			if err := l.AccessLog.validate(); err != nil {
				return fmt.Errorf("listener %s: %v", l.Name, err)
			}
		}
		if !slices.Contains([]string{"", DesyncMonitor, DesyncDefensive, DesyncStrictest}, l.DesyncMode) {
			return fmt.Errorf("listener %s: desync mitigation mode %q: want %s, %s or %s", l.Name, l.DesyncMode, DesyncMonitor, DesyncDefensive, DesyncStrictest)
		}
		if l.IdleTimeout <= 0 {
			return fmt.Errorf("listener %s: idle timeout %v: want more than 0", l.Name, l.IdleTimeout)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.TargetGroups)) {
		if err := c.TargetGroups[name].validate(); err != nil {
			return fmt.Errorf("target group %s: %v", name, err)
		}
	}
	return nil
}

// routes are the listener's rules, with TargetGroup as the default action
// when Routes has none.
func (l ListenerConfig) routes() routing.Listener {
	r := l.Routes
	if r.Scheme == "" {
		r.Scheme = cmp.Or(l.Protocol, "http")
	}
	if r.Default.Type == "" {
		r.Default = routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{
			Groups: []routing.WeightedGroup{{Name: l.TargetGroup, Weight: 1}}}}
	}
	return r
}

// allActions are the listener's default action and its rules' actions.
func (l ListenerConfig) allActions() []routing.Action {
	r := l.routes()
	return append([]routing.Action{r.Default}, actions(r.Rules)...)
}

// groupNames are the target groups the listener's actions forward to.
func (l ListenerConfig) groupNames() []string {
	var names []string
	for _, a := range l.allActions() {
		if a.Type == routing.Forward && a.Forward != nil {
			for _, g := range a.Forward.Groups {
				names = append(names, g.Name)
			}
		}
	}
	return names
}

func actions(rules []routing.Rule) []routing.Action {
	out := make([]routing.Action, len(rules))
	for i, r := range rules {
		out[i] = r.Action
	}
	return out
}

func (tg TargetGroupConfig) validate() error {
	hc := tg.HealthCheck
	switch {
	case hc.Interval <= 0 || hc.Timeout <= 0:
		return fmt.Errorf("health check interval %v and timeout %v: want both more than 0", hc.Interval, hc.Timeout)
	case hc.HealthyThreshold < 1 || hc.UnhealthyThreshold < 1:
		return fmt.Errorf("health check thresholds %d and %d: want both 1 or more", hc.HealthyThreshold, hc.UnhealthyThreshold)
	case len(hc.Success) == 0:
		return fmt.Errorf("health check matches no status code")
	case !slices.Contains([]string{"", "http", "https"}, tg.Protocol):
		return fmt.Errorf("protocol %q: want http or https", tg.Protocol)
	case !slices.Contains([]string{"", HTTP1, HTTP2, GRPC}, tg.ProtocolVersion):
		return fmt.Errorf("protocol version %q: want %s, %s or %s", tg.ProtocolVersion, HTTP1, HTTP2, GRPC)
	case !slices.Contains([]string{"", RoundRobin, LeastOutstandingRequests, WeightedRandom}, tg.Algorithm):
		return fmt.Errorf("algorithm %q: want %s, %s or %s", tg.Algorithm, RoundRobin, LeastOutstandingRequests, WeightedRandom)
	case tg.SlowStart != 0 && tg.Algorithm != "" && tg.Algorithm != RoundRobin:
		return fmt.Errorf("slow start with %s: ALB takes it only with %s", tg.Algorithm, RoundRobin)
	case tg.Stickiness.Type == AppCookie && tg.Stickiness.CookieName == "":
		return fmt.Errorf("app_cookie stickiness without the application's cookie name")
	case tg.Stickiness.Type != "" && (tg.Stickiness.Duration < time.Second || tg.Stickiness.Duration > 7*24*time.Hour):
		return fmt.Errorf("stickiness duration %v: want 1s to 7 days", tg.Stickiness.Duration)
	}
	for _, t := range tg.Targets {
		if err := validTarget(t); err != nil {
			return err
		}
	}
	return nil
}

// validTarget checks that addr is host:port with a port in 1-65535.
func validTarget(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("target %q: %v", addr, err)
	}
	if n, err := strconv.Atoi(port); host == "" || err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("target %q: want address:port with a port in 1-65535", addr)
	}
	return nil
}
