package proxy

// ALB's authenticate-oidc action: a rule signs its users in through an
// OpenID Connect provider (IdP) before its own action runs, and the target
// gets the user's claims in headers.
//
//	browser ──GET /items──▶ balancer: no session cookie
//	        ◀─302 authorization_endpoint?client_id&redirect_uri&response_type=code&scope&state
//	        ──(signs in at the IdP)──▶ IdP ─302 /oauth2/idpresponse?code&state─▶ browser
//	        ──GET /oauth2/idpresponse──▶ balancer ──POST token_endpoint──▶ IdP (id and access tokens)
//	                                              ──GET user_info_endpoint─▶ IdP (the claims)
//	        ◀─302 /items, Set-Cookie AWSELBAuthSessionCookie-0…
//	        ──GET /items + cookie──▶ balancer ──x-amzn-oidc-*──▶ target
//
// What ALB does, and where AWS says so (the pages are listed below):
//
//   - The flow is the authorization code flow. "If the cookie is not
//     present, the load balancer redirects the user to the IdP
//     authorization endpoint"; the IdP sends the user back with a code to
//     https://DNS/oauth2/idpresponse (or https://CNAME/…: the host the
//     user came to); the load balancer "presents the code to the IdP token
//     endpoint to get the ID token and access token", and "after the load
//     balancer validates the ID token, it exchanges the access token with
//     the IdP user info endpoint to get the user claims"; it then redirects
//     "with the AWSELB authentication session cookie to the original URI"
//     (listener-authenticate-users, Authentication flow).
//   - The authorization request carries client_id, redirect_uri,
//     response_type=code, scope and state, then the configured
//     AuthenticationRequestExtraParams ("the query parameters (up to 10) to
//     include in the redirect request to the authorization endpoint"); the
//     scope's default is openid, the session cookie's
//     AWSELBAuthSessionCookie, the session timeout 604800 s (7 days, and as
//     short as 1 s), OnUnauthenticatedRequest's authenticate
//     (AuthenticateOidcActionConfig).
//   - OnUnauthenticatedRequest: authenticate redirects to the IdP; allow
//     "forwards the request without the user claims"; deny "returns an HTTP
//     401 Unauthorized error to AJAX calls that have no authentication
//     information. But if the user has expired authentication information,
//     it redirects the client to the IdP authorization endpoint".
//   - The session cookie "always contains the secure attribute", and
//     SameSite=None "with CORS (cross-origin resource sharing) requests";
//     "the load balancer shards a cookie that is greater than 4K in size
//     into multiple cookies", up to 4 ("cookies up to 16K in size and can
//     therefore create up to 4 shards"); its expiry attribute "is set to 40
//     years", the session's own expiry being sealed in its (encrypted)
//     value. "If the total size of the user claims and access token
//     received from the IdP is greater than 11K bytes in size, the load
//     balancer returns an HTTP 500 error". A user must complete the login
//     "within 15 minutes", or gets a 401.
//   - Targets get x-amzn-oidc-accesstoken ("the access token from the token
//     endpoint, in plain text"), x-amzn-oidc-identity ("the subject field
//     (sub) from the user info endpoint") and x-amzn-oidc-data: the user
//     claims as a JWT whose header has alg, kid, signer (the load
//     balancer's ARN), iss, client and exp, whose payload holds the claims
//     from the user info endpoint, "base64 URL encoded and includes padding
//     characters at the end", signed "ECDSA + P-256 + SHA256"; its public
//     key, as PEM, is at https://public-keys.auth.elb.REGION.amazonaws.com/KID.
//   - If the IdP gives a refresh token, "the load balancer saves the
//     refresh token and uses it to refresh the user claims each time the
//     access token expires, until the session times out or the IdP refresh
//     fails"; when it fails, "the load balancer redirects the user to the
//     IdP authorization endpoint".
//   - Errors (load-balancer-troubleshooting, and the access log's
//     error_reason codes, load-balancer-access-logs): 401 when the IdP
//     denied access, the state or the code is missing or not valid, the ID
//     token is not valid, the token or user info response is not valid, or
//     the login took more than 15 minutes; 561 when "the IdP returned an
//     error code" (a non-2XX answer of the token or user info endpoint);
//     500 when the load balancer cannot reach the token or user info
//     endpoint, one takes more than 5 seconds, or the claims exceed 11K.
//     Each failure is logged with ALB's error_reason (AuthInvalidStateParam,
//     AuthTokenEpRequestFailed …).
//   - The nonce: on the way out the load balancer sets the cookie
//     AWSALBAuthNonce, which the state refers to; a callback whose browser
//     lacks it or holds another fails (AuthMissingAWSALBAuthNonce,
//     AuthInvalidAWSALBAuthNonce), so that nobody can sign a victim's
//     browser in with a code of their own (login CSRF).
//
// Where AWS writes nothing down, shoal chooses, and says so here:
//
//   - The callback and the public key are answered by the balancer on any
//     listener that has an authenticate-oidc action, whatever its rules
//     (serveOAuth2): GET /oauth2/idpresponse and GET
//     /oauth2/public-key/KID, the latter standing for ALB's regional key
//     endpoint, so that an app verifies x-amzn-oidc-data here as on AWS. The
//     state names the action it was made for (a hash of its IdP settings):
//     a callback after a deploy that changed them fails with 401.
//   - The code is exchanged with client_secret_basic (HTTP Basic, id and
//     secret form-encoded as RFC 6749 §2.3.1 says), which every OAuth 2.0
//     server must take; the ID token is checked as OpenID Connect Core
//     §3.1.3.7 allows for one received straight from the token endpoint
//     over TLS: iss equal to the issuer, aud holding the client id, exp in
//     the future, no signature check. Its sub must equal the user info's.
//   - State and session are sealed with the balancer's cookie key
//     (sealCookie: AES-256-CTR and HMAC-SHA256, the key made when shoal
//     starts). A session cookie that does not open (tampered with, or from
//     before a restart) counts as none: the user signs in again (with deny:
//     401). ALB logs AuthInvalidCookie; its keys outlive a restart.
//   - Sessions are not bound to a rule: rules with the same cookie name
//     share sessions, which is why ALB asks for "a unique cookie name" per
//     rule that needs its own sign-in.
//   - x-amzn-oidc-data: the header's fields in ALB's order (typ, kid, alg,
//     iss, client, signer, exp); exp is 2 minutes after the request (the
//     lifetime AWS documents for Verified Access's equivalent header); the
//     payload is the user info claims plus exp and iss, as ALB's tokens
//     have them. The key is P-256, derived from the cookie key: one per
//     balancer and run, its kid a UUID made of the public key's hash. The
//     signer is arn:aws:elasticloadbalancing:sh-local-1:000000000000:
//     loadbalancer/app/LB/ID, where LB is the load balancer's name and ID a
//     hash of it (a region of ALB's form, so that verifiers that parse the
//     ARN, like aws-jwt-verify, take it).
//   - Session cookies are HttpOnly, and Secure on https listeners (ALB
//     takes authentication on https listeners only; package spec enforces
//     it). SameSite=None is added when the request has an Origin header.
//     A new session expires the shards of an older, larger one.
//   - x-amzn-oidc-* headers a client sends are dropped on every request
//     an authenticate-oidc action sees, signed in or not.
//   - The nonce cookie is reused while the browser has one, so that
//     several requests sent to the IdP at once do not spoil each other's
//     callbacks.
//
// Sources:
//
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AuthenticateOidcActionConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html
//   - https://repost.aws/knowledge-center/elb-configure-authentication-alb

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/routing"
)

