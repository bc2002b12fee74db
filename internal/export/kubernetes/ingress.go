package kubernetes

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shoalhq/shoal/internal/secgroup"
	"github.com/shoalhq/shoal/internal/spec"
)

// ingress is one load balancer's Ingress, as it is built: its rules by
// host in the order they come, its default backend and annotations.
type ingress struct {
	x      *exporter
	name   string
	multi  bool // the load balancer has several listeners
	rules  []networkingv1.IngressRule
	hosts  map[string]int
	def    *networkingv1.IngressBackend
	defAt  string
	ann    map[string]string
	tls    []networkingv1.IngressTLS
	ports  []map[string]int
	public bool
	// authAt is the action whose OIDC sign-in the Ingress took (the
	// controller's is per Ingress); open are the actions without one.
	authAt, authJSON string
	open             []string
}

// ingresses writes an Ingress per load balancer: its listeners' rules and
// default actions.
func (x *exporter) ingresses() {
	for _, name := range sortedKeys(x.s.LoadBalancers) {
		x.ingress(name, x.s.LoadBalancers[name])
	}
}

func (x *exporter) ingress(name string, lb *spec.LoadBalancer) {
	p := "load_balancers." + name
	k := x.kname(p, name)
	in := &ingress{x: x, name: k, multi: len(lb.Listeners) > 1, hosts: map[string]int{}, ann: map[string]string{}}
	x.lbAttributes(p, lb, in)
	x.lbSecurityGroups(p, lb, in)
	if in.multi {
		x.w.Add(p+".listeners", "an Ingress has one set of rules for every port: the rules of its %d listeners are merged, the first listener's default action is the default backend", len(lb.Listeners))
	}
	for i, l := range lb.Listeners {
		in.listener(fmt.Sprintf("%s.listeners[%d]", p, i), i, l)
	}
	if in.authAt != "" && len(in.open) > 0 {
		x.w.Add(in.authAt, "becomes the Ingress's auth-type oidc, which the controller applies to every rule, also to %s that ALB lets through without signing in", strings.Join(in.open, ", "))
	}
	if len(in.rules) == 0 && in.def == nil {
		x.w.Add(p, "not exported: none of its actions forwards to a target group, so there is no Ingress to write")
		return
	}
	is := networkingv1.IngressSpec{Rules: in.rules, DefaultBackend: in.def, TLS: in.tls}
	if x.o.IngressClass != "" {
		is.IngressClassName = ptr(x.o.IngressClass)
	}
	meta := metav1.ObjectMeta{Name: k, Labels: x.labels(k)}
	if x.alb {
		in.ann[albPrefix+"target-type"] = "ip"
		in.ann[albPrefix+"scheme"] = "internal"
		if in.public {
			in.ann[albPrefix+"scheme"] = "internet-facing"
		}
		in.ann[albPrefix+"listen-ports"] = mustJSON(in.ports)
	}
	if len(in.ann) > 0 {
		meta.Annotations = in.ann
	}
	x.add(orderIngress, k, &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta,
		Spec:       is,
	})
}

