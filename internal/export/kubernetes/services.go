package kubernetes

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shoalhq/shoal/internal/spec"
)

// albPrefix starts the AWS Load Balancer Controller's annotations.
const albPrefix = "alb.ingress.kubernetes.io/"

// services writes a Service per target group (selecting the pods of the
// services registered in it) and one per service without a target group
// (a backing service, which others reach by its name).
func (x *exporter) services() {
	for _, name := range sortedKeys(x.s.TargetGroups) {
		x.tgService(name, x.s.TargetGroups[name])
	}
	for _, name := range sortedKeys(x.s.Services) {
		wl := x.pods[name]
		if wl.svc.TargetGroup != "" || wl.port == 0 {
			continue
		}
		x.add(orderService, wl.name, &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: wl.name, Labels: x.labels(wl.name)},
			Spec: corev1.ServiceSpec{
				Selector: x.selector(wl.name),
				Ports:    []corev1.ServicePort{{Name: portName, Port: int32(wl.port), TargetPort: intstr.FromString(portName), Protocol: corev1.ProtocolTCP}},
			},
		})
	}
}

// checkNames refuses a service without a target group whose Service
// would take a target group's Service's name.
func (x *exporter) checkNames() spec.ErrorList {
	var errs spec.ErrorList
	for _, name := range sortedKeys(x.s.Services) {
		sv := x.s.Services[name]
		if sv.TargetGroup != "" {
			continue
		}
		for tg := range x.s.TargetGroups {
			if dnsLabel(tg) == dnsLabel(name) {
				errs = append(errs, x.s.ErrorAt("services."+name, fmt.Sprintf(
					"its Service would be named %s, as target group %s's: rename the service or the target group", dnsLabel(name), tg)))
			}
		}
	}
	return errs
}

// tgService is the Service of one target group.
func (x *exporter) tgService(name string, tg *spec.TargetGroup) {
	k := x.kname("target_groups."+name, name)
	p := "target_groups." + name
	port := corev1.ServicePort{
		Name: "http", Port: int32(x.tgPort(name)), TargetPort: intstr.FromString(portName),
		Protocol: corev1.ProtocolTCP, AppProtocol: ptr("http"),
	}
	if tg.Protocol == "https" {
		port.Name, port.AppProtocol = "https", ptr("https")
	}
	if tg.ProtocolVersion != spec.DefaultProtocolVersion && tg.Protocol == "http" {
		port.AppProtocol = ptr("kubernetes.io/h2c")
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: k, Labels: x.labels(k)},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{labelTargetGroup: k, labelPartOf: x.s.Name},
			Ports:    []corev1.ServicePort{port},
		},
	}
	x.staticTargets(p, k, port.Name, tg)
	if x.alb {
		svc.Annotations = x.albTargetGroup(p, tg)
	} else {
		x.tgWarnings(p, tg)
	}
	x.add(orderService, k, svc)
}

// tgWarnings are the target group's ALB settings an Ingress does not take.
func (x *exporter) tgWarnings(p string, tg *spec.TargetGroup) {
	const why = "with --ingress-class alb it becomes the target group's attribute"
	if tg.Algorithm != spec.DefaultAlgorithm {
		x.w.Add(p+".algorithm", "not carried over: the Ingress controller picks pods its own way (round robin for most); %s", why)
	}
	if tg.SlowStart > 0 {
		x.w.Add(p+".slow_start", "not carried over: ALB-only; %s", why)
	}
	if tg.Stickiness.Enabled {
		x.w.Add(p+".stickiness", "not carried over: ALB-only (ingress controllers have their own cookie affinity annotations); %s", why)
	}
	if tg.Protocol == "https" {
		x.w.Add(p+".protocol", "https: the Service port says appProtocol https, but TLS to the pods is the controller's own setting (ingress-nginx: the backend-protocol annotation); with --ingress-class alb it becomes backend-protocol")
	}
	if tg.ProtocolVersion != spec.DefaultProtocolVersion {
		x.w.Add(p+".protocol_version", "%s: whether the controller speaks HTTP/2 to the pods is its own setting (the Service port says appProtocol kubernetes.io/h2c over http); %s", tg.ProtocolVersion, "with --ingress-class alb it becomes backend-protocol-version")
	}
}

