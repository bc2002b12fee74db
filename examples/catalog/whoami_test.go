package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testSigner is the signer ARN of the tokens the tests make.
const testSigner = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"

// testNow is the tests' fixed time; their tokens expire 2 minutes later,
// as ALB's do.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testVerifier is the verifier of a server whose tests do not ask
// GET /whoami: ALB's regional endpoints, which it never reaches.
func testVerifier(t *testing.T) *claimsVerifier {
	t.Helper()
	v, err := newClaimsVerifier(albConfig{}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// keyServer serves public keys as ALB's regional endpoint does: the PEM
// of a P-256 key at /KID, over TLS with a certificate of its own, whose CA
// is in caFile.
type keyServer struct {
	srv    *httptest.Server
	caFile string

	mu      sync.Mutex
	keys    map[string]*ecdsa.PrivateKey
	fetches map[string]int
	fail    bool // answer 500
}

func newKeyServer(t *testing.T) *keyServer {
	t.Helper()
	ks := &keyServer{keys: map[string]*ecdsa.PrivateKey{}, fetches: map[string]int{}}
	ks.srv = httptest.NewUnstartedServer(http.HandlerFunc(ks.serve))
	// A client that does not trust the certificate is a test's point.
	ks.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	ks.srv.StartTLS()
	t.Cleanup(ks.srv.Close)
	ks.caFile = filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ks.srv.Certificate().Raw})
	if err := os.WriteFile(ks.caFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	return ks
}

func (ks *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	kid := strings.TrimPrefix(r.URL.Path, "/keys/")
	ks.fetches[kid]++
	key := ks.keys[kid]
	switch {
	case ks.fail:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case key == nil:
		http.Error(w, "no such key", http.StatusNotFound)
	default:
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			panic(err)
		}
		w.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
}

// url is the prefix a kid is appended to.
func (ks *keyServer) url() string { return ks.srv.URL + "/keys/" }

// newKey makes a key served under kid.
func (ks *keyServer) newKey(t *testing.T, kid string) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks.mu.Lock()
	ks.keys[kid] = key
	ks.mu.Unlock()
	return key
}

func (ks *keyServer) fetchCount(kid string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches[kid]
}

func (ks *keyServer) setFailing(fail bool) {
	ks.mu.Lock()
	ks.fail = fail
	ks.mu.Unlock()
}

// verifier trusts ks, at the tests' fixed time.
func (ks *keyServer) verifier(t *testing.T, arn string) *claimsVerifier {
	t.Helper()
	v, err := newClaimsVerifier(albConfig{keyURL: ks.url(), caFile: ks.caFile, arn: arn}, func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// albToken signs claims as ALB signs x-amzn-oidc-data: an ES256 JWT whose
// header names kid and the signer, each part base64url with padding (or,
// with enc, another encoding).
func albToken(t *testing.T, key *ecdsa.PrivateKey, header, claims map[string]any, enc *base64.Encoding) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig)
}

// albHeader is the header ALB gives x-amzn-oidc-data, for kid.
func albHeader(kid string) map[string]any {
	return map[string]any{"typ": "JWT", "kid": kid, "alg": "ES256", "iss": "https://idp.example.com",
		"client": "catalog", "signer": testSigner, "exp": testNow.Add(2 * time.Minute).Unix()}
}

// userClaims are the user info claims ALB puts in the payload, with exp
// and iss.
func userClaims() map[string]any {
	return map[string]any{"sub": "alice", "email": "alice@example.com", "email_verified": true,
		"exp": testNow.Add(2 * time.Minute).Unix(), "iss": "https://idp.example.com"}
}

