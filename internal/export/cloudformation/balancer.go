package cloudformation

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shoalhq/shoal/internal/spec"
)

// loadBalancerResources adds an internet-facing Application Load Balancer
// per load balancer, with its listeners and their rules.
func (b *builder) loadBalancerResources() {
	for _, name := range sortedKeys(b.s.LoadBalancers) {
		lb, path := b.s.LoadBalancers[name], "load_balancers."+name
		id := b.id(name, "LoadBalancer")
		b.loadBalancers[name] = id
		b.resource(id, "AWS::ElasticLoadBalancingV2::LoadBalancer", &LoadBalancer{
			Type: "application", Scheme: "internet-facing", Subnets: ref(paramSubnets),
			SecurityGroups: b.lbGroupIDs(name), LoadBalancerAttributes: b.loadBalancerAttributes(path, lb),
			Tags: tags(b.s.Name, name),
		})
		for i, l := range lb.Listeners {
			b.listener(name, fmt.Sprintf("%s.listeners[%d]", path, i), l)
		}
	}
}

// loadBalancerAttributes maps the timeouts and header handling; shoal's
// own settings are warnings.
func (b *builder) loadBalancerAttributes(path string, lb *spec.LoadBalancer) []KeyValue {
	if lb.HeaderReadTimeout.D() != spec.DefaultHeaderReadTimeout {
		b.w.Add(path+".header_read_timeout", "not carried over: shoal's own setting; ALB's time to read a request head is not published or set")
	}
	if lb.MaxRequestBody != 0 {
		b.w.Add(path+".max_request_body", "not carried over: ALB has no request body limit")
	}
	if lb.AccessLog.Enabled {
		b.w.Add(path+".access_log", "not carried over: ALB writes its access log to an S3 bucket: set the attributes access_logs.s3.enabled and access_logs.s3.bucket, and the bucket's policy")
	}
	return []KeyValue{
		{"client_keep_alive.seconds", strconv.Itoa(b.seconds(path+".client_keep_alive", lb.ClientKeepAlive, 60, 604800))},
		{"idle_timeout.timeout_seconds", strconv.Itoa(b.seconds(path+".idle_timeout", lb.IdleTimeout, 1, 4000))},
		{"routing.http.desync_mitigation_mode", lb.DesyncMitigationMode},
		{"routing.http.xff_client_port.enabled", strconv.FormatBool(lb.XFFClientPort)},
		{"routing.http.xff_header_processing.mode", lb.XFFHeaderProcessing},
	}
}

// listener adds one listener, its extra certificates and its rules.
func (b *builder) listener(lbName, path string, l *spec.Listener) {
	port := listenerPort(l)
	if l.Port == 0 {
		b.w.Add(path+".port", "approximate: port 0 picks a free port here; the template's listener takes %d", port)
	}
	id := b.id(lbName, fmt.Sprintf("Listener%d", port))
	b.listeners[lbName] = append(b.listeners[lbName], id)
	out := &Listener{LoadBalancerArn: ref(b.loadBalancers[lbName]), Port: port, Protocol: strings.ToUpper(l.Protocol)}
	if l.Protocol == "https" {
		out.SslPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"
		for j := range l.Certificates {
			p := b.id(id, fmt.Sprintf("Certificate%d", j+1))
			b.param(p, &Parameter{Type: "String", MinLength: intp(1), Description: fmt.Sprintf("ARN of the ACM certificate %s.certificates[%d] (%s) stands for", path, j, l.Certificates[j].Certificate)})
			if j == 0 {
				out.Certificates = []Certificate{{CertificateArn: ref(p)}}
				continue
			}
			b.resource(b.id(id, fmt.Sprintf("Certificate%dSni", j+1)), "AWS::ElasticLoadBalancingV2::ListenerCertificate",
				&ListenerCertificate{ListenerArn: ref(id), Certificates: []Certificate{{CertificateArn: ref(p)}}})
		}
		b.w.Add(path+".certificates", "approximate: the PEM files stay here: import each certificate into ACM (aws acm import-certificate) and give its ARN as a parameter")
	}
	if l.Address != spec.DefaultListenerAddress && l.Address != "0.0.0.0" && l.Address != "::" && l.Address != "" {
		b.w.Add(path+".address", "not carried over: the load balancer is internet-facing, in the Subnets parameter's subnets")
	}
	out.DefaultActions = b.actions(path+".default_action", id, l.DefaultAction)
	out.ListenerAttributes = b.listenerAttributes(path+".headers", l.Headers)
	b.resource(id, "AWS::ElasticLoadBalancingV2::Listener", out)
	for i, r := range l.Rules {
		b.rule(fmt.Sprintf("%s.rules[%d]", path, i), id, r)
	}
	for _, tg := range forwardTargets(l.DefaultAction) {
		b.tgUsed(tg, id, lbName)
	}
	for _, r := range l.Rules {
		for _, tg := range forwardTargets(r.Action) {
			b.tgUsed(tg, b.ruleID(id, r.Priority), lbName)
		}
	}
}