// The load balancer's own paths on a listener with authentication.
const (
	oauth2Prefix     = "/oauth2/"
	idpResponsePath  = "/oauth2/idpresponse"
	publicKeysPrefix = "/oauth2/public-key/"
)

// ALB's defaults and limits.
const (
	defaultSessionCookie  = "AWSELBAuthSessionCookie"
	defaultAuthScope      = "openid"
	defaultSessionTimeout = 7 * 24 * time.Hour
	// nonceCookie binds a login's state to the browser that started it.
	nonceCookie = "AWSALBAuthNonce"
	// loginTimeout is how long a user has to come back from the IdP.
	loginTimeout = 15 * time.Minute
	// idpTimeout bounds a call to the token or user info endpoint.
	idpTimeout = 5 * time.Second
	// maxUserClaims bounds the user info claims and the access token,
	// together.
	maxUserClaims = 11 * 1024
	// sessionShards is how many cookies a session may span, and
	// sessionShardLen the longest value of one.
	sessionShards   = 4
	sessionShardLen = 4000
	// sessionCookieExpiry is the Expires of the session cookies: the
	// session's own end is sealed in their value.
	sessionCookieExpiry = 40 * 365 * 24 * time.Hour
	// claimsLifetime is how long an x-amzn-oidc-data token is valid.
	claimsLifetime = 2 * time.Minute
	// statusIdPError is ALB's answer when the IdP answered with an error.
	statusIdPError = 561
	// maxIdPAnswer bounds what is read of a token endpoint's answer.
	maxIdPAnswer = 1 << 20
)

