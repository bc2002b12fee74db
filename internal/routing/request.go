package routing

import (
	"net/netip"
	"strings"
)

// view is a Request as conditions see it: the parts they compare, worked
// out once per request and only when a condition asks.
type view struct {
	r *Request

	host, path string
	src        netip.Addr
	done       uint8 // which of host, path and src are worked out
}

const (
	hostDone uint8 = 1 << iota
	pathDone
	srcDone
)

// hostName is the Host header without its port: a host-header condition
// matches the host name.
func (v *view) hostName() string {
	if v.done&hostDone == 0 {
		v.host, v.done = hostName(v.r.Host), v.done|hostDone
	}
	return v.host
}

// normalPath is the path as path patterns see it (see normalizePath).
func (v *view) normalPath() string {
	if v.done&pathDone == 0 {
		v.path, v.done = normalizePath(v.r.Path), v.done|pathDone
	}
	return v.path
}

// source is the peer address, IPv4-mapped IPv6 as IPv4 and without a zone.
func (v *view) source() netip.Addr {
	if v.done&srcDone == 0 {
		v.src, v.done = v.r.Source.Unmap().WithZone(""), v.done|srcDone
	}
	return v.src
}

// hostName is host without a port: "example.com:8080" is "example.com",
// "[::1]:80" is "[::1]". A colon-separated host that is not bracketed
// (a bare IPv6 address, which HTTP does not allow) loses its last part.
func hostName(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i >= 0 {
			return host[:i+1]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		return host[:i]
	}
	return host
}

// normalizePath is p after the syntax-based normalization of RFC 3986
// §6.2.2, which ALB does before it evaluates path patterns:
// percent-encoded unreserved characters (A-Z a-z 0-9 - . _ ~) decoded, the
// hex digits of the other escapes in upper case, and dot segments removed
// (§5.2.4): /a/./b/../c is /a/c. Slashes are not merged, and %2F stays
// encoded. A path that needs none of it is returned as is, without
// allocating.
func normalizePath(p string) string {
	if !needsNormalizing(p) {
		return p
	}
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			if isUnreserved(d) {
				b = append(b, d)
			} else {
				b = append(b, '%', upperHex(p[i+1]), upperHex(p[i+2]))
			}
			i += 2
			continue
		}
		b = append(b, c)
	}
	return removeDotSegments(string(b))
}

// needsNormalizing reports whether p has an escape or a dot segment.
func needsNormalizing(p string) bool {
	if strings.IndexByte(p, '%') >= 0 {
		return true
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '.' || (i > 0 && p[i-1] != '/') {
			continue
		}
		rest := p[i+1:]
		if rest == "" || rest[0] == '/' || rest == "." || strings.HasPrefix(rest, "./") {
			return true
		}
	}
	return false
}

// removeDotSegments is RFC 3986's algorithm of that name (§5.2.4).
func removeDotSegments(in string) string {
	out := make([]byte, 0, len(in))
	pop := func() { // the last segment of out, and the / before it
		i := len(out) - 1
		for i >= 0 && out[i] != '/' {
			i--
		}
		out = out[:max(i, 0)]
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			pop()
		case in == "/..":
			in = "/"
			pop()
		case in == "." || in == "..":
			in = ""
		default:
			i := strings.IndexByte(in[1:], '/') + 1
			if i == 0 {
				i = len(in)
			}
			out = append(out, in[:i]...)
			in = in[i:]
		}
	}
	return string(out)
}

// nextParam cuts the first parameter off a query string: the key and
// value as sent (not decoded), and the rest after '&'. Empty parameters
// (a&&b) are skipped; a parameter without '=' has an empty value.
func nextParam(q string) (key, value, rest string, ok bool) {
	for q != "" {
		var param string
		param, rest, _ = strings.Cut(q, "&")
		if param == "" {
			q = rest
			continue
		}
		key, value, _ = strings.Cut(param, "=")
		return key, value, rest, true
	}
	return "", "", "", false
}

// decodeBuf is room on the caller's stack for a decoded key or value.
type decodeBuf [256]byte

// percentDecode appends s to b with %XX escapes decoded ('+' stays '+';
// an escape that is not one stays as it is).
func percentDecode(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		b = append(b, c)
	}
	return b
}

// matchDecoded reports whether g matches s once percent-decoded, decoding
// into buf so as not to allocate.
func matchDecoded(g *glob, s string, buf *decodeBuf) bool {
	if strings.IndexByte(s, '%') < 0 {
		return matchGlob(g, s)
	}
	return matchGlob(g, percentDecode(buf[:0], s))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
