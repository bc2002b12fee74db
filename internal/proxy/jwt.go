package proxy

// ALB's jwt-validation action: a request must carry a JSON Web Token in
// "Authorization: Bearer <token>", signed with a key of the configured JSON
// Web Key Set (JWKS), before the rule's own action runs.
//
// What ALB does, and where AWS says so:
//
//   - "ALB will validate the token signature and requires two mandatory
//     claims: 'iss' (issuer) and 'exp' (expiration). Additionally, if
//     present in the token, ALB will also validate 'nbf' (not before) and
//     'iat' (issued at time) claims. You can configure up to 10 additional
//     claims", in three formats: "Single-string: A single text value",
//     "Space-separated values: Multiple values separated by spaces (maximum
//     10 values)", "String-array: An array of text values (maximum 10
//     values)". "If the token is valid, the load balancer forwards the
//     request with token as is to the target. Otherwise, it rejects the
//     request." "Only the RS256 algorithm is supported." The JWKS endpoint
//     answers with at most 150 KB and 10 keys; "if the JWKS response ...
//     exceeds either of these limits, Application Load Balancer will not
//     forward requests to your backend targets" (listener-verify-jwt).
//   - The JWKS endpoint "must be a full URL, including the HTTPS protocol,
//     the domain, and the path", the issuer and the endpoint up to 256
//     characters, "the maximum size of the list [of additional claims] is
//     10", and "we validate the exp, iss, nbf, and iat claims by default"
//     (JwtValidationActionConfig).
//   - An additional claim's Name can't be exp, iss, nbf or iat; its Format
//     is single-string, string-array or space-separated-values; its Values
//     are at most 10, "each value can be up to 256 characters in length. If
//     the format is space-separated-values, the values can't include
//     spaces" (JwtValidationActionAdditionalClaim).
//   - jwt-validation is for rules of HTTPS listeners (Action); package spec
//     enforces that.
//
// Where AWS writes nothing down, shoal chooses, and says so here:
//
//   - A token must hold at least one of a claim's Values: a single-string
//     claim is a JSON string equal to one of them; a string-array claim a
//     JSON array of strings one of which equals one of them; a
//     space-separated-values claim a JSON string one of whose
//     space-separated parts does. A missing claim, or one of another JSON
//     type, fails. Comparisons are exact (case-sensitive).
//   - exp, nbf and iat are checked with no clock leeway: exp must be after
//     now, nbf and iat not after now.
//   - The answer to a request that fails: 401 with ALB's HTML error page
//     and, as RFC 6750 §3 asks of a resource server, a
//     WWW-Authenticate: Bearer header; with error="invalid_token" and an
//     error_description saying why when a bearer token was sent.
//   - A token is checked with the key whose kid equals its own (no kid: a
//     key without one). RSA keys shorter than 2048 bits are ignored (RFC
//     7518 §3.3), and so are keys for another use (use other than sig) or
//     another algorithm (alg other than RS256). A token whose header has
//     crit is refused (RFC 7515 §4.1.11: no extension is understood).
//   - The key set is fetched on first use and cached as long as its
//     Cache-Control max-age says (5 minutes without one; never less than 1
//     minute nor more than 1 hour); a token naming a kid the set lacks
//     fetches it again; but a key set is never fetched twice within 10
//     seconds, so that a flood of made-up kids cannot hammer the endpoint.
//     One fetch runs at a time: requests that need the keys meanwhile wait
//     for it (or for their client to go away). A fetch gives up after 5
//     seconds. When a fetch fails, the keys fetched before stay in use.
//   - The fetch follows at most 3 redirects, and only to the same scheme
//     and host: a JWKS endpoint cannot send the load balancer elsewhere
//     (another host, or from https to http). Proxies come from the
//     environment (HTTPS_PROXY, NO_PROXY).
//   - As package spec does, the endpoint may also be http on a loopback
//     address, for an identity provider on this machine.
//
// Sources:
//
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-verify-jwt.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_JwtValidationActionConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_JwtValidationActionAdditionalClaim.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Action.html
//   - https://www.rfc-editor.org/rfc/rfc6750#section-3 (WWW-Authenticate)
//   - https://www.rfc-editor.org/rfc/rfc7519 (JWT), rfc7515 (JWS), rfc7517 (JWK), rfc7518 (JWA)

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shoalhq/shoal/internal/clock"
	"github.com/shoalhq/shoal/internal/routing"
)