// lbAttributes maps the load balancer's own settings: ALB attributes with
// the AWS Load Balancer Controller, warnings otherwise.
func (x *exporter) lbAttributes(p string, lb *spec.LoadBalancer, in *ingress) {
	var attrs []string
	attr := func(field string, changed bool, key, value string) {
		if !changed {
			return
		}
		if x.alb {
			attrs = append(attrs, key+"="+value)
			return
		}
		x.w.Add(p+"."+field, "not carried over: ALB's %s; an Ingress controller has its own setting (with --ingress-class alb it becomes the load balancer's attribute)", key)
	}
	attr("idle_timeout", lb.IdleTimeout.D() != spec.DefaultIdleTimeout, "idle_timeout.timeout_seconds", strconv.Itoa(int(lb.IdleTimeout.D()/time.Second)))
	attr("client_keep_alive", lb.ClientKeepAlive.D() != spec.DefaultClientKeepAlive, "client_keep_alive.seconds", strconv.Itoa(int(lb.ClientKeepAlive.D()/time.Second)))
	attr("desync_mitigation_mode", lb.DesyncMitigationMode != spec.DefaultDesyncMode, "routing.http.desync_mitigation_mode", lb.DesyncMitigationMode)
	attr("xff_header_processing", lb.XFFHeaderProcessing != spec.DefaultXFFHeaderProcessing, "routing.http.xff_header_processing.mode", lb.XFFHeaderProcessing)
	attr("xff_client_port", lb.XFFClientPort, "routing.http.xff_client_port.enabled", "true")
	if len(attrs) > 0 {
		in.ann[albPrefix+"load-balancer-attributes"] = strings.Join(attrs, ",")
	}
	if lb.HeaderReadTimeout.D() != spec.DefaultHeaderReadTimeout {
		x.w.Add(p+".header_read_timeout", "not carried over: shoal's own setting")
	}
	if lb.MaxRequestBody != 0 {
		x.w.Add(p+".max_request_body", "not carried over: shoal's own setting (ALB has no limit; ingress-nginx's is its proxy-body-size annotation)")
	}
	if lb.AccessLog.Enabled {
		x.w.Add(p+".access_log", "not carried over: the controller's access log (ALB's goes to an S3 bucket: access_logs.s3.* attributes)")
	}
}

// lbSecurityGroups maps the groups that guard the listeners: ALB's
// inbound CIDRs with the AWS Load Balancer Controller, warnings otherwise.
func (x *exporter) lbSecurityGroups(p string, lb *spec.LoadBalancer, in *ingress) {
	var cidrs []string
	for i, g := range lb.SecurityGroups {
		sg := x.s.SecurityGroups[g]
		if sg == nil {
			continue
		}
		if !x.alb {
			x.w.Add(fmt.Sprintf("%s.security_groups[%d]", p, i), "not carried over: an Ingress has no allow-list of clients (ingress-nginx: the whitelist-source-range annotation; with --ingress-class alb the CIDR rules become inbound-cidrs)")
			continue
		}
		for j, r := range sg.Ingress {
			rp := fmt.Sprintf("security_groups.%s.ingress[%d]", g, j)
			rule, err := r.Rule()
			switch {
			case err != nil:
				continue
			case r.CIDR == "":
				x.w.Add(rp, "not carried over: ALB's security group from the AWS Load Balancer Controller takes CIDRs only (inbound-cidrs)")
				continue
			case rule.CIDR.Addr().Is6():
				x.w.Add(rp+".cidr", "not carried over: an IPv6 CIDR needs a dualstack ALB (alb.ingress.kubernetes.io/ip-address-type: dualstack, in subnets with IPv6)")
				continue
			case !coversListeners(rule, lb):
				x.w.Add(rp, "becomes an inbound CIDR of every listener: the controller does not take a port per CIDR")
			}
			if !slices.Contains(cidrs, r.CIDR) {
				cidrs = append(cidrs, r.CIDR)
			}
		}
	}
	if len(cidrs) > 0 {
		in.ann[albPrefix+"inbound-cidrs"] = strings.Join(cidrs, ",")
	}
}

// coversListeners reports whether a rule admits every listener's port.
func coversListeners(r secgroup.Rule, lb *spec.LoadBalancer) bool {
	if r.Protocol != secgroup.TCP && r.Protocol != secgroup.All {
		return false
	}
	for _, l := range lb.Listeners {
		if !r.Ports.Contains(uint16(l.Port)) {
			return false
		}
	}
	return true
}

