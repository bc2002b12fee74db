package proxy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
	"github.com/shoalhq/shoal/internal/routing"
)

const testIssuer = "https://idp.example.com"

// jwtKeys are the tests' signing keys, made once (RSA key generation is
// slow, the more so with -race): three RSA keys of 2048 bits, one of 1024
// bits (too short for RS256) and a P-256 key.
var jwtKeys = sync.OnceValue(func() (k struct {
	rsa   [3]*rsa.PrivateKey
	short *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
}) {
	var err error
	for i := range k.rsa {
		if k.rsa[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	if k.short, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64json(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64url(b)
}

// rsaJWK is the JWK of an RSA public key, for RS256 signatures.
func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64url(k.N.Bytes()), "e": b64url(big.NewInt(int64(k.E)).Bytes())}
}

// ecJWK is the JWK of a P-256 public key.
func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	b, err := k.Bytes() // 0x04 || x || y
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64url(b[1:33]), "y": b64url(b[33:])}
}

// signJWT makes a compact JWS of header and claims, signed as header's alg
// says with key: *rsa.PrivateKey (RS256/384/512), *ecdsa.PrivateKey
// (ES256), []byte (HS256), nil (none).
func signJWT(header, claims map[string]any, key any) string {
	alg, _ := header["alg"].(string)
	return signAs(alg, header, claims, key)
}

// signAs is signJWT signing with alg, whatever header says.
func signAs(alg string, header, claims map[string]any, key any) string {
	input := b64json(header) + "." + b64json(claims)
	var sig []byte
	switch alg {
	case "RS256", "RS384", "RS512":
		h := map[string]crypto.Hash{"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512}[alg]
		d := h.New()
		d.Write([]byte(input))
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, key.(*rsa.PrivateKey), h, d.Sum(nil)); err != nil {
			panic(err)
		}
	case "ES256":
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			panic(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		panic(fmt.Sprint("signJWT: alg ", alg))
	}
	return input + "." + b64url(sig)
}

// goodClaims are claims a harness takes, at testStart; extra are added or,
// when nil, removed.
func goodClaims(extra map[string]any) map[string]any {
	c := map[string]any{"iss": testIssuer, "sub": "billing", "exp": testStart.Add(time.Hour).Unix(),
		"iat": testStart.Add(-time.Minute).Unix(), "nbf": testStart.Add(-time.Minute).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// goodToken is a valid token signed by key 0 (kid k0), with extra claims.
func goodToken(extra map[string]any) string {
	return signJWT(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k0"}, goodClaims(extra), jwtKeys().rsa[0])
}

// jwksServer is a JWKS endpoint that counts its fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu           sync.Mutex
	body         []byte
	status       int
	cacheControl string
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, cc := s.body, s.status, s.cacheControl
		s.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...map[string]any) {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	s.setBody(b)
}

func (s *jwksServer) setBody(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = b
}

func (s *jwksServer) set(status int, cacheControl string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.cacheControl = status, cacheControl
}

// jwtHarness is a balancer on a fake clock whose listener verifies tokens
// (issuer testIssuer) with the keys of a JWKS URL, then forwards to a
// backend that answers the Authorization header it got.
type jwtHarness struct {
	clock  *clocktest.Fake
	base   string
	client *http.Client
	hits   atomic.Int64 // requests that reached the backend
}

func newJWTHarness(t *testing.T, jwksURL string, claims ...routing.ClaimCheck) *jwtHarness {
	t.Helper()
	h := &jwtHarness{clock: clocktest.NewFake(testStart)}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		h.hits.Add(1)
		io.WriteString(w, strings.Join(r.Header.Values("Authorization"), "|"))
	}))
	t.Cleanup(backend.Close)
	jwt := &routing.JWTAction{JWKSURL: jwksURL, Issuer: testIssuer, Claims: claims}
	if err := validateJWTAction(jwt); err != nil {
		t.Fatalf("validateJWTAction: %v", err)
	}
	action := forwardAction("api")
	action.Auth = &routing.AuthAction{JWT: jwt}
	b := New(Options{Clock: h.clock})
	t.Cleanup(func() { b.Close(context.Background()) })
	cfg := Config{
		Listeners: []ListenerConfig{{Name: "web/0", Address: "127.0.0.1:0",
			Routes: routing.Listener{Default: action}, IdleTimeout: defaultIdle}},
		TargetGroups: map[string]TargetGroupConfig{"api": testGroup()},
	}
	if err := b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("api", backend.Listener.Addr().String()); err != nil {
		t.Fatal(err)
	}
	settleTargets(t, b)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	h.base, h.client = "http://"+b.ListenerAddrs()[0], &http.Client{Transport: tr}
	return h
}

