package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey is one RSA key for every test: making one takes a while.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

// testIdP is a provider served by httptest, on a clock the test moves, and
// a client that follows no redirect.
type testIdP struct {
	t      *testing.T
	url    string
	now    time.Time
	mu     sync.Mutex
	client *http.Client
}

const testRedirect = "https://127.0.0.1:8443/oauth2/idpresponse"

func newTestIdP(t *testing.T, change func(c *config)) *testIdP {
	t.Helper()
	ti := &testIdP{t: t, now: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
	srv := httptest.NewUnstartedServer(nil)
	cfg := config{issuer: "http://" + srv.Listener.Addr().String(), clientID: "shoal", clientSecret: "s3cret:/+",
		user: "alice", accessTTL: time.Hour}
	if change != nil {
		change(&cfg)
	}
	srv.Config.Handler = newProvider(cfg, testKey(), ti.clock).handler()
	srv.Start()
	t.Cleanup(srv.Close)
	ti.url = srv.URL
	ti.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return ti
}

func (ti *testIdP) clock() time.Time {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.now
}

func (ti *testIdP) advance(d time.Duration) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.now = ti.now.Add(d)
}

func (ti *testIdP) do(req *http.Request) (*http.Response, string) {
	ti.t.Helper()
	resp, err := ti.client.Do(req)
	if err != nil {
		ti.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (ti *testIdP) get(path string, header http.Header) (*http.Response, string) {
	ti.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ti.url+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	return ti.do(req)
}

// post sends form to path, with Basic credentials when user is not "".
func (ti *testIdP) post(path string, form url.Values, user, password string) (*http.Response, string) {
	ti.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ti.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
	}
	return ti.do(req)
}

// authorize asks for a code as a load balancer does, and returns where the
// browser is sent back to.
func (ti *testIdP) authorize(extra url.Values) *url.URL {
	ti.t.Helper()
	q := url.Values{"client_id": {"shoal"}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st4te"}}
	for k, v := range extra {
		q[k] = v
	}
	resp, body := ti.get("/authorize?"+q.Encode(), nil)
	if resp.StatusCode != http.StatusFound {
		ti.t.Fatalf("GET /authorize: got %d %s, want 302", resp.StatusCode, body)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		ti.t.Fatal(err)
	}
	return back
}

// tokens are a token endpoint's answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

func (ti *testIdP) token(form url.Values, user, password string) (int, tokens) {
	ti.t.Helper()
	resp, body := ti.post("/token", form, user, password)
	var tok tokens
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		ti.t.Fatalf("POST /token: %q is not JSON: %v", body, err)
	}
	return resp.StatusCode, tok
}

func codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
}