// listener adds one listener's port, rules and default action.
func (in *ingress) listener(p string, i int, l *spec.Listener) {
	x := in.x
	if addr, err := netip.ParseAddr(l.Address); err == nil && addr.IsUnspecified() {
		in.public = true
	} else if !x.alb {
		x.w.Add(p+".address", "not carried over: %s; the Ingress takes traffic wherever its controller is exposed", l.Address)
	} else {
		x.w.Add(p+".address", "%s: exported as an internal ALB (scheme internal, reached from its VPC)", l.Address)
	}
	proto := strings.ToUpper(l.Protocol)
	if x.alb {
		in.ports = append(in.ports, map[string]int{proto: l.Port})
	} else if !(l.Protocol == "http" && l.Port == 80 || l.Protocol == "https" && l.Port == 443) {
		x.w.Add(p+".port", "not carried over: an Ingress controller takes http on 80 and https on 443, not %s on %d", l.Protocol, l.Port)
	}
	in.certificates(p, l)
	if len(l.Headers.Response) > 0 || len(l.Headers.Rename) > 0 || !l.Headers.Server {
		x.w.Add(p+".headers", "not carried over: ALB's listener header attributes; an Ingress controller has its own")
	}
	order := make([]int, len(l.Rules))
	for j := range order {
		order[j] = j
	}
	slices.SortFunc(order, func(a, b int) int { return l.Rules[a].Priority - l.Rules[b].Priority })
	paths := 0
	for _, j := range order {
		r := l.Rules[j]
		paths += len(r.Conditions.PathPattern)
		in.rule(fmt.Sprintf("%s.rules[%d]", p, j), in.actionName(i, strconv.Itoa(r.Priority)), r)
	}
	if paths > 1 && !x.alb {
		x.w.Add(p+".rules", "ALB takes the rule of lowest priority that matches; Ingress controllers take the longest matching path (ingress-nginx) or an order of their own")
	}
	if rd := l.DefaultAction.Redirect; rd != nil && len(l.Rules) == 0 && httpsRedirect(rd) {
		in.httpsRedirect(p+".default_action.redirect", rd)
		return
	}
	in.defaultAction(p+".default_action", in.actionName(i, "default"), &l.DefaultAction)
}

// httpsRedirect reports whether a redirect sends every request to the
// same URL over https, on a given port.
func httpsRedirect(rd *spec.RedirectAction) bool {
	_, err := strconv.Atoi(rd.Port)
	return strings.EqualFold(rd.Protocol, "https") && rd.Host == "#{host}" && rd.Path == "/#{path}" && rd.Query == "#{query}" && err == nil
}

// httpsRedirect maps a listener that sends everything to https: the
// controller's ssl-redirect with the AWS Load Balancer Controller.
func (in *ingress) httpsRedirect(p string, rd *spec.RedirectAction) {
	if in.x.alb {
		in.ann[albPrefix+"ssl-redirect"] = rd.Port
		if rd.StatusCode != "HTTP_301" && rd.StatusCode != "301" {
			in.x.w.Add(p+".status_code", "the controller's ssl-redirect answers 301, not %s", rd.StatusCode)
		}
		return
	}
	in.x.w.Add(p, "not carried over as such: ingress-nginx redirects http to https by itself once the Ingress has tls (its ssl-redirect); other controllers have their own setting")
}

// actionName names the AWS Load Balancer Controller's action of a rule.
func (in *ingress) actionName(listener int, what string) string {
	if what != "default" {
		what = "rule-" + what
	}
	if in.multi {
		return fmt.Sprintf("listener%d-%s", listener, what)
	}
	return what
}

// certificates maps an https listener's certificates to a TLS Secret.
func (in *ingress) certificates(p string, l *spec.Listener) {
	if len(l.Certificates) == 0 {
		return
	}
	x := in.x
	secret := in.name + "-tls"
	if len(in.tls) == 0 {
		in.tls = append(in.tls, networkingv1.IngressTLS{SecretName: secret})
	}
	c := l.Certificates[0]
	if x.alb {
		x.w.Add(p+".certificates", "ALB takes certificates from ACM: import %s and set alb.ingress.kubernetes.io/certificate-arn (or let the controller discover it by the rules' hosts)", c.Certificate)
	} else {
		x.w.Add(p+".certificates", "becomes the TLS Secret %s, which the export does not write: kubectl create secret tls %s --cert=%s --key=%s", secret, secret, c.Certificate, c.Key)
	}
	if len(l.Certificates) > 1 {
		x.w.Add(p+".certificates", "not carried over: the certificates after the first (chosen by SNI); give each host its own tls entry and Secret")
	}
}