// send sends GET / with the Authorization header auth (none when empty)
// and returns the answer and its body; a failure to send is an error of
// the test and an answer of status 0. It may be called from any goroutine.
func (h *jwtHarness) send(t *testing.T, auth string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.base+"/", nil)
	if err != nil {
		panic(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Errorf("GET /: %v", err)
		return &http.Response{Header: http.Header{}}, ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("GET /: reading the body: %v", err)
	}
	return resp, string(body)
}

// mustAccept checks that the token reaches the backend, with its
// Authorization header unchanged.
func (h *jwtHarness) mustAccept(t *testing.T, token string) {
	t.Helper()
	resp, body := h.send(t, "Bearer "+token)
	if resp.StatusCode != http.StatusOK || body != "Bearer "+token {
		t.Errorf("got %d %q (%s), want 200 and the backend to see the token", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
}

// mustReject checks that the request is answered 401 for why, as
// challenge says, and does not reach the backend.
func (h *jwtHarness) mustReject(t *testing.T, auth string, why error) {
	t.Helper()
	hits := h.hits.Load()
	resp, body := h.send(t, auth)
	want := challenge(why)
	if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || got != want {
		t.Errorf("got %d, WWW-Authenticate %q; want 401, %q", resp.StatusCode, got, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html" || !strings.Contains(body, "<title>401 Unauthorized</title>") {
		t.Errorf("got body %q (%s), want ALB's 401 page", body, ct)
	}
	if got := h.hits.Load(); got != hits {
		t.Errorf("the backend got %d requests, want none", got-hits)
	}
}

// challenge is the WWW-Authenticate header of a 401 for why.
func challenge(why error) string {
	if errors.Is(why, errNoBearer) {
		return "Bearer"
	}
	return `Bearer error="invalid_token", error_description="` + why.Error() + `"`
}

func TestJWT_ValidTokenIsForwardedUnchanged(t *testing.T) {
	jwks := newJWKSServer(t, rsaJWK("k0", &jwtKeys().rsa[0].PublicKey))
	h := newJWTHarness(t, jwks.URL)
	token := goodToken(nil)
	h.mustAccept(t, token)
	h.mustAccept(t, token)
	// The scheme is not case-sensitive.
	if resp, body := h.send(t, "bearer "+token); resp.StatusCode != http.StatusOK || body != "bearer "+token {
		t.Errorf("lower-case scheme: got %d %q, want 200 and the header unchanged", resp.StatusCode, body)
	}
	if got := jwks.fetches.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want once (then cached)", got)
	}
}

func TestJWT_TimeClaimsAtTheirLimits(t *testing.T) {
	jwks := newJWKSServer(t, rsaJWK("k0", &jwtKeys().rsa[0].PublicKey))
	h := newJWTHarness(t, jwks.URL)
	now := testStart.Unix()
	h.mustAccept(t, goodToken(map[string]any{"nbf": now, "iat": now, "exp": now + 1}))
	h.mustAccept(t, goodToken(map[string]any{"nbf": nil, "iat": nil}))
	h.mustAccept(t, goodToken(map[string]any{"exp": float64(now) + 0.5}))
	h.mustReject(t, "Bearer "+goodToken(map[string]any{"exp": now}), errTokenExpired)
	h.clock.Advance(time.Hour)
	h.mustReject(t, "Bearer "+goodToken(nil), errTokenExpired)
}

func TestJWT_RejectsWithALBsAnswer(t *testing.T) {
	k := jwtKeys()
	jwks := newJWKSServer(t,
		rsaJWK("k0", &k.rsa[0].PublicKey),
		ecJWK("ec", &k.ec.PublicKey),
		rsaJWK("short", &k.short.PublicKey),
		func() map[string]any { j := rsaJWK("enc", &k.rsa[2].PublicKey); j["use"] = "enc"; return j }(),
		func() map[string]any { j := rsaJWK("rs512", &k.rsa[2].PublicKey); j["alg"] = "RS512"; return j }(),
	)
	h := newJWTHarness(t, jwks.URL)
	now := testStart.Unix()
	hdr := func(alg, kid string) map[string]any { return map[string]any{"alg": alg, "kid": kid} }
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	valid := goodToken(nil)
	parts := strings.Split(valid, ".")
	tests := []struct {
		name string
		auth string
		why  error
	}{
		{"no Authorization header", "", errNoBearer},
		{"another scheme", "Basic dXNlcjpwYXNz", errNoBearer},
		{"Bearer without a token", "Bearer", errTokenMalformed},
		{"two segments", "Bearer " + parts[0] + "." + parts[1], errTokenMalformed},
		{"five segments (JWE)", "Bearer " + valid + ".a.b", errTokenMalformed},
		{"padded base64", "Bearer " + parts[0] + "=." + parts[1] + "." + parts[2], errTokenMalformed},
		{"not base64", "Bearer " + parts[0] + "." + parts[1] + ".!!", errTokenMalformed},
		{"header not JSON", "Bearer " + b64url([]byte("alg")) + "." + parts[1] + "." + parts[2], errTokenMalformed},
		{"expired", "Bearer " + goodToken(map[string]any{"exp": now - 1}), errTokenExpired},
		{"no exp", "Bearer " + goodToken(map[string]any{"exp": nil}), errTokenMalformed},
		{"exp a string", "Bearer " + goodToken(map[string]any{"exp": fmt.Sprint(now + 60)}), errTokenMalformed},
		{"nbf in the future", "Bearer " + goodToken(map[string]any{"nbf": now + 1}), errTokenNotYet},
		{"nbf a string", "Bearer " + goodToken(map[string]any{"nbf": "yesterday"}), errTokenMalformed},
		{"iat in the future", "Bearer " + goodToken(map[string]any{"iat": now + 60}), errTokenIssuedLate},
		{"another issuer", "Bearer " + goodToken(map[string]any{"iss": "https://evil.example.com"}), errTokenIssuer},
		{"issuer differs in case", "Bearer " + goodToken(map[string]any{"iss": strings.ToUpper(testIssuer)}), errTokenIssuer},
		{"no issuer", "Bearer " + goodToken(map[string]any{"iss": nil}), errTokenIssuer},
		{"signed by another key", "Bearer " + signJWT(hdr("RS256", "k0"), goodClaims(nil), k.rsa[1]), errTokenSignature},
		{"payload changed", "Bearer " + parts[0] + "." + b64json(goodClaims(map[string]any{"sub": "admin"})) + "." + parts[2], errTokenSignature},
		{"alg none", "Bearer " + signJWT(hdr("none", "k0"), goodClaims(nil), nil), errTokenAlgorithm},
		{"alg none without kid", "Bearer " + signJWT(map[string]any{"alg": "none"}, goodClaims(nil), nil), errTokenAlgorithm},
		{"HS256 keyed with the public key", "Bearer " + signJWT(hdr("HS256", "k0"), goodClaims(nil), pubDER), errTokenAlgorithm},
		{"RS384", "Bearer " + signJWT(hdr("RS384", "k0"), goodClaims(nil), k.rsa[0]), errTokenAlgorithm},
		{"RS512 with a key for RS512", "Bearer " + signJWT(hdr("RS512", "rs512"), goodClaims(nil), k.rsa[2]), errTokenAlgorithm},
		{"RS256 with a key for RS512", "Bearer " + signJWT(hdr("RS256", "rs512"), goodClaims(nil), k.rsa[2]), errUnknownKey},
		{"ES256, the key in the set", "Bearer " + signJWT(hdr("ES256", "ec"), goodClaims(nil), k.ec), errTokenAlgorithm},
		{"no alg", "Bearer " + signAs("RS256", map[string]any{"kid": "k0"}, goodClaims(nil), k.rsa[0]), errTokenAlgorithm},
		{"alg in lower case", "Bearer " + signAs("RS256", hdr("rs256", "k0"), goodClaims(nil), k.rsa[0]), errTokenAlgorithm},
		{"ALG instead of alg", "Bearer " + signAs("RS256", map[string]any{"ALG": "RS256", "kid": "k0"}, goodClaims(nil), k.rsa[0]), errTokenAlgorithm},
		{"crit", "Bearer " + signJWT(map[string]any{"alg": "RS256", "kid": "k0", "crit": []string{"exp"}, "exp": 1}, goodClaims(nil), k.rsa[0]), errTokenCrit},
		{"unknown kid", "Bearer " + signJWT(hdr("RS256", "k9"), goodClaims(nil), k.rsa[0]), errUnknownKey},
		{"no kid", "Bearer " + signJWT(map[string]any{"alg": "RS256"}, goodClaims(nil), k.rsa[0]), errUnknownKey},
		{"kid a number", "Bearer " + signJWT(map[string]any{"alg": "RS256", "kid": 7}, goodClaims(nil), k.rsa[0]), errTokenMalformed},
		{"key shorter than 2048 bits", "Bearer " + signJWT(hdr("RS256", "short"), goodClaims(nil), k.short), errUnknownKey},
		{"key for encryption", "Bearer " + signJWT(hdr("RS256", "enc"), goodClaims(nil), k.rsa[2]), errUnknownKey},
		{"claims not an object", "Bearer " + signJWT(hdr("RS256", "k0"), nil, k.rsa[0]), errTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { h.mustReject(t, tt.auth, tt.why) })
	}
	h.mustAccept(t, valid) // and nothing above broke the key set
}

func TestJWT_AdditionalClaims(t *testing.T) {
	jwks := newJWKSServer(t, rsaJWK("k0", &jwtKeys().rsa[0].PublicKey))
	single := routing.ClaimCheck{Name: "aud", Format: "single-string", Values: []string{"billing", "orders"}}
	array := routing.ClaimCheck{Name: "groups", Format: "string-array", Values: []string{"admin", "ops"}}
	spaced := routing.ClaimCheck{Name: "scope", Format: "space-separated-values", Values: []string{"orders:write"}}
	tests := []struct {
		name   string
		check  routing.ClaimCheck
		claims map[string]any
		ok     bool
	}{
		{"single-string equal to a value", single, map[string]any{"aud": "orders"}, true},
		{"single-string equal to none", single, map[string]any{"aud": "payroll"}, false},
		{"single-string differing in case", single, map[string]any{"aud": "Orders"}, false},
		{"single-string holding a value and more", single, map[string]any{"aud": "orders billing"}, false},
		{"single-string given an array", single, map[string]any{"aud": []string{"orders"}}, false},
		{"single-string given a number", single, map[string]any{"aud": 5}, false},
		{"single-string missing", single, nil, false},
		{"string-array holding a value", array, map[string]any{"groups": []string{"dev", "ops"}}, true},
		{"string-array holding two values", array, map[string]any{"groups": []string{"admin", "ops"}}, true},
		{"string-array holding none", array, map[string]any{"groups": []string{"dev"}}, false},
		{"string-array empty", array, map[string]any{"groups": []string{}}, false},
		{"string-array given a string", array, map[string]any{"groups": "admin"}, false},
		{"string-array with a non-string", array, map[string]any{"groups": []any{"admin", 1}}, false},
		{"string-array with a null", array, map[string]any{"groups": []any{"admin", nil}}, false},
		{"space-separated holding the value", spaced, map[string]any{"scope": "orders:read orders:write"}, true},
		{"space-separated with extra spaces", spaced, map[string]any{"scope": " orders:read  orders:write "}, true},
		{"space-separated alone", spaced, map[string]any{"scope": "orders:write"}, true},
		{"space-separated holding none", spaced, map[string]any{"scope": "orders:read"}, false},
		{"space-separated, a prefix only", spaced, map[string]any{"scope": "orders:writer"}, false},
		{"space-separated given an array", spaced, map[string]any{"scope": []string{"orders:write"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newJWTHarness(t, jwks.URL, tt.check)
			token := goodToken(tt.claims)
			if tt.ok {
				h.mustAccept(t, token)
				return
			}
			h.mustReject(t, "Bearer "+token, fmt.Errorf("the token's %s claim does not hold an expected value", tt.check.Name))
		})
	}
	t.Run("every claim must hold", func(t *testing.T) {
		h := newJWTHarness(t, jwks.URL, single, spaced)
		h.mustAccept(t, goodToken(map[string]any{"aud": "billing", "scope": "orders:write"}))
		h.mustReject(t, "Bearer "+goodToken(map[string]any{"aud": "billing", "scope": "orders:read"}),
			errors.New("the token's scope claim does not hold an expected value"))
	})
}

// TestJWT_UnknownKidRefreshesTheKeysAtMostSoOften rotates the keys: a token
// of a new kid fetches the set again, but no more often than every
// jwksMinInterval, and a flood of requests of made-up kids fetches it once.
func TestJWT_UnknownKidRefreshesTheKeysAtMostSoOften(t *testing.T) {
	k := jwtKeys()
	jwks := newJWKSServer(t, rsaJWK("k0", &k.rsa[0].PublicKey))
	h := newJWTHarness(t, jwks.URL)
	h.mustAccept(t, goodToken(nil))
	rotated := signJWT(map[string]any{"alg": "RS256", "kid": "k1"}, goodClaims(nil), k.rsa[1])
	jwks.setKeys(rsaJWK("k0", &k.rsa[0].PublicKey), rsaJWK("k1", &k.rsa[1].PublicKey))

	// Fetched just now: the new kid waits for the interval.
	h.mustReject(t, "Bearer "+rotated, errUnknownKey)
	if got := jwks.fetches.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times within %v, want once", got, jwksMinInterval)
	}
	h.clock.Advance(jwksMinInterval)
	h.mustAccept(t, rotated)
	h.mustAccept(t, goodToken(nil))
	if got := jwks.fetches.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2: the new kid fetched it again", got)
	}

	flood := func() {
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				token := signJWT(map[string]any{"alg": "RS256", "kid": fmt.Sprint("made-up-", i)}, goodClaims(nil), k.rsa[2])
				h.mustReject(t, "Bearer "+token, errUnknownKey)
			})
		}
		wg.Wait()
	}
	flood()
	if got := jwks.fetches.Load(); got != 2 {
		t.Errorf("made-up kids right after a fetch: JWKS fetched %d times, want still 2", got)
	}
	h.clock.Advance(jwksMinInterval)
	flood()
	if got := jwks.fetches.Load(); got != 3 {
		t.Errorf("made-up kids after the interval: JWKS fetched %d times, want 3 (one more)", got)
	}
	// A key dropped from the set is no longer accepted once refetched.
	jwks.setKeys(rsaJWK("k1", &k.rsa[1].PublicKey))
	h.clock.Advance(jwksDefaultTTL)
	h.mustReject(t, "Bearer "+goodToken(nil), errUnknownKey)
	h.mustAccept(t, rotated)
}

