package awsapi

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/shoalhq/shoal/internal/proxy"
)

// The Describe operations.

// elbMaxPageSize is ELBv2's largest PageSize (and the default).
const elbMaxPageSize = 400

// elbPage reads Marker and PageSize.
func (q *qreq) elbPage() (marker string, size int, e *Error) {
	size = elbMaxPageSize
	n, ok, e := q.integer("PageSize")
	if e != nil {
		return "", 0, e
	}
	if ok {
		if n < 1 || n > elbMaxPageSize {
			return "", 0, elbRangeError("PageSize", n, 1, elbMaxPageSize)
		}
		size = n
	}
	marker, _ = q.str("Marker")
	return marker, size, nil
}

// elbMarkerPrefix starts every decoded marker, so that a marker of
// something else is refused rather than misread.
const elbMarkerPrefix = "shoal1:"

// elbPage is the page of items (sorted by key) that starts at marker,
// each as view shows it, and the marker of the next page ("" after the
// last).
func elbPage[T, X any](items []T, key func(T) string, marker string, size int, view func(T) X) (xlist[X], string, *Error) {
	page, next, e := elbPaginate(items, key, marker, size)
	if e != nil {
		return nil, "", e
	}
	out := make(xlist[X], 0, len(page))
	for _, it := range page {
		out = append(out, view(it))
	}
	return out, next, nil
}

// elbPaginate returns the page of items (sorted by key) that starts at
// marker, and the marker of the next page ("" after the last). A marker is
// the key of the page's first item, encoded: a page stays where it was
// when items are added or removed meanwhile.
func elbPaginate[T any](items []T, key func(T) string, marker string, size int) ([]T, string, *Error) {
	slices.SortStableFunc(items, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	start := 0
	if marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(marker)
		k, ok := strings.CutPrefix(string(raw), elbMarkerPrefix)
		if err != nil || !ok {
			return nil, "", elbValidation(fmt.Sprintf("invalid Marker '%s': pass the NextMarker of the previous page", marker))
		}
		start, _ = slices.BinarySearchFunc(items, k, func(it T, k string) int { return cmp.Compare(key(it), k) })
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(elbMarkerPrefix + key(items[end])))
	}
	return items[start:end], next, nil
}

func elbLBKey(lb *lbView) string { return lb.name }

func elbListenerKey(l *lisView) string { return fmt.Sprintf("%s\x00%08d", l.lb.name, l.index) }

func elbRuleKey(r ruleRef) string {
	p := "default" // after every number
	if r.priority != 0 {
		p = fmt.Sprintf("%05d", r.priority)
	}
	return elbListenerKey(r.l) + "\x01" + p
}

type describeLoadBalancersResult struct {
	LoadBalancers xlist[xLoadBalancer]
	NextMarker    string `xml:",omitempty"`
}