// rule adds a listener rule.
func (in *ingress) rule(p, name string, r *spec.Rule) {
	x := in.x
	if len(r.Transforms) > 0 {
		x.w.Add(p+".transforms", "not carried over: ALB's rule transforms (ingress-nginx has rewrite-target)")
	}
	c := r.Conditions
	var conds []albCondition
	var hosts []string
	for _, h := range c.HostHeader {
		if validHost(h) {
			hosts = append(hosts, strings.ToLower(h))
			continue
		}
		if !x.alb {
			x.w.Add(p+".conditions.host_header", "not carried over: host %q is not an Ingress host (a * only as the whole first label); the rule is left out", h)
			return
		}
		conds = append(conds, albCondition{Field: "host-header", HostHeaderConfig: &albValues{Values: []string{h}}})
	}
	if x.alb {
		conds = append(conds, albConditions(c)...)
	} else if other := otherConditions(c); other != "" {
		x.w.Add(p+".conditions", "not carried over: an Ingress routes by host and path only, not by %s; the rule is left out", other)
		return
	}
	backend, ok := in.action(p+".action", name, &r.Action, len(conds) > 0)
	if !ok {
		return
	}
	if len(conds) > 0 {
		in.ann[albPrefix+"conditions."+name] = mustJSON(conds)
	}
	var paths []networkingv1.HTTPIngressPath
	for _, pat := range c.PathPattern {
		path, typ, ok := in.path(p+".conditions.path_pattern", pat)
		if ok {
			paths = append(paths, networkingv1.HTTPIngressPath{Path: path, PathType: &typ, Backend: *backend})
		}
	}
	if len(c.PathPattern) > 0 && len(paths) == 0 {
		return
	}
	if len(paths) == 0 {
		paths = []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr(networkingv1.PathTypePrefix), Backend: *backend}}
	}
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	for _, h := range hosts {
		in.addPaths(h, paths)
	}
}

// addPaths adds paths to the Ingress rule of host, made on first use.
func (in *ingress) addPaths(host string, paths []networkingv1.HTTPIngressPath) {
	i, ok := in.hosts[host]
	if !ok {
		i = len(in.rules)
		in.hosts[host] = i
		in.rules = append(in.rules, networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}})
	}
	in.rules[i].HTTP.Paths = append(in.rules[i].HTTP.Paths, paths...)
}

// validHost reports whether an ALB host pattern is an Ingress host: no ?,
// and a * only as the whole first label.
func validHost(h string) bool {
	rest, _ := strings.CutPrefix(h, "*.")
	return rest != "" && !strings.ContainsAny(rest, "*?:")
}

// otherConditions names the conditions an Ingress cannot route by.
func otherConditions(c spec.Conditions) string {
	var out []string
	if c.HTTPHeader != nil {
		out = append(out, "http_header")
	}
	if len(c.HTTPRequestMethod) > 0 {
		out = append(out, "http_request_method")
	}
	if len(c.QueryString) > 0 {
		out = append(out, "query_string")
	}
	if len(c.SourceIP) > 0 {
		out = append(out, "source_ip")
	}
	return strings.Join(out, ", ")
}

// path turns an ALB path pattern into an Ingress path: as written with
// the AWS Load Balancer Controller (ImplementationSpecific takes ALB's
// patterns), else the closest Exact or Prefix path.
func (in *ingress) path(p, pat string) (string, networkingv1.PathType, bool) {
	x := in.x
	if x.alb {
		return pat, networkingv1.PathTypeImplementationSpecific, true
	}
	star := strings.Count(pat, "*")
	switch {
	case !strings.HasPrefix(pat, "/"):
		x.w.Add(p, "not carried over: %q does not start with /, which an Ingress path must; the rule is left out", pat)
		return "", "", false
	case star == 0 && !strings.Contains(pat, "?"):
		return pat, networkingv1.PathTypeExact, true
	case pat == "/*":
		return "/", networkingv1.PathTypePrefix, true
	case star == 1 && strings.HasSuffix(pat, "/*") && !strings.Contains(pat, "?"):
		prefix := strings.TrimSuffix(pat, "/*")
		x.w.Add(p, "%q becomes Prefix %s, which matches %s itself too", pat, prefix, prefix)
		return prefix, networkingv1.PathTypePrefix, true
	case star == 1 && strings.HasSuffix(pat, "*") && !strings.Contains(pat, "?"):
		prefix := strings.TrimSuffix(pat, "*")
		x.w.Add(p, "%q becomes Prefix %s, which matches whole path elements only (%s/x, not %sx)", pat, prefix, prefix, prefix)
		return prefix, networkingv1.PathTypePrefix, true
	}
	x.w.Add(p, "%q becomes an ImplementationSpecific path: what * and ? mean there is the controller's", pat)
	return pat, networkingv1.PathTypeImplementationSpecific, true
}

