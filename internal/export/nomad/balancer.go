package nomad

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/shoalhq/shoal/internal/spec"
)

// nginxImage is the balancer's image: nginx, whose configuration a Nomad
// template renders from the services' registrations.
const nginxImage = "nginx:1.27-alpine"

// nginxConfDir is where the balancer's configuration is mounted in its
// container, the folder local/nginx of the task.
const nginxConfDir = "/etc/nginx/shoal"

// balancerGroup is a load balancer as a task group: one nginx task on the
// listeners' ports, its configuration a template over Nomad's service
// discovery, reloaded (SIGHUP) when a registration changes.
func (e *exporter) balancerGroup(name string, lb *spec.LoadBalancer) *api.TaskGroup {
	at := "load_balancers." + name
	group := "lb-" + name
	for e.s.Services[group] != nil {
		group += "-lb" // a service has that name
	}
	e.warn.Add(at, "approximate: the load balancer is one nginx allocation (%s) on the listeners' ports of the client it lands on, its upstreams rendered from Nomad's service discovery; ALB is a managed service across zones", nginxImage)
	var ports []api.Port
	for i, l := range lb.Listeners {
		p := api.Port{Label: fmt.Sprintf("l%d", i), Value: l.Port}
		if l.Port == 0 {
			e.warn.Add(fmt.Sprintf("%s.listeners[%d].port", at, i), "port 0 becomes a dynamic port: nginx listens on NOMAD_PORT_%s, which only the job's allocation tells", p.Label)
		}
		if l.Address != "0.0.0.0" && l.Address != "::" {
			e.warn.Add(fmt.Sprintf("%s.listeners[%d].address", at, i), "approximate: nginx listens on every address of its client (network_mode host), where shoal listens on %s", l.Address)
		}
		ports = append(ports, p)
	}
	conf := e.nginxConf(at, lb)
	// The folder is mounted, not the file: the template runner replaces
	// the file (a new inode) at each render, which a file's bind mount
	// would not show, and nginx would reload the first one for ever.
	task := &api.Task{
		Name:   "nginx",
		Driver: "docker",
		Config: map[string]any{
			"image":        nginxImage,
			"network_mode": "host",
			"volumes":      []string{"local/nginx:" + nginxConfDir},
			"command":      "nginx",
			"args":         []string{"-c", nginxConfDir + "/nginx.conf", "-g", "daemon off;"},
		},
		Templates: []*api.Template{{
			EmbeddedTmpl: new(conf),
			DestPath:     new("local/nginx/nginx.conf"),
			ChangeMode:   new("signal"),
			ChangeSignal: new("SIGHUP"),
		}},
	}
	var static, dynamic []api.Port
	for _, p := range ports {
		if p.Value == 0 {
			dynamic = append(dynamic, p)
		} else {
			static = append(static, p)
		}
	}
	return &api.TaskGroup{
		Name:     new(group),
		Count:    new(1),
		Meta:     map[string]string{"shoal_load_balancer": name},
		Networks: []*api.NetworkResource{{ReservedPorts: static, DynamicPorts: dynamic}},
		Services: []*api.Service{{
			Name: e.serviceName(group), Provider: "nomad", PortLabel: ports[0].Label,
			Checks: []api.ServiceCheck{{Name: "tcp", Type: "tcp", PortLabel: ports[0].Label, Interval: tcpCheckInterval, Timeout: tcpCheckTimeout}},
		}},
		Tasks: []*api.Task{task},
	}
}

// conf writes an nginx configuration.
type conf struct {
	b      strings.Builder
	indent int
	// blocks are http-level blocks (geo, split_clients) that rules and
	// actions need, written before the servers.
	blocks []string
}

// block adds an http-level block.
func (c *conf) block(lines ...string) {
	c.blocks = append(c.blocks, "    "+strings.Join(lines, "\n    ")+"\n")
}

func (c *conf) line(format string, args ...any) {
	c.b.WriteString(strings.Repeat("    ", c.indent))
	fmt.Fprintf(&c.b, format, args...)
	c.b.WriteByte('\n')
}

func (c *conf) open(format string, args ...any) { c.line(format+" {", args...); c.indent++ }
func (c *conf) close()                          { c.indent--; c.line("}") }

