package scavenger

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
)

// Test scaffolding for the donor: a donor engine on a testMesh, and a
// minimal home end of the claim and task protocols written against the
// protocol (not against the home side's code), so the donor is tested on
// the wire as any home would talk to it.

const (
	donorTestID = "donor-peer"
	homeTestID  = "home-peer"
)

// donorFixture is a running donor and a linked home mesh to talk to it.
type donorFixture struct {
	t      *testing.T
	e      *Engine
	d      *donor
	mesh   *testMesh // the donor's
	home   *testMesh
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// donorTestLogger logs to the test, so a failing test shows its story.
func donorTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newDonorFixture starts a donor with opts (WorkDir defaults to a test dir,
// CPUs to 2) under a dedicated machine's policy (grace 2 s, kill on return;
// mods change it) and runs it until cleanup. The presence loop does not
// run: tests set presence themselves, or pause through the policy machine.
func newDonorFixture(t *testing.T, opts DonorOptions, mods ...func(*Options)) *donorFixture {
	t.Helper()
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Join(t.TempDir(), "work")
	}
	if opts.CPUs == 0 {
		opts.CPUs = 2
	}
	f := &donorFixture{t: t, mesh: newTestMesh(donorTestID), home: newTestMesh(homeTestID), done: make(chan error, 1)}
	link(f.mesh, f.home)
	log := donorTestLogger(t)
	f.e = &Engine{
		opts: Options{Mesh: f.mesh, Executor: procExecutor{}, Logger: log, Name: "donor-box", HomeDir: t.TempDir(), Donor: opts,
			Policy: policy.Policy{Dedicated: true, OnReturn: policy.OnReturn{Action: policy.ActionKill, Grace: 2 * time.Second}}},
		log: log,
	}
	for _, mod := range mods {
		mod(&f.e.opts)
	}
	f.d = newDonor(f.e)
	f.e.donor = f.d
	f.e.presence = newPresence(f.e)
	if f.e.opts.Policy.Dedicated {
		f.e.presence.sample(context.Background()) // idle from the start
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- f.d.run(ctx) }()
	t.Cleanup(f.stop)
	return f
}

// withGrace sets the policy's grace period.
func withGrace(d time.Duration) func(*Options) {
	return func(o *Options) { o.Policy.OnReturn.Grace = d }
}

// stop ends the donor's run loop and checks it returned nil.
func (f *donorFixture) stop() {
	f.once.Do(func() {
		f.cancel()
		if err := <-f.done; err != nil {
			f.t.Errorf("donor run: %v", err)
		}
	})
}

// enabled is DonorOptions with the donor on, the usual starting point.
func enabled(o DonorOptions) DonorOptions {
	o.Enabled = true
	return o
}

// claim sends one ClaimRequest from the home mesh.
func (f *donorFixture) claim(req wire.ClaimRequest) *wire.ClaimResponse {
	f.t.Helper()
	s, err := f.home.NewStream(context.Background(), donorTestID, wire.ClaimProtocol)
	if err != nil {
		f.t.Fatalf("open claim stream: %v", err)
	}
	defer s.Close()
	c := wire.NewConn(s)
	if err := c.Send(&req); err != nil {
		f.t.Fatalf("send claim: %v", err)
	}
	resp, err := wire.Expect[*wire.ClaimResponse](c)
	if err != nil {
		f.t.Fatalf("claim response: %v", err)
	}
	return resp
}

// mustClaim claims slots for job/task and fails the test on a decline.
func (f *donorFixture) mustClaim(job, task string, cpus int) *wire.ClaimResponse {
	f.t.Helper()
	resp := f.claim(wire.ClaimRequest{JobID: job, TaskID: task, CPUs: cpus})
	if !resp.Accepted {
		f.t.Fatalf("claim %s/%s declined: %s", job, task, resp.Reason)
	}
	return resp
}

// taskResult is everything the donor said on one task stream.
type taskResult struct {
	need      []string
	started   *wire.Started
	stdout    bytes.Buffer
	stderr    bytes.Buffer
	exit      *wire.Exit
	files     []string // output names, in the order received
	outDir    string   // where output files were written
	done      bool     // Done arrived
	errMsg    string   // the donor's Error message, if any
	streamErr error    // the stream ended without Done or Error
}

// localInput is an input file on the home's disk.
type localInput struct {
	ref  wire.FileRef
	path string
}

// newLocalInput writes content to a file and describes it as an input.
func newLocalInput(t *testing.T, name string, content []byte, mode uint32) localInput {
	t.Helper()
	p := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	sha, size, err := hashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return localInput{ref: wire.FileRef{Name: name, SHA256: sha, Size: size, Mode: mode}, path: p}
}

// taskOpts shape how the test home behaves on a task stream.
type taskOpts struct {
	inputs []localInput
	// whileRunning runs in its own goroutine after Started, with the
	// stream's conn (to send Renew or Cancel); the test home keeps reading.
	whileRunning func(c *wire.Conn)
	// states receives the GuestState messages (buffer it).
	states chan *wire.GuestState
}

// runTask opens a task stream, sends spec (its Inputs come from o.inputs
// unless set), answers Need, and collects everything until the stream ends.
func (f *donorFixture) runTask(spec wire.TaskSpec, o taskOpts) *taskResult {
	f.t.Helper()
	if spec.Inputs == nil {
		for _, in := range o.inputs {
			spec.Inputs = append(spec.Inputs, in.ref)
		}
	}
	s, err := f.home.NewStream(context.Background(), donorTestID, wire.TaskProtocol)
	if err != nil {
		f.t.Fatalf("open task stream: %v", err)
	}
	defer s.Close()
	c := wire.NewConn(s)
	if err := c.Send(&spec); err != nil {
		f.t.Fatalf("send spec: %v", err)
	}
	r := &taskResult{outDir: f.t.TempDir()}
	m, err := c.Recv()
	if err != nil {
		r.streamErr = err
		return r
	}
	switch m := m.(type) {
	case *wire.Error:
		r.errMsg = m.Message
		return r
	case *wire.Need:
		r.need = m.SHA256
	default:
		f.t.Fatalf("first answer to a spec: got %s, want need or error", m.Kind())
	}
	for _, sha := range r.need {
		in := findInput(o.inputs, sha)
		if in == nil {
			f.t.Fatalf("donor needs %s, which is not an input", sha)
		}
		if err := sendFile(c, in.ref.Name, in.path, in.ref.SHA256, in.ref.Size, in.ref.Mode); err != nil {
			f.t.Fatalf("send input %s: %v", in.ref.Name, err)
		}
	}
	for {
		m, err := c.Recv()
		if err != nil {
			r.streamErr = err
			return r
		}
		switch m := m.(type) {
		case *wire.Started:
			r.started = m
			if o.whileRunning != nil {
				go o.whileRunning(c)
			}
		case *wire.Output:
			if m.Stderr {
				r.stderr.Write(m.Data)
			} else {
				r.stdout.Write(m.Data)
			}
		case *wire.GuestState:
			if o.states == nil {
				f.t.Errorf("unexpected guest state %+v", m)
				break
			}
			o.states <- m
		case *wire.Exit:
			r.exit = m
		case *wire.FileHeader:
			if r.exit == nil {
				f.t.Fatalf("output file %s before exit", m.Name)
			}
			dst := filepath.Join(r.outDir, filepath.FromSlash(m.Name))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				f.t.Fatal(err)
			}
			if err := receiveFile(c, m, dst); err != nil {
				f.t.Fatalf("receive output %s: %v", m.Name, err)
			}
			r.files = append(r.files, m.Name)
		case *wire.Done:
			r.done = true
			if _, err := c.Recv(); !errors.Is(err, io.EOF) {
				f.t.Errorf("after done: got %v, want EOF (the donor half-closes)", err)
			}
			return r
		case *wire.Error:
			r.errMsg = m.Message
			return r
		default:
			f.t.Fatalf("unexpected %s from the donor", m.Kind())
		}
	}
}

func findInput(ins []localInput, sha string) *localInput {
	for i := range ins {
		if ins[i].ref.SHA256 == sha {
			return &ins[i]
		}
	}
	return nil
}

// donorEventually polls cond until it holds or a generous deadline passes.
func donorEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// taskDirs lists the task directories left in the donor's work dir.
func (f *donorFixture) taskDirs() []string {
	f.t.Helper()
	des, err := os.ReadDir(f.e.opts.Donor.WorkDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Name() != "cache" {
			out = append(out, de.Name())
		}
	}
	return out
}
