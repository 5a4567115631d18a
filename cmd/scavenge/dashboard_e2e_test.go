package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

// TestDashboardInBrowser opens the dashboard of a real daemon in a real
// browser (headless Chromium, as Debian packages it) and checks that the
// page shows what the API says: the daemon has a peer, a guest from that
// peer, and a job of four tasks half done. The page is reached the way a
// user does: the URL `scavenge dashboard` prints, whose token the daemon
// moves into a cookie that authorises the page's API calls. A screenshot
// is saved in the test's artifact directory (go test -artifacts keeps it).
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real daemons and a browser")
	}
	chromium := findChromium(t)

	root := t.TempDir()
	homeA, homeB := filepath.Join(root, "dash"), filepath.Join(root, "helper")
	initHome(t, "--home", homeA, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--name", "dash")
	editConfig(t, homeA, map[string]string{"labels": `["dash"]`})
	port := freePort(t)
	setDashboardListen(t, homeA, "127.0.0.1:"+port)
	startDaemon(t, "dash", homeA)
	boot := strings.Fields(must(t, "id", "--home", homeA).stdout)[0]
	initHome(t, "--home", homeB, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--name", "helper",
		"--swarm-key", filepath.Join(homeA, "swarm.key"), "--bootstrap", boot)
	startDaemon(t, "helper", homeB)
	idB := statusOf(t, homeB).Daemon.ID
	waitFor(t, 30*time.Second, "dash to see helper", func() (bool, string) {
		for _, p := range peersOf(t, homeA) {
			if p.Peer == idB {
				return true, ""
			}
		}
		return false, "not yet"
	})

	// A guest on dash from helper, and dash's own job: four tasks, two
	// that end at once, two that run until the test is over.
	guestJob := strings.TrimSpace(must(t, "submit", "--home", homeB, "--detach", "--label", "dash", "--name", "helper-sleeper", "--", "sleep", "300").stdout)
	job := strings.TrimSpace(must(t, "submit", "--home", homeA, "--detach", "--allow-local", "--count", "4", "--name", "half-done",
		"--", "sh", "-c", "if [ {index} -ge 2 ]; then exec sleep 300; fi; echo quick {index}").stdout)
	t.Cleanup(func() {
		scavenge(t, nil, "cancel", "--home", homeA, job)
		scavenge(t, nil, "cancel", "--home", homeB, guestJob)
	})
	waitFor(t, 60*time.Second, "two tasks done, two running, a guest from helper on dash", func() (bool, string) {
		st := statusOf(t, homeA)
		j, ok := findJob(st.Jobs, job)
		if !ok {
			return false, "job not listed"
		}
		done, running := 0, 0
		for _, task := range j.Tasks {
			switch task.State {
			case scavenger.StateDone:
				done++
			case scavenger.StateRunning:
				running++
			}
		}
		fromB := 0
		for _, g := range st.Daemon.Guests {
			if g.HomePeer == idB {
				fromB++
			}
		}
		// The policy says donating once a sample has seen the guests:
		// until then the page and the API could catch different states.
		state := st.Daemon.Presence.Detail
		return done == 2 && running == 2 && fromB == 1 && state == "donating",
			fmt.Sprintf("%d done, %d running, %d guests from helper, %s", done, running, fromB, state)
	})

	url := strings.TrimSpace(must(t, "dashboard", "--home", homeA).stdout)
	tokenBytes, err := os.ReadFile(localapi.TokenPath(homeA))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenBytes))
	base := "http://127.0.0.1:" + port
	if want := base + "/?token=" + token; url != want {
		t.Fatalf("scavenge dashboard printed %q, want %q", url, want)
	}
	api := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, b)
		}
		switch v := v.(type) {
		case *string:
			*v = string(b)
		default:
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("GET %s: %v\n%s", path, err, b)
			}
		}
	}

	profile := t.TempDir() // a fresh browser: no cookie but the one the token URL sets
	dom := runChromium(t, chromium, "--user-data-dir="+profile, "--virtual-time-budget=10000", "--dump-dom", url)

	// What the API says now; the state is steady (sleepers, finished tasks).
	var st scavenger.Status
	var jobs []scavenger.Job
	var peers []scavenger.PeerInfo
	var stats scavenger.Stats
	var metrics string
	api("/localapi/v0/status", &st)
	api("/localapi/v0/jobs", &jobs)
	api("/localapi/v0/peers", &peers)
	api("/localapi/v0/stats", &stats)
	api("/metrics", &metrics)

	if !regexp.MustCompile(`<body[^>]*\sdata-loaded="1"`).MatchString(dom) {
		t.Fatalf("the page did not load its data (no data-loaded=\"1\" on body):\n%s", dom)
	}
	if m := regexp.MustCompile(`<div id="error"[^>]*>([^<]*)<`).FindStringSubmatch(dom); m == nil || !strings.Contains(m[0], "hidden") {
		t.Errorf("the page shows an error: %v", m)
	}
	wantState := st.Presence.Detail
	if wantState == "" {
		wantState = string(st.Presence.State)
	}
	checks := []struct {
		what, got, want string
	}{
		{"name", textOf(t, dom, "name"), "dash"},
		{"state", attrOf(t, dom, `id="state"`, "data-state"), wantState},
		{"jobs", textOf(t, dom, "jobs-count"), strconv.Itoa(len(jobs))},
		{"peers", textOf(t, dom, "peers-count"), strconv.Itoa(len(peers))},
		{"guests", textOf(t, dom, "guests-count"), strconv.Itoa(len(st.Guests))},
		{"tasks run here", textOf(t, dom, "tasks-run"), strconv.FormatUint(stats.TasksRun, 10)},
		{"tasks preempted here", textOf(t, dom, "tasks-preempted"), strconv.FormatUint(stats.TasksPreempted, 10)},
		{"CPU hours donated", textOf(t, dom, "cpu-donated"), fmt.Sprintf("%.2f", stats.CPUDonatedSeconds/3600)},
		{"CPU hours received", textOf(t, dom, "cpu-received"), fmt.Sprintf("%.2f", stats.CPUReceivedSeconds/3600)},
	}
	for _, j := range jobs {
		done := 0
		for _, task := range j.Tasks {
			if task.State == scavenger.StateDone {
				done++
			}
		}
		sel := `data-job="` + j.ID + `"`
		checks = append(checks,
			struct{ what, got, want string }{"job " + j.ID + " done", attrOf(t, dom, sel, "data-done"), strconv.Itoa(done)},
			struct{ what, got, want string }{"job " + j.ID + " tasks", attrOf(t, dom, sel, "data-all"), strconv.Itoa(len(j.Tasks))})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("page's %s: %q, API says %q", c.what, c.got, c.want)
		}
	}
	// The scenario itself, so the checks above compare something.
	fromB := false
	for _, g := range st.Guests {
		fromB = fromB || (g.HomePeer == idB && g.JobID == guestJob)
	}
	if len(jobs) != 1 || len(peers) != 1 || !fromB {
		t.Errorf("API: %d jobs, %d peers, guests %+v; want 1, 1 and helper's %s among them", len(jobs), len(peers), st.Guests, guestJob)
	}
	if got := attrOf(t, dom, `data-job="`+job+`"`, "data-done") + "/" + attrOf(t, dom, `data-job="`+job+`"`, "data-all"); got != "2/4" {
		t.Errorf("job %s's progress on the page: %s, want 2/4", job, got)
	}
	for _, c := range []struct {
		id   string
		want float64
	}{{"cpu-donated", stats.CPUDonatedSeconds}, {"cpu-received", stats.CPUReceivedSeconds}} {
		got, err := strconv.ParseFloat(attrOf(t, dom, `id="`+c.id+`"`, "data-seconds"), 64)
		// Finished tasks' seconds are final and sleepers use none; allow
		// a little for a sleeper's start.
		if err != nil || math.Abs(got-c.want) > 0.5 {
			t.Errorf("page's %s: %v seconds (%v), API says %v", c.id, got, err, c.want)
		}
	}
	// The guest's row names its job; the chart has the state's colour.
	if !regexp.MustCompile(`<tr><td>` + guestJob + `</td><td>0</td><td>helper</td><td>sleep 300</td>`).MatchString(dom) {
		t.Errorf("the guests table lacks helper's job %s from helper:\n%s", guestJob, dom)
	}
	if !strings.Contains(dom, `<rect `) || !strings.Contains(dom, `data-state="`+stats.State+`"`) {
		t.Errorf("the chart has no bar for the state %q", stats.State)
	}
	// Prometheus says the same.
	for _, line := range []string{
		fmt.Sprintf("scavenge_guests %d", len(st.Guests)),
		fmt.Sprintf("scavenge_presence_state{state=%q} 1", stats.State),
		fmt.Sprintf("scavenge_peers %d", stats.Peers),
	} {
		if !strings.Contains(metrics, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, metrics)
		}
	}

	// Without the token the browser gets no page, only the refusal.
	refused := runChromium(t, chromium, "--user-data-dir="+t.TempDir(), "--virtual-time-budget=3000", "--dump-dom", base+"/")
	if strings.Contains(refused, "data-loaded") || !strings.Contains(refused, "a token is needed") {
		t.Errorf("the page without a token: %s", refused)
	}

	shot := filepath.Join(t.ArtifactDir(), "dashboard.png")
	runChromium(t, chromium, "--user-data-dir="+profile, "--virtual-time-budget=10000",
		"--window-size=1200,900", "--hide-scrollbars", "--screenshot="+shot, base+"/")
	img, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width != 1200 || cfg.Height != 900 {
		t.Errorf("screenshot %s: %dx%d, %v; want a 1200x900 PNG", shot, cfg.Width, cfg.Height, err)
	}
	t.Logf("screenshot of the dashboard: %s (%d bytes, %dx%d; kept with go test -artifacts -outputdir DIR)", shot, len(img), cfg.Width, cfg.Height)
}

