package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestEndToEnd_OIDCSignIn signs a user in through examples/auth in a real
// browser: /whoami sends headless Chromium to the example's OpenID Connect
// provider, whose form the test fills, and back; the catalog app, having
// verified x-amzn-oidc-data with the key the listener serves, answers the
// user's claims. A deploy that adds a rule to the listener leaves the
// session alone; expiring the session cookie in the browser, as an app's
// logout does, sends the user back to the provider.
func TestEndToEnd_OIDCSignIn(t *testing.T) {
	chromium := needAuthTools(t)
	start := time.Now()
	dir := t.TempDir()
	bin := buildShoal(t, dir)
	state := filepath.Join(dir, "state")
	ports := authPorts{https: freeTCPPort(t), idp: freeTCPPort(t)}
	up := startShoal(t, bin, "up", "-q", "-f", authStack(t, dir, "auth.yaml", ports, ""), "--state-dir", state)
	waitSteady(t, up, bin, state)
	t.Logf("built and steady in %v", time.Since(start).Round(time.Millisecond))

	base := "https://127.0.0.1:" + strconv.Itoa(ports.https)
	whoami := base + "/whoami"
	signInPage := ports.idpURL("/authorize?")
	b := newBrowser(t, chromium)

	// Signed out: to the provider's sign-in form, and back with a session.
	start = time.Now()
	nav, at := b.visit(t, whoami)
	if !strings.HasPrefix(at, signInPage) || len(nav) != 2 {
		t.Fatalf("GET /whoami signed out: went through %v and stopped at %s; want the provider's sign-in page %s…", nav, at, signInPage)
	}
	nav, at = b.signIn(t, authUser)
	if at != whoami || !nav.went(base+"/oauth2/idpresponse?") {
		t.Fatalf("signing in: went through %v and stopped at %s; want %s/oauth2/idpresponse, then %s", nav, at, base, whoami)
	}
	t.Logf("signed in in %v, through %v", time.Since(start).Round(time.Millisecond), nav)
	b.checkUser(t, authUser)
	session := b.sessionCookies(t, base)
	if len(session) == 0 {
		t.Fatalf("no %s-N cookie after signing in", sessionCookie)
	}
	for _, c := range session {
		if !c.HTTPOnly || !c.Secure {
			t.Errorf("cookie %s: HttpOnly %v, Secure %v; want both", c.Name, c.HTTPOnly, c.Secure)
		}
	}

	// A deploy that adds a rule to the listener swaps its routing table:
	// the session is still good.
	code, out := runShoal(t, bin, state, "deploy", "-f", authStack(t, dir, "auth-v2.yaml", ports, extraRule))
	if code != 0 {
		t.Fatalf("shoal deploy with a new rule: exit %d:\n%s", code, out)
	}
	waitFor(t, up, 30*time.Second, "the new rule answering "+base+extraRulePath, func() bool {
		return fixedResponse(base+extraRulePath) == extraRuleBody
	})
	if nav, at = b.visit(t, whoami); at != whoami || len(nav) != 1 {
		t.Fatalf("GET /whoami after the deploy: went through %v and stopped at %s; want %s at once: the session survives the deploy", nav, at, whoami)
	}
	b.checkUser(t, authUser)

	// Logging out expires the session cookies: the next visit goes to the
	// provider, and whoever signs in there is the one /whoami shows.
	b.expireSessionCookies(t, base)
	if left := b.sessionCookies(t, base); len(left) != 0 {
		t.Fatalf("session cookies left after logging out: %v", left)
	}
	if nav, at = b.visit(t, whoami); !strings.HasPrefix(at, signInPage) {
		t.Fatalf("GET /whoami after logging out: went through %v and stopped at %s; want the provider's sign-in page", nav, at)
	}
	if nav, at = b.signIn(t, otherUser); at != whoami {
		t.Fatalf("signing in again: went through %v and stopped at %s; want %s", nav, at, whoami)
	}
	b.checkUser(t, otherUser)
	up.stop(t)
}

