package spec

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ALB's limits on rules, actions and target groups.
const (
	maxPriority      = 50000
	maxRuleValues    = 5 // condition values per rule ("match evaluations")
	maxPatternLength = 128
	maxForwardGroups = 5
	maxWeight        = 999
	maxFixedBody     = 1024
	maxStickiness    = 7 * 24 * time.Hour
	minSlowStart     = 30 * time.Second
	maxSlowStart     = 900 * time.Second
)

// contentTypes are the content types a fixed response may have, ALB's.
var contentTypes = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}

// listenerProtocol checks a listener's protocol and certificates.
func (v *validator) listenerProtocol(path string, l *Listener) {
	v.protocol(path+".protocol", l.Protocol)
	switch {
	case l.Protocol == "https" && len(l.Certificates) == 0:
		v.errorf(path+".certificates", "an https listener needs a certificate: add certificates: [{certificate: cert.pem, key: key.pem}]")
	case l.Protocol != "https" && len(l.Certificates) > 0:
		v.errorf(path+".certificates", "certificates are for https listeners: set protocol: https, or remove them")
	}
	for i, c := range l.Certificates {
		at := indexPath(path+".certificates", i)
		if c.Certificate == "" {
			v.errorf(at+".certificate", "certificate is required: the PEM file of the certificate")
		}
		if c.Key == "" {
			v.errorf(at+".key", "key is required: the PEM file of the certificate's private key")
		}
	}
}

// rules checks a listener's rules: priorities, conditions, actions.
func (v *validator) rules(path string, l *Listener) {
	seen := map[int]string{}
	for i, r := range l.Rules {
		at := indexPath(path+".rules", i)
		if r == nil {
			v.errorf(at, "empty rule: set its priority, conditions and action")
			continue
		}
		switch other, dup := seen[r.Priority]; {
		case r.Priority < 1 || r.Priority > maxPriority:
			v.errorf(at+".priority", "priority %d is out of range: use 1-%d (lowest first)", r.Priority, maxPriority)
		case dup:
			v.errorf(at+".priority", "priority %d is already taken by %s: each rule of a listener needs its own", r.Priority, other)
		}
		seen[r.Priority] = at
		v.conditions(at+".conditions", &r.Conditions)
		v.action(at+".action", &r.Action, l)
		v.transforms(at, r.Transforms)
	}
}

// conditions checks a rule's conditions.
func (v *validator) conditions(path string, c *Conditions) {
	n := len(c.HostHeader) + len(c.PathPattern) + len(c.HTTPRequestMethod) + len(c.QueryString) + len(c.SourceIP)
	if c.HTTPHeader != nil {
		n += len(c.HTTPHeader.Values)
	}
	if n == 0 {
		v.errorf(path, "a rule needs a condition: add one of host_header, path_pattern, http_header, http_request_method, query_string, source_ip")
		return
	}
	if n > maxRuleValues {
		v.errorf(path, "%d condition values: ALB takes at most %d per rule; split the rule in two", n, maxRuleValues)
	}
	for i, p := range c.HostHeader {
		v.pattern(indexPath(path+".host_header", i), p, "-._*?")
	}
	for i, p := range c.PathPattern {
		v.pattern(indexPath(path+".path_pattern", i), p, "_-.$/~\"'@:+&*?")
	}
	if h := c.HTTPHeader; h != nil {
		if !validHeaderName(h.Name) {
			v.errorf(path+".http_header.name", "header name %q is not valid: use letters, digits and -", h.Name)
		}
		if len(h.Values) == 0 {
			v.errorf(path+".http_header.values", "values are required: the patterns the header's value must match")
		}
		for i, p := range h.Values {
			v.pattern(indexPath(path+".http_header.values", i), p, "")
		}
	}
	for i, m := range c.HTTPRequestMethod {
		if m == "" || strings.TrimLeft(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != "" {
			v.errorf(indexPath(path+".http_request_method", i), "method %q is not valid: use capitals, _ and - (GET, POST), as methods are case-sensitive", m)
		}
	}
	for i, q := range c.QueryString {
		at := indexPath(path+".query_string", i)
		if q.Value == "" {
			v.errorf(at+".value", "value is required (use * for any value)")
		}
		v.patternLength(at+".key", q.Key)
		v.patternLength(at+".value", q.Value)
	}
	for i, cidr := range c.SourceIP {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			v.errorf(indexPath(path+".source_ip", i), "%q is not a CIDR network: write it like 10.0.0.0/8, 192.0.2.7/32 or 2001:db8::/32", cidr)
		}
	}
}

