package localapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/scavenger"
)

// Logs serves the fake's logs: f.logs holds each "job/task/stream" log, and
// a followed log in f.live is handed out as it is (a pipe the test writes).
func (f *fakeBackend) Logs(ctx context.Context, req scavenger.LogRequest) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logReqs = append(f.logReqs, req)
	j, ok := f.jobs[req.JobID]
	if !ok {
		return nil, fmt.Errorf("job %q: %w", req.JobID, scavenger.ErrNotFound)
	}
	var ids []string
	for _, t := range j.Tasks {
		ids = append(ids, t.ID)
	}
	key := req.JobID + "/" + req.TaskID + "/" + req.Stream
	if l := f.live[key]; l != nil && req.Follow {
		return l, nil
	}
	text, ok := f.logs[key]
	if !ok {
		return nil, &scavenger.NoTaskError{Job: req.JobID, Task: req.TaskID, Tasks: ids}
	}
	return io.NopCloser(strings.NewReader(text[min(int(req.Offset), len(text)):])), nil
}

func logFake() *fakeBackend {
	f := newFake()
	f.jobs["j"] = scavenger.Job{ID: "j", State: scavenger.StateRunning, Tasks: []scavenger.Task{{ID: "0"}, {ID: "1"}}}
	f.logs = map[string]string{"j/0/stdout": "one\ntwo\n", "j/0/stderr": "oops\n", "j/1/stdout": ""}
	f.live = map[string]io.ReadCloser{}
	return f
}

func TestLogRoutes(t *testing.T) {
	f := logFake()
	h := New(f, testLogger(t))
	tests := []struct {
		name, path string
		wantCode   int
		wantBody   string // all of it for 200, a substring of the error otherwise
		wantReq    scavenger.LogRequest
	}{
		{"stdout by default", "/localapi/v0/jobs/j/tasks/0/log", 200, "one\ntwo\n", scavenger.LogRequest{JobID: "j", TaskID: "0", Stream: "stdout"}},
		{"stderr", "/localapi/v0/jobs/j/tasks/0/log?stream=stderr", 200, "oops\n", scavenger.LogRequest{JobID: "j", TaskID: "0", Stream: "stderr"}},
		{"offset", "/localapi/v0/jobs/j/tasks/0/log?offset=4", 200, "two\n", scavenger.LogRequest{JobID: "j", TaskID: "0", Stream: "stdout", Offset: 4}},
		{"follow", "/localapi/v0/jobs/j/tasks/0/log?follow=1&stream=stdout", 200, "one\ntwo\n", scavenger.LogRequest{JobID: "j", TaskID: "0", Stream: "stdout", Follow: true}},
		{"empty", "/localapi/v0/jobs/j/tasks/1/log", 200, "", scavenger.LogRequest{JobID: "j", TaskID: "1", Stream: "stdout"}},
		{"unknown job", "/localapi/v0/jobs/nope/tasks/0/log", 404, `job \"nope\": no such job`, scavenger.LogRequest{JobID: "nope", TaskID: "0", Stream: "stdout"}},
		{"unknown task", "/localapi/v0/jobs/j/tasks/7/log", 404, `job j has no task \"7\": its tasks are 0 to 1`, scavenger.LogRequest{JobID: "j", TaskID: "7", Stream: "stdout"}},
		{"bad stream", "/localapi/v0/jobs/j/tasks/0/log?stream=stdin", 400, `query stream=\"stdin\": want stdout or stderr`, scavenger.LogRequest{}},
		{"negative offset", "/localapi/v0/jobs/j/tasks/0/log?offset=-1", 400, `query offset=\"-1\"`, scavenger.LogRequest{}},
		{"bad offset", "/localapi/v0/jobs/j/tasks/0/log?offset=ten", 400, `query offset=\"ten\"`, scavenger.LogRequest{}},
		{"bad follow", "/localapi/v0/jobs/j/tasks/0/log?follow=maybe", 400, `query follow=\"maybe\"`, scavenger.LogRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.logReqs = nil
			code, body := do(t, h, "GET", tt.path, "")
			if code != tt.wantCode || (code == 200 && body != tt.wantBody) || (code != 200 && !strings.Contains(body, tt.wantBody)) {
				t.Errorf("GET %s: got %d %q, want %d %q", tt.path, code, body, tt.wantCode, tt.wantBody)
			}
			var got scavenger.LogRequest
			if len(f.logReqs) > 0 {
				got = f.logReqs[0]
			}
			if got != tt.wantReq {
				t.Errorf("GET %s: backend got %+v, want %+v", tt.path, got, tt.wantReq)
			}
		})
	}
	if code, body := do(t, h, "POST", "/localapi/v0/jobs/j/tasks/0/log", ""); code != 405 {
		t.Errorf("POST on the log: got %d %s, want 405", code, body)
	}
}

// TestLogFollowStreams: each piece of a followed log reaches the client
// before the next exists, and the response ends when the log does.
func TestLogFollowStreams(t *testing.T) {
	f := logFake()
	pr, pw := io.Pipe()
	f.live["j/0/stdout"] = pr
	srv := httptest.NewServer(New(f, testLogger(t)))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/localapi/v0/jobs/j/tasks/0/log?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("got %s %q, want 200 application/octet-stream", resp.Status, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	for _, line := range []string{"first\n", "second\n"} {
		go pw.Write([]byte(line))
		got, err := br.ReadString('\n')
		if got != line || err != nil {
			t.Fatalf("read %q, %v; want %q", got, err, line)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
		t.Errorf("after the log's end: %q, %v; want a clean end", rest, err)
	}
}

// TestLogBrokenOff: a log that cannot go on (the daemon stops while the
// task runs) cuts the connection, so the client cannot take it for the end.
func TestLogBrokenOff(t *testing.T) {
	f := logFake()
	pr, pw := io.Pipe()
	f.live["j/0/stdout"] = pr
	srv := httptest.NewServer(New(f, testLogger(t)))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/localapi/v0/jobs/j/tasks/0/log?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go func() {
		pw.Write([]byte("partial\n"))
		pw.CloseWithError(errors.New("the daemon is stopping"))
	}()
	got, err := io.ReadAll(resp.Body)
	if string(got) != "partial\n" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %q, %v; want %q, unexpected EOF", got, err, "partial\n")
	}
}