// The users the test signs in as (the example's provider takes any name),
// the session cookie, and the rule the test deploys.
const (
	authUser      = "bob"
	otherUser     = "carol"
	sessionCookie = "AWSELBAuthSessionCookie"
	extraRulePath = "/e2e-ping"
	extraRuleBody = "pong"
	extraRule     = `        rules:
          - priority: 5
            conditions:
              path_pattern: ["` + extraRulePath + `"]
            action:
              fixed_response: {status_code: 200, content_type: text/plain, message_body: "` + extraRuleBody + `"}
`
)

// needAuthTools returns the path of Chromium. Without it or redis-server
// (the catalog's cache) the test is skipped, or fails on CI (CI or
// SHOAL_TEST_REDIS_URL set), which must have them.
func needAuthTools(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds binaries; skipped with -short")
	}
	var missing []string
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		missing = append(missing, "chromium (apt-get install chromium)")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing = append(missing, "redis-server (apt-get install redis-server)")
	}
	if len(missing) == 0 {
		return chromium
	}
	msg := "the sign-in test drives a headless browser through examples/auth, whose catalog caches in Redis: install " + strings.Join(missing, " and ")
	if os.Getenv("CI") != "" || os.Getenv("SHOAL_TEST_REDIS_URL") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// authPorts are the free ports the example is rewritten to.
type authPorts struct{ https, idp int }

// idpURL is a URL of the example's provider.
func (p authPorts) idpURL(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(p.idp) + path
}

// authStack writes examples/auth/shoal.yaml into dir as name, changed so
// that the test runs anywhere and signs in through the form: free ports,
// absolute paths, the database in dir, the provider asking for a name
// (IDP_LOGIN: form); rules, when not empty, are added to the https
// listener. Everything else is the example as shipped.
func authStack(t *testing.T, dir, name string, ports authPorts, rules string) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/auth/shoal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	https, idp := strconv.Itoa(ports.https), strconv.Itoa(ports.idp)
	s := string(src)
	for _, r := range [][2]string{
		{"- port: 8443", "- port: " + https},
		{"https://127.0.0.1:8443/", "https://127.0.0.1:" + https + "/"},
		{"- port: 9000", "- port: " + idp},
		{"http://127.0.0.1:9000", "http://127.0.0.1:" + idp},
		{"../routing/tls/", filepath.Join(examples, "routing/tls") + "/"},
		{"working_dir: ../catalog", "working_dir: " + filepath.Join(examples, "catalog")},
		{"    port: 9000\n", "    port: 9000\n    working_dir: " + filepath.Join(examples, "auth") + "\n"},
		{"DATABASE_URL: sqlite:catalog.db", "DATABASE_URL: sqlite://" + filepath.Join(dir, "catalog.db")},
		{"IDP_USER: alice", "IDP_USER: alice\n      IDP_LOGIN: form"},
		{"        default_action:\n          authenticate_oidc:", rules + "        default_action:\n          authenticate_oidc:"},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("examples/auth/shoal.yaml no longer contains %q; update the test", r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fixedResponse is the body of a 200 answer to a GET of url over https,
// "" for anything else.
func fixedResponse(url string) string {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // the example's self-signed certificate
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(body)
}

// browser is a headless Chromium with a profile of its own, and the
// documents its tab has requested.
type browser struct {
	ctx context.Context // a chromedp context whose browser has started

	mu   sync.Mutex
	docs []string // URLs of the documents requested, redirects included
}

// stepTimeout bounds each thing the test asks of the browser.
const stepTimeout = 60 * time.Second

// newBrowser starts Chromium with the flags a closed, root-run machine
// needs (see /work/shared/notes/browser.md), trusting any certificate: the
// example's listener has a self-signed one.
func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{ctx: ctx}
	// The first call starts the browser and opens its tab. It must not
	// run under a timeout, which would stop the browser with it: the
	// test waits for it with one instead.
	started := make(chan error, 1)
	go func() {
		started <- chromedp.Listen(ctx, func(ev any) {
			if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Type == network.ResourceTypeDocument {
				b.mu.Lock()
				b.docs = append(b.docs, e.Request.URL)
				b.mu.Unlock()
			}
		})
	}()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start %s: %v", chromium, err)
		}
	case <-time.After(stepTimeout):
		cancel()
		t.Fatalf("%s did not start within %v", chromium, stepTimeout)
	}
	return b
}

