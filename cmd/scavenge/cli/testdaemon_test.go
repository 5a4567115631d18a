package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

// testDaemon is, as far as the CLI can tell, a running daemon: a real
// engine (alice, the home) with a real donor (bob, 4 slots) on loopback, in
// this process, serving the local API on its home's socket. The read
// commands run against it in-process, as runCLI does.
type testDaemon struct {
	t    *testing.T
	sw   *inprocSwarm
	home string
	vars map[string]string // SCAVENGE_HOME=home
	c    *client.Client
	eng  *scavenger.Engine
	log  *slog.Logger

	mu      sync.Mutex
	stopAPI func() // stops the local API (the engine runs on)
}

func startTestDaemon(t *testing.T) *testDaemon {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	sw, err := newInprocSwarm(ctx, "scavenge-clitest-", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sw.close(); err != nil {
			t.Errorf("closing the swarm: %v", err)
		}
	})
	alice, err := sw.add(ctx, inprocSpec{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := sw.add(ctx, inprocSpec{Name: "bob", Bootstrap: alice.node.Addrs(), Donate: true, Dedicated: true, Slots: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitIdle(ctx, alice, []*inprocPeer{bob}); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(sw.dir, "alice")
	d := &testDaemon{t: t, sw: sw, home: home, vars: map[string]string{"SCAVENGE_HOME": home},
		c: client.New(home), eng: alice.eng, log: log}
	d.startAPI()
	t.Cleanup(d.stopAPIServer) // before the swarm closes: cleanups run last first
	return d
}

// startAPI serves the local API on the home's socket until stopAPIServer.
func (d *testDaemon) startAPI() {
	d.t.Helper()
	ln, err := localapi.Listen(localapi.SocketPath(d.home))
	if err != nil {
		d.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- localapi.Serve(ctx, ln, localapi.New(d.eng, d.log), d.log) }()
	d.mu.Lock()
	d.stopAPI = func() {
		cancel()
		if err := <-done; err != nil {
			d.t.Errorf("local API: %v", err)
		}
	}
	d.mu.Unlock()
}

// stopAPIServer stops the local API, as a stopping daemon does; the engine
// and its jobs go on. It may be called twice.
func (d *testDaemon) stopAPIServer() {
	d.mu.Lock()
	stop := d.stopAPI
	d.stopAPI = nil
	d.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// submit submits a job through the client, its outputs in a temp dir.
func (d *testDaemon) submit(req scavenger.SubmitRequest) string {
	d.t.Helper()
	req.OutDir = d.t.TempDir()
	id, err := d.c.Submit(d.t.Context(), req)
	if err != nil {
		d.t.Fatalf("submit: %v", err)
	}
	return id
}

// job is the daemon's record of a job.
func (d *testDaemon) job(id string) scavenger.Job {
	d.t.Helper()
	j, err := d.c.Job(context.Background(), id)
	if err != nil {
		d.t.Fatalf("job %s: %v", id, err)
	}
	return j
}

// waitTasks waits until every task of a job is in state.
func (d *testDaemon) waitTasks(id string, state scavenger.JobState) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j := d.job(id)
		all := true
		for _, t := range j.Tasks {
			all = all && t.State == state
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("job %s: tasks not all %s after 30s: %+v", id, state, j.Tasks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gate is a file a task waits for, so a test decides when it goes on. It
// lives in the swarm's directory, which guests (run as nobody) can reach.
type gate string

func (d *testDaemon) newGate(name string) gate { return gate(filepath.Join(d.sw.dir, name)) }

// wait is a shell snippet that blocks until the gate opens.
func (g gate) wait() string { return `while [ ! -e ` + string(g) + ` ]; do sleep 0.02; done` }

func (g gate) open(t *testing.T) {
	if err := os.WriteFile(string(g), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bgRun is a command line running in the background.
type bgRun struct {
	args           []string
	stdout, stderr syncBuffer
	code           int
	done           chan struct{}
}

// startCLI runs a command line in the background under ctx (its end is a
// Ctrl-C).
func startCLI(t *testing.T, ctx context.Context, vars map[string]string, args ...string) *bgRun {
	r := &bgRun{args: args, done: make(chan struct{})}
	e := &env{stdout: &r.stdout, stderr: &r.stderr, getenv: func(k string) string { return vars[k] }}
	go func() {
		defer close(r.done)
		r.code = run(ctx, e, args)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("scavenge %s still running at the end of the test", strings.Join(args, " "))
		}
	})
	return r
}

// wait waits for the command's end and returns its exit code and output.
func (r *bgRun) wait(t *testing.T) (code int, stdout, stderr string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("scavenge %s did not end within 60s; stdout %q stderr %q", strings.Join(r.args, " "), r.stdout.String(), r.stderr.String())
	}
	t.Logf("scavenge %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout.String(), r.stderr.String())
	return r.code, r.stdout.String(), r.stderr.String()
}

func (r *bgRun) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// eventually polls cond for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
