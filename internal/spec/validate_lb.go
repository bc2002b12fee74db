package spec

import (
	"cmp"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (v *validator) loadBalancers() {
	var bound []binding
	for _, name := range sortedKeys(v.s.LoadBalancers) {
		lb := v.s.LoadBalancers[name]
		path, ok := entry(v, "load_balancers", name, lb)
		if !ok {
			continue
		}
		v.durationRange(path+".idle_timeout", "idle_timeout", lb.IdleTimeout, time.Second, 4000*time.Second)
		if lb.MaxRequestBody < 0 {
			v.errorf(path+".max_request_body", "max_request_body %d: write a size in bytes, or 0 for no limit", lb.MaxRequestBody)
		}
		v.durationRange(path+".client_keep_alive", "client_keep_alive", lb.ClientKeepAlive, 60*time.Second, 604800*time.Second)
		v.durationRange(path+".header_read_timeout", "header_read_timeout", lb.HeaderReadTimeout, time.Second, 4000*time.Second)
		switch lb.DesyncMitigationMode {
		case "monitor", "defensive", "strictest":
		default:
			v.errorf(path+".desync_mitigation_mode", "desync_mitigation_mode %q is not supported: use monitor, defensive or strictest", lb.DesyncMitigationMode)
		}
		v.accessLog(path+".access_log", &lb.AccessLog)
		switch lb.XFFHeaderProcessing {
		case "append", "preserve", "remove":
		default:
			v.errorf(path+".xff_header_processing", "xff_header_processing %q is not supported: use append (add the client's address), preserve or remove", lb.XFFHeaderProcessing)
		}
		if len(lb.Listeners) == 0 {
			v.errorf(path+".listeners", "a load balancer needs a listener: add listeners: [{port: 8080, default_action: {forward: {target_group: NAME}}}]")
		}
		for i, l := range lb.Listeners {
			if b, ok := v.listener(indexPath(path+".listeners", i), l); ok {
				bound = append(bound, b)
			}
		}
	}
	v.sockets(bound)
}

// accessLog checks a load balancer's access log: its format, and that its
// path is not a folder (a missing folder fails when shoal opens the file).
func (v *validator) accessLog(path string, a *AccessLog) {
	if a.Format != "alb" && a.Format != "json" {
		v.errorf(path+".format", "format %q is not supported: use alb (ALB's line) or json", a.Format)
	}
	if a.Path == "-" {
		return
	}
	if a.Path == "" {
		v.errorf(path+".path", "path is empty: use a file, relative to the stack file's folder, or - for shoal's output")
		return
	}
	file := a.Path
	if !filepath.IsAbs(file) {
		file = filepath.Join(v.s.Dir, file)
	}
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		v.errorf(path+".path", "path %q is a folder: name a file in it, like %s", a.Path, filepath.Join(a.Path, "access.log"))
	}
}

// binding is a listener's address and port, to find two listeners that
// would listen on the same socket.
type binding struct {
	path string
	addr netip.Addr
	port int
}

// listener checks one listener, and returns its socket when it has a
// fixed one.
func (v *validator) listener(path string, l *Listener) (binding, bool) {
	if l == nil {
		v.errorf(path, "empty listener: set its port and default_action")
		return binding{}, false
	}
	if v.s.src != nil && !v.s.src.has(path+".port") {
		v.errorf(path+".port", "port is required: use 1-65535, or 0 for a free port")
	}
	v.port(path+".port", l.Port, "a free port")
	addr, addrOK := v.address(path+".address", l.Address)
	v.listenerProtocol(path, l)
	v.action(path+".default_action", &l.DefaultAction, l)
	v.rules(path, l)
	v.headers(path+".headers", &l.Headers)
	fixed := addrOK && l.Port > 0 && l.Port <= 65535
	return binding{path, addr, l.Port}, fixed
}

