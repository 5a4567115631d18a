package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

// backend is a small in-memory localapi.Backend.
type backend struct {
	mu       sync.Mutex
	paused   string
	reqs     []scavenger.SubmitRequest
	cancels  []string
	events   []scavenger.Event // what Watch replays for job "j1"
	endEarly bool              // Watch closes its channel before EventFinished
	logs     map[string]string // "job/task/stream" -> log (logs_test.go)
	live     io.ReadCloser     // what a followed log reads
}

func (b *backend) Status() scavenger.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := scavenger.Status{ID: "12D3KooWtest", Name: "t", Addrs: []string{"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWtest"},
		Presence: scavenger.Presence{Donating: true, State: wire.StateIdle, Reason: "dedicated"}}
	if b.paused != "" {
		s.Paused, s.Presence = true, scavenger.Presence{State: wire.StatePaused, Reason: b.paused}
	}
	return s
}

func (b *backend) Peers() []scavenger.PeerInfo {
	return []scavenger.PeerInfo{{Offer: wire.Offer{Peer: "12D3KooWother", Name: "a", State: wire.StateIdle, CPUs: 2, FreeCPUs: 2}, AgeMillis: 1000}}
}

func (b *backend) Jobs() ([]scavenger.Job, error) { return []scavenger.Job{{ID: "j1"}}, nil }

func (b *backend) Job(id string) (scavenger.Job, error) {
	if id != "j1" {
		return scavenger.Job{}, fmt.Errorf("job %q: %w", id, scavenger.ErrNotFound)
	}
	return scavenger.Job{ID: "j1", State: scavenger.StateDone}, nil
}

func (b *backend) Submit(ctx context.Context, req scavenger.SubmitRequest) (string, error) {
	if req.Requirements.CPUs > 64 {
		return "", errors.New("no peer can ever have 65 cpus")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, req)
	return "j1", nil
}

func (b *backend) Watch(ctx context.Context, id string) (<-chan scavenger.Event, error) {
	if id != "j1" {
		return nil, scavenger.ErrNotFound
	}
	ch := make(chan scavenger.Event, len(b.events))
	for _, ev := range b.events {
		if b.endEarly && ev.Type == scavenger.EventFinished {
			break
		}
		ch <- ev
	}
	close(ch)
	return ch, nil
}

func (b *backend) Cancel(id, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cancels = append(b.cancels, id+": "+reason)
	return nil
}

func (b *backend) Pause(reason string) { b.mu.Lock(); b.paused = reason; b.mu.Unlock() }
func (b *backend) Resume()             { b.mu.Lock(); b.paused = ""; b.mu.Unlock() }

