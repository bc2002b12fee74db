package proxy

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/shoalhq/shoal/internal/spec"
)

// Config is what the balancer serves: listeners and the target groups they
// forward to. Apply takes a whole Config at a time.
type Config struct {
	Listeners []ListenerConfig
	// TargetGroups by name. The balancer copies their settings on Apply
	// and keeps no reference to them.
	TargetGroups map[string]*spec.TargetGroup
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
	// kept. Default: 60 s. A listener kept across Apply takes a changed
	// value for the 504 at once, but keeps the client-side idle timeout it
	// was started with.
	IdleTimeout time.Duration
}

// ConfigFromStack is the Config of a stack's load balancers and target
// groups. Listeners are named "<load balancer>/<index>", load balancers in
// name order.
func ConfigFromStack(s *spec.Stack) Config {
	cfg := Config{TargetGroups: s.TargetGroups}
	for _, name := range slices.Sorted(maps.Keys(s.LoadBalancers)) {
		lb := s.LoadBalancers[name]
		if lb == nil {
			continue
		}
		for i, l := range lb.Listeners {
			if l == nil {
				continue
			}
			cfg.Listeners = append(cfg.Listeners, listenerFromSpec(name, i, l, lb.IdleTimeout.D()))
		}
	}
	return cfg
}

func listenerFromSpec(lb string, i int, l *spec.Listener, idle time.Duration) ListenerConfig {
	host := l.Address
	if host == "" {
		host = spec.DefaultListenerAddress
	}
	lc := ListenerConfig{
		Name:        fmt.Sprintf("%s/%d", lb, i),
		Address:     net.JoinHostPort(host, strconv.Itoa(l.Port)),
		IdleTimeout: idle,
	}
	if f := l.DefaultAction.Forward; f != nil {
		lc.TargetGroup = f.TargetGroup
	}
	return lc
}

// validate checks what Apply relies on, before anything changes.
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
		if c.TargetGroups[l.TargetGroup] == nil {
			return fmt.Errorf("listener %s: %w %q", l.Name, ErrUnknownTargetGroup, l.TargetGroup)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.TargetGroups)) {
		if err := validateGroup(c.TargetGroups[name]); err != nil {
			return fmt.Errorf("target group %s: %v", name, err)
		}
	}
	return nil
}

func validateGroup(tg *spec.TargetGroup) error {
	if tg == nil {
		return errors.New("no settings")
	}
	if p := tg.HealthCheck.Port; p != "" && p != spec.TrafficPort {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("health check port %q: want traffic-port or 1-65535", p)
		}
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
