package scavenger

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readLog reads a whole log (not followed) and closes it.
func readLog(t *testing.T, n *node, req LogRequest) string {
	t.Helper()
	l, err := n.e.Logs(t.Context(), req)
	if err != nil {
		t.Fatalf("Logs(%+v): %v", req, err)
	}
	defer l.Close()
	b, err := io.ReadAll(l)
	if err != nil {
		t.Fatalf("reading log %+v: %v", req, err)
	}
	return string(b)
}

// logReader reads a followed log in the background, so a test can look at
// what arrived so far while the task still runs.
type logReader struct {
	mu   sync.Mutex
	got  strings.Builder
	err  error // how reading ended
	done chan struct{}
}

func followLog(t *testing.T, ctx context.Context, n *node, req LogRequest) *logReader {
	t.Helper()
	req.Follow = true
	l, err := n.e.Logs(ctx, req)
	if err != nil {
		t.Fatalf("Logs(%+v): %v", req, err)
	}
	r := &logReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer l.Close()
		buf := make([]byte, 7) // small: chunks must not matter
		for {
			n, err := l.Read(buf)
			r.mu.Lock()
			r.got.Write(buf[:n])
			if err != nil {
				r.err = err
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Errorf("log reader of %+v still reading at the end of the test", req)
		}
	})
	return r
}

func (r *logReader) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got.String()
}

// end waits for the reader to stop and returns what it read and why it
// stopped.
func (r *logReader) end(t *testing.T) (string, error) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("log still open after 20s; read so far %q", r.text())
	}
	return r.got.String(), r.err
}

// ended reports whether the reader has stopped.
func (r *logReader) ended() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// gate is a file a task waits for, so a test decides when the task goes on.
type gate string

func newGate(t *testing.T) gate { return gate(filepath.Join(t.TempDir(), "gate")) }

// wait is a shell snippet that blocks until the gate opens.
func (g gate) wait() string { return `while [ ! -e ` + string(g) + ` ]; do sleep 0.02; done` }

func (g gate) open(t *testing.T) {
	if err := os.WriteFile(string(g), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLogsOfFinishedTask(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)
	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "echo one; echo oops >&2; echo two"}})
	watchJob(t, home, id).finished()
	silent := submit(t, home, SubmitRequest{Argv: []string{"true"}})
	watchJob(t, home, silent).finished()

	tests := []struct {
		req  LogRequest
		want string
	}{
		{LogRequest{JobID: id, TaskID: "0"}, "one\ntwo\n"},
		{LogRequest{JobID: id, TaskID: "0", Stream: StreamStdout}, "one\ntwo\n"},
		{LogRequest{JobID: id, TaskID: "0", Stream: StreamStderr}, "oops\n"},
		{LogRequest{JobID: id, TaskID: "0", Offset: 4}, "two\n"},
		{LogRequest{JobID: id, TaskID: "0", Offset: 100}, ""},
		// Following a final task reads what is there and ends.
		{LogRequest{JobID: id, TaskID: "0", Follow: true}, "one\ntwo\n"},
		{LogRequest{JobID: silent, TaskID: "0", Stream: StreamStderr}, ""},
		{LogRequest{JobID: silent, TaskID: "0", Follow: true}, ""},
	}
	for _, tt := range tests {
		if got := readLog(t, home, tt.req); got != tt.want {
			t.Errorf("Logs(%+v) = %q, want %q", tt.req, got, tt.want)
		}
	}
}

func TestLogsRefusesBadRequests(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)
	id := submit(t, home, SubmitRequest{Tasks: []TaskRequest{{Argv: []string{"true"}}, {Argv: []string{"true"}}, {Argv: []string{"true"}}}})
	watchJob(t, home, id).finished()

	tests := []struct {
		req      LogRequest
		notFound bool
		want     string
	}{
		{LogRequest{JobID: "nosuchjob", TaskID: "0"}, true, "no such job"},
		{LogRequest{JobID: id, TaskID: "7"}, true, `job ` + id + ` has no task "7": its tasks are 0 to 2`},
		{LogRequest{JobID: id, TaskID: ""}, true, `has no task ""`},
		{LogRequest{JobID: id, TaskID: "../0"}, true, `has no task "../0"`},
		{LogRequest{JobID: id, TaskID: "0", Stream: "stdin"}, false, `log stream "stdin": want stdout or stderr`},
		{LogRequest{JobID: id, TaskID: "0", Offset: -1}, false, "negative"},
	}
	for _, tt := range tests {
		l, err := home.e.Logs(t.Context(), tt.req)
		if err == nil {
			l.Close()
			t.Errorf("Logs(%+v) succeeded, want an error", tt.req)
			continue
		}
		if errors.Is(err, ErrNotFound) != tt.notFound || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Logs(%+v) = %v (ErrNotFound: %v), want %q (ErrNotFound: %v)", tt.req, err, errors.Is(err, ErrNotFound), tt.want, tt.notFound)
		}
	}
}

