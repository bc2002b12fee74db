package dashboard

import (
	"crypto/subtle"
	"net/http"
)

// cookieName is the cookie that carries the token after the first load.
const cookieName = "shoal_dashboard"

// authorized checks the request's token, from the query or the cookie. A
// good one in the query sets the cookie; none answers 401.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if q := r.URL.Query().Get("token"); q != "" && s.matches(q) {
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.opts.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		return true
	}
	if c, err := r.Cookie(cookieName); err == nil && s.matches(c.Value) {
		return true
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte("shoal dashboard: this needs the token. Open the URL `shoal up` printed (shoal: dashboard at http://…/?token=…); `shoal status --json` gives it as dashboard.\n"))
	return false
}

// matches compares a token with the dashboard's in constant time.
func (s *Server) matches(token string) bool {
	return s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.Token)) == 1
}
