package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
)

// The operations that change the load balancer. Each reads and checks all
// its parameters first, then makes its change through
// Backend.ModifyLoadBalancer, which checks the whole configuration again
// and applies it at once, or not at all.

// elbModify runs change on the served configuration. notFound is the
// operation's code for a backend error wrapping agent.ErrNotFound.
func (a *api) elbModify(ctx context.Context, notFound string, change func(*proxy.Config) *Error) *Error {
	err := a.b.ModifyLoadBalancer(ctx, func(c *proxy.Config) error {
		if e := change(c); e != nil {
			return e
		}
		return nil
	})
	if err == nil {
		return nil
	}
	if errors.Is(err, proxy.ErrUnknownTargetGroup) {
		return clientError("TargetGroupNotFound", err.Error())
	}
	return asError(err, notFound, "ValidationError", "InternalFailure")
}

// elbStackChange is what to do about a change shoal takes only from the
// stack file.
const elbStackChange = "change the stack file and run `shoal deploy`"

type targetGroupsResult struct {
	TargetGroups xlist[xTargetGroup]
}

func (a *api) elbModifyTargetGroup(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("TargetGroupArn")
	if e != nil {
		return nil, e
	}
	hcProtocol, hasProtocol := q.str("HealthCheckProtocol")
	hcPort, hasPort := q.str("HealthCheckPort")
	path, hasPath := q.str("HealthCheckPath")
	enabled, hasEnabled, e := q.boolean("HealthCheckEnabled")
	if e != nil {
		return nil, e
	}
	ints := map[string]*struct {
		v      int
		has    bool
		lo, hi int
	}{
		"HealthCheckIntervalSeconds": {lo: 5, hi: 300},
		"HealthCheckTimeoutSeconds":  {lo: 2, hi: 120},
		"HealthyThresholdCount":      {lo: 2, hi: 10},
		"UnhealthyThresholdCount":    {lo: 2, hi: 10},
	}
	for _, name := range []string{"HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount"} {
		p := ints[name]
		if p.v, p.has, e = q.integer(name); e != nil {
			return nil, e
		}
		if p.has && (p.v < p.lo || p.v > p.hi) {
			return nil, elbRangeError(name, p.v, p.lo, p.hi)
		}
	}
	matcher := q.get("Matcher")
	if matcher.has("GrpcCode") {
		return nil, elbValidation("Matcher.GrpcCode: shoal's health checks are HTTP requests and pass on HTTP codes; give Matcher.HttpCode")
	}
	httpCode, hasCode := matcher.str("HttpCode")
	if e := q.finish(); e != nil {
		return nil, e
	}

	var m proxy.Matcher
	if hasCode {
		if m, e = elbParseMatcher(httpCode); e != nil {
			return nil, e
		}
	}
	var port int
	if hasPort && hcPort != "traffic-port" {
		n, err := strconv.Atoi(hcPort)
		if err != nil || n < 1 || n > 65535 {
			return nil, elbValidation(fmt.Sprintf("HealthCheckPort '%s': use traffic-port or a port from 1 to 65535", hcPort))
		}
		port = n
	}
	if hasPath && (!strings.HasPrefix(path, "/") || len(path) > 1024) {
		return nil, elbValidation(fmt.Sprintf("HealthCheckPath '%s': a path starts with / and has at most 1024 characters", path))
	}
	if hasEnabled && !enabled {
		return nil, elbValidation("HealthCheckEnabled false: shoal always checks the health of a target group's targets (services rely on it to replace failing tasks); to make every target pass, point HealthCheckPath at a path that answers 200")
	}
	v := a.elbView()
	name, e := v.targetGroup(arn)
	if e != nil {
		return nil, e
	}
	e = a.elbModify(ctx, "TargetGroupNotFound", func(c *proxy.Config) *Error {
		tg, ok := c.TargetGroups[name]
		if !ok {
			return elbTGNotFound(arn, v)
		}
		if hasProtocol {
			want := "HTTP"
			if tg.Protocol == "https" {
				want = "HTTPS"
			}
			if hcProtocol != want {
				return elbValidation(fmt.Sprintf("HealthCheckProtocol %s: shoal checks a target group's targets with its own protocol, %s; to change that, %s", hcProtocol, want, elbStackChange))
			}
		}
		hc := tg.HealthCheck
		if hasPath {
			hc.Path = path
		}
		if hasPort {
			hc.Port = port
		}
		if p := ints["HealthCheckIntervalSeconds"]; p.has {
			hc.Interval = time.Duration(p.v) * time.Second
		}
		if p := ints["HealthCheckTimeoutSeconds"]; p.has {
			hc.Timeout = time.Duration(p.v) * time.Second
		}
		if p := ints["HealthyThresholdCount"]; p.has {
			hc.HealthyThreshold = p.v
		}
		if p := ints["UnhealthyThresholdCount"]; p.has {
			hc.UnhealthyThreshold = p.v
		}
		if hasCode {
			hc.Success = m
		}
		if hc.Timeout >= hc.Interval {
			return elbValidation(fmt.Sprintf("Health check interval must be greater than the timeout: the timeout would be %v and the interval %v", hc.Timeout, hc.Interval))
		}
		tg.HealthCheck = hc
		c.TargetGroups[name] = tg
		return nil
	})
	if e != nil {
		return nil, e
	}
	return targetGroupsResult{TargetGroups: xlist[xTargetGroup]{a.elbView().xTargetGroup(name)}}, nil
}

