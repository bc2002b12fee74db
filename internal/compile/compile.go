// Package compile is the one step from a stack file to the configs of the
// parts that run it. spec decodes and validates shoal.yaml and fills in
// every default; Stack turns the result into plain values owned by the
// agent, the load balancer (proxy) and the drivers, so that none of them
// reads YAML types or applies a default of its own:
//
//	shoal.yaml ─▶ spec.Parse ─▶ *spec.Stack ─▶ compile.Stack ─▶ agent.Stack
//	                                                             ├─ proxy.Config
//	                                                             └─ driver.TaskSpec per task definition
//
// A new field costs one edit in spec (type, default, validation, docs) and
// one here plus one in the part that uses it.
package compile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/hook"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/spec"
	"github.com/shoalhq/shoal/internal/strategy"
)

// Output is a stack compiled for the parts that run it.
type Output struct {
	// Stack is what the agent applies; it holds the load balancer's config.
	Stack *agent.Stack
	// HostPorts is the range dynamic host ports come from; zero when the
	// stack leaves it to the kernel's ephemeral range.
	HostPorts PortRange
	// AWSAPI is where shoal up serves the AWS API.
	AWSAPI AWSAPI
	// Metrics is where shoal up serves the Prometheus metrics.
	Metrics Metrics
	// Dashboard is where shoal up serves the web dashboard.
	Dashboard Dashboard
	// Isolation is how shoal up keeps the instances apart.
	Isolation Isolation
	// Registry is the address of the image registry shoal up runs ("":
	// none).
	Registry string
}

// Isolation is the cluster's isolation settings.
type Isolation struct {
	// Netns puts every instance in a network namespace of its own, with
	// its security groups enforced (cluster.isolation: netns).
	Netns bool
	// Network is the range the instances' addresses come from.
	Network string
}

// AWSAPI is the AWS API endpoint's settings.
type AWSAPI struct {
	// Enabled serves it; Address is host:port to listen on.
	Enabled bool
	Address string
	// Region is the region ARNs name and signatures must carry.
	Region string
}

// Metrics is the Prometheus endpoint's settings.
type Metrics struct {
	// Address is host:port to serve GET /metrics on; "" serves none.
	Address string
}

// Dashboard is the web dashboard's settings.
type Dashboard struct {
	// Enabled serves it; Address is host:port to listen on.
	Enabled bool
	Address string
}

// PortRange is the ports Lo to Hi, both included.
type PortRange struct{ Lo, Hi int }

// Stack compiles s, which spec.Parse has validated; source is the stack
// file's bytes, recorded in the store as given.
func Stack(s *spec.Stack, source []byte) (Output, error) {
	out := Output{Stack: &agent.Stack{
		Name:            s.Name,
		File:            absFile(s),
		Source:          source,
		Instances:       s.Cluster.Instances,
		InstanceCPU:     s.Cluster.InstanceCPU,
		InstanceMemory:  s.Cluster.InstanceMemory,
		LoadBalancer:    loadBalancer(s),
		TaskDefinitions: map[string]agent.TaskDefinition{},
		Services:        map[string]agent.Service{},
	}}
	out.AWSAPI = AWSAPI{Enabled: s.AWSAPI.Enabled, Address: s.AWSAPI.Address, Region: s.AWSAPI.Region}
	out.Metrics = Metrics{Address: s.Metrics.Address}
	out.Dashboard = Dashboard{Enabled: s.Dashboard.Enabled, Address: s.Dashboard.Address}
	if r := s.Cluster.HostPortRange; r != "" {
		lo, hi, err := spec.ParsePortRange(r)
		if err != nil {
			return Output{}, fmt.Errorf("cluster.host_port_range: %w", err)
		}
		out.HostPorts = PortRange{lo, hi}
	}
	for name, td := range s.TaskDefinitions {
		out.Stack.TaskDefinitions[name] = taskDefinition(s.Dir, name, td)
	}
	sec, err := security(s)
	if err != nil {
		return Output{}, err
	}
	out.Stack.Security = sec
	out.Registry = s.Registry.Address
	out.Isolation = Isolation{Netns: s.Cluster.Isolation == spec.IsolationNetns, Network: s.Cluster.Network}
	for name, svc := range s.Services {
		out.Stack.Services[name] = service(svc)
		if svc.Deployment.Strategy != spec.StrategyRolling {
			sv := out.Stack.Services[name]
			sv.Strategy = deploymentStrategy(s.Dir, svc.Deployment)
			out.Stack.Services[name] = sv
		}
	}
	return out, nil
}

