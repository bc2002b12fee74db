package spec

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/shoalhq/shoal/internal/secgroup"
)

// Rule is the rule as the security-group model takes it. The stack must
// have been validated: an invalid rule returns an error.
func (r *IngressRule) Rule() (secgroup.Rule, error) {
	proto, err := secgroup.ParseProtocol(r.Protocol)
	if err != nil {
		return secgroup.Rule{}, err
	}
	out := secgroup.Rule{Protocol: proto, Ports: secgroup.AllPorts, SourceGroup: r.SourceGroup}
	if r.Port != "" && proto.HasPorts() {
		if out.Ports, err = secgroup.ParsePorts(r.Port); err != nil {
			return secgroup.Rule{}, err
		}
	}
	if r.CIDR != "" {
		if out.CIDR, err = secgroup.ParseCIDR(r.CIDR); err != nil {
			return secgroup.Rule{}, err
		}
	}
	return out, out.Validate()
}

// Isolation modes of cluster.isolation.
const (
	IsolationNone  = "none"
	IsolationNetns = "netns"
)

// securityGroups checks the groups and every reference to them.
func (v *validator) securityGroups() {
	for _, name := range sortedKeys(v.s.SecurityGroups) {
		g := v.s.SecurityGroups[name]
		path, ok := entry(v, "security_groups", name, g)
		if !ok {
			continue
		}
		for i, r := range g.Ingress {
			v.ingressRule(indexPath(path+".ingress", i), r)
		}
	}
	for _, name := range sortedKeys(v.s.LoadBalancers) {
		if lb := v.s.LoadBalancers[name]; lb != nil {
			v.groupRefs(joinPath("load_balancers", name)+".security_groups", lb.SecurityGroups)
		}
	}
	v.groupRefs("cluster.security_groups", v.s.Cluster.SecurityGroups)
	for _, name := range sortedKeys(v.s.Services) {
		if svc := v.s.Services[name]; svc != nil {
			v.groupRefs(joinPath("services", name)+".security_groups", svc.SecurityGroups)
		}
	}
}

// ingressRule checks one rule, each value where it was written.
func (v *validator) ingressRule(path string, r *IngressRule) {
	if r == nil {
		v.errorf(path, "empty rule: write protocol, port and cidr or source_group")
		return
	}
	proto, err := secgroup.ParseProtocol(r.Protocol)
	if err != nil {
		v.errorf(path+".protocol", "%v", err)
	}
	switch {
	case err != nil:
	case !proto.HasPorts() && r.Port != "" && r.Port != "all":
		v.errorf(path+".port", "protocol %s has no ports: remove port, or use protocol tcp or udp", proto)
	case proto.HasPorts() && r.Port == "":
		v.errorf(path, "port is required for %s: a port (80), a range (8000-8100) or all", proto)
	case proto.HasPorts():
		if _, err := secgroup.ParsePorts(r.Port); err != nil {
			v.errorf(path+".port", "%v", err)
		}
	}
	switch {
	case r.CIDR == "" && r.SourceGroup == "":
		v.errorf(path, "a rule needs a source: cidr (0.0.0.0/0 for anyone) or source_group (another group's name)")
	case r.CIDR != "" && r.SourceGroup != "":
		v.errorf(path+".source_group", "a rule has one source, cidr or source_group, not both: write two rules")
	case r.CIDR != "":
		if _, err := secgroup.ParseCIDR(r.CIDR); err != nil {
			v.errorf(path+".cidr", "%v", err)
		}
	default:
		ref(v, path+".source_group", "source_group", "security group", "security_groups", r.SourceGroup, v.s.SecurityGroups)
	}
}

// groupRefs checks a list of group names: each defined, none twice.
func (v *validator) groupRefs(path string, names []string) {
	for i, name := range names {
		p := indexPath(path, i)
		if slices.Index(names, name) < i {
			v.errorf(p, "security group %q is listed twice: keep one", name)
			continue
		}
		ref(v, p, "security group", "security group", "security_groups", name, v.s.SecurityGroups)
	}
}

// isolation checks cluster.isolation and cluster.network.
func (v *validator) isolation() {
	c := v.s.Cluster
	switch c.Isolation {
	case "", IsolationNone, IsolationNetns: // "": a stack built in code
	default:
		v.errorf("cluster.isolation", "isolation %q is not supported: use none (instances on loopback addresses) or netns (network namespaces with the security groups enforced; Linux, as root)", c.Isolation)
	}
	if c.Isolation == IsolationNetns && len(c.SecurityGroups) == 0 && !v.s.src.decodeFailed("cluster.security_groups") {
		v.errorf("cluster.isolation", "isolated instances drop every connection their security groups do not admit, and the cluster has none: "+
			"add cluster.security_groups naming a group with a rule like {protocol: all, source_group: GROUP-OF-THE-LOAD-BALANCER} (docs/security-groups.md)")
	}
	if c.Network == "" {
		return // a stack built in code: the default
	}
	p, err := netip.ParsePrefix(c.Network)
	switch {
	case err != nil:
		v.errorf("cluster.network", "network %q is not an IPv4 range: write one like %s", c.Network, DefaultNetwork)
	case !p.Addr().Is4():
		v.errorf("cluster.network", "network %s is IPv6: isolated instances take IPv4 addresses; write an IPv4 range like %s", p, DefaultNetwork)
	case p.Masked() != p:
		v.errorf("cluster.network", "network %s has host bits set: write %s", p, p.Masked())
	case p.Bits() > 24:
		v.errorf("cluster.network", "network %s is smaller than a /24: the stack takes a /24 of it", p)
	}
}

// Warnings are what a valid stack should still be told: the fields of
// its ECS task definitions that shoal does not implement, then rules that
// open the instances' task ports to the whole internet, which the
// tutorial's design exists to prevent (each at the rule's cidr).
func (s *Stack) Warnings() ErrorList {
	v := &validator{s: s}
	guarded := map[string]string{} // group → what it guards
	for _, g := range s.Cluster.SecurityGroups {
		guarded[g] = "the instances' task ports"
	}
	for _, name := range sortedKeys(s.Services) {
		if svc := s.Services[name]; svc != nil {
			for _, g := range svc.SecurityGroups {
				if _, ok := guarded[g]; !ok {
					guarded[g] = "service " + name + "'s task ports"
				}
			}
		}
	}
	for _, name := range sortedKeys(guarded) {
		g := s.SecurityGroups[name]
		if g == nil {
			continue
		}
		for i, r := range g.Ingress {
			if rule, err := r.Rule(); err == nil && rule.OpensToWorld() {
				v.errorf(indexPath(joinPath("security_groups", name)+".ingress", i)+".cidr",
					"this rule opens %s to the whole internet (%s): let only the load balancer in, with source_group naming its group",
					guarded[name], rule.CIDR)
			}
		}
	}
	v.errs.sort()
	return append(slices.Clone(s.loadWarnings), v.errs...)
}

// SecurityGroupList is the stack's groups as the security-group model
// takes them, sorted by name. The stack must have been validated.
func (s *Stack) SecurityGroupList() ([]secgroup.Group, error) {
	out := make([]secgroup.Group, 0, len(s.SecurityGroups))
	for _, name := range sortedKeys(s.SecurityGroups) {
		g := secgroup.Group{Name: name}
		for i, r := range s.SecurityGroups[name].Ingress {
			rule, err := r.Rule()
			if err != nil {
				return nil, fmt.Errorf("security group %s rule %d: %w", name, i+1, err)
			}
			g.Ingress = append(g.Ingress, rule)
		}
		out = append(out, g)
	}
	return out, nil
}