// verifyJWT checks token with the key the provider publishes at its
// jwks_uri, as a client does, and returns its claims.
func (ti *testIdP) verifyJWT(token string) map[string]any {
	ti.t.Helper()
	_, body := ti.get("/jwks", nil)
	var set struct {
		Keys []struct{ Kty, Alg, Kid, N, E string }
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil || len(set.Keys) != 1 {
		ti.t.Fatalf("JWKS %s: want one key", body)
	}
	k := set.Keys[0]
	n, _ := base64.RawURLEncoding.DecodeString(k.N)
	e, _ := base64.RawURLEncoding.DecodeString(k.E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		ti.t.Fatalf("%q is not a JWT", token)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(header), `"kid":"`+k.Kid+`"`) || !strings.Contains(string(header), `"alg":"RS256"`) {
		ti.t.Errorf("JWT header %s: want RS256 and the JWKS key's kid %s", header, k.Kid)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		ti.t.Fatalf("the JWT does not verify with the JWKS: %v", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	return claims
}

// TestProvider_CodeFlow goes through what a load balancer does: discovery,
// authorization, the code for tokens (client_secret_basic), the user info,
// and a refresh (client_secret_post).
func TestProvider_CodeFlow(t *testing.T) {
	ti := newTestIdP(t, nil)
	_, body := ti.get("/.well-known/openid-configuration", nil)
	var meta map[string]any
	json.Unmarshal([]byte(body), &meta)
	for k, want := range map[string]string{"issuer": ti.url, "authorization_endpoint": ti.url + "/authorize",
		"token_endpoint": ti.url + "/token", "userinfo_endpoint": ti.url + "/userinfo", "jwks_uri": ti.url + "/jwks"} {
		if meta[k] != want {
			t.Errorf("discovery %s: got %v, want %s", k, meta[k], want)
		}
	}

	back := ti.authorize(url.Values{"nonce": {"n0nce"}})
	code := back.Query().Get("code")
	if got := back.Scheme + "://" + back.Host + back.Path; got != testRedirect || back.Query().Get("state") != "st4te" || code == "" {
		t.Fatalf("sent back to %s, want %s with the state and a code", back, testRedirect)
	}
	status, tok := ti.token(codeForm(code), "shoal", "s3cret:/+")
	if status != http.StatusOK || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.RefreshToken == "" {
		t.Fatalf("POST /token: got %d %+v, want 200 with a bearer token for an hour and a refresh token", status, tok)
	}
	id := ti.verifyJWT(tok.IDToken)
	now := float64(ti.clock().Unix())
	if id["iss"] != ti.url || id["aud"] != "shoal" || id["sub"] != "alice" || id["nonce"] != "n0nce" || id["exp"] != now+3600 {
		t.Errorf("ID token claims %v", id)
	}
	if at := ti.verifyJWT(tok.AccessToken); at["sub"] != "alice" || at["scope"] != "openid email" {
		t.Errorf("access token claims %v", at)
	}

	resp, body := ti.get("/userinfo", http.Header{"Authorization": {"Bearer " + tok.AccessToken}})
	var claims map[string]any
	json.Unmarshal([]byte(body), &claims)
	if resp.StatusCode != http.StatusOK || claims["sub"] != "alice" || claims["email"] != "alice@example.com" || claims["name"] != "Alice" {
		t.Errorf("GET /userinfo: got %d %s", resp.StatusCode, body)
	}

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {"shoal"}, "client_secret": {"s3cret:/+"}}
	status, next := ti.token(refresh, "", "")
	if status != http.StatusOK || next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh: got %d %+v, want 200 with new tokens", status, next)
	}
	if status, _ := ti.token(refresh, "", ""); status != http.StatusBadRequest {
		t.Errorf("a used refresh token: got %d, want 400", status)
	}
}

// TestProvider_TokenErrors: the token endpoint's refusals, as RFC 6749
// §5.2 words them.
func TestProvider_TokenErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		prepare func(ti *testIdP, code string) (url.Values, string, string)
		status  int
		errCode string
	}{
		{"wrong secret", func(_ *testIdP, code string) (url.Values, string, string) {
			return codeForm(code), "shoal", "wrong"
		}, http.StatusUnauthorized, "invalid_client"},
		{"no credentials", func(_ *testIdP, code string) (url.Values, string, string) {
			return codeForm(code), "", ""
		}, http.StatusUnauthorized, "invalid_client"},
		{"unknown code", func(_ *testIdP, _ string) (url.Values, string, string) {
			return codeForm("made-up"), "shoal", "s3cret:/+"
		}, http.StatusBadRequest, "invalid_grant"},
		{"another redirect_uri", func(_ *testIdP, code string) (url.Values, string, string) {
			f := codeForm(code)
			f.Set("redirect_uri", "https://elsewhere.example.com/oauth2/idpresponse")
			return f, "shoal", "s3cret:/+"
		}, http.StatusBadRequest, "invalid_grant"},
		{"expired code", func(ti *testIdP, code string) (url.Values, string, string) {
			ti.advance(codeLifetime)
			return codeForm(code), "shoal", "s3cret:/+"
		}, http.StatusBadRequest, "invalid_grant"},
		{"unsupported grant", func(_ *testIdP, _ string) (url.Values, string, string) {
			return url.Values{"grant_type": {"password"}}, "shoal", "s3cret:/+"
		}, http.StatusBadRequest, "unsupported_grant_type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ti := newTestIdP(t, nil)
			code := ti.authorize(nil).Query().Get("code")
			form, user, password := c.prepare(ti, code)
			status, tok := ti.token(form, user, password)
			if status != c.status || tok.Error != c.errCode || tok.AccessToken != "" {
				t.Errorf("got %d %+v, want %d %s", status, tok, c.status, c.errCode)
			}
		})
	}

	t.Run("a code is used once", func(t *testing.T) {
		ti := newTestIdP(t, nil)
		code := ti.authorize(nil).Query().Get("code")
		if status, _ := ti.token(codeForm(code), "shoal", "s3cret:/+"); status != http.StatusOK {
			t.Fatalf("first use: got %d, want 200", status)
		}
		if status, tok := ti.token(codeForm(code), "shoal", "s3cret:/+"); status != http.StatusBadRequest || tok.Error != "invalid_grant" {
			t.Errorf("second use: got %d %+v, want 400 invalid_grant", status, tok)
		}
	})
}

