package localapi

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
}

// startServe runs Serve in the background and returns its result channel.
func startServe(t *testing.T, ctx context.Context, path string, h http.Handler) <-chan error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- ListenAndServe(ctx, path, h, testLogger(t)) }()
	waitFor(t, "the socket", func() bool {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return errc
}

func TestServeSocketLifecycle(t *testing.T) {
	dir := t.TempDir()
	path := SocketPath(dir)
	// A socket left by a daemon that died: a file nobody listens on.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}

	f := newFake()
	f.events["waiting"] = []scavenger.Event{{Type: scavenger.EventWaiting, JobID: "waiting"}}
	ctx, cancel := context.WithCancel(context.Background())
	errc := startServe(t, ctx, path, New(f, testLogger(t)))

	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("socket mode: got %o, want 600", got)
	}
	hc := unixClient(path)
	resp, err := hc.Get("http://x/localapi/v0/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status: got %d, want 200", resp.StatusCode)
	}

	// A second daemon on the same home must not steal the live socket.
	err = ListenAndServe(context.Background(), path, New(f, testLogger(t)), testLogger(t))
	if !errors.Is(err, ErrDaemonRunning) {
		t.Errorf("second ListenAndServe: got %v, want ErrDaemonRunning", err)
	}

	// An event stream of a job that never finishes must not hold up the stop.
	stream, err := hc.Get("http://x/localapi/v0/jobs/waiting/events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve: got %v, want nil", err)
		}
	case <-time.After(shutdownGrace + 5*time.Second):
		t.Fatal("Serve did not return after ctx was cancelled")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after stop: got %v, want it removed", err)
	}
}

func TestServeRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), SocketName)
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := ListenAndServe(context.Background(), path, New(newFake(), nil), testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("got %v, want an error saying it is not a socket", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Errorf("the file was changed: %q", b)
	}
}

// TestClientWaitsForServe checks what the daemon relies on: a client that
// connects after Listen but before Serve (the daemon is still starting) is
// answered once Serve runs, instead of being told no daemon is there.
func TestClientWaitsForServe(t *testing.T) {
	path := SocketPath(t.TempDir())
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		resp, err := unixClient(path).Get("http://x/localapi/v0/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = errors.New(resp.Status)
			}
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the request finished before Serve: %v", err)
	case <-time.After(200 * time.Millisecond): // the request waits in the backlog
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, New(newFake(), nil), testLogger(t)) }()
	if err := <-got; err != nil {
		t.Errorf("request made during startup: %v", err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestServeStopsWithSilentConnection: a connection that never sent a
// request (an HTTP client dials ahead of need and may keep the spare one)
// must not hold the daemon's stop up: net/http counts such a connection as
// busy for 5 s, beyond the shutdown grace.
func TestServeStopsWithSilentConnection(t *testing.T) {
	path := SocketPath(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := startServe(t, ctx, path, New(newFake(), testLogger(t)))
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A request proves the server took the connection in before the stop.
	if resp, err := unixClient(path).Get("http://x" + Prefix + "status"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Serve with a silent connection open: %v, want a clean stop", err)
	}
}
