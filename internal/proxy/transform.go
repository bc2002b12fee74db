package proxy

import (
	"net/http"

	"github.com/shoalhq/shoal/internal/routing"
)

// transform applies the transforms of the rule that took a request to be
// forwarded (see routing.Rewrite): it returns the request to forward, r
// itself when nothing changes, or false once it has answered 500 because a
// transform made an invalid Host or URL, as ALB does.
//
// The rewritten request is a shallow copy, r is left as the server made
// it, and req, the routing view of r, keeps the request as sent: what the
// rules matched, a redirect's #{host} and #{path}, and r.RequestURI. A
// listener, or a rule, without transforms costs one lookup and no
// allocation.
func (rt *route) transform(w http.ResponseWriter, r *http.Request, req *routing.Request, priority int, d *deps) (*http.Request, bool) {
	ts := rt.table.Transforms(priority)
	if ts == nil {
		return r, true
	}
	rw, err := routing.Rewrite(ts, req)
	if err != nil {
		d.log.Warn("rule transform failed", "listener", rt.name, "rule", priority, "err", err)
		writeError(w, http.StatusInternalServerError)
		return nil, false
	}
	if rw.Host == r.Host && rw.URL == nil {
		return r, true
	}
	out := new(http.Request)
	*out = *r
	out.Host = rw.Host
	if rw.URL != nil {
		u := *r.URL // an absolute-form request keeps its scheme and host
		u.Path, u.RawPath, u.RawQuery, u.ForceQuery = rw.URL.Path, rw.URL.RawPath, rw.URL.RawQuery, rw.URL.ForceQuery
		out.URL = &u
	}
	return out, true
}
