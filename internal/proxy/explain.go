package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/shoalhq/shoal/internal/routing"
)

// ListenerRules is a listener's compiled rules, as `shoal rules` shows
// them: in evaluation order, the default action last.
type ListenerRules struct {
	Listener string         `json:"listener"`
	Address  string         `json:"address"`
	Protocol string         `json:"protocol"`
	Rules    []routing.Rule `json:"rules"`
	Default  routing.Action `json:"default_action"`
}

// Rules lists every listener's rules, in Config order.
func (b *Balancer) Rules() []ListenerRules {
	t := b.table.Load()
	out := make([]ListenerRules, 0, len(t.listeners))
	for _, l := range t.listeners {
		rt := t.routes[l]
		out = append(out, ListenerRules{
			Listener: rt.name, Address: l.ln.Addr().String(), Protocol: rt.scheme,
			Rules: rt.table.Rules(), Default: rt.table.Default(),
		})
	}
	return out
}

// ExplainRequest is a request to explain: where it would go, and why.
type ExplainRequest struct {
	// URL names the listener by its host and port (a listener on
	// 0.0.0.0 takes any host), and gives the path and query.
	URL    string      `json:"url"`
	Method string      `json:"method"`
	Header http.Header `json:"header,omitempty"`
	// From is the client's address (default 127.0.0.1).
	From string `json:"from,omitempty"`
}

// Explanation is where a request would go now, and why.
type Explanation struct {
	Listener string              `json:"listener"`
	Address  string              `json:"address"`
	Routing  routing.Explanation `json:"routing"`
	// Groups are the target groups of a forward action with their share;
	// Group the one picked now and why.
	Groups []GroupShare `json:"groups,omitempty"`
	Group  string       `json:"group,omitempty"`
	Why    string       `json:"why,omitempty"`
	// Location is a redirect's URL.
	Location string `json:"location,omitempty"`
	// Pick is the target the group would pick now, and why.
	Pick *PickExplanation `json:"pick,omitempty"`
}

// GroupShare is a target group of a weighted forward and its share.
type GroupShare struct {
	Name   string  `json:"name"`
	Weight int     `json:"weight"`
	Share  float64 `json:"share"`
}

// ErrNoListener is returned by Explain for a URL no listener takes.
var ErrNoListener = errors.New("no listener")

// Explain says which rule a request would match on the listener its URL
// names, why each earlier rule did not, what the action does, and which
// target would serve it now.
func (b *Balancer) Explain(er ExplainRequest) (Explanation, error) {
	u, err := url.Parse(er.URL)
	if err != nil || u.Host == "" {
		return Explanation{}, fmt.Errorf("%q is not a URL like http://127.0.0.1:8080/path", er.URL)
	}
	t := b.table.Load()
	l, rt := t.listenerFor(u)
	if l == nil {
		return Explanation{}, fmt.Errorf("%w at %s: the listeners are %s", ErrNoListener, u.Host, strings.Join(b.ListenerAddrs(), ", "))
	}
	r := explainedRequest(u, er)
	req := routingRequest(r, rt.scheme, rt.port)
	ex := Explanation{Listener: rt.name, Address: l.ln.Addr().String(), Routing: rt.table.Explain(&req)}
	a := ex.Routing.Action
	switch a.Type {
	case routing.Redirect:
		ex.Location = routing.RedirectURL(a.Redirect, &req)
	case routing.Forward:
		ft := rt.forwards[ex.Routing.Matched]
		ex.Groups = shares(a.Forward)
		g, why := ft.explain(r, &b.d)
		ex.Group, ex.Why = g.name, why
		p := g.explainPick(r)
		ex.Pick = &p
	}
	return ex, nil
}

// listenerFor finds the listener a URL names: same port, and the same
// address or a wildcard one.
func (t *routingTable) listenerFor(u *url.URL) (*listener, *route) {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	want, _ := netip.ParseAddr(host)
	if host == "localhost" {
		want = netip.MustParseAddr("127.0.0.1")
	}
	for _, l := range t.listeners {
		ap, err := netip.ParseAddrPort(l.ln.Addr().String())
		if err != nil || t.routes[l].port != port {
			continue
		}
		if ap.Addr().IsUnspecified() || ap.Addr() == want.Unmap() {
			return l, t.routes[l]
		}
	}
	return nil, nil
}

// explainedRequest is the request an ExplainRequest describes.
func explainedRequest(u *url.URL, er ExplainRequest) *http.Request {
	method := er.Method
	if method == "" {
		method = http.MethodGet
	}
	from := er.From
	if from == "" {
		from = "127.0.0.1"
	}
	r := &http.Request{Method: method, URL: u, Host: u.Host, Header: er.Header.Clone(), RemoteAddr: net.JoinHostPort(from, "50000")}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if h := r.Header.Get("Host"); h != "" {
		r.Host = h
	}
	return r
}

func shares(f *routing.ForwardAction) []GroupShare {
	total := 0
	for _, g := range f.Groups {
		total += g.Weight
	}
	var out []GroupShare
	for _, g := range f.Groups {
		s := GroupShare{Name: g.Name, Weight: g.Weight}
		if total > 0 {
			s.Share = float64(g.Weight) / float64(total)
		}
		out = append(out, s)
	}
	return out
}

// explain says which group a forward would pick for r now, and why.
func (ft *forwardTo) explain(r *http.Request, d *deps) (*targetGroup, string) {
	if len(ft.groups) == 1 {
		return ft.groups[0], "the only target group of the action"
	}
	if ft.sticky > 0 {
		if c, err := r.Cookie(groupCookie); err == nil {
			if name, ok := openCookie(d.cookieKey, c.Value, d.clock.Now()); ok {
				for _, g := range ft.groups {
					if g.name == name {
						return g, "the request's " + groupCookie + " cookie names it (target group stickiness)"
					}
				}
			}
			return ft.byWeight(), "the " + groupCookie + " cookie is not valid here (expired, tampered with, or from elsewhere): picked by weight"
		}
	}
	return ft.byWeight(), "picked at random by weight"
}

// ListenerURLs returns the URL of every listener, in Config order:
// http:// or https:// and the bound address.
func (b *Balancer) ListenerURLs() []string {
	t := b.table.Load()
	urls := make([]string, len(t.listeners))
	for i, l := range t.listeners {
		urls[i] = t.routes[l].scheme + "://" + l.ln.Addr().String() + "/"
	}
	return urls
}