// findChromium is Debian's chromium; CI installs it, elsewhere the test
// says how to.
func findChromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium not found (apt-get install chromium): %v", err)
		}
		t.Skipf("needs chromium: apt-get install chromium (%v)", err)
	}
	return p
}

// runChromium runs headless Chromium with args and returns its stdout.
func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check"}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	// Its own HOME, so nothing of the user's (or a previous run's) is used
	// and nothing is left behind.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// textOf is the text of the element with id in dom.
func textOf(t *testing.T, dom, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		t.Errorf("no element id=%q in the page", id)
		return ""
	}
	return m[1]
}

// attrOf is attribute attr of the first tag containing sel.
func attrOf(t *testing.T, dom, sel, attr string) string {
	t.Helper()
	tag := regexp.MustCompile(`<[a-z]+ [^>]*` + regexp.QuoteMeta(sel) + `[^>]*>`).FindString(dom)
	if tag == "" {
		t.Errorf("no tag with %s in the page", sel)
		return ""
	}
	m := regexp.MustCompile(`\s` + regexp.QuoteMeta(attr) + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		t.Errorf("tag %s has no %s", tag, attr)
		return ""
	}
	return m[1]
}

// freePort is a loopback TCP port nothing listens on just now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// setDashboardListen sets [dashboard] listen in a home's config (the
// template writes listen = "" there; [node]'s listen is a list).
func setDashboardListen(t *testing.T, home, addr string) {
	t.Helper()
	path := filepath.Join(home, "scavenge.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const off = "\nlisten = \"\"\n"
	if bytes.Count(b, []byte(off)) != 1 {
		t.Fatalf("%s: want one line %q (the [dashboard] listen)", path, strings.TrimSpace(off))
	}
	b = bytes.Replace(b, []byte(off), []byte("\nlisten = \""+addr+"\"\n"), 1)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, "config", "check", "--home", home)
}
