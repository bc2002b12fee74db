package proxy

// HTTP header modification, as ALB's listener attributes have it (November
// 2024): response headers set on every answer, the Server header turned
// off, and the load balancer's TLS request headers renamed.
//
// What AWS says (header-modification, enable-header-modification, the
// ListenerAttribute and LoadBalancerAttribute API pages, the launch
// announcement):
//
//   - Ten response headers can be set, each by its attribute
//     routing.http.response.<name>.header_value: Strict-Transport-Security,
//     Access-Control-Allow-Origin, -Allow-Methods, -Allow-Headers,
//     -Allow-Credentials, -Expose-Headers, -Max-Age,
//     Content-Security-Policy, X-Content-Type-Options and X-Frame-Options.
//     An empty value (the default) leaves the header alone; a value is
//     added "to all responses", and "if the response from the target
//     includes the HTTP response header, the load balancer updates the
//     header value". Here all responses are the target's and the load
//     balancer's own: fixed responses, redirects and error pages (its 500,
//     502, 503, 504 and 464), as ALB.
//   - routing.http.response.server.enabled false "disable[s] the ALB
//     generated Server header" (the launch announcement): the load
//     balancer's own, "Server: awselb/2.0" on ALB, "Server: shoal" here. A
//     target's Server header is the target's, and passes through.
//   - routing.http.request.<header>.header_name renames a header the load
//     balancer adds to requests: the six mTLS ones and X-Amzn-Tls-Version
//     and X-Amzn-Tls-Cipher-Suite, on https listeners. ALB adds the last
//     two only when the load balancer attribute
//     routing.http.x_amzn_tls_version_and_cipher_suite.enabled is true
//     (default false), and the mTLS ones only with mutual TLS. shoal has
//     neither the attribute nor mutual TLS, so it adds none of these
//     headers: a rename is checked and accepted, as ALB accepts it on a
//     listener whose load balancer does not add the header, and changes
//     nothing. X-Amzn-Trace-Id and the X-Forwarded-* headers cannot be
//     renamed on ALB, nor here.
//
// What shoal checks beyond that, from the headers' own definitions (AWS
// lists no values): X-Content-Type-Options is nosniff;
// Access-Control-Allow-Credentials is true; Access-Control-Max-Age is a
// number of seconds; X-Frame-Options is DENY, SAMEORIGIN or ALLOW-FROM and
// a URI; Strict-Transport-Security has a max-age; every value is visible
// ASCII, spaces and tabs. A new request header name is a token (RFC 9110).
//
// A WebSocket's 101 Switching Protocols answer is written by the proxy on
// the hijacked connection and keeps the target's headers.
//
// Sources:
//
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/header-modification.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-header-modification.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ListenerAttribute.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerAttribute.html
//   - https://amazonaws.cn/en/new/2024/amazon-application-load-balancer-introduces-header-modification-for-enhanced-traffic-control-and-security

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// serverHeader is the Server header of the load balancer's own answers.
const serverHeader = "shoal"

// responseHeaderNames are the response headers a listener may set, each
// with a check of its value beyond the characters every value holds.
var responseHeaderNames = map[string]func(string) bool{
	"Strict-Transport-Security":        hasMaxAge,
	"Access-Control-Allow-Origin":      nil,
	"Access-Control-Allow-Methods":     nil,
	"Access-Control-Allow-Headers":     nil,
	"Access-Control-Allow-Credentials": func(v string) bool { return v == "true" },
	"Access-Control-Expose-Headers":    nil,
	"Access-Control-Max-Age":           isSeconds,
	"Content-Security-Policy":          nil,
	"X-Content-Type-Options":           func(v string) bool { return strings.EqualFold(v, "nosniff") },
	"X-Frame-Options":                  frameOption,
}

// renamableHeaders are the request headers whose names a listener may
// change: those ALB adds for TLS and mutual TLS.
var renamableHeaders = []string{
	"X-Amzn-Mtls-Clientcert-Serial-Number", "X-Amzn-Mtls-Clientcert-Issuer",
	"X-Amzn-Mtls-Clientcert-Subject", "X-Amzn-Mtls-Clientcert-Validity",
	"X-Amzn-Mtls-Clientcert-Leaf", "X-Amzn-Mtls-Clientcert",
	"X-Amzn-Tls-Version", "X-Amzn-Tls-Cipher-Suite",
}

// requestHeadersSet are the headers the load balancer sets on every
// request: a rename may not take their names.
var requestHeadersSet = []string{"Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", traceHeader}

