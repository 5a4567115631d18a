package localapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

const testToken = "0123456789abcdef0123456789abcdef"

// dashboardServer serves the dashboard of a fake daemon on loopback TCP,
// as the daemon does, and returns its URL and the fake.
func dashboardServer(t *testing.T) (string, *statsFake) {
	t.Helper()
	f := &statsFake{fakeBackend: newFake(), st: sampleStats()}
	f.jobs["job1"] = scavenger.Job{ID: "job1", State: scavenger.StateRunning,
		Tasks: []scavenger.Task{{ID: "t0", State: scavenger.StateDone}, {ID: "t1", State: scavenger.StateRunning}}}
	f.logs = map[string]string{"job1/t0/stdout": "secret output\n"}
	srv := httptest.NewServer(NewDashboard(New(f, testLogger(t)), testToken))
	t.Cleanup(srv.Close)
	return srv.URL, f
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send sends method url with the header key: value (none when key is "")
// and returns the status, headers and body.
func send(t *testing.T, c *http.Client, method, url, key, val string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set(key, val)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// cookieName is the token cookie's name on the server at base.
func cookieName(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return TokenCookie + "_" + u.Port()
}

func TestDashboardToken(t *testing.T) {
	base, _ := dashboardServer(t)
	cookie := cookieName(t, base)
	tests := []struct {
		name, path, key, val string
		want                 int
		wantBody             string
	}{
		{"page without token", "/", "", "", 401, "a token is needed"},
		{"api without token", "/localapi/v0/status", "", "", 401, "a token is needed"},
		{"metrics without token", "/metrics", "", "", 401, "a token is needed"},
		{"wrong bearer", "/localapi/v0/status", "Authorization", "Bearer " + strings.Repeat("0", len(testToken)), 401, "a token is needed"},
		{"token prefix", "/localapi/v0/status", "Authorization", "Bearer " + testToken[:10], 401, "a token is needed"},
		{"empty bearer", "/localapi/v0/status", "Authorization", "Bearer ", 401, "a token is needed"},
		{"basic auth", "/localapi/v0/status", "Authorization", "Basic " + testToken, 401, "a token is needed"},
		{"wrong cookie", "/localapi/v0/status", "Cookie", cookie + "=nope", 401, "a token is needed"},
		{"cookie of another port", "/localapi/v0/status", "Cookie", TokenCookie + "_1=" + testToken, 401, "a token is needed"},
		{"wrong query token", "/?token=nope", "", "", 401, "a token is needed"},
		{"bearer", "/localapi/v0/status", "Authorization", "Bearer " + testToken, 200, `"id": "12D3KooWfake"`},
		{"bearer page", "/", "Authorization", "Bearer " + testToken, 200, "<title>scavenge dashboard</title>"},
		{"bearer script", "/app.js", "Authorization", "Bearer " + testToken, 200, "data-done"},
		{"bearer metrics", "/metrics", "Authorization", "Bearer " + testToken, 200, "scavenge_guests 3"},
		{"cookie", "/localapi/v0/jobs", "Cookie", cookie + "=" + testToken, 200, `"id": "job1"`},
		{"page under the socket's path", "/localapi/v0/dashboard/", "Cookie", cookie + "=" + testToken, 200, "<title>scavenge dashboard</title>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := send(t, noRedirects, "GET", base+tt.path, tt.key, tt.val)
			if code != tt.want || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s: %d %q, want %d containing %q", tt.path, code, body, tt.want, tt.wantBody)
			}
			if code == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without WWW-Authenticate: Bearer (%q)", hdr.Get("WWW-Authenticate"))
			}
			if code == 401 && hdr.Get("Set-Cookie") != "" {
				t.Errorf("a refused request got a cookie: %s", hdr.Get("Set-Cookie"))
			}
			if hdr.Get("X-Frame-Options") != "DENY" || hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v: want X-Frame-Options DENY and nosniff", hdr)
			}
		})
	}
}

