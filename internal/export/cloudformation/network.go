package cloudformation

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/spec"
)

// securityGroups adds a group per stack group: its CIDR rules inline,
// each source_group rule as a resource of its own, so that groups that
// name each other (or themselves) make no dependency cycle.
func (b *builder) securityGroups() {
	for _, name := range sortedKeys(b.s.SecurityGroups) {
		b.groups[name] = b.id(name, "SecurityGroup")
	}
	for _, name := range sortedKeys(b.s.SecurityGroups) {
		g, id := b.s.SecurityGroups[name], b.groups[name]
		desc := b.description("security_groups."+name+".description", g.Description)
		if desc == "" {
			desc = fmt.Sprintf("shoal stack %s: security group %s", b.s.Name, name)
		}
		sg := &SecurityGroup{GroupDescription: desc, VpcID: ref(paramVpc), Tags: tags(b.s.Name, name)}
		for i, r := range g.Ingress {
			path := fmt.Sprintf("security_groups.%s.ingress[%d]", name, i)
			rule := b.ingressRule(path, r)
			if r.SourceGroup == "" {
				sg.SecurityGroupIngress = append(sg.SecurityGroupIngress, rule)
				continue
			}
			rule.GroupID = groupID(id)
			rule.SourceSecurityGroupID = groupID(b.groups[r.SourceGroup])
			b.resource(b.id(name, fmt.Sprintf("Ingress%d", i+1)), "AWS::EC2::SecurityGroupIngress", rule)
		}
		b.resource(id, "AWS::EC2::SecurityGroup", sg)
	}
}

// ingressRule maps one rule's protocol, ports and CIDR.
func (b *builder) ingressRule(path string, r *spec.IngressRule) IngressRule {
	out := IngressRule{Description: b.description(path+".description", r.Description)}
	proto := strings.ToLower(r.Protocol)
	switch proto {
	case "all", "-1":
		out.IPProtocol = "-1"
	case "icmp", "1":
		out.IPProtocol, out.FromPort, out.ToPort = "icmp", intp(-1), intp(-1)
	case "udp", "17":
		out.IPProtocol = "udp"
	default:
		out.IPProtocol = "tcp"
	}
	if out.IPProtocol == "tcp" || out.IPProtocol == "udp" {
		from, to := 0, 65535
		if r.Port != "" && r.Port != "all" {
			lo, hi, _ := strings.Cut(r.Port, "-")
			from, _ = strconv.Atoi(lo)
			to = from
			if hi != "" {
				to, _ = strconv.Atoi(hi)
			}
		}
		out.FromPort, out.ToPort = intp(from), intp(to)
	}
	if strings.Contains(r.CIDR, ":") {
		out.CidrIPv6 = r.CIDR
	} else {
		out.CidrIP = r.CIDR
	}
	return out
}

// loadBalancerGroups names each load balancer's groups, giving one without
// any a group of its own open on its listener ports, as shoal lets anyone
// connect to it.
func (b *builder) loadBalancerGroups() {
	for _, name := range sortedKeys(b.s.LoadBalancers) {
		lb := b.s.LoadBalancers[name]
		if len(lb.SecurityGroups) > 0 {
			for _, g := range lb.SecurityGroups {
				if !slices.Contains(b.lbGroups, b.groups[g]) {
					b.lbGroups = append(b.lbGroups, b.groups[g])
				}
			}
			continue
		}
		id := b.id(name, "LoadBalancerSecurityGroup")
		sg := &SecurityGroup{GroupDescription: fmt.Sprintf("shoal stack %s: load balancer %s takes its listener ports from anyone", b.s.Name, name),
			VpcID: ref(paramVpc), Tags: tags(b.s.Name, name+"-lb")}
		var ports []int
		for i, l := range lb.Listeners {
			port := listenerPort(l)
			if slices.Contains(ports, port) {
				continue
			}
			ports = append(ports, port)
			desc := fmt.Sprintf("listener %d", i)
			sg.SecurityGroupIngress = append(sg.SecurityGroupIngress,
				IngressRule{IPProtocol: "tcp", FromPort: intp(port), ToPort: intp(port), CidrIP: "0.0.0.0/0", Description: desc},
				IngressRule{IPProtocol: "tcp", FromPort: intp(port), ToPort: intp(port), CidrIPv6: "::/0", Description: desc})
		}
		b.resource(id, "AWS::EC2::SecurityGroup", sg)
		b.groups["\x00lb:"+name] = id
		b.lbGroups = append(b.lbGroups, id)
		b.w.Add("load_balancers."+name, "no security_groups: shoal lets anyone connect; the template gives the load balancer a group (%s) open to 0.0.0.0/0 and ::/0 on its listener ports", id)
	}
}