// security is the stack's security groups and what each guards.
func security(s *spec.Stack) (agent.Security, error) {
	groups, err := s.SecurityGroupList()
	if err != nil {
		return agent.Security{}, err
	}
	sec := agent.Security{Groups: groups, Instances: slices.Clone(s.Cluster.SecurityGroups)}
	for _, name := range slices.Sorted(maps.Keys(s.LoadBalancers)) {
		for _, g := range s.LoadBalancers[name].SecurityGroups {
			if !slices.Contains(sec.Balancer, g) {
				sec.Balancer = append(sec.Balancer, g)
			}
		}
	}
	for name, svc := range s.Services {
		if len(svc.SecurityGroups) > 0 {
			if sec.Services == nil {
				sec.Services = map[string][]string{}
			}
			sec.Services[name] = slices.Clone(svc.SecurityGroups)
		}
	}
	return sec, nil
}

func service(svc *spec.Service) agent.Service {
	d := svc.Deployment
	out := agent.Service{
		TaskDefinition: svc.TaskDefinition,
		Desired:        svc.Desired,
		TargetGroup:    svc.TargetGroup,
		GracePeriod:    svc.HealthCheckGracePeriod.D(),
		DependsOn:      slices.Clone(svc.DependsOn),
		Daemon:         svc.SchedulingStrategy == spec.StrategyDaemon,
		Deployment: agent.DeploymentConfig{
			MinHealthyPercent: d.MinimumHealthyPercent, MaxPercent: d.MaximumPercent,
			CircuitBreaker: d.CircuitBreaker.Enable, Rollback: d.CircuitBreaker.Rollback,
		},
	}
	for _, ps := range svc.PlacementStrategy {
		field := ps.Field
		if ps.Type == "spread" && field == "" {
			field = "instanceId"
		}
		out.Strategies = append(out.Strategies, sched.PlacementStrategy{Type: ps.Type, Field: field})
	}
	for _, pc := range svc.PlacementConstraints {
		out.Distinct = out.Distinct || pc.Type == spec.ConstraintDistinctInstance || pc.Type == "distinctInstance"
	}
	if as := svc.Autoscaling; as != nil {
		out.Autoscaling = &agent.Autoscaling{Min: as.Min, Max: as.Max, Period: as.Period.D()}
		for _, tt := range as.TargetTracking {
			out.Autoscaling.Policies = append(out.Autoscaling.Policies, agent.ScalingPolicy{
				Metric: tt.Metric, Target: tt.Target, DisableScaleIn: tt.DisableScaleIn,
				ScaleOutCooldown: tt.ScaleOutCooldown.D(), ScaleInCooldown: tt.ScaleInCooldown.D(),
			})
		}
	}
	return out
}