// ALB's limits (listener-verify-jwt, JwtValidationActionConfig,
// JwtValidationActionAdditionalClaim).
const (
	jwksMaxBytes    = 150 << 10 // "Maximum response size: 150 KB"
	jwksMaxKeys     = 10
	jwtMaxClaims    = 10
	jwtMaxValues    = 10
	jwtMaxFieldLen  = 256 // issuer, JWKS endpoint, each claim value
	jwtAlgorithm    = "RS256"
	jwtMinRSAKeyLen = 2048 // RFC 7518 §3.3
	jwtMaxRSAKeyLen = 8192 // more is no key anyone uses, and slow to check
)

// How shoal fetches and caches a key set (AWS does not say how ALB does).
const (
	jwksTimeout      = 5 * time.Second  // one fetch, in real time
	jwksMinInterval  = 10 * time.Second // between two fetches of a set
	jwksDefaultTTL   = 5 * time.Minute
	jwksMinTTL       = time.Minute
	jwksMaxTTL       = time.Hour
	jwksMaxRedirects = 3
)

// Why a token is refused; the texts are the error_description of the 401.
var (
	errNoBearer        = errors.New("no bearer token") // answered without an error code
	errTokenMalformed  = errors.New("the token is malformed")
	errTokenAlgorithm  = errors.New("the token is not signed with RS256")
	errTokenCrit       = errors.New("the token has critical header parameters")
	errKeysUnavailable = errors.New("the signing keys could not be fetched")
	errUnknownKey      = errors.New("no signing key has the token's kid")
	errTokenSignature  = errors.New("the token's signature is invalid")
	errTokenIssuer     = errors.New("the token's issuer is not the expected one")
	errTokenExpired    = errors.New("the token has expired")
	errTokenNotYet     = errors.New("the token is not valid yet")
	errTokenIssuedLate = errors.New("the token is issued in the future")
)

// validateJWTAction checks a jwt-validation action against ALB's rules:
// a JWKS URL and an issuer of up to 256 characters, the URL https (or http
// on a loopback address, for a local identity provider); up to 10
// additional claims, none named exp, iss, nbf or iat, each of a known
// format with 1 to 10 values of up to 256 characters (without spaces for
// space-separated-values). It returns every problem found.
func validateJWTAction(a *routing.JWTAction) error {
	if a == nil {
		return errors.New("jwt-validation without its configuration")
	}
	var errs []error
	if err := validJWKSURL(a.JWKSURL); err != nil {
		errs = append(errs, err)
	}
	switch n := utf8.RuneCountInString(a.Issuer); {
	case n == 0:
		errs = append(errs, errors.New("jwt-validation: issuer is required"))
	case n > jwtMaxFieldLen:
		errs = append(errs, fmt.Errorf("jwt-validation: issuer of %d characters: ALB takes at most %d", n, jwtMaxFieldLen))
	}
	if len(a.Claims) > jwtMaxClaims {
		errs = append(errs, fmt.Errorf("jwt-validation: %d additional claims: ALB takes at most %d", len(a.Claims), jwtMaxClaims))
	}
	for _, c := range a.Claims {
		errs = append(errs, validClaimCheck(c)...)
	}
	return errors.Join(errs...)
}

func validJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("jwt-validation: JWKS endpoint is required")
	case utf8.RuneCountInString(raw) > jwtMaxFieldLen:
		return fmt.Errorf("jwt-validation: JWKS endpoint of %d characters: ALB takes at most %d", utf8.RuneCountInString(raw), jwtMaxFieldLen)
	case err != nil || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("jwt-validation: JWKS endpoint %q is not a full URL like https://idp.example.com/.well-known/jwks.json", raw)
	case u.Scheme == "https", u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("jwt-validation: JWKS endpoint %q must be https (ALB requires it), or http on a loopback address", raw)
}

func isLoopbackHost(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "localhost" || err == nil && a.IsLoopback()
}