func TestJWT_KeysAreCachedAsCacheControlSays(t *testing.T) {
	jwks := newJWKSServer(t, rsaJWK("k0", &jwtKeys().rsa[0].PublicKey))
	jwks.set(http.StatusOK, "public, max-age=120")
	h := newJWTHarness(t, jwks.URL)
	token := goodToken(map[string]any{"exp": testStart.Add(24 * time.Hour).Unix()})
	h.mustAccept(t, token)
	h.clock.Advance(119 * time.Second)
	h.mustAccept(t, token)
	if got := jwks.fetches.Load(); got != 1 {
		t.Fatalf("within max-age: JWKS fetched %d times, want once", got)
	}
	h.clock.Advance(time.Second)
	h.mustAccept(t, token)
	if got := jwks.fetches.Load(); got != 2 {
		t.Fatalf("after max-age: JWKS fetched %d times, want 2", got)
	}
	// The endpoint fails: the keys fetched before stay in use, and it is
	// tried again no more than every jwksMinInterval.
	jwks.set(http.StatusInternalServerError, "")
	h.clock.Advance(2 * time.Minute)
	h.mustAccept(t, token)
	h.mustAccept(t, token)
	if got := jwks.fetches.Load(); got != 3 {
		t.Fatalf("failing endpoint: JWKS fetched %d times, want 3", got)
	}
	h.clock.Advance(jwksMinInterval)
	h.mustAccept(t, token)
	if got := jwks.fetches.Load(); got != 4 {
		t.Fatalf("failing endpoint after the interval: JWKS fetched %d times, want 4", got)
	}
}