// withFields returns a copy of m with the changes of kv (key, value, …); a nil
// value deletes its key.
func withFields(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestClaimsVerifier_Verify(t *testing.T) {
	ks := newKeyServer(t)
	key := ks.newKey(t, "11111111-2222-3333-4444-555555555555")
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const kid = "11111111-2222-3333-4444-555555555555"
	padded, raw := base64.URLEncoding, base64.RawURLEncoding
	good := albToken(t, key, albHeader(kid), userClaims(), padded)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + padded.EncodeToString([]byte(`{"sub":"mallory","exp":9999999999}`)) + "." + parts[2]
	tests := []struct {
		name    string
		token   string
		wantErr string // "" for a token that verifies
	}{
		{"ALB's padded base64url", good, ""},
		{"without padding", albToken(t, key, albHeader(kid), userClaims(), raw), ""},
		{"exp in the header only", albToken(t, key, albHeader(kid), withFields(userClaims(), "exp", nil), padded), ""},
		{"no header", "", "no x-amzn-oidc-data header"},
		{"not a JWT", "a.b", "is not a JWT: it has 2 parts"},
		{"header not base64url", "!!." + parts[1] + "." + parts[2], "the header is not a JSON object"},
		{"alg none", albToken(t, key, withFields(albHeader(kid), "alg", "none"), userClaims(), padded), `alg "none", want ES256`},
		{"alg HS256", albToken(t, key, withFields(albHeader(kid), "alg", "HS256"), userClaims(), padded), `alg "HS256", want ES256`},
		{"kid with a path", albToken(t, key, withFields(albHeader(kid), "kid", "../admin"), userClaims(), padded), `kid "../admin" is not a key id`},
		{"unknown kid", albToken(t, key, withFields(albHeader(kid), "kid", "99999999-0000"), userClaims(), padded), "no public key at " + ks.url() + "99999999-0000 (404 Not Found)"},
		{"signed by another key", albToken(t, other, albHeader(kid), userClaims(), padded), "the signature does not verify with key " + kid},
		{"payload changed after signing", tampered, "the signature does not verify"},
		{"signature cut short", parts[0] + "." + parts[1] + "." + parts[2][:40], "the signature is not 64 bytes"},
		{"expired", albToken(t, key, albHeader(kid), withFields(userClaims(), "exp", testNow.Unix()), padded), "x-amzn-oidc-data expired at 2026-03-01T12:00:00Z"},
		{"no exp", albToken(t, key, withFields(albHeader(kid), "exp", nil), withFields(userClaims(), "exp", nil), padded), "x-amzn-oidc-data has no exp"},
		{"exp not a number", albToken(t, key, albHeader(kid), withFields(userClaims(), "exp", "soon"), padded), `exp "soon" is not a time in seconds`},
		{"payload not an object", albToken(t, key, albHeader(kid), nil, padded), "the payload is not a JSON object"},
	}
	v := ks.verifier(t, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := v.Verify(t.Context(), tt.token)
			if tt.wantErr != "" {
				var he *httpError
				if !errors.As(err, &he) || he.status != http.StatusUnauthorized || !strings.Contains(he.msg, tt.wantErr) {
					t.Fatalf("got claims %s, error %v; want 401 saying %q", claims, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(claims, &got); err != nil {
				t.Fatal(err)
			}
			if got["sub"] != "alice" || got["email"] != "alice@example.com" {
				t.Errorf("claims: got %s, want alice's", claims)
			}
		})
	}
}

func TestClaimsVerifier_ChecksSignerWhenALBARNIsSet(t *testing.T) {
	ks := newKeyServer(t)
	key := ks.newKey(t, "k1")
	v := ks.verifier(t, testSigner)
	if _, err := v.Verify(t.Context(), albToken(t, key, albHeader("k1"), userClaims(), base64.URLEncoding)); err != nil {
		t.Errorf("a token of ALB_ARN: %v", err)
	}
	otherLB := strings.Replace(testSigner, "app/web/", "app/someone-elses/", 1)
	_, err := v.Verify(t.Context(), albToken(t, key, withFields(albHeader("k1"), "signer", otherLB), userClaims(), base64.URLEncoding))
	var he *httpError
	if !errors.As(err, &he) || he.status != http.StatusUnauthorized || !strings.Contains(he.msg, "not by this app's load balancer") {
		t.Errorf("a token of another load balancer: got %v, want 401 naming the signer", err)
	}
}

func TestClaimsVerifier_CachesKeysByKid(t *testing.T) {
	ks := newKeyServer(t)
	k1, k2 := ks.newKey(t, "k1"), ks.newKey(t, "k2")
	v := ks.verifier(t, "")
	var wg sync.WaitGroup
	for range 3 {
		for kid, key := range map[string]*ecdsa.PrivateKey{"k1": k1, "k2": k2} {
			token := albToken(t, key, albHeader(kid), userClaims(), base64.URLEncoding)
			if _, err := v.Verify(t.Context(), token); err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				if _, err := v.Verify(t.Context(), token); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for _, kid := range []string{"k1", "k2"} {
		if n := ks.fetchCount(kid); n != 1 {
			t.Errorf("key %s fetched %d times, want 1", kid, n)
		}
	}
}

func TestClaimsVerifier_KeyServerFailing(t *testing.T) {
	ks := newKeyServer(t)
	key := ks.newKey(t, "k1")
	token := albToken(t, key, albHeader("k1"), userClaims(), base64.URLEncoding)
	v := ks.verifier(t, "")
	ks.setFailing(true)
	_, err := v.Verify(t.Context(), token)
	var he *httpError
	if !errors.As(err, &he) || he.status != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "500 Internal Server Error") {
		t.Fatalf("key server answering 500: got %v, want 503 wrapping the cause", err)
	}
	ks.setFailing(false) // a failure is not cached
	if _, err := v.Verify(t.Context(), token); err != nil {
		t.Errorf("once the key server answers: %v", err)
	}
}

func TestClaimsVerifier_TrustsOnlyTheCAItIsGiven(t *testing.T) {
	ks := newKeyServer(t)
	key := ks.newKey(t, "k1")
	token := albToken(t, key, albHeader("k1"), userClaims(), base64.URLEncoding)
	v, err := newClaimsVerifier(albConfig{keyURL: ks.url()}, func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), token)
	var he *httpError
	if !errors.As(err, &he) || he.status != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without ALB_PUBLIC_KEY_CA, a self-signed key server: got %v, want 503 for its certificate", err)
	}
	if _, err := ks.verifier(t, "").Verify(t.Context(), token); err != nil {
		t.Errorf("with ALB_PUBLIC_KEY_CA: %v", err)
	}
}

func TestClaimsVerifier_RegionalKeyURL(t *testing.T) {
	v := testVerifier(t)
	got, err := v.publicKeyURL(claimsHeaderFields{Kid: "k1", Signer: testSigner})
	if want := "https://public-keys.auth.elb.us-east-1.amazonaws.com/k1"; err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	for _, signer := range []string{"", "arn:aws:ec2:us-east-1:1:instance/i-1", "arn:aws:elasticloadbalancing:evil.com/x:1:loadbalancer/app/a/b"} {
		if got, err := v.publicKeyURL(claimsHeaderFields{Kid: "k1", Signer: signer}); err == nil {
			t.Errorf("signer %q: got %q, want an error", signer, got)
		}
	}
}

func TestServer_Whoami(t *testing.T) {
	ks := newKeyServer(t)
	key := ks.newKey(t, "k1")
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), nil))
	srv := httptest.NewServer(newHandler(openStore(t, sqliteURL(t)), noCache{}, ks.verifier(t, ""), "task-1", logger))
	t.Cleanup(srv.Close)

	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amzn-Oidc-Data", albToken(t, key, albHeader("k1"), userClaims(), base64.URLEncoding))
	req.Header.Set("X-Amzn-Oidc-Identity", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	want := map[string]any{"sub": "alice", "email": "alice@example.com", "email_verified": true,
		"exp": float64(testNow.Add(2 * time.Minute).Unix()), "iss": "https://idp.example.com"}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %d %s, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}

	r := do(t, "GET", srv.URL+"/whoami", "", "")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `"error":"no x-amzn-oidc-data header`) {
		t.Errorf("without the header: got %d %s, want 401 saying why", r.status, r.body)
	}
	if !strings.Contains(logs.String(), `path=/whoami status=401`) || !strings.Contains(logs.String(), `error="no x-amzn-oidc-data header`) {
		t.Errorf("the 401's log line does not say why:\n%s", logs)
	}
}

