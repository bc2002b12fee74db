package routing

import (
	"net/netip"
	"strconv"
	"strings"
)

// RedirectURL is the Location of a redirect action for r: each part of a
// as configured, its placeholders filled from r, and an empty part the
// request's own (ALB's defaults: #{protocol}, #{host}, #{port}, /#{path},
// #{query}).
//
//   - #{protocol} is r.Scheme and #{port} r.Port (the listener's), #{host}
//     the host name of r.Host (without its port), #{path} r.Path without
//     its leading "/", #{query} r.RawQuery.
//   - The protocol is written in lower case; one that is neither http nor
//     https (a Request without a Scheme) is http.
//   - The port is left out when it is the protocol's default (80 for http,
//     443 for https), as ALB does, or when it is not a port at all.
//   - The path starts with "/"; the query has no "?", and there is no "?"
//     when it is empty.
//
// The result is always a URL that url.Parse takes: a byte a path or a
// query cannot hold is percent-encoded (a '?' in the path, a '#', a space,
// a '%' that starts no escape); a host keeps the characters of a host name
// (letters, digits, "-._~" and RFC 3986's sub-delims), its bytes beyond
// ASCII percent-encoded and the others dropped (net/http refuses such a
// Host before any rule sees it); a bracketed IPv6 address stays as it is.
func RedirectURL(a *RedirectAction, r *Request) string {
	part := func(s, dflt string) string {
		if s == "" {
			s = dflt
		}
		return expand(s, r)
	}
	proto := strings.ToLower(part(a.Protocol, "#{protocol}"))
	if proto != "https" {
		proto = "http"
	}
	var b strings.Builder
	b.WriteString(proto)
	b.WriteString("://")
	writeHost(&b, part(a.Host, "#{host}"))
	if port := part(a.Port, "#{port}"); isPort(port) && !(proto == "http" && port == "80" || proto == "https" && port == "443") {
		b.WriteByte(':')
		b.WriteString(port)
	}
	path := part(a.Path, "/#{path}")
	if !strings.HasPrefix(path, "/") {
		b.WriteByte('/')
	}
	writeEscaped(&b, path, pathSafe)
	if q := part(a.Query, "#{query}"); q != "" {
		b.WriteByte('?')
		writeEscaped(&b, q, querySafe)
	}
	return b.String()
}

// expand fills the placeholders of s from r.
func expand(s string, r *Request) string {
	if !strings.Contains(s, "#{") {
		return s
	}
	return strings.NewReplacer(
		"#{protocol}", strings.ToLower(r.Scheme),
		"#{host}", hostName(r.Host),
		"#{port}", r.Port,
		"#{path}", strings.TrimPrefix(r.Path, "/"),
		"#{query}", r.RawQuery,
	).Replace(s)
}

// isPort reports whether s is a port number, 1-65535.
func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535 && s[0] != '+' && s[0] != '-'
}

// writeHost writes a host name as a URL can hold it (see RedirectURL).
func writeHost(b *strings.Builder, h string) {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		if a, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil && a.Is6() && a.Zone() == "" {
			b.WriteString(h)
			return
		}
	}
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case isUnreserved(c) || strings.IndexByte(subDelims, c) >= 0:
			b.WriteByte(c)
		case c >= 0x80:
			writePercent(b, c)
		}
	}
}

// RFC 3986's sub-delims, and what a path and a query may hold unescaped
// besides the unreserved characters and valid escapes.
const (
	subDelims = "!$&'()*+,;="
	pathSafe  = subDelims + ":@/"
	querySafe = pathSafe + "?"
)

// writeEscaped writes s percent-encoding what is neither unreserved, in
// safe, nor a valid escape.
func writeEscaped(b *strings.Builder, s, safe string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUnreserved(c) || strings.IndexByte(safe, c) >= 0:
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		default:
			writePercent(b, c)
		}
	}
}

func writePercent(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}