// elbParseMatcher reads ALB's HttpCode: "200", "200,302", "200-299", each
// code within 200-499.
func elbParseMatcher(s string) (proxy.Matcher, *Error) {
	var m proxy.Matcher
	bad := func(why string) (proxy.Matcher, *Error) {
		return nil, elbValidation(fmt.Sprintf("Matcher.HttpCode '%s': %s; use a code (200), codes (200,302) or a range (200-299), within 200-499", s, why))
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		l, err := strconv.Atoi(lo)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a code", part))
		}
		h := l
		if isRange {
			if h, err = strconv.Atoi(hi); err != nil {
				return bad(fmt.Sprintf("%q is not a range", part))
			}
		}
		if l < 200 || h > 499 || l > h {
			return bad(fmt.Sprintf("%s is outside 200-499", part))
		}
		m = append(m, proxy.CodeRange{Lo: l, Hi: h})
	}
	return m, nil
}

func (a *api) elbModifyTargetGroupAttributes(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("TargetGroupArn")
	if e != nil {
		return nil, e
	}
	items, _ := q.list("Attributes")
	if len(items) == 0 {
		return nil, elbMissing("Attributes")
	}
	var set []xAttribute
	for _, it := range items {
		k, _ := it.str("Key")
		val, hasValue := it.str("Value")
		switch {
		case k == "":
			return nil, elbValidation(it.prefix() + ".Key is required")
		case !hasValue:
			return nil, elbValidation(it.prefix() + ".Value is required")
		case slices.ContainsFunc(set, func(x xAttribute) bool { return x.Key == k }):
			return nil, elbValidation(fmt.Sprintf("attribute %s is given twice", k))
		}
		set = append(set, xAttribute{k, val})
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	name, e := v.targetGroup(arn)
	if e != nil {
		return nil, e
	}
	e = a.elbModify(ctx, "TargetGroupNotFound", func(c *proxy.Config) *Error {
		tg, ok := c.TargetGroups[name]
		if !ok {
			return elbTGNotFound(arn, v)
		}
		cur := map[string]string{}
		var keys []string
		for _, at := range elbTGAttributes(tg) {
			cur[at.Key] = at.Value
			keys = append(keys, at.Key)
		}
		for _, at := range set {
			old, known := cur[at.Key]
			if !known {
				return elbValidation(fmt.Sprintf("target group attribute key '%s' is not recognized; shoal's target groups take %s", at.Key, strings.Join(keys, ", ")))
			}
			if i := slices.IndexFunc(elbFixedAttributes, func(f xAttribute) bool { return f.Key == at.Key }); i >= 0 && at.Value != old {
				return elbValidation(fmt.Sprintf("%s '%s': shoal does not support it; it is always '%s' here", at.Key, at.Value, old))
			}
			cur[at.Key] = at.Value
		}
		t, e := elbApplyAttributes(tg, cur)
		if e != nil {
			return e
		}
		c.TargetGroups[name] = t
		return nil
	})
	if e != nil {
		return nil, e
	}
	return elbAttributesResult{Attributes: xlist[xAttribute](elbTGAttributes(a.elbView().cfg.TargetGroups[name]))}, nil
}

// elbApplyAttributes sets a target group's settings from the whole set of
// its attributes, checking each as ALB does.
func elbApplyAttributes(tg proxy.TargetGroupConfig, attrs map[string]string) (proxy.TargetGroupConfig, *Error) {
	num := func(key string, ok func(int) bool, want string) (int, *Error) {
		n, err := strconv.Atoi(attrs[key])
		if err != nil || !ok(n) {
			return 0, elbValidation(fmt.Sprintf("%s '%s': %s", key, attrs[key], want))
		}
		return n, nil
	}
	delay, e := num(attrDeregistrationDelay, func(n int) bool { return n >= 0 && n <= 3600 }, "use 0 to 3600 seconds")
	if e != nil {
		return tg, e
	}
	lbDur, e := num(attrLBCookieDuration, func(n int) bool { return n >= 1 && n <= 604800 }, "use 1 to 604800 seconds (7 days)")
	if e != nil {
		return tg, e
	}
	appDur, e := num(attrAppCookieDuration, func(n int) bool { return n >= 1 && n <= 604800 }, "use 1 to 604800 seconds (7 days)")
	if e != nil {
		return tg, e
	}
	slow, e := num(attrSlowStart, func(n int) bool { return n == 0 || n >= 30 && n <= 900 }, "use 0 (off) or 30 to 900 seconds")
	if e != nil {
		return tg, e
	}
	enabled, err := strconv.ParseBool(attrs[attrStickinessEnabled])
	if err != nil || attrs[attrStickinessEnabled] != strings.ToLower(attrs[attrStickinessEnabled]) {
		return tg, elbValidation(fmt.Sprintf("%s '%s': use true or false", attrStickinessEnabled, attrs[attrStickinessEnabled]))
	}
	typ := attrs[attrStickinessType]
	if typ != proxy.LBCookie && typ != proxy.AppCookie {
		return tg, elbValidation(fmt.Sprintf("%s '%s': use lb_cookie or app_cookie (source_ip stickiness is for Network Load Balancers)", attrStickinessType, typ))
	}
	alg := attrs[attrAlgorithm]
	if !slices.Contains([]string{proxy.RoundRobin, proxy.LeastOutstandingRequests, proxy.WeightedRandom}, alg) {
		return tg, elbValidation(fmt.Sprintf("%s '%s': use round_robin, least_outstanding_requests or weighted_random", attrAlgorithm, alg))
	}
	if slow != 0 && alg != proxy.RoundRobin {
		return tg, elbValidation(fmt.Sprintf("%s %d with %s %s: slow start works with round_robin only, as on ALB", attrSlowStart, slow, attrAlgorithm, alg))
	}
	cookie := attrs[attrAppCookieName]
	tg.Stickiness = proxy.Stickiness{}
	if enabled {
		switch typ {
		case proxy.LBCookie:
			tg.Stickiness = proxy.Stickiness{Type: proxy.LBCookie, Duration: time.Duration(lbDur) * time.Second}
		case proxy.AppCookie:
			if cookie == "" {
				return tg, elbValidation(attrAppCookieName + " is required with app_cookie stickiness: the application's cookie")
			}
			if strings.HasPrefix(strings.ToUpper(cookie), "AWSALB") {
				return tg, elbValidation(fmt.Sprintf("%s '%s': names starting with AWSALB are the load balancer's own cookies", attrAppCookieName, cookie))
			}
			tg.Stickiness = proxy.Stickiness{Type: proxy.AppCookie, Duration: time.Duration(appDur) * time.Second, CookieName: cookie}
		}
	}
	tg.DeregistrationDelay = time.Duration(delay) * time.Second
	tg.SlowStart = time.Duration(slow) * time.Second
	tg.Algorithm = alg
	return tg, nil
}

type rulesResult struct {
	Rules xlist[xRule]
}

func (a *api) elbModifyRule(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("RuleArn")
	if e != nil {
		return nil, e
	}
	v := a.elbView()
	ref, e := v.rule(arn)
	if e != nil {
		return nil, e
	}
	if ref.priority == 0 {
		return nil, clientError("OperationNotPermitted", fmt.Sprintf("rule '%s' is listener %s's default rule: change its actions with ModifyListener's DefaultActions", arn, ref.l.arn))
	}
	i := slices.IndexFunc(ref.l.cfg.Routes.Rules, func(r routing.Rule) bool { return r.Priority == ref.priority })
	existing := ref.l.cfg.Routes.Rules[i]

	condItems, hasConds := q.list("Conditions")
	actItems, hasActs := q.list("Actions")
	trItems, hasTransforms := q.list("Transforms")
	reset, _, e := q.boolean("ResetTransforms")
	if e != nil {
		return nil, e
	}
	var conds []routing.Condition
	if hasConds {
		if conds, e = conditionsFrom(condItems); e != nil {
			return nil, e
		}
	}
	var act routing.Action
	if hasActs {
		if act, e = v.actionsFrom(actItems, "Actions", existing.Action); e != nil {
			return nil, e
		}
	}
	var transforms []routing.Transform
	if hasTransforms {
		if transforms, e = transformsFrom(trItems); e != nil {
			return nil, e
		}
		if reset && len(transforms) > 0 {
			return nil, elbValidation("give Transforms or ResetTransforms true, not both")
		}
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	e = a.elbModify(ctx, "RuleNotFound", func(c *proxy.Config) *Error {
		li := slices.IndexFunc(c.Listeners, func(l proxy.ListenerConfig) bool { return l.Name == ref.l.cfg.Name })
		if li < 0 {
			return clientError("RuleNotFound", fmt.Sprintf("Rule '%s' not found: its listener is gone", arn))
		}
		l := &c.Listeners[li]
		ri := slices.IndexFunc(l.Routes.Rules, func(r routing.Rule) bool { return r.Priority == ref.priority })
		if ri < 0 {
			return clientError("RuleNotFound", fmt.Sprintf("Rule '%s' not found: listener %s has no rule of priority %d any more", arn, l.Name, ref.priority))
		}
		rule := l.Routes.Rules[ri]
		if hasConds {
			rule.Conditions = conds
		}
		if hasActs {
			rule.Action = act
		}
		if hasTransforms {
			rule.Transforms = transforms
		}
		if reset {
			rule.Transforms = nil
		}
		rules := slices.Clone(l.Routes.Rules)
		rules[ri] = rule
		l.Routes.Rules = rules
		return elbCheckListener(c, *l)
	})
	if e != nil {
		return nil, e
	}
	v = a.elbView()
	ref, e = v.rule(arn)
	if e != nil {
		return nil, e
	}
	return rulesResult{Rules: xlist[xRule]{v.xRuleOf(ref)}}, nil
}

type listenersResult struct {
	Listeners xlist[xListener]
}

func (a *api) elbModifyListener(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("ListenerArn")
	if e != nil {
		return nil, e
	}
	v := a.elbView()
	l, e := v.listener(arn)
	if e != nil {
		return nil, e
	}
	cur := v.xListener(l)
	// What only the stack file changes may be given as it is.
	port, hasPort, e := q.integer("Port")
	if e != nil {
		return nil, e
	}
	if hasPort && port != cur.Port {
		return nil, elbValidation(fmt.Sprintf("Port %d: shoal does not move listener %s off port %d through the API; %s", port, l.cfg.Name, cur.Port, elbStackChange))
	}
	if proto, ok := q.str("Protocol"); ok && proto != cur.Protocol {
		return nil, elbValidation(fmt.Sprintf("Protocol %s: listener %s is %s; shoal does not change a listener's protocol through the API; %s", proto, l.cfg.Name, cur.Protocol, elbStackChange))
	}
	if certs, ok := q.list("Certificates"); ok {
		var given, have []string
		for _, c := range certs {
			s, _ := c.str("CertificateArn")
			c.ignore("IsDefault")
			given = append(given, s)
		}
		for _, c := range cur.Certificates {
			have = append(have, c.CertificateArn)
		}
		if !slices.Equal(given, have) {
			return nil, elbValidation(fmt.Sprintf("Certificates: shoal's certificates are PEM files named in the stack file (listener %s's is %s); %s", l.cfg.Name, strings.Join(have, ", "), elbStackChange))
		}
	}
	if ssl, ok := q.str("SslPolicy"); ok && ssl != cur.SslPolicy {
		return nil, elbValidation(fmt.Sprintf("SslPolicy %s: shoal's https listeners take TLS 1.2 and 1.3 with Go's default cipher suites, about %s, and nothing else", ssl, elbSSLPolicy))
	}
	if alpn, _ := q.strs("AlpnPolicy"); len(alpn) > 0 {
		return nil, elbValidation("AlpnPolicy is for TLS listeners of Network Load Balancers; an https listener offers HTTP/2 and HTTP/1.1, as ALB's")
	}
	if mode, ok := q.get("MutualAuthentication").str("Mode"); ok && mode != "off" {
		return nil, elbValidation(fmt.Sprintf("MutualAuthentication Mode %s: shoal has no mutual TLS; only off is taken", mode))
	}
	defItems, hasDefault := q.list("DefaultActions")
	var act routing.Action
	if hasDefault {
		if act, e = v.actionsFrom(defItems, "DefaultActions", elbListenerRoutes(l.cfg).Default); e != nil {
			return nil, e
		}
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	if hasDefault {
		e = a.elbModify(ctx, "ListenerNotFound", func(c *proxy.Config) *Error {
			li := slices.IndexFunc(c.Listeners, func(x proxy.ListenerConfig) bool { return x.Name == l.cfg.Name })
			if li < 0 {
				return clientError("ListenerNotFound", fmt.Sprintf("Listener '%s' not found: it is gone", arn))
			}
			// Only the routes: the rest of a listener (its TargetGroup
			// shorthand included, which a set default action overrides) is
			// the stack file's.
			c.Listeners[li].Routes.Default = act
			return elbCheckListener(c, c.Listeners[li])
		})
		if e != nil {
			return nil, e
		}
	}
	v = a.elbView()
	if l, e = v.listener(arn); e != nil {
		return nil, e
	}
	return listenersResult{Listeners: xlist[xListener]{v.xListener(l)}}, nil
}

// elbLoopbackTarget checks a target to register: an IP address of this
// machine, since shoal's load balancer and targets run here.
func elbLoopbackTarget(t elbTarget) (elbTarget, *Error) {
	ip, err := netip.ParseAddr(t.id)
	if err != nil {
		return t, clientError("InvalidTarget", fmt.Sprintf("target '%s': shoal's target groups are of target type ip; give the target's IP address (127.0.0.1, or another in 127.0.0.0/8, or ::1)", t.id))
	}
	ip = ip.Unmap()
	if !(ip.Is4() && ip.As4()[0] == 127) && ip != netip.IPv6Loopback() {
		return t, clientError("InvalidTarget", fmt.Sprintf("target '%s': shoal's targets run on this machine; give an address in 127.0.0.0/8 or ::1", t.id))
	}
	t.id = ip.String()
	return t, nil
}

// elbTaskTargets are the tasks registered in a target group, by their
// targets, for messages. Read before a change: the backend is not to be
// called from within one.
func (a *api) elbTaskTargets(group string) map[elbTarget]agent.TaskStatus {
	out := map[elbTarget]agent.TaskStatus{}
	for _, tk := range a.b.Tasks(false) {
		if tk.TargetGroup == group && tk.Address != "" {
			t := elbTargetOf(tk.Address)
			if ip, err := netip.ParseAddr(t.id); err == nil {
				t.id = ip.Unmap().String()
			}
			out[t] = tk
		}
	}
	return out
}

// elbTaskOf finds the task of target t among tasks.
func elbTaskOf(tasks map[elbTarget]agent.TaskStatus, t elbTarget) (agent.TaskStatus, bool) {
	for k, tk := range tasks {
		if k.is(t) {
			return tk, true
		}
	}
	return agent.TaskStatus{}, false
}

func (a *api) elbGroupHealth(group string) []proxy.TargetHealth {
	var out []proxy.TargetHealth
	for _, h := range a.b.Targets() {
		if h.Group == group {
			out = append(out, h)
		}
	}
	return out
}

// elbTargetsParam reads Targets of RegisterTargets and DeregisterTargets.
func (q *qreq) elbTargetsParam() ([]elbTarget, *Error) {
	items, _ := q.list("Targets")
	if len(items) == 0 {
		return nil, elbMissing("Targets")
	}
	return elbTargetsFrom(items, false)
}

func (a *api) elbRegisterTargets(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("TargetGroupArn")
	if e != nil {
		return nil, e
	}
	targets, e := q.elbTargetsParam()
	if e != nil {
		return nil, e
	}
	for i := range targets {
		if targets[i], e = elbLoopbackTarget(targets[i]); e != nil {
			return nil, e
		}
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	name, e := v.targetGroup(arn)
	if e != nil {
		return nil, e
	}
	health, tasks := a.elbGroupHealth(name), a.elbTaskTargets(name)
	e = a.elbModify(ctx, "TargetGroupNotFound", func(c *proxy.Config) *Error {
		tg, ok := c.TargetGroups[name]
		if !ok {
			return elbTGNotFound(arn, v)
		}
		static := slices.Clone(tg.Targets)
		for _, t := range targets {
			if slices.ContainsFunc(static, func(s string) bool { return elbTargetOf(s).is(t) }) {
				continue // registered already: nothing to do, as ALB
			}
			for _, h := range health {
				if !elbTargetOf(h.Target).is(t) {
					continue
				}
				switch h.State {
				case proxy.StateDraining:
					return clientError("InvalidTarget", fmt.Sprintf("target %s is draining from target group %s; register it again once DescribeTargetHealth shows it unused (deregistration delay %v)",
						t.addr(), name, tg.DeregistrationDelay))
				case proxy.StateUnused:
				default:
					who := "a service's task"
					if tk, ok := elbTaskOf(tasks, t); ok {
						who = fmt.Sprintf("task %s of service %s", tk.ID, tk.Service)
					}
					return clientError("InvalidTarget", fmt.Sprintf("target %s is registered in target group %s by %s: shoal registers and deregisters a service's tasks itself",
						t.addr(), name, who))
				}
			}
			static = append(static, t.addr())
		}
		tg.Targets = static
		c.TargetGroups[name] = tg
		return nil
	})
	if e != nil {
		return nil, e
	}
	return struct{}{}, nil
}

func (a *api) elbDeregisterTargets(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("TargetGroupArn")
	if e != nil {
		return nil, e
	}
	targets, e := q.elbTargetsParam()
	if e != nil {
		return nil, e
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	name, e := v.targetGroup(arn)
	if e != nil {
		return nil, e
	}
	health, tasks := a.elbGroupHealth(name), a.elbTaskTargets(name)
	e = a.elbModify(ctx, "TargetGroupNotFound", func(c *proxy.Config) *Error {
		tg, ok := c.TargetGroups[name]
		if !ok {
			return elbTGNotFound(arn, v)
		}
		static := slices.Clone(tg.Targets)
		for _, t := range targets {
			i := slices.IndexFunc(static, func(s string) bool { return elbTargetOf(s).is(t) })
			if i >= 0 {
				static = slices.Delete(static, i, i+1)
				continue
			}
			for _, h := range health {
				if !elbTargetOf(h.Target).is(t) {
					continue
				}
				switch h.State {
				case proxy.StateInitial, proxy.StateHealthy, proxy.StateUnhealthy:
					how := "stop the task (aws ecs stop-task) or scale its service down (aws ecs update-service --desired-count)"
					who := "a service's task"
					if tk, ok := elbTaskOf(tasks, t); ok {
						who = fmt.Sprintf("task %s of service %s", tk.ID, tk.Service)
						how = fmt.Sprintf("stop the task (aws ecs stop-task --task %s) or scale the service down (aws ecs update-service --service %s --desired-count N)", tk.ID, tk.Service)
					}
					return clientError("InvalidTarget", fmt.Sprintf("target %s of target group %s was registered by %s, not by RegisterTargets: shoal deregisters it when the task stops; %s instead",
						t.addr(), name, who, how))
				}
			}
			// Not registered (or draining already): nothing to do, as ALB.
		}
		tg.Targets = static
		c.TargetGroups[name] = tg
		return nil
	})
	if e != nil {
		return nil, e
	}
	return struct{}{}, nil
}
