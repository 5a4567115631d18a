package localapi

import (
	"crypto/subtle"
	"embed"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The dashboard: a static page (web/, embedded, no build step) that polls
// the JSON routes status, jobs, peers and stats. On the socket it lives
// under /localapi/v0/dashboard/ like any route; over TCP (Dashboard) it is
// at / beside /metrics and a read-only subset of the API, behind a token.

//go:embed web
var webFiles embed.FS

// DashboardPath is the page's path on the socket.
const DashboardPath = Prefix + "dashboard/"

// TokenCookie carries the token after the first request that gave it as
// ?token=.
// Browsers share cookies between the ports of a host, so the cookie's name
// carries the port (tokenCookie): two daemons' dashboards on one machine
// do not overwrite each other's token.
const TokenCookie = "scavenge_token"

// tokenCookie is the token cookie's name for a request to r.Host.
func tokenCookie(r *http.Request) string {
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		return TokenCookie + "_" + port
	}
	return TokenCookie
}

// webRoot is the embedded folder the page is served from.
func webRoot() http.FileSystem {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic("localapi: embedded web folder: " + err.Error()) // the build embeds it
	}
	return http.FS(sub)
}

// serveDashboard serves the page's files under DashboardPath.
func (h *Handler) serveDashboard(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	http.StripPrefix(DashboardPath, http.FileServer(webRoot())).ServeHTTP(w, r)
	return nil
}

// dashboardRoutes are the API routes the TCP listener passes on: reading
// only. Submitting, cancelling and pausing stay on the socket.
var dashboardRoutes = []string{"status", "jobs", "peers", "stats", "metrics"}

// Dashboard is the handler of the dashboard's TCP listener: the page at /,
// Prometheus text at /metrics and the read-only routes of api, each
// request authorised by token.
type Dashboard struct {
	api   *Handler
	token string
	mux   *http.ServeMux
}

// NewDashboard serves api's page and read-only routes to holders of token.
func NewDashboard(api *Handler, token string) *Dashboard {
	d := &Dashboard{api: api, token: token, mux: http.NewServeMux()}
	files := http.FileServer(webRoot())
	d.mux.Handle("GET /", files)
	d.mux.Handle("GET "+DashboardPath, http.StripPrefix(DashboardPath, files))
	d.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = Prefix + "metrics"
		api.ServeHTTP(w, r2)
	})
	for _, route := range dashboardRoutes {
		d.mux.Handle("GET "+Prefix+route, api)
	}
	return d
}

// ServeHTTP checks the token, then serves. A token given as ?token= is
// moved into a cookie and the browser sent back to the same URL without
// it, so it does not linger in the address bar or history.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	if q := r.URL.Query().Get("token"); q != "" && d.valid(q) {
		http.SetCookie(w, &http.Cookie{
			Name: tokenCookie(r), Value: q, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, MaxAge: int((30 * 24 * time.Hour).Seconds()),
		})
		u := *r.URL
		vals := u.Query()
		vals.Del("token")
		u.RawQuery = vals.Encode()
		http.Redirect(w, r, (&url.URL{Path: u.Path, RawQuery: u.RawQuery}).String(), http.StatusSeeOther)
		return
	}
	if !d.authorised(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scavenge dashboard"`)
		writeError(w, http.StatusUnauthorized, "a token is needed: open the URL `scavenge dashboard` prints, or send Authorization: Bearer <home>/dashboard.token")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	d.mux.ServeHTTP(w, r)
}

// authorised reports whether r carries the token as a bearer or a cookie.
func (d *Dashboard) authorised(r *http.Request) bool {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && d.valid(strings.TrimSpace(tok)) {
		return true
	}
	c, err := r.Cookie(tokenCookie(r))
	return err == nil && d.valid(c.Value)
}

// valid compares in constant time: the listener may be reachable by
// others (allow_remote).
func (d *Dashboard) valid(tok string) bool {
	return d.token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(d.token)) == 1
}