func (a *api) elbDescribeLoadBalancers(ctx context.Context, q *qreq) (any, *Error) {
	arns, _ := q.strs("LoadBalancerArns")
	names, _ := q.strs("Names")
	marker, size, e := q.elbPage()
	if e != nil {
		return nil, e
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	lbs := v.lbs
	switch {
	case len(arns) > 0 && len(names) > 0:
		return nil, elbValidation("load balancer ARNs and names cannot be given together: give LoadBalancerArns or Names")
	case len(arns) > 0:
		var e *Error
		if lbs, e = lookupAll(arns, v.loadBalancer); e != nil {
			return nil, e
		}
	case len(names) > 0:
		lbs = nil
		var unknown []string
		for _, name := range names {
			i := slices.IndexFunc(v.lbs, func(lb *lbView) bool { return lb.name == name })
			switch {
			case i < 0:
				unknown = append(unknown, name)
			case !slices.Contains(lbs, v.lbs[i]):
				lbs = append(lbs, v.lbs[i])
			}
		}
		if len(unknown) > 0 {
			var have []string
			for _, lb := range v.lbs {
				have = append(have, lb.name)
			}
			return nil, clientError("LoadBalancerNotFound", fmt.Sprintf("Load balancers '[%s]' not found; stack %s's load balancers are [%s]",
				strings.Join(unknown, ", "), v.n.cluster, strings.Join(have, ", ")))
		}
	}
	page, next, e := elbPage(slices.Clone(lbs), elbLBKey, marker, size, v.xLoadBalancer)
	if e != nil {
		return nil, e
	}
	return describeLoadBalancersResult{LoadBalancers: page, NextMarker: next}, nil
}

type describeListenersResult struct {
	Listeners  xlist[xListener]
	NextMarker string `xml:",omitempty"`
}

func (a *api) elbDescribeListeners(ctx context.Context, q *qreq) (any, *Error) {
	lbARN, hasLB := q.str("LoadBalancerArn")
	arns, _ := q.strs("ListenerArns")
	marker, size, e := q.elbPage()
	if e != nil {
		return nil, e
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	var ls []*lisView
	switch {
	case hasLB && len(arns) > 0:
		return nil, elbValidation("give LoadBalancerArn or ListenerArns, not both")
	case hasLB:
		lb, e := v.loadBalancer(lbARN)
		if e != nil {
			return nil, e
		}
		ls = slices.Clone(lb.listeners)
	case len(arns) > 0:
		var e *Error
		if ls, e = lookupAll(arns, v.listener); e != nil {
			return nil, e
		}
	default:
		return nil, elbValidation("you must specify either listener ARNs or a load balancer ARN")
	}
	page, next, e := elbPage(ls, elbListenerKey, marker, size, v.xListener)
	if e != nil {
		return nil, e
	}
	return describeListenersResult{Listeners: page, NextMarker: next}, nil
}

type describeListenerCertificatesResult struct {
	Certificates xlist[xCertificate]
	NextMarker   string `xml:",omitempty"`
}

func (a *api) elbDescribeListenerCertificates(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("ListenerArn")
	if e != nil {
		return nil, e
	}
	marker, size, e := q.elbPage()
	if e != nil {
		return nil, e
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	l, e := v.listener(arn)
	if e != nil {
		return nil, e
	}
	type cert struct {
		i   int
		arn string
	}
	var certs []cert
	if l.cfg.Protocol == "https" {
		for i, c := range l.cfg.Certificates {
			certs = append(certs, cert{i, v.n.certificateARN(c.CertFile)})
		}
	}
	page, next, e := elbPage(certs, func(c cert) string { return fmt.Sprintf("%04d", c.i) }, marker, size, func(c cert) xCertificate {
		isDefault := c.i == 0
		return xCertificate{CertificateArn: c.arn, IsDefault: &isDefault}
	})
	if e != nil {
		return nil, e
	}
	return describeListenerCertificatesResult{Certificates: page, NextMarker: next}, nil
}

type describeRulesResult struct {
	Rules      xlist[xRule]
	NextMarker string `xml:",omitempty"`
}

func (a *api) elbDescribeRules(ctx context.Context, q *qreq) (any, *Error) {
	lisARN, hasListener := q.str("ListenerArn")
	arns, _ := q.strs("RuleArns")
	marker, size, e := q.elbPage()
	if e != nil {
		return nil, e
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	var refs []ruleRef
	switch {
	case hasListener && len(arns) > 0:
		return nil, elbValidation("give ListenerArn or RuleArns, not both")
	case hasListener:
		l, e := v.listener(lisARN)
		if e != nil {
			return nil, e
		}
		refs = append(refs, ruleRef{l, 0})
		for _, r := range l.cfg.Routes.Rules {
			refs = append(refs, ruleRef{l, r.Priority})
		}
	case len(arns) > 0:
		var e *Error
		if refs, e = lookupAll(arns, v.rule); e != nil {
			return nil, e
		}
	default:
		return nil, elbValidation("you must specify either a listener ARN or rule ARNs")
	}
	page, next, e := elbPage(refs, elbRuleKey, marker, size, v.xRuleOf)
	if e != nil {
		return nil, e
	}
	return describeRulesResult{Rules: page, NextMarker: next}, nil
}

type describeTargetGroupsResult struct {
	TargetGroups xlist[xTargetGroup]
	NextMarker   string `xml:",omitempty"`
}

func (a *api) elbDescribeTargetGroups(ctx context.Context, q *qreq) (any, *Error) {
	lbARN, hasLB := q.str("LoadBalancerArn")
	arns, _ := q.strs("TargetGroupArns")
	names, _ := q.strs("Names")
	marker, size, e := q.elbPage()
	if e != nil {
		return nil, e
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	given := 0
	for _, g := range []bool{hasLB, len(arns) > 0, len(names) > 0} {
		if g {
			given++
		}
	}
	if given > 1 {
		return nil, elbValidation("give one of LoadBalancerArn, TargetGroupArns and Names")
	}
	tgs := slices.Clone(v.tgs)
	switch {
	case hasLB:
		lb, e := v.loadBalancer(lbARN)
		if e != nil {
			return nil, e
		}
		tgs = nil
		for _, name := range v.tgs {
			if slices.Contains(v.tgLBs[name], lb) {
				tgs = append(tgs, name)
			}
		}
	case len(arns) > 0:
		var e *Error
		if tgs, e = lookupAll(arns, v.targetGroup); e != nil {
			return nil, e
		}
	case len(names) > 0:
		tgs = nil
		var unknown []string
		for _, name := range names {
			switch _, ok := v.cfg.TargetGroups[name]; {
			case !ok:
				unknown = append(unknown, name)
			case !slices.Contains(tgs, name):
				tgs = append(tgs, name)
			}
		}
		if len(unknown) > 0 {
			return nil, clientError("TargetGroupNotFound", fmt.Sprintf("One or more target groups not found: [%s]; stack %s's target groups are [%s]",
				strings.Join(unknown, ", "), v.n.cluster, strings.Join(v.tgs, ", ")))
		}
	}
	page, next, e := elbPage(tgs, func(s string) string { return s }, marker, size, v.xTargetGroup)
	if e != nil {
		return nil, e
	}
	return describeTargetGroupsResult{TargetGroups: page, NextMarker: next}, nil
}

type elbAttributesResult struct {
	Attributes xlist[xAttribute]
}

func (a *api) elbDescribeTargetGroupAttributes(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("TargetGroupArn")
	if e != nil {
		return nil, e
	}
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	name, e := v.targetGroup(arn)
	if e != nil {
		return nil, e
	}
	return elbAttributesResult{Attributes: xlist[xAttribute](elbTGAttributes(v.cfg.TargetGroups[name]))}, nil
}

type describeTargetHealthResult struct {
	TargetHealthDescriptions xlist[xTargetHealthDescription]
}

// elbTarget is a target as the API names it: an IP address (or, for a
// static target given by name, the name) and a port.
type elbTarget struct {
	id   string
	port int
}

func (t elbTarget) addr() string { return net.JoinHostPort(t.id, strconv.Itoa(t.port)) }

// elbTargetOf splits a target's host:port.
func elbTargetOf(addr string) elbTarget {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return elbTarget{id: addr}
	}
	p, _ := strconv.Atoi(port)
	return elbTarget{id: host, port: p}
}

// elbSameID compares two targets' ids, as addresses when both are.
func elbSameID(a, b string) bool {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	if errX == nil && errY == nil {
		return x.Unmap() == y.Unmap()
	}
	return a == b
}

func (t elbTarget) is(o elbTarget) bool { return t.port == o.port && elbSameID(t.id, o.id) }

// elbTargetsFrom reads RegisterTargets', DeregisterTargets' and
// DescribeTargetHealth's Targets; port is required unless portOptional.
func elbTargetsFrom(items []*qnode, portOptional bool) ([]elbTarget, *Error) {
	var out []elbTarget
	for _, n := range items {
		at := n.prefix()
		id, _ := n.str("Id")
		if id == "" {
			return nil, elbValidation(at + ".Id is required: the target's IP address")
		}
		port, hasPort, e := n.integer("Port")
		if e != nil {
			return nil, e
		}
		switch {
		case !hasPort && !portOptional:
			return nil, elbValidation(at + ".Port is required: shoal's target groups have no port of their own to default to (the one DescribeTargetGroups shows is the listener's)")
		case hasPort && (port < 1 || port > 65535):
			return nil, elbRangeError(at+".Port", port, 1, 65535)
		}
		// An IP target outside the VPC takes AvailabilityZone "all" on
		// ALB; shoal has one zone, and takes any.
		n.ignore("AvailabilityZone")
		out = append(out, elbTarget{id: id, port: port})
	}
	return out, nil
}

func (a *api) elbDescribeTargetHealth(ctx context.Context, q *qreq) (any, *Error) {
	arn, e := q.required("TargetGroupArn")
	if e != nil {
		return nil, e
	}
	items, _ := q.list("Targets")
	filter, e := elbTargetsFrom(items, true)
	if e != nil {
		return nil, e
	}
	// Include asks for anomaly detection, which shoal does not do: there
	// is none to show.
	q.ignore("Include")
	if e := q.finish(); e != nil {
		return nil, e
	}
	v := a.elbView()
	name, e := v.targetGroup(arn)
	if e != nil {
		return nil, e
	}
	tg := v.cfg.TargetGroups[name]
	var healths []proxy.TargetHealth
	for _, h := range a.b.Targets() {
		if h.Group == name {
			healths = append(healths, h)
		}
	}
	slices.SortFunc(healths, func(x, y proxy.TargetHealth) int {
		tx, ty := elbTargetOf(x.Target), elbTargetOf(y.Target)
		return cmp.Or(elbCompareIDs(tx.id, ty.id), tx.port-ty.port)
	})
	describe := func(t elbTarget, h proxy.TargetHealth) xTargetHealthDescription {
		hc := ""
		switch {
		case tg.HealthCheck.Port != 0:
			hc = strconv.Itoa(tg.HealthCheck.Port)
		case t.port != 0:
			hc = strconv.Itoa(t.port)
		}
		return xTargetHealthDescription{
			Target:          xTarget{Id: t.id, Port: t.port},
			HealthCheckPort: hc,
			TargetHealth:    xTargetHealth{State: string(h.State), Reason: string(h.Reason), Description: h.Description},
		}
	}
	res := describeTargetHealthResult{TargetHealthDescriptions: xlist[xTargetHealthDescription]{}}
	if len(filter) == 0 {
		for _, h := range healths {
			res.TargetHealthDescriptions = append(res.TargetHealthDescriptions, describe(elbTargetOf(h.Target), h))
		}
		return res, nil
	}
	for _, f := range filter {
		found := false
		for _, h := range healths {
			t := elbTargetOf(h.Target)
			if elbSameID(t.id, f.id) && (f.port == 0 || t.port == f.port) {
				res.TargetHealthDescriptions = append(res.TargetHealthDescriptions, describe(t, h))
				found = true
			}
		}
		if !found {
			// As ALB reports a target that is not registered.
			res.TargetHealthDescriptions = append(res.TargetHealthDescriptions, describe(f, proxy.TargetHealth{
				State: proxy.StateUnused, Reason: proxy.ReasonNotRegistered, Description: "Target is not registered to the target group",
			}))
		}
	}
	return res, nil
}

// elbCompareIDs orders target ids as addresses when both are.
func elbCompareIDs(a, b string) int {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	if errX == nil && errY == nil {
		return x.Compare(y)
	}
	return cmp.Compare(a, b)
}

// lookupAll finds the resource each ARN names, each once, in the order
// given: the first unknown ARN is the error.
func lookupAll[T comparable](arns []string, find func(string) (T, *Error)) ([]T, *Error) {
	var out []T
	for _, arn := range arns {
		x, e := find(arn)
		if e != nil {
			return nil, e
		}
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out, nil
}
