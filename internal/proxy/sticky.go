package proxy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Stickiness, as ALB does it:
//
//   - lb_cookie: every answer carries the cookie AWSALB, which names the
//     target that served the request and expires after the stickiness
//     duration (ALB: 1 s to 7 days, 1 day by default), and the same value
//     as AWSALBCORS with SameSite=None; Secure for cross-site requests.
//   - app_cookie: once the target's answer sets the application cookie
//     (CookieName), and on every answer to a request that carries it, the
//     balancer adds AWSALBAPP-0 naming the target, with an expiry of 7 days
//     of its own; the stickiness duration is sealed in its value. A request
//     must carry both cookies to stick.
//   - A request whose cookie opens, is younger than the stickiness duration
//     configured now, and names a candidate (a healthy target, or any one
//     not draining while the group fails open) goes to that target,
//     whatever the algorithm or slow start says. Otherwise the algorithm
//     picks, and the new cookie names the new target: a session whose
//     target failed stays on its new target even when the old one comes
//     back.
//
// ALB encrypts its cookies with a rotating key; shoal encrypts and
// authenticates them (sealCookie) with a key made per Balancer, so that a
// cookie tampered with, from another balancer or from an earlier run gets
// a normal pick, never an error. A restart loses the sessions' stickiness.
// shoal does not add SameSite=None; Secure to AWSALBAPP-0 (ALB does for
// Chromium 80 and later user agents only).

// Names of the cookies the balancer makes.
const (
	lbCookie        = "AWSALB"
	lbCORSCookie    = "AWSALBCORS"
	appCookiePrefix = "AWSALBAPP-"
)

const (
	// defaultStickiness is ALB's stickiness duration when none is given.
	defaultStickiness = 24 * time.Hour
	// appCookieExpiry is the Expires of AWSALBAPP-N: 7 days, which ALB
	// does not let you change.
	appCookieExpiry = 7 * 24 * time.Hour
	// appCookieParts is how many AWSALBAPP-N cookies a value may span, and
	// appCookiePartLen the longest value of one.
	appCookieParts   = 4
	appCookiePartLen = 4000
)

// stickyKind is a target group's type of stickiness.
type stickyKind uint8

const (
	stickyOff stickyKind = iota
	stickyLB
	stickyApp
)

// String returns ALB's name of the kind (stickiness.type); "" when off.
func (k stickyKind) String() string {
	switch k {
	case stickyLB:
		return LBCookie
	case stickyApp:
		return AppCookie
	}
	return ""
}

// stickiness is a target group's stickiness, as the balancer keeps it.
type stickiness struct {
	kind      stickyKind
	duration  time.Duration
	appCookie string // app_cookie: the application's cookie
}

// stickinessFrom reads a Stickiness; a duration of 0 is ALB's default.
// app_cookie without a cookie name is off (Config.validate is where it
// would be refused).
func stickinessFrom(s Stickiness) stickiness {
	st := stickiness{duration: s.Duration, appCookie: s.CookieName}
	if st.duration <= 0 {
		st.duration = defaultStickiness
	}
	switch {
	case s.Type == LBCookie:
		st.kind = stickyLB
	case s.Type == AppCookie && s.CookieName != "":
		st.kind = stickyApp
	}
	return st
}

// newCookieKey makes the key a balancer seals its stickiness cookies with
// (deps.cookieKey): random, 32 bytes.
func newCookieKey() []byte {
	key := make([]byte, 32)
	rand.Read(key) // never fails
	return key
}

// Payload kinds, so that one kind of cookie is never taken for another.
const (
	lbPayload  = 'L'
	appPayload = 'A'
)

// stickyPayload is what a stickiness cookie of the kind names: a target
// of a group.
func stickyPayload(kind byte, group, addr string) string {
	return string(kind) + group + "\x00" + addr
}

// parseStickyPayload returns the group and target of a payload of kind.
func parseStickyPayload(kind byte, p string) (group, addr string, ok bool) {
	if p == "" || p[0] != kind {
		return "", "", false
	}
	return strings.Cut(p[1:], "\x00")
}

// stuck is what a request's stickiness cookies say.
type stuck struct {
	cookie string // the cookie read; "" when the request has none
	target string // the target it names; "" when it could not be opened
	idx    int    // the target's index in the candidates; -1 when not honoured
	why    string
}

// Why a stickiness cookie is or is not honoured.
const (
	whyNoCookie     = "the request has no stickiness cookie"
	whyNoAppCookie  = "the request has the balancer's cookie but not the application cookie"
	whyUnreadable   = "the cookie does not open: tampered with, made by another balancer or an earlier run, or expired"
	whyStale        = "the cookie is older than the stickiness duration"
	whyOtherGroup   = "the cookie is for another target group"
	whyNotCandidate = "the target is not a candidate: unhealthy while others are healthy, draining or deregistered"
	whyHonoured     = "the cookie names a candidate"
)

