package spec

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks the stack as a whole: ranges, supported values, and that
// every name it refers to exists. The error, if any, is an ErrorList with
// one error per problem, at the line of the field when the stack was read
// from a file.
func (s *Stack) Validate() error { return s.validate().err() }

func (s *Stack) validate() ErrorList {
	v := &validator{s: s}
	v.notEmpty()
	v.loadBalancers()
	v.targetGroups()
	v.cluster()
	v.isolation()
	v.securityGroups()
	v.taskDefinitions()
	v.services()
	v.awsAPI()
	v.metrics()
	v.dashboard()
	v.registry()
	return v.errs
}

// notEmpty checks that the stack runs something, unless what it would run
// was already reported as unreadable.
func (v *validator) notEmpty() {
	if len(v.s.Services) > 0 || len(v.s.LoadBalancers) > 0 ||
		v.s.src.decodeFailed("services") || v.s.src.decodeFailed("load_balancers") {
		return
	}
	v.errorf("", "the stack has no services and no load balancers: add a service (see examples/catalog/shoal.yaml)")
}

// validator collects the problems of one stack.
type validator struct {
	s    *Stack
	errs ErrorList
}

// errorf reports a problem with the field at path, unless its value
// already failed to decode (which was reported then).
func (v *validator) errorf(path, format string, args ...any) {
	if v.s.src.decodeFailed(path) {
		return
	}
	line, col := v.s.src.position(path)
	v.errs = append(v.errs, &Error{
		File: v.s.File, Line: line, Column: col, Path: path,
		Msg: fmt.Sprintf(format, args...),
	})
}

// entry starts checking the map entry section.name: it checks the name
// and whether the entry is there at all. It returns the entry's path.
func entry[T any](v *validator, section, name string, e *T) (string, bool) {
	path := joinPath(section, name)
	if !validName(name) {
		v.errorf(path, "invalid name %q: use up to 63 letters, digits, - and _, starting with a letter or digit", name)
	}
	if e == nil {
		v.errorf(path, "%q has no settings", name)
	}
	return path, e != nil
}

// intRange checks that field (named as in YAML) is within lo-hi.
func (v *validator) intRange(path, field string, n, lo, hi int) {
	if n < lo || n > hi {
		v.errorf(path, "%s %d is out of range: use %d-%d", field, n, lo, hi)
	}
}

// port checks a port that may be 0, which means zeroMeans.
func (v *validator) port(path string, port int, zeroMeans string) {
	if port < 0 || port > 65535 {
		v.errorf(path, "port %d is out of range: use 1-65535, or 0 for %s", port, zeroMeans)
	}
}

// ref checks that name, the value of field, names an entry of section. It
// stays quiet when the section itself was unreadable or misspelled (which
// was reported then).
func ref[T any](v *validator, path, field, kind, section, name string, m map[string]T) {
	if v.s.src.decodeFailed(section) {
		return
	}
	names := sortedKeys(m)
	switch _, ok := m[name]; {
	case name == "" && len(names) == 0:
		v.errorf(path, "%s is required: define a %s under %s and name it here", field, kind, section)
	case name == "":
		v.errorf(path, "%s is required: use one of %s", field, strings.Join(names, ", "))
	case !ok:
		v.errorf(path, "%s", noSuch(kind, section, name, names))
	}
}

// durationRange checks that field (named as in YAML) is within lo-hi, and
// reports whether it is.
func (v *validator) durationRange(path, field string, d Duration, lo, hi time.Duration) bool {
	if d.D() < lo || d.D() > hi {
		v.errorf(path, "%s %s is out of range: use %s to %s", field, fmtDuration(d.D()), fmtDuration(lo), fmtDuration(hi))
		return false
	}
	return true
}

// fmtDuration formats a duration for messages as a user would write it:
// whole seconds as "300s" rather than Go's "5m0s".
func fmtDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// validName reports whether name is a valid name of a load balancer, target
// group, task definition or service (^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$):
// names become parts of host names, environment values and AWS resource
// names.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 63 || !isAlnum(rune(name[0])) {
		return false
	}
	for _, r := range name {
		if !isAlnum(r) && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// validEnvName reports whether name is a valid environment variable name
// ([A-Za-z_][A-Za-z0-9_]*), the kind every shell can use.
func validEnvName(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for _, r := range name {
		if !isAlnum(r) && r != '_' {
			return false
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func sortedKeys[T any](m map[string]T) []string {
	return slices.Sorted(maps.Keys(m))
}

// regionPattern is the shape of an AWS region's name (us-east-1,
// ap-southeast-2, us-gov-west-1).
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// awsAPI checks the AWS API endpoint's settings.
func (v *validator) awsAPI() {
	a := v.s.AWSAPI
	host, port, err := net.SplitHostPort(a.Address)
	switch {
	case err != nil:
		v.errorf("aws_api.address", "address %q: write host:port, like 127.0.0.1:4566 (port 0 picks a free one)", a.Address)
	case !isLoopback(host):
		v.errorf("aws_api.address", "address %q is not a loopback address: the AWS API travels unencrypted, so shoal serves it only on this machine (127.0.0.1, ::1, localhost)", a.Address)
	default:
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			v.errorf("aws_api.address", "port %q: use 0-65535 (0 picks a free one)", port)
		}
	}
	if !regionPattern.MatchString(a.Region) {
		v.errorf("aws_api.region", "region %q is not an AWS region's name, like us-east-1 or eu-west-3", a.Region)
	}
}

// dashboard checks the dashboard's address: host:port, a loopback one
// unless allow_remote.
func (v *validator) dashboard() {
	d := v.s.Dashboard
	host, port, err := net.SplitHostPort(d.Address)
	switch {
	case err != nil:
		v.errorf("dashboard.address", "address %q: write host:port, like 127.0.0.1:8000 (port 0 picks a free one)", d.Address)
		return
	case !isLoopback(host) && !d.AllowRemote:
		v.errorf("dashboard.address", "address %q is not a loopback address: the dashboard drives the stack and travels unencrypted, so shoal serves it only on this machine (127.0.0.1, ::1, localhost) unless allow_remote: true", d.Address)
	case host != "" && host != "localhost":
		if _, err := netip.ParseAddr(host); err != nil {
			v.errorf("dashboard.address", "address %q: the host must be an IP address of this machine or localhost", d.Address)
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf("dashboard.address", "address %q: port %q: use 0-65535 (0 picks a free one)", d.Address, port)
	}
}

// metrics checks the metrics endpoint's address: off (""), or host:port
// with an IP address of this machine or localhost.
func (v *validator) metrics() {
	addr := v.s.Metrics.Address
	if addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf("metrics.address", "address %q: write host:port, like 127.0.0.1:9100 (port 0 picks a free one), or leave it out to serve no metrics", addr)
		return
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "" && host != "localhost" {
		v.errorf("metrics.address", "address %q: the host must be an IP address of this machine or localhost, like 127.0.0.1:9100 (this machine only) or 0.0.0.0:9100 (every interface)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf("metrics.address", "address %q: port %q: use 0-65535 (0 picks a free one)", addr, port)
	}
}