// The headers a target gets.
const (
	accessTokenHeader = "X-Amzn-Oidc-Accesstoken"
	identityHeader    = "X-Amzn-Oidc-Identity"
	claimsHeader      = "X-Amzn-Oidc-Data"
)

// Payload kinds of the values sealed for authentication, next to the
// stickiness cookies' lbPayload and appPayload.
const (
	sessionPayload = 'S'
	statePayload   = 'O'
)

// The x-amzn-oidc-data signer's ARN: a region of ALB's form that is none
// of AWS's, and no account.
const (
	signerRegion  = "sh-local-1"
	signerAccount = "000000000000"
)

// authenticateOIDC carries out an authenticate-oidc action before the
// rule's own: it reports whether r goes on to that action, with the
// user's claims in its headers (or, with allow, without them); when not,
// it has answered: a redirect to the IdP, or 401.
func (rt *route) authenticateOIDC(w http.ResponseWriter, r *http.Request, o *routing.OIDCAction, d *deps) bool {
	if rt.serveOAuth2(w, r, d) {
		return false
	}
	stripOIDCHeaders(r.Header)
	now := d.clock.Now()
	s, state := readSession(r, o, d.cookieKey, now)
	if state == sessionValid && s.needsRefresh(now) {
		s, state = rt.refreshSession(w, r, o, s, d, now)
	}
	if state == sessionValid {
		if err := rt.setClaimHeaders(r.Header, s, d, now); err != nil {
			rt.authFailed(w, authErr(http.StatusInternalServerError, "AuthUnhandledException", err), d)
			return false
		}
		return true
	}
	switch cmp.Or(o.OnUnauthenticatedRequest, "authenticate") {
	case "allow":
		return true
	case "deny":
		if state != sessionExpired {
			writeError(w, http.StatusUnauthorized)
			return false
		}
	}
	rt.startLogin(w, r, o, d, now)
	return false
}

// serveOAuth2 answers the load balancer's own paths on a listener with an
// authenticate-oidc action, before any rule: the IdP's callback and the
// public key of x-amzn-oidc-data. It reports whether it answered r.
func (rt *route) serveOAuth2(w http.ResponseWriter, r *http.Request, d *deps) bool {
	path := r.URL.Path
	if !strings.HasPrefix(path, oauth2Prefix) {
		return false
	}
	actions := rt.oidc
	if len(actions) == 0 {
		return false
	}
	switch {
	case path == idpResponsePath:
		rt.idpResponse(w, r, actions, d)
	case strings.HasPrefix(path, publicKeysPrefix) && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		servePublicKey(w, strings.TrimPrefix(path, publicKeysPrefix), d)
	default:
		return false
	}
	return true
}

// oidcActions returns the authenticate-oidc actions of a listener's rules,
// its default action's last.
func oidcActions(l routing.Listener) []*routing.OIDCAction {
	var out []*routing.OIDCAction
	for _, a := range append(actions(l.Rules), l.Default) {
		if a.Auth != nil && a.Auth.OIDC != nil {
			out = append(out, a.Auth.OIDC)
		}
	}
	return out
}

// stripOIDCHeaders drops the x-amzn-oidc-* headers from h: only the load
// balancer sets them.
func stripOIDCHeaders(h http.Header) {
	for k := range h {
		if len(k) >= 12 && strings.EqualFold(k[:12], "x-amzn-oidc-") {
			delete(h, k)
		}
	}
}

// authError is a failed sign-in: the status ALB answers with and its
// access log's error reason.
type authError struct {
	status int
	reason string
	err    error
}

func (e *authError) Error() string { return e.reason + ": " + e.err.Error() }

// authErr is a failed sign-in.
func authErr(status int, reason string, err error) *authError {
	return &authError{status: status, reason: reason, err: err}
}

// authErrf is a failed sign-in, the error formatted.
func authErrf(status int, reason, format string, args ...any) *authError {
	return authErr(status, reason, fmt.Errorf(format, args...))
}

// authFailed logs a failed sign-in once and answers it.
func (rt *route) authFailed(w http.ResponseWriter, e *authError, d *deps) {
	level := slog.LevelInfo
	if e.status != http.StatusUnauthorized {
		level = slog.LevelWarn
	}
	d.log.Log(context.Background(), level, "authentication failed",
		"listener", rt.name, "status", e.status, "reason", e.reason, "err", e.err)
	writeError(w, e.status)
}

