package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// provider is a small OpenID Connect provider (the authorization code
// flow, OpenID Connect Core 1.0 §3.1) for one client, for development: it
// signs in anyone who asks, as the configured user, or as whoever they
// type into its form. Codes and refresh tokens live in memory; tokens are
// JWTs signed RS256 with a key made when it starts.
type provider struct {
	cfg config
	key *rsa.PrivateKey
	kid string
	now func() time.Time

	mu      sync.Mutex
	codes   map[string]grant // unused authorization codes
	refresh map[string]grant // valid refresh tokens
}

// grant is what a code or a refresh token stands for.
type grant struct {
	user, scope, nonce, redirectURI string
	authTime                        time.Time
	expires                         time.Time
}

// Lifetimes.
const (
	codeLifetime    = 5 * time.Minute
	idTokenLifetime = time.Hour
	refreshLifetime = 24 * time.Hour
)

func newProvider(cfg config, key *rsa.PrivateKey, now func() time.Time) *provider {
	sum := sha256.Sum256(key.PublicKey.N.Bytes())
	return &provider{cfg: cfg, key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:8]), now: now,
		codes: map[string]grant{}, refresh: map[string]grant{}}
}

// handler routes the provider's endpoints.
func (p *provider) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /authorize", p.authorize) // the sign-in form
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userInfo)
	mux.HandleFunc("POST /userinfo", p.userInfo)
	return mux
}

// discovery answers the provider's metadata (OpenID Connect Discovery
// 1.0 §3).
func (p *provider) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := p.cfg.issuer
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"userinfo_endpoint":                     iss + "/userinfo",
		"jwks_uri":                              iss + "/jwks",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"claims_supported":                      []string{"sub", "name", "preferred_username", "email", "email_verified"},
	})
}

// jwks answers the public key tokens are signed with (RFC 7517).
func (p *provider) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := p.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": p.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// authorize is the authorization endpoint (RFC 6749 §4.1.1): it signs the
// user in at once, or shows the sign-in form (with LOGIN=form, or when the
// client asks prompt=login), and sends the browser back with a code.
func (p *provider) authorize(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	q := r.Form
	redirectURI := q.Get("redirect_uri")
	if q.Get("client_id") != p.cfg.clientID || !p.cfg.allowsRedirect(redirectURI) {
		// Never redirect to an address the client did not register
		// (RFC 6749 §4.1.2.1): say so to the user instead.
		http.Error(w, "unknown client_id or redirect_uri not allowed: "+redirectURI, http.StatusBadRequest)
		return
	}
	back := url.Values{}
	if s := q.Get("state"); s != "" {
		back.Set("state", s)
	}
	// The form posts the user's name; a client may post a request too
	// (OpenID Connect Core §3.1.2.1).
	typed := r.Method == http.MethodPost && r.PostForm.Has("username")
	user := p.cfg.user
	if typed {
		user = strings.TrimSpace(r.PostForm.Get("username"))
	}
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case !typed && (p.cfg.form || slices.Contains(strings.Fields(q.Get("prompt")), "login")):
		showSignIn(w, q)
		return
	case user == "":
		back.Set("error", "access_denied")
	default:
		back.Set("code", p.newCode(grant{user: user, scope: q.Get("scope"), nonce: q.Get("nonce"), redirectURI: redirectURI}))
	}
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
	}
	http.Redirect(w, r, redirectURI+sep+back.Encode(), http.StatusFound)
}