// sockets reports listeners that take a socket an earlier one (in file
// order) already has. A wildcard address (0.0.0.0, ::) takes the port on
// every address.
func (v *validator) sockets(bound []binding) {
	slices.SortStableFunc(bound, func(a, b binding) int {
		la, ca := v.s.src.position(a.path)
		lb, cb := v.s.src.position(b.path)
		return cmp.Or(cmp.Compare(la, lb), cmp.Compare(ca, cb))
	})
	for i, b := range bound {
		for _, earlier := range bound[:i] {
			if b.port == earlier.port && (b.addr == earlier.addr || b.addr.IsUnspecified() || earlier.addr.IsUnspecified()) {
				v.errorf(b.path+".port", "port %d is already taken by %s: use another port", b.port, earlier.path)
				break
			}
		}
	}
}

func (v *validator) address(path, s string) (netip.Addr, bool) {
	if s == "localhost" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		v.errorf(path, "address %q is not an IP address: use 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or localhost", s)
		return addr, false
	}
	return addr, true
}

// protocol checks the protocol of listeners or target groups.
func (v *validator) protocol(path, p string) {
	if p != DefaultProtocol && p != "https" {
		v.errorf(path, "protocol %q is not supported: use http or https", p)
	}
}

func (v *validator) targetGroups() {
	for _, name := range sortedKeys(v.s.TargetGroups) {
		tg := v.s.TargetGroups[name]
		path, ok := entry(v, "target_groups", name, tg)
		if !ok {
			continue
		}
		v.protocol(path+".protocol", tg.Protocol)
		v.groupOptions(path, tg)
		v.healthCheck(path+".health_check", &tg.HealthCheck)
		v.durationRange(path+".deregistration_delay", "deregistration_delay", tg.DeregistrationDelay, 0, 3600*time.Second)
		for i, t := range tg.Targets {
			v.target(indexPath(path+".targets", i), t)
		}
	}
}

func (v *validator) healthCheck(path string, hc *HealthCheck) {
	if !strings.HasPrefix(hc.Path, "/") {
		v.errorf(path+".path", "path %q must start with /, like %q", hc.Path, "/"+hc.Path)
	}
	if hc.Port != TrafficPort {
		if p, err := strconv.Atoi(hc.Port); err != nil || p < 1 || p > 65535 {
			v.errorf(path+".port", "port %q must be traffic-port or a number 1-65535", hc.Port)
		}
	}
	intervalOK := v.durationRange(path+".interval", "interval", hc.Interval, 100*time.Millisecond, 300*time.Second)
	timeoutOK := v.durationRange(path+".timeout", "timeout", hc.Timeout, 100*time.Millisecond, 120*time.Second)
	if intervalOK && timeoutOK {
		v.timeoutBelowInterval(path, hc)
	}
	v.intRange(path+".healthy_threshold", "healthy_threshold", hc.HealthyThreshold, 2, 10)
	v.intRange(path+".unhealthy_threshold", "unhealthy_threshold", hc.UnhealthyThreshold, 2, 10)
	if hc.Matcher.IsZero() {
		v.errorf(path+".matcher", "matcher is empty: %s", matcherHint)
	}
}

// timeoutBelowInterval checks that a check ends before the next one
// starts. It points at the timeout, or at the interval when only that was
// written (the timeout is then the default).
func (v *validator) timeoutBelowInterval(path string, hc *HealthCheck) {
	interval, timeout := path+".interval", path+".timeout"
	if hc.Timeout < hc.Interval || v.s.src.decodeFailed(interval) {
		return
	}
	at := timeout
	if !v.s.src.has(timeout) && v.s.src.has(interval) {
		at = interval
	}
	v.errorf(at, "timeout (%s) must be less than interval (%s): shorten the timeout or lengthen the interval",
		fmtDuration(hc.Timeout.D()), fmtDuration(hc.Interval.D()))
}

// target checks a static target, host:port.
func (v *validator) target(path, t string) {
	host, port, err := net.SplitHostPort(t)
	if err != nil || host == "" {
		v.errorf(path, "target %q must be host:port, like 127.0.0.1:9000", t)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		v.errorf(path, "target %q has an invalid port: use 1-65535", t)
	}
}