func validClaimCheck(c routing.ClaimCheck) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("jwt-validation: claim %q: "+format, append([]any{c.Name}, args...)...))
	}
	switch c.Name {
	case "":
		fail("a name is required")
	case "exp", "iss", "nbf", "iat":
		fail("ALB always checks %s: it cannot be an additional claim", c.Name)
	}
	if !slices.Contains([]string{"single-string", "string-array", "space-separated-values"}, c.Format) {
		fail("format %q: use single-string, string-array or space-separated-values", c.Format)
	}
	switch {
	case len(c.Values) == 0:
		fail("at least one value is required")
	case len(c.Values) > jwtMaxValues:
		fail("%d values: ALB takes at most %d", len(c.Values), jwtMaxValues)
	}
	for _, v := range c.Values {
		switch {
		case utf8.RuneCountInString(v) > jwtMaxFieldLen:
			fail("a value of %d characters: ALB takes at most %d", utf8.RuneCountInString(v), jwtMaxFieldLen)
		case c.Format == "space-separated-values" && (v == "" || strings.Contains(v, " ")):
			fail("value %q: a space-separated value is not empty and holds no space", v)
		}
	}
	return errs
}

// verifyJWT carries out a jwt-validation action: true when the request
// carries a valid token and goes on, unchanged, to the rule's action;
// false when it has been answered 401.
func (rt *route) verifyJWT(w http.ResponseWriter, r *http.Request, a *routing.JWTAction, d *deps) bool {
	token, err := bearerToken(r.Header)
	if err == nil {
		ks := d.keySet(a.JWKSURL)
		err = checkToken(token, a, d.clock.Now(), func(kid string) (*rsa.PublicKey, error) {
			return ks.key(r.Context(), kid, d.clock)
		})
	}
	if err == nil {
		return true
	}
	challenge := "Bearer"
	if !errors.Is(err, errNoBearer) {
		challenge = `Bearer error="invalid_token", error_description="` + quotable(err.Error()) + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, http.StatusUnauthorized)
	return false
}

// bearerToken returns the token of the request's Authorization header:
// errNoBearer when there is none or it is not of the Bearer scheme (not
// case-sensitive, RFC 7235 §2.1).
func bearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	if len(values) == 0 {
		return "", errNoBearer
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	switch token = strings.TrimLeft(token, " "); {
	case !strings.EqualFold(scheme, "Bearer"):
		return "", errNoBearer
	case len(values) > 1 || token == "":
		return "", errTokenMalformed
	}
	return token, nil
}

// quotable keeps the characters RFC 6750 §3 allows in a quoted
// error_description.
func quotable(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return -1
		}
		return c
	}, s)
}

// checkToken verifies a compact JWS token as ALB's jwt-validation does: its
// signature with the key keyFor returns for its kid, then its claims at
// now. It does no I/O but through keyFor.
func checkToken(token string, a *routing.JWTAction, now time.Time, keyFor func(kid string) (*rsa.PublicKey, error)) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || !isBase64URL(token) {
		return errTokenMalformed
	}
	var seg [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return errTokenMalformed
		}
		seg[i] = b
	}
	kid, err := checkHeader(seg[0])
	if err != nil {
		return err
	}
	key, err := keyFor(kid)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(token[:len(parts[0])+1+len(parts[1])]))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], seg[2]) != nil {
		return errTokenSignature
	}
	return checkClaims(seg[1], a, now)
}