// deploymentStrategy compiles a blue_green, canary or linear deployment.
func deploymentStrategy(stackDir string, d spec.Deployment) *agent.Strategy {
	st := &agent.Strategy{
		Kind:                 strategy.Kind(d.Strategy),
		AlternateTargetGroup: d.AlternateTargetGroup,
		BakeTime:             d.BakeTime.D(),
		CanaryPercent:        d.Canary.Percent,
		CanaryBakeTime:       d.Canary.BakeTime.D(),
		StepPercent:          d.Linear.StepPercent,
		StepBakeTime:         d.Linear.StepBakeTime.D(),
	}
	if r := d.ProductionListenerRule; r != nil { // spec requires it; a stack built in code may not have it
		st.ProductionRule = ruleRef(*r)
	}
	if r := d.TestListenerRule; r != nil {
		test := ruleRef(*r)
		st.TestRule = &test
	}
	for _, h := range d.LifecycleHooks {
		lh := agent.LifecycleHook{Hook: hook.Hook{
			Command: slices.Clone([]string(h.Command)), URL: h.URL, Dir: stackDir, Timeout: h.Timeout.D(),
		}}
		for _, stage := range h.Stages {
			lh.Stages = append(lh.Stages, strategy.Stage(stage))
		}
		st.Hooks = append(st.Hooks, lh)
	}
	for _, a := range d.Alarms {
		alarm := agent.Alarm{Name: a.Name, Metric: a.Metric, Threshold: a.Threshold, Period: a.Period.D()}
		if a.Metric == "TargetResponseTime" {
			q, _ := strconv.ParseFloat(strings.TrimPrefix(a.Statistic, "p"), 64)
			alarm.Quantile = q / 100
		}
		st.Alarms = append(st.Alarms, alarm)
	}
	return st
}

// listenerName is a listener's name in the balancer: its load balancer's
// name and its index ("web/0").
func listenerName(lb string, i int) string { return fmt.Sprintf("%s/%d", lb, i) }

// ruleRef names a rule by its listener's compiled name.
func ruleRef(r spec.ListenerRuleRef) agent.RuleRef {
	return agent.RuleRef{Listener: listenerName(r.LoadBalancer, r.Listener), Priority: r.Priority}
}

// absFile is the stack file's absolute path, so that the record still
// points at it from any folder.
func absFile(s *spec.Stack) string {
	if s.File == "" {
		return ""
	}
	return filepath.Join(s.Dir, filepath.Base(s.File))
}

// loadBalancer is the proxy's config: every listener of every load
// balancer, load balancers in name order, named "<load balancer>/<index>".
func loadBalancer(s *spec.Stack) proxy.Config {
	cfg := proxy.Config{TargetGroups: map[string]proxy.TargetGroupConfig{}}
	for _, name := range slices.Sorted(maps.Keys(s.LoadBalancers)) {
		lb := s.LoadBalancers[name]
		for i, l := range lb.Listeners {
			lc := listener(s.Dir, listenerName(name, i), l, lb)
			lc.AccessLog = accessLog(s, name, lb.AccessLog)
			cfg.Listeners = append(cfg.Listeners, lc)
		}
	}
	for name, tg := range s.TargetGroups {
		cfg.TargetGroups[name] = targetGroup(tg)
	}
	return cfg
}

func listener(stackDir, name string, l *spec.Listener, lb *spec.LoadBalancer) proxy.ListenerConfig {
	lc := proxy.ListenerConfig{
		Name:              name,
		Address:           net.JoinHostPort(l.Address, strconv.Itoa(l.Port)),
		Protocol:          l.Protocol,
		IdleTimeout:       lb.IdleTimeout.D(),
		HeaderReadTimeout: lb.HeaderReadTimeout.D(),
		ClientKeepAlive:   lb.ClientKeepAlive.D(),
		DesyncMode:        lb.DesyncMitigationMode,
		Routes:            routing.Listener{Scheme: l.Protocol, Default: action(l.DefaultAction)},
		Headers:           headers(l.Headers),
		XFF:               lb.XFFHeaderProcessing,
		XFFClientPort:     lb.XFFClientPort,
		MaxRequestBody:    lb.MaxRequestBody,
		SecurityGroups:    slices.Clone(lb.SecurityGroups),
	}
	for _, c := range l.Certificates {
		lc.Certificates = append(lc.Certificates, proxy.Certificate{
			CertFile: workingDir(stackDir, c.Certificate), KeyFile: workingDir(stackDir, c.Key),
		})
	}
	for _, r := range l.Rules {
		lc.Routes.Rules = append(lc.Routes.Rules, routing.Rule{
			Priority: r.Priority, Conditions: conditions(r.Conditions), Action: action(r.Action),
			Transforms: transforms(r.Transforms),
		})
	}
	return lc
}

