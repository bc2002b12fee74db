// Package routing is the rule table of an ALB listener: conditions on the
// host, path, headers, method, query string and source address, evaluated
// by priority, each rule with one action (forward, redirect, fixed
// response), the listener's default action last. A Table is compiled once
// and immutable, so that the load balancer can swap a whole configuration
// at once and match without a lock.
//
// It is pure: no I/O, no goroutines, standard library only. The load
// balancer (package proxy) carries the actions out; `shoal explain` asks
// Explain why a request goes where it goes.
//
//	Listener ─▶ Compile ─▶ *Table ─▶ Match(request)   ─▶ action, priority
//	                              ├▶ Explain(request) ─▶ every rule evaluated, and why
//	                              └▶ Rules()          ─▶ the rules in evaluation order
//	RedirectAction, request ─▶ RedirectURL ─▶ Location
//
// What ALB does, and where AWS says so (the pages are listed below):
//
//   - "Rules are evaluated in priority order, from the lowest value to the
//     highest value. The default rule is evaluated last"; the first rule
//     whose conditions are all met wins (listener-rules). A priority is
//     1-50000 (CreateRule, RulePriority) and unique in its listener
//     (PriorityInUse). A rule has "one or more conditions"; the default
//     rule has none.
//   - Within a condition, "the condition is satisfied if one of the
//     strings matches"; to require all of them, "create one condition per
//     match evaluation": OR within a condition, AND across conditions
//     (rule-condition-types, Condition basics).
//   - A rule has at most one each of host-header, http-request-method,
//     path-pattern and source-ip, and any number of http-header and
//     query-string conditions; "up to three match evaluations per
//     condition", "up to five match evaluations per rule", "a limit of five
//     wildcard characters per rule" (rule-condition-types). The quotas page
//     says the same: condition values per rule 5, condition wildcards per
//     rule 5, match evaluations per rule 5, none adjustable. Rules per load
//     balancer (100) is adjustable, so Compile does not count them.
//   - "The value for a condition can't be empty" (RuleCondition).
//   - * matches 0 or more characters, ? exactly one; they are the only
//     wildcards. Here a character is a byte: ALB applies rules "only to
//     visible ASCII characters".
//
// The condition types (rule-condition-types, add-rule, and the API's
// *ConditionConfig pages):
//
//   - host-header: "not case-sensitive", up to 128 characters of A-Z a-z
//     0-9 - . _ * ?, with "at least one '.'" and "only alphabetical
//     characters after the final '.'". It is matched against "the host
//     name in the host header": a port in Host (example.com:8080) is not
//     part of the host name and is ignored here. AWS does not say so in so
//     many words, but a pattern cannot hold ':' and so could never match a
//     Host with a port otherwise; browsers send one for every non-default
//     port. "*.example.com matches test.example.com but doesn't match
//     example.com."
//   - path-pattern: "case-sensitive", up to 128 characters of A-Z a-z 0-9
//     _ - . $ / ~ " ' @ : + & * ?; "applied only to the path of the URL,
//     not to its query parameters", and "only after URI normalization":
//     here RFC 3986 §6.2.2 (percent-encoded unreserved characters decoded,
//     dot segments removed), so that /x/../admin and /%61dmin meet the
//     rules for /admin. The request itself is not changed ("the path
//     pattern is used to route requests but does not alter them").
//   - http-header: "the header name and the match evaluation are not
//     case-sensitive"; the name is an RFC 7230 token of up to 40
//     characters, never Host ("use a host condition"); values are up to 128
//     visible ASCII characters (no \) with * and ?. "If the same header
//     appears multiple times in the request, we search them in order until
//     a match is found." A header that is absent matches nothing, not even *.
//   - http-request-method: "case-sensitive", "the method name must be an
//     exact match", up to 40 characters of A-Z - _.
//   - query-string: key/value pairs or values alone (any key), "not
//     case-sensitive", each string up to 128 characters of A-Z a-z 0-9
//     _ - . $ / ~ " ' @ : + & ( ) ! , ; = * ?; "to search for a literal '*'
//     or '?' character in a query string, you must escape these characters
//     in Values using a '\' character"; "if you specify multiple key/value
//     pairs or values, the condition is satisfied if one of them is found in
//     the query string". The query string is split at '&' and each
//     parameter at its first '='; keys and values are compared after
//     percent-decoding ("any character can be percentage encoded", and a
//     pattern may not hold '%', so an encoded value could never match
//     otherwise). '+' stays '+': a pattern may hold '+' but not a space. A
//     parameter without '=' is a key with an empty value.
//   - source-ip: IPv4 and IPv6 CIDRs, no wildcards, never
//     255.255.255.255/32; the connection's peer, "not ... the addresses in
//     the X-Forwarded-For header". An IPv4-mapped IPv6 peer (::ffff:a.b.c.d)
//     is its IPv4 address, and a ::ffff:0:0/96 network its IPv4 network.
//
// The actions (listener-rules, rule-action-types, and the API's
// ForwardActionConfig, TargetGroupStickinessConfig, RedirectActionConfig
// and FixedResponseActionConfig pages):
//
//   - forward: up to 5 target groups ("Target Groups per Action per
//     Application Load Balancer: 5", not adjustable), each with a weight
//     "from 0 to 999"; target group stickiness "1-604800 seconds (7 days)".
//   - redirect: 301 or 302. protocol://hostname:port/path?query, where
//     "you must modify at least one of the following components to avoid a
//     redirect loop: protocol, hostname, port, or path. Any components that
//     you do not modify retain their original values." The protocol is
//     HTTP, HTTPS or #{protocol}, and "you cannot redirect HTTPS to HTTP";
//     the port 1-65535 or #{port}; host and path 1-128 characters, the path
//     starting with "/"; the query up to 128, without the leading "?", "as
//     it is automatically added". #{protocol}, #{host}, #{port}, #{path}
//     ("the leading '/' is removed") and #{query} stand for the request's
//     parts; the host may hold #{host}, the path #{host}, #{path} and
//     #{port}, the query any of them.
//   - fixed-response: a 2XX, 4XX or 5XX status (^(2|4|5)\d\d$), a content
//     type among text/plain, text/css, text/html, application/javascript
//     and application/json (or none), a body of at most 1024 characters.
//
// Sources:
//
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-action-types.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/add-rule.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RuleCondition.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_HttpHeaderConditionConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_HttpRequestMethodConditionConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_PathPatternConditionConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_QueryStringConditionConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RedirectActionConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_FixedResponseActionConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupStickinessConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html
//
// Where shoal goes beyond what AWS writes down, it says so next to the code:
// a host's port, URI normalization, query decoding, what a redirect does
// with parts of a request no URL can hold.
package routing