// pattern checks a host, path or header pattern: its length and, when
// allowed is set, its characters (letters and digits are always allowed).
func (v *validator) pattern(path, p, allowed string) {
	if p == "" {
		v.errorf(path, "empty pattern: write one, with * for any characters and ? for one")
		return
	}
	if !v.patternLength(path, p) || allowed == "" {
		return
	}
	for _, r := range p {
		if !isAlnum(r) && !strings.ContainsRune(allowed, r) {
			v.errorf(path, "%q may not hold %q: ALB allows letters, digits and %s", p, r, strings.Join(strings.Split(allowed, ""), " "))
			return
		}
	}
}

func (v *validator) patternLength(path, p string) bool {
	if len(p) > maxPatternLength {
		v.errorf(path, "pattern of %d characters: ALB allows up to %d", len(p), maxPatternLength)
		return false
	}
	return true
}

// action checks a default action or a rule's action on listener l.
func (v *validator) action(path string, a *Action, l *Listener) {
	kinds := 0
	for _, set := range []bool{a.Forward != nil, a.Redirect != nil, a.FixedResponse != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		v.errorf(path, "an action is required: forward: {target_group: NAME}, redirect: {...} or fixed_response: {...}")
	case kinds > 1:
		v.errorf(path, "an action does one thing: keep one of forward, redirect and fixed_response")
	case a.Forward != nil:
		v.forward(path+".forward", a.Forward)
		v.forwardProtocols(path+".forward", a.Forward, l)
		v.authentication(path, a, l)
	case a.Redirect != nil:
		v.redirect(path+".redirect", a.Redirect, l)
		v.authentication(path, a, l)
	default:
		v.fixedResponse(path+".fixed_response", a.FixedResponse)
		v.authentication(path, a, l)
	}
}

// authentication checks an action's authenticate_oidc or verify_jwt.
func (v *validator) authentication(path string, a *Action, l *Listener) {
	if a.AuthenticateOIDC == nil && a.VerifyJWT == nil {
		return
	}
	if a.AuthenticateOIDC != nil && a.VerifyJWT != nil {
		v.errorf(path, "an action takes authenticate_oidc or verify_jwt, not both")
		return
	}
	if l.Protocol != "https" {
		field := "authenticate_oidc"
		if a.VerifyJWT != nil {
			field = "verify_jwt"
		}
		v.errorf(path+"."+field, "%s works on https listeners only, as on ALB: set this listener's protocol: https", field)
	}
	if o := a.AuthenticateOIDC; o != nil {
		v.oidc(path+".authenticate_oidc", o)
	}
	if j := a.VerifyJWT; j != nil {
		v.jwt(path+".verify_jwt", j)
	}
}

func (v *validator) oidc(path string, o *OIDCAuthentication) {
	if o.Issuer == "" {
		v.errorf(path+".issuer", "issuer is required: the identity provider's issuer, as its tokens name it")
	}
	for field, u := range map[string]string{"authorization_endpoint": o.AuthorizationEndpoint, "token_endpoint": o.TokenEndpoint, "user_info_endpoint": o.UserInfoEndpoint} {
		v.endpoint(path+"."+field, field, u)
	}
	if o.ClientID == "" {
		v.errorf(path+".client_id", "client_id is required: the load balancer's client id at the provider")
	}
	if o.ClientSecret == "" {
		v.errorf(path+".client_secret", "client_secret is required")
	}
	if !slices.Contains([]string{"authenticate", "allow", "deny"}, o.OnUnauthenticatedRequest) {
		v.errorf(path+".on_unauthenticated_request", "on_unauthenticated_request %q: use authenticate, allow or deny", o.OnUnauthenticatedRequest)
	}
	v.durationRange(path+".session_timeout", "session_timeout", o.SessionTimeout, time.Second, maxStickiness)
	if len(o.ExtraParams) > 10 {
		v.errorf(path+".authentication_request_extra_params", "%d parameters: ALB takes up to 10", len(o.ExtraParams))
	}
	for _, k := range sortedKeys(o.ExtraParams) {
		if slices.Contains([]string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce"}, k) {
			v.errorf(joinPath(path+".authentication_request_extra_params", k), "%s is set by the load balancer itself: remove it", k)
		}
	}
	if !validHeaderName(o.SessionCookieName) {
		v.errorf(path+".session_cookie_name", "%q is not a cookie name: use letters, digits and -", o.SessionCookieName)
	}
}

