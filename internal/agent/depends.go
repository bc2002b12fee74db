package agent

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/endpoint"
	"github.com/shoalhq/shoal/internal/sched"
)

// Services that others depend on get an endpoint: a stable local address
// (127.0.0.1 and a port kept for the life of the agent) that forwards each
// connection to a healthy task of the service. Dependents are given that
// address (${services.cache.address}) rather than a task's, so that a
// dependency replaced or moved needs no rollout of its dependents: their
// next connection reaches the new task.

// endpointAddr is where endpoints listen: this host's loopback, a free
// port each.
const endpointAddr = "127.0.0.1:0"

// probeEvery is how often a task of a service others depend on, and
// without a target group, is tried until it accepts a connection.
const probeEvery = 200 * time.Millisecond

// dependedOn returns the services of s that other services depend on.
func dependedOn(s *Stack) []string {
	var out []string
	for _, svc := range s.Services {
		for _, dep := range svc.DependsOn {
			if !slices.Contains(out, dep) {
				out = append(out, dep)
			}
		}
	}
	slices.Sort(out)
	return out
}

// prepareEndpoints opens the endpoints s needs that are not open yet. It
// returns those it opened, for the caller to close if the apply fails.
func (a *Agent) prepareEndpoints(s *Stack) (map[string]*endpoint.Endpoint, error) {
	added := map[string]*endpoint.Endpoint{}
	for _, name := range dependedOn(s) {
		if a.endpoints[name] != nil {
			continue
		}
		e, err := endpoint.Listen(name, a.endpointAddr(), a.picker(name), a.cfg.Dial, a.log)
		if err != nil {
			closeEndpoints(added)
			return nil, fmt.Errorf("endpoint of service %s: %w", name, err)
		}
		added[name] = e
	}
	return added, nil
}

// commitEndpointsLocked takes in the endpoints just opened and returns
// those of services nothing depends on any more, for the caller to close
// once it no longer holds the agent's lock (their connections ask the
// agent for tasks).
func (a *Agent) commitEndpointsLocked(s *Stack, added map[string]*endpoint.Endpoint) map[string]*endpoint.Endpoint {
	keep := dependedOn(s)
	dropped := map[string]*endpoint.Endpoint{}
	for name, e := range a.endpoints {
		if !slices.Contains(keep, name) {
			dropped[name] = e
			delete(a.endpoints, name)
		}
	}
	for name, e := range added {
		a.endpoints[name] = e
		a.events.add(Event{Time: a.clock.Now(), Service: name,
			Message: fmt.Sprintf("service %s is reachable at %s (${services.%s.address}) for the services that depend on it.", name, e.Addr(), name)})
	}
	return dropped
}

func closeEndpoints(es map[string]*endpoint.Endpoint) {
	for _, e := range es {
		e.Close()
	}
}

// picker chooses, round robin, a task of service that serves healthy now.
func (a *Agent) picker(service string) endpoint.Picker {
	var next int
	return func() (string, bool) {
		a.mu.Lock()
		defer a.mu.Unlock()
		var ready []string
		for _, id := range sortedKeys(a.tasks) {
			if t := a.tasks[id]; t.service == service && a.servesLocked(t) {
				ready = append(ready, t.addr)
			}
		}
		if len(ready) == 0 {
			return "", false
		}
		next++
		return ready[next%len(ready)], true
	}
}

// servesLocked reports whether t takes traffic now: RUNNING, not stopping,
// and healthy in its target group or, without one, known to serve.
func (a *Agent) servesLocked(t *task) bool {
	if t.status != sched.Running || t.stopRequested {
		return false
	}
	if t.targetGroup != "" {
		return t.health == sched.HealthHealthy
	}
	return !t.healthyAt.IsZero()
}

// resolveEnvLocked puts together the environment values of t's definition
// that name other services, from their endpoints.
func (a *Agent) resolveEnvLocked(t *task) map[string]string {
	if len(t.def.EnvRefs) == 0 {
		return nil
	}
	out := make(map[string]string, len(t.def.EnvRefs))
	for key, value := range t.def.EnvRefs {
		var b strings.Builder
		for _, part := range value {
			if part.Service == "" {
				b.WriteString(part.Text)
				continue
			}
			b.WriteString(a.endpointFieldLocked(part.Service, part.Field))
		}
		out[key] = b.String()
	}
	return out
}

func (a *Agent) endpointFieldLocked(service, field string) string {
	e := a.endpoints[service]
	if e == nil {
		return "" // validated away: a placeholder names a service depended on
	}
	host, port, _ := net.SplitHostPort(e.Addr())
	switch field {
	case "host":
		return host
	case "port":
		return port
	}
	return e.Addr()
}

// awaitListening tries to connect to a task until it accepts, then marks it
// healthy; it gives up when the task stops or exits first.
func (a *Agent) awaitListening(t *task, done <-chan struct{}) {
	for {
		ctx, cancel := context.WithTimeout(a.life, time.Second)
		c, err := a.cfg.Dial(ctx, "tcp", t.addr)
		cancel()
		if err == nil {
			c.Close()
			a.mu.Lock()
			t.healthyAt = a.clock.Now()
			a.mu.Unlock()
			a.poke()
			return
		}
		timer := a.clock.NewTimer(probeEvery)
		select {
		case <-timer.C():
		case <-t.stop:
			timer.Stop()
			return
		case <-done:
			timer.Stop()
			return
		}
	}
}

// announceWaitingLocked says once that a service waits for its
// dependencies, and which.
func (a *Agent) announceWaitingLocked(waiting []sched.Waiting) {
	now := make(map[string]string, len(waiting))
	for _, w := range waiting {
		deps := strings.Join(w.For, ", ")
		now[w.Service] = deps
		if a.waiting[w.Service] == deps {
			continue
		}
		a.events.add(Event{Time: a.clock.Now(), Service: w.Service,
			Message: fmt.Sprintf("service %s is waiting for %s to have a healthy task before it starts its tasks.", w.Service, deps)})
	}
	a.waiting = now
}

// endpointAddr is where endpoints listen: Config.EndpointHost, or this
// host's loopback, on a free port.
func (a *Agent) endpointAddr() string {
	if a.cfg.EndpointHost == "" {
		return endpointAddr
	}
	return net.JoinHostPort(a.cfg.EndpointHost, "0")
}