// The login: out to the IdP, and back.

// loginState is what the state parameter carries, sealed: the browser's
// nonce, where the user was going, and the action the login is for.
type loginState struct {
	Nonce  string `json:"n"`
	URL    string `json:"u"`
	Action string `json:"a"`
}

// startLogin redirects r's browser to o's IdP, as ALB does: with the
// nonce cookie, and a state that remembers r's URL.
func (rt *route) startLogin(w http.ResponseWriter, r *http.Request, o *routing.OIDCAction, d *deps, now time.Time) {
	if r.Host == "" { // an HTTP/1.0 request without Host: no redirect_uri
		rt.authFailed(w, authErrf(http.StatusUnauthorized, "AuthMissingHostHeader", "the request has no Host"), d)
		return
	}
	target := r.URL.RequestURI()
	if !strings.HasPrefix(target, "/") {
		target = "/"
	}
	st, _ := json.Marshal(loginState{Nonce: rt.nonce(w, r), URL: target, Action: actionID(o)})
	state := sealCookie(d.cookieKey, string(statePayload)+string(st), now.Add(loginTimeout))
	w.Header().Set("Location", authorizationURL(o, rt.redirectURI(r), state))
	writeError(w, http.StatusFound)
}

// nonce returns the browser's AWSALBAuthNonce, setting a new one when r
// has none.
func (rt *route) nonce(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(nonceCookie); err == nil && validNonce(c.Value) {
		return c.Value
	}
	b := make([]byte, 12)
	rand.Read(b) // never fails
	n := base64.RawURLEncoding.EncodeToString(b)
	c := &http.Cookie{Name: nonceCookie, Value: n, Path: "/", Secure: rt.scheme == protoHTTPS, HttpOnly: true}
	w.Header().Add("Set-Cookie", c.String())
	return n
}

// validNonce reports whether v is a nonce as nonce makes them.
func validNonce(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 12
}

// redirectURI is where the IdP sends the browser back: the listener's
// /oauth2/idpresponse at the host the request came to.
func (rt *route) redirectURI(r *http.Request) string {
	return rt.scheme + "://" + r.Host + idpResponsePath
}