// TestDashboardTokenRedirect follows what a browser does with the URL
// `scavenge dashboard` prints: the token goes into a cookie, the address
// bar loses it, and the page's API calls are authorised by the cookie.
func TestDashboardTokenRedirect(t *testing.T) {
	base, _ := dashboardServer(t)
	name := cookieName(t, base)
	for _, tt := range []struct{ path, wantLoc string }{
		{"/?token=" + testToken, "/"},
		{"/?x=1&token=" + testToken, "/?x=1"},
		{"/localapi/v0/dashboard/?token=" + testToken, "/localapi/v0/dashboard/"},
	} {
		code, hdr, _ := send(t, noRedirects, "GET", base+tt.path, "", "")
		if code != http.StatusSeeOther || hdr.Get("Location") != tt.wantLoc {
			t.Errorf("GET %s: %d to %q, want 303 to %q", tt.path, code, hdr.Get("Location"), tt.wantLoc)
		}
		resp := http.Response{Header: hdr}
		var c *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == name {
				c = ck
			}
		}
		if c == nil || c.Value != testToken || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge <= 0 {
			t.Errorf("GET %s: cookie %+v, want %s=<token>, HttpOnly, SameSite=Strict, Path=/, lasting", tt.path, c, name)
		}
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var hops []string
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.String())
		return nil
	}}
	code, _, body := send(t, browser, "GET", base+"/?token="+testToken, "", "")
	if code != 200 || !strings.Contains(body, "<title>scavenge dashboard</title>") {
		t.Fatalf("following the token URL: %d %q, want the page", code, body)
	}
	if len(hops) != 1 || strings.Contains(hops[0], "token") {
		t.Errorf("redirects %v, want one, to a URL without the token", hops)
	}
	for _, path := range []string{"/localapi/v0/status", "/localapi/v0/jobs", "/localapi/v0/peers", "/localapi/v0/stats", "/metrics"} {
		if code, _, body := send(t, browser, "GET", base+path, "", ""); code != 200 {
			t.Errorf("GET %s with the cookie: %d %s, want 200", path, code, body)
		}
	}
}

// TestDashboardReadOnly checks that the TCP listener, even with the token,
// only reads: nothing there pauses, submits, cancels or reads task output.
func TestDashboardReadOnly(t *testing.T) {
	base, f := dashboardServer(t)
	auth := "Bearer " + testToken
	for _, tt := range []struct{ method, path string }{
		{"POST", "/localapi/v0/pause"},
		{"POST", "/localapi/v0/resume"},
		{"POST", "/localapi/v0/jobs"},
		{"POST", "/localapi/v0/jobs/job1/cancel"},
		{"DELETE", "/localapi/v0/jobs"},
		{"PUT", "/index.html"},
		{"GET", "/localapi/v0/pause"},
		// Reading routes outside dashboardRoutes: a task's output and the
		// event stream stay on the socket.
		{"GET", "/localapi/v0/jobs/job1"},
		{"GET", "/localapi/v0/jobs/job1/events"},
		{"GET", "/localapi/v0/jobs/job1/tasks/t0/log?stream=stdout"},
		{"GET", "/localapi/v0/frobnicate"},
		{"GET", "/localapi/v1/status"},
		{"GET", "/localapi/v0/dashboard/../jobs/job1"},
		{"GET", "/../../dashboard_test.go"},
	} {
		// Redirects (to a cleaned path) are followed, keeping the token.
		code, _, body := send(t, http.DefaultClient, tt.method, base+tt.path, "Authorization", auth)
		// 404 (no such page) or 405 (a GET-only listener).
		if code != 404 && code != 405 {
			t.Errorf("%s %s with the token: %d %q, want 404 or 405", tt.method, tt.path, code, body)
		}
		if strings.Contains(body, "secret output") || strings.Contains(body, `"id": "job1"`) {
			t.Errorf("%s %s leaked %q", tt.method, tt.path, body)
		}
	}
	// What the same requests would have done on the socket did not happen.
	if f.paused != "" || len(f.submitted) != 0 || len(f.cancelled) != 0 || len(f.logReqs) != 0 {
		t.Errorf("the dashboard changed the daemon: paused %q, submitted %v, cancelled %v, logs read %v", f.paused, f.submitted, f.cancelled, f.logReqs)
	}
	// The routes it does pass on are exactly these.
	want := []string{"status", "jobs", "peers", "stats", "metrics"}
	if strings.Join(dashboardRoutes, " ") != strings.Join(want, " ") {
		t.Errorf("dashboardRoutes = %v, want %v (a new route here must be read-only)", dashboardRoutes, want)
	}
	for _, r := range dashboardRoutes {
		if _, ok := routes[r][http.MethodGet]; !ok {
			t.Errorf("dashboard route %q is not a GET route of the API", r)
		}
	}
}