// readSticky reads the stickiness cookie of r and finds the candidate in p
// it names.
func (g *targetGroup) readSticky(r *http.Request, st stickiness, p *pool, now time.Time) stuck {
	k := stuck{idx: -1}
	var value string
	var kind byte
	switch st.kind {
	case stickyLB:
		kind = lbPayload
		for _, name := range []string{lbCookie, lbCORSCookie} {
			if c, err := r.Cookie(name); err == nil {
				k.cookie, value = name, c.Value
				break
			}
		}
	case stickyApp:
		kind = appPayload
		k.cookie, value = appCookiePrefix+"0", readAppCookie(r)
		if value == "" {
			k.cookie = ""
		} else if _, err := r.Cookie(st.appCookie); err != nil {
			k.why = whyNoAppCookie
			return k
		}
	}
	if k.cookie == "" {
		k.why = whyNoCookie
		return k
	}
	payload, expires, ok := unsealCookie(g.d.cookieKey, value)
	group, addr, okPayload := parseStickyPayload(kind, payload)
	switch {
	case !ok || !okPayload || !now.Before(expires):
		k.why = whyUnreadable
		return k
	case expires.After(now.Add(st.duration)):
		// Sealed under a longer duration than the one configured now.
		k.why = whyStale
		return k
	case group != g.name:
		k.why = whyOtherGroup
		return k
	}
	k.target, k.why = addr, whyNotCandidate
	for i, t := range p.targets {
		if t.addr == addr {
			k.idx, k.why = i, whyHonoured
			break
		}
	}
	return k
}

// readAppCookie returns the value of the AWSALBAPP-N cookies of r, joined
// in order; "" when r has none.
func readAppCookie(r *http.Request) string {
	var b strings.Builder
	for i := range appCookieParts {
		c, err := r.Cookie(appCookiePrefix + strconv.Itoa(i))
		if err != nil {
			break
		}
		b.WriteString(c.Value)
	}
	return b.String()
}

// pickSticky is pickFor for a group with stickiness s.sticky.
func (g *targetGroup) pickSticky(w http.ResponseWriter, r *http.Request, s *groupSettings) *target {
	now := g.d.clock.Now()
	p := g.set.Load().candidates()
	var t *target
	if k := g.readSticky(r, s.sticky, p, now); k.idx >= 0 && p.targets[k.idx].acquire() {
		t = p.targets[k.idx]
	} else {
		t = g.pickBy(s)
	}
	if t != nil && s.sticky.kind == stickyLB {
		g.setLBCookies(w.Header(), t, s.sticky.duration, now)
	}
	return t
}

// setLBCookies adds AWSALB and AWSALBCORS naming t to h, valid for d.
func (g *targetGroup) setLBCookies(h http.Header, t *target, d time.Duration, now time.Time) {
	expires := now.Add(d)
	v := sealCookie(g.d.cookieKey, stickyPayload(lbPayload, g.name, t.addr), expires)
	h.Add("Set-Cookie", (&http.Cookie{Name: lbCookie, Value: v, Path: "/", Expires: expires}).String())
	h.Add("Set-Cookie", (&http.Cookie{Name: lbCORSCookie, Value: v, Path: "/", Expires: expires,
		SameSite: http.SameSiteNoneMode, Secure: true}).String())
}

// stickAppCookies makes t's proxy add AWSALBAPP-0 to the answers that need
// it when the group has app_cookie stickiness: the application cookie
// shows only in the target's answer, after the pick.
func (g *targetGroup) stickAppCookies(t *target) {
	next := t.proxy.ModifyResponse
	t.proxy.ModifyResponse = func(resp *http.Response) error {
		if next != nil {
			if err := next(resp); err != nil {
				return err
			}
		}
		if st := g.settings.Load().sticky; st.kind == stickyApp {
			g.stickAppCookie(resp, t, st)
		}
		return nil
	}
}

