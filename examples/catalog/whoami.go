package main

// GET /whoami: the user an Application Load Balancer signed in, read from
// the x-amzn-oidc-data header the way AWS tells apps behind ALB to read
// it ("User claims encoding and signature verification" in the ALB user
// guide):
//
//  1. split the JWT and decode its header: alg (ES256), kid and signer,
//     the load balancer's ARN, which may be checked against the app's own
//     (ALB_ARN);
//  2. fetch the public key named by kid, as PEM, from ALB's regional
//     endpoint https://public-keys.auth.elb.REGION.amazonaws.com/KID (or
//     from ALB_PUBLIC_KEY_URL, such as shoal's /oauth2/public-key/ on the
//     listener), and keep it: a key never changes under its kid;
//  3. verify the ES256 signature over the header and payload as sent, and
//     the expiry.
//
// ALB encodes each part base64url *with* padding, which RFC 7515 forbids and
// strict JWT libraries refuse: the padding is stripped before decoding, and
// the signature covers the parts as sent, padding included.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	// claimsHeader is the header ALB sends the signed user claims in
	// (Header.Get canonicalises its name).
	claimsHeader = "x-amzn-oidc-data"
	// keyFetchTimeout bounds a fetch of a public key.
	keyFetchTimeout = 5 * time.Second
	// maxKeyBytes bounds a public key's PEM; a P-256 key takes 178.
	maxKeyBytes = 16 << 10
	// maxCachedKeys bounds the key cache; it starts over when full.
	maxCachedKeys = 64
)

// albConfig says where the public keys of x-amzn-oidc-data come from.
type albConfig struct {
	// keyURL is the URL a key id is appended to (ALB_PUBLIC_KEY_URL).
	// Default: ALB's regional endpoint, the region taken from the signer.
	keyURL string
	// caFile is a PEM file of certificates to trust, besides the
	// system's, when fetching keys (ALB_PUBLIC_KEY_CA). Default: none.
	caFile string
	// arn, when set, is the only signer accepted (ALB_ARN). Default: any.
	arn string
}

// loadALBConfig reads ALB_PUBLIC_KEY_URL, ALB_PUBLIC_KEY_CA and ALB_ARN.
func loadALBConfig(getenv func(string) string) (albConfig, error) {
	c := albConfig{keyURL: getenv("ALB_PUBLIC_KEY_URL"), caFile: getenv("ALB_PUBLIC_KEY_CA"), arn: getenv("ALB_ARN")}
	if c.keyURL != "" {
		u, err := url.Parse(c.keyURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return albConfig{}, fmt.Errorf("ALB_PUBLIC_KEY_URL: %q is not an http(s) URL that a key id can be appended to, like https://127.0.0.1:8443/oauth2/public-key/", c.keyURL)
		}
	}
	if c.arn != "" && !strings.HasPrefix(c.arn, "arn:") {
		return albConfig{}, fmt.Errorf("ALB_ARN: %q is not an ARN, like arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188", c.arn)
	}
	return c, nil
}

// claimsVerifier checks x-amzn-oidc-data headers. It is safe for
// concurrent use.
type claimsVerifier struct {
	keyURL string // "" for ALB's regional endpoint
	arn    string // "" for any signer
	client *http.Client
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*ecdsa.PublicKey // by the URL each came from
}

