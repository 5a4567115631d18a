package localapi

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scavenge/scavenge/scavenger"
)

// statsFake is the fake backend with counters, as the engine has.
type statsFake struct {
	*fakeBackend
	st scavenger.Stats
}

func (s *statsFake) Stats() scavenger.Stats { return s.st }

// sampleStats is a snapshot with every counter set to a different value,
// so a series reading the wrong field shows.
func sampleStats() scavenger.Stats {
	return scavenger.Stats{
		Time:               time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC),
		State:              "donating",
		Guests:             3,
		Peers:              5,
		TasksRun:           11,
		TasksPreempted:     4,
		TasksMigrated:      2,
		Checkpoints:        scavenger.Checkpoints{Sent: 9, Failed: 1, Resumed: 6, ResumeFailed: 8},
		CPUDonatedSeconds:  7200.5,
		CPUReceivedSeconds: 1800.25,
		Reaction: scavenger.Histogram{
			Bounds: []float64{0.01, 0.1, 1},
			Counts: []uint64{2, 5, 6}, // cumulative
			Count:  7,                 // one above the last bound
			Sum:    3.5,
		},
		History: []scavenger.PresenceChange{{Time: time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC), State: "donating", Donating: true}},
	}
}

// scrape GETs path from h and parses the Prometheus text it answers.
func scrape(t *testing.T, h http.Handler, path string, header http.Header) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("GET %s: Content-Type %q, want Prometheus text 0.0.4", path, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("GET %s: not Prometheus text: %v\n%s", path, err, body)
	}
	return fams, string(body)
}

// value is the value of the series of fam with labels (name=value pairs).
func value(t *testing.T, fams map[string]*dto.MetricFamily, fam string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[fam]
	if !ok {
		t.Fatalf("no family %s", fam)
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels)/2 {
			continue
		}
		for i, lp := range m.GetLabel() {
			if lp.GetName() != labels[2*i] || lp.GetValue() != labels[2*i+1] {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		}
		t.Fatalf("%s is a %s", fam, f.GetType())
	}
	t.Fatalf("%s has no series %v", fam, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	b := &statsFake{fakeBackend: newFake(), st: sampleStats()}
	// The handler alone, the socket's route and the dashboard's /metrics
	// must all serve the same text.
	bearer := http.Header{"Authorization": {"Bearer " + testToken}}
	sources := []struct {
		name, path string
		h          http.Handler
		header     http.Header
	}{
		{"NewMetricsHandler", "/", NewMetricsHandler(b), nil},
		{"socket route", "/localapi/v0/metrics", New(b, testLogger(t)), nil},
		{"dashboard", "/metrics", NewDashboard(New(b, testLogger(t)), testToken), bearer},
		{"dashboard api route", "/localapi/v0/metrics", NewDashboard(New(b, testLogger(t)), testToken), bearer},
	}
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			fams, text := scrape(t, src.h, src.path, src.header)

			var names []string
			for n := range fams {
				names = append(names, n)
			}
			slices.Sort(names)
			want := []string{"scavenge_checkpoints_total", "scavenge_cpu_seconds_total", "scavenge_guests", "scavenge_peers",
				"scavenge_presence_state", "scavenge_reaction_seconds", "scavenge_tasks_total"}
			// Our own registry: no Go runtime or libp2p series.
			if !slices.Equal(names, want) {
				t.Errorf("families %v, want exactly %v", names, want)
			}

			for _, st := range presenceStates {
				want := 0.0
				if st == "donating" {
					want = 1
				}
				if got := value(t, fams, "scavenge_presence_state", "state", string(st)); got != want {
					t.Errorf("scavenge_presence_state{state=%q} = %v, want %v", st, got, want)
				}
			}
			if n := len(fams["scavenge_presence_state"].GetMetric()); n != len(presenceStates) {
				t.Errorf("%d presence series, want %d", n, len(presenceStates))
			}
			checks := []struct {
				fam    string
				labels []string
				want   float64
			}{
				{"scavenge_guests", nil, 3},
				{"scavenge_peers", nil, 5},
				{"scavenge_tasks_total", []string{"event", "run"}, 11},
				{"scavenge_tasks_total", []string{"event", "preempted"}, 4},
				{"scavenge_tasks_total", []string{"event", "migrated"}, 2},
				{"scavenge_checkpoints_total", []string{"result", "sent"}, 9},
				{"scavenge_checkpoints_total", []string{"result", "failed"}, 1},
				{"scavenge_checkpoints_total", []string{"result", "resumed"}, 6},
				{"scavenge_checkpoints_total", []string{"result", "resume_failed"}, 8},
				{"scavenge_cpu_seconds_total", []string{"direction", "donated"}, 7200.5},
				{"scavenge_cpu_seconds_total", []string{"direction", "received"}, 1800.25},
			}
			for _, c := range checks {
				if got := value(t, fams, c.fam, c.labels...); got != c.want {
					t.Errorf("%s%v = %v, want %v", c.fam, c.labels, got, c.want)
				}
			}
			if typ := fams["scavenge_tasks_total"].GetType(); typ != dto.MetricType_COUNTER {
				t.Errorf("scavenge_tasks_total is a %s, want a counter", typ)
			}
			if typ := fams["scavenge_guests"].GetType(); typ != dto.MetricType_GAUGE {
				t.Errorf("scavenge_guests is a %s, want a gauge", typ)
			}

			h := fams["scavenge_reaction_seconds"]
			if h.GetType() != dto.MetricType_HISTOGRAM || len(h.GetMetric()) != 1 {
				t.Fatalf("scavenge_reaction_seconds: %s with %d series, want one histogram", h.GetType(), len(h.GetMetric()))
			}
			hist := h.GetMetric()[0].GetHistogram()
			if hist.GetSampleCount() != 7 || hist.GetSampleSum() != 3.5 {
				t.Errorf("reaction count %d sum %v, want 7 and 3.5", hist.GetSampleCount(), hist.GetSampleSum())
			}
			var got [][2]float64
			for _, bk := range hist.GetBucket() {
				got = append(got, [2]float64{bk.GetUpperBound(), float64(bk.GetCumulativeCount())})
			}
			wantBuckets := [][2]float64{{0.01, 2}, {0.1, 5}, {1, 6}}
			if len(got) == 4 && math.IsInf(got[3][0], 1) { // the parser may keep +Inf as a bucket
				wantBuckets = append(wantBuckets, [2]float64{math.Inf(1), 7})
			}
			if !slices.Equal(got, wantBuckets) {
				t.Errorf("reaction buckets %v, want %v", got, wantBuckets)
			}
			// The text itself, as a scraper reads it.
			for _, line := range []string{
				`scavenge_presence_state{state="donating"} 1`,
				`scavenge_presence_state{state="owner"} 0`,
				`scavenge_guests 3`,
				`scavenge_tasks_total{event="preempted"} 4`,
				`scavenge_cpu_seconds_total{direction="donated"} 7200.5`,
				`scavenge_reaction_seconds_bucket{le="0.1"} 5`,
				`scavenge_reaction_seconds_bucket{le="+Inf"} 7`,
				`scavenge_reaction_seconds_sum 3.5`,
				`scavenge_reaction_seconds_count 7`,
				`# TYPE scavenge_reaction_seconds histogram`,
			} {
				if !strings.Contains(text, "\n"+line+"\n") {
					t.Errorf("no line %q in:\n%s", line, text)
				}
			}
		})
	}
}