func TestJWT_KeySetTTL(t *testing.T) {
	tests := []struct {
		cacheControl []string
		want         time.Duration
	}{
		{nil, jwksDefaultTTL},
		{[]string{"max-age=600"}, 10 * time.Minute},
		{[]string{"public", "max-age=120, must-revalidate"}, 2 * time.Minute},
		{[]string{`max-age="300"`}, 5 * time.Minute},
		{[]string{"max-age=5"}, jwksMinTTL},
		{[]string{"max-age=0"}, jwksMinTTL},
		{[]string{"max-age=31536000"}, jwksMaxTTL},
		{[]string{"max-age=99999999999999999999"}, jwksDefaultTTL},
		{[]string{"max-age=-1"}, jwksDefaultTTL},
		{[]string{"max-age=soon"}, jwksDefaultTTL},
		{[]string{"no-store"}, jwksMinTTL},
		{[]string{"max-age=600, No-Cache"}, jwksMinTTL},
	}
	for _, tt := range tests {
		h := http.Header{"Cache-Control": tt.cacheControl}
		if got := jwksTTL(h); got != tt.want {
			t.Errorf("Cache-Control %q: got %v, want %v", tt.cacheControl, got, tt.want)
		}
	}
}

func TestJWT_UnreachableKeysAnswer401AtOnce(t *testing.T) {
	h := newJWTHarness(t, "http://"+refusedAddr(t)+"/.well-known/jwks.json")
	start := time.Now()
	h.mustReject(t, "Bearer "+goodToken(nil), errKeysUnavailable)
	h.mustReject(t, "Bearer "+goodToken(nil), errKeysUnavailable)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v, want an answer at once", took)
	}
}