// lbGroupIDs are the security groups of load balancer name.
func (b *builder) lbGroupIDs(name string) []any {
	lb := b.s.LoadBalancers[name]
	if len(lb.SecurityGroups) == 0 {
		return []any{groupID(b.groups["\x00lb:"+name])}
	}
	var out []any
	for _, g := range lb.SecurityGroups {
		out = append(out, groupID(b.groups[g]))
	}
	return out
}

// instanceSecurity decides the instances' groups: the cluster's, and the
// services' (ECS in bridge mode has the instance's groups only). A
// cluster without groups gets one that admits the load balancers only:
// the tutorial's EC2 instance group.
func (b *builder) instanceSecurity() {
	c := b.s.Cluster
	for _, g := range c.SecurityGroups {
		b.instanceGroups = appendNew(b.instanceGroups, b.groups[g])
	}
	for _, name := range sortedKeys(b.s.Services) {
		svc := b.s.Services[name]
		if len(svc.SecurityGroups) == 0 || b.isCache(name) {
			continue
		}
		for _, g := range svc.SecurityGroups {
			b.instanceGroups = appendNew(b.instanceGroups, b.groups[g])
		}
		b.w.Add("services."+name+".security_groups", "approximate: in ECS's bridge mode a task has its instance's security groups, so these groups are the instances' and admit to every task on them, not to this service's tasks only")
	}
	if len(c.SecurityGroups) > 0 {
		if c.Isolation != spec.IsolationNetns {
			b.w.Add("cluster.security_groups", "changes meaning: shoal enforces the instances' groups only with cluster.isolation: netns; on AWS they are always enforced")
		}
		return
	}
	id := b.id("instance", "SecurityGroup")
	sg := &SecurityGroup{GroupDescription: fmt.Sprintf("shoal stack %s: the instances take traffic from the load balancers only", b.s.Name),
		VpcID: ref(paramVpc), Tags: tags(b.s.Name, "instances")}
	b.resource(id, "AWS::EC2::SecurityGroup", sg)
	for i, lb := range b.lbGroups {
		b.resource(b.id("instance", fmt.Sprintf("Ingress%d", i+1)), "AWS::EC2::SecurityGroupIngress", IngressRule{
			GroupID: groupID(id), IPProtocol: "tcp", FromPort: intp(0), ToPort: intp(65535),
			SourceSecurityGroupID: groupID(lb), Description: "from the load balancer",
		})
	}
	b.instanceGroups = append(b.instanceGroups, id)
	if len(b.lbGroups) == 0 {
		b.w.Add("cluster", "no security_groups: shoal lets anything reach the tasks; the template's instance group (%s) admits nothing, as no load balancer needs to reach them", id)
		return
	}
	b.w.Add("cluster", "no security_groups: shoal lets anything reach the tasks; the template's instance group (%s) admits the load balancers only, as the tutorial's EC2 instance group", id)
}

// descriptionChars are the characters AWS takes in a security group's
// or a rule's description.
const descriptionChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-:/()#,@[]+=&;{}!$*"

// description keeps the characters of s that AWS takes, at most 255, with
// a warning at path when others are dropped.
func (b *builder) description(path, s string) string {
	out := strings.Map(func(r rune) rune {
		if strings.ContainsRune(descriptionChars, r) {
			return r
		}
		return -1
	}, s)
	if len(out) > 255 {
		out = out[:255]
	}
	if out != s {
		b.w.Add(path, "approximate: AWS takes up to 255 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$* in a description: the template has %q", out)
	}
	return out
}