// stickAppCookie adds AWSALBAPP-N naming t to resp when resp sets the
// application cookie or its request carries it: the session is then new,
// renewed, or moved to t because its former target failed.
func (g *targetGroup) stickAppCookie(resp *http.Response, t *target, st stickiness) {
	if !setsCookie(resp, st.appCookie) {
		if _, err := resp.Request.Cookie(st.appCookie); err != nil {
			return
		}
	}
	now := g.d.clock.Now()
	v := sealCookie(g.d.cookieKey, stickyPayload(appPayload, g.name, t.addr), now.Add(st.duration))
	for i := 0; v != "" && i < appCookieParts; i++ {
		part := v[:min(len(v), appCookiePartLen)]
		v = v[len(part):]
		c := &http.Cookie{Name: appCookiePrefix + strconv.Itoa(i), Value: part, Path: "/", Expires: now.Add(appCookieExpiry)}
		resp.Header.Add("Set-Cookie", c.String())
	}
}

// setsCookie reports whether resp sets the cookie called name.
func setsCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Stickiness cookie values: base64url (no padding) of
//
//	version (1 byte) | iv (16) | AES-256-CTR(expires (8, Unix ms) | payload) | tag (16)
//
// where tag is HMAC-SHA256 of all that precedes it, cut to 16 bytes
// (encrypt-then-MAC). The AES and HMAC keys are derived from the key given.
// A random 128-bit counter block per cookie keeps the counters of distinct
// cookies apart for as many cookies as a balancer can make.
const (
	cookieVersion = 1
	cookieIVLen   = aes.BlockSize
	cookieTagLen  = 16
	cookieMinLen  = 1 + cookieIVLen + 8 + cookieTagLen
	// cookieMaxLen bounds the values openCookie decodes (4 cookies' worth).
	cookieMaxLen = appCookieParts * appCookiePartLen
)

// cookieKeys derives the encryption and the authentication keys from key,
// each the SHA-256 of a label and key.
func cookieKeys(key []byte) (enc, mac [32]byte) {
	h := sha256.New()
	h.Write([]byte("shoal stickiness cookie encryption\x00"))
	h.Write(key)
	h.Sum(enc[:0])
	h.Reset()
	h.Write([]byte("shoal stickiness cookie authentication\x00"))
	h.Write(key)
	h.Sum(mac[:0])
	return enc, mac
}

// sealCookie returns a cookie value that carries payload until expires,
// encrypted and authenticated with key. Only openCookie with the same key
// can read it, and only before expires.
func sealCookie(key []byte, payload string, expires time.Time) string {
	enc, mac := cookieKeys(key)
	buf := make([]byte, cookieMinLen+len(payload))
	buf[0] = cookieVersion
	iv := buf[1 : 1+cookieIVLen]
	rand.Read(iv) // never fails
	body := buf[1+cookieIVLen : len(buf)-cookieTagLen]
	binary.BigEndian.PutUint64(body, uint64(expires.UnixMilli()))
	copy(body[8:], payload)
	block, _ := aes.NewCipher(enc[:]) // a 32-byte key never fails
	cipher.NewCTR(block, iv).XORKeyStream(body, body)
	h := hmac.New(sha256.New, mac[:])
	h.Write(buf[:len(buf)-cookieTagLen])
	copy(buf[len(buf)-cookieTagLen:], h.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(buf)
}

// openCookie returns the payload of a value made by sealCookie with key,
// if it has not expired at now; ok is false for any other value.
func openCookie(key []byte, value string, now time.Time) (payload string, ok bool) {
	payload, expires, ok := unsealCookie(key, value)
	if !ok || !now.Before(expires) {
		return "", false
	}
	return payload, true
}

// unsealCookie returns the payload and the expiry of a value made by
// sealCookie with key; ok is false for any other value.
func unsealCookie(key []byte, value string) (payload string, expires time.Time, ok bool) {
	if len(value) > base64.RawURLEncoding.EncodedLen(cookieMaxLen) {
		return "", time.Time{}, false
	}
	buf, err := base64.RawURLEncoding.DecodeString(value)
	// The decoder skips newlines and ignores stray low bits of the last
	// character: only the one encoding of the bytes counts.
	if err != nil || len(buf) < cookieMinLen || buf[0] != cookieVersion ||
		base64.RawURLEncoding.EncodeToString(buf) != value {
		return "", time.Time{}, false
	}
	enc, mac := cookieKeys(key)
	h := hmac.New(sha256.New, mac[:])
	h.Write(buf[:len(buf)-cookieTagLen])
	if !hmac.Equal(h.Sum(nil)[:cookieTagLen], buf[len(buf)-cookieTagLen:]) {
		return "", time.Time{}, false
	}
	iv := buf[1 : 1+cookieIVLen]
	body := buf[1+cookieIVLen : len(buf)-cookieTagLen]
	block, _ := aes.NewCipher(enc[:])
	cipher.NewCTR(block, iv).XORKeyStream(body, body)
	expires = time.UnixMilli(int64(binary.BigEndian.Uint64(body)))
	return string(body[8:]), expires, true
}