func (b *builder) tgUsed(tg, by, lbName string) {
	b.tgUsers[tg] = appendNew(b.tgUsers[tg], by)
	if _, ok := b.tgBalancer[tg]; !ok {
		b.tgBalancer[tg] = lbName
	}
}

func forwardTargets(a spec.Action) []string {
	if a.Forward == nil {
		return nil
	}
	if a.Forward.TargetGroup != "" {
		return []string{a.Forward.TargetGroup}
	}
	var out []string
	for _, w := range a.Forward.TargetGroups {
		out = append(out, w.Name)
	}
	return out
}

// listenerAttributes maps the response headers a listener sets, the
// Server header, and the renamed request headers: ALB's listener
// attributes of the same names.
func (b *builder) listenerAttributes(path string, h spec.ListenerHeaders) []KeyValue {
	var out []KeyValue
	for _, name := range sortedKeys(h.Rename) {
		out = append(out, KeyValue{"routing.http.request." + snake(name) + ".header_name", h.Rename[name]})
	}
	for _, name := range sortedKeys(h.Response) {
		out = append(out, KeyValue{"routing.http.response." + snake(name) + ".header_value", h.Response[name]})
	}
	if !h.Server {
		out = append(out, KeyValue{"routing.http.response.server.enabled", "false"})
	}
	return out
}

func snake(header string) string {
	return strings.ReplaceAll(strings.ToLower(header), "-", "_")
}

func (b *builder) ruleID(listenerID string, priority int) string {
	return fmt.Sprintf("%sRule%d", listenerID, priority)
}

// rule adds one listener rule.
func (b *builder) rule(path, listenerID string, r *spec.Rule) {
	id := b.ruleID(listenerID, r.Priority)
	b.used[id] = true
	out := &ListenerRule{ListenerArn: ref(listenerID), Priority: r.Priority,
		Conditions: conditions(r.Conditions), Actions: b.actions(path+".action", id, r.Action)}
	for _, t := range r.Transforms {
		rc := &RewriteConfig{Rewrites: []Rewrite{{Regex: t.Regex, Replace: t.Replace}}}
		tr := Transform{Type: strings.ReplaceAll(t.Type, "_", "-")}
		if t.Type == "host_header_rewrite" {
			tr.HostHeaderRewriteConfig = rc
		} else {
			tr.URLRewriteConfig = rc
		}
		out.Transforms = append(out.Transforms, tr)
	}
	b.resource(id, "AWS::ElasticLoadBalancingV2::ListenerRule", out)
}

// conditions maps a rule's conditions, one per type, in ALB's names.
func conditions(c spec.Conditions) []Condition {
	var out []Condition
	if len(c.HostHeader) > 0 {
		out = append(out, Condition{Field: "host-header", HostHeaderConfig: &ValuesConfig{c.HostHeader}})
	}
	if len(c.PathPattern) > 0 {
		out = append(out, Condition{Field: "path-pattern", PathPatternConfig: &ValuesConfig{c.PathPattern}})
	}
	if c.HTTPHeader != nil {
		out = append(out, Condition{Field: "http-header", HTTPHeaderConfig: &HeaderConfig{c.HTTPHeader.Name, c.HTTPHeader.Values}})
	}
	if len(c.HTTPRequestMethod) > 0 {
		out = append(out, Condition{Field: "http-request-method", HTTPRequestMethodConfig: &ValuesConfig{c.HTTPRequestMethod}})
	}
	if len(c.QueryString) > 0 {
		q := &QueryConfig{}
		for _, p := range c.QueryString {
			q.Values = append(q.Values, QueryValue{p.Key, p.Value})
		}
		out = append(out, Condition{Field: "query-string", QueryStringConfig: q})
	}
	if len(c.SourceIP) > 0 {
		out = append(out, Condition{Field: "source-ip", SourceIPConfig: &ValuesConfig{c.SourceIP}})
	}
	return out
}

