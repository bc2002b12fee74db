package awsapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// arns makes the ARNs of one stack's resources, in AWS's formats, with
// AccountID and the endpoint's region. Resource ids that AWS generates
// (load balancers', target groups', listeners', rules') are derived from
// the stack's and the resource's names, so that an ARN stays the same
// across restarts and a script may keep it.
type arns struct {
	region  string
	cluster string // the stack's name: its one cluster and load balancers' namespace
}

func (a *api) arns() arns { return arns{region: a.cfg.Region, cluster: a.b.Status().Stack} }

func (n arns) prefix(service string) string {
	return "arn:aws:" + service + ":" + n.region + ":" + AccountID + ":"
}

// id is a 16-hex-digit resource id, stable for the stack and the parts.
func (n arns) id(parts ...string) string {
	sum := sha256.Sum256([]byte(n.cluster + "\x00" + strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// ECS resources.

func (n arns) clusterARN() string { return n.prefix("ecs") + "cluster/" + n.cluster }
func (n arns) serviceARN(name string) string {
	return n.prefix("ecs") + "service/" + n.cluster + "/" + name
}
func (n arns) taskARN(id string) string { return n.prefix("ecs") + "task/" + n.cluster + "/" + id }
func (n arns) taskDefinitionARN(family string, number int) string {
	return fmt.Sprintf("%stask-definition/%s:%d", n.prefix("ecs"), family, number)
}
func (n arns) containerInstanceARN(name string) string {
	return n.prefix("ecs") + "container-instance/" + n.cluster + "/" + name
}

// ELBv2 resources. lb is a load balancer's name in the stack.

func (n arns) loadBalancerARN(lb string) string {
	return n.prefix("elasticloadbalancing") + "loadbalancer/app/" + lb + "/" + n.id("lb", lb)
}
func (n arns) targetGroupARN(name string) string {
	return n.prefix("elasticloadbalancing") + "targetgroup/" + name + "/" + n.id("tg", name)
}

// listenerARN names a load balancer's listener by its index in the
// stack's list.
func (n arns) listenerARN(lb string, listener int) string {
	return fmt.Sprintf("%slistener/app/%s/%s/%s", n.prefix("elasticloadbalancing"), lb, n.id("lb", lb), n.id("listener", lb, fmt.Sprint(listener)))
}

// ruleARN names a listener's rule by its priority; the default rule is
// priority 0.
func (n arns) ruleARN(lb string, listener, priority int) string {
	return fmt.Sprintf("%slistener-rule/app/%s/%s/%s/%s", n.prefix("elasticloadbalancing"), lb, n.id("lb", lb),
		n.id("listener", lb, fmt.Sprint(listener)), n.id("rule", lb, fmt.Sprint(listener), fmt.Sprint(priority)))
}