// accessLog is a load balancer's access log for each of its listeners, nil
// when off. Its id is the one the AWS API gives the load balancer in its
// ARN (package awsapi): the stack's and the load balancer's names hashed.
func accessLog(s *spec.Stack, lb string, a spec.AccessLog) *proxy.AccessLogConfig {
	if !a.Enabled {
		return nil
	}
	path := a.Path
	if path != "-" {
		path = workingDir(s.Dir, path)
	}
	sum := sha256.Sum256([]byte(s.Name + "\x00lb\x00" + lb))
	return &proxy.AccessLogConfig{Path: path, Format: a.Format, LoadBalancer: lb, ID: hex.EncodeToString(sum[:8])}
}

// conditions are a rule's conditions in the order ALB lists their types.
func conditions(c spec.Conditions) []routing.Condition {
	var out []routing.Condition
	add := func(f routing.Field, values []string) {
		if len(values) > 0 {
			out = append(out, routing.Condition{Field: f, Values: slices.Clone(values)})
		}
	}
	add(routing.HostHeader, c.HostHeader)
	add(routing.PathPattern, c.PathPattern)
	if h := c.HTTPHeader; h != nil {
		out = append(out, routing.Condition{Field: routing.HTTPHeader, HeaderName: h.Name, Values: slices.Clone(h.Values)})
	}
	add(routing.HTTPRequestMethod, c.HTTPRequestMethod)
	if len(c.QueryString) > 0 {
		q := routing.Condition{Field: routing.QueryString}
		for _, p := range c.QueryString {
			q.Query = append(q.Query, routing.KeyValue{Key: p.Key, Value: p.Value})
		}
		out = append(out, q)
	}
	if len(c.SourceIP) > 0 {
		ip := routing.Condition{Field: routing.SourceIP}
		for _, cidr := range c.SourceIP {
			ip.CIDRs = append(ip.CIDRs, netip.MustParsePrefix(cidr)) // validated
		}
		out = append(out, ip)
	}
	return out
}

// headers are a listener's header modifications, by canonical name.
func headers(h spec.ListenerHeaders) proxy.HeaderModification {
	out := proxy.HeaderModification{RemoveServer: !h.Server}
	canonical := func(m map[string]string) map[string]string {
		if len(m) == 0 {
			return nil
		}
		c := make(map[string]string, len(m))
		for k, v := range m {
			c[http.CanonicalHeaderKey(k)] = v
		}
		return c
	}
	out.Response, out.RequestRenames = canonical(h.Response), canonical(h.Rename)
	return out
}

func transforms(ts []spec.Transform) []routing.Transform {
	var out []routing.Transform
	for _, t := range ts {
		typ := routing.TransformType(strings.ReplaceAll(t.Type, "_", "-")) // host_header_rewrite → host-header-rewrite
		out = append(out, routing.Transform{Type: typ, Regex: t.Regex, Replace: t.Replace})
	}
	return out
}

// auth is an action's authentication, if any.
func auth(a spec.Action) *routing.AuthAction {
	switch {
	case a.AuthenticateOIDC != nil:
		o := a.AuthenticateOIDC
		return &routing.AuthAction{OIDC: &routing.OIDCAction{
			Issuer: o.Issuer, AuthorizationEndpoint: o.AuthorizationEndpoint, TokenEndpoint: o.TokenEndpoint,
			UserInfoEndpoint: o.UserInfoEndpoint, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Scope: o.Scope, SessionCookieName: o.SessionCookieName, SessionTimeout: o.SessionTimeout.D(),
			OnUnauthenticatedRequest: o.OnUnauthenticatedRequest, ExtraParams: maps.Clone(o.ExtraParams),
		}}
	case a.VerifyJWT != nil:
		j := a.VerifyJWT
		v := &routing.JWTAction{JWKSURL: j.JWKSEndpoint, Issuer: j.Issuer}
		for _, c := range j.AdditionalClaims {
			v.Claims = append(v.Claims, routing.ClaimCheck{
				Name: c.Name, Format: strings.ReplaceAll(c.Format, "_", "-"), Values: slices.Clone(c.Values),
			})
		}
		return &routing.AuthAction{JWT: v}
	}
	return nil
}