func appendNew(xs []string, x string) []string {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

// targetGroupIDs names the target groups first: listeners forward to them.
func (b *builder) targetGroupIDs() {
	for _, name := range sortedKeys(b.s.TargetGroups) {
		b.targetGroups[name] = b.id(name, "TargetGroup")
	}
}

// targetGroupResources adds a target group per target group, of instance
// targets (ECS registers each task's instance and host port).
func (b *builder) targetGroupResources() {
	for _, name := range sortedKeys(b.s.TargetGroups) {
		tg, path := b.s.TargetGroups[name], "target_groups."+name
		hc, hp := tg.HealthCheck, path+".health_check"
		interval := b.seconds(hp+".interval", hc.Interval, 5, 300)
		timeout := b.seconds(hp+".timeout", hc.Timeout, 2, 120)
		if timeout >= interval {
			timeout = interval - 1
			b.w.Add(hp+".timeout", "approximate: AWS needs the timeout below the interval (%ds): the template has %ds", interval, timeout)
		}
		out := &TargetGroup{
			TargetType: "instance", Protocol: strings.ToUpper(tg.Protocol), ProtocolVersion: tg.ProtocolVersion,
			Port: b.targetGroupPort(name), VpcID: ref(paramVpc),
			HealthCheckEnabled: true, HealthCheckProtocol: strings.ToUpper(tg.Protocol),
			HealthCheckPath: hc.Path, HealthCheckPort: hc.Port,
			HealthCheckIntervalSeconds: interval, HealthCheckTimeoutSeconds: timeout,
			HealthyThresholdCount: hc.HealthyThreshold, UnhealthyThresholdCount: hc.UnhealthyThreshold,
			Matcher: Matcher{HTTPCode: hc.Matcher.String()},
			Tags:    tags(b.s.Name, name),
		}
		if tg.ProtocolVersion == "GRPC" {
			out.Matcher = Matcher{GrpcCode: "12"}
			b.w.Add(hp+".matcher", "not carried over: the matcher is HTTP codes, a GRPC target group's are gRPC codes; the template keeps ALB's default, 12")
		}
		out.TargetGroupAttributes = b.targetGroupAttributes(path, tg)
		if len(tg.Targets) > 0 {
			b.w.Add(path+".targets", "not carried over: static targets are addresses of this machine; register the servers' instances (or IPs, in a target group of TargetType ip) by hand")
		}
		if len(b.tgUsers[name]) == 0 {
			b.w.Add(path, "no listener forwards to this target group: ECS refuses a service whose target group is behind no load balancer")
		}
		b.resource(b.targetGroups[name], "AWS::ElasticLoadBalancingV2::TargetGroup", out)
	}
}

// targetGroupAttributes maps the drain time, stickiness, slow start and
// algorithm.
func (b *builder) targetGroupAttributes(path string, tg *spec.TargetGroup) []KeyValue {
	attrs := []KeyValue{
		{"deregistration_delay.timeout_seconds", strconv.Itoa(b.seconds(path+".deregistration_delay", tg.DeregistrationDelay, 0, 3600))},
		{"load_balancing.algorithm.type", tg.Algorithm},
		{"slow_start.duration_seconds", strconv.Itoa(b.seconds(path+".slow_start", tg.SlowStart, 0, 900))},
		{"stickiness.enabled", strconv.FormatBool(tg.Stickiness.Enabled)},
		{"stickiness.type", tg.Stickiness.Type},
	}
	d := strconv.Itoa(b.seconds(path+".stickiness.duration", tg.Stickiness.Duration, 1, 604800))
	if tg.Stickiness.Type == "app_cookie" {
		attrs = append(attrs, KeyValue{"stickiness.app_cookie.cookie_name", tg.Stickiness.CookieName},
			KeyValue{"stickiness.app_cookie.duration_seconds", d})
	} else {
		attrs = append(attrs, KeyValue{"stickiness.lb_cookie.duration_seconds", d})
	}
	return attrs
}

// targetGroupPort is the container port of the tasks registered in
// target group name (ECS registers each at its own host port; the group's
// port is only a default), or 80.
func (b *builder) targetGroupPort(name string) int {
	for _, svc := range sortedKeys(b.s.Services) {
		if s := b.s.Services[svc]; s.TargetGroup == name {
			if td := b.s.TaskDefinitions[s.TaskDefinition]; td != nil {
				if _, port := targetContainer(s.TaskDefinition, td); port > 0 {
					return port
				}
			}
		}
	}
	return 80
}

// seconds turns a duration into whole seconds within [lo, hi], a change
// a warning at path.
func (b *builder) seconds(path string, d spec.Duration, lo, hi int) int {
	n := int(d.D().Round(time.Second) / time.Second)
	switch {
	case n < lo:
		b.w.Add(path, "approximate: %s is below AWS's least, %ds: the template has %ds", d, lo, lo)
		return lo
	case n > hi:
		b.w.Add(path, "approximate: %s is above AWS's most, %ds: the template has %ds", d, hi, hi)
		return hi
	case d.D()%time.Second != 0:
		b.w.Add(path, "approximate: AWS counts whole seconds: the template has %ds for %s", n, d)
	}
	return n
}

func listenerPort(l *spec.Listener) int {
	switch {
	case l.Port != 0:
		return l.Port
	case l.Protocol == "https":
		return 443
	}
	return 80
}