// actions maps an action: the sign-in or token check first, then what
// answers. owner names the listener or rule, for parameters.
func (b *builder) actions(path, owner string, a spec.Action) []Action {
	var out []Action
	if o := a.AuthenticateOIDC; o != nil {
		secret := b.id(owner, "OidcClientSecret")
		b.param(secret, &Parameter{Type: "String", NoEcho: true, MinLength: intp(1), Description: "The OIDC client secret of " + path})
		b.w.Add(path+".authenticate_oidc.client_secret", "not carried over: a secret is not written in the template; give it as parameter %s", secret)
		for field, url := range map[string]string{"issuer": o.Issuer, "authorization_endpoint": o.AuthorizationEndpoint,
			"token_endpoint": o.TokenEndpoint, "user_info_endpoint": o.UserInfoEndpoint} {
			if !strings.HasPrefix(url, "https://") {
				b.w.Add(path+".authenticate_oidc."+field, "changes meaning: ALB takes only https:// endpoints; %s must be a provider AWS reaches over https", url)
			}
		}
		out = append(out, Action{Type: "authenticate-oidc", Order: 1, AuthenticateOidcConfig: &OidcConfig{
			Issuer: o.Issuer, AuthorizationEndpoint: o.AuthorizationEndpoint, TokenEndpoint: o.TokenEndpoint,
			UserInfoEndpoint: o.UserInfoEndpoint, ClientID: o.ClientID, ClientSecret: ref(secret), Scope: o.Scope,
			SessionCookieName: o.SessionCookieName, OnUnauthenticatedRequest: o.OnUnauthenticatedRequest,
			SessionTimeout:                   strconv.Itoa(b.seconds(path+".authenticate_oidc.session_timeout", o.SessionTimeout, 1, 604800)),
			AuthenticationRequestExtraParams: o.ExtraParams,
		}})
	}
	if j := a.VerifyJWT; j != nil {
		cfg := &JwtConfig{JwksEndpoint: j.JWKSEndpoint, Issuer: j.Issuer}
		for _, c := range j.AdditionalClaims {
			cfg.AdditionalClaims = append(cfg.AdditionalClaims, JwtClaim{Name: c.Name, Format: strings.ReplaceAll(c.Format, "_", "-"), Values: c.Values})
		}
		out = append(out, Action{Type: "jwt-validation", Order: len(out) + 1, JwtValidationConfig: cfg})
	}
	last := Action{}
	switch {
	case a.Forward != nil:
		last = b.forward(path+".forward", a.Forward)
	case a.Redirect != nil:
		r := a.Redirect
		code := r.StatusCode
		if !strings.HasPrefix(code, "HTTP_") {
			code = "HTTP_" + code
		}
		last = Action{Type: "redirect", RedirectConfig: &RedirectConfig{Protocol: r.Protocol, Host: r.Host, Port: r.Port, Path: r.Path, Query: r.Query, StatusCode: code}}
	case a.FixedResponse != nil:
		f := a.FixedResponse
		last = Action{Type: "fixed-response", FixedResponseConfig: &FixedResponseConfig{StatusCode: strconv.Itoa(f.StatusCode), ContentType: f.ContentType, MessageBody: f.MessageBody}}
	}
	if len(out) > 0 {
		last.Order = len(out) + 1
	}
	return append(out, last)
}

// forward maps a forward to one target group or to weighted ones.
func (b *builder) forward(path string, f *spec.ForwardAction) Action {
	cfg := &ForwardConfig{}
	if f.TargetGroup != "" {
		cfg.TargetGroups = []WeightedTargetGroup{{TargetGroupArn: ref(b.targetGroups[f.TargetGroup]), Weight: 1}}
	}
	for _, w := range f.TargetGroups {
		cfg.TargetGroups = append(cfg.TargetGroups, WeightedTargetGroup{TargetGroupArn: ref(b.targetGroups[w.Name]), Weight: w.Weight})
	}
	if st := f.Stickiness; st != nil && st.Enabled {
		cfg.TargetGroupStickinessConfig = &GroupStickiness{Enabled: true, DurationSeconds: b.seconds(path+".stickiness.duration", st.Duration, 1, 604800)}
	}
	return Action{Type: "forward", ForwardConfig: cfg}
}