// albTargetGroup is the target group as the AWS Load Balancer Controller's
// annotations on its Service: the health check and the attributes.
func (x *exporter) albTargetGroup(p string, tg *spec.TargetGroup) map[string]string {
	hc := tg.HealthCheck
	interval := x.albSeconds(p+".health_check.interval", "interval", hc.Interval.D(), 5, 300)
	timeout := x.albSeconds(p+".health_check.timeout", "timeout", hc.Timeout.D(), 2, 120)
	if timeout >= interval {
		timeout = interval - 1
	}
	a := map[string]string{
		albPrefix + "healthcheck-path":             hc.Path,
		albPrefix + "healthcheck-port":             hc.Port,
		albPrefix + "healthcheck-protocol":         strings.ToUpper(tg.Protocol),
		albPrefix + "healthcheck-interval-seconds": strconv.Itoa(interval),
		albPrefix + "healthcheck-timeout-seconds":  strconv.Itoa(timeout),
		albPrefix + "healthy-threshold-count":      strconv.Itoa(hc.HealthyThreshold),
		albPrefix + "unhealthy-threshold-count":    strconv.Itoa(hc.UnhealthyThreshold),
		albPrefix + "success-codes":                hc.Matcher.String(),
		albPrefix + "backend-protocol":             strings.ToUpper(tg.Protocol),
		albPrefix + "backend-protocol-version":     tg.ProtocolVersion,
	}
	attrs := []string{
		"deregistration_delay.timeout_seconds=" + strconv.Itoa(int(tg.DeregistrationDelay.D()/time.Second)),
		"load_balancing.algorithm.type=" + tg.Algorithm,
	}
	if tg.SlowStart > 0 {
		attrs = append(attrs, "slow_start.duration_seconds="+strconv.Itoa(int(tg.SlowStart.D()/time.Second)))
	}
	if st := tg.Stickiness; st.Enabled {
		attrs = append(attrs, "stickiness.enabled=true", "stickiness.type="+st.Type)
		if st.Type == "app_cookie" {
			attrs = append(attrs, "stickiness.app_cookie.cookie_name="+st.CookieName,
				"stickiness.app_cookie.duration_seconds="+strconv.Itoa(int(st.Duration.D()/time.Second)))
		} else {
			attrs = append(attrs, "stickiness.lb_cookie.duration_seconds="+strconv.Itoa(int(st.Duration.D()/time.Second)))
		}
	}
	a[albPrefix+"target-group-attributes"] = strings.Join(attrs, ",")
	return a
}

// albSeconds is a health check duration within ALB's range, in whole
// seconds, with a warning when the stack's is outside it (shoal allows
// shorter ones for local work).
func (x *exporter) albSeconds(p, what string, d time.Duration, lo, hi int) int {
	s := int((d + time.Second - 1) / time.Second)
	switch {
	case s < lo:
		x.w.Add(p, "%s %s is below ALB's least, %d s: exported as %d s", what, d, lo, lo)
		return lo
	case s > hi:
		x.w.Add(p, "%s %s is above ALB's most, %d s: exported as %d s", what, d, hi, hi)
		return hi
	case time.Duration(s)*time.Second != d:
		x.w.Add(p, "becomes %d s: ALB counts whole seconds", s)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// staticTargets writes the target group's static targets as EndpointSlices
// of its Service, one per address family and port, beside the slices of
// the pods it selects.
func (x *exporter) staticTargets(p, svc, portName string, tg *spec.TargetGroup) {
	type key struct {
		v6   bool
		port int
	}
	slices := map[key][]string{}
	var keys []key
	for i, t := range tg.Targets {
		tp := fmt.Sprintf("%s.targets[%d]", p, i)
		host, portText, _ := net.SplitHostPort(t)
		port, _ := strconv.Atoi(portText)
		ip, err := netip.ParseAddr(host)
		switch {
		case err != nil:
			x.w.Add(tp, "not carried over: an EndpointSlice takes IP addresses, not %s (give that server an ExternalName Service of its own)", host)
			continue
		case ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast():
			x.w.Add(tp, "not carried over: %s is an address of this machine", host)
			continue
		}
		k := key{ip.Is6(), port}
		if _, ok := slices[k]; !ok {
			keys = append(keys, k)
		}
		slices[k] = append(slices[k], ip.String())
		x.w.Add(tp, "becomes an endpoint of the target group's Service, which nothing health checks (ALB checks IP targets)")
		if ip.Is6() {
			x.w.Add(tp, "an IPv6 endpoint serves only an IPv6 or dual-stack Service (spec.ipFamilies)")
		}
	}
	for _, k := range keys {
		family, addrType := "ipv4", discoveryv1.AddressTypeIPv4
		if k.v6 {
			family, addrType = "ipv6", discoveryv1.AddressTypeIPv6
		}
		name := fmt.Sprintf("%s-%s-%d", svc, family, k.port)
		labels := x.labels(svc)
		labels[discoveryv1.LabelServiceName] = svc
		labels[discoveryv1.LabelManagedBy] = "shoal"
		es := &discoveryv1.EndpointSlice{
			TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
			ObjectMeta:  metav1.ObjectMeta{Name: name, Labels: labels},
			AddressType: addrType,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr(portName), Port: ptr(int32(k.port)), Protocol: ptr(corev1.ProtocolTCP)}},
		}
		for _, addr := range slices[k] {
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{addr}})
		}
		x.add(orderEndpointSlice, name, es)
	}
}