// nginxConf is the balancer's nginx.conf, a Nomad template.
func (e *exporter) nginxConf(at string, lb *spec.LoadBalancer) string {
	var c conf
	c.line("# shoal export: load balancer %s of stack %s", lit(strings.TrimPrefix(at, "load_balancers.")), lit(e.s.Name))
	c.line("worker_processes auto;")
	c.line("events { worker_connections 1024; }")
	c.open("http")
	e.httpSettings(at, lb, &c)
	e.upstreams(at, lb, &c)
	servers := conf{indent: 1}
	for i, l := range lb.Listeners {
		e.server(at, i, l, lb, &servers)
	}
	for _, b := range servers.blocks {
		c.b.WriteString(b)
	}
	c.b.WriteString(servers.b.String())
	c.close()
	return c.b.String()
}

// httpSettings maps the load balancer's attributes.
func (e *exporter) httpSettings(at string, lb *spec.LoadBalancer, c *conf) {
	if lb.AccessLog.Enabled {
		c.line("access_log /dev/stdout;")
		e.warn.Add(at+".access_log", "approximate: nginx's access log, in its combined format, to the task's standard output (nomad alloc logs)")
	} else {
		c.line("access_log off;")
	}
	c.line("keepalive_timeout %ds;", secs(lb.IdleTimeout))
	c.line("keepalive_time %ds;", secs(lb.ClientKeepAlive))
	c.line("client_header_timeout %ds;", secs(lb.HeaderReadTimeout))
	c.line("proxy_connect_timeout 10s;")
	c.line("proxy_read_timeout %ds;", secs(lb.IdleTimeout))
	c.line("proxy_send_timeout %ds;", secs(lb.IdleTimeout))
	c.line("client_max_body_size %d;", lb.MaxRequestBody)
	c.line("proxy_http_version 1.1;")
	c.line(`proxy_set_header Connection "";`)
	c.line("proxy_set_header Host $http_host;")
	switch lb.XFFHeaderProcessing {
	case "preserve":
		c.line("proxy_set_header X-Forwarded-For $http_x_forwarded_for;")
	case "remove":
		c.line(`proxy_set_header X-Forwarded-For "";`)
	default:
		c.line("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;")
	}
	if lb.XFFClientPort {
		e.warn.Add(at+".xff_client_port", "not carried over: nginx appends the client's address without its port")
	}
	c.line("proxy_set_header X-Forwarded-Proto $scheme;")
	c.line("proxy_set_header X-Forwarded-Port $server_port;")
	c.line("proxy_set_header X-Amzn-Trace-Id Root=$request_id;")
	c.line(`geo $shoal_dollar { default "$"; }`)
	if lb.DesyncMitigationMode != "" && lb.DesyncMitigationMode != spec.DefaultDesyncMode {
		e.warn.Add(at+".desync_mitigation_mode", "not carried over: nginx refuses ambiguous requests its own way")
	}
	e.warn.Add(at+".idle_timeout", "approximate: idle_timeout is nginx's keepalive_timeout (between requests) and proxy_read_timeout/proxy_send_timeout (a target that sends nothing for that long); an unanswered request gets 504, as on ALB")
}

// upstreams writes an upstream per target group that a listener forwards
// to: the registrations of the services in it, from Nomad's service
// discovery, and its static targets.
func (e *exporter) upstreams(at string, lb *spec.LoadBalancer, c *conf) {
	var names []string
	for _, l := range lb.Listeners {
		names = append(names, forwardGroups(&l.DefaultAction)...)
		for _, r := range l.Rules {
			names = append(names, forwardGroups(&r.Action)...)
		}
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		tg := e.s.TargetGroups[name]
		tgAt := "target_groups." + name
		c.open("upstream %s", upstream(name))
		switch tg.Algorithm {
		case "least_outstanding_requests":
			c.line("least_conn;")
		case "weighted_random":
			c.line("random;")
			e.warn.Add(tgAt+".algorithm", "approximate: nginx's random picks uniformly; ALB's weighted_random weighs targets by their health and anomalies")
		}
		if len(e.registrants(name)) > 0 {
			e.warn.Add(tgAt+".health_check", "approximate: Nomad's service discovery lists every registration, its checks passing or not, so nginx also sends requests to allocations whose checks fail, until check_restart restarts them or their deployment stops them (ALB sends none to an unhealthy target); nginx sets a server aside for 10 s only after a connection error or timeout")
		}
		for _, svc := range e.registrants(name) {
			c.line(`{{- range nomadService %q }}`, e.serviceName(svc))
			c.line("server {{ .Address }}:{{ .Port }};")
			c.line("{{- end }}")
		}
		for _, t := range tg.Targets {
			c.line("server %s;", lit(t))
		}
		c.line("server 127.0.0.1:9 down; # keeps the upstream valid with no registration: 502 then, where ALB says 503")
		c.close()
		if tg.SlowStart != 0 {
			e.warn.Add(tgAt+".slow_start", "not carried over: nginx's slow_start is NGINX Plus only")
		}
		if tg.Stickiness.Enabled {
			e.warn.Add(tgAt+".stickiness", "not carried over: nginx's sticky cookies are NGINX Plus only (hash $cookie_… consistent is the closest)")
		}
		if tg.ProtocolVersion != "" && tg.ProtocolVersion != spec.DefaultProtocolVersion {
			e.warn.Add(tgAt+".protocol_version", "not carried over: nginx proxies HTTP/1.1 to targets (grpc_pass would need a server of its own)")
		}
	}
}