// isBase64URL tells whether s holds only the characters of base64url
// segments and their dots: nothing a decoder would skip (line breaks).
func isBase64URL(s string) bool {
	for i := range len(s) {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// checkHeader returns the kid of a token's JOSE header, which must say
// RS256 and have no crit.
func checkHeader(b []byte) (string, error) {
	h, err := jsonObject(b)
	if err != nil {
		return "", err
	}
	if alg, ok := jsonString(h["alg"]); !ok || alg != jwtAlgorithm {
		return "", errTokenAlgorithm
	}
	if _, ok := h["crit"]; ok {
		return "", errTokenCrit
	}
	raw, ok := h["kid"]
	if !ok {
		return "", nil
	}
	kid, ok := jsonString(raw)
	if !ok {
		return "", errTokenMalformed
	}
	return kid, nil
}

// checkClaims checks a token's claims set: iss, exp, nbf and iat, then the
// action's additional claims.
func checkClaims(b []byte, a *routing.JWTAction, now time.Time) error {
	claims, err := jsonObject(b)
	if err != nil {
		return err
	}
	if iss, ok := jsonString(claims["iss"]); !ok || iss != a.Issuer {
		return errTokenIssuer
	}
	t := float64(now.UnixMicro()) / 1e6
	exp, ok := jsonNumber(claims["exp"])
	switch {
	case !ok:
		return errTokenMalformed // exp is required, and a NumericDate
	case t >= exp:
		return errTokenExpired
	}
	for _, c := range [...]struct {
		name string
		late error
	}{{"nbf", errTokenNotYet}, {"iat", errTokenIssuedLate}} {
		raw, present := claims[c.name]
		if !present {
			continue
		}
		v, ok := jsonNumber(raw)
		switch {
		case !ok:
			return errTokenMalformed
		case v > t:
			return c.late
		}
	}
	for _, c := range a.Claims {
		if !claimHolds(claims[c.Name], c) {
			return fmt.Errorf("the token's %s claim does not hold an expected value", c.Name)
		}
	}
	return nil
}

// claimHolds tells whether a claim's JSON value holds one of c's values, in
// c's format.
func claimHolds(raw json.RawMessage, c routing.ClaimCheck) bool {
	var have []string
	switch c.Format {
	case "single-string":
		s, ok := jsonString(raw)
		if !ok {
			return false
		}
		have = []string{s}
	case "space-separated-values":
		s, ok := jsonString(raw)
		if !ok {
			return false
		}
		have = slices.DeleteFunc(strings.Split(s, " "), func(v string) bool { return v == "" })
	case "string-array":
		var items []json.RawMessage
		if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
			return false
		}
		for _, item := range items {
			s, ok := jsonString(item)
			if !ok {
				return false
			}
			have = append(have, s)
		}
	}
	return slices.ContainsFunc(have, func(s string) bool { return slices.Contains(c.Values, s) })
}

// jsonObject decodes a JSON object, keeping its members' names exactly
// (encoding/json would match struct fields whatever their case).
func jsonObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errTokenMalformed
	}
	return m, nil
}

// jsonString is a JSON string's value; false for anything else (null too).
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonNumber is a JSON number's value; false for anything else.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	var f float64
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

// keySet is one JWKS endpoint's keys as a balancer caches them.
type keySet struct {
	url string
	log *slog.Logger

	mu sync.Mutex
	// keys by kid; nil until a fetch succeeds.
	keys map[string]*rsa.PublicKey
	// expires is when keys are due to be fetched again, and fetched when
	// the last fetch began, successful or not (zero: never), both on the
	// balancer's clock.
	expires, fetched time.Time
	// inFlight is closed when the running fetch ends; nil when none runs.
	inFlight chan struct{}
}

// keySets are a balancer's JWKS key sets, by URL.
type keySets struct {
	mu   sync.Mutex
	sets map[string]*keySet
}

// keySet returns the balancer's key set of url, made on first use.
func (d *deps) keySet(url string) *keySet {
	d.jwks.mu.Lock()
	defer d.jwks.mu.Unlock()
	ks := d.jwks.sets[url]
	if ks == nil {
		if d.jwks.sets == nil {
			d.jwks.sets = map[string]*keySet{}
		}
		ks = &keySet{url: url, log: d.log}
		d.jwks.sets[url] = ks
	}
	return ks
}

// key returns the key of kid. It fetches the set when it has none yet,
// has expired or lacks kid, unless the set was fetched less than
// jwksMinInterval ago; then, or when the fetch fails, it answers from the
// keys it has, expired or not. While another request fetches the set, it
// waits for that fetch (or for ctx to be done) and takes its keys.
func (ks *keySet) key(ctx context.Context, kid string, clk clock.Clock) (*rsa.PublicKey, error) {
	for waited := false; ; waited = true {
		now := clk.Now()
		ks.mu.Lock()
		key, known := ks.keys[kid]
		if known && now.Before(ks.expires) {
			ks.mu.Unlock()
			return key, nil
		}
		if done := ks.inFlight; done != nil && !waited {
			ks.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, errKeysUnavailable
			}
		}
		if waited || !ks.fetched.IsZero() && now.Sub(ks.fetched) < jwksMinInterval {
			have := ks.keys != nil
			ks.mu.Unlock()
			switch {
			case known:
				return key, nil
			case have:
				return nil, errUnknownKey
			}
			return nil, errKeysUnavailable
		}
		done := make(chan struct{})
		ks.inFlight, ks.fetched = done, now
		ks.mu.Unlock()
		ks.refresh(ctx, clk, done)
	}
}

