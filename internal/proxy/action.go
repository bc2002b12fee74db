package proxy

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/shoalhq/shoal/internal/routing"
)

// groupCookie is ALB's target group stickiness cookie, and groupCookieCORS
// its SameSite=None twin for cross-origin requests.
const (
	groupCookie     = "AWSALBTG"
	groupCookieCORS = "AWSALBTGCORS"
)

// forwardTo is a forward action with its target groups resolved: what a
// request matched to it is sent to.
type forwardTo struct {
	groups  []*targetGroup
	weights []int // cumulative: weights[i] is the sum of the first i+1
	total   int
	// sticky, when more than 0, keeps a client on its first target group
	// that long (the AWSALBTG cookie).
	sticky time.Duration
}

func newForwardTo(f *routing.ForwardAction, groups map[string]*targetGroup) *forwardTo {
	ft := &forwardTo{sticky: f.Stickiness}
	for _, wg := range f.Groups {
		if wg.Weight <= 0 && len(f.Groups) > 1 {
			continue // a weight of 0 takes no request
		}
		ft.total += max(wg.Weight, 1)
		ft.groups = append(ft.groups, groups[wg.Name])
		ft.weights = append(ft.weights, ft.total)
	}
	return ft
}

// pick chooses the target group of a request: the one its AWSALBTG cookie
// names, while it is part of the action and the cookie is valid, else one
// by weight (and, with stickiness, a cookie naming it).
func (ft *forwardTo) pick(w http.ResponseWriter, r *http.Request, d *deps) *targetGroup {
	if len(ft.groups) == 1 && ft.sticky == 0 {
		return ft.groups[0]
	}
	now := d.clock.Now()
	if ft.sticky > 0 {
		if c, err := r.Cookie(groupCookie); err == nil {
			if name, ok := openCookie(d.cookieKey, c.Value, now); ok {
				for _, g := range ft.groups {
					if g.name == name {
						return g
					}
				}
			}
		}
	}
	g := ft.byWeight()
	if ft.sticky > 0 {
		value := sealCookie(d.cookieKey, g.name, now.Add(ft.sticky))
		h := w.Header()
		h.Add("Set-Cookie", (&http.Cookie{Name: groupCookie, Value: value, Path: "/", Expires: now.Add(ft.sticky)}).String())
		h.Add("Set-Cookie", (&http.Cookie{Name: groupCookieCORS, Value: value, Path: "/", Expires: now.Add(ft.sticky),
			SameSite: http.SameSiteNoneMode, Secure: true}).String())
	}
	return g
}

// byWeight picks a group at random, each with its weight's share.
func (ft *forwardTo) byWeight() *targetGroup {
	n := rand.IntN(ft.total)
	for i, cum := range ft.weights {
		if n < cum {
			return ft.groups[i]
		}
	}
	return ft.groups[len(ft.groups)-1]
}

// routingRequest is what the rules look at in r, on a listener of scheme
// and port.
func routingRequest(r *http.Request, scheme, port string) routing.Request {
	src, _ := netip.ParseAddrPort(r.RemoteAddr)
	return routing.Request{
		Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Method: r.Method,
		Header: r.Header, Source: src.Addr().Unmap(), Scheme: scheme, Port: port,
	}
}

// act carries out the action a request matched.
func (rt *route) act(w http.ResponseWriter, r *http.Request, req *routing.Request, a *routing.Action, priority int, d *deps) {
	if a.Auth != nil && a.Auth.JWT != nil && !rt.verifyJWT(w, r, a.Auth.JWT, d) {
		return
	}
	if a.Auth != nil && a.Auth.OIDC != nil && !rt.authenticateOIDC(w, r, a.Auth.OIDC, d) {
		return
	}
	var e *logEntry
	if rt.log != nil {
		e = entryOf(r)
		e.acted = true
	}
	switch a.Type {
	case routing.Forward:
		// As ALB: authenticate, then rewrite, then forward.
		r, ok := rt.transform(w, r, req, priority, d)
		if !ok {
			return
		}
		ft := rt.forwards[priority]
		ft.pick(w, r, d).serve(w, r, rt)
	case routing.Redirect:
		location := routing.RedirectURL(a.Redirect, req)
		if e != nil {
			e.redirect = location
		}
		w.Header().Set("Location", location)
		writeError(w, a.Redirect.StatusCode)
	case routing.FixedResponse:
		h := w.Header()
		h.Set("Server", "shoal")
		h.Set("Content-Type", a.Fixed.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(a.Fixed.Body)))
		w.WriteHeader(a.Fixed.StatusCode)
		io.WriteString(w, a.Fixed.Body)
	default:
		writeError(w, http.StatusInternalServerError)
	}
}