// validate checks h as ALB would: only its response headers and renamable
// request headers, with values they take.
func (h HeaderModification) validate() error {
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(h.Response)) {
		v, canon := h.Response[name], http.CanonicalHeaderKey(name)
		check, ok := responseHeaderNames[canon]
		switch {
		case !ok:
			return fmt.Errorf("response header %s: ALB sets only %s", name, strings.Join(slices.Sorted(maps.Keys(responseHeaderNames)), ", "))
		case seen[canon] != "":
			return fmt.Errorf("response header %s is also given as %s", name, seen[canon])
		case v == "": // not set, as ALB's empty default
		case !validHeaderValue(v) || check != nil && !check(v):
			return fmt.Errorf("response header %s: %q is not a value it takes", canon, v)
		}
		seen[canon] = name
	}
	renamed := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(h.RequestRenames)) {
		to, canon := h.RequestRenames[name], http.CanonicalHeaderKey(name)
		switch newName := http.CanonicalHeaderKey(to); {
		case !slices.Contains(renamableHeaders, canon):
			return fmt.Errorf("request header %s cannot be renamed: ALB renames only %s", name, strings.Join(renamableHeaders, ", "))
		case !isToken(to):
			return fmt.Errorf("request header %s: %q is not a header name", canon, to)
		case slices.Contains(requestHeadersSet, newName):
			return fmt.Errorf("request header %s: the load balancer sets %s itself", canon, newName)
		case renamed[newName] != "":
			return fmt.Errorf("request headers %s and %s are both renamed %s", renamed[newName], canon, to)
		default:
			renamed[newName] = canon
		}
	}
	return nil
}

func hasMaxAge(v string) bool {
	for d := range strings.SplitSeq(v, ";") {
		k, n, ok := strings.Cut(strings.TrimSpace(d), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "max-age") && isSeconds(strings.Trim(strings.TrimSpace(n), `"`)) {
			return true
		}
	}
	return false
}

func isSeconds(v string) bool {
	_, err := strconv.ParseUint(v, 10, 31)
	return err == nil
}

// frameOption: DENY, SAMEORIGIN, or ALLOW-FROM and a URI (RFC 7034).
func frameOption(v string) bool {
	if strings.EqualFold(v, "DENY") || strings.EqualFold(v, "SAMEORIGIN") {
		return true
	}
	verb, uri, ok := strings.Cut(v, " ")
	return ok && strings.EqualFold(verb, "ALLOW-FROM") && strings.Contains(uri, "://")
}

// validHeaderValue: visible ASCII, spaces and tabs, not starting or ending
// with white space.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return v == strings.Trim(v, " \t")
}

// isToken reports whether s is an RFC 9110 token, as header names are.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnumByte(c) && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return s != ""
}

func isAlnumByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// responseHeaders is what a listener does to every answer; nil when it
// does nothing, so that a listener without header modification pays
// nothing.
type responseHeaders struct {
	// set are the headers set, their values shared by every answer: each
	// slice has no spare capacity, so that an append copies it.
	set          []setHeader
	removeServer bool
}

type setHeader struct {
	name   string
	values []string
}

// newResponseHeaders compiles a validated HeaderModification; nil when it
// changes no answer.
func newResponseHeaders(h HeaderModification) *responseHeaders {
	rh := &responseHeaders{removeServer: h.RemoveServer}
	for _, name := range slices.Sorted(maps.Keys(h.Response)) {
		if v := h.Response[name]; v != "" {
			rh.set = append(rh.set, setHeader{http.CanonicalHeaderKey(name), slices.Clip([]string{v})})
		}
	}
	if len(rh.set) == 0 && !rh.removeServer {
		return nil
	}
	return rh
}

// apply changes the headers of an answer about to be sent.
func (rh *responseHeaders) apply(h http.Header) {
	for _, s := range rh.set {
		h[s.name] = s.values
	}
	if rh.removeServer && h.Get("Server") == serverHeader {
		delete(h, "Server")
	}
}

// wrap returns w changing the headers of the answer as it is written.
func (rh *responseHeaders) wrap(w http.ResponseWriter) http.ResponseWriter {
	return &headerWriter{ResponseWriter: w, rh: rh}
}

// headerWriter applies a listener's response headers when the answer's
// status is written (informational 1xx answers are left alone). Flush,
// Hijack and the other http.ResponseController methods reach the
// underlying writer through Unwrap.
type headerWriter struct {
	http.ResponseWriter
	rh      *responseHeaders
	written bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.written && code >= 200 {
		w.written = true
		w.rh.apply(w.ResponseWriter.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what is buffered, the status first (as net/http does).
func (w *headerWriter) Flush() {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ http.Flusher = (*headerWriter)(nil)