// newClaimsVerifier returns a verifier for cfg, reading its CA file.
func newClaimsVerifier(cfg albConfig, now func() time.Time) (*claimsVerifier, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.caFile != "" {
		b, err := os.ReadFile(cfg.caFile)
		if err != nil {
			return nil, fmt.Errorf("ALB_PUBLIC_KEY_CA: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("ALB_PUBLIC_KEY_CA: %s holds no PEM certificate", cfg.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &claimsVerifier{
		keyURL: cfg.keyURL,
		arn:    cfg.arn,
		client: &http.Client{Transport: tr, Timeout: keyFetchTimeout},
		now:    now,
		keys:   map[string]*ecdsa.PublicKey{},
	}, nil
}

// claimsHeaderFields are the fields of x-amzn-oidc-data's header that a
// verifier reads.
type claimsHeaderFields struct {
	Alg    string          `json:"alg"`
	Kid    string          `json:"kid"`
	Signer string          `json:"signer"`
	Exp    json.RawMessage `json:"exp"`
}

// unauthorized is the error of a header that does not verify: 401, saying
// why.
func unauthorized(format string, args ...any) error {
	return &httpError{http.StatusUnauthorized, fmt.Sprintf(format, args...)}
}

// Verify checks an x-amzn-oidc-data value and returns its claims, the
// JSON object of its payload. Its errors are *httpError: 401 for a value
// that does not verify, 503 when the public key cannot be fetched (wrapped
// with the cause).
func (v *claimsVerifier) Verify(ctx context.Context, token string) (json.RawMessage, error) {
	if token == "" {
		return nil, unauthorized("no %s header: the load balancer signed no user in", claimsHeader)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, unauthorized("%s is not a JWT: it has %d parts, not 3", claimsHeader, len(parts))
	}
	var hdr claimsHeaderFields
	if b, err := decodeBase64URL(parts[0]); err != nil || json.Unmarshal(b, &hdr) != nil {
		return nil, unauthorized("%s: the header is not a JSON object in base64url", claimsHeader)
	}
	switch {
	case hdr.Alg != "ES256":
		return nil, unauthorized("%s: alg %q, want ES256", claimsHeader, hdr.Alg)
	case !validKid(hdr.Kid):
		return nil, unauthorized("%s: kid %q is not a key id", claimsHeader, hdr.Kid)
	case v.arn != "" && hdr.Signer != v.arn:
		return nil, unauthorized("%s: signed by %q, not by this app's load balancer %q", claimsHeader, hdr.Signer, v.arn)
	}
	keyURL, err := v.publicKeyURL(hdr)
	if err != nil {
		return nil, err
	}
	key, err := v.publicKey(ctx, keyURL)
	if err != nil {
		return nil, err
	}
	sig, err := decodeBase64URL(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, unauthorized("%s: the signature is not 64 bytes of base64url", claimsHeader)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(key, sum[:], r, s) {
		return nil, unauthorized("%s: the signature does not verify with key %s", claimsHeader, hdr.Kid)
	}
	return v.checkPayload(parts[1], hdr)
}

// checkPayload decodes a verified payload and checks its expiry (the
// payload's exp, else the header's). It returns the payload.
func (v *claimsVerifier) checkPayload(segment string, hdr claimsHeaderFields) (json.RawMessage, error) {
	b, err := decodeBase64URL(segment)
	var claims map[string]json.RawMessage
	if err != nil || json.Unmarshal(b, &claims) != nil || claims == nil {
		return nil, unauthorized("%s: the payload is not a JSON object in base64url", claimsHeader)
	}
	raw, ok := claims["exp"]
	if !ok {
		raw = hdr.Exp
	}
	var exp int64
	switch {
	case raw == nil:
		return nil, unauthorized("%s has no exp", claimsHeader)
	case json.Unmarshal(raw, &exp) != nil:
		return nil, unauthorized("%s: exp %s is not a time in seconds", claimsHeader, raw)
	case !v.now().Before(time.Unix(exp, 0)):
		return nil, unauthorized("%s expired at %s", claimsHeader, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return b, nil
}

// publicKeyURL is where the key of hdr is: ALB_PUBLIC_KEY_URL and the
// kid, or ALB's endpoint in the signer's region.
func (v *claimsVerifier) publicKeyURL(hdr claimsHeaderFields) (string, error) {
	if v.keyURL != "" {
		return v.keyURL + hdr.Kid, nil
	}
	// arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID
	f := strings.Split(hdr.Signer, ":")
	if len(f) < 6 || f[0] != "arn" || f[2] != "elasticloadbalancing" || !validRegion(f[3]) {
		return "", unauthorized("%s: signer %q is not a load balancer's ARN", claimsHeader, hdr.Signer)
	}
	return "https://public-keys.auth.elb." + f[3] + ".amazonaws.com/" + hdr.Kid, nil
}

// publicKey returns the key at keyURL, fetching it the first time.
func (v *claimsVerifier) publicKey(ctx context.Context, keyURL string) (*ecdsa.PublicKey, error) {
	v.mu.Lock()
	key := v.keys[keyURL]
	v.mu.Unlock()
	if key != nil {
		return key, nil
	}
	key, err := v.fetchKey(ctx, keyURL)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.keys) >= maxCachedKeys {
		clear(v.keys)
	}
	v.keys[keyURL] = key
	v.mu.Unlock()
	return key, nil
}

// fetchKey reads the PEM public key at keyURL. A key the server does not
// have (a 4XX) is a header that does not verify: 401; a server that cannot
// be reached or fails is this app's trouble: 503.
func (v *claimsVerifier) fetchKey(ctx context.Context, keyURL string) (*ecdsa.PublicKey, error) {
	unavailable := &httpError{http.StatusServiceUnavailable, "the load balancer's public key is unavailable"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, keyURL, nil)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %v: %w", keyURL, err, unavailable)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("public key: %v: %w", err, unavailable)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyBytes))
	switch {
	case resp.StatusCode/100 == 4:
		return nil, unauthorized("%s: no public key at %s (%s)", claimsHeader, keyURL, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("public key %s: %s: %w", keyURL, resp.Status, unavailable)
	case err != nil:
		return nil, fmt.Errorf("public key %s: %v: %w", keyURL, err, unavailable)
	}
	key, err := parsePublicKey(body)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %v: %w", keyURL, err, unavailable)
	}
	return key, nil
}

// parsePublicKey reads a PEM "PUBLIC KEY" that must be a P-256 key.
func parsePublicKey(b []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM public key")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %T, not a P-256 ECDSA key", pub)
	}
	return key, nil
}

// decodeBase64URL decodes base64url with or without ALB's padding.
func decodeBase64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// validKid reports whether kid can name a key at the end of a URL:
// letters, digits, - and _ (ALB's are UUIDs).
func validKid(kid string) bool {
	return kid != "" && len(kid) <= 128 && strings.Trim(kid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == ""
}

// validRegion reports whether s looks like an AWS region, us-east-1.
func validRegion(s string) bool {
	return s != "" && len(s) <= 32 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// whoami answers GET /whoami: the claims of the user the load balancer
// signed in, once their signature verifies.
func (s *server) whoami(w http.ResponseWriter, r *http.Request) error {
	claims, err := s.claims.Verify(r.Context(), r.Header.Get(claimsHeader))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, claims)
	return nil
}