func TestRun_RejectsBadALBConfig(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"key URL not http", map[string]string{"ALB_PUBLIC_KEY_URL": "ftp://lb/keys/"}, `ALB_PUBLIC_KEY_URL: "ftp://lb/keys/" is not an http(s) URL`},
		{"key URL with a query", map[string]string{"ALB_PUBLIC_KEY_URL": "https://lb/keys?kid="}, `ALB_PUBLIC_KEY_URL: "https://lb/keys?kid=" is not`},
		{"CA file missing", map[string]string{"ALB_PUBLIC_KEY_CA": "/nonexistent/ca.pem"}, "ALB_PUBLIC_KEY_CA: open /nonexistent/ca.pem"},
		{"CA file not PEM", map[string]string{"ALB_PUBLIC_KEY_CA": notPEM}, "ALB_PUBLIC_KEY_CA: " + notPEM + " holds no PEM certificate"},
		{"ARN not an ARN", map[string]string{"ALB_ARN": "web"}, `ALB_ARN: "web" is not an ARN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "DATABASE_URL" {
					return sqliteURL(t)
				}
				return tt.env[k]
			}
			err := run(t.Context(), getenv, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestCatalog_WhoamiWithKeysFromEnv runs the program as shoal does, with
// the key URL and CA of a load balancer in its environment.
func TestCatalog_WhoamiWithKeysFromEnv(t *testing.T) {
	ks := newKeyServer(t)
	key := ks.newKey(t, "k1")
	p := startCatalog(t, "DATABASE_URL="+sqliteURL(t), "ALB_PUBLIC_KEY_URL="+ks.url(), "ALB_PUBLIC_KEY_CA="+ks.caFile)
	claims := withFields(userClaims(), "exp", time.Now().Add(time.Minute).Unix())
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+p.addr(t)+"/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amzn-Oidc-Data", albToken(t, key, albHeader("k1"), claims, base64.URLEncoding))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Sub, Email string }
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != 200 || got.Sub != "alice" || got.Email != "alice@example.com" {
		t.Errorf("GET /whoami: got %d %+v, want 200 for alice", resp.StatusCode, got)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, p.stderr.String())
	}
}