// serve runs the real local API over b on a socket in a new home directory.
func serve(t *testing.T, b *backend) string {
	t.Helper()
	home := t.TempDir()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- localapi.ListenAndServe(ctx, localapi.SocketPath(home), localapi.New(b, log), log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	c := client.New(home)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Status(context.Background())
		if err == nil {
			return home
		}
		if time.Now().After(deadline) {
			t.Fatalf("local API did not come up: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNoDaemon(t *testing.T) {
	stale := t.TempDir()
	// A socket file with nobody behind it, as a crashed daemon leaves.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: localapi.SocketPath(stale), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if err := os.WriteFile(filepath.Join(stale, "scavenge.toml"), []byte("version = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, home, want string }{
		{"no home", "/tmp/b-does-not-exist", "no scavenge home at /tmp/b-does-not-exist: create it with `scavenge init --home /tmp/b-does-not-exist`, then start `scavenge daemon --home /tmp/b-does-not-exist`"},
		{"stale socket", stale, fmt.Sprintf("no daemon at %s: start it with `scavenge daemon --home %s`", stale, stale)},
		{"quoted", "/tmp/my home", "no scavenge home at /tmp/my home: create it with `scavenge init --home '/tmp/my home'`, then start `scavenge daemon --home '/tmp/my home'`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.New(tt.home).Status(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
			if !errors.Is(err, client.ErrNoDaemon) {
				t.Errorf("errors.Is(%v, ErrNoDaemon) = false", err)
			}
		})
	}
}

func TestCalls(t *testing.T) {
	b := &backend{}
	home := serve(t, b)
	c := client.New(home)
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.ID != "12D3KooWtest" || len(st.Addrs) != 1 {
		t.Errorf("Status: got %+v, %v", st, err)
	}
	peers, err := c.Peers(ctx)
	if err != nil || len(peers) != 1 || peers[0].Name != "a" || peers[0].Age() != time.Second {
		t.Errorf("Peers: got %+v, %v", peers, err)
	}
	req := scavenger.SubmitRequest{Argv: []string{"echo", "hi"}, Requirements: scavenger.Requirements{CPUs: 2}, WaitTimeout: time.Second}
	id, err := c.Submit(ctx, req)
	if err != nil || id != "j1" {
		t.Errorf("Submit: got %q, %v", id, err)
	}
	if len(b.reqs) != 1 || !reflect.DeepEqual(b.reqs[0], req) {
		t.Errorf("Submit: daemon got %+v, want %+v", b.reqs, req)
	}
	_, err = c.Submit(ctx, scavenger.SubmitRequest{Argv: []string{"x"}, Requirements: scavenger.Requirements{CPUs: 65}})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Message != "no peer can ever have 65 cpus" {
		t.Errorf("Submit refused: got %v, want a 400 APIError with the engine's words", err)
	}
	if _, err := c.Job(ctx, "nope"); !errors.Is(err, scavenger.ErrNotFound) {
		t.Errorf("Job(nope): got %v, want ErrNotFound", err)
	}
	if j, err := c.Job(ctx, "j1"); err != nil || j.State != scavenger.StateDone {
		t.Errorf("Job(j1): got %+v, %v", j, err)
	}
	if jobs, err := c.Jobs(ctx); err != nil || len(jobs) != 1 {
		t.Errorf("Jobs: got %+v, %v", jobs, err)
	}
	if err := c.Cancel(ctx, "j1", "ctrl-c"); err != nil || len(b.cancels) != 1 || b.cancels[0] != "j1: ctrl-c" {
		t.Errorf("Cancel: got %v, daemon saw %q", err, b.cancels)
	}
	if st, err := c.Pause(ctx, "lunch"); err != nil || !st.Paused || st.Presence.Reason != "lunch" {
		t.Errorf("Pause: got %+v, %v", st, err)
	}
	if st, err := c.Resume(ctx); err != nil || st.Paused {
		t.Errorf("Resume: got %+v, %v", st, err)
	}
}

func TestEvents(t *testing.T) {
	code := 3
	events := []scavenger.Event{
		{Type: scavenger.EventSubmitted, JobID: "j1"},
		{Type: scavenger.EventOutput, JobID: "j1", Stream: "stdout", Data: []byte("ran on a\n")},
		{Type: scavenger.EventFinished, JobID: "j1", Job: &scavenger.Job{ID: "j1", Tasks: []scavenger.Task{{ExitCode: &code}}}},
	}
	tests := []struct {
		name     string
		id       string
		endEarly bool
		want     []scavenger.EventType
		wantErr  string
	}{
		{"whole job", "j1", false, []scavenger.EventType{"submitted", "output", "finished"}, ""},
		{"daemon stops first", "j1", true, []scavenger.EventType{"submitted", "output"}, "ended before it finished"},
		{"unknown job", "nope", false, nil, "no such job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := serve(t, &backend{events: events, endEarly: tt.endEarly})
			var got []scavenger.EventType
			var gotErr error
			for ev, err := range client.New(home).Events(context.Background(), tt.id) {
				if err != nil {
					gotErr = err
					continue
				}
				if gotErr != nil {
					t.Errorf("event %v after error %v", ev.Type, gotErr)
				}
				got = append(got, ev.Type)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events: got %v, want %v", got, tt.want)
			}
			if tt.wantErr == "" && gotErr != nil || tt.wantErr != "" && (gotErr == nil || !strings.Contains(gotErr.Error(), tt.wantErr)) {
				t.Errorf("error: got %v, want %q", gotErr, tt.wantErr)
			}
		})
	}
}

// TestDialOverride reaches an API served on a plain listener through Dial.
func TestDialOverride(t *testing.T) {
	b := &backend{}
	home := serve(t, b)
	c := client.New("/nonexistent")
	c.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(home, localapi.SocketName))
	}
	if st, err := c.Status(context.Background()); err != nil || st.Name != "t" {
		t.Errorf("Status through Dial: got %+v, %v", st, err)
	}
}

// TestStartWait: a call made just before the daemon listens succeeds when
// StartWait covers the gap, and fails with ErrNoDaemon when it does not.
func TestStartWait(t *testing.T) {
	home := t.TempDir()
	c := client.New(home)
	c.StartWait = 100 * time.Millisecond
	if _, err := c.Status(context.Background()); !errors.Is(err, client.ErrNoDaemon) {
		t.Fatalf("no daemon, short wait: got %v, want ErrNoDaemon", err)
	}

	c = client.New(home)
	c.StartWait = 20 * time.Second
	got := make(chan error, 1)
	go func() {
		_, err := c.Status(context.Background())
		got <- err
	}()
	time.Sleep(200 * time.Millisecond) // the daemon starts a little later
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- localapi.ListenAndServe(ctx, localapi.SocketPath(home), localapi.New(&backend{}, log), log)
	}()
	if err := <-got; err != nil {
		t.Errorf("call waiting for the daemon: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
}