import (
	"net/http"
	"net/netip"
	"time"
)

// Request is what rules look at in a request.
type Request struct {
	// Host is the Host header as the client sent it (it may carry a port,
	// which host-header conditions ignore).
	Host string
	// Path is the URL path, as sent (not decoded), without the query.
	// Path patterns see it normalized (see the package documentation).
	Path string
	// RawQuery is the query string, without the leading '?'.
	RawQuery string
	Method   string
	// Header holds the request's headers under their canonical names, as
	// net/http builds it.
	Header http.Header
	// Source is the peer address of the connection (never X-Forwarded-For).
	Source netip.Addr
	// Scheme ("http" or "https") and Port are the listener's: what a
	// redirect's #{protocol} and #{port} stand for.
	Scheme string
	Port   string
}

// Field names a condition, as ALB does.
type Field string

// The condition fields.
const (
	HostHeader        Field = "host-header"
	PathPattern       Field = "path-pattern"
	HTTPHeader        Field = "http-header"
	HTTPRequestMethod Field = "http-request-method"
	QueryString       Field = "query-string"
	SourceIP          Field = "source-ip"
)

// Condition is one rule condition: it matches when any of its values does.
// It holds one to three values ("match evaluations"); a rule holds five at
// most, over all its conditions.
type Condition struct {
	Field Field
	// Values are the patterns of HostHeader, PathPattern and HTTPHeader
	// (with * and ?), or the methods of HTTPRequestMethod.
	Values []string
	// HeaderName is the header HTTPHeader looks at (not case-sensitive).
	HeaderName string
	// Query are the pairs of QueryString; a pair with an empty Key
	// matches any key.
	Query []KeyValue
	// CIDRs are the networks of SourceIP.
	CIDRs []netip.Prefix
}

// KeyValue is one query string pair; either may hold * and ? (\* and \?
// are a literal * and ?). Value is required.
type KeyValue struct{ Key, Value string }

// ActionType names an action.
type ActionType string

// The action types.
const (
	Forward       ActionType = "forward"
	Redirect      ActionType = "redirect"
	FixedResponse ActionType = "fixed-response"
)

// Action is what a rule, or the listener by default, does with a request.
// Exactly the field of its Type is set.
type Action struct {
	Type     ActionType
	Forward  *ForwardAction
	Redirect *RedirectAction
	Fixed    *FixedResponseAction
	// Auth, when set, runs first, as ALB's authenticate-oidc and
	// jwt-validation actions run before a rule's last action: a request
	// it lets through gets the action above.
	Auth *AuthAction
}