// TestLogsFollow follows a task from before it starts (no log file yet)
// through its output to its end, which ends the log.
func TestLogsFollow(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)
	g := newGate(t)
	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "echo first; " + g.wait() + "; echo second; exit 4"}})
	r := followLog(t, t.Context(), home, LogRequest{JobID: id, TaskID: "0"})
	rErr := followLog(t, t.Context(), home, LogRequest{JobID: id, TaskID: "0", Stream: StreamStderr})

	waitFor(t, "the first line", func() bool { return r.text() == "first\n" })
	if r.ended() || rErr.ended() {
		t.Fatalf("a log ended while its task runs")
	}
	g.open(t)
	got, err := r.end(t)
	if got != "first\nsecond\n" || err != io.EOF {
		t.Errorf("followed stdout = %q, %v; want %q, EOF", got, err, "first\nsecond\n")
	}
	if got, err := rErr.end(t); got != "" || err != io.EOF {
		t.Errorf("followed stderr = %q, %v; want nothing, EOF", got, err)
	}
	if j, _ := home.e.Job(id); !j.Tasks[0].State.Final() {
		t.Errorf("the log ended with its task %s", j.Tasks[0].State)
	}
}

// TestLogsFollowEndsWithItsTask: following one task of a job ends when that
// task does, while the job's other tasks go on.
func TestLogsFollowEndsWithItsTask(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)
	g := newGate(t)
	id := submit(t, home, SubmitRequest{Tasks: []TaskRequest{
		{Argv: []string{"sh", "-c", g.wait() + "; echo zero"}},
		{Argv: []string{"sh", "-c", "sleep 60"}},
	}})
	r := followLog(t, t.Context(), home, LogRequest{JobID: id, TaskID: "0"})
	g.open(t)
	if got, err := r.end(t); got != "zero\n" || err != io.EOF {
		t.Errorf("task 0's log = %q, %v; want %q, EOF", got, err, "zero\n")
	}
	if j, _ := home.e.Job(id); j.State.Final() {
		t.Errorf("job is %s, want it still running", j.State)
	}
	if err := home.e.Cancel(id, "test over"); err != nil {
		t.Fatal(err)
	}
}

// TestLogsFollowBeyondLiveView: output past the live view's limit publishes
// no events, and a followed log still shows it while the task runs.
func TestLogsFollowBeyondLiveView(t *testing.T) {
	home := startNode(t, "home", Options{})
	home.e.home.hub.mu.Lock()
	home.e.home.hub.maxLive = 8
	home.e.home.hub.mu.Unlock()
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)
	g := newGate(t)
	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "echo 0123456789; sleep 0.2; echo abcdefghij; " + g.wait()}})
	r := followLog(t, t.Context(), home, LogRequest{JobID: id, TaskID: "0"})
	waitFor(t, "output beyond the live view", func() bool { return r.text() == "0123456789\nabcdefghij\n" })
	g.open(t)
	if got, err := r.end(t); got != "0123456789\nabcdefghij\n" || err != io.EOF {
		t.Errorf("log = %q, %v", got, err)
	}
}

func TestLogsFollowStops(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)
	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "echo up; sleep 60"}})

	ctx, cancel := context.WithCancel(t.Context())
	byCtx := followLog(t, ctx, home, LogRequest{JobID: id, TaskID: "0"})
	byDaemon := followLog(t, t.Context(), home, LogRequest{JobID: id, TaskID: "0"})
	waitFor(t, "output", func() bool { return byCtx.text() == "up\n" && byDaemon.text() == "up\n" })
	cancel()
	if got, err := byCtx.end(t); got != "up\n" || !errors.Is(err, context.Canceled) {
		t.Errorf("log after its context ended: %q, %v; want %q, context.Canceled", got, err, "up\n")
	}
	// A stopping daemon ends the log with an error: the task goes on (the
	// next daemon re-runs it), so this is not the log's end.
	home.stop()
	if got, err := byDaemon.end(t); got != "up\n" || !errors.Is(err, errLogStopped) {
		t.Errorf("log after the daemon stopped: %q, %v; want %q, %v", got, err, "up\n", errLogStopped)
	}
}