func (v *validator) jwt(path string, j *JWTVerification) {
	v.endpoint(path+".jwks_endpoint", "jwks_endpoint", j.JWKSEndpoint)
	if j.Issuer == "" {
		v.errorf(path+".issuer", "issuer is required: a token's iss must equal it")
	}
	if len(j.AdditionalClaims) > 10 {
		v.errorf(path+".additional_claims", "%d claims: ALB checks at most 10", len(j.AdditionalClaims))
	}
	if len(j.Issuer) > 256 || len(j.JWKSEndpoint) > 256 {
		v.errorf(path, "issuer and jwks_endpoint take up to 256 characters each, as ALB")
	}
	for i, c := range j.AdditionalClaims {
		at := indexPath(path+".additional_claims", i)
		switch c.Name {
		case "":
			v.errorf(at+".name", "name is required")
		case "exp", "iss", "nbf", "iat":
			v.errorf(at+".name", "%s is checked already: ALB takes no additional claim named exp, iss, nbf or iat", c.Name)
		}
		if len(c.Values) > 10 {
			v.errorf(at+".values", "%d values: ALB takes up to 10", len(c.Values))
		}
		for k, val := range c.Values {
			if len(val) > 256 || c.Format == "space_separated_values" && (val == "" || strings.ContainsRune(val, ' ')) {
				v.errorf(indexPath(at+".values", k), "%q: values are up to 256 characters, and a space_separated_values value is one word", val)
			}
		}
		if !slices.Contains([]string{"single_string", "string_array", "space_separated_values"}, c.Format) {
			v.errorf(at+".format", "format %q: use single_string, string_array or space_separated_values", c.Format)
		}
		if len(c.Values) == 0 {
			v.errorf(at+".values", "values are required: the claim must hold one of them")
		}
	}
}