// defaultAction sets the Ingress's default backend from the first
// listener's default action that has one.
func (in *ingress) defaultAction(p, name string, a *spec.Action) {
	x := in.x
	if in.def != nil && !x.alb {
		b, ok := in.action(p, name, a, false)
		if ok && !sameBackend(b, in.def) {
			x.w.Add(p, "not carried over: the Ingress has one default backend, the one of %s", in.defAt)
		}
		return
	}
	if in.def != nil {
		// With several listeners on one ALB, the controller gives each
		// the Ingress's one default backend.
		x.w.Add(p, "not carried over: the Ingress has one default backend, the one of %s", in.defAt)
		return
	}
	if b, ok := in.action(p, name, a, false); ok {
		in.def, in.defAt = b, p
	}
}

func sameBackend(a, b *networkingv1.IngressBackend) bool {
	return a.Service != nil && b.Service != nil && *a.Service == *b.Service
}

// action is the backend of an action: a target group's Service, or with
// the AWS Load Balancer Controller an action annotation. ok is false when
// the action cannot be carried over (warned).
func (in *ingress) action(p, name string, a *spec.Action, annotate bool) (*networkingv1.IngressBackend, bool) {
	x := in.x
	switch {
	case a.AuthenticateOIDC == nil:
		in.open = append(in.open, p)
	case x.alb:
		in.oidc(p+".authenticate_oidc", a.AuthenticateOIDC)
	default:
		x.w.Add(p+".authenticate_oidc", "not carried over: requests reach the pods without signing in (with --ingress-class alb it becomes auth-type oidc; ingress-nginx takes auth-url)")
	}
	if a.VerifyJWT != nil {
		x.w.Add(p+".verify_jwt", "not carried over: requests reach the pods without their token checked")
	}
	var act *albAction
	switch {
	case a.Forward != nil:
		b, fwd := in.forward(p+".forward", a.Forward, annotate)
		if b != nil {
			return b, true
		}
		act = fwd
	case a.FixedResponse != nil:
		fr := a.FixedResponse
		if !x.alb {
			x.w.Add(p+".fixed_response", "not carried over: an Ingress has no fixed responses (with --ingress-class alb it becomes a fixed-response action); the rule is left out")
			return nil, false
		}
		act = &albAction{Type: "fixed-response", FixedResponseConfig: &albFixedResponse{ContentType: fr.ContentType, StatusCode: strconv.Itoa(fr.StatusCode), MessageBody: fr.MessageBody}}
	case a.Redirect != nil:
		rd := a.Redirect
		if !x.alb {
			x.w.Add(p+".redirect", "not carried over: an Ingress has no redirects (ingress-nginx redirects http to https by itself once tls is set; with --ingress-class alb it becomes a redirect action); the rule is left out")
			return nil, false
		}
		code := rd.StatusCode
		if !strings.HasPrefix(code, "HTTP_") {
			code = "HTTP_" + code
		}
		act = &albAction{Type: "redirect", RedirectConfig: &albRedirect{Host: rd.Host, Path: rd.Path, Port: rd.Port, Protocol: rd.Protocol, Query: rd.Query, StatusCode: code}}
	default:
		return nil, false
	}
	in.ann[albPrefix+"actions."+name] = mustJSON(act)
	return &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Name: "use-annotation"}}}, true
}