// refresh fetches the set, keeps its keys if the fetch worked, and closes
// done. The fetch outlives ctx's cancellation (other requests may be
// waiting for it), not jwksTimeout.
func (ks *keySet) refresh(ctx context.Context, clk clock.Clock, done chan struct{}) {
	var (
		keys map[string]*rsa.PublicKey
		ttl  time.Duration
		err  = errKeysUnavailable
	)
	defer func() {
		ks.mu.Lock()
		if err == nil {
			ks.keys, ks.expires = keys, clk.Now().Add(ttl)
		}
		ks.inFlight = nil
		ks.mu.Unlock()
		close(done)
	}()
	keys, ttl, err = fetchJWKS(context.WithoutCancel(ctx), ks.url)
	if err != nil {
		ks.log.Warn("could not fetch the JSON Web Key Set", "url", ks.url, "err", err)
	}
}

// jwksClient fetches key sets: within jwksTimeout, without keeping
// connections (a set is fetched every few minutes at most), following
// redirects only to the same scheme and host.
var jwksClient = &http.Client{
	Timeout: jwksTimeout,
	Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: jwksTimeout}).DialContext,
		TLSHandshakeTimeout: jwksTimeout,
		DisableKeepAlives:   true,
		ForceAttemptHTTP2:   true,
	},
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		from := via[0].URL
		switch {
		case len(via) > jwksMaxRedirects:
			return fmt.Errorf("more than %d redirects", jwksMaxRedirects)
		case req.URL.Scheme != from.Scheme || !strings.EqualFold(req.URL.Host, from.Host):
			return fmt.Errorf("redirected to another host or scheme (%s://%s)", req.URL.Scheme, req.URL.Host)
		}
		return nil
	},
}

// fetchJWKS gets a key set: its usable keys by kid, and how long to keep
// them.
func fetchJWKS(ctx context.Context, url string) (map[string]*rsa.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := jwksClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) > jwksMaxBytes {
		return nil, 0, fmt.Errorf("the key set is larger than ALB's limit of %d bytes", jwksMaxBytes)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, jwksTTL(resp.Header), nil
}

// jwk is the part of a JSON Web Key that matters here (RFC 7517 §4, RFC
// 7518 §6.3.1).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// parseJWKS returns the RS256 signature keys of a key set by kid (the
// first of a kid), skipping the others; a set of more than ALB's 10 keys is
// refused whole.
func parseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if len(set.Keys) > jwksMaxKeys {
		return nil, fmt.Errorf("%d keys: ALB takes at most %d", len(set.Keys), jwksMaxKeys)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, raw := range set.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil || k.Kty != "RSA" || k.Use != "" && k.Use != "sig" || k.Alg != "" && k.Alg != jwtAlgorithm {
			continue
		}
		if _, dup := keys[k.Kid]; dup {
			continue
		}
		if pub, ok := rsaKey(k.N, k.E); ok {
			keys[k.Kid] = pub
		}
	}
	return keys, nil
}

// rsaKey makes a public key of a JWK's n and e, when they are a usable
// one.
func rsaKey(n64, e64 string) (*rsa.PublicKey, bool) {
	nb, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(n64, "="))
	eb, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(e64, "="))
	if err1 != nil || err2 != nil {
		return nil, false
	}
	n, e := new(big.Int).SetBytes(nb), new(big.Int).SetBytes(eb)
	if n.BitLen() < jwtMinRSAKeyLen || n.BitLen() > jwtMaxRSAKeyLen || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, false
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, true
}

// jwksTTL is how long to keep a key set: its Cache-Control max-age, within
// jwksMinTTL and jwksMaxTTL (jwksMinTTL for no-cache and no-store),
// jwksDefaultTTL without one.
func jwksTTL(h http.Header) time.Duration {
	ttl := jwksDefaultTTL
	for _, directive := range strings.Split(strings.Join(h.Values("Cache-Control"), ","), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return jwksMinTTL
		case "max-age":
			if s, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && s >= 0 {
				ttl = time.Duration(min(s, int64(jwksMaxTTL/time.Second))) * time.Second
			}
		}
	}
	return min(max(ttl, jwksMinTTL), jwksMaxTTL)
}