// authorizationURL is o's authorization endpoint with the parameters of an
// authorization request, in ALB's order; extra parameters come last, by
// name, and may not replace the others.
func authorizationURL(o *routing.OIDCAction, redirectURI, state string) string {
	var b strings.Builder
	b.WriteString(o.AuthorizationEndpoint)
	sep := "?"
	if strings.Contains(o.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	add := func(k, v string) {
		b.WriteString(sep)
		b.WriteString(queryEscape(k))
		b.WriteByte('=')
		b.WriteString(queryEscape(v))
		sep = "&"
	}
	std := []string{"client_id", o.ClientID, "redirect_uri", redirectURI, "response_type", "code",
		"scope", cmp.Or(o.Scope, defaultAuthScope), "state", state}
	for i := 0; i < len(std); i += 2 {
		add(std[i], std[i+1])
	}
	for _, k := range slices.Sorted(maps.Keys(o.ExtraParams)) {
		if !slices.Contains([]string{"client_id", "redirect_uri", "response_type", "scope", "state"}, k) {
			add(k, o.ExtraParams[k])
		}
	}
	return b.String()
}

// queryEscape escapes s for a query, spaces as %20 (as ALB writes scope).
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// actionID names an authenticate-oidc action by a hash of its IdP
// settings, so that a callback finds the action its login was for.
func actionID(o *routing.OIDCAction) string {
	h := sha256.New()
	for _, s := range []string{o.Issuer, o.AuthorizationEndpoint, o.TokenEndpoint, o.UserInfoEndpoint,
		o.ClientID, o.ClientSecret, o.Scope, o.SessionCookieName, o.SessionTimeout.String()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// idpResponse is the callback: it checks the state and the nonce, trades
// the code for a session and sends the browser back where it was going.
func (rt *route) idpResponse(w http.ResponseWriter, r *http.Request, actions []*routing.OIDCAction, d *deps) {
	now := d.clock.Now()
	st, o, aerr := readCallback(r, actions, d.cookieKey, now)
	if aerr == nil && r.Host == "" {
		aerr = authErrf(http.StatusUnauthorized, "AuthMissingHostHeader", "the callback has no Host")
	}
	var s *session
	if aerr == nil {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {r.URL.Query().Get("code")},
			"redirect_uri": {rt.redirectURI(r)}}
		s, aerr = signIn(r.Context(), o, form, now, true)
	}
	if aerr == nil {
		s.expires = now.Add(cmp.Or(o.SessionTimeout, defaultSessionTimeout))
		if err := rt.writeSession(w, r, o, s, d.cookieKey, now); err != nil {
			aerr = authErr(http.StatusInternalServerError, "AuthUnhandledException", err)
		}
	}
	if aerr != nil {
		rt.authFailed(w, aerr, d)
		return
	}
	w.Header().Set("Location", rt.scheme+"://"+r.Host+st.URL)
	writeError(w, http.StatusFound)
}

// readCallback checks a callback's state, nonce and code, and finds the
// action it is for.
func readCallback(r *http.Request, actions []*routing.OIDCAction, key []byte, now time.Time) (*loginState, *routing.OIDCAction, *authError) {
	q := r.URL.Query()
	value := q.Get("state")
	if value == "" {
		return nil, nil, authErrf(http.StatusUnauthorized, "AuthMissingStateParam", "the callback has no state")
	}
	payload, ok := openCookie(key, value, now)
	var st loginState
	if !ok || payload == "" || payload[0] != statePayload || json.Unmarshal([]byte(payload[1:]), &st) != nil {
		return nil, nil, authErrf(http.StatusUnauthorized, "AuthInvalidStateParam",
			"the state does not open: tampered with, from another balancer or run, or older than %v", loginTimeout)
	}
	c, err := r.Cookie(nonceCookie)
	switch {
	case err != nil:
		return nil, nil, authErrf(http.StatusUnauthorized, "AuthMissingAWSALBAuthNonce", "the browser has no %s cookie", nonceCookie)
	case !hmac.Equal([]byte(c.Value), []byte(st.Nonce)):
		return nil, nil, authErrf(http.StatusUnauthorized, "AuthInvalidAWSALBAuthNonce", "the %s cookie is not the login's", nonceCookie)
	}
	i := slices.IndexFunc(actions, func(o *routing.OIDCAction) bool { return actionID(o) == st.Action })
	if i < 0 {
		return nil, nil, authErrf(http.StatusUnauthorized, "AuthInvalidStateParam", "the listener no longer has the action the login was for")
	}
	if q.Get("code") == "" {
		return nil, nil, authErrf(http.StatusUnauthorized, "AuthMissingCodeParam", "the IdP sent no code (error %q: %s)",
			q.Get("error"), q.Get("error_description"))
	}
	return &st, actions[i], nil
}

// The IdP's endpoints.

// tokenAnswer is a token endpoint's answer (RFC 6749 §5.1, OpenID Connect
// Core §3.1.3.3).
type tokenAnswer struct {
	AccessToken  string      `json:"access_token"`
	IDToken      string      `json:"id_token"`
	RefreshToken string      `json:"refresh_token"`
	ExpiresIn    json.Number `json:"expires_in"`
}

// signIn sends form (a code, or a refresh token) to o's token endpoint and
// reads the user's claims with the access token it gets: the session they
// make, without its expiry. needID requires an ID token.
func signIn(ctx context.Context, o *routing.OIDCAction, form url.Values, now time.Time, needID bool) (*session, *authError) {
	tok, aerr := requestTokens(ctx, o, form)
	if aerr != nil {
		return nil, aerr
	}
	var idSub string
	if tok.IDToken != "" || needID {
		if idSub, aerr = checkIDToken(tok.IDToken, o, now); aerr != nil {
			return nil, aerr
		}
	}
	claims, sub, aerr := userInfo(ctx, o, tok.AccessToken)
	switch {
	case aerr != nil:
		return nil, aerr
	case idSub != "" && sub != idSub:
		return nil, authErrf(http.StatusUnauthorized, "AuthInvalidUserinfoResponse", "user info sub %q is not the ID token's %q", sub, idSub)
	case len(claims)+len(tok.AccessToken) > maxUserClaims:
		return nil, authErrf(http.StatusInternalServerError, "AuthUserinfoResponseSizeExceeded",
			"the claims and the access token take %d bytes, more than %d", len(claims)+len(tok.AccessToken), maxUserClaims)
	}
	s := &session{Issuer: o.Issuer, Client: o.ClientID, Sub: sub, AccessToken: tok.AccessToken,
		RefreshToken: tok.RefreshToken, Claims: claims}
	if n, err := tok.ExpiresIn.Int64(); err == nil && n > 0 {
		s.AccessExpiry = now.Unix() + n
	}
	return s, nil
}

// requestTokens posts form to o's token endpoint, authenticated with
// client_secret_basic.
func requestTokens(ctx context.Context, o *routing.OIDCAction, form url.Values) (*tokenAnswer, *authError) {
	ctx, cancel := context.WithTimeout(ctx, idpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, authErr(http.StatusInternalServerError, "AuthUnhandledException", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	status, body, err := callIdP(req, maxIdPAnswer)
	var tok tokenAnswer
	switch {
	case err != nil:
		return nil, authErr(http.StatusInternalServerError, "AuthTokenEpRequestTimeout", err)
	case status/100 != 2 && oauthError(body) == "invalid_grant":
		return nil, authErrf(http.StatusUnauthorized, "AuthInvalidGrantError", "the token endpoint refused the grant: %.200s", body)
	case status/100 != 2:
		return nil, authErrf(statusIdPError, "AuthTokenEpRequestFailed", "the token endpoint answered %d: %.200s", status, body)
	case json.Unmarshal(body, &tok) != nil || tok.AccessToken == "":
		// Not logged: the answer may hold tokens.
		return nil, authErrf(http.StatusUnauthorized, "AuthInvalidTokenResponse", "the token endpoint's answer (%d bytes) is not JSON with an access token", len(body))
	}
	return &tok, nil
}

// userInfo reads the user's claims at o's user info endpoint: the JSON
// object, compacted, and its sub.
func userInfo(ctx context.Context, o *routing.OIDCAction, accessToken string) (json.RawMessage, string, *authError) {
	ctx, cancel := context.WithTimeout(ctx, idpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.UserInfoEndpoint, nil)
	if err != nil {
		return nil, "", authErr(http.StatusInternalServerError, "AuthUnhandledException", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	status, body, err := callIdP(req, maxUserClaims)
	var claims struct {
		Sub string `json:"sub"`
	}
	var compact bytes.Buffer
	switch {
	case errors.Is(err, errTooLarge):
		return nil, "", authErr(http.StatusInternalServerError, "AuthUserinfoResponseSizeExceeded", err)
	case err != nil:
		return nil, "", authErr(http.StatusInternalServerError, "AuthUserinfoEpRequestTimeout", err)
	case status/100 != 2:
		return nil, "", authErrf(statusIdPError, "AuthUserinfoEpRequestFailed", "the user info endpoint answered %d: %.200s", status, body)
	case json.Compact(&compact, body) != nil || compact.Bytes()[0] != '{' ||
		json.Unmarshal(body, &claims) != nil || claims.Sub == "":
		return nil, "", authErrf(http.StatusUnauthorized, "AuthInvalidUserinfoResponse", "the user info (%d bytes) is not a JSON object with a sub", len(body))
	}
	return compact.Bytes(), claims.Sub, nil
}

// errTooLarge is the error of an IdP answer longer than its limit.
var errTooLarge = errors.New("the answer is too large")

// callIdP sends req to an IdP endpoint and reads at most limit bytes of
// the answer. It follows no redirect, and keeps no connection open.
func callIdP(req *http.Request, limit int64) (status int, body []byte, err error) {
	client := &http.Client{
		Transport:     &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(body)) > limit {
		err = fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
	}
	return resp.StatusCode, body, err
}

// oauthError returns the error code of an OAuth 2.0 error answer (RFC 6749
// §5.2), "" if body is none.
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(body, &e)
	return e.Error
}

// checkIDToken checks the ID token of a token answer and returns its sub:
// iss is o's issuer, aud holds o's client id, exp is after now. The
// signature is not checked: the token came straight from the IdP.
func checkIDToken(tok string, o *routing.OIDCAction, now time.Time) (string, *authError) {
	invalid := func(format string, args ...any) (string, *authError) {
		return "", authErrf(http.StatusUnauthorized, "AuthInvalidIdToken", format, args...)
	}
	if tok == "" {
		return invalid("the token endpoint sent no ID token: the scope must hold openid")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return invalid("the ID token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp float64         `json:"exp"`
	}
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return invalid("the ID token's payload is not JSON")
	}
	switch {
	case c.Iss != o.Issuer:
		return invalid("the ID token's iss %q is not the issuer %q", c.Iss, o.Issuer)
	case !audienceHolds(c.Aud, o.ClientID):
		return invalid("the ID token's aud %s does not hold the client id %q", c.Aud, o.ClientID)
	case c.Exp == 0 || !now.Before(time.Unix(int64(c.Exp), 0)):
		return invalid("the ID token has expired (exp %v)", c.Exp)
	case c.Sub == "":
		return invalid("the ID token has no sub")
	}
	return c.Sub, nil
}

// audienceHolds reports whether aud, a string or an array of strings,
// holds client.
func audienceHolds(aud json.RawMessage, client string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == client
	}
	var many []string
	return json.Unmarshal(aud, &many) == nil && slices.Contains(many, client)
}

// The session.

// session is what the session cookie holds, sealed: a signed-in user's
// tokens and claims. Its end (the session timeout) is sealed with it.
type session struct {
	Issuer       string          `json:"iss"`
	Client       string          `json:"client"`
	Sub          string          `json:"sub"`
	AccessToken  string          `json:"at"`
	AccessExpiry int64           `json:"ate,omitempty"` // Unix seconds; 0: not given
	RefreshToken string          `json:"rt,omitempty"`
	Claims       json.RawMessage `json:"claims"`
	expires      time.Time
}

// needsRefresh reports whether the access token has expired and a refresh
// token can renew it.
func (s *session) needsRefresh(now time.Time) bool {
	return s.RefreshToken != "" && s.AccessExpiry != 0 && now.Unix() >= s.AccessExpiry
}

// sessionState is what a request's session cookie says.
type sessionState uint8

const (
	sessionNone    sessionState = iota // no cookie
	sessionInvalid                     // a cookie that does not open
	sessionExpired                     // a session that has timed out
	sessionValid
)

// readSession opens r's session cookie for o, its shards joined.
func readSession(r *http.Request, o *routing.OIDCAction, key []byte, now time.Time) (*session, sessionState) {
	value := readShards(r, cmp.Or(o.SessionCookieName, defaultSessionCookie))
	if value == "" {
		return nil, sessionNone
	}
	payload, expires, ok := unsealCookie(key, value)
	s := &session{expires: expires}
	if !ok || payload == "" || payload[0] != sessionPayload || json.Unmarshal([]byte(payload[1:]), s) != nil {
		return nil, sessionInvalid
	}
	if !now.Before(expires) {
		return s, sessionExpired
	}
	return s, sessionValid
}

// readShards returns the value of r's cookies name-0, name-1 … joined.
func readShards(r *http.Request, name string) string {
	var b strings.Builder
	for i := range sessionShards {
		c, err := r.Cookie(name + "-" + strconv.Itoa(i))
		if err != nil {
			break
		}
		b.WriteString(c.Value)
	}
	return b.String()
}

// writeSession sets the session cookies of s, in shards, and expires the
// shards of r's session that s does not need.
func (rt *route) writeSession(w http.ResponseWriter, r *http.Request, o *routing.OIDCAction, s *session, key []byte, now time.Time) error {
	payload, err := json.Marshal(s)
	if err != nil {
		return err
	}
	v := sealCookie(key, string(sessionPayload)+string(payload), s.expires)
	if len(v) > sessionShards*sessionShardLen {
		return fmt.Errorf("the session takes %d bytes, more than %d cookies hold", len(v), sessionShards)
	}
	name := cmp.Or(o.SessionCookieName, defaultSessionCookie)
	secure := rt.scheme == protoHTTPS
	for i := range sessionShards {
		c := &http.Cookie{Name: name + "-" + strconv.Itoa(i), Path: "/", Secure: secure, HttpOnly: true}
		switch _, err := r.Cookie(c.Name); {
		case v != "":
			c.Value, v = v[:min(len(v), sessionShardLen)], v[min(len(v), sessionShardLen):]
			c.Expires = now.Add(sessionCookieExpiry)
			if secure && r.Header.Get("Origin") != "" {
				c.SameSite = http.SameSiteNoneMode
			}
		case err == nil: // a shard of an older, larger session
			c.MaxAge = -1
		default:
			continue
		}
		w.Header().Add("Set-Cookie", c.String())
	}
	return nil
}

// refreshSession renews s's expired access token with its refresh token,
// and the claims with it, keeping the session's end. A refresh that fails
// ends the session.
func (rt *route) refreshSession(w http.ResponseWriter, r *http.Request, o *routing.OIDCAction, s *session, d *deps, now time.Time) (*session, sessionState) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken}}
	next, aerr := signIn(r.Context(), o, form, now, false)
	if aerr == nil {
		next.expires = s.expires
		next.RefreshToken = cmp.Or(next.RefreshToken, s.RefreshToken)
		if err := rt.writeSession(w, r, o, next, d.cookieKey, now); err != nil {
			aerr = authErr(http.StatusInternalServerError, "AuthUnhandledException", err)
		}
	}
	if aerr != nil {
		d.log.Info("session refresh failed: signing in again", "listener", rt.name, "reason", aerr.reason, "err", aerr.err)
		return nil, sessionExpired
	}
	return next, sessionValid
}

// x-amzn-oidc-data.

// setClaimHeaders sets the headers a target gets for s.
func (rt *route) setClaimHeaders(h http.Header, s *session, d *deps, now time.Time) error {
	data, err := signClaims(d.claims, rt.signerARN(), s, now.Add(claimsLifetime))
	if err != nil {
		return err
	}
	h.Set(accessTokenHeader, s.AccessToken)
	h.Set(identityHeader, s.Sub)
	h.Set(claimsHeader, data)
	return nil
}

// claimsSigner is the key x-amzn-oidc-data is signed with.
type claimsSigner struct {
	key *ecdsa.PrivateKey
	kid string
}

// newClaimsSigner derives the signing key from the balancer's cookie key:
// the same for every request of a balancer, another for the next run.
func newClaimsSigner(cookieKey []byte) *claimsSigner {
	for i := byte(0); ; i++ { // a scalar out of range is as likely as 2^-32
		h := hmac.New(sha256.New, cookieKey)
		h.Write([]byte("shoal x-amzn-oidc-data signing key\x00"))
		h.Write([]byte{i})
		key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), h.Sum(nil))
		if err != nil {
			continue
		}
		pub, _ := key.PublicKey.Bytes()
		sum := sha256.Sum256(pub)
		id := hex.EncodeToString(sum[:16])
		return &claimsSigner{key: key, kid: id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]}
	}
}