// forward is a forward action's backend, the Service of its target group
// (the heaviest, without the AWS Load Balancer Controller), or else the
// controller's action to annotate.
func (in *ingress) forward(p string, f *spec.ForwardAction, annotate bool) (*networkingv1.IngressBackend, *albAction) {
	x := in.x
	tgs := f.TargetGroups
	if f.TargetGroup != "" {
		tgs = []spec.WeightedTargetGroup{{Name: f.TargetGroup, Weight: 1}}
	}
	if w := weighted(tgs); len(w) == 1 && !x.alb {
		tgs = w // the others get no requests
	}
	sticky := f.Stickiness != nil && f.Stickiness.Enabled
	if len(tgs) == 1 && !sticky && !annotate {
		return in.backend(tgs[0].Name), nil
	}
	if !x.alb {
		heaviest := tgs[0]
		for _, t := range tgs[1:] {
			if t.Weight > heaviest.Weight {
				heaviest = t
			}
		}
		if len(tgs) > 1 {
			x.w.Add(p+".target_groups", "not carried over: an Ingress forwards to one Service; every request goes to %s (weight %d); with --ingress-class alb the weights become a forward action", heaviest.Name, heaviest.Weight)
		}
		if sticky {
			x.w.Add(p+".stickiness", "not carried over: ALB's target group stickiness")
		}
		return in.backend(heaviest.Name), nil
	}
	fc := &albForward{}
	for _, t := range tgs {
		fc.TargetGroups = append(fc.TargetGroups, albTargetGroup{ServiceName: x.tgServiceName(t.Name), ServicePort: strconv.Itoa(x.tgPort(t.Name)), Weight: t.Weight})
	}
	if sticky {
		fc.Stickiness = &albStickiness{Enabled: true, DurationSeconds: int(f.Stickiness.Duration.D() / time.Second)}
	}
	return nil, &albAction{Type: "forward", ForwardConfig: fc}
}

// oidc signs users in through an OpenID Connect provider before the
// Ingress's rules, with the AWS Load Balancer Controller, and writes the
// Secret of the client's id and secret it takes.
func (in *ingress) oidc(p string, o *spec.OIDCAuthentication) {
	x := in.x
	secret := in.name + "-oidc"
	cfg := mustJSON(albOIDC{
		Issuer: o.Issuer, AuthorizationEndpoint: o.AuthorizationEndpoint, TokenEndpoint: o.TokenEndpoint,
		UserInfoEndpoint: o.UserInfoEndpoint, SecretName: secret, ExtraParams: o.ExtraParams,
	})
	switch {
	case in.authAt == "":
		in.authAt, in.authJSON = p, cfg
	case in.authJSON != cfg:
		x.w.Add(p, "not carried over: an Ingress signs users in one way, the one of %s", in.authAt)
		return
	default:
		return
	}
	in.ann[albPrefix+"auth-type"] = "oidc"
	in.ann[albPrefix+"auth-idp-oidc"] = cfg
	in.ann[albPrefix+"auth-scope"] = o.Scope
	in.ann[albPrefix+"auth-session-cookie"] = o.SessionCookieName
	in.ann[albPrefix+"auth-session-timeout"] = strconv.Itoa(int(o.SessionTimeout.D() / time.Second))
	in.ann[albPrefix+"auth-on-unauthenticated-request"] = o.OnUnauthenticatedRequest
	x.add(orderSecret, secret, &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: secret, Labels: x.labels(secret)},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{"clientID": o.ClientID, "clientSecret": o.ClientSecret},
	})
	x.w.Add(p+".client_secret", "written into the Secret %s of the output, as it is in the stack file: keep both out of version control, or create the Secret yourself", secret)
}

// weighted are the target groups of a forward that get requests.
func weighted(tgs []spec.WeightedTargetGroup) []spec.WeightedTargetGroup {
	var out []spec.WeightedTargetGroup
	for _, t := range tgs {
		if t.Weight > 0 {
			out = append(out, t)
		}
	}
	return out
}