// server writes listener i of the load balancer at lbAt.
func (e *exporter) server(lbAt string, i int, l *spec.Listener, lb *spec.LoadBalancer, c *conf) {
	at := fmt.Sprintf("%s.listeners[%d]", lbAt, i)
	c.open("server")
	if l.Port == 0 {
		c.line(`listen {{ env "NOMAD_PORT_l%d" }};`, i)
	} else {
		c.line("listen %d;", l.Port)
	}
	if l.Protocol == "https" {
		e.warn.Add(at+".certificates", "not carried over: the listener is exported as plain HTTP; give nginx the certificate and key (a template from Nomad Variables) and listen ssl, or terminate TLS before it")
	}
	e.guard(lbAt, l.Port, lb, c)
	for _, k := range sortedKeys(l.Headers.Response) {
		c.line("proxy_hide_header %s;", lit(k))
		c.line("add_header %s %s always;", lit(k), text(l.Headers.Response[k]))
	}
	if !l.Headers.Server {
		c.line("server_tokens off;")
		e.warn.Add(at+".headers.server", "approximate: nginx's answers keep a Server: nginx header without its version")
	}
	if len(l.Headers.Rename) > 0 {
		e.warn.Add(at+".headers.rename", "not carried over: the balancer adds X-Forwarded-* under their usual names")
	}
	rules := slices.Clone(l.Rules)
	slices.SortFunc(rules, func(a, b *spec.Rule) int { return b.Priority - a.Priority })
	c.line(`set $shoal_rule "";`)
	for _, r := range rules { // highest priority number first: the lowest that matches is set last
		e.match(fmt.Sprintf("%s.rules[%d]", at, slices.Index(l.Rules, r)), i, r, c)
	}
	var internal []func()
	c.open("location /")
	slices.Reverse(rules)
	for _, r := range rules {
		rAt := fmt.Sprintf("%s.rules[%d]", at, slices.Index(l.Rules, r))
		name := fmt.Sprintf("l%d_r%d", i, r.Priority)
		c.open(`if ($shoal_rule = "%s")`, name)
		internal = append(internal, e.action(rAt+".action", name, &r.Action, c))
		c.close()
		if len(r.Transforms) > 0 {
			e.warn.Add(rAt+".transforms", "not carried over: write them as nginx rewrite directives")
		}
	}
	name := fmt.Sprintf("l%d_default", i)
	if a := &l.DefaultAction; a.Forward != nil {
		internal = append(internal, e.action(at+".default_action", name, a, c))
	} else {
		c.open(`if ($shoal_rule = "")`)
		internal = append(internal, e.action(at+".default_action", name, a, c))
		c.close()
	}
	c.close()
	for _, f := range internal {
		if f != nil {
			f()
		}
	}
	c.close()
}

// guard writes allow lines for the CIDRs of the load balancer's security
// groups (lbAt is the load balancer's path) that admit the listener's
// port; other connections are denied.
func (e *exporter) guard(lbAt string, port int, lb *spec.LoadBalancer, c *conf) {
	if len(lb.SecurityGroups) == 0 {
		return
	}
	for _, g := range lb.SecurityGroups {
		sg := e.s.SecurityGroups[g]
		for j, r := range sg.Ingress {
			rAt := fmt.Sprintf("security_groups.%s.ingress[%d]", g, j)
			if r.SourceGroup != "" {
				e.warn.Add(rAt+".source_group", "not carried over: nginx allows by address; the members of group %s have none it can know", r.SourceGroup)
				continue
			}
			if admitsPort(r, port) {
				c.line("allow %s;", r.CIDR)
			}
		}
	}
	c.line("deny all;")
	e.warn.Add(lbAt+".security_groups", "approximate: the groups' CIDR rules that admit a listener's port are nginx allow lines (an HTTP 403, not a dropped connection); Nomad itself has no security groups")
}