// publicKeyPEM is the signer's public key as ALB serves its own: PEM, a
// PKIX public key.
func (cs *claimsSigner) publicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&cs.key.PublicKey) // a P-256 key never fails
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// claimsHeaderFields is x-amzn-oidc-data's JOSE header, in ALB's order.
type claimsHeaderFields struct {
	Typ    string `json:"typ"`
	Kid    string `json:"kid"`
	Alg    string `json:"alg"`
	Iss    string `json:"iss"`
	Client string `json:"client"`
	Signer string `json:"signer"`
	Exp    int64  `json:"exp"`
}

// signClaims makes s's x-amzn-oidc-data: a JWT of its claims, with exp and
// iss, expiring at exp, signed ES256, each part base64url with padding.
func signClaims(cs *claimsSigner, signer string, s *session, exp time.Time) (string, error) {
	header, err := json.Marshal(claimsHeaderFields{Typ: "JWT", Kid: cs.kid, Alg: "ES256", Iss: s.Issuer,
		Client: s.Client, Signer: signer, Exp: exp.Unix()})
	if err != nil {
		return "", err
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(s.Claims, &claims); err != nil {
		return "", err
	}
	claims["exp"] = json.RawMessage(strconv.FormatInt(exp.Unix(), 10))
	claims["iss"], _ = json.Marshal(s.Issuer)
	var payload bytes.Buffer
	enc := json.NewEncoder(&payload)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(claims); err != nil {
		return "", err
	}
	b64 := base64.URLEncoding
	signed := b64.EncodeToString(header) + "." + b64.EncodeToString(bytes.TrimSuffix(payload.Bytes(), []byte("\n")))
	sum := sha256.Sum256([]byte(signed))
	r, sig, err := ecdsa.Sign(rand.Reader, cs.key, sum[:])
	if err != nil {
		return "", err
	}
	raw := make([]byte, 64) // JWS: r and s, 32 bytes each (RFC 7518 §3.4)
	r.FillBytes(raw[:32])
	sig.FillBytes(raw[32:])
	return signed + "." + b64.EncodeToString(raw), nil
}

// signerARN is the signer field of x-amzn-oidc-data: an ARN naming the
// load balancer the listener belongs to.
func (rt *route) signerARN() string {
	lb, _, _ := strings.Cut(rt.name, "/")
	sum := sha256.Sum256([]byte(lb))
	return "arn:aws:elasticloadbalancing:" + signerRegion + ":" + signerAccount +
		":loadbalancer/app/" + lb + "/" + hex.EncodeToString(sum[:8])
}

// servePublicKey answers GET /oauth2/public-key/KID: the key of
// x-amzn-oidc-data as PEM, or 404 for a key the balancer does not have.
func servePublicKey(w http.ResponseWriter, kid string, d *deps) {
	cs := d.claims
	if kid != cs.kid {
		writeError(w, http.StatusNotFound)
		return
	}
	body := cs.publicKeyPEM()
	h := w.Header()
	h.Set("Server", "shoal")
	h.Set("Content-Type", "application/x-pem-file")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
