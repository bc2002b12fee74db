package proxy

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"
)

// Config is what the balancer serves: listeners and the target groups they
// forward to. Apply takes a whole Config at a time. It holds plain values
// with every default already filled in (package compile builds it from a
// stack file); the balancer copies what it keeps.
type Config struct {
	Listeners []ListenerConfig
	// TargetGroups by name.
	TargetGroups map[string]TargetGroupConfig
}

// ListenerConfig is one listener.
type ListenerConfig struct {
	// Name identifies the listener in errors and logs ("web/0").
	Name string
	// Address is host:port to listen on; port 0 picks a free port, kept
	// across Apply calls while the listener stays in the config.
	Address string
	// TargetGroup is the default action: forward to this group.
	TargetGroup string
	// IdleTimeout is how long to wait for a target to start answering
	// before giving up with 504, and how long an idle client connection is
	// kept. A listener kept across Apply takes a changed value for the 504
	// at once, but keeps the client-side idle timeout it was started with.
	IdleTimeout time.Duration
}

// TargetGroupConfig is one target group.
type TargetGroupConfig struct {
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
		if _, ok := c.TargetGroups[l.TargetGroup]; !ok {
			return fmt.Errorf("listener %s: %w %q", l.Name, ErrUnknownTargetGroup, l.TargetGroup)
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

func (tg TargetGroupConfig) validate() error {
	hc := tg.HealthCheck
	switch {
	case hc.Interval <= 0 || hc.Timeout <= 0:
		return fmt.Errorf("health check interval %v and timeout %v: want both more than 0", hc.Interval, hc.Timeout)
	case hc.HealthyThreshold < 1 || hc.UnhealthyThreshold < 1:
		return fmt.Errorf("health check thresholds %d and %d: want both 1 or more", hc.HealthyThreshold, hc.UnhealthyThreshold)
	case len(hc.Success) == 0:
		return fmt.Errorf("health check matches no status code")
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
