package awsapi

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
)

// How the stack maps onto ELBv2's resources:
//
//   - A load balancer is the prefix of listener names: listeners "web/0"
//     and "web/1" are load balancer "web"'s listeners 0 and 1.
//   - A target group is a proxy.Config target group, of target type ip: a
//     target's Id is its IP address and its Port its port.
//   - A listener's rules are its routing rules by priority, then the
//     default rule (priority "default"), which is the listener's default
//     action.
//   - What AWS has and a stack on one machine does not (a VPC, subnets,
//     zones, creation times) is made up, stably: see docs/aws-api.md.

// elbv2Started stands for every load balancer's CreatedTime: shoal's
// start.
var elbv2Started = time.Now().UTC()

// elbView is the served configuration as ELBv2 resources, with their
// ARNs.
type elbView struct {
	n   arns
	cfg proxy.Config
	lbs []*lbView // by name
	tgs []string  // target group names, sorted

	lbByARN   map[string]*lbView
	lisByARN  map[string]*lisView
	ruleByARN map[string]ruleRef
	tgByARN   map[string]string
	// tgPort is the port of the first listener forwarding to a group;
	// tgLBs the load balancers that forward to it.
	tgPort map[string]int
	tgLBs  map[string][]*lbView
}

type lbView struct {
	name, arn string
	listeners []*lisView // by index
}

type lisView struct {
	lb    *lbView
	index int
	arn   string
	cfg   proxy.ListenerConfig
}

// ruleRef is a listener's rule: priority 0 is the default rule.
type ruleRef struct {
	l        *lisView
	priority int
}

func (a *api) elbView() *elbView { return newELBView(a.arns(), a.b.LoadBalancer()) }

func newELBView(n arns, cfg proxy.Config) *elbView {
	v := &elbView{
		n: n, cfg: cfg,
		lbByARN: map[string]*lbView{}, lisByARN: map[string]*lisView{}, ruleByARN: map[string]ruleRef{},
		tgByARN: map[string]string{}, tgPort: map[string]int{}, tgLBs: map[string][]*lbView{},
	}
	byName := map[string]*lbView{}
	for _, l := range cfg.Listeners {
		name, index, ok := elbSplitListenerName(l.Name)
		lb := byName[name]
		if lb == nil {
			lb = &lbView{name: name, arn: n.loadBalancerARN(name)}
			byName[name] = lb
			v.lbs = append(v.lbs, lb)
		}
		if !ok {
			index = len(lb.listeners)
		}
		lv := &lisView{lb: lb, index: index, arn: n.listenerARN(name, index), cfg: l}
		lb.listeners = append(lb.listeners, lv)
	}
	slices.SortFunc(v.lbs, func(a, b *lbView) int { return cmp.Compare(a.name, b.name) })
	for _, lb := range v.lbs {
		slices.SortStableFunc(lb.listeners, func(a, b *lisView) int { return a.index - b.index })
		v.lbByARN[lb.arn] = lb
		for _, l := range lb.listeners {
			v.lisByARN[l.arn] = l
			v.ruleByARN[n.ruleARN(lb.name, l.index, 0)] = ruleRef{l, 0}
			for _, r := range l.cfg.Routes.Rules {
				v.ruleByARN[n.ruleARN(lb.name, l.index, r.Priority)] = ruleRef{l, r.Priority}
			}
		}
	}
	v.tgs = slices.Sorted(maps.Keys(cfg.TargetGroups))
	for _, name := range v.tgs {
		v.tgByARN[n.targetGroupARN(name)] = name
	}
	// Ports and load balancers of target groups, in the listeners' order.
	for _, l := range cfg.Listeners {
		lbName, _, _ := elbSplitListenerName(l.Name)
		for _, g := range elbForwardGroups(elbListenerRoutes(l)) {
			if _, ok := v.tgPort[g]; !ok {
				v.tgPort[g] = elbAddrPort(l.Address)
			}
			if !slices.ContainsFunc(v.tgLBs[g], func(lb *lbView) bool { return lb.name == lbName }) {
				v.tgLBs[g] = append(v.tgLBs[g], byName[lbName])
			}
		}
	}
	for _, lbs := range v.tgLBs {
		slices.SortFunc(lbs, func(a, b *lbView) int { return cmp.Compare(a.name, b.name) })
	}
	return v
}