// TestMetricsFollowStats checks that every scrape reads the counters anew
// (the handler is built once per Handler and must not cache values).
func TestMetricsFollowStats(t *testing.T) {
	b := &statsFake{fakeBackend: newFake(), st: sampleStats()}
	h := New(b, testLogger(t))
	fams, _ := scrape(t, h, "/localapi/v0/metrics", nil)
	if got := value(t, fams, "scavenge_guests"); got != 3 {
		t.Fatalf("guests %v, want 3", got)
	}
	b.st.Guests, b.st.State, b.st.TasksRun = 0, "owner", 12
	fams, _ = scrape(t, h, "/localapi/v0/metrics", nil)
	if got := value(t, fams, "scavenge_guests"); got != 0 {
		t.Errorf("guests after the change %v, want 0", got)
	}
	if got := value(t, fams, "scavenge_tasks_total", "event", "run"); got != 12 {
		t.Errorf("tasks run after the change %v, want 12", got)
	}
	if got := value(t, fams, "scavenge_presence_state", "state", "owner"); got != 1 {
		t.Errorf("state owner after the change %v, want 1", got)
	}
	if got := value(t, fams, "scavenge_presence_state", "state", "donating"); got != 0 {
		t.Errorf("state donating after the change %v, want 0", got)
	}
}

// TestStatsRoute checks the JSON the dashboard draws its totals from.
func TestStatsRoute(t *testing.T) {
	b := &statsFake{fakeBackend: newFake(), st: sampleStats()}
	code, body := do(t, New(b, testLogger(t)), "GET", "/localapi/v0/stats", "")
	if code != 200 {
		t.Fatalf("GET stats: %d %s", code, body)
	}
	var got scavenger.Stats
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("stats is not JSON Stats: %v\n%s", err, body)
	}
	want := sampleStats()
	if got.State != want.State || got.Guests != want.Guests || got.TasksRun != want.TasksRun ||
		got.CPUDonatedSeconds != want.CPUDonatedSeconds || len(got.History) != 1 || !got.Time.Equal(want.Time) {
		t.Errorf("stats: got %+v, want %+v", got, want)
	}
	for _, key := range []string{`"cpu_donated_seconds": 7200.5`, `"tasks_preempted": 4`, `"history": [`} {
		if !strings.Contains(body, key) {
			t.Errorf("stats JSON lacks %s:\n%s", key, body)
		}
	}
}

// TestNoCounters: a backend without Stats serves the rest of the API and a
// clear 404 for the counters.
func TestNoCounters(t *testing.T) {
	h := New(newFake(), testLogger(t))
	for _, path := range []string{"/localapi/v0/metrics", "/localapi/v0/stats"} {
		code, body := do(t, h, "GET", path, "")
		if code != 404 || !strings.Contains(body, "keeps no counters") {
			t.Errorf("GET %s: %d %s, want 404 saying there are no counters", path, code, body)
		}
	}
	if code, _ := do(t, h, "GET", "/localapi/v0/status", ""); code != 200 {
		t.Errorf("GET status without counters: %d, want 200", code)
	}
}
