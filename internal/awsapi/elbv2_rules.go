package awsapi

import (
	"cmp"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
)

// Rules, conditions and actions read from a request (ModifyRule's
// Conditions, Actions and Transforms, ModifyListener's DefaultActions),
// into the router's types. What ALB checks of them beyond their shape
// (the values' limits and characters, a redirect that would loop) is
// routing.Compile's: elbCheckListener runs it on the whole listener.

// conditionsFrom reads a rule's conditions.
func conditionsFrom(items []*qnode) ([]routing.Condition, *Error) {
	var out []routing.Condition
	for _, n := range items {
		at := n.prefix()
		field, ok := n.str("Field")
		if !ok || field == "" {
			return nil, elbValidation(at + ".Field is required: host-header, path-pattern, http-header, http-request-method, query-string or source-ip")
		}
		if n.has("RegexValues") {
			return nil, elbValidation(at + ".RegexValues: shoal does not support regex conditions; use Values (with * and ?)")
		}
		values, hasValues := n.strs("Values")
		configs := map[string]string{
			"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig", "http-header": "HttpHeaderConfig",
			"http-request-method": "HttpRequestMethodConfig", "query-string": "QueryStringConfig", "source-ip": "SourceIpConfig",
		}
		own, known := configs[field]
		if !known {
			return nil, elbValidation(fmt.Sprintf("%s.Field %q: use host-header, path-pattern, http-header, http-request-method, query-string or source-ip", at, field))
		}
		for f, name := range configs {
			if f != field && n.has(name) {
				return nil, elbValidation(fmt.Sprintf("%s: a %s condition takes no %s", at, field, name))
			}
		}
		cfg := n.get(own)
		c := routing.Condition{Field: routing.Field(field)}
		switch field {
		case "host-header", "path-pattern":
			cv, hasCfg := cfg.strs("Values")
			switch {
			case hasValues && hasCfg && !slices.Equal(values, cv):
				return nil, elbValidation(fmt.Sprintf("%s: Values and %s.Values differ: give one of them", at, own))
			case hasCfg:
				values = cv
			}
			c.Values = values
		default:
			if hasValues {
				return nil, elbValidation(fmt.Sprintf("%s: Values is for host-header and path-pattern conditions; a %s condition takes %s", at, field, own))
			}
			if cfg == nil {
				return nil, elbValidation(fmt.Sprintf("%s: a %s condition needs %s", at, field, own))
			}
			switch field {
			case "http-header":
				name, _ := cfg.str("HttpHeaderName")
				if name == "" {
					return nil, elbValidation(at + ".HttpHeaderConfig.HttpHeaderName is required")
				}
				c.HeaderName = name
				c.Values, _ = cfg.strs("Values")
			case "http-request-method":
				c.Values, _ = cfg.strs("Values")
			case "query-string":
				pairs, _ := cfg.list("Values")
				for _, p := range pairs {
					k, _ := p.str("Key")
					v, ok := p.str("Value")
					if !ok || v == "" {
						return nil, elbValidation(p.prefix() + ".Value is required")
					}
					c.Query = append(c.Query, routing.KeyValue{Key: k, Value: v})
				}
			case "source-ip":
				cidrs, _ := cfg.strs("Values")
				for _, s := range cidrs {
					p, err := netip.ParsePrefix(s)
					if err != nil {
						return nil, elbValidation(fmt.Sprintf("%s.SourceIpConfig.Values: %q is not a CIDR block (like 192.0.2.0/24 or 2001:db8::/32)", at, s))
					}
					c.CIDRs = append(c.CIDRs, p)
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// prefix is the parameter name n stands for ("Actions.member.1"), for
// messages.
func (n *qnode) prefix() string {
	if n == nil {
		return ""
	}
	return n.key
}

// transformsFrom reads a rule's transforms.
func transformsFrom(items []*qnode) ([]routing.Transform, *Error) {
	var out []routing.Transform
	for _, n := range items {
		at := n.prefix()
		typ, _ := n.str("Type")
		var cfg string
		switch typ {
		case string(routing.HostHeaderRewrite):
			cfg = "HostHeaderRewriteConfig"
		case string(routing.URLRewrite):
			cfg = "UrlRewriteConfig"
		default:
			return nil, elbValidation(fmt.Sprintf("%s.Type %q: use host-header-rewrite or url-rewrite", at, typ))
		}
		rewrites, _ := n.get(cfg).list("Rewrites")
		if len(rewrites) != 1 {
			return nil, elbValidation(fmt.Sprintf("%s.%s.Rewrites: give exactly one rewrite (regex and replace), as ALB takes", at, cfg))
		}
		regex, _ := rewrites[0].str("Regex")
		replace, _ := rewrites[0].str("Replace")
		out = append(out, routing.Transform{Type: routing.TransformType(typ), Regex: regex, Replace: replace})
	}
	return out, nil
}

// actionsFrom reads a rule's (or a listener's default) actions: an
// optional authentication, then a forward, redirect or fixed response, by
// Order. existing is the action they replace (its OIDC client secret is
// kept for UseExistingClientSecret).
func (v *elbView) actionsFrom(items []*qnode, param string, existing routing.Action) (routing.Action, *Error) {
	type parsed struct {
		order    int
		hasOrder bool
		typ      string
		act      routing.Action
		auth     *routing.AuthAction
	}
	var ps []parsed
	for _, n := range items {
		p := parsed{}
		order, hasOrder, e := n.integer("Order")
		if e != nil {
			return routing.Action{}, e
		}
		if hasOrder && (order < 1 || order > 50000) {
			return routing.Action{}, elbRangeError(n.prefix()+".Order", order, 1, 50000)
		}
		p.order, p.hasOrder = order, hasOrder
		p.typ, _ = n.str("Type")
		p.act, p.auth, e = v.actionFrom(n, existing)
		if e != nil {
			return routing.Action{}, e
		}
		ps = append(ps, p)
	}
	switch {
	case len(ps) == 0:
		return routing.Action{}, elbValidation(param + ": at least one action is required: forward, redirect or fixed-response")
	case len(ps) > 1:
		for _, p := range ps {
			if !p.hasOrder {
				return routing.Action{}, elbValidation(param + ": with more than one action, each needs its Order")
			}
		}
		slices.SortStableFunc(ps, func(a, b parsed) int { return a.order - b.order })
		for i := 1; i < len(ps); i++ {
			if ps[i].order == ps[i-1].order {
				return routing.Action{}, elbValidation(fmt.Sprintf("%s: two actions have Order %d", param, ps[i].order))
			}
		}
	}
	last := ps[len(ps)-1]
	if last.auth != nil {
		return routing.Action{}, clientError("InvalidLoadBalancerAction", param+": the last action must be forward, redirect or fixed-response; "+last.typ+" runs before one")
	}
	if len(ps) > 2 || len(ps) == 2 && ps[0].auth == nil {
		return routing.Action{}, clientError("InvalidLoadBalancerAction", param+": shoal takes one forward, redirect or fixed-response action, after at most one authenticate-oidc or jwt-validation action")
	}
	act := last.act
	if len(ps) == 2 {
		act.Auth = ps[0].auth
	}
	return act, nil
}

// actionFrom reads one action: a terminal one, or an authentication.
func (v *elbView) actionFrom(n *qnode, existing routing.Action) (routing.Action, *routing.AuthAction, *Error) {
	at := n.prefix()
	typ, _ := n.str("Type")
	configs := map[string]string{
		"forward": "ForwardConfig", "redirect": "RedirectConfig", "fixed-response": "FixedResponseConfig",
		"authenticate-oidc": "AuthenticateOidcConfig", "jwt-validation": "JwtValidationConfig",
		"authenticate-cognito": "AuthenticateCognitoConfig",
	}
	own, known := configs[typ]
	switch {
	case typ == "":
		return routing.Action{}, nil, elbValidation(at + ".Type is required: forward, redirect, fixed-response, authenticate-oidc or jwt-validation")
	case typ == "authenticate-cognito":
		return routing.Action{}, nil, elbValidation(at + ": shoal does not support authenticate-cognito (there is no Amazon Cognito here); use authenticate-oidc with an OpenID Connect provider")
	case !known:
		return routing.Action{}, nil, elbValidation(fmt.Sprintf("%s.Type %q: use forward, redirect, fixed-response, authenticate-oidc or jwt-validation", at, typ))
	}
	for t, name := range configs {
		if t != typ && n.has(name) {
			return routing.Action{}, nil, elbValidation(fmt.Sprintf("%s: a %s action takes no %s", at, typ, name))
		}
	}
	if typ != "forward" && n.has("TargetGroupArn") {
		return routing.Action{}, nil, elbValidation(fmt.Sprintf("%s: a %s action takes no TargetGroupArn", at, typ))
	}
	cfg := n.get(own)
	switch typ {
	case "forward":
		f, e := v.forwardFrom(n)
		return routing.Action{Type: routing.Forward, Forward: f}, nil, e
	case "redirect":
		if cfg == nil {
			return routing.Action{}, nil, elbValidation(at + ": a redirect action needs RedirectConfig")
		}
		r := &routing.RedirectAction{}
		r.Protocol, _ = cfg.str("Protocol")
		r.Port, _ = cfg.str("Port")
		r.Host, _ = cfg.str("Host")
		r.Path, _ = cfg.str("Path")
		r.Query, _ = cfg.str("Query")
		switch code, _ := cfg.str("StatusCode"); code {
		case "HTTP_301":
			r.StatusCode = 301
		case "HTTP_302":
			r.StatusCode = 302
		default:
			return routing.Action{}, nil, elbValidation(fmt.Sprintf("%s.RedirectConfig.StatusCode %q: use HTTP_301 or HTTP_302", at, code))
		}
		return routing.Action{Type: routing.Redirect, Redirect: r}, nil, nil
	case "fixed-response":
		if cfg == nil {
			return routing.Action{}, nil, elbValidation(at + ": a fixed-response action needs FixedResponseConfig")
		}
		f := &routing.FixedResponseAction{}
		code, _ := cfg.str("StatusCode")
		c, err := strconv.Atoi(code)
		if err != nil || len(code) != 3 {
			return routing.Action{}, nil, elbValidation(fmt.Sprintf("%s.FixedResponseConfig.StatusCode %q: use a 2XX, 4XX or 5XX code", at, code))
		}
		f.StatusCode = c
		f.ContentType, _ = cfg.str("ContentType")
		f.Body, _ = cfg.str("MessageBody")
		return routing.Action{Type: routing.FixedResponse, Fixed: f}, nil, nil
	case "jwt-validation":
		if cfg == nil {
			return routing.Action{}, nil, elbValidation(at + ": a jwt-validation action needs JwtValidationConfig")
		}
		j := &routing.JWTAction{}
		j.JWKSURL, _ = cfg.str("JwksEndpoint")
		j.Issuer, _ = cfg.str("Issuer")
		if j.JWKSURL == "" || j.Issuer == "" {
			return routing.Action{}, nil, elbValidation(at + ".JwtValidationConfig: JwksEndpoint and Issuer are required")
		}
		claims, _ := cfg.list("AdditionalClaims")
		for _, c := range claims {
			cc := routing.ClaimCheck{}
			cc.Name, _ = c.str("Name")
			cc.Format, _ = c.str("Format")
			cc.Format = cmp.Or(cc.Format, "single-string")
			cc.Values, _ = c.strs("Values")
			cc.Values = slices.Clone(cc.Values)
			j.Claims = append(j.Claims, cc)
		}
		return routing.Action{}, &routing.AuthAction{JWT: j}, nil
	default: // authenticate-oidc
		if cfg == nil {
			return routing.Action{}, nil, elbValidation(at + ": an authenticate-oidc action needs AuthenticateOidcConfig")
		}
		o, e := oidcFrom(cfg, at+".AuthenticateOidcConfig", existing)
		return routing.Action{}, &routing.AuthAction{OIDC: o}, e
	}
}

// forwardFrom reads a forward action's TargetGroupArn or ForwardConfig.
func (v *elbView) forwardFrom(n *qnode) (*routing.ForwardAction, *Error) {
	at := n.prefix()
	f := &routing.ForwardAction{}
	if fc := n.get("ForwardConfig"); fc != nil {
		tuples, _ := fc.list("TargetGroups")
		for _, t := range tuples {
			arn, ok := t.str("TargetGroupArn")
			if !ok {
				return nil, elbValidation(t.prefix() + ".TargetGroupArn is required")
			}
			name, e := v.targetGroup(arn)
			if e != nil {
				return nil, e
			}
			weight, hasWeight, e := t.integer("Weight")
			if e != nil {
				return nil, e
			}
			if !hasWeight {
				weight = 1
			}
			if weight < 0 || weight > 999 {
				return nil, elbRangeError(t.prefix()+".Weight", weight, 0, 999)
			}
			if slices.ContainsFunc(f.Groups, func(g routing.WeightedGroup) bool { return g.Name == name }) {
				return nil, elbValidation(fmt.Sprintf("%s.ForwardConfig.TargetGroups: target group %s is listed twice", at, name))
			}
			f.Groups = append(f.Groups, routing.WeightedGroup{Name: name, Weight: weight})
		}
		if st := fc.get("TargetGroupStickinessConfig"); st != nil {
			enabled, _, e := st.boolean("Enabled")
			if e != nil {
				return nil, e
			}
			secs, hasSecs, e := st.integer("DurationSeconds")
			if e != nil {
				return nil, e
			}
			if enabled {
				if !hasSecs {
					return nil, elbValidation(at + ".ForwardConfig.TargetGroupStickinessConfig.DurationSeconds is required when stickiness is enabled")
				}
				if secs < 1 || secs > 604800 {
					return nil, elbRangeError(at+".ForwardConfig.TargetGroupStickinessConfig.DurationSeconds", secs, 1, 604800)
				}
				f.Stickiness = time.Duration(secs) * time.Second
			}
		}
	}
	if arn, ok := n.str("TargetGroupArn"); ok {
		name, e := v.targetGroup(arn)
		if e != nil {
			return nil, e
		}
		switch {
		case len(f.Groups) == 0:
			f.Groups = []routing.WeightedGroup{{Name: name, Weight: 1}}
		case len(f.Groups) != 1 || f.Groups[0].Name != name:
			return nil, elbValidation(at + ": with both TargetGroupArn and ForwardConfig, ForwardConfig must hold that one target group only")
		}
	}
	if len(f.Groups) == 0 {
		return nil, elbValidation(at + ": a forward action needs TargetGroupArn or ForwardConfig.TargetGroups")
	}
	return f, nil
}

// oidcFrom reads an authenticate-oidc action, with ALB's defaults.
func oidcFrom(cfg *qnode, at string, existing routing.Action) (*routing.OIDCAction, *Error) {
	o := &routing.OIDCAction{}
	fields := []struct {
		name string
		dst  *string
	}{
		{"Issuer", &o.Issuer}, {"AuthorizationEndpoint", &o.AuthorizationEndpoint}, {"TokenEndpoint", &o.TokenEndpoint},
		{"UserInfoEndpoint", &o.UserInfoEndpoint}, {"ClientId", &o.ClientID},
	}
	for _, f := range fields {
		*f.dst, _ = cfg.str(f.name)
		if *f.dst == "" {
			return nil, elbValidation(at + "." + f.name + " is required")
		}
	}
	for _, u := range []struct{ name, raw string }{
		{"AuthorizationEndpoint", o.AuthorizationEndpoint}, {"TokenEndpoint", o.TokenEndpoint}, {"UserInfoEndpoint", o.UserInfoEndpoint},
	} {
		if e := elbCheckEndpoint(at+"."+u.name, u.raw); e != nil {
			return nil, e
		}
	}
	useExisting, _, e := cfg.boolean("UseExistingClientSecret")
	if e != nil {
		return nil, e
	}
	o.ClientSecret, _ = cfg.str("ClientSecret")
	if useExisting {
		if existing.Auth == nil || existing.Auth.OIDC == nil {
			return nil, elbValidation(at + ".UseExistingClientSecret: the action replaced has no authenticate-oidc action to take the client secret from; give ClientSecret")
		}
		o.ClientSecret = existing.Auth.OIDC.ClientSecret
	}
	if o.ClientSecret == "" {
		return nil, elbValidation(at + ".ClientSecret is required (or UseExistingClientSecret true, to keep the current one)")
	}
	o.Scope, _ = cfg.str("Scope")
	o.Scope = cmp.Or(o.Scope, "openid")
	o.SessionCookieName, _ = cfg.str("SessionCookieName")
	o.SessionCookieName = cmp.Or(o.SessionCookieName, "AWSELBAuthSessionCookie")
	timeout, hasTimeout, e := cfg.integer("SessionTimeout")
	if e != nil {
		return nil, e
	}
	if !hasTimeout {
		timeout = 604800
	}
	if timeout < 1 || timeout > 604800 {
		return nil, elbRangeError(at+".SessionTimeout", timeout, 1, 604800)
	}
	o.SessionTimeout = time.Duration(timeout) * time.Second
	o.OnUnauthenticatedRequest, _ = cfg.str("OnUnauthenticatedRequest")
	o.OnUnauthenticatedRequest = cmp.Or(o.OnUnauthenticatedRequest, "authenticate")
	if !slices.Contains([]string{"authenticate", "allow", "deny"}, o.OnUnauthenticatedRequest) {
		return nil, elbValidation(fmt.Sprintf("%s.OnUnauthenticatedRequest %q: use authenticate, allow or deny", at, o.OnUnauthenticatedRequest))
	}
	params, _ := cfg.entries("AuthenticationRequestExtraParams")
	if len(params) > 10 {
		return nil, elbValidation(fmt.Sprintf("%s.AuthenticationRequestExtraParams: %d parameters; ALB takes up to 10", at, len(params)))
	}
	for k := range params {
		if slices.Contains([]string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce"}, k) {
			return nil, elbValidation(fmt.Sprintf("%s.AuthenticationRequestExtraParams: %s is set by the load balancer itself", at, k))
		}
	}
	if len(params) > 0 {
		o.ExtraParams = params
	}
	return o, nil
}

// elbCheckEndpoint takes an identity provider's endpoint: https, as ALB
// requires, or http on this machine (a local provider).
func elbCheckEndpoint(at, raw string) *Error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return elbValidation(fmt.Sprintf("%s %q is not a URL like https://idp.example.com/path", at, raw))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && elbIsLocalHost(u.Hostname()):
		return nil
	}
	return elbValidation(at + " must be https (ALB requires it), or http on this machine (127.0.0.1, localhost) for a local provider")
}

func elbIsLocalHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// elbCheckListener checks a listener changed through the API as ALB would
// before it goes to the balancer: its rules and actions (routing.Compile),
// authentication on https only, and target group protocol versions that
// need an https listener.
func elbCheckListener(c *proxy.Config, l proxy.ListenerConfig) *Error {
	r := elbListenerRoutes(l)
	if _, err := routing.Compile(r); err != nil {
		var msgs []string
		for _, e := range elbUnjoin(err) {
			msgs = append(msgs, e.Error())
		}
		return elbValidation(fmt.Sprintf("listener %s: %s", l.Name, strings.Join(msgs, "; ")))
	}
	for _, a := range append([]routing.Action{r.Default}, elbActionsOf(r.Rules)...) {
		if a.Auth != nil && l.Protocol != "https" {
			return clientError("InvalidLoadBalancerAction", fmt.Sprintf("listener %s is %s: authenticate-oidc and jwt-validation actions work on HTTPS listeners only, as on ALB", l.Name, strings.ToUpper(cmp.Or(l.Protocol, "http"))))
		}
	}
	for _, g := range elbForwardGroups(r) {
		tg, ok := c.TargetGroups[g]
		if !ok {
			return clientError("TargetGroupNotFound", fmt.Sprintf("target group %s no longer exists", g))
		}
		if l.Protocol != "https" && (tg.ProtocolVersion == proxy.HTTP2 || tg.ProtocolVersion == proxy.GRPC) {
			return clientError("IncompatibleProtocols", fmt.Sprintf("target group %s speaks %s, which takes an HTTPS listener; listener %s is HTTP", g, tg.ProtocolVersion, l.Name))
		}
	}
	return nil
}

// elbUnjoin lists the errors errors.Join joined.
func elbUnjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// elbRangeError is AWS's validation message for a number out of its range.
func elbRangeError(param string, v, lo, hi int) *Error {
	bound := fmt.Sprintf("greater than or equal to %d", lo)
	if v > hi {
		bound = fmt.Sprintf("less than or equal to %d", hi)
	}
	return elbValidation(fmt.Sprintf("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value %s", v, elbLowerFirst(param), bound))
}
