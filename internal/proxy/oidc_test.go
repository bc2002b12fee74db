package proxy

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
	"github.com/shoalhq/shoal/internal/routing"
)

// oidcIdP is a fake OpenID Connect provider: its authorization endpoint
// signs everyone in at once as its user, and it records what the balancer
// asks of it. Its clock is the balancer's.
type oidcIdP struct {
	srv *httptest.Server
	now func() time.Time

	mu             sync.Mutex
	claims         map[string]any // the user info; sub is the user
	expiresIn      int            // the access token's, 0: none given
	refresh        bool           // give refresh tokens
	deny           bool           // the user says no: error=access_denied
	tokenStatus    int            // answer the token endpoint with it (0: normally)
	tokenBody      string         // … and this body
	noIDToken      bool
	idAudience     string            // the ID token's aud, when not the client id
	idSub          string            // the ID token's sub, when not the user's
	userInfoStatus int               // answer the user info endpoint with it (0: normally)
	userInfoBody   string            // … and this body
	codes          map[string]string // unused codes → their redirect_uri
	accessTokens   map[string]bool
	refreshTokens  map[string]bool
	authorizeRaw   []string     // the raw query of every authorization request
	tokenRequests  []url.Values // the form of every token request
	tokenAuth      []string     // their Authorization headers
	issued         int
}

const (
	oidcClientID = "shoal-client"
	oidcSecret   = "s3cret/with:odd+chars"
)