// TestJWT_RequestsWaitForTheFetchUnderWay: requests arriving while the keys
// are being fetched wait for that fetch and use its keys.
func TestJWT_RequestsWaitForTheFetchUnderWay(t *testing.T) {
	inner := newJWKSServer(t, rsaJWK("k0", &jwtKeys().rsa[0].PublicKey))
	var fetches atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		time.Sleep(300 * time.Millisecond)
		inner.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	h := newJWTHarness(t, slow.URL)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { h.mustAccept(t, goodToken(nil)) })
	}
	wg.Wait()
	if got := fetches.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want once for all the requests", got)
	}
}

// TestJWT_HangingKeyEndpointIsFetchedOnceWithinTheTimeout: requests arriving
// while the endpoint does not answer wait for the one fetch, which gives up
// after jwksTimeout; every one of them gets 401.
func TestJWT_HangingKeyEndpointIsFetchedOnceWithinTheTimeout(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int64
	release := make(chan struct{})
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(jwks.Close)
	t.Cleanup(func() { close(release) }) // before Close: cleanups run last first
	h := newJWTHarness(t, jwks.URL)
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { h.mustReject(t, "Bearer "+goodToken(nil), errKeysUnavailable) })
	}
	wg.Wait()
	if took := time.Since(start); took < jwksTimeout || took > jwksTimeout+3*time.Second {
		t.Errorf("took %v, want about %v (the fetch timeout)", took, jwksTimeout)
	}
	if got := fetches.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want once for all the waiting requests", got)
	}
}

