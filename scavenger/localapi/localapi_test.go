package localapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/scavenger"
)

// fakeBackend is an in-memory Backend: jobs live in a map, and each job's
// events are a fixed list replayed by Watch.
type fakeBackend struct {
	mu        sync.Mutex
	jobs      map[string]scavenger.Job
	events    map[string][]scavenger.Event
	submitted []scavenger.SubmitRequest
	cancelled map[string]string
	paused    string
	submitErr error
	logs      map[string]string        // "job/task/stream" -> log (logs_test.go)
	live      map[string]io.ReadCloser // followed logs the test writes
	logReqs   []scavenger.LogRequest
}

func newFake() *fakeBackend {
	return &fakeBackend{jobs: map[string]scavenger.Job{}, events: map[string][]scavenger.Event{}, cancelled: map[string]string{}}
}

func (f *fakeBackend) Status() scavenger.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := scavenger.Status{ID: "12D3KooWfake", Name: "fake", CPUs: 2, Free: 2,
		Presence: scavenger.Presence{Donating: true, State: wire.StateIdle, Reason: "dedicated"}}
	if f.paused != "" {
		s.Paused = true
		s.Presence = scavenger.Presence{State: wire.StatePaused, Reason: f.paused}
	}
	return s
}

func (f *fakeBackend) Peers() []scavenger.PeerInfo { return nil }

func (f *fakeBackend) Jobs() ([]scavenger.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []scavenger.Job
	for _, j := range f.jobs {
		out = append(out, j)
	}
	return out, nil
}

func (f *fakeBackend) Job(id string) (scavenger.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return j, fmt.Errorf("job %q: %w", id, scavenger.ErrNotFound)
	}
	return j, nil
}

func (f *fakeBackend) Submit(ctx context.Context, req scavenger.SubmitRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.submitErr != nil {
		return "", f.submitErr
	}
	id := fmt.Sprintf("job%d", len(f.submitted)+1)
	f.submitted = append(f.submitted, req)
	f.jobs[id] = scavenger.Job{ID: id, Request: req, State: scavenger.StateQueued}
	return id, nil
}

func (f *fakeBackend) Watch(ctx context.Context, id string) (<-chan scavenger.Event, error) {
	f.mu.Lock()
	evs, ok := f.events[id]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("job %q: %w", id, scavenger.ErrNotFound)
	}
	ch := make(chan scavenger.Event)
	go func() {
		defer close(ch)
		for _, ev := range evs {
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done() // a job that has not finished keeps the stream open
	}()
	return ch, nil
}

func (f *fakeBackend) Cancel(id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return fmt.Errorf("job %q: %w", id, scavenger.ErrNotFound)
	}
	if j.State.Final() {
		return fmt.Errorf("job %s is already %s", id, j.State)
	}
	f.cancelled[id] = reason
	return nil
}