// TestProvider_AuthorizeChecksTheClient: an unknown client or a redirect
// URI not allowed gets an error page, never a redirect; a bad request of a
// known client is sent back with an error.
func TestProvider_AuthorizeChecksTheClient(t *testing.T) {
	for _, c := range []struct {
		name     string
		change   func(c *config)
		query    url.Values
		status   int
		errParam string // the error sent back, for a 302
	}{
		{"unknown client", nil, url.Values{"client_id": {"other"}}, http.StatusBadRequest, ""},
		{"not the load balancer's path", nil, url.Values{"redirect_uri": {"https://evil.example.com/steal"}}, http.StatusBadRequest, ""},
		{"not in IDP_REDIRECT_URIS", func(c *config) { c.redirectURIs = []string{"https://app.example.com/oauth2/idpresponse"} },
			nil, http.StatusBadRequest, ""},
		{"in IDP_REDIRECT_URIS", func(c *config) { c.redirectURIs = []string{testRedirect} }, nil, http.StatusFound, ""},
		{"implicit flow", nil, url.Values{"response_type": {"token"}}, http.StatusFound, "unsupported_response_type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ti := newTestIdP(t, c.change)
			q := url.Values{"client_id": {"shoal"}, "redirect_uri": {testRedirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
			for k, v := range c.query {
				q[k] = v
			}
			resp, _ := ti.get("/authorize?"+q.Encode(), nil)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != c.status || (c.status == http.StatusFound && loc.Query().Get("error") != c.errParam) {
				t.Errorf("got %d to %q, want %d (error %q)", resp.StatusCode, loc, c.status, c.errParam)
			}
		})
	}
}

// TestProvider_SignInForm: with IDP_LOGIN=form, or a client's prompt=login,
// the user types a name; the code is theirs.
func TestProvider_SignInForm(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(c *config)
		extra  url.Values
	}{
		{"IDP_LOGIN=form", func(c *config) { c.form = true }, nil},
		{"prompt=login", nil, url.Values{"prompt": {"login"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ti := newTestIdP(t, c.change)
			q := url.Values{"client_id": {"shoal"}, "redirect_uri": {testRedirect}, "response_type": {"code"},
				"scope": {"openid"}, "state": {`"><script>`}}
			for k, v := range c.extra {
				q[k] = v
			}
			resp, page := ti.get("/authorize?"+q.Encode(), nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="sign-in"`) || strings.Contains(page, "<script>") {
				t.Fatalf("GET /authorize: got %d %s, want the sign-in form, the state escaped", resp.StatusCode, page)
			}
			form := url.Values{"username": {" bob "}}
			for k, v := range q {
				form[k] = v
			}
			resp, _ = ti.post("/authorize", form, "", "")
			back, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || back.Query().Get("state") != `"><script>` {
				t.Fatalf("POST /authorize: got %d to %q, want 302 back with the state", resp.StatusCode, back)
			}
			_, tok := ti.token(codeForm(back.Query().Get("code")), "shoal", "s3cret:/+")
			if id := ti.verifyJWT(tok.IDToken); id["sub"] != "bob" {
				t.Errorf("signed in as %v, want bob", id["sub"])
			}
		})
	}
}

// TestProvider_UserInfoNeedsAValidToken: no token, a token it did not
// sign, or an expired one: 401.
func TestProvider_UserInfoNeedsAValidToken(t *testing.T) {
	ti := newTestIdP(t, nil)
	_, tok := ti.token(codeForm(ti.authorize(nil).Query().Get("code")), "shoal", "s3cret:/+")
	other := newProvider(config{issuer: ti.url}, mustKey(t), time.Now).sign(map[string]any{"iss": ti.url, "sub": "alice",
		"exp": ti.clock().Add(time.Hour).Unix()})
	for name, auth := range map[string]string{
		"no token":                  "",
		"not a JWT":                 "Bearer nope",
		"another key":               "Bearer " + other,
		"basic, not a bearer token": "Basic " + tok.AccessToken,
	} {
		resp, _ := ti.get("/userinfo", http.Header{"Authorization": {auth}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: got %d, want 401 with WWW-Authenticate: Bearer", name, resp.StatusCode)
		}
	}
	ti.advance(time.Hour)
	if resp, _ := ti.get("/userinfo", http.Header{"Authorization": {"Bearer " + tok.AccessToken}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an expired token: got %d, want 401", resp.StatusCode)
	}
}

func mustKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