func TestJWT_KeySetBeyondALBsLimitsIsRefused(t *testing.T) {
	k := jwtKeys()
	t.Run("more than 10 keys", func(t *testing.T) {
		keys := []map[string]any{rsaJWK("k0", &k.rsa[0].PublicKey)}
		for i := range jwksMaxKeys {
			keys = append(keys, ecJWK(fmt.Sprint("ec", i), &k.ec.PublicKey))
		}
		jwks := newJWKSServer(t, keys...)
		newJWTHarness(t, jwks.URL).mustReject(t, "Bearer "+goodToken(nil), errKeysUnavailable)
		jwks.setKeys(keys[:jwksMaxKeys]...)
		h := newJWTHarness(t, jwks.URL)
		h.mustAccept(t, goodToken(nil))
	})
	t.Run("larger than 150 KB", func(t *testing.T) {
		set := map[string]any{"keys": []any{rsaJWK("k0", &k.rsa[0].PublicKey)}, "padding": strings.Repeat("x", jwksMaxBytes)}
		body, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		jwks := newJWKSServer(t)
		jwks.setBody(body)
		newJWTHarness(t, jwks.URL).mustReject(t, "Bearer "+goodToken(nil), errKeysUnavailable)
	})
	t.Run("not a key set", func(t *testing.T) {
		jwks := newJWKSServer(t)
		jwks.setBody([]byte("<html>sign in</html>"))
		newJWTHarness(t, jwks.URL).mustReject(t, "Bearer "+goodToken(nil), errKeysUnavailable)
	})
}