// step runs an action with a deadline.
func step[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// navigation is the documents one step requested, redirects included, in
// order.
type navigation []string

// went reports whether the navigation requested a URL starting with prefix.
func (n navigation) went(prefix string) bool {
	return slices.ContainsFunc(n, func(u string) bool { return strings.HasPrefix(u, prefix) })
}

// navigate runs an action that makes the tab load a page, and waits for
// the page: it returns the documents requested on the way and the page's
// URL. The page must answer 200.
func (b *browser) navigate(t *testing.T, what string, load func(ctx context.Context) (*network.Response, error)) (navigation, string) {
	t.Helper()
	b.mu.Lock()
	from := len(b.docs)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	resp, err := load(ctx)
	cancel()
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	at := step(t, b, "location", chromedp.Location())
	b.mu.Lock()
	nav := navigation(slices.Clone(b.docs[from:]))
	b.mu.Unlock()
	if resp.Status != http.StatusOK {
		t.Fatalf("browser: %s: went through %v to %s, which answered %d %s", what, nav, at, resp.Status, resp.StatusText)
	}
	return nav, at
}

// visit opens url.
func (b *browser) visit(t *testing.T, url string) (navigation, string) {
	t.Helper()
	return b.navigate(t, "open "+url, func(ctx context.Context) (*network.Response, error) {
		return chromedp.Run(ctx, chromedp.NavigateResponse(url))
	})
}

// signIn fills the provider's sign-in form, which the tab is at, with user
// and sends it.
func (b *browser) signIn(t *testing.T, user string) (navigation, string) {
	t.Helper()
	step(t, b, "type the user name", chromedp.SendKeys(chromedp.ID("username"), user))
	return b.navigate(t, "sign in as "+user, func(ctx context.Context) (*network.Response, error) {
		return chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("sign-in")))
	})
}

// checkUser checks that the page, /whoami's answer, holds the claims the
// example's provider gives user.
func (b *browser) checkUser(t *testing.T, user string) {
	t.Helper()
	text := step(t, b, "read the page", chromedp.Evaluate[string](`document.body.innerText`))
	var c struct {
		Sub   string `json:"sub"`
		Email string `json:"email"`
	}
	if err := json.Unmarshal([]byte(text), &c); err != nil || c.Sub != user || c.Email != user+"@example.com" {
		t.Fatalf("/whoami shows %q; want the claims of %s (%s@example.com)", text, user, user)
	}
}

// sessionCookies are the browser's session cookies for url.
func (b *browser) sessionCookies(t *testing.T, url string) []*network.Cookie {
	t.Helper()
	all := step(t, b, "get cookies", func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	})
	var out []*network.Cookie
	for _, c := range all.Cookies {
		if strings.HasPrefix(c.Name, sessionCookie+"-") {
			out = append(out, c)
		}
	}
	return out
}

// expireSessionCookies does what an app's logout does: it sets each
// session cookie again, empty, with an expiry in the past. The cookies are
// HttpOnly, so a page's script could not; the DevTools protocol can.
func (b *browser) expireSessionCookies(t *testing.T, url string) {
	t.Helper()
	for _, c := range b.sessionCookies(t, url) {
		step(t, b, "expire "+c.Name, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
				Name: c.Name, Value: "", URL: url, Path: c.Path, Secure: &c.Secure, HTTPOnly: &c.HTTPOnly,
				Expires: 1, // 1970
			})
			return err
		}))
	}
}