// TestDashboardOnSocket: the page is also on the socket's route table,
// where the socket's own permissions guard it.
func TestDashboardOnSocket(t *testing.T) {
	h := New(newFake(), testLogger(t))
	code, body := do(t, h, "GET", DashboardPath, "")
	if code != 200 || !strings.Contains(body, `<script src="app.js">`) {
		t.Errorf("GET %s: %d %q, want the page", DashboardPath, code, body)
	}
	code, body = do(t, h, "GET", DashboardPath+"style.css", "")
	if code != 200 || !strings.Contains(body, "body {") {
		t.Errorf("GET style.css: %d %q", code, body)
	}
	if code, _ := do(t, h, "GET", DashboardPath+"nope.js", ""); code != 404 {
		t.Errorf("GET a missing file: %d, want 404", code)
	}
}

// TestDashboardPageUsesAPI checks that the page's script calls only routes
// the TCP listener passes on, under the prefix it serves them at.
func TestDashboardPageUsesAPI(t *testing.T) {
	js, err := webFiles.ReadFile("web/app.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `const API = "`+Prefix+`"`) {
		t.Errorf("app.js does not call the API at %s", Prefix)
	}
	calls := regexp.MustCompile(`get\("([a-z/]+)"\)`).FindAllStringSubmatch(string(js), -1)
	if len(calls) == 0 {
		t.Fatal("no get(...) calls found in app.js")
	}
	for _, m := range calls {
		found := false
		for _, r := range dashboardRoutes {
			found = found || r == m[1]
		}
		if !found {
			t.Errorf("app.js calls %q, which the TCP listener does not serve", m[1])
		}
	}
}

func TestLoadOrCreateToken(t *testing.T) {
	dir := t.TempDir()
	path := TokenPath(dir)
	if filepath.Base(path) != "dashboard.token" || filepath.Dir(path) != dir {
		t.Errorf("TokenPath(%s) = %s", dir, path)
	}
	tok, err := LoadOrCreateToken(path)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Errorf("new token %q: want 64 hex digits", tok)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %o, want 600", fi.Mode().Perm())
	}
	again, err := LoadOrCreateToken(path)
	if err != nil || again != tok {
		t.Errorf("second load: %q, %v; want the same token %q", again, err, tok)
	}
	other, err := LoadOrCreateToken(TokenPath(t.TempDir()))
	if err != nil || other == tok {
		t.Errorf("another home's token: %q, %v; want a different one", other, err)
	}

	// A token the user wrote: whitespace around it does not count.
	mine := filepath.Join(dir, "mine")
	if err := os.WriteFile(mine, []byte("  my-own-long-token-1234  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadOrCreateToken(mine); err != nil || got != "my-own-long-token-1234" {
		t.Errorf("user's token: %q, %v", got, err)
	}

	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(short); err == nil || !strings.Contains(err.Error(), short) || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short token: %v, want an error naming %s and saying it is too short", err, short)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(empty); err == nil {
		t.Error("an empty token file was accepted")
	}

	if _, err := LoadOrCreateToken(filepath.Join(dir, "no", "such", "dir", TokenName)); err == nil || !strings.Contains(err.Error(), "dashboard token") {
		t.Errorf("token in a missing folder: %v, want an error", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".dashboard.token.*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// TestLoadOrCreateTokenRace: daemons started together (or a daemon and
// `scavenge dashboard`) agree on one token.
func TestLoadOrCreateTokenRace(t *testing.T) {
	path := TokenPath(t.TempDir())
	const n = 8
	toks := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			tok, err := LoadOrCreateToken(path)
			toks <- tok
			errs <- err
		}()
	}
	first := ""
	for range n {
		tok, err := <-toks, <-errs
		if err != nil {
			t.Errorf("concurrent load: %v", err)
			continue
		}
		if first == "" {
			first = tok
		}
		if tok != first {
			t.Errorf("concurrent loads disagree: %q and %q", first, tok)
		}
	}
	final, err := LoadOrCreateToken(path)
	if err != nil || final != first {
		t.Errorf("after the race: %q, %v; want %q", final, err, first)
	}
}