func TestJWT_KeyFetchFollowsRedirectsOnlyToTheSameHost(t *testing.T) {
	jwks := newJWKSServer(t, rsaJWK("k0", &jwtKeys().rsa[0].PublicKey))
	var elsewhere atomic.Int64
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/keys", http.StatusFound)
		case "/keys":
			jwks.mu.Lock()
			body := jwks.body
			jwks.mu.Unlock()
			w.Write(body)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			elsewhere.Add(1)
			http.Redirect(w, r, jwks.URL, http.StatusFound)
		}
	}))
	t.Cleanup(redirector.Close)

	newJWTHarness(t, redirector.URL+"/same").mustAccept(t, goodToken(nil))
	newJWTHarness(t, redirector.URL+"/loop").mustReject(t, "Bearer "+goodToken(nil), errKeysUnavailable)
	newJWTHarness(t, redirector.URL+"/other").mustReject(t, "Bearer "+goodToken(nil), errKeysUnavailable)
	if elsewhere.Load() != 1 || jwks.fetches.Load() != 0 {
		t.Errorf("the redirect to another host was followed (%d fetches there)", jwks.fetches.Load())
	}
}

// TestJWT_BalancersHaveTheirOwnKeys: two balancers using one JWKS URL each
// fetch it (on their own clocks).
func TestJWT_BalancersHaveTheirOwnKeys(t *testing.T) {
	jwks := newJWKSServer(t, rsaJWK("k0", &jwtKeys().rsa[0].PublicKey))
	newJWTHarness(t, jwks.URL).mustAccept(t, goodToken(nil))
	newJWTHarness(t, jwks.URL).mustAccept(t, goodToken(nil))
	if got := jwks.fetches.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want once by each balancer", got)
	}
}

