package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/routing"
)

func TestHeaderModification_Validate(t *testing.T) {
	tests := []struct {
		name string
		h    HeaderModification
		want string // "" for valid
	}{
		{"nothing", HeaderModification{}, ""},
		{"every response header", HeaderModification{Response: map[string]string{
			"Strict-Transport-Security":        "max-age=31536000; includeSubDomains; preload",
			"access-control-allow-origin":      "https://example.com",
			"Access-Control-Allow-Methods":     "GET, HEAD, POST",
			"Access-Control-Allow-Headers":     "*",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers":    "X-Request-Id",
			"Access-Control-Max-Age":           "86400",
			"Content-Security-Policy":          "default-src 'self'",
			"X-Content-Type-Options":           "nosniff",
			"X-Frame-Options":                  "ALLOW-FROM https://example.com",
		}, RemoveServer: true}, ""},
		{"an empty value is not set", HeaderModification{Response: map[string]string{"X-Frame-Options": ""}}, ""},
		{"TLS renames", HeaderModification{RequestRenames: map[string]string{
			"X-Amzn-Tls-Version": "Tls-Version", "x-amzn-tls-cipher-suite": "Tls-Cipher", "X-Amzn-Mtls-Clientcert": "Client-Cert"}}, ""},
		{"a header ALB does not set", HeaderModification{Response: map[string]string{"Referrer-Policy": "no-referrer"}},
			"response header Referrer-Policy: ALB sets only Access-Control-Allow-Credentials, Access-Control-Allow-Headers, " +
				"Access-Control-Allow-Methods, Access-Control-Allow-Origin, Access-Control-Expose-Headers, Access-Control-Max-Age, " +
				"Content-Security-Policy, Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options"},
		{"Server cannot be set", HeaderModification{Response: map[string]string{"Server": "x"}}, "response header Server: ALB sets only"},
		{"a header twice", HeaderModification{Response: map[string]string{"X-Frame-Options": "DENY", "x-frame-options": "DENY"}},
			"response header x-frame-options is also given as X-Frame-Options"},
		{"a value with a newline", HeaderModification{Response: map[string]string{"Content-Security-Policy": "a\r\nSet-Cookie: x"}},
			`response header Content-Security-Policy: "a\r\nSet-Cookie: x" is not a value it takes`},
		{"nosniff only", HeaderModification{Response: map[string]string{"X-Content-Type-Options": "sniff"}},
			`response header X-Content-Type-Options: "sniff" is not a value it takes`},
		{"credentials true only", HeaderModification{Response: map[string]string{"Access-Control-Allow-Credentials": "false"}},
			`response header Access-Control-Allow-Credentials: "false" is not a value it takes`},
		{"max age in seconds", HeaderModification{Response: map[string]string{"Access-Control-Max-Age": "1h"}},
			`response header Access-Control-Max-Age: "1h" is not a value it takes`},
		{"HSTS without max-age", HeaderModification{Response: map[string]string{"Strict-Transport-Security": "includeSubDomains"}},
			`response header Strict-Transport-Security: "includeSubDomains" is not a value it takes`},
		{"frame options", HeaderModification{Response: map[string]string{"X-Frame-Options": "ALLOWALL"}},
			`response header X-Frame-Options: "ALLOWALL" is not a value it takes`},
		{"trace ID cannot be renamed", HeaderModification{RequestRenames: map[string]string{"X-Amzn-Trace-Id": "Trace"}},
			"request header X-Amzn-Trace-Id cannot be renamed: ALB renames only"},
		{"rename to a non-token", HeaderModification{RequestRenames: map[string]string{"X-Amzn-Tls-Version": "TLS version"}},
			`request header X-Amzn-Tls-Version: "TLS version" is not a header name`},
		{"rename to a header the balancer sets", HeaderModification{RequestRenames: map[string]string{"X-Amzn-Tls-Version": "x-forwarded-proto"}},
			"request header X-Amzn-Tls-Version: the load balancer sets X-Forwarded-Proto itself"},
		{"two renames to one name", HeaderModification{RequestRenames: map[string]string{"X-Amzn-Tls-Version": "Tls", "X-Amzn-Tls-Cipher-Suite": "tls"}},
			"request headers X-Amzn-Tls-Cipher-Suite and X-Amzn-Tls-Version are both renamed Tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// TestConfig_ValidateChecksHeaders: Apply refuses a listener whose header
// modification ALB would refuse, naming the listener.
func TestConfig_ValidateChecksHeaders(t *testing.T) {
	cfg := singleListener("api", testGroup(), 0)
	cfg.Listeners[0].Headers.Response = map[string]string{"X-Powered-By": "shoal"}
	b := New(Options{})
	defer b.Close(context.Background())
	err := b.Apply(context.Background(), cfg)
	if err == nil || !strings.HasPrefix(err.Error(), "listener web/0: response header X-Powered-By: ALB sets only") {
		t.Errorf("got %v, want the listener's header error", err)
	}
}

// TestHeaders_EveryAnswer: the listener's response headers are on every
// answer, replacing the target's; RemoveServer drops the load balancer's
// own Server header, never the target's.
func TestHeaders_EveryAnswer(t *testing.T) {
	pathIs := func(v string) routing.Condition {
		return routing.Condition{Field: routing.PathPattern, Values: []string{v}}
	}
	l := routing.Listener{Default: forwardAction("api"), Rules: []routing.Rule{
		rule(1, fixedAction(403, "no"), pathIs("/fixed")),
		rule(2, routing.Action{Type: routing.Redirect, Redirect: &routing.RedirectAction{Path: "/elsewhere", StatusCode: 302}}, pathIs("/redirect")),
		rule(3, forwardAction("empty"), pathIs("/unavailable")),
	}}
	hm := HeaderModification{Response: map[string]string{
		"X-Frame-Options":             "DENY",
		"Strict-Transport-Security":   "max-age=63072000",
		"Access-Control-Allow-Origin": "*",
		"X-Content-Type-Options":      "",
	}, RemoveServer: true}
	rd := newEchoed(t, l, hm, "api")
	want := http.Header{"X-Frame-Options": {"DENY"}, "Strict-Transport-Security": {"max-age=63072000"}, "Access-Control-Allow-Origin": {"*"}}
	tests := []struct {
		path, server string
		status       int
	}{
		{"/forwarded", "echo", 200},
		{"/fixed", "", 403},
		{"/redirect", "", 302},
		{"/unavailable", "", 503},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, _ := rd.do(t, http.MethodGet, tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			got := http.Header{}
			for k := range want {
				got[k] = resp.Header.Values(k)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("headers (-want +got):\n%s", d)
			}
			if s := resp.Header.Values("Server"); strings.Join(s, ",") != tt.server {
				t.Errorf("Server %q, want %q", s, tt.server)
			}
			if resp.Header.Get("X-Content-Type-Options") != "" {
				t.Error("an empty value set X-Content-Type-Options")
			}
		})
	}
}

// TestHeaders_ServerStaysWhenNotRemoved: without RemoveServer the load
// balancer's pages say Server: shoal, and nothing is wrapped.
func TestHeaders_ServerStaysWhenNotRemoved(t *testing.T) {
	rd := newEchoed(t, routing.Listener{Default: forwardAction("empty")}, HeaderModification{})
	resp, _ := rd.do(t, http.MethodGet, "/", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Server") != serverHeader {
		t.Errorf("got %d, Server %q; want 503, Server %s", resp.StatusCode, resp.Header.Get("Server"), serverHeader)
	}
	if rh := newResponseHeaders(HeaderModification{Response: map[string]string{"X-Frame-Options": ""}}); rh != nil {
		t.Errorf("got %+v, want nil: nothing to do", rh)
	}
}

// TestHeaderWriter_Unwraps: flushing and the ResponseController reach the
// server's writer, with the headers applied before the status goes out;
// an informational answer is left alone.
func TestHeaderWriter_Unwraps(t *testing.T) {
	rh := newResponseHeaders(HeaderModification{Response: map[string]string{"X-Frame-Options": "DENY"}, RemoveServer: true})
	rec := httptest.NewRecorder()
	w := rh.wrap(rec)
	w.Header().Set("Server", serverHeader)
	w.WriteHeader(http.StatusEarlyHints)
	if rec.Header().Get("X-Frame-Options") != "" {
		t.Error("headers set on a 103")
	}
	if err := http.NewResponseController(w).Flush(); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed || rec.Header().Get("X-Frame-Options") != "DENY" || rec.Header().Get("Server") != "" {
		t.Errorf("flushed %v, headers %v", rec.Flushed, rec.Header())
	}
	// The shared values are not appended to in place.
	rec.Header().Add("X-Frame-Options", "SAMEORIGIN")
	if got := rh.set[0].values; len(got) != 1 {
		t.Errorf("shared values changed: %q", got)
	}
}
