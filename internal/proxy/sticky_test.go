package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// httptestRequest is a GET / carrying cookies.
func httptestRequest(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// front serves the harness's group as the listener does, picking with
// pickFor: the entry point with stickiness (the listener's serve calls
// pick, without stickiness, until it moves to pickFor).
func (h *harness) front() string {
	h.t.Helper()
	g := h.group()
	rt := &route{name: "web/0", idleTimeout: defaultIdle, port: "80"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := g.pickFor(w, r)
		if t == nil {
			writeError(w, http.StatusServiceUnavailable)
			return
		}
		defer t.release()
		t.forward(w, r, rt, g.upstream())
	}))
	h.t.Cleanup(srv.Close)
	return srv.URL
}

// answer is what a sticky client got: the body, and the cookies set.
type answer struct {
	body    string
	cookies map[string]*http.Cookie
}

// send sends GET url+path with cookies.
func (h *harness) send(url, path string, cookies ...*http.Cookie) answer {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: got status %d, want 200 (%s)", path, resp.StatusCode, body)
	}
	a := answer{body: string(body), cookies: map[string]*http.Cookie{}}
	for _, c := range resp.Cookies() {
		a.cookies[c.Name] = c
	}
	return a
}

// cookie returns the cookie name, to send back.
func (a answer) cookie(t *testing.T, name string) *http.Cookie {
	t.Helper()
	c := a.cookies[name]
	if c == nil {
		t.Fatalf("the answer %q sets no %s cookie (it sets %v)", a.body, name, a.cookies)
	}
	return &http.Cookie{Name: c.Name, Value: c.Value}
}

// healthyBackends starts n backends named a, b, c… registered in the
// harness, and waits until they are healthy.
func (h *harness) healthyBackends(names ...string) map[string]*backend {
	h.t.Helper()
	out := map[string]*backend{}
	for _, name := range names {
		bk := newBackend(h.t, name)
		h.register(bk.addr)
		out[name] = bk
	}
	for _, bk := range out {
		h.waitState(bk.addr, StateHealthy)
	}
	return out
}

func lbCookieGroup(d time.Duration) TargetGroupConfig {
	tg := testGroup()
	tg.Stickiness = Stickiness{Type: LBCookie, Duration: d}
	return tg
}

func TestStickiness_LBCookieSticks(t *testing.T) {
	h := newHarness(t, lbCookieGroup(time.Hour), 0)
	h.healthyBackends("a", "b", "c")
	url := h.front()

	first := h.send(url, "/")
	lb, cors := first.cookies[lbCookie], first.cookies[lbCORSCookie]
	if lb == nil || cors == nil {
		t.Fatalf("first answer: got cookies %v, want %s and %s", first.cookies, lbCookie, lbCORSCookie)
	}
	wantExpires := h.clock.Now().Add(time.Hour).Truncate(time.Second)
	if !lb.Expires.Equal(wantExpires) || lb.Path != "/" || lb.SameSite != 0 || lb.Secure {
		t.Errorf("%s: got %q, want Path=/ and Expires %v only", lbCookie, lb.Raw, wantExpires)
	}
	if cors.Value != lb.Value || !cors.Expires.Equal(wantExpires) || cors.SameSite != http.SameSiteNoneMode || !cors.Secure {
		t.Errorf("%s: got %q, want the value of %s with SameSite=None; Secure", lbCORSCookie, cors.Raw, lbCookie)
	}
	for _, name := range []string{lbCookie, lbCORSCookie} {
		c := first.cookie(t, name)
		for i := range 6 {
			if got := h.send(url, "/", c); got.body != first.body {
				t.Errorf("request %d with %s: went to %s, want %s", i, name, got.body, first.body)
			}
		}
	}
	// Every answer sets the cookie again, so the session lasts while the
	// client keeps coming back within the duration.
	c := first.cookie(t, lbCookie)
	for range 3 {
		h.clock.Advance(40 * time.Minute)
		a := h.send(url, "/", c)
		if a.body != first.body {
			t.Fatalf("after %v: went to %s, want %s", h.clock.Now().Sub(testStart), a.body, first.body)
		}
		if got, want := a.cookies[lbCookie].Expires, h.clock.Now().Add(time.Hour).Truncate(time.Second); !got.Equal(want) {
			t.Errorf("renewed cookie: expires %v, want %v", got, want)
		}
		c = a.cookie(t, lbCookie)
	}
}