// admitsPort reports whether an ingress rule admits TCP connections to port.
func admitsPort(r *spec.IngressRule, port int) bool {
	switch strings.ToLower(r.Protocol) {
	case "tcp", "6", "all", "-1", "":
	default:
		return false
	}
	if r.Port == "" || r.Port == "all" {
		return true
	}
	lo, hi, ok := strings.Cut(r.Port, "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return false
	}
	b := a
	if ok {
		if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return false
		}
	}
	return a <= port && port <= b
}

// match writes the conditions of one rule: each condition that matches
// appends its letter to $shoal_c, and the rule matches when all did.
func (e *exporter) match(at string, listener int, r *spec.Rule, c *conf) {
	cond := r.Conditions
	var want strings.Builder
	c.line(`set $shoal_c "";`)
	add := func(letter, test string) {
		c.line(`if (%s) { set $shoal_c "${shoal_c}%s"; }`, test, letter)
		want.WriteString(letter)
	}
	if len(cond.HostHeader) > 0 {
		add("h", "$host ~* "+quote(alternatives(cond.HostHeader)))
	}
	if len(cond.PathPattern) > 0 {
		add("p", "$uri ~ "+quote(alternatives(cond.PathPattern)))
	}
	if len(cond.HTTPRequestMethod) > 0 {
		var ms []string
		for _, m := range cond.HTTPRequestMethod {
			ms = append(ms, regexp.QuoteMeta(m))
		}
		add("m", "$request_method ~ "+quote("^("+strings.Join(ms, "|")+")$"))
	}
	if h := cond.HTTPHeader; h != nil {
		v := "$http_" + strings.ReplaceAll(strings.ToLower(h.Name), "-", "_")
		add("x", v+" ~* "+quote(alternatives(h.Values)))
	}
	if len(cond.QueryString) > 0 {
		var alts []string
		for _, q := range cond.QueryString {
			key := "[^&=]*"
			if q.Key != "" {
				key = wildcard(q.Key)
			}
			alts = append(alts, key+"="+wildcard(q.Value))
		}
		add("q", "$args ~* "+quote("(^|&)("+strings.Join(alts, "|")+")(&|$)"))
		e.warn.Add(at+".conditions.query_string", "approximate: matched against the query string as sent (URL-encoded), where ALB decodes it first")
	}
	if len(cond.SourceIP) > 0 {
		v := fmt.Sprintf("$shoal_src_l%d_r%d", listener, r.Priority)
		lines := []string{"geo " + v + " {", "    default 0;"}
		for _, cidr := range cond.SourceIP {
			lines = append(lines, "    "+cidr+" 1;")
		}
		c.block(append(lines, "}")...)
		add("s", v+` = "1"`)
	}
	c.line(`if ($shoal_c = "%s") { set $shoal_rule "l%d_r%d"; }`, want.String(), listener, r.Priority)
}

// action writes what a rule (or default action) does, inside the location;
// a fixed response needs an internal location of its own, written by the
// function it returns.
func (e *exporter) action(at, name string, a *spec.Action, c *conf) func() {
	if a.AuthenticateOIDC != nil {
		e.warn.Add(at+".authenticate_oidc", "not carried over: nginx has no OpenID Connect sign-in (oauth2-proxy before the balancer can do it); requests are forwarded unauthenticated")
	}
	if a.VerifyJWT != nil {
		e.warn.Add(at+".verify_jwt", "not carried over: nginx verifies no JSON Web Token (NGINX Plus's auth_jwt does); requests are forwarded unverified")
	}
	switch {
	case a.Forward != nil:
		e.forward(at+".forward", name, a.Forward, c)
	case a.Redirect != nil:
		c.line("return %s %s;", strings.TrimPrefix(a.Redirect.StatusCode, "HTTP_"), quote(redirectURL(a.Redirect)))
	case a.FixedResponse != nil:
		f := a.FixedResponse
		loc := "/__shoal/" + name
		c.line("rewrite ^ %s last;", loc)
		return func() {
			c.open("location = %s", loc)
			c.line("internal;")
			c.line("default_type %s;", quote(f.ContentType))
			c.line("return %d %s;", f.StatusCode, text(f.MessageBody))
			c.close()
		}
	}
	return nil
}