// action is a listener's or a rule's action for the router.
func action(a spec.Action) routing.Action {
	act := mainAction(a)
	act.Auth = auth(a)
	return act
}

// mainAction is the action's forward, redirect or fixed response.
func mainAction(a spec.Action) routing.Action {
	switch {
	case a.Forward != nil:
		f := &routing.ForwardAction{}
		if a.Forward.TargetGroup != "" {
			f.Groups = []routing.WeightedGroup{{Name: a.Forward.TargetGroup, Weight: 1}}
		}
		for _, g := range a.Forward.TargetGroups {
			f.Groups = append(f.Groups, routing.WeightedGroup{Name: g.Name, Weight: g.Weight})
		}
		if st := a.Forward.Stickiness; st != nil && st.Enabled {
			f.Stickiness = st.Duration.D()
		}
		return routing.Action{Type: routing.Forward, Forward: f}
	case a.Redirect != nil:
		r := a.Redirect
		code, _ := spec.RedirectStatus(r.StatusCode) // validated
		return routing.Action{Type: routing.Redirect, Redirect: &routing.RedirectAction{
			Protocol: r.Protocol, Host: r.Host, Port: r.Port, Path: r.Path, Query: r.Query, StatusCode: code,
		}}
	case a.FixedResponse != nil:
		f := a.FixedResponse
		return routing.Action{Type: routing.FixedResponse, Fixed: &routing.FixedResponseAction{
			StatusCode: f.StatusCode, ContentType: f.ContentType, Body: f.MessageBody,
		}}
	}
	return routing.Action{}
}

func targetGroup(tg *spec.TargetGroup) proxy.TargetGroupConfig {
	hc := tg.HealthCheck
	port := 0 // traffic-port
	if hc.Port != spec.TrafficPort {
		port, _ = strconv.Atoi(hc.Port) // validated: 1-65535
	}
	var success proxy.Matcher
	for _, r := range hc.Matcher.Ranges() {
		success = append(success, proxy.CodeRange{Lo: r[0], Hi: r[1]})
	}
	var stickiness proxy.Stickiness
	if st := tg.Stickiness; st.Enabled {
		stickiness = proxy.Stickiness{Type: st.Type, Duration: st.Duration.D(), CookieName: st.CookieName}
	}
	return proxy.TargetGroupConfig{
		Protocol:        tg.Protocol,
		ProtocolVersion: strings.ToUpper(tg.ProtocolVersion),
		Algorithm:       tg.Algorithm,
		Stickiness:      stickiness,
		SlowStart:       tg.SlowStart.D(),
		HealthCheck: proxy.HealthCheckConfig{
			Path:               hc.Path,
			Port:               port,
			Interval:           hc.Interval.D(),
			Timeout:            hc.Timeout.D(),
			HealthyThreshold:   hc.HealthyThreshold,
			UnhealthyThreshold: hc.UnhealthyThreshold,
			Success:            success,
		},
		DeregistrationDelay: tg.DeregistrationDelay.D(),
		Targets:             slices.Clone(tg.Targets),
	}
}

