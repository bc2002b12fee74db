package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
)

// lbOverrides are the changes made to the load balancer through the API
// (ELBv2's ModifyTargetGroup, RegisterTargets, ModifyRule…), over the
// stack file's configuration. Each records what the file said when it was
// made: it holds, across restarts, until the file says something else
// for that target group or listener, as a count set by `shoal scale`
// holds until the file's desired count changes.
type lbOverrides struct {
	TargetGroups map[string]tgOverride     `json:"target_groups,omitempty"`
	Listeners    map[string]routesOverride `json:"listeners,omitempty"`
}

// tgOverride is a target group as the API set it, over the file's
// configuration of it, which File identifies (fingerprint).
type tgOverride struct {
	File string                  `json:"file"`
	Set  proxy.TargetGroupConfig `json:"set"`
}

// routesOverride is a listener's rules and default action as the API set
// them, over the file's, which File identifies (fingerprint).
type routesOverride struct {
	File string           `json:"file"`
	Set  routing.Listener `json:"set"`
}

// over lays the overrides over the stack file's configuration: it
// returns the configuration to serve, and the overrides that still hold
// (nil when none does). Overrides on a target group or listener the file
// changed or dropped since are dropped: the file wins.
func (o *lbOverrides) over(file proxy.Config) (proxy.Config, *lbOverrides) {
	if o == nil {
		return file, nil
	}
	served := cloneConfig(file)
	kept := &lbOverrides{}
	for name, ov := range o.TargetGroups {
		tg, ok := file.TargetGroups[name]
		if !ok || fingerprint(tg) != ov.File {
			continue
		}
		served.TargetGroups[name] = ov.Set
		kept.setGroup(name, ov)
	}
	for i, l := range file.Listeners {
		ov, ok := o.Listeners[l.Name]
		if !ok || fingerprint(l.Routes) != ov.File {
			continue
		}
		served.Listeners[i].Routes = ov.Set
		kept.setListener(l.Name, ov)
	}
	if kept.TargetGroups == nil && kept.Listeners == nil {
		return served, nil
	}
	return served, kept
}

func (o *lbOverrides) setGroup(name string, ov tgOverride) {
	if o.TargetGroups == nil {
		o.TargetGroups = map[string]tgOverride{}
	}
	o.TargetGroups[name] = ov
}

func (o *lbOverrides) setListener(name string, ov routesOverride) {
	if o.Listeners == nil {
		o.Listeners = map[string]routesOverride{}
	}
	o.Listeners[name] = ov
}

// overridesFor are the overrides that make the file's configuration into
// next. Only target groups and listeners' rules may differ: anything else
// (a listener's address or protocol, a target group added) is the stack
// file's to change, and is refused.
func overridesFor(file, next proxy.Config) (*lbOverrides, error) {
	if !slices.Equal(slices.Sorted(maps.Keys(file.TargetGroups)), slices.Sorted(maps.Keys(next.TargetGroups))) {
		return nil, fmt.Errorf("%w: target groups can only be added or removed in the stack file", ErrInvalid)
	}
	if len(file.Listeners) != len(next.Listeners) {
		return nil, fmt.Errorf("%w: listeners can only be added or removed in the stack file", ErrInvalid)
	}
	o := &lbOverrides{}
	for name, tg := range next.TargetGroups {
		if f := fingerprint(file.TargetGroups[name]); f != fingerprint(tg) {
			o.setGroup(name, tgOverride{File: f, Set: tg})
		}
	}
	for i, l := range next.Listeners {
		fl := file.Listeners[i]
		rest, frest := l, fl
		rest.Routes, frest.Routes = routing.Listener{}, routing.Listener{}
		if fingerprint(rest) != fingerprint(frest) {
			return nil, fmt.Errorf("%w: listener %s: only its rules and default action can change through the API; its address, protocol, certificates and attributes are the stack file's", ErrInvalid, l.Name)
		}
		if f := fingerprint(fl.Routes); f != fingerprint(l.Routes) {
			o.setListener(l.Name, routesOverride{File: f, Set: l.Routes})
		}
	}
	if o.TargetGroups == nil && o.Listeners == nil {
		return nil, nil
	}
	return o, nil
}