func TestStickiness_RepicksWhenTheTargetIsUnhealthy(t *testing.T) {
	h := newHarness(t, lbCookieGroup(time.Hour), 0)
	bks := h.healthyBackends("a", "b")
	url := h.front()
	h.settle(2)

	first := h.send(url, "/")
	stuck, other := bks[first.body], bks[map[string]string{"a": "b", "b": "a"}[first.body]]
	old := first.cookie(t, lbCookie)
	stuck.health.Store(http.StatusInternalServerError)
	h.tick(2)
	h.tick(2)
	h.waitState(stuck.addr, StateUnhealthy)

	moved := h.send(url, "/", old)
	if moved.body != other.name {
		t.Fatalf("with %s unhealthy: went to %s, want %s", stuck.name, moved.body, other.name)
	}
	moved2 := moved.cookie(t, lbCookie)
	// The session stays on its new target, even once the old one is back.
	stuck.health.Store(http.StatusOK)
	for range 3 {
		h.tick(2)
	}
	h.waitState(stuck.addr, StateHealthy)
	for range 4 {
		if got := h.send(url, "/", moved2); got.body != other.name {
			t.Errorf("with the new cookie: went to %s, want %s", got.body, other.name)
		}
	}
}

func TestStickiness_FailOpenKeepsTheSession(t *testing.T) {
	h := newHarness(t, lbCookieGroup(time.Hour), 0)
	bks := h.healthyBackends("a", "b")
	url := h.front()
	h.settle(2)
	first := h.send(url, "/")
	c := first.cookie(t, lbCookie)
	for _, bk := range bks {
		bk.health.Store(http.StatusInternalServerError)
	}
	h.tick(2)
	h.tick(2)
	for _, bk := range bks {
		h.waitState(bk.addr, StateUnhealthy)
	}
	for range 4 {
		if got := h.send(url, "/", c); got.body != first.body {
			t.Errorf("failing open: went to %s, want %s, still a candidate", got.body, first.body)
		}
	}
}

func TestStickiness_RepicksWhenTheTargetIsDraining(t *testing.T) {
	h := newHarness(t, lbCookieGroup(time.Hour), 0)
	bks := h.healthyBackends("a", "b")
	url := h.front()

	first := h.send(url, "/")
	c := first.cookie(t, lbCookie)
	stuck := bks[first.body]
	// A request held open keeps the stuck target draining.
	held := make(chan answer, 1)
	go func() { held <- h.send(url, "/slow", c) }()
	<-stuck.entered
	done := h.deregister(context.Background(), stuck.addr)
	h.waitState(stuck.addr, StateDraining)

	for range 4 {
		if got := h.send(url, "/", c); got.body == stuck.name {
			t.Errorf("with %s draining: went to it", stuck.name)
		}
	}
	stuck.unblock()
	if got := within(t, "the held request", held); got.body != stuck.name {
		t.Errorf("held request: answered by %s, want %s", got.body, stuck.name)
	}
	if err := within(t, "Deregister", done); err != nil {
		t.Error(err)
	}
}