// elbSplitListenerName splits "web/0" into the load balancer "web" and the
// listener's index 0; ok is false for a name of another form (the whole
// name is then the load balancer's).
func elbSplitListenerName(name string) (lb string, index int, ok bool) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return name, 0, false
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n < 0 {
		return name, 0, false
	}
	return name[:i], n, true
}

// elbListenerRoutes are a listener's rules and default action, with the
// TargetGroup shorthand as the default action, as the balancer reads them.
func elbListenerRoutes(l proxy.ListenerConfig) routing.Listener {
	r := l.Routes
	if r.Scheme == "" {
		r.Scheme = cmp.Or(l.Protocol, "http")
	}
	if r.Default.Type == "" && l.TargetGroup != "" {
		r.Default = routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{
			Groups: []routing.WeightedGroup{{Name: l.TargetGroup, Weight: 1}}}}
	}
	return r
}

// elbForwardGroups are the target groups a listener's actions forward to.
func elbForwardGroups(r routing.Listener) []string {
	var out []string
	for _, a := range append([]routing.Action{r.Default}, elbActionsOf(r.Rules)...) {
		if a.Type == routing.Forward && a.Forward != nil {
			for _, g := range a.Forward.Groups {
				if !slices.Contains(out, g.Name) {
					out = append(out, g.Name)
				}
			}
		}
	}
	return out
}

func elbActionsOf(rules []routing.Rule) []routing.Action {
	out := make([]routing.Action, len(rules))
	for i, r := range rules {
		out[i] = r.Action
	}
	return out
}