func (f *fakeBackend) Pause(reason string) { f.mu.Lock(); f.paused = reason; f.mu.Unlock() }
func (f *fakeBackend) Resume()             { f.mu.Lock(); f.paused = ""; f.mu.Unlock() }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func do(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func TestRoutes(t *testing.T) {
	f := newFake()
	f.jobs["done1"] = scavenger.Job{ID: "done1", State: scavenger.StateDone}
	h := New(f, testLogger(t))
	tests := []struct {
		name, method, path, body string
		wantCode                 int
		wantBody                 string // a substring of the reply
	}{
		{"status", "GET", "/localapi/v0/status", "", 200, `"id": "12D3KooWfake"`},
		{"peers is a list", "GET", "/localapi/v0/peers", "", 200, `[]`},
		{"job", "GET", "/localapi/v0/jobs/done1", "", 200, `"state": "done"`},
		{"unknown job", "GET", "/localapi/v0/jobs/nope", "", 404, `"error": "job \"nope\": no such job"`},
		{"unknown endpoint", "GET", "/localapi/v0/frobnicate", "", 404, `no such endpoint /localapi/v0/frobnicate`},
		{"other version", "GET", "/localapi/v9/status", "", 404, `"error"`},
		{"wrong method", "DELETE", "/localapi/v0/jobs", "", 405, `method not allowed (use GET or POST)`},
		{"get on a post route", "GET", "/localapi/v0/pause", "", 405, `"error"`},
		{"submit", "POST", "/localapi/v0/jobs", `{"argv":["true"],"requirements":{}}`, 200, `"id": "job1"`},
		{"submit unknown field", "POST", "/localapi/v0/jobs", `{"argv":["true"],"frob":1}`, 400, `unknown field \"frob\"`},
		{"submit trailing data", "POST", "/localapi/v0/jobs", `{"argv":["true"]} {}`, 400, `unexpected data after the JSON object`},
		{"submit empty body", "POST", "/localapi/v0/jobs", ``, 400, `request body is empty`},
		{"submit empty argv", "POST", "/localapi/v0/jobs", `{"argv":[]}`, 400, `argv is empty`},
		{"submit bad json", "POST", "/localapi/v0/jobs", `{"argv":`, 400, `decoding request body`},
		{"submit too big", "POST", "/localapi/v0/jobs", `{"argv":["` + strings.Repeat("x", MaxBodyBytes) + `"]}`, 413, `exceeds 1048576 bytes`},
		{"cancel unknown", "POST", "/localapi/v0/jobs/nope/cancel", ``, 404, `no such job`},
		{"cancel finished", "POST", "/localapi/v0/jobs/done1/cancel", `{"reason":"x"}`, 409, `already done`},
		{"pause", "POST", "/localapi/v0/pause", `{"reason":"lunch"}`, 200, `"reason": "lunch"`},
		{"resume", "POST", "/localapi/v0/resume", ``, 200, `"paused": false`},
		{"resume with a body", "POST", "/localapi/v0/resume", `{"x":1}`, 400, `unknown field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, h, tt.method, tt.path, tt.body)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("%s %s: got %d %s, want %d containing %s", tt.method, tt.path, code, body, tt.wantCode, tt.wantBody)
			}
			if code >= 400 {
				var e ErrorResponse
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
					t.Errorf("error reply %q is not {\"error\": ...}: %v", body, err)
				}
			}
		})
	}
}

func TestSubmitPassesRequest(t *testing.T) {
	f := newFake()
	h := New(f, testLogger(t))
	want := scavenger.SubmitRequest{
		Argv:         []string{"sh", "-c", "exit 3"},
		Env:          map[string]string{"A": "1"},
		Inputs:       []string{"/tmp/in.txt"},
		Outputs:      []string{"*.out"},
		OutDir:       "/tmp/out",
		Requirements: scavenger.Requirements{CPUs: 2, MemoryBytes: 1 << 30, OS: "linux", Arch: "amd64", Labels: []string{"gpu"}},
		WaitTimeout:  3 * time.Second,
		AllowLocal:   true,
	}
	b, _ := json.Marshal(want)
	if code, body := do(t, h, "POST", "/localapi/v0/jobs", string(b)); code != 200 {
		t.Fatalf("submit: got %d %s", code, body)
	}
	if len(f.submitted) != 1 || !reflect.DeepEqual(f.submitted[0], want) {
		t.Errorf("backend got %+v, want %+v", f.submitted, want)
	}
}

func TestCancelAndPauseReasons(t *testing.T) {
	f := newFake()
	f.jobs["j"] = scavenger.Job{ID: "j", State: scavenger.StateRunning}
	h := New(f, testLogger(t))
	tests := []struct {
		path, body string
		got        func() string
		want       string
	}{
		{"/localapi/v0/jobs/j/cancel", `{"reason":"ctrl-c"}`, func() string { return f.cancelled["j"] }, "ctrl-c"},
		{"/localapi/v0/jobs/j/cancel", ``, func() string { return f.cancelled["j"] }, "cancelled by the user"},
		{"/localapi/v0/pause", ``, func() string { return f.paused }, DefaultPauseReason},
		{"/localapi/v0/pause", `{"reason":"meeting"}`, func() string { return f.paused }, "meeting"},
	}
	for _, tt := range tests {
		if code, body := do(t, h, "POST", tt.path, tt.body); code != 200 {
			t.Fatalf("POST %s %s: got %d %s", tt.path, tt.body, code, body)
		}
		if got := tt.got(); got != tt.want {
			t.Errorf("POST %s %s: backend got reason %q, want %q", tt.path, tt.body, got, tt.want)
		}
	}
}

// TestEventsStream checks that events arrive as NDJSON, each one flushed
// before the next exists, and that the stream ends after EventFinished.
func TestEventsStream(t *testing.T) {
	f := newFake()
	code := 3
	want := []scavenger.Event{
		{Type: scavenger.EventSubmitted, JobID: "j"},
		{Type: scavenger.EventStarted, JobID: "j", Peer: "p", PeerName: "a"},
		{Type: scavenger.EventOutput, JobID: "j", Stream: "stdout", Data: []byte("hi\n")},
		{Type: scavenger.EventFinished, JobID: "j", Job: &scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: []scavenger.Task{{ID: "t", ExitCode: &code}}}},
	}
	f.events["j"] = want
	ch := make(chan scavenger.Event)
	srv := httptest.NewServer(New(&liveBackend{fakeBackend: f, ch: ch}, testLogger(t)))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/localapi/v0/jobs/j/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type: got %q, want application/x-ndjson", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	for i, ev := range want {
		ch <- ev // the next event exists only after the previous one was read
		if !sc.Scan() {
			t.Fatalf("event %d: stream ended: %v", i, sc.Err())
		}
		var got scavenger.Event
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("event %d: got %+v, want %+v", i, got, ev)
		}
	}
	close(ch)
	if sc.Scan() {
		t.Errorf("stream goes on after EventFinished: %q", sc.Text())
	}
}

// liveBackend hands out events as the test sends them.
type liveBackend struct {
	*fakeBackend
	ch chan scavenger.Event
}

func (l *liveBackend) Watch(ctx context.Context, id string) (<-chan scavenger.Event, error) {
	if id != "j" {
		return nil, scavenger.ErrNotFound
	}
	return l.ch, nil
}

func TestEventsUnknownJob(t *testing.T) {
	h := New(newFake(), testLogger(t))
	code, body := do(t, h, "GET", "/localapi/v0/jobs/nope/events", "")
	if code != 404 || !strings.Contains(body, "no such job") {
		t.Errorf("got %d %s, want 404 no such job", code, body)
	}
}

func TestJobErrorStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{fmt.Errorf("job x: %w", scavenger.ErrNotFound), 404},
		{errors.New("already finished"), 409},
	}
	for _, tt := range tests {
		var se *statusError
		if !errors.As(jobError(tt.err, 409), &se) || se.status != tt.want {
			t.Errorf("jobError(%v): got %v, want status %d", tt.err, se, tt.want)
		}
	}
}