func TestStickiness_BadCookiesGetANormalPick(t *testing.T) {
	h := newHarness(t, lbCookieGroup(time.Hour), 0)
	bks := h.healthyBackends("a", "b", "c")
	url := h.front()
	g := h.group()
	now := h.clock.Now()
	good := h.send(url, "/").cookie(t, lbCookie).Value
	target := bks["a"].addr

	tampered := []byte(good)
	tampered[len(tampered)/2] ^= 'A' ^ 'B'
	for _, tc := range []struct{ name, value string }{
		{"garbage", "not-a-cookie"},
		{"empty", ""},
		{"tampered", string(tampered)},
		{"truncated", good[:len(good)-2]},
		{"foreign key", sealCookie(newCookieKey(), stickyPayload(lbPayload, "api", target), now.Add(time.Hour))},
		{"another target group", sealCookie(g.d.cookieKey, stickyPayload(lbPayload, "web", target), now.Add(time.Hour))},
		{"an app cookie's payload", sealCookie(g.d.cookieKey, stickyPayload(appPayload, "api", target), now.Add(time.Hour))},
		{"expired", sealCookie(g.d.cookieKey, stickyPayload(lbPayload, "api", target), now)},
		{"longer than the duration", sealCookie(g.d.cookieKey, stickyPayload(lbPayload, "api", target), now.Add(2*time.Hour))},
		{"unregistered target", sealCookie(g.d.cookieKey, stickyPayload(lbPayload, "api", refusedAddr(t)), now.Add(time.Hour))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Round robin goes on: three requests reach three targets, and
			// each answer carries a good cookie for its target.
			got := map[string]int{}
			for range 3 {
				a := h.send(url, "/", &http.Cookie{Name: lbCookie, Value: tc.value})
				got[a.body]++
				fresh := a.cookie(t, lbCookie)
				if k := g.readSticky(httptestRequest(fresh), g.settings.Load().sticky, g.set.Load().candidates(), h.clock.Now()); k.target != bks[a.body].addr {
					t.Errorf("the new cookie names %q (%s), want %s", k.target, k.why, bks[a.body].addr)
				}
			}
			if !cmp.Equal(got, map[string]int{"a": 1, "b": 1, "c": 1}) {
				t.Errorf("got %v, want one request on each target", got)
			}
		})
	}
}

// appBackend is a backend that sets the application cookie SESSION on
// /login, and answers its name elsewhere.
func appBackend(t *testing.T, name string) *backend {
	bk := &backend{name: name, entered: make(chan struct{}, 64), release: make(chan struct{})}
	bk.health.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "SESSION", Value: "user-of-" + name, Path: "/"})
		}
		bk.serve(w, r)
	}))
	bk.addr = srv.Listener.Addr().String()
	t.Cleanup(srv.Close)
	return bk
}

func TestStickiness_AppCookieFollowsTheApplication(t *testing.T) {
	tg := testGroup()
	tg.Stickiness = Stickiness{Type: AppCookie, CookieName: "SESSION", Duration: time.Hour}
	h := newHarness(t, tg, 0)
	bks := map[string]*backend{"a": appBackend(t, "a"), "b": appBackend(t, "b"), "c": appBackend(t, "c")}
	for _, bk := range bks {
		h.register(bk.addr)
	}
	for _, bk := range bks {
		h.waitState(bk.addr, StateHealthy)
	}
	h.settle(3)
	url := h.front()

	if a := h.send(url, "/"); len(a.cookies) != 0 {
		t.Errorf("no application cookie yet: got cookies %v, want none", a.cookies)
	}
	login := h.send(url, "/login")
	app, session := login.cookies[appCookiePrefix+"0"], login.cookies["SESSION"]
	if app == nil || session == nil {
		t.Fatalf("login: got cookies %v, want SESSION and %s0", login.cookies, appCookiePrefix)
	}
	if want := h.clock.Now().Add(appCookieExpiry).Truncate(time.Second); !app.Expires.Equal(want) || app.Path != "/" {
		t.Errorf("%s: got %q, want Path=/ and Expires in 7 days, %v", app.Name, app.Raw, want)
	}
	cookies := []*http.Cookie{login.cookie(t, "SESSION"), login.cookie(t, appCookiePrefix+"0")}
	for range 6 {
		a := h.send(url, "/", cookies...)
		if a.body != login.body {
			t.Errorf("with both cookies: went to %s, want %s", a.body, login.body)
		}
		if a.cookies[appCookiePrefix+"0"] == nil {
			t.Errorf("with both cookies: the answer does not renew %s0", appCookiePrefix)
		}
	}
	// Without the application cookie, the balancer's alone does not stick.
	got := map[string]int{}
	for range 3 {
		got[h.send(url, "/", cookies[1]).body]++
	}
	if !cmp.Equal(got, map[string]int{"a": 1, "b": 1, "c": 1}) {
		t.Errorf("with %s0 alone: got %v, want round robin", appCookiePrefix, got)
	}

	// The target fails: the session moves, and stays where it moved.
	stuck := bks[login.body]
	stuck.health.Store(http.StatusInternalServerError)
	h.tick(3)
	h.tick(3)
	h.waitState(stuck.addr, StateUnhealthy)
	moved := h.send(url, "/", cookies...)
	if moved.body == stuck.name {
		t.Fatalf("with %s unhealthy: went to it", stuck.name)
	}
	cookies[1] = moved.cookie(t, appCookiePrefix+"0")
	stuck.health.Store(http.StatusOK)
	for range 3 {
		h.tick(3)
	}
	h.waitState(stuck.addr, StateHealthy)
	for range 4 {
		if got := h.send(url, "/", cookies...); got.body != moved.body {
			t.Errorf("after the move: went to %s, want %s", got.body, moved.body)
		}
	}
}

