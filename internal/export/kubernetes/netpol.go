package kubernetes

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shoalhq/shoal/internal/secgroup"
	"github.com/shoalhq/shoal/internal/spec"
)

// The ingress controller a load balancer's group stands for: ingress-nginx
// as it installs itself.
const (
	controllerNamespace = "ingress-nginx"
	controllerName      = "ingress-nginx"
)

// networkPolicies writes a NetworkPolicy per security group that guards
// tasks (the cluster's, or a service's): it selects the pods the group
// guards and admits what the group's rules admit. Policies add up, as
// groups guarding the same thing do on AWS; egress stays open.
func (x *exporter) networkPolicies() {
	guarded := map[string][]string{} // group → services whose tasks it guards; nil for all
	all := map[string]bool{}
	for _, g := range x.s.Cluster.SecurityGroups {
		all[g] = true
		guarded[g] = nil
	}
	if len(x.s.Cluster.SecurityGroups) > 0 && x.s.Cluster.Isolation == spec.IsolationNone {
		x.w.Add("cluster.security_groups", "enforced here only with cluster.isolation: netns; on Kubernetes its NetworkPolicy is enforced wherever the network plugin enforces NetworkPolicies")
	}
	for _, name := range sortedKeys(x.s.Services) {
		for _, g := range x.s.Services[name].SecurityGroups {
			if !all[g] {
				guarded[g] = append(guarded[g], x.pods[name].name)
			}
		}
	}
	for _, g := range sortedKeys(guarded) {
		x.networkPolicy(g, all[g], guarded[g])
	}
}

func (x *exporter) networkPolicy(g string, all bool, svcs []string) {
	k := x.kname("security_groups."+g, g)
	sel := metav1.LabelSelector{MatchLabels: map[string]string{labelPartOf: x.s.Name}}
	if !all {
		slices.Sort(svcs)
		sel.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: labelName, Operator: metav1.LabelSelectorOpIn, Values: svcs}}
	}
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: k, Labels: x.labels(k)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: sel,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{},
		},
	}
	for i, r := range x.s.SecurityGroups[g].Ingress {
		if rule, ok := x.policyRule(fmt.Sprintf("security_groups.%s.ingress[%d]", g, i), r); ok {
			np.Spec.Ingress = append(np.Spec.Ingress, rule)
		}
	}
	if len(np.Spec.Ingress) == 0 {
		x.w.Add("security_groups."+g, "admits nothing that a NetworkPolicy can say: its policy lets no connection in")
	}
	x.add(orderNetworkPolicy, k, np)
}

// policyRule is one ingress rule of a group as a NetworkPolicy's.
func (x *exporter) policyRule(p string, r *spec.IngressRule) (networkingv1.NetworkPolicyIngressRule, bool) {
	var out networkingv1.NetworkPolicyIngressRule
	rule, err := r.Rule()
	if err != nil {
		return out, false
	}
	switch rule.Protocol {
	case secgroup.ICMP:
		x.w.Add(p, "not carried over: a NetworkPolicy cannot admit ICMP (ping); whether the network plugin lets it through is its own")
		return out, false
	case secgroup.TCP, secgroup.UDP:
		proto := corev1.ProtocolTCP
		if rule.Protocol == secgroup.UDP {
			proto = corev1.ProtocolUDP
		}
		np := networkingv1.NetworkPolicyPort{Protocol: &proto}
		if rule.Ports != secgroup.AllPorts {
			port := intstr.FromInt32(int32(rule.Ports.From))
			np.Port = &port
			if rule.Ports.To != rule.Ports.From {
				np.EndPort = ptr(int32(rule.Ports.To))
			}
			x.w.Add(p+".port", "the pods' container ports, where shoal's tasks take traffic on dynamic host ports: a port rule admits connections to that container port")
		}
		out.Ports = []networkingv1.NetworkPolicyPort{np}
	}
	if r.CIDR != "" {
		out.From = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: r.CIDR}}}
		x.w.Add(p+".cidr", "becomes an ipBlock, which matches the address a connection comes from as the pod sees it: through a Service or an Ingress that is often a node's or the controller's (source NAT), not the client's")
		return out, true
	}
	out.From = x.members(p+".source_group", r.SourceGroup)
	return out, len(out.From) > 0
}

// members are the peers a source group stands for: the ingress controller
// for a load balancer's group (and, as shoal's endpoints of
// ${services.NAME.address} dial from the load balancer's address, the pods
// of the services that name others), every pod of the stack for the
// cluster's or a service's group.
func (x *exporter) members(p, g string) []networkingv1.NetworkPolicyPeer {
	var peers []networkingv1.NetworkPolicyPeer
	lb := false
	for _, name := range sortedKeys(x.s.LoadBalancers) {
		lb = lb || slices.Contains(x.s.LoadBalancers[name].SecurityGroups, g)
	}
	if lb {
		if x.alb {
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}})
			x.w.Add(p, "the load balancer's group: an ALB reaches the pods (target-type ip) from its subnets' addresses, which the stack does not know: exported as ipBlock 0.0.0.0/0; narrow it to the VPC's CIDR")
		} else {
			peers = append(peers, networkingv1.NetworkPolicyPeer{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": controllerNamespace}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{labelName: controllerName}},
			})
			x.w.Add(p, "the load balancer's group becomes the ingress controller's pods, as ingress-nginx labels them (namespace %s, %s=%s): change the selectors for another controller", controllerNamespace, labelName, controllerName)
		}
		if deps := x.dependents(); len(deps) > 0 {
			peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{labelPartOf: x.s.Name},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: labelName, Operator: metav1.LabelSelectorOpIn, Values: deps}},
			}})
			x.w.Add(p, "admits the pods of %v too: shoal's endpoints of ${services.NAME.address} dial from the load balancer's address, Kubernetes pods connect to each other directly", deps)
		}
	}
	member := slices.Contains(x.s.Cluster.SecurityGroups, g)
	for _, sv := range x.s.Services {
		member = member || slices.Contains(sv.SecurityGroups, g)
	}
	if member {
		peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labelPartOf: x.s.Name}}})
	}
	if len(peers) == 0 {
		x.w.Add(p, "group %s has no members, so the rule admits nothing", g)
	}
	return peers
}

// dependents are the Kubernetes names of the services whose environment
// names another service, sorted.
func (x *exporter) dependents() []string {
	var out []string
	for _, name := range sortedKeys(x.s.Services) {
		wl := x.pods[name]
		uses := false
		for _, v := range wl.td.Environment {
			uses = uses || len(spec.FindPlaceholders(v)) > 0
		}
		for _, c := range wl.td.Containers {
			for _, v := range c.Environment {
				uses = uses || len(spec.FindPlaceholders(v)) > 0
			}
		}
		if uses {
			out = append(out, wl.name)
		}
	}
	return out
}