// signInPage is the form: the authorization request's parameters ride
// along in hidden fields.
var signInPage = template.Must(template.New("sign-in").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sign in</h1>
<form method="post" action="/authorize">
{{range $k, $v := .}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<label>User <input name="username" id="username" autofocus required></label>
<button type="submit" id="sign-in">Sign in</button>
</form></body></html>
`))

func showSignIn(w http.ResponseWriter, q url.Values) {
	params := url.Values{}
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce"} {
		if q.Has(k) {
			params.Set(k, q.Get(k))
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	signInPage.Execute(w, params)
}

// newCode stores g under a new code.
func (p *provider) newCode(g grant) string {
	now := p.now()
	g.authTime, g.expires = now, now.Add(codeLifetime)
	code := randomToken()
	p.mu.Lock()
	defer p.mu.Unlock()
	pruneLocked(p.codes, now)
	p.codes[code] = g
	return code
}

// pruneLocked drops the expired grants of m.
func pruneLocked(m map[string]grant, now time.Time) {
	for k, g := range m {
		if !now.Before(g.expires) {
			delete(m, k)
		}
	}
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// token is the token endpoint (RFC 6749 §3.2): a code or a refresh token
// for an access token, an ID token and a (new) refresh token. The client
// authenticates with client_secret_basic or client_secret_post.
func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if !p.clientAuthenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	f := r.PostForm
	var g grant
	var ok bool
	switch f.Get("grant_type") {
	case "authorization_code":
		g, ok = p.take(p.codes, f.Get("code"))
		if ok && g.redirectURI != f.Get("redirect_uri") {
			ok = false // the code was issued for another redirect_uri (RFC 6749 §4.1.3)
		}
	case "refresh_token":
		g, ok = p.take(p.refresh, f.Get("refresh_token"))
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "use authorization_code or refresh_token")
		return
	}
	if !ok {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the code or refresh token is unknown, used or expired")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, p.issue(g))
}

// clientAuthenticated reports whether r carries the client's id and
// secret, in an Authorization: Basic header (each form-encoded, RFC 6749
// §2.3.1) or in the body.
func (p *provider) clientAuthenticated(r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return subtle.ConstantTimeCompare([]byte(id), []byte(p.cfg.clientID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(p.cfg.clientSecret)) == 1
}

// take removes and returns the grant of key in m, if it has not expired.
func (p *provider) take(m map[string]grant, key string) (grant, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := m[key]
	delete(m, key)
	return g, ok && p.now().Before(g.expires)
}

// issue makes the tokens of g: an access token, an ID token when the
// scope asks for openid, and a refresh token.
func (p *provider) issue(g grant) map[string]any {
	now := p.now()
	answer := map[string]any{
		"access_token": p.sign(map[string]any{"iss": p.cfg.issuer, "sub": g.user, "aud": p.cfg.clientID,
			"client_id": p.cfg.clientID, "scope": g.scope, "iat": now.Unix(),
			"exp": now.Add(p.cfg.accessTTL).Unix(), "jti": randomToken()}),
		"token_type": "Bearer",
		"expires_in": int(p.cfg.accessTTL / time.Second),
		"scope":      g.scope,
	}
	if slices.Contains(strings.Fields(g.scope), "openid") {
		claims := map[string]any{"iss": p.cfg.issuer, "sub": g.user, "aud": p.cfg.clientID,
			"iat": now.Unix(), "exp": now.Add(idTokenLifetime).Unix(), "auth_time": g.authTime.Unix()}
		if g.nonce != "" {
			claims["nonce"] = g.nonce
		}
		answer["id_token"] = p.sign(claims)
	}
	refresh := randomToken()
	g.expires = now.Add(refreshLifetime)
	p.mu.Lock()
	pruneLocked(p.refresh, now)
	p.refresh[refresh] = g
	p.mu.Unlock()
	answer["refresh_token"] = refresh
	return answer
}

// userInfo is the user info endpoint (OpenID Connect Core §5.3): the
// claims of the user an access token was issued to.
func (p *provider) userInfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := p.verify(token)
	if !ok || err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid access token", http.StatusUnauthorized)
		return
	}
	user, _ := claims["sub"].(string)
	writeJSON(w, http.StatusOK, userClaims(user))
}

// userClaims are the claims of user: made up from the name.
func userClaims(user string) map[string]any {
	name := user
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return map[string]any{"sub": user, "preferred_username": user, "name": name,
		"email": user + "@example.com", "email_verified": true}
}

// sign makes a JWT of claims, signed RS256 with the provider's key.
func (p *provider) sign(claims map[string]any) string {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": p.kid})
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signed))
	sig, _ := rsa.SignPKCS1v15(nil, p.key, crypto.SHA256, sum[:]) // never fails with a valid key
	return signed + "." + enc.EncodeToString(sig)
}

// verify checks a JWT the provider signed, and that it has not expired:
// its claims.
func (p *provider) verify(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&p.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return nil, err
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	if exp, _ := claims["exp"].(float64); !p.now().Before(time.Unix(int64(exp), 0)) || claims["iss"] != p.cfg.issuer {
		return nil, fmt.Errorf("expired or not issued here")
	}
	return claims, nil
}

// tokenError answers an error of the token endpoint (RFC 6749 §5.2).
func tokenError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