func taskDefinition(stackDir, name string, td *spec.TaskDefinition) agent.TaskDefinition {
	if td.IsContainer() {
		return containerTaskDefinition(stackDir, name, td)
	}
	dir := workingDir(stackDir, td.WorkingDir)
	return agent.TaskDefinition{
		Kind:     agent.KindProcess,
		Build:    td.Build.Command,
		BuildDir: dir,
		EnvRefs:  EnvRefs(td.Environment),
		CPU:      td.CPU,
		Memory:   td.Memory,
		Task: driver.TaskSpec{
			Command:       slices.Clone(td.Command),
			Dir:           dir,
			Env:           maps.Clone(td.Environment),
			ContainerPort: td.Port,
			StopTimeout:   td.StopTimeout.D(),
			HealthCheck:   healthCheck(td.HealthCheck),
		},
	}
}

// healthCheck turns ECS's forms of a container health check command into
// an argv: ["CMD-SHELL", cmd] runs cmd with /bin/sh -c, ["CMD", args...]
// runs args; a string was made /bin/sh -c by spec already.
func healthCheck(hc *spec.ContainerHealthCheck) *driver.HealthCheck {
	if hc == nil {
		return nil
	}
	argv := slices.Clone([]string(hc.Command))
	switch argv[0] {
	case "CMD-SHELL":
		argv = []string{"/bin/sh", "-c", argv[1]}
	case "CMD":
		argv = argv[1:]
	}
	return &driver.HealthCheck{
		Command: argv, Interval: hc.Interval.D(), Timeout: hc.Timeout.D(),
		StartPeriod: hc.StartPeriod.D(), Retries: hc.Retries,
	}
}

// workingDir resolves a task definition's working_dir against the stack
// file's folder.
func workingDir(stackDir, dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(stackDir, dir)
}

// EnvRefs splits the environment values that name services into text and
// references, for the agent to put together as each task starts.
func EnvRefs(env map[string]string) map[string]agent.EnvValue {
	var out map[string]agent.EnvValue
	for key, value := range env {
		phs := spec.FindPlaceholders(value)
		if len(phs) == 0 {
			continue
		}
		var v agent.EnvValue
		at := 0
		for _, ph := range phs {
			if ph.Start > at {
				v = append(v, agent.EnvPart{Text: value[at:ph.Start]})
			}
			v = append(v, agent.EnvPart{Service: ph.Service, Field: ph.Field})
			at = ph.End
		}
		if at < len(value) {
			v = append(v, agent.EnvPart{Text: value[at:]})
		}
		if out == nil {
			out = map[string]agent.EnvValue{}
		}
		out[key] = v
	}
	return out
}

// RouteProblems are what ALB would refuse in the listeners' rules beyond
// what spec checks (pattern characters, values per condition, wildcards
// per rule, redirect parts): package routing's checks, each at its place
// in the stack file. Call it on a stack that spec.Parse accepted.
func RouteProblems(s *spec.Stack) spec.ErrorList {
	var out spec.ErrorList
	for _, name := range slices.Sorted(maps.Keys(s.LoadBalancers)) {
		lb := s.LoadBalancers[name]
		for i, l := range lb.Listeners {
			path := fmt.Sprintf("load_balancers.%s.listeners[%d]", name, i)
			lc := listener(s.Dir, "", l, lb)
			_, err := routing.Compile(lc.Routes)
			for _, e := range unjoin(err) {
				var re *routing.Error
				if !errors.As(e, &re) {
					out = append(out, s.ErrorAt(path, e.Error()))
					continue
				}
				at := path + ".default_action"
				if re.Rule >= 0 {
					at = fmt.Sprintf("%s.rules[%d]", path, re.Rule) + transformPath(l.Rules[re.Rule], re.Field)
				}
				out = append(out, s.ErrorAt(at, re.Field+": "+re.Problem))
			}
		}
	}
	return out
}

// transformPath points a routing error about a rule's transform ("transform
// url-rewrite") at that transform's regex.
func transformPath(r *spec.Rule, field string) string {
	typ, ok := strings.CutPrefix(field, "transform ")
	if !ok {
		return ""
	}
	for i, t := range r.Transforms {
		if strings.ReplaceAll(t.Type, "_", "-") == typ {
			return fmt.Sprintf(".transforms[%d].regex", i)
		}
	}
	return ""
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