func TestStickiness_OffSetsNoCookie(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	h.healthyBackends("a")
	if a := h.send(h.front(), "/"); len(a.cookies) != 0 {
		t.Errorf("without stickiness: got cookies %v, want none", a.cookies)
	}
}

func TestCookie_SealAndOpen(t *testing.T) {
	key := newCookieKey()
	expires := testStart.Add(time.Hour)
	v := sealCookie(key, "api\x00127.0.0.1:8080", expires)
	if strings.ContainsAny(v, "\"=,; \\") {
		t.Errorf("sealed value %q has characters a cookie value cannot", v)
	}
	if strings.Contains(v, "127.0.0.1") {
		t.Errorf("sealed value %q shows the payload", v)
	}
	if p, ok := openCookie(key, v, testStart); !ok || p != "api\x00127.0.0.1:8080" {
		t.Errorf("open before expiry: got %q, %v; want the payload", p, ok)
	}
	if _, ok := openCookie(key, v, expires); ok {
		t.Errorf("open at expiry: got ok")
	}
	if _, ok := openCookie(newCookieKey(), v, testStart); ok {
		t.Errorf("open with another key: got ok")
	}
	if v2 := sealCookie(key, "api\x00127.0.0.1:8080", expires); v2 == v {
		t.Errorf("two seals of one payload are the same value: %q", v)
	}
	// Every change of one character is refused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(v) {
		for _, c := range []byte(alphabet + "\n=") {
			if c == v[i] {
				continue
			}
			bad := v[:i] + string(c) + v[i+1:]
			if _, ok := openCookie(key, bad, testStart); ok {
				t.Fatalf("changed character %d to %q: opened", i, c)
			}
		}
	}
}

// fuzzKey and fuzzSealed are a key and values sealCookie made with it,
// valid for a century from testStart: the fuzzer's workers are processes of
// their own, so the values it checks against must not be made afresh.
var (
	fuzzKey    = []byte("a fixed key, for the fuzzer to work with")
	fuzzSealed = map[string]string{
		"ARgnaPQyXkLqPWUlaE6o7_-wLxiqnK8BG3q42gmqXOpmbnREwEULAJw":                          "",
		"Ad_VLGdMSQmFpEXvb2MfGbSWGC4V3ask0OrxdBBeHx7TOxrSg9pxrP6ui6tHLnrRYUleWckQKoQmQpDB": "Lapi\x00127.0.0.1:8080",
		"AUMTRHaXVtkhudsJIqUSAao_874QS6RJmEKMefS2HbmxoQXBZ6epOuECIdpyHqnNVuxQysw":          "Aapi\x00[::1]:1",
		"AVaW1I-IMiuWzkGCZbdYu9RiG49mtKzesoz-R1-C9KEDEj4fzuy08HffFrVnr9UKv_WMwXh0sdMkbnQfaI8-maVwa95cLHGcyB5k0kEg-JhrLZOsvamzV5ZZyoBDZ89bbLzFawov0bjYES9Dd5XGrBGxYtea0uCGNFnBu6kFKkU8JNj-P4iTRWErL8LHvSCcr2oHV6Ge673uef1Of8bESmWpjH0ILDq0bzjO6kpmy2S6RB1W1-4xBq37YdkXNdDwTX_V9llD0dlQPkPPkfs58ZaondV28WpGDwyUOSKxynRrajL1qPYMBt-gGVUks1ep4xRCSI4djQjQSGP_4Oibo99Wdf14uiEoETanDw6iBhNLtdNM1hy5k_xZF-tV9ipDdz3jZq8dE3f8XVe07HMzv_-_Ch6b-Py4xT0Emu8LoKEEGHAXtYUHwaupw-JM9hdrMN42VHM": strings.Repeat("x", 300),
	}
)