func newOIDCIdP(t *testing.T, now func() time.Time) *oidcIdP {
	t.Helper()
	p := &oidcIdP{now: now, codes: map[string]string{}, accessTokens: map[string]bool{}, refreshTokens: map[string]bool{},
		claims: map[string]any{"sub": "u-123", "email": "alice@example.com", "name": "Alice <A&B>"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userInfo)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// action is an authenticate-oidc action for this IdP.
func (p *oidcIdP) action() *routing.OIDCAction {
	return &routing.OIDCAction{
		Issuer: p.srv.URL, AuthorizationEndpoint: p.srv.URL + "/authorize", TokenEndpoint: p.srv.URL + "/token",
		UserInfoEndpoint: p.srv.URL + "/userinfo", ClientID: oidcClientID, ClientSecret: oidcSecret,
	}
}

func (p *oidcIdP) set(f func(p *oidcIdP)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *oidcIdP) authorize(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authorizeRaw = append(p.authorizeRaw, r.URL.RawQuery)
	q := r.URL.Query()
	back := url.Values{"state": {q.Get("state")}}
	if p.deny {
		back.Set("error", "access_denied")
	} else {
		p.issued++
		code := fmt.Sprintf("code-%d", p.issued)
		p.codes[code] = q.Get("redirect_uri")
		back.Set("code", code)
	}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
}

func (p *oidcIdP) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenRequests = append(p.tokenRequests, r.PostForm)
	p.tokenAuth = append(p.tokenAuth, r.Header.Get("Authorization"))
	id, secret, _ := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	switch {
	case p.tokenStatus != 0:
		w.WriteHeader(p.tokenStatus)
		io.WriteString(w, p.tokenBody)
		return
	case id != oidcClientID || secret != oidcSecret:
		oauthErrorAnswer(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch f := r.PostForm; f.Get("grant_type") {
	case "authorization_code":
		if uri, ok := p.codes[f.Get("code")]; !ok || uri != f.Get("redirect_uri") {
			oauthErrorAnswer(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(p.codes, f.Get("code"))
	case "refresh_token":
		if !p.refreshTokens[f.Get("refresh_token")] {
			oauthErrorAnswer(w, http.StatusBadRequest, "invalid_grant")
			return
		}
	default:
		oauthErrorAnswer(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	json.NewEncoder(w).Encode(p.tokensLocked())
}

// tokensLocked issues a new access token, and an ID and a refresh token as
// the IdP is set.
func (p *oidcIdP) tokensLocked() map[string]any {
	p.issued++
	at := fmt.Sprintf("at-%d", p.issued)
	p.accessTokens[at] = true
	answer := map[string]any{"access_token": at, "token_type": "Bearer"}
	if p.expiresIn > 0 {
		answer["expires_in"] = p.expiresIn
	}
	if p.refresh {
		rt := fmt.Sprintf("rt-%d", p.issued)
		p.refreshTokens[rt] = true
		answer["refresh_token"] = rt
	}
	if !p.noIDToken {
		now := p.now()
		claims := map[string]any{"iss": p.srv.URL, "sub": cmp.Or(p.idSub, p.claims["sub"].(string)),
			"aud": []string{"other", cmp.Or(p.idAudience, oidcClientID)}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		answer["id_token"] = unsignedJWT(claims)
	}
	return answer
}

// unsignedJWT is a JWT of claims with a made-up signature: the balancer
// does not check the signature of an ID token it got from the IdP itself.
func unsignedJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc.EncodeToString(b) + ".c2ln"
}

func oauthErrorAnswer(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

func (p *oidcIdP) userInfo(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); {
	case p.userInfoStatus != 0 || p.userInfoBody != "":
		w.WriteHeader(cmp.Or(p.userInfoStatus, http.StatusOK))
		io.WriteString(w, p.userInfoBody)
	case !p.accessTokens[at]:
		w.WriteHeader(http.StatusUnauthorized)
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p.claims)
	}
}

// oidcBackend is a target that answers with what it got of the x-amzn-oidc
// headers.
type oidcBackend struct {
	addr string
	hits atomic.Int64
}

// oidcSeen is what oidcBackend answers.
type oidcSeen struct {
	Path        string   `json:"path"`
	AccessToken string   `json:"accesstoken"`
	Identity    string   `json:"identity"`
	Data        string   `json:"data"`
	Names       []string `json:"names"` // every x-amzn-oidc-* header's
}

func newOIDCBackend(t *testing.T) *oidcBackend {
	t.Helper()
	bk := &oidcBackend{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		bk.hits.Add(1)
		seen := oidcSeen{Path: r.URL.RequestURI(), AccessToken: r.Header.Get("X-Amzn-Oidc-Accesstoken"),
			Identity: r.Header.Get("X-Amzn-Oidc-Identity"), Data: r.Header.Get("X-Amzn-Oidc-Data")}
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amzn-oidc-") {
				seen.Names = append(seen.Names, k)
			}
		}
		json.NewEncoder(w).Encode(seen)
	}))
	t.Cleanup(srv.Close)
	bk.addr = srv.Listener.Addr().String()
	return bk
}

// oidcHarness is a balancer on a fake clock with an https listener whose
// routes use an authenticate-oidc action of a fake IdP, a backend in group
// api, and a browser: a client with a cookie jar that follows redirects.
type oidcHarness struct {
	t       *testing.T
	clock   *clocktest.Fake
	b       *Balancer
	idp     *oidcIdP
	backend *oidcBackend
	base    string // https://127.0.0.1:port
	jar     *cookiejar.Jar
	browser *http.Client
	client  *http.Client // the browser's jar, following no redirect
	hops    []string     // the URLs the browser went through on its last request
}

// newOIDCHarness starts it all; routes makes the listener's routes for the
// action (nil: the action then forward to api by default).
func newOIDCHarness(t *testing.T, change func(o *routing.OIDCAction), routes func(o *routing.OIDCAction) routing.Listener) *oidcHarness {
	t.Helper()
	h := &oidcHarness{t: t, clock: clocktest.NewFake(testStart)}
	h.idp = newOIDCIdP(t, h.clock.Now)
	o := h.idp.action()
	if change != nil {
		change(o)
	}
	if routes == nil {
		routes = func(o *routing.OIDCAction) routing.Listener {
			a := forwardAction("api")
			a.Auth = &routing.AuthAction{OIDC: o}
			return routing.Listener{Default: a}
		}
	}
	cert := newTestCert(t, certOpts{}, "127.0.0.1")
	h.b = New(Options{Clock: h.clock})
	t.Cleanup(func() { h.b.Close(context.Background()) })
	cfg := Config{
		Listeners: []ListenerConfig{{Name: "web/0", Address: "127.0.0.1:0", Protocol: "https",
			Certificates: []Certificate{cert.Certificate}, Routes: routes(o), IdleTimeout: defaultIdle}},
		TargetGroups: map[string]TargetGroupConfig{"api": testGroup()},
	}
	if err := h.b.Apply(context.Background(), cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	h.backend = newOIDCBackend(t)
	if err := h.b.Register("api", h.backend.addr); err != nil {
		t.Fatal(err)
	}
	settleTargets(t, h.b)
	h.base = "https://" + h.b.ListenerAddrs()[0]
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(cert)}}
	t.Cleanup(tr.CloseIdleConnections)
	h.jar, _ = cookiejar.New(nil)
	h.browser = &http.Client{Transport: tr, Jar: h.jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		h.hops = append(h.hops, r.URL.String())
		if len(via) >= 10 {
			return fmt.Errorf("a redirect loop: %q", h.hops)
		}
		return nil
	}}
	h.client = &http.Client{Transport: tr, Jar: h.jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return h
}

// browse sends a browser's GET of path, following the redirects.
func (h *oidcHarness) browse(path string, header http.Header) (*http.Response, string) {
	h.t.Helper()
	h.hops = nil
	return h.do(h.browser, path, header)
}

// send sends one request, following no redirect.
func (h *oidcHarness) send(path string, header http.Header) (*http.Response, string) {
	h.t.Helper()
	return h.do(h.client, path, header)
}

func (h *oidcHarness) do(c *http.Client, path string, header http.Header) (*http.Response, string) {
	h.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = h.base + path
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// signIn browses path and checks that it ends signed in, at the backend.
func (h *oidcHarness) signIn(path string) oidcSeen {
	h.t.Helper()
	resp, body := h.browse(path, nil)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s through the sign-in (%v): got %d %s, want 200", path, h.hops, resp.StatusCode, body)
	}
	var seen oidcSeen
	if err := json.Unmarshal([]byte(body), &seen); err != nil {
		h.t.Fatalf("GET %s: the backend's answer %q: %v", path, body, err)
	}
	return seen
}

// cookies returns the browser's cookies for the listener, by name.
func (h *oidcHarness) cookies() map[string]string {
	u, _ := url.Parse(h.base)
	out := map[string]string{}
	for _, c := range h.jar.Cookies(u) {
		out[c.Name] = c.Value
	}
	return out
}

func (h *oidcHarness) setCookie(name, value string) {
	u, _ := url.Parse(h.base)
	h.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func (h *oidcHarness) deleteCookie(name string) {
	u, _ := url.Parse(h.base)
	h.jar.SetCookies(u, []*http.Cookie{{Name: name, Path: "/", MaxAge: -1}})
}

// publicKey fetches the key of x-amzn-oidc-data kid from the listener.
func (h *oidcHarness) publicKey(kid string) *ecdsa.PublicKey {
	h.t.Helper()
	resp, body := h.send("/oauth2/public-key/"+kid, nil)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /oauth2/public-key/%s: got %d, want 200", kid, resp.StatusCode)
	}
	block, _ := pem.Decode([]byte(body))
	if block == nil || block.Type != "PUBLIC KEY" {
		h.t.Fatalf("the public key is not PEM: %q", body)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		h.t.Fatal(err)
	}
	return key.(*ecdsa.PublicKey)
}

// verifyClaims checks x-amzn-oidc-data as an app would, with the key the
// listener serves, and returns its header and payload.
func (h *oidcHarness) verifyClaims(data string) (header, payload map[string]any) {
	h.t.Helper()
	parts := strings.Split(data, ".")
	if len(parts) != 3 {
		h.t.Fatalf("x-amzn-oidc-data %q is not a JWT", data)
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.URLEncoding.DecodeString(p) // with padding, as ALB writes it
		if err != nil {
			h.t.Fatalf("part %d of x-amzn-oidc-data is not base64url with padding: %v", i, err)
		}
		raw[i] = b
	}
	if !strings.HasPrefix(string(raw[0]), `{"typ":"JWT","kid":`) {
		h.t.Errorf("header %s: want ALB's order, typ and kid first", raw[0])
	}
	json.Unmarshal(raw[0], &header)
	json.Unmarshal(raw[1], &payload)
	key := h.publicKey(header["kid"].(string))
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(raw[2][:32]), new(big.Int).SetBytes(raw[2][32:])
	if len(raw[2]) != 64 || !ecdsa.Verify(key, sum[:], r, s) {
		h.t.Fatalf("x-amzn-oidc-data's signature does not verify with the listener's public key")
	}
	return header, payload
}

// TestOIDC_SignsInAndForwardsClaims goes through the whole sign-in as a
// browser does, then checks what the target gets and what the IdP was
// asked.
func TestOIDC_SignsInAndForwardsClaims(t *testing.T) {
	h := newOIDCHarness(t, func(o *routing.OIDCAction) {
		o.Scope = "openid email"
		o.ExtraParams = map[string]string{"prompt": "login", "display": "page", "state": "ignored"}
	}, nil)
	seen := h.signIn("/items?x=1&y=a%20b")

	// Through the IdP and the callback, back where it was going.
	wantHops := []string{h.idp.srv.URL + "/authorize", h.base + "/oauth2/idpresponse", h.base + "/items?x=1&y=a%20b"}
	if len(h.hops) != 3 || !strings.HasPrefix(h.hops[0], wantHops[0]+"?") ||
		!strings.HasPrefix(h.hops[1], wantHops[1]+"?") || h.hops[2] != wantHops[2] {
		t.Errorf("the browser went through %q, want %q (with their queries)", h.hops, wantHops)
	}
	if seen.Path != "/items?x=1&y=a%20b" || seen.AccessToken != "at-2" || seen.Identity != "u-123" {
		t.Errorf("the backend got %+v, want /items?x=1&y=a%%20b, access token at-2, identity u-123", seen)
	}

	// The authorization request, as ALB makes it.
	raw := h.idp.authorizeRaw[0]
	redirectURI := h.base + "/oauth2/idpresponse"
	wantStart := "client_id=" + oidcClientID + "&redirect_uri=" + url.QueryEscape(redirectURI) +
		"&response_type=code&scope=openid%20email&state="
	if !strings.HasPrefix(raw, wantStart) || !strings.HasSuffix(raw, "&display=page&prompt=login") {
		t.Errorf("authorization request %q, want it to start %q and end with the extra params", raw, wantStart)
	}
	// The code exchange: client_secret_basic, the same redirect_uri.
	form, auth := h.idp.tokenRequests[0], h.idp.tokenAuth[0]
	if form.Get("grant_type") != "authorization_code" || form.Get("code") != "code-1" ||
		form.Get("redirect_uri") != redirectURI || form.Has("client_secret") {
		t.Errorf("token request %v: want the code, the redirect_uri, and no secret in the body", form)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(oidcClientID+":"+url.QueryEscape(oidcSecret)))
	if auth != wantAuth {
		t.Errorf("token request Authorization %q, want %q", auth, wantAuth)
	}

	// x-amzn-oidc-data verifies with the key the listener serves.
	header, payload := h.verifyClaims(seen.Data)
	exp := float64(testStart.Add(2 * time.Minute).Unix())
	if header["alg"] != "ES256" || header["iss"] != h.idp.srv.URL || header["client"] != oidcClientID ||
		header["exp"] != exp || !strings.HasPrefix(header["signer"].(string), "arn:aws:elasticloadbalancing:sh-local-1:000000000000:loadbalancer/app/web/") {
		t.Errorf("x-amzn-oidc-data header %v", header)
	}
	want := map[string]any{"sub": "u-123", "email": "alice@example.com", "name": "Alice <A&B>", "exp": exp, "iss": h.idp.srv.URL}
	if fmt.Sprint(payload) != fmt.Sprint(want) {
		t.Errorf("x-amzn-oidc-data payload %v, want %v", payload, want)
	}

	// Signed in: the next request goes straight through, and headers the
	// client makes up are replaced.
	resp, body := h.send("/other", http.Header{"X-Amzn-Oidc-Identity": {"mallory"}, "X-Amzn-Oidc-Extra": {"x"}})
	json.Unmarshal([]byte(body), &seen)
	if resp.StatusCode != http.StatusOK || seen.Identity != "u-123" || slices.Contains(seen.Names, "X-Amzn-Oidc-Extra") {
		t.Errorf("signed in: got %d %+v, want 200 with identity u-123 and no X-Amzn-Oidc-Extra", resp.StatusCode, seen)
	}
	if n := len(h.idp.tokenRequests); n != 1 {
		t.Errorf("the token endpoint was called %d times, want once", n)
	}
}

// TestOIDC_CallbackSetsALBsCookies checks the cookies on the way out to the
// IdP and on the way back, one step at a time.
func TestOIDC_CallbackSetsALBsCookies(t *testing.T) {
	h := newOIDCHarness(t, nil, nil)
	resp, _ := h.send("/items", nil)
	location := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(location, h.idp.srv.URL+"/authorize?") {
		t.Fatalf("GET /items: got %d to %q, want 302 to the authorization endpoint", resp.StatusCode, location)
	}
	nonce := setCookieOf(resp, nonceCookie)
	if nonce == nil || !nonce.Secure || !nonce.HttpOnly || nonce.Path != "/" {
		t.Errorf("Set-Cookie %s: %v, want Secure, HttpOnly, Path=/", nonceCookie, nonce)
	}
	// A second request to the IdP keeps the browser's nonce.
	if again, _ := h.send("/again", nil); setCookieOf(again, nonceCookie) != nil {
		t.Errorf("a second redirect set a new nonce: the first login's callback would fail")
	}

	resp, _ = h.send(location, nil) // the IdP
	callback := resp.Header.Get("Location")
	resp, _ = h.send(callback, http.Header{"Origin": {"https://app.example.com"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != h.base+"/items" {
		t.Fatalf("callback: got %d to %q, want 302 to %s/items", resp.StatusCode, resp.Header.Get("Location"), h.base)
	}
	c := setCookieOf(resp, "AWSELBAuthSessionCookie-0")
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteNoneMode ||
		c.Expires.Year() < testStart.Year()+39 {
		t.Errorf("session cookie %v: want Secure, HttpOnly, SameSite=None (a CORS request), expiring in 40 years", c)
	}
	// The callback once more: the code is spent.
	if resp, _ = h.send(callback, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a spent code: got %d, want 401", resp.StatusCode)
	}
}

func setCookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestOIDC_UnauthenticatedRequest: each OnUnauthenticatedRequest, without
// a session, with one, and with one that has timed out.
func TestOIDC_UnauthenticatedRequest(t *testing.T) {
	for _, c := range []struct {
		mode          string
		none, expired int // statuses
		noneHits      bool
	}{
		{mode: "", none: http.StatusFound, expired: http.StatusFound},
		{mode: "authenticate", none: http.StatusFound, expired: http.StatusFound},
		{mode: "allow", none: http.StatusOK, expired: http.StatusOK, noneHits: true},
		{mode: "deny", none: http.StatusUnauthorized},
	} {
		t.Run(cmp.Or(c.mode, "default"), func(t *testing.T) {
			h := newOIDCHarness(t, func(o *routing.OIDCAction) {
				o.OnUnauthenticatedRequest = c.mode
				o.SessionTimeout = time.Hour
			}, nil)
			resp, body := h.send("/x", http.Header{"X-Amzn-Oidc-Identity": {"mallory"}})
			if resp.StatusCode != c.none {
				t.Fatalf("no session: got %d, want %d", resp.StatusCode, c.none)
			}
			if got := h.backend.hits.Load() == 1; got != c.noneHits {
				t.Errorf("no session: the backend got the request: %v, want %v", got, c.noneHits)
			}
			if c.noneHits && strings.Contains(body, "mallory") {
				t.Errorf("allow: the backend got the client's x-amzn-oidc-identity: %s", body)
			}
			if c.mode == "deny" {
				return // TestOIDC_DenyRedirectsAnExpiredSession signs in through another rule
			}
			h.signIn("/signed-in")
			h.clock.Advance(time.Hour)
			if resp, _ := h.send("/x", nil); resp.StatusCode != c.expired {
				t.Errorf("a timed-out session: got %d, want %d", resp.StatusCode, c.expired)
			}
		})
	}
}

// TestOIDC_DenyRedirectsAnExpiredSession: with deny, a request without a
// session gets 401, but one whose session timed out is sent to the IdP.
func TestOIDC_DenyRedirectsAnExpiredSession(t *testing.T) {
	h := newOIDCHarness(t, func(o *routing.OIDCAction) { o.SessionTimeout = time.Hour }, func(o *routing.OIDCAction) routing.Listener {
		denying := *o
		denying.OnUnauthenticatedRequest = "deny"
		a := forwardAction("api")
		a.Auth = &routing.AuthAction{OIDC: o}
		d := forwardAction("api")
		d.Auth = &routing.AuthAction{OIDC: &denying}
		return routing.Listener{Rules: []routing.Rule{
			rule(10, d, routing.Condition{Field: routing.PathPattern, Values: []string{"/api/*"}}),
		}, Default: a}
	})
	if resp, _ := h.send("/api/x", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("deny without a session: got %d, want 401", resp.StatusCode)
	}
	h.signIn("/") // the same cookie name: the session is the deny rule's too
	if resp, _ := h.send("/api/x", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("deny signed in: got %d, want 200", resp.StatusCode)
	}
	h.clock.Advance(time.Hour)
	resp, _ := h.send("/api/x", nil)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.idp.srv.URL+"/authorize?") {
		t.Errorf("deny with a timed-out session: got %d to %q, want 302 to the IdP", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestOIDC_TamperedSessionSignsInAgain: a session cookie that does not
// open is no session: sign in again (401 with deny).
func TestOIDC_TamperedSessionSignsInAgain(t *testing.T) {
	h := newOIDCHarness(t, nil, nil)
	h.signIn("/")
	v := []byte(h.cookies()["AWSELBAuthSessionCookie-0"])
	v[40] ^= 'A' ^ 'B'
	h.setCookie("AWSELBAuthSessionCookie-0", string(v))
	resp, _ := h.send("/x", nil)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.idp.srv.URL+"/authorize?") {
		t.Errorf("a tampered session: got %d to %q, want 302 to the IdP", resp.StatusCode, resp.Header.Get("Location"))
	}
	if seen := h.signIn("/y"); seen.Identity != "u-123" {
		t.Errorf("signed in again: identity %q, want u-123", seen.Identity)
	}

	// Another balancer's (or run's) cookie does not open either.
	other := newOIDCHarness(t, func(o *routing.OIDCAction) { o.OnUnauthenticatedRequest = "deny" }, nil)
	other.setCookie("AWSELBAuthSessionCookie-0", h.cookies()["AWSELBAuthSessionCookie-0"])
	if resp, _ := other.send("/x", nil); resp.StatusCode != http.StatusUnauthorized || other.backend.hits.Load() != 0 {
		t.Errorf("deny with another balancer's session: got %d, want 401", resp.StatusCode)
	}
}

// TestOIDC_LargeClaimsAreSharded: a session over 4 KB spans cookies -0,
// -1 …; a later, smaller one expires the shards it does not need; claims
// and access token over 11K are refused with 500.
func TestOIDC_LargeClaimsAreSharded(t *testing.T) {
	h := newOIDCHarness(t, func(o *routing.OIDCAction) { o.SessionTimeout = time.Hour }, nil)
	h.idp.set(func(p *oidcIdP) { p.claims["groups"] = strings.Repeat("g", 8000) })
	seen := h.signIn("/")
	_, payload := h.verifyClaims(seen.Data)
	if payload["groups"] != strings.Repeat("g", 8000) {
		t.Errorf("x-amzn-oidc-data lost the large claim")
	}
	got := h.cookies()
	for _, name := range []string{"AWSELBAuthSessionCookie-0", "AWSELBAuthSessionCookie-1", "AWSELBAuthSessionCookie-2"} {
		if v, ok := got[name]; !ok || len(v) > 4000 {
			t.Errorf("cookie %s: %d bytes, present %v; want it, at most 4000 bytes", name, len(v), ok)
		}
	}

	// The browser loses a shard, and signs in again with fewer claims: the
	// new session expires the shards it does not use, -2 included.
	h.deleteCookie("AWSELBAuthSessionCookie-1")
	h.idp.set(func(p *oidcIdP) { delete(p.claims, "groups") })
	h.signIn("/")
	got = h.cookies()
	if _, ok := got["AWSELBAuthSessionCookie-2"]; ok || got["AWSELBAuthSessionCookie-0"] == "" {
		t.Errorf("after a smaller session: cookies %v, want -0 only", slices.Sorted(mapsKeys(got)))
	}
	if seen := h.signIn("/again"); seen.Identity != "u-123" || len(h.hops) != 0 {
		t.Errorf("signed in with the smaller session: %+v through %v, want u-123 at once", seen, h.hops)
	}

	h.idp.set(func(p *oidcIdP) { p.claims["groups"] = strings.Repeat("g", 11*1024) })
	h.clock.Advance(time.Hour)
	if resp, _ := h.browse("/", nil); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("claims over 11K: got %d, want 500", resp.StatusCode)
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestOIDC_IdPErrors: what the browser gets back from the callback when
// the IdP or its answers fail, as ALB answers.
func TestOIDC_IdPErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		idp    func(p *oidcIdP)
		action func(o *routing.OIDCAction)
		want   int
	}{
		{name: "the user says no", idp: func(p *oidcIdP) { p.deny = true }, want: http.StatusUnauthorized},
		{name: "token endpoint fails", idp: func(p *oidcIdP) { p.tokenStatus, p.tokenBody = 503, "down" }, want: 561},
		{name: "token endpoint refuses the code", idp: func(p *oidcIdP) { p.tokenStatus, p.tokenBody = 400, `{"error":"invalid_grant"}` }, want: http.StatusUnauthorized},
		{name: "token endpoint refuses the client", action: func(o *routing.OIDCAction) { o.ClientSecret = "wrong" }, want: 561},
		{name: "token endpoint unreachable", action: func(o *routing.OIDCAction) { o.TokenEndpoint = "http://" + refusedAddr(t) + "/token" }, want: http.StatusInternalServerError},
		{name: "token answer not JSON", idp: func(p *oidcIdP) { p.tokenStatus, p.tokenBody = 200, "<html>" }, want: http.StatusUnauthorized},
		{name: "no ID token", idp: func(p *oidcIdP) { p.noIDToken = true }, want: http.StatusUnauthorized},
		{name: "ID token for another client", idp: func(p *oidcIdP) { p.idAudience = "someone-else" }, want: http.StatusUnauthorized},
		{name: "ID token from another issuer", action: func(o *routing.OIDCAction) { o.Issuer = "https://other.example.com" }, want: http.StatusUnauthorized},
		{name: "ID token of another user", idp: func(p *oidcIdP) { p.idSub = "u-999" }, want: http.StatusUnauthorized},
		{name: "user info fails", idp: func(p *oidcIdP) { p.userInfoStatus = http.StatusForbidden }, want: 561},
		{name: "user info not JSON", idp: func(p *oidcIdP) { p.userInfoBody = "sub=u-123" }, want: http.StatusUnauthorized},
		{name: "user info without sub", idp: func(p *oidcIdP) { p.userInfoBody = `{"email":"a@example.com"}` }, want: http.StatusUnauthorized},
		{name: "user info unreachable", action: func(o *routing.OIDCAction) { o.UserInfoEndpoint = "http://" + refusedAddr(t) + "/userinfo" }, want: http.StatusInternalServerError},
		{name: "user info too large", idp: func(p *oidcIdP) { p.userInfoBody = `{"sub":"u-123","x":"` + strings.Repeat("x", 12000) + `"}` }, want: http.StatusInternalServerError},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newOIDCHarness(t, c.action, nil)
			if c.idp != nil {
				h.idp.set(c.idp)
			}
			resp, _ := h.browse("/items", nil)
			if resp.StatusCode != c.want || resp.Request.URL.Path != "/oauth2/idpresponse" {
				t.Errorf("got %d at %s, want %d from the callback", resp.StatusCode, resp.Request.URL.Path, c.want)
			}
			if h.backend.hits.Load() != 0 {
				t.Errorf("the backend got a request")
			}
		})
	}
}

// TestOIDC_CallbackChecksStateAndNonce: a callback must come back with the
// state the balancer sent, to the browser it sent it from, within 15
// minutes.
func TestOIDC_CallbackChecksStateAndNonce(t *testing.T) {
	for _, c := range []struct {
		name  string
		spoil func(h *oidcHarness, callback string) string
	}{
		{"no state", func(_ *oidcHarness, cb string) string { return stripParam(cb, "state") }},
		{"tampered state", func(_ *oidcHarness, cb string) string {
			u, _ := url.Parse(cb)
			q := u.Query()
			s := []byte(q.Get("state"))
			s[30] ^= 'A' ^ 'B'
			q.Set("state", string(s))
			u.RawQuery = q.Encode()
			return u.String()
		}},
		{"no code", func(_ *oidcHarness, cb string) string { return stripParam(cb, "code") }},
		{"another browser (no nonce cookie)", func(h *oidcHarness, cb string) string {
			h.deleteCookie(nonceCookie)
			return cb
		}},
		{"another login's nonce", func(h *oidcHarness, cb string) string {
			h.setCookie(nonceCookie, "AAAAAAAAAAAAAAAA")
			return cb
		}},
		{"after 15 minutes", func(h *oidcHarness, cb string) string {
			h.clock.Advance(15 * time.Minute)
			return cb
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newOIDCHarness(t, nil, nil)
			resp, _ := h.send("/items", nil)
			resp, _ = h.send(resp.Header.Get("Location"), nil)
			callback := resp.Header.Get("Location")
			resp, _ = h.send(c.spoil(h, callback), nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("got %d, want 401", resp.StatusCode)
			}
			if n := len(h.idp.tokenRequests); n != 0 {
				t.Errorf("the code was sent to the token endpoint %d times, want never", n)
			}
		})
	}
}

func stripParam(u, name string) string {
	p, _ := url.Parse(u)
	q := p.Query()
	q.Del(name)
	p.RawQuery = q.Encode()
	return p.String()
}

// TestOIDC_RefreshesAnExpiredAccessToken: once the access token expires,
// the refresh token renews it (and the claims) within the session; when
// the refresh fails, the user signs in again.
func TestOIDC_RefreshesAnExpiredAccessToken(t *testing.T) {
	h := newOIDCHarness(t, nil, nil)
	h.idp.set(func(p *oidcIdP) { p.expiresIn, p.refresh = 60, true })
	if seen := h.signIn("/"); seen.AccessToken != "at-2" {
		t.Fatalf("access token %q, want at-2", seen.AccessToken)
	}
	h.clock.Advance(59 * time.Second)
	if seen := h.signIn("/"); seen.AccessToken != "at-2" {
		t.Errorf("before it expires: access token %q, want at-2", seen.AccessToken)
	}

	h.clock.Advance(time.Second)
	h.idp.set(func(p *oidcIdP) { p.claims["email"] = "alice@new.example.com" })
	resp, body := h.send("/", nil)
	var seen oidcSeen
	json.Unmarshal([]byte(body), &seen)
	if resp.StatusCode != http.StatusOK || seen.AccessToken != "at-3" {
		t.Fatalf("expired: got %d %+v, want 200 with the refreshed access token at-3", resp.StatusCode, seen)
	}
	if _, payload := h.verifyClaims(seen.Data); payload["email"] != "alice@new.example.com" {
		t.Errorf("refreshed claims: email %v, want alice@new.example.com", payload["email"])
	}
	if f := h.idp.tokenRequests[1]; f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != "rt-2" {
		t.Errorf("refresh request %v, want grant_type refresh_token with rt-2", f)
	}
	if setCookieOf(resp, "AWSELBAuthSessionCookie-0") == nil {
		t.Errorf("the refreshed session was not stored")
	}

	h.clock.Advance(time.Minute)
	h.idp.set(func(p *oidcIdP) { clear(p.refreshTokens) }) // the user signed out at the IdP
	resp, _ = h.send("/", nil)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.idp.srv.URL+"/authorize?") {
		t.Errorf("refresh refused: got %d to %q, want 302 to the IdP", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestOIDC_PublicKey: the listener serves its key, and 404 for another.
func TestOIDC_PublicKey(t *testing.T) {
	h := newOIDCHarness(t, nil, nil)
	kid := newClaimsSigner(h.b.d.cookieKey).kid
	h.publicKey(kid)
	if resp, _ := h.send("/oauth2/public-key/12345678-1234-1234-1234-123456789012", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another kid: got %d, want 404", resp.StatusCode)
	}
	if other := newClaimsSigner(newCookieKey()); other.kid == kid {
		t.Errorf("two balancers have the same key")
	}
}

// TestOIDC_CallbackIsNotRouted: the callback reaches the balancer even
// when no rule with authentication matches /oauth2/idpresponse.
func TestOIDC_CallbackIsNotRouted(t *testing.T) {
	h := newOIDCHarness(t, nil, func(o *routing.OIDCAction) routing.Listener {
		a := forwardAction("api")
		a.Auth = &routing.AuthAction{OIDC: o}
		return routing.Listener{Rules: []routing.Rule{
			rule(10, a, routing.Condition{Field: routing.PathPattern, Values: []string{"/admin*"}}),
		}, Default: forwardAction("api")}
	})
	resp, body := h.browse("/admin/users", nil)
	if strings.Contains(body, `"path":"/oauth2/idpresponse`) {
		t.Fatal("the callback was routed to the target: router.ServeHTTP must answer it before the rules")
	}
	var seen oidcSeen
	json.Unmarshal([]byte(body), &seen)
	if resp.StatusCode != http.StatusOK || seen.Path != "/admin/users" || seen.Identity != "u-123" {
		t.Errorf("got %d %s, want the backend's answer to /admin/users, signed in", resp.StatusCode, body)
	}
}

// BenchmarkOIDC_SignedInRequest: what a signed-in request costs the
// balancer before it is forwarded: the session opened and x-amzn-oidc-data
// signed.
func BenchmarkOIDC_SignedInRequest(b *testing.B) {
	key := newCookieKey()
	o := &routing.OIDCAction{Issuer: "https://idp.example.com", ClientID: "c"}
	rt := &route{name: "web/0", scheme: "https"}
	s := &session{Issuer: o.Issuer, Client: o.ClientID, Sub: "u-1", AccessToken: strings.Repeat("a", 800),
		Claims: json.RawMessage(`{"sub":"u-1","email":"a@example.com","name":"A"}`), expires: testStart.Add(time.Hour)}
	rec := httptest.NewRecorder()
	rt.writeSession(rec, httptest.NewRequest("GET", "/", nil), o, s, key, testStart)
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	d := &deps{cookieKey: key, clock: clocktest.NewFake(testStart)}
	b.ReportAllocs()
	for b.Loop() {
		s, st := readSession(req, o, key, testStart)
		if st != sessionValid || rt.setClaimHeaders(http.Header{}, s, d, testStart) != nil {
			b.Fatal("not signed in")
		}
	}
}