// fingerprint identifies a configuration by its JSON, so that one
// recorded (and read back) compares equal to the same one compiled again.
func fingerprint(v any) string {
	sum := sha256.Sum256(encode(v))
	return hex.EncodeToString(sum[:])
}

// encode is v's JSON.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("agent: load balancer configuration does not encode: " + err.Error()) // plain data
	}
	return b
}

// cloneConfig is a deep copy of c, made through JSON, so that a change to
// the copy never reaches the original through a shared slice, map or
// pointer.
func cloneConfig(c proxy.Config) proxy.Config {
	var out proxy.Config
	if err := json.Unmarshal(encode(c), &out); err != nil {
		panic("agent: load balancer configuration does not decode: " + err.Error())
	}
	out.SecurityGroups = c.SecurityGroups // immutable, and not encoded
	return out
}

// LoadBalancer is the load balancer's configuration as it serves now (the
// stack file's, with the API's changes over it), a copy of it, with each
// listener's Address as bound.
func (a *Agent) LoadBalancer() proxy.Config {
	addrs := a.cfg.Balancer.ListenerAddrs() // not under a.mu: the balancer calls into the agent
	a.mu.Lock()
	c := cloneConfig(a.served)
	a.mu.Unlock()
	for i := range c.Listeners {
		if i < len(addrs) {
			c.Listeners[i].Address = addrs[i]
		}
	}
	return c
}

// ModifyLoadBalancer changes the served load balancer configuration, as
// ELBv2's Modify* and RegisterTargets calls do: change edits a copy of it
// (the stack file's with the API's changes, the listeners' addresses as
// the stack gives them, without the weights deployments set); the result is checked and applied by the balancer without dropping
// a request (a target group's targets keep their health; removed static
// targets drain), and recorded, so that it survives a restart. It holds
// until the stack file changes the same target group or listener. An
// error from change is returned as is; a configuration the balancer
// refuses is ErrInvalid, and nothing changes.
func (a *Agent) ModifyLoadBalancer(ctx context.Context, change func(*proxy.Config) error) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	if a.stack == nil {
		a.mu.Unlock()
		return fmt.Errorf("%w: no stack is running", ErrInvalid)
	}
	s := a.stack
	next := cloneConfig(a.base)
	a.mu.Unlock()
	if err := change(&next); err != nil {
		return err
	}
	overrides, err := overridesFor(s.LoadBalancer, next)
	if err != nil {
		return err
	}
	a.mu.Lock()
	served := deploymentRoutes(s.Services, a.state, next)
	a.mu.Unlock()
	prepared, err := a.cfg.Balancer.Prepare(ctx, served)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	a.mu.Lock()
	st := *a.state
	st.LoadBalancer = overrides
	raw, err := json.Marshal(&st) // under a.mu: the state's parts change under it
	a.applying = err == nil
	a.mu.Unlock()
	if err != nil {
		prepared.Abort()
		return fmt.Errorf("record desired state: %w", err)
	}
	if err := a.persistRaw(s, raw); err != nil {
		prepared.Abort()
		a.setApplying(false)
		return err
	}
	if err := prepared.Commit(); err != nil {
		a.restoreRecord()
		a.setApplying(false)
		return fmt.Errorf("load balancer: %w", err)
	}
	a.mu.Lock()
	a.state.LoadBalancer, a.base, a.served, a.applying = overrides, next, served, false
	a.mu.Unlock()
	a.poke()
	return nil
}

// applyRoutes gives the balancer the weights the deployments set now,
// when they changed: the production and test rules of blue/green, canary
// and linear deployments. It runs in the loop, outside a.mu (the balancer
// calls into the agent), one change at a time with Apply.
func (a *Agent) applyRoutes(ctx context.Context) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	if !a.routesDirty || a.stack == nil || a.applying {
		a.mu.Unlock()
		return
	}
	a.routesDirty = false
	served := deploymentRoutes(a.stack.Services, a.state, a.base)
	a.mu.Unlock()
	prepared, err := a.cfg.Balancer.Prepare(ctx, served)
	if err == nil {
		err = prepared.Commit()
	}
	if err != nil {
		a.log.Warn("set the deployments' traffic weights", "err", err)
		a.mu.Lock()
		a.routesDirty = true // try again on the next pass
		a.mu.Unlock()
		return
	}
	a.mu.Lock()
	a.served = served
	a.mu.Unlock()
}
