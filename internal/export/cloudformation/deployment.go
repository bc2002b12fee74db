package cloudformation

import (
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/spec"
)

// The infrastructure role ECS moves load balancer traffic with in
// blue/green, canary and linear deployments, and the priority of the rule
// the template adds when a deployment re-weights a listener's default
// action.
const (
	idInfrastructureRole = "EcsInfrastructureRole"
	infrastructurePolicy = "arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
	catchAllPriority     = 50000
)

// deployment maps a service's blue/green, canary or linear deployment to
// ECS's own (DeploymentConfiguration.Strategy and the load balancer's
// AdvancedConfiguration), and says what does not carry over. It returns
// the resources the service must wait for.
func (b *builder) deployment(path string, svc *spec.Service, out *Service) []string {
	d := svc.Deployment
	if len(d.LifecycleHooks) > 0 {
		b.w.Add(path+".lifecycle_hooks", "not carried over: ECS's lifecycle hooks are Lambda functions (DeploymentConfiguration.LifecycleHooks), not commands or URLs")
	}
	if len(d.Alarms) > 0 {
		b.w.Add(path+".alarms", "not carried over: ECS's deployment alarms are CloudWatch alarms, created by hand and named in DeploymentConfiguration.Alarms")
	}
	if d.Strategy == "" || d.Strategy == spec.StrategyRolling {
		return nil
	}
	if len(out.LoadBalancers) == 0 || d.ProductionListenerRule == nil {
		b.w.Add(path+".strategy", "not carried over: the service has no target group behind a listener rule, so the template deploys with ECS's rolling update")
		return nil
	}
	prod, ok := b.ruleFor(path+".production_listener_rule", *d.ProductionListenerRule)
	if !ok {
		return nil
	}
	deps := []string{prod}
	adv := &AdvancedConfig{
		AlternateTargetGroupArn: ref(b.targetGroups[d.AlternateTargetGroup]),
		ProductionListenerRule:  ref(prod),
		RoleArn:                 getAtt(b.infrastructureRole(), "Arn"),
	}
	if d.TestListenerRule != nil {
		if test, ok := b.ruleFor(path+".test_listener_rule", *d.TestListenerRule); ok {
			adv.TestListenerRule = ref(test)
			deps = append(deps, test)
		}
	}
	out.LoadBalancers[0].AdvancedConfiguration = adv
	cfg := &out.DeploymentConfiguration
	cfg.Strategy = strings.ToUpper(d.Strategy)
	cfg.BakeTimeInMinutes = intp(b.minutes(path+".bake_time", d.BakeTime))
	switch d.Strategy {
	case "canary":
		cfg.CanaryConfiguration = &CanaryConfig{CanaryPercent: d.Canary.Percent, CanaryBakeTimeInMinutes: b.minutes(path+".canary.bake_time", d.Canary.BakeTime)}
	case "linear":
		cfg.LinearConfiguration = &LinearConfig{StepPercent: d.Linear.StepPercent, StepBakeTimeInMinutes: b.minutes(path+".linear.step_bake_time", d.Linear.StepBakeTime)}
	}
	return append(deps, b.tgUsers[d.AlternateTargetGroup]...)
}

// ruleFor returns the logical ID of the listener rule ref names. ALB's
// default action has no rule ECS can name, so for priority 0 the template
// adds a rule of the lowest precedence that matches every request and does
// what the default action does.
func (b *builder) ruleFor(path string, r spec.ListenerRuleRef) (string, bool) {
	ids := b.listeners[r.LoadBalancer]
	if r.Listener < 0 || r.Listener >= len(ids) {
		b.w.Add(path, "not carried over: no such listener")
		return "", false
	}
	listener := ids[r.Listener]
	if r.Priority != 0 {
		return b.ruleID(listener, r.Priority), true
	}
	id := listener + "CatchAllRule"
	if _, done := b.t.Resources[id]; !done {
		l := b.t.Resources[listener].Properties.(*Listener)
		b.used[id] = true
		b.resource(id, "AWS::ElasticLoadBalancingV2::ListenerRule", &ListenerRule{
			ListenerArn: ref(listener), Priority: b.freePriority(r.LoadBalancer, r.Listener),
			Conditions: []Condition{{Field: "path-pattern", PathPatternConfig: &ValuesConfig{[]string{"*"}}}},
			Actions:    l.DefaultActions,
		})
	}
	b.w.Add(path, "approximate: ECS re-weights a listener rule, not a default action: the template adds %s, matching every request after the listener's rules and doing what its default action does", id)
	return id, true
}

// freePriority is the largest rule priority a listener leaves free.
func (b *builder) freePriority(lb string, listener int) int {
	taken := map[int]bool{}
	for _, r := range b.s.LoadBalancers[lb].Listeners[listener].Rules {
		taken[r.Priority] = true
	}
	p := catchAllPriority
	for taken[p] {
		p--
	}
	return p
}

// infrastructureRole adds, once, the role ECS shifts traffic with.
func (b *builder) infrastructureRole() string {
	if _, done := b.t.Resources[idInfrastructureRole]; !done {
		b.resource(idInfrastructureRole, "AWS::IAM::Role", &Role{
			AssumeRolePolicyDocument: assumeRole("ecs.amazonaws.com"),
			ManagedPolicyArns:        []any{sub(infrastructurePolicy)},
		})
	}
	return idInfrastructureRole
}

// minutes turns a duration into the whole minutes ECS takes, a change a
// warning at path.
func (b *builder) minutes(path string, d spec.Duration) int {
	n := int(d.D().Round(time.Minute) / time.Minute)
	if d.D()%time.Minute != 0 {
		b.w.Add(path, "approximate: ECS counts whole minutes: the template has %d for %s", n, d)
	}
	return n
}