// elbAddrPort is the port of host:port (0 when it has none).
func elbAddrPort(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// dnsName is a load balancer's DNS name: the host its first listener is
// bound to, localhost for an unspecified address (0.0.0.0, ::), so that
// it resolves and reaches the load balancer.
func (lb *lbView) dnsName() string {
	if len(lb.listeners) == 0 {
		return "localhost"
	}
	host, _, err := net.SplitHostPort(lb.listeners[0].cfg.Address)
	if err != nil || host == "" {
		return "localhost"
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return "localhost"
	}
	return host
}

// Made-up identifiers, stable for the stack.

// hexOf is n hex digits derived from the stack's name and the parts.
func (n arns) hexOf(digits int, parts ...string) string {
	sum := sha256.Sum256([]byte(n.cluster + "\x00" + strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:digits]
}

// vpcID is the stack's one VPC: "vpc-" and 17 hex digits.
func (n arns) vpcID() string { return "vpc-" + n.hexOf(17, "vpc") }

// subnetID is the stack's one subnet.
func (n arns) subnetID() string { return "subnet-" + n.hexOf(17, "subnet") }

// zone is the stack's one Availability Zone.
func (n arns) zone() string { return n.region + "a" }

// certificateARN names a listener's certificate as an ACM certificate
// whose id (a UUID) is derived from the certificate file's path: the same
// file has the same ARN across restarts, and two files two ARNs.
func (n arns) certificateARN(certFile string) string {
	h := n.hexOf(32, "certificate", certFile)
	return n.prefix("acm") + "certificate/" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ARNs read back.

// elbARNKinds name a resource type in messages.
var elbARNKinds = map[string]string{
	"loadbalancer":  "load balancer",
	"listener":      "listener",
	"listener-rule": "rule",
	"targetgroup":   "target group",
}

// elbCheckARN refuses a string that is not an ELBv2 ARN of the kind
// ("loadbalancer", "listener", "listener-rule", "targetgroup").
func elbCheckARN(s, kind string) *Error {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "elasticloadbalancing" || !strings.HasPrefix(parts[5], kind+"/") {
		return elbValidation(fmt.Sprintf("'%s' is not a valid %s ARN", s, elbARNKinds[kind]))
	}
	return nil
}

// notFoundHint says where shoal looked, for NotFound messages.
func (v *elbView) notFoundHint() string {
	return fmt.Sprintf("stack %s serves it in region %s, account %s", v.n.cluster, v.n.region, AccountID)
}

func (v *elbView) loadBalancer(arn string) (*lbView, *Error) {
	if e := elbCheckARN(arn, "loadbalancer"); e != nil {
		return nil, e
	}
	if lb := v.lbByARN[arn]; lb != nil {
		return lb, nil
	}
	return nil, clientError("LoadBalancerNotFound", fmt.Sprintf("Load balancer '%s' not found (no load balancer of %s)", arn, v.notFoundHint()))
}

func (v *elbView) listener(arn string) (*lisView, *Error) {
	if e := elbCheckARN(arn, "listener"); e != nil {
		return nil, e
	}
	if l := v.lisByARN[arn]; l != nil {
		return l, nil
	}
	return nil, clientError("ListenerNotFound", fmt.Sprintf("Listener '%s' not found (no listener of %s)", arn, v.notFoundHint()))
}

func (v *elbView) rule(arn string) (ruleRef, *Error) {
	if e := elbCheckARN(arn, "listener-rule"); e != nil {
		return ruleRef{}, e
	}
	if r, ok := v.ruleByARN[arn]; ok {
		return r, nil
	}
	return ruleRef{}, clientError("RuleNotFound", fmt.Sprintf("Rule '%s' not found (no rule of %s)", arn, v.notFoundHint()))
}

func (v *elbView) targetGroup(arn string) (string, *Error) {
	if e := elbCheckARN(arn, "targetgroup"); e != nil {
		return "", e
	}
	if name, ok := v.tgByARN[arn]; ok {
		return name, nil
	}
	return "", elbTGNotFound(arn, v)
}

func elbTGNotFound(arn string, v *elbView) *Error {
	return clientError("TargetGroupNotFound", fmt.Sprintf("Target group '%s' not found (no target group of %s)", arn, v.notFoundHint()))
}

// XML shapes of ELBv2's answers, named and nested as the API's.

type xLoadBalancer struct {
	LoadBalancerArn   string
	DNSName           string
	CreatedTime       string
	LoadBalancerName  string
	Scheme            string
	VpcId             string
	State             xLBState
	Type              string
	AvailabilityZones xlist[xAZ]
	IpAddressType     string
}

type xLBState struct{ Code string }

type xAZ struct{ ZoneName, SubnetId string }

type xListener struct {
	ListenerArn     string
	LoadBalancerArn string
	Port            int
	Protocol        string
	Certificates    xlist[xCertificate] `xml:",omitempty"`
	SslPolicy       string              `xml:",omitempty"`
	DefaultActions  xlist[xAction]
}

type xCertificate struct {
	CertificateArn string
	IsDefault      *bool `xml:",omitempty"`
}

type xAction struct {
	Type                   string
	TargetGroupArn         string          `xml:",omitempty"`
	ForwardConfig          *xForward       `xml:",omitempty"`
	RedirectConfig         *xRedirect      `xml:",omitempty"`
	FixedResponseConfig    *xFixedResponse `xml:",omitempty"`
	AuthenticateOidcConfig *xOIDC          `xml:",omitempty"`
	JwtValidationConfig    *xJWT           `xml:",omitempty"`
	Order                  int
}

type xForward struct {
	TargetGroups                xlist[xTargetGroupTuple]
	TargetGroupStickinessConfig xTGStickiness
}

type xTargetGroupTuple struct {
	TargetGroupArn string
	Weight         int
}

type xTGStickiness struct {
	Enabled         bool
	DurationSeconds int `xml:",omitempty"`
}

type xRedirect struct {
	Protocol, Port, Host, Path, Query, StatusCode string
}

type xFixedResponse struct {
	MessageBody string `xml:",omitempty"`
	StatusCode  string
	ContentType string `xml:",omitempty"`
}

type xOIDC struct {
	Issuer                           string
	AuthorizationEndpoint            string
	TokenEndpoint                    string
	UserInfoEndpoint                 string
	ClientId                         string
	SessionCookieName                string
	Scope                            string
	SessionTimeout                   int64
	OnUnauthenticatedRequest         string
	AuthenticationRequestExtraParams xmap `xml:",omitempty"`
}

type xJWT struct {
	JwksEndpoint     string
	Issuer           string
	AdditionalClaims xlist[xClaim] `xml:",omitempty"`
}

type xClaim struct {
	Format, Name string
	Values       xlist[string]
}

type xRule struct {
	RuleArn    string
	Priority   string
	Conditions xlist[xCondition]
	Actions    xlist[xAction]
	IsDefault  bool
	Transforms xlist[xTransform] `xml:",omitempty"`
}

type xCondition struct {
	Field                   string
	Values                  xlist[string]     `xml:",omitempty"`
	HostHeaderConfig        *xValues          `xml:",omitempty"`
	PathPatternConfig       *xValues          `xml:",omitempty"`
	HttpHeaderConfig        *xHeaderCondition `xml:",omitempty"`
	HttpRequestMethodConfig *xValues          `xml:",omitempty"`
	QueryStringConfig       *xQueryCondition  `xml:",omitempty"`
	SourceIpConfig          *xValues          `xml:",omitempty"`
}

type xValues struct{ Values xlist[string] }

type xHeaderCondition struct {
	HttpHeaderName string
	Values         xlist[string]
}

type xQueryCondition struct{ Values xlist[xKeyValue] }

type xKeyValue struct {
	Key   string `xml:",omitempty"`
	Value string
}

type xTransform struct {
	Type                    string
	HostHeaderRewriteConfig *xRewrites `xml:",omitempty"`
	UrlRewriteConfig        *xRewrites `xml:",omitempty"`
}

type xRewrites struct{ Rewrites xlist[xRewrite] }

type xRewrite struct{ Regex, Replace string }

type xTargetGroup struct {
	TargetGroupArn             string
	TargetGroupName            string
	Protocol                   string
	Port                       int
	VpcId                      string
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckEnabled         bool
	HealthCheckIntervalSeconds int
	HealthCheckTimeoutSeconds  int
	HealthyThresholdCount      int
	UnhealthyThresholdCount    int
	HealthCheckPath            string
	Matcher                    xMatcher
	LoadBalancerArns           xlist[string]
	TargetType                 string
	ProtocolVersion            string
	IpAddressType              string
}

type xMatcher struct{ HttpCode string }

type xAttribute struct{ Key, Value string }

type xTargetHealthDescription struct {
	Target          xTarget
	HealthCheckPort string `xml:",omitempty"`
	TargetHealth    xTargetHealth
}

type xTarget struct {
	Id   string
	Port int `xml:",omitempty"`
}

type xTargetHealth struct {
	State       string
	Reason      string `xml:",omitempty"`
	Description string `xml:",omitempty"`
}

// Resources as XML.

func (v *elbView) xLoadBalancer(lb *lbView) xLoadBalancer {
	return xLoadBalancer{
		LoadBalancerArn:   lb.arn,
		DNSName:           lb.dnsName(),
		CreatedTime:       elbv2Started.Format("2006-01-02T15:04:05.000Z"),
		LoadBalancerName:  lb.name,
		Scheme:            "internet-facing",
		VpcId:             v.n.vpcID(),
		State:             xLBState{Code: "active"},
		Type:              "application",
		AvailabilityZones: xlist[xAZ]{{ZoneName: v.n.zone(), SubnetId: v.n.subnetID()}},
		IpAddressType:     "ipv4",
	}
}

// elbSSLPolicy is the ALB security policy closest to what shoal's https
// listeners accept (TLS 1.2 and 1.3, Go's default suites).
const elbSSLPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

func (v *elbView) xListener(l *lisView) xListener {
	x := xListener{
		ListenerArn:     l.arn,
		LoadBalancerArn: l.lb.arn,
		Port:            elbAddrPort(l.cfg.Address),
		Protocol:        "HTTP",
		DefaultActions:  xlist[xAction](v.xActions(elbListenerRoutes(l.cfg).Default)),
	}
	if l.cfg.Protocol == "https" {
		x.Protocol = "HTTPS"
		x.SslPolicy = elbSSLPolicy
		if len(l.cfg.Certificates) > 0 {
			// As AWS: the default certificate only (the others are
			// DescribeListenerCertificates').
			x.Certificates = xlist[xCertificate]{{CertificateArn: v.n.certificateARN(l.cfg.Certificates[0].CertFile)}}
		}
	}
	return x
}

func (v *elbView) xRule(l *lisView, rule routing.Rule) xRule {
	x := xRule{
		RuleArn:  v.n.ruleARN(l.lb.name, l.index, rule.Priority),
		Priority: strconv.Itoa(rule.Priority),
		Actions:  xlist[xAction](v.xActions(rule.Action)),
	}
	x.Conditions = xlist[xCondition]{}
	for _, c := range rule.Conditions {
		x.Conditions = append(x.Conditions, xConditionOf(c))
	}
	for _, t := range rule.Transforms {
		rw := &xRewrites{Rewrites: xlist[xRewrite]{{Regex: t.Regex, Replace: t.Replace}}}
		xt := xTransform{Type: string(t.Type)}
		if t.Type == routing.HostHeaderRewrite {
			xt.HostHeaderRewriteConfig = rw
		} else {
			xt.UrlRewriteConfig = rw
		}
		x.Transforms = append(x.Transforms, xt)
	}
	return x
}

func (v *elbView) xDefaultRule(l *lisView) xRule {
	return xRule{
		RuleArn:    v.n.ruleARN(l.lb.name, l.index, 0),
		Priority:   "default",
		Conditions: xlist[xCondition]{},
		Actions:    xlist[xAction](v.xActions(elbListenerRoutes(l.cfg).Default)),
		IsDefault:  true,
	}
}

// xRuleOf is the rule r refers to.
func (v *elbView) xRuleOf(r ruleRef) xRule {
	if r.priority == 0 {
		return v.xDefaultRule(r.l)
	}
	for _, rule := range r.l.cfg.Routes.Rules {
		if rule.Priority == r.priority {
			return v.xRule(r.l, rule)
		}
	}
	return xRule{}
}

func xConditionOf(c routing.Condition) xCondition {
	x := xCondition{Field: string(c.Field)}
	values := func() *xValues { return &xValues{Values: xlist[string](slices.Clone(c.Values))} }
	switch c.Field {
	case routing.HostHeader:
		x.Values, x.HostHeaderConfig = xlist[string](slices.Clone(c.Values)), values()
	case routing.PathPattern:
		x.Values, x.PathPatternConfig = xlist[string](slices.Clone(c.Values)), values()
	case routing.HTTPHeader:
		x.HttpHeaderConfig = &xHeaderCondition{HttpHeaderName: c.HeaderName, Values: xlist[string](slices.Clone(c.Values))}
	case routing.HTTPRequestMethod:
		x.HttpRequestMethodConfig = values()
	case routing.QueryString:
		q := &xQueryCondition{Values: xlist[xKeyValue]{}}
		for _, kv := range c.Query {
			q.Values = append(q.Values, xKeyValue{Key: kv.Key, Value: kv.Value})
		}
		x.QueryStringConfig = q
	case routing.SourceIP:
		ips := &xValues{Values: xlist[string]{}}
		for _, p := range c.CIDRs {
			ips.Values = append(ips.Values, p.String())
		}
		x.SourceIpConfig = ips
	}
	return x
}

// xActions is an action as ALB lists it: the authentication first, then
// the forward, redirect or fixed response, numbered by Order.
func (v *elbView) xActions(a routing.Action) []xAction {
	var out []xAction
	if a.Auth != nil {
		switch {
		case a.Auth.OIDC != nil:
			o := a.Auth.OIDC
			out = append(out, xAction{Type: "authenticate-oidc", AuthenticateOidcConfig: &xOIDC{
				Issuer: o.Issuer, AuthorizationEndpoint: o.AuthorizationEndpoint, TokenEndpoint: o.TokenEndpoint,
				UserInfoEndpoint: o.UserInfoEndpoint, ClientId: o.ClientID,
				SessionCookieName:                cmp.Or(o.SessionCookieName, "AWSELBAuthSessionCookie"),
				Scope:                            cmp.Or(o.Scope, "openid"),
				SessionTimeout:                   int64(cmp.Or(o.SessionTimeout, 7*24*time.Hour) / time.Second),
				OnUnauthenticatedRequest:         cmp.Or(o.OnUnauthenticatedRequest, "authenticate"),
				AuthenticationRequestExtraParams: xmap(o.ExtraParams),
			}})
		case a.Auth.JWT != nil:
			j := a.Auth.JWT
			x := &xJWT{JwksEndpoint: j.JWKSURL, Issuer: j.Issuer}
			for _, c := range j.Claims {
				x.AdditionalClaims = append(x.AdditionalClaims, xClaim{Format: c.Format, Name: c.Name, Values: xlist[string](slices.Clone(c.Values))})
			}
			out = append(out, xAction{Type: "jwt-validation", JwtValidationConfig: x})
		}
	}
	switch a.Type {
	case routing.Forward:
		x := xAction{Type: "forward", ForwardConfig: &xForward{TargetGroups: xlist[xTargetGroupTuple]{}}}
		if f := a.Forward; f != nil {
			for _, g := range f.Groups {
				x.ForwardConfig.TargetGroups = append(x.ForwardConfig.TargetGroups, xTargetGroupTuple{TargetGroupArn: v.n.targetGroupARN(g.Name), Weight: g.Weight})
			}
			if len(f.Groups) == 1 {
				x.TargetGroupArn = v.n.targetGroupARN(f.Groups[0].Name)
			}
			if f.Stickiness > 0 {
				x.ForwardConfig.TargetGroupStickinessConfig = xTGStickiness{Enabled: true, DurationSeconds: int(f.Stickiness / time.Second)}
			}
		}
		out = append(out, x)
	case routing.Redirect:
		if r := a.Redirect; r != nil {
			out = append(out, xAction{Type: "redirect", RedirectConfig: &xRedirect{
				Protocol: cmp.Or(r.Protocol, "#{protocol}"), Port: cmp.Or(r.Port, "#{port}"), Host: cmp.Or(r.Host, "#{host}"),
				Path: cmp.Or(r.Path, "/#{path}"), Query: cmp.Or(r.Query, "#{query}"), StatusCode: fmt.Sprintf("HTTP_%d", r.StatusCode),
			}})
		}
	case routing.FixedResponse:
		if f := a.Fixed; f != nil {
			out = append(out, xAction{Type: "fixed-response", FixedResponseConfig: &xFixedResponse{
				MessageBody: f.Body, StatusCode: strconv.Itoa(f.StatusCode), ContentType: f.ContentType,
			}})
		}
	}
	for i := range out {
		out[i].Order = i + 1
	}
	return out
}

func (v *elbView) xTargetGroup(name string) xTargetGroup {
	tg := v.cfg.TargetGroups[name]
	protocol := "HTTP"
	if tg.Protocol == "https" {
		protocol = "HTTPS"
	}
	hcPort := "traffic-port"
	if tg.HealthCheck.Port != 0 {
		hcPort = strconv.Itoa(tg.HealthCheck.Port)
	}
	port, ok := v.tgPort[name]
	if !ok {
		port = 80
	}
	x := xTargetGroup{
		TargetGroupArn:             v.n.targetGroupARN(name),
		TargetGroupName:            name,
		Protocol:                   protocol,
		Port:                       port,
		VpcId:                      v.n.vpcID(),
		HealthCheckProtocol:        protocol,
		HealthCheckPort:            hcPort,
		HealthCheckEnabled:         true,
		HealthCheckIntervalSeconds: elbSeconds(tg.HealthCheck.Interval),
		HealthCheckTimeoutSeconds:  elbSeconds(tg.HealthCheck.Timeout),
		HealthyThresholdCount:      tg.HealthCheck.HealthyThreshold,
		UnhealthyThresholdCount:    tg.HealthCheck.UnhealthyThreshold,
		HealthCheckPath:            cmp.Or(tg.HealthCheck.Path, "/"),
		Matcher:                    xMatcher{HttpCode: elbMatcherString(tg.HealthCheck.Success)},
		LoadBalancerArns:           xlist[string]{},
		TargetType:                 "ip",
		ProtocolVersion:            cmp.Or(tg.ProtocolVersion, proxy.HTTP1),
		IpAddressType:              "ipv4",
	}
	for _, lb := range v.tgLBs[name] {
		x.LoadBalancerArns = append(x.LoadBalancerArns, lb.arn)
	}
	return x
}

// elbSeconds is d in whole seconds, as the API counts them (shoal takes
// shorter health check intervals than AWS; they show as 1).
func elbSeconds(d time.Duration) int {
	s := int(math.Round(d.Seconds()))
	if s < 1 && d > 0 {
		return 1
	}
	return s
}

// elbMatcherString writes a matcher as ALB's HttpCode: "200", "200-299",
// "200,302".
func elbMatcherString(m proxy.Matcher) string {
	var parts []string
	for _, r := range m {
		if r.Lo == r.Hi {
			parts = append(parts, strconv.Itoa(r.Lo))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
		}
	}
	return strings.Join(parts, ",")
}

// Target group attributes, as ALB names them for an ip target group.
const (
	attrDeregistrationDelay = "deregistration_delay.timeout_seconds"
	attrStickinessEnabled   = "stickiness.enabled"
	attrStickinessType      = "stickiness.type"
	attrLBCookieDuration    = "stickiness.lb_cookie.duration_seconds"
	attrAppCookieName       = "stickiness.app_cookie.cookie_name"
	attrAppCookieDuration   = "stickiness.app_cookie.duration_seconds"
	attrSlowStart           = "slow_start.duration_seconds"
	attrAlgorithm           = "load_balancing.algorithm.type"
)

// elbFixedAttributes are ALB's other target group attributes, with the one
// value shoal has: they may be set to it, and to nothing else.
var elbFixedAttributes = []xAttribute{
	{"load_balancing.algorithm.anomaly_mitigation", "off"},
	{"load_balancing.cross_zone.enabled", "use_load_balancer_configuration"},
	{"target_group_health.dns_failover.minimum_healthy_targets.count", "1"},
	{"target_group_health.dns_failover.minimum_healthy_targets.percentage", "off"},
	{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1"},
	{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off"},
}

// elbDefaultStickiness is ALB's default stickiness duration (1 day).
const elbDefaultStickiness = 24 * time.Hour

// elbTGAttributes are a target group's attributes, every one ALB lists, in
// its order.
func elbTGAttributes(tg proxy.TargetGroupConfig) []xAttribute {
	st := tg.Stickiness
	typ, lbDur, appDur := proxy.LBCookie, elbDefaultStickiness, elbDefaultStickiness
	switch st.Type {
	case proxy.LBCookie:
		lbDur = st.Duration
	case proxy.AppCookie:
		typ, appDur = proxy.AppCookie, st.Duration
	}
	out := []xAttribute{
		{attrStickinessEnabled, strconv.FormatBool(st.Type != "")},
		{attrDeregistrationDelay, strconv.Itoa(int(tg.DeregistrationDelay / time.Second))},
		{attrStickinessType, typ},
		{attrLBCookieDuration, strconv.Itoa(int(lbDur / time.Second))},
		{attrAppCookieName, st.CookieName},
		{attrAppCookieDuration, strconv.Itoa(int(appDur / time.Second))},
		{attrSlowStart, strconv.Itoa(int(tg.SlowStart / time.Second))},
		{attrAlgorithm, cmp.Or(tg.Algorithm, proxy.RoundRobin)},
	}
	return append(out, elbFixedAttributes...)
}