// endpoint checks an identity provider's URL: https, as ALB requires, or
// http on a loopback address, for a provider on this machine.
func (v *validator) endpoint(path, field, raw string) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		v.errorf(path, "%s is required", field)
	case err != nil || u.Host == "":
		v.errorf(path, "%s %q is not a URL like https://idp.example.com/path", field, raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		v.errorf(path, "%s must be https (ALB requires it), or http on this machine (127.0.0.1, localhost) for a local provider", field)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// transforms checks a rule's transforms: known types, at most one of each.
func (v *validator) transforms(path string, ts []Transform) {
	seen := map[string]bool{}
	for i, t := range ts {
		at := indexPath(path+".transforms", i)
		switch {
		case t.Type != "host_header_rewrite" && t.Type != "url_rewrite":
			v.errorf(at+".type", "transform type %q: use host_header_rewrite or url_rewrite", t.Type)
		case seen[t.Type]:
			v.errorf(at+".type", "a rule takes one %s", t.Type)
		}
		seen[t.Type] = true
		if t.Regex == "" {
			v.errorf(at+".regex", "regex is required: what to rewrite")
		}
	}
}

// responseHeaders are the headers an ALB listener may set on answers.
var responseHeaders = []string{
	"Strict-Transport-Security", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
	"Access-Control-Max-Age", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
}

// renamableHeaders are the headers the load balancer adds that ALB lets a
// listener rename.
var renamableHeaders = []string{
	"X-Amzn-Tls-Version", "X-Amzn-Tls-Cipher-Suite", "X-Amzn-Mtls-Clientcert-Serial-Number",
	"X-Amzn-Mtls-Clientcert-Issuer", "X-Amzn-Mtls-Clientcert-Subject", "X-Amzn-Mtls-Clientcert-Validity",
	"X-Amzn-Mtls-Clientcert-Leaf", "X-Amzn-Mtls-Clientcert",
}

// headers checks a listener's header modifications.
func (v *validator) headers(path string, h *ListenerHeaders) {
	for _, name := range sortedKeys(h.Response) {
		if !slices.Contains(responseHeaders, http.CanonicalHeaderKey(name)) {
			v.errorf(joinPath(path+".response", name), "ALB does not let a listener set %s: use one of %s", name, strings.Join(responseHeaders, ", "))
		}
	}
	for _, name := range sortedKeys(h.Rename) {
		at := joinPath(path+".rename", name)
		switch {
		case !slices.Contains(renamableHeaders, http.CanonicalHeaderKey(name)):
			v.errorf(at, "%s is not a header ALB lets a listener rename: use one of %s", name, strings.Join(renamableHeaders, ", "))
		case !validHeaderName(h.Rename[name]):
			v.errorf(at, "%q is not a header name", h.Rename[name])
		}
	}
}

func (v *validator) forward(path string, f *ForwardAction) {
	switch {
	case f.TargetGroup != "" && len(f.TargetGroups) > 0:
		v.errorf(path, "forward to target_group or to target_groups, not both")
		return
	case len(f.TargetGroups) == 0:
		ref(v, path+".target_group", "target_group", "target group", "target_groups", f.TargetGroup, v.s.TargetGroups)
	case len(f.TargetGroups) > maxForwardGroups:
		v.errorf(path+".target_groups", "%d target groups: a forward action takes at most %d", len(f.TargetGroups), maxForwardGroups)
	}
	total, seen := 0, map[string]bool{}
	for i, g := range f.TargetGroups {
		at := indexPath(path+".target_groups", i)
		if seen[g.Name] {
			v.errorf(at+".name", "target group %s is listed twice", g.Name)
		}
		seen[g.Name] = true
		ref(v, at+".name", "name", "target group", "target_groups", g.Name, v.s.TargetGroups)
		v.intRange(at+".weight", "weight", g.Weight, 0, maxWeight)
		total += g.Weight
	}
	if len(f.TargetGroups) > 0 && total == 0 {
		v.errorf(path+".target_groups", "every weight is 0, so no request could be forwarded: give one group a weight above 0")
	}
	if st := f.Stickiness; st != nil && st.Enabled {
		v.durationRange(path+".stickiness.duration", "duration", st.Duration, time.Second, maxStickiness)
	}
}

// forwardProtocols checks that an http listener forwards to no HTTP2 or
// GRPC target group: ALB takes those only behind https listeners.
func (v *validator) forwardProtocols(path string, f *ForwardAction, l *Listener) {
	if l.Protocol == "https" {
		return
	}
	names := []string{f.TargetGroup}
	for _, g := range f.TargetGroups {
		names = append(names, g.Name)
	}
	for _, name := range names {
		tg := v.s.TargetGroups[name]
		if tg == nil {
			continue
		}
		if pv := strings.ToUpper(tg.ProtocolVersion); pv == "HTTP2" || pv == "GRPC" {
			v.errorf(path, "target group %s speaks %s, which ALB forwards to only from https listeners: make this listener https, or use protocol_version HTTP1", name, pv)
		}
	}
}

func (v *validator) redirect(path string, r *RedirectAction, l *Listener) {
	if !slices.Contains([]string{"HTTP", "HTTPS", "#{protocol}"}, r.Protocol) {
		v.errorf(path+".protocol", "protocol %q: use HTTP, HTTPS or #{protocol}", r.Protocol)
	}
	if r.Port != "#{port}" {
		if p, err := strconv.Atoi(r.Port); err != nil || p < 1 || p > 65535 {
			v.errorf(path+".port", "port %q: use 1-65535 or #{port}", r.Port)
		}
	}
	if r.Host == "" {
		v.errorf(path+".host", "host is empty: use a host name or #{host}")
	}
	if !strings.HasPrefix(r.Path, "/") {
		v.errorf(path+".path", "path %q must start with /, like /#{path}", r.Path)
	}
	if strings.HasPrefix(r.Query, "?") {
		v.errorf(path+".query", "write the query without its leading ?: %q", strings.TrimPrefix(r.Query, "?"))
	}
	if _, ok := RedirectStatus(r.StatusCode); !ok {
		v.errorf(path+".status_code", "status_code %q: use HTTP_301 (permanent) or HTTP_302 (temporary)", r.StatusCode)
	}
	if redirectsToItself(r, l) {
		v.errorf(path, "this redirect sends every request back to the URL it came from, a loop: change the protocol, host, port or path (e.g. protocol: HTTPS, port: \"443\"); ALB does not count the query")
	}
	if l.Protocol == "https" && r.Protocol == "HTTP" {
		v.errorf(path+".protocol", "an https listener may not redirect to HTTP (ALB refuses it): use HTTPS or #{protocol}")
	}
}

// RedirectStatus is the status code a redirect's status_code names.
func RedirectStatus(s string) (int, bool) {
	switch s {
	case "HTTP_301", "301":
		return 301, true
	case "HTTP_302", "302":
		return 302, true
	}
	return 0, false
}

// redirectsToItself reports whether a redirect keeps the protocol, host,
// port and path of the request on listener l, which ALB refuses: at least
// one of them must change (a changed query does not count).
func redirectsToItself(r *RedirectAction, l *Listener) bool {
	sameProtocol := r.Protocol == "#{protocol}" || strings.EqualFold(r.Protocol, l.Protocol)
	samePort := r.Port == "#{port}" || l.Port != 0 && r.Port == strconv.Itoa(l.Port)
	return sameProtocol && samePort && r.Host == "#{host}" && r.Path == "/#{path}"
}

func (v *validator) fixedResponse(path string, f *FixedResponseAction) {
	if c := f.StatusCode; !(c >= 200 && c <= 299 || c >= 400 && c <= 599) {
		v.errorf(path+".status_code", "status_code %d: use a 2XX, 4XX or 5XX code", c)
	}
	if !slices.Contains(contentTypes, f.ContentType) {
		v.errorf(path+".content_type", "content_type %q: use one of %s", f.ContentType, strings.Join(contentTypes, ", "))
	}
	if len(f.MessageBody) > maxFixedBody {
		v.errorf(path+".message_body", "message_body of %d bytes: ALB allows up to %d", len(f.MessageBody), maxFixedBody)
	}
}

// groupOptions checks a target group's protocol version, algorithm, slow
// start and stickiness.
func (v *validator) groupOptions(path string, tg *TargetGroup) {
	if !slices.Contains([]string{"HTTP1", "HTTP2", "GRPC"}, strings.ToUpper(tg.ProtocolVersion)) {
		v.errorf(path+".protocol_version", "protocol_version %q: use HTTP1, HTTP2 or GRPC", tg.ProtocolVersion)
	}
	if !slices.Contains([]string{"round_robin", "least_outstanding_requests", "weighted_random"}, tg.Algorithm) {
		v.errorf(path+".algorithm", "algorithm %q is not supported: use round_robin, least_outstanding_requests or weighted_random", tg.Algorithm)
	}
	switch d := tg.SlowStart.D(); {
	case d != 0 && (d < minSlowStart || d > maxSlowStart):
		v.errorf(path+".slow_start", "slow_start %s is out of range: use 30s to 900s, or 0 for none", fmtDuration(d))
	case d != 0 && tg.Algorithm != "round_robin":
		v.errorf(path+".slow_start", "slow start works only with round_robin (ALB refuses it with %s): remove slow_start or change the algorithm", tg.Algorithm)
	}
	st := &tg.Stickiness
	if !st.Enabled {
		return
	}
	switch st.Type {
	case "lb_cookie":
	case "app_cookie":
		switch {
		case st.CookieName == "":
			v.errorf(path+".stickiness.cookie_name", "app_cookie stickiness follows the application's cookie: name it in cookie_name")
		case strings.HasPrefix(strings.ToUpper(st.CookieName), "AWSALB"):
			v.errorf(path+".stickiness.cookie_name", "cookie names starting with AWSALB are the load balancer's own: name the application's cookie")
		}
	default:
		v.errorf(path+".stickiness.type", "stickiness type %q: use lb_cookie or app_cookie", st.Type)
	}
	v.durationRange(path+".stickiness.duration", "duration", st.Duration, time.Second, maxStickiness)
}

// validHeaderName reports whether name is an HTTP header name (a token).
func validHeaderName(name string) bool {
	if name == "" || len(name) > 40 {
		return false
	}
	for _, r := range name {
		if !isAlnum(r) && !strings.ContainsRune("!#$%&'*+-.^_`|~", r) {
			return false
		}
	}
	return true
}