// forward writes a proxy_pass to one target group, or to several by
// weight through a split_clients block.
func (e *exporter) forward(at, name string, f *spec.ForwardAction, c *conf) {
	if f.Stickiness != nil && f.Stickiness.Enabled {
		e.warn.Add(at+".stickiness", "not carried over: a client is sent to a target group by weight on every request")
	}
	if f.TargetGroup != "" {
		c.line("proxy_pass %s://%s;", e.scheme(f.TargetGroup), upstream(f.TargetGroup))
		return
	}
	var groups []spec.WeightedTargetGroup
	total := 0
	for _, g := range f.TargetGroups {
		if g.Weight > 0 {
			groups = append(groups, g)
			total += g.Weight
		}
	}
	if len(groups) == 0 {
		c.line("return 503;")
		return
	}
	if len(groups) == 1 {
		c.line("proxy_pass %s://%s;", e.scheme(groups[0].Name), upstream(groups[0].Name))
		return
	}
	v := "$shoal_fwd_" + name
	lines := []string{`split_clients "${request_id}" ` + v + " {"}
	for j, g := range groups {
		share := "*"
		if j < len(groups)-1 {
			share = strconv.FormatFloat(float64(g.Weight)*100/float64(total), 'f', 2, 64) + "%"
		}
		lines = append(lines, "    "+share+" "+upstream(g.Name)+";")
	}
	c.block(append(lines, "}")...)
	c.line("proxy_pass %s://%s;", e.scheme(groups[0].Name), v)
	e.warn.Add(at+".target_groups", "approximate: split_clients sends each request to a target group by weight, as ALB, to shares rounded to 0.01%%, all by %s", e.scheme(groups[0].Name))
}

// scheme is how nginx reaches a target group's targets.
func (e *exporter) scheme(tg string) string {
	if e.s.TargetGroups[tg].Protocol == "https" {
		return "https"
	}
	return "http"
}

// redirectURL turns ALB's #{…} parts into nginx variables.
func redirectURL(r *spec.RedirectAction) string {
	part := func(s, def string) string {
		if s == "" {
			s = def
		}
		return s
	}
	proto := strings.ToLower(part(r.Protocol, "#{protocol}"))
	path := part(r.Path, "/#{path}")
	path = strings.ReplaceAll(path, "/#{path}", "$uri")
	query := part(r.Query, "#{query}")
	url := proto + "://" + part(r.Host, "#{host}") + ":" + part(r.Port, "#{port}") + path
	if query == "#{query}" {
		url += "$is_args$args"
	} else {
		url += "?" + query
	}
	return strings.NewReplacer("#{protocol}", "$scheme", "#{host}", "$host", "#{port}", "$server_port", "#{path}", "${uri}", "#{query}", "$args").Replace(url)
}

// forwardGroups lists the target groups an action forwards to.
func forwardGroups(a *spec.Action) []string {
	if a.Forward == nil {
		return nil
	}
	if a.Forward.TargetGroup != "" {
		return []string{a.Forward.TargetGroup}
	}
	var out []string
	for _, g := range a.Forward.TargetGroups {
		out = append(out, g.Name)
	}
	return out
}

// upstream is the nginx name of a target group's upstream.
func upstream(tg string) string {
	return "tg_" + strings.ReplaceAll(strings.ReplaceAll(tg, "-", "_"), ".", "_")
}

// alternatives is a regular expression that matches any of ALB's patterns
// (* any run of characters, ? one) as a whole.
func alternatives(patterns []string) string {
	var alts []string
	for _, p := range patterns {
		alts = append(alts, wildcard(p))
	}
	return "^(" + strings.Join(alts, "|") + ")$"
}

// wildcard turns one ALB pattern into a regular expression.
func wildcard(p string) string {
	q := regexp.QuoteMeta(p)
	q = strings.ReplaceAll(q, `\*`, ".*")
	return strings.ReplaceAll(q, `\?`, ".")
}

// quote writes s as an nginx double-quoted string: quotes and backslashes
// escaped, and the template's delimiters.
func quote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	return `"` + lit(s) + `"`
}

// text is quote for a value nginx expands variables in: a $ of the
// text goes through the $shoal_dollar variable.
func text(s string) string {
	return quote(strings.ReplaceAll(s, "$", "${shoal_dollar}"))
}

// lit escapes the template's delimiters in literal text.
func lit(s string) string {
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}

// secs is a duration in whole seconds, at least 1.
func secs(d spec.Duration) int {
	return max(1, int(d.D().Seconds()))
}