// FuzzOpenCookie checks that openCookie never panics and opens exactly the
// values sealCookie made with the key, whatever the fuzzer makes of them.
func FuzzOpenCookie(f *testing.F) {
	for v := range fuzzSealed {
		f.Add(v)
		f.Add(v[:len(v)-1])
		f.Add(v + "A")
		f.Add(v[:10] + "\n" + v[10:])
		f.Add(v[:len(v)-1] + "B")
	}
	f.Add("")
	f.Add("AQ")
	f.Add(strings.Repeat("A", 60))
	f.Fuzz(func(t *testing.T, value string) {
		p, ok := openCookie(fuzzKey, value, testStart)
		want, sealed := fuzzSealed[value]
		if ok != sealed || p != want {
			t.Fatalf("openCookie(%q): got %q, %v; want %q, %v", value, p, ok, want, sealed)
		}
	})
}

func TestExplainPick(t *testing.T) {
	tg := lbCookieGroup(time.Hour)
	h := newHarness(t, tg, 0)
	bks := h.healthyBackends("a", "b")
	g := h.group()

	e := g.explainPick(httptestRequest())
	want := PickExplanation{
		TargetGroup: "api", Algorithm: RoundRobin, Target: e.Target, Reason: "round robin: the next in turn",
		Stickiness: &StickinessExplanation{Type: LBCookie, Reason: whyNoCookie},
	}
	for _, addr := range sortedAddrs(bks) {
		want.Candidates = append(want.Candidates, CandidateExplanation{Target: addr, State: StateHealthy, Weight: 1, Share: 0.5})
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("without a cookie (-want +got):\n%s", diff)
	}
	// The explanation names the target the next request goes to.
	if got := h.countBodies(1); bks[firstKey(got)].addr != e.Target {
		t.Errorf("explained %s, the request went to %v", e.Target, got)
	}

	c := h.send(h.front(), "/").cookie(t, lbCookie)
	e = g.explainPick(httptestRequest(c))
	if s := e.Stickiness; !s.Honoured || s.Cookie != lbCookie || e.Target != s.Target || !strings.HasPrefix(e.Reason, "stickiness") {
		t.Errorf("with a good cookie: got %+v, target %s (%s), want it honoured", s, e.Target, e.Reason)
	}
	c.Value = "x" + c.Value[1:]
	if s := g.explainPick(httptestRequest(c)).Stickiness; s.Honoured || s.Reason != whyUnreadable {
		t.Errorf("with a tampered cookie: got %+v, want it refused as unreadable", s)
	}
}

func TestExplainPick_LeastOutstandingAndEmptyGroup(t *testing.T) {
	tg := testGroup()
	tg.Algorithm = LeastOutstandingRequests
	g := idleGroup(t, tg, 3)
	p := g.set.Load().candidates()
	p.targets[0].inflight.Store(2)
	p.targets[1].inflight.Store(1)
	p.targets[2].inflight.Store(3)
	e := g.explainPick(httptestRequest())
	if e.Target != p.targets[1].addr || e.Stickiness != nil || e.Candidates[2].InFlight != 3 {
		t.Errorf("got %+v, want target %s, the least busy", e, p.targets[1].addr)
	}

	empty := idleGroup(t, testGroup(), 0)
	if e := empty.explainPick(httptestRequest()); e.Target != "" || !strings.Contains(e.Reason, "503") {
		t.Errorf("empty group: got %+v, want no target and 503", e)
	}
}

func sortedAddrs(bks map[string]*backend) []string {
	var out []string
	for _, bk := range bks {
		out = append(out, bk.addr)
	}
	slices.Sort(out)
	return out
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}