func TestDashboardURL(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"127.0.0.1:9470", "http://127.0.0.1:9470/?token=abc"},
		{"localhost:9470", "http://localhost:9470/?token=abc"},
		{"[::1]:9470", "http://[::1]:9470/?token=abc"},
		{"0.0.0.0:9470", "http://127.0.0.1:9470/?token=abc"},
		{":9470", "http://127.0.0.1:9470/?token=abc"},
		{"[::]:9470", "http://[::1]:9470/?token=abc"},
		{"192.168.1.5:9470", "http://192.168.1.5:9470/?token=abc"},
	} {
		if got := DashboardURL(tt.addr, "abc"); got != tt.want {
			t.Errorf("DashboardURL(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// TestServeDashboard runs the listener as the daemon does: it answers,
// refuses a second listener on its port, and stops with its context.
func TestServeDashboard(t *testing.T) {
	ln, err := ListenDashboard("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if _, err := ListenDashboard(addr); err == nil || !strings.Contains(err.Error(), "dashboard.listen") {
		t.Errorf("second listener on %s: %v, want an error naming dashboard.listen", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	f := &statsFake{fakeBackend: newFake(), st: sampleStats()}
	go func() { errc <- ServeDashboard(ctx, ln, NewDashboard(New(f, testLogger(t)), testToken), testLogger(t)) }()
	code, _, body := send(t, http.DefaultClient, "GET", "http://"+addr+"/localapi/v0/status", "Authorization", "Bearer "+testToken)
	if code != 200 || !strings.Contains(body, "12D3KooWfake") {
		t.Errorf("GET status: %d %s", code, body)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("ServeDashboard after cancel: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeDashboard did not return after its context ended")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the dashboard stopped", addr)
	}
}

// TestDashboardCookiePerPort: a token cookie set by the dashboard on one
// port is not the key to another daemon's dashboard on another port of the
// same host (browsers send cookies to every port).
func TestDashboardCookiePerPort(t *testing.T) {
	d := NewDashboard(New(nil, nil), "0123456789abcdef0123456789abcdef")
	set := httptest.NewRequest("GET", "http://127.0.0.1:9470/?token=0123456789abcdef0123456789abcdef", nil)
	w := httptest.NewRecorder()
	d.ServeHTTP(w, set)
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != TokenCookie+"_9470" {
		t.Fatalf("cookies %+v, want one named %s_9470", cookies, TokenCookie)
	}
	for _, c := range []struct {
		host string
		want int
	}{{"127.0.0.1:9470", 200}, {"127.0.0.1:9471", 401}} {
		r := httptest.NewRequest("GET", "http://"+c.host+"/metrics", nil)
		r.AddCookie(cookies[0])
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		if w.Code != c.want && !(c.want == 200 && w.Code == 404) {
			t.Errorf("GET %s with the cookie of :9470: %d, want %d", c.host, w.Code, c.want)
		}
	}
}
