package proxy

import (
	"net/http"
	"strings"
)

// How requests reach targets, as ALB's target group Protocol and
// ProtocolVersion:
//
//   - HTTP1 (the default): HTTP/1.1, whatever the client spoke.
//   - HTTP2: HTTP/2, cleartext with prior knowledge (h2c) to http targets,
//     by ALPN "h2" to https targets. The target must speak HTTP/2: there is
//     no fallback.
//   - GRPC: HTTP/2 as HTTP2, for gRPC calls. Trailers (grpc-status,
//     grpc-message) and streaming in both directions pass through.
//   - https targets are reached in TLS without verifying their certificate,
//     as ALB does (self-signed and expired certificates work).
//
// A request the group's protocol version cannot carry is answered 464, as
// ALB does (its table "request protocol / protocol version"): a gRPC call
// to an HTTP1 group, an HTTP/1.1 request to an HTTP2 or GRPC group, an
// HTTP/2 request other than POST to a GRPC group. Since http listeners
// speak HTTP/1.1 only, HTTP2 and GRPC groups take traffic from https
// listeners only (ALB allows them behind HTTPS listeners only).
//
// Health checks stay HTTP/1.1 GET requests of the check path, for every
// protocol version. ALB checks a GRPC group with a gRPC call (default
// path /AWS.ALB/healthcheck, success codes gRPC status 12 by default) and
// an https group over TLS: a target that speaks only h2c, only gRPC or only
// TLS fails shoal's check, and its group fails open once all are unhealthy.

// statusIncompatibleProtocol is ALB's answer to a request its target
// group's protocol version cannot carry.
const statusIncompatibleProtocol = 464

// protocolVersion is how requests are sent to a group's targets.
type protocolVersion uint8

const (
	versionHTTP1 protocolVersion = iota
	versionHTTP2
	versionGRPC
)

// upstream is how a target group's requests reach its targets: its
// Protocol and ProtocolVersion. The zero value is http and HTTP1.
type upstream struct {
	tls     bool
	version protocolVersion
}

// upstreamOf is the upstream of tg; unknown values read as the defaults.
func upstreamOf(tg TargetGroupConfig) upstream {
	u := upstream{tls: tg.Protocol == protoHTTPS}
	switch tg.ProtocolVersion {
	case HTTP2:
		u.version = versionHTTP2
	case GRPC:
		u.version = versionGRPC
	}
	return u
}

// http2 reports whether requests go to the targets in HTTP/2.
func (u upstream) http2() bool { return u.version != versionHTTP1 }

// accepts reports whether the group can carry r, by ALB's table.
func (u upstream) accepts(r *http.Request) bool {
	switch u.version {
	case versionHTTP2:
		return r.ProtoMajor == 2
	case versionGRPC:
		return r.ProtoMajor == 2 && r.Method == http.MethodPost
	}
	return !isGRPC(r)
}

// isGRPC reports whether r is a gRPC call: HTTP/2 with a content type of
// application/grpc, possibly with a subtype (application/grpc+proto).
func isGRPC(r *http.Request) bool {
	if r.ProtoMajor != 2 {
		return false
	}
	ct, ok := strings.CutPrefix(r.Header.Get("Content-Type"), "application/grpc")
	return ok && (ct == "" || ct[0] == '+' || ct[0] == ';')
}

// upstream is how the group's requests reach its targets, by its current
// settings.
func (g *targetGroup) upstream() upstream { return g.settings.Load().upstream }