// backend is the backend of a target group's Service.
func (in *ingress) backend(tg string) *networkingv1.IngressBackend {
	return &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: in.x.tgServiceName(tg), Port: networkingv1.ServiceBackendPort{Number: int32(in.x.tgPort(tg))},
	}}
}

// The AWS Load Balancer Controller's action and condition annotations.
type (
	albAction struct {
		Type                string            `json:"type"`
		ForwardConfig       *albForward       `json:"forwardConfig,omitempty"`
		FixedResponseConfig *albFixedResponse `json:"fixedResponseConfig,omitempty"`
		RedirectConfig      *albRedirect      `json:"redirectConfig,omitempty"`
	}
	albForward struct {
		TargetGroups []albTargetGroup `json:"targetGroups"`
		Stickiness   *albStickiness   `json:"targetGroupStickinessConfig,omitempty"`
	}
	albTargetGroup struct {
		ServiceName string `json:"serviceName"`
		ServicePort string `json:"servicePort"`
		Weight      int    `json:"weight"`
	}
	albStickiness struct {
		Enabled         bool `json:"enabled"`
		DurationSeconds int  `json:"durationSeconds"`
	}
	albFixedResponse struct {
		ContentType string `json:"contentType"`
		StatusCode  string `json:"statusCode"`
		MessageBody string `json:"messageBody,omitempty"`
	}
	albRedirect struct {
		Host       string `json:"host"`
		Path       string `json:"path"`
		Port       string `json:"port"`
		Protocol   string `json:"protocol"`
		Query      string `json:"query"`
		StatusCode string `json:"statusCode"`
	}
	albOIDC struct {
		Issuer                string            `json:"issuer"`
		AuthorizationEndpoint string            `json:"authorizationEndpoint"`
		TokenEndpoint         string            `json:"tokenEndpoint"`
		UserInfoEndpoint      string            `json:"userInfoEndpoint"`
		SecretName            string            `json:"secretName"`
		ExtraParams           map[string]string `json:"authenticationRequestExtraParams,omitempty"`
	}
	albCondition struct {
		Field                   string     `json:"field"`
		HostHeaderConfig        *albValues `json:"hostHeaderConfig,omitempty"`
		HTTPHeaderConfig        *albHeader `json:"httpHeaderConfig,omitempty"`
		HTTPRequestMethodConfig *albValues `json:"httpRequestMethodConfig,omitempty"`
		QueryStringConfig       *albQuery  `json:"queryStringConfig,omitempty"`
		SourceIPConfig          *albValues `json:"sourceIpConfig,omitempty"`
	}
	albValues struct {
		Values []string `json:"values"`
	}
	albHeader struct {
		Name   string   `json:"httpHeaderName"`
		Values []string `json:"values"`
	}
	albQuery struct {
		Values []albKeyValue `json:"values"`
	}
	albKeyValue struct {
		Key   string `json:"key,omitempty"`
		Value string `json:"value"`
	}
)

// albConditions are a rule's conditions besides host and path, as the
// controller's conditions annotation.
func albConditions(c spec.Conditions) []albCondition {
	var out []albCondition
	if h := c.HTTPHeader; h != nil {
		out = append(out, albCondition{Field: "http-header", HTTPHeaderConfig: &albHeader{Name: h.Name, Values: h.Values}})
	}
	if len(c.HTTPRequestMethod) > 0 {
		out = append(out, albCondition{Field: "http-request-method", HTTPRequestMethodConfig: &albValues{Values: c.HTTPRequestMethod}})
	}
	if len(c.QueryString) > 0 {
		q := &albQuery{}
		for _, kv := range c.QueryString {
			q.Values = append(q.Values, albKeyValue{Key: kv.Key, Value: kv.Value})
		}
		out = append(out, albCondition{Field: "query-string", QueryStringConfig: q})
	}
	if len(c.SourceIP) > 0 {
		out = append(out, albCondition{Field: "source-ip", SourceIPConfig: &albValues{Values: c.SourceIP}})
	}
	return out
}

// mustJSON writes an annotation's value; its types always marshal.
func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}