// AuthAction checks who a request comes from: exactly one is set.
type AuthAction struct {
	JWT  *JWTAction
	OIDC *OIDCAction
}

// JWTAction verifies a JSON Web Token in the Authorization header (Bearer):
// its signature against the keys of JWKSURL, iss equal to Issuer, exp in the
// future, nbf and iat when present, and Claims.
type JWTAction struct {
	JWKSURL string
	Issuer  string
	Claims  []ClaimCheck
}

// ClaimCheck is one more claim a token must carry, in one of ALB's formats.
type ClaimCheck struct {
	Name string
	// Format: "single-string", "string-array" or "space-separated-values".
	Format string
	Values []string
}

// OIDCAction signs users in through an OpenID Connect provider, ALB's
// authenticate-oidc.
type OIDCAction struct {
	Issuer, AuthorizationEndpoint, TokenEndpoint, UserInfoEndpoint string
	ClientID, ClientSecret                                         string
	// Scope requested; ALB's default is "openid".
	Scope string
	// SessionCookieName; ALB's default is AWSELBAuthSessionCookie.
	SessionCookieName string
	SessionTimeout    time.Duration
	// OnUnauthenticatedRequest: "authenticate" (default), "allow" or
	// "deny".
	OnUnauthenticatedRequest string
	ExtraParams              map[string]string
}

// ForwardAction sends requests to one or more target groups, by weight.
type ForwardAction struct {
	// Groups are 1-5 target groups, each named once. With more than one,
	// at least one weighs more than 0; the weight of a single group does
	// not matter.
	Groups []WeightedGroup
	// Stickiness, when more than 0, keeps a client on the target group
	// first picked for it that long (the AWSALBTG cookie): whole seconds,
	// 1 s to 7 days.
	Stickiness time.Duration
}

// WeightedGroup is a target group and its weight, 0-999.
type WeightedGroup struct {
	Name   string
	Weight int
}

// RedirectAction answers with a redirect to a URL made of the request's
// parts: each field holds text and the placeholders #{protocol}, #{host},
// #{port}, #{path} and #{query}; an empty field keeps the request's part
// (ALB's defaults: #{protocol}, #{host}, #{port}, /#{path}, #{query}).
// At least one of Protocol, Host, Port and Path must change the URL.
type RedirectAction struct {
	// Protocol is HTTP, HTTPS or #{protocol} (upper case, as ALB takes it).
	// Port is 1-65535 or #{port}. Host may hold #{host}; Path starts with
	// "/" and may hold #{host}, #{path} (the request's path without its
	// leading "/") and #{port}; Query has no leading "?" and may hold any
	// placeholder. Host, Path and Query are up to 128 characters.
	Protocol, Host, Port, Path, Query string
	// StatusCode is 301 or 302.
	StatusCode int
}

// FixedResponseAction answers with a status, a content type and a body.
type FixedResponseAction struct {
	// StatusCode is 2XX, 4XX or 5XX.
	StatusCode int
	// ContentType is text/plain, text/css, text/html,
	// application/javascript, application/json, or empty (none given).
	ContentType string
	// Body is at most 1024 bytes.
	Body string
}

// Rule is a listener rule: all its conditions must match.
type Rule struct {
	// Priority is 1-50000, unique in its listener: lowest first.
	Priority int
	// Conditions are one or more: ALB has no rule without a condition
	// but the default.
	Conditions []Condition
	Action     Action
	// Transforms rewrite a request this rule matched before its action
	// (at most one of each type); the routing decision is not changed.
	Transforms []Transform
}

// TransformType names a rule transform, as ALB does.
type TransformType string

// The rule transforms.
const (
	HostHeaderRewrite TransformType = "host-header-rewrite"
	URLRewrite        TransformType = "url-rewrite"
)

// Transform rewrites the Host header, or the URL's path and query, of a
// matched request: Regex (ALB's dialect: no lookarounds, no
// backreferences) and its Replace, with $1… for the groups.
type Transform struct {
	Type           TransformType
	Regex, Replace string
}

// Listener is a listener's rules (in any order) and its default action.
type Listener struct {
	Rules   []Rule
	Default Action
	// Scheme is the listener's protocol, "http" or "https", when known:
	// Compile then refuses a redirect from HTTPS to HTTP, as ALB does,
	// and a redirect to the listener's own protocol that changes nothing
	// else. Empty skips those two checks.
	Scheme string
}