func TestValidateJWTAction(t *testing.T) {
	ok := func() *routing.JWTAction {
		return &routing.JWTAction{JWKSURL: "https://idp.example.com/.well-known/jwks.json", Issuer: testIssuer,
			Claims: []routing.ClaimCheck{{Name: "scope", Format: "space-separated-values", Values: []string{"read", "write"}}}}
	}
	long := strings.Repeat("x", 257)
	tests := []struct {
		name   string
		change func(a *routing.JWTAction)
		want   string // in the error; "" for none
	}{
		{"valid", func(*routing.JWTAction) {}, ""},
		{"http on loopback", func(a *routing.JWTAction) { a.JWKSURL = "http://127.0.0.1:8080/jwks" }, ""},
		{"http on localhost", func(a *routing.JWTAction) { a.JWKSURL = "http://localhost:8080/jwks" }, ""},
		{"http on ::1", func(a *routing.JWTAction) { a.JWKSURL = "http://[::1]:8080/jwks" }, ""},
		{"10 claims", func(a *routing.JWTAction) {
			for i := range 9 {
				a.Claims = append(a.Claims, routing.ClaimCheck{Name: fmt.Sprint("c", i), Format: "single-string", Values: []string{"v"}})
			}
		}, ""},
		{"no JWKS URL", func(a *routing.JWTAction) { a.JWKSURL = "" }, "JWKS endpoint is required"},
		{"http elsewhere", func(a *routing.JWTAction) { a.JWKSURL = "http://idp.example.com/jwks" }, "must be https"},
		{"not a URL", func(a *routing.JWTAction) { a.JWKSURL = "idp.example.com/jwks" }, "not a full URL"},
		{"JWKS URL too long", func(a *routing.JWTAction) { a.JWKSURL = "https://idp.example.com/" + long }, "at most 256"},
		{"no issuer", func(a *routing.JWTAction) { a.Issuer = "" }, "issuer is required"},
		{"issuer too long", func(a *routing.JWTAction) { a.Issuer = long }, "at most 256"},
		{"11 claims", func(a *routing.JWTAction) {
			for i := range 10 {
				a.Claims = append(a.Claims, routing.ClaimCheck{Name: fmt.Sprint("c", i), Format: "single-string", Values: []string{"v"}})
			}
		}, "11 additional claims"},
		{"claim without a name", func(a *routing.JWTAction) { a.Claims[0].Name = "" }, "a name is required"},
		{"claim exp", func(a *routing.JWTAction) { a.Claims[0].Name = "exp" }, "ALB always checks exp"},
		{"claim iat", func(a *routing.JWTAction) { a.Claims[0].Name = "iat" }, "ALB always checks iat"},
		{"unknown format", func(a *routing.JWTAction) { a.Claims[0].Format = "single_string" }, `format "single_string"`},
		{"no values", func(a *routing.JWTAction) { a.Claims[0].Values = nil }, "at least one value"},
		{"11 values", func(a *routing.JWTAction) { a.Claims[0].Values = strings.Split("a b c d e f g h i j k", " ") }, "11 values"},
		{"value too long", func(a *routing.JWTAction) { a.Claims[0].Values = []string{long} }, "at most 256"},
		{"space in a space-separated value", func(a *routing.JWTAction) { a.Claims[0].Values = []string{"read write"} }, "holds no space"},
		{"space in a single string", func(a *routing.JWTAction) {
			a.Claims[0].Format, a.Claims[0].Values = "single-string", []string{"read write"}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ok()
			tt.change(a)
			err := validateJWTAction(a)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if err := validateJWTAction(nil); err == nil {
		t.Error("nil action: got no error, want one")
	}
}

// FuzzVerifyJWT checks that no token makes checkToken panic, and that
// none verifies but the one valid token it starts from.
func FuzzVerifyJWT(f *testing.F) {
	k := jwtKeys()
	action := &routing.JWTAction{JWKSURL: "https://idp.example.com/jwks", Issuer: testIssuer,
		Claims: []routing.ClaimCheck{{Name: "scope", Format: "space-separated-values", Values: []string{"read"}}}}
	valid := goodToken(map[string]any{"scope": "read write"})
	keyFor := func(kid string) (*rsa.PublicKey, error) {
		if kid == "k0" {
			return &k.rsa[0].PublicKey, nil
		}
		return nil, errUnknownKey
	}
	if err := checkToken(valid, action, testStart, keyFor); err != nil {
		f.Fatalf("the valid token: %v", err)
	}
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + b64json(goodClaims(map[string]any{"scope": "read"})) + "." + parts[2],
		signJWT(map[string]any{"alg": "none", "kid": "k0"}, goodClaims(nil), nil),
		signJWT(map[string]any{"alg": "HS256", "kid": "k0"}, goodClaims(nil), []byte("secret")),
		signJWT(map[string]any{"alg": "RS256", "kid": "k0"}, goodClaims(map[string]any{"exp": "x"}), k.rsa[1]),
		"", ".", "..", "...", "a.b.c", "eyJ9.e30.",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if err := checkToken(token, action, testStart, keyFor); err == nil && token != valid {
			t.Errorf("token %q verified", token)
		}
	})
}
