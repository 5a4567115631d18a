package scavenger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
)

// End-to-end tests of the home side: whole Engines on linked test meshes,
// real processes through the donor side's code.

// node is one running Engine in a test.
type node struct {
	t      testing.TB
	e      *Engine
	mesh   *cutMesh
	cancel context.CancelFunc
	done   chan error
}

// donating is the donor options of a dedicated machine with 2 slots and a
// short lease, so an orphaned guest goes quickly.
func donating() DonorOptions {
	return DonorOptions{Enabled: true, CPUs: 2, Lease: time.Second}
}

// startNode runs an Engine for peer id; opts.Mesh, Executor, Logger, Name,
// DBPath and the donor's WorkDir get test defaults when unset.
func startNode(t testing.TB, id string, opts Options) *node {
	t.Helper()
	n := &node{t: t, done: make(chan error, 1)}
	if opts.Mesh == nil {
		n.mesh = newCutMesh(id)
		opts.Mesh = n.mesh
	} else {
		n.mesh = opts.Mesh.(*cutMesh)
	}
	if opts.Executor == nil {
		opts.Executor = procExecutor{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", id)
	}
	if opts.Name == "" {
		opts.Name = id
	}
	if reflect.DeepEqual(opts.Policy, policy.Policy{}) {
		// A processor-pool machine: idle at once, guests killed on pause.
		opts.Policy = policy.Policy{Dedicated: true, OnReturn: policy.OnReturn{Action: policy.ActionKill, Grace: time.Second}}
	}
	if opts.DBPath == "" {
		opts.DBPath = filepath.Join(t.TempDir(), "jobs.db")
	}
	if opts.Donor.WorkDir == "" {
		opts.Donor.WorkDir = filepath.Join(t.TempDir(), "work")
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	n.e = e
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- e.Run(ctx) }()
	t.Cleanup(n.stop)
	return n
}

// stop ends the Engine and checks Run returned nil; it may be called twice.
func (n *node) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("run %s: %v", n.e.ID(), err)
		}
	case <-time.After(30 * time.Second):
		n.t.Errorf("run %s did not return 30s after its context ended", n.e.ID())
	}
}

// cutMesh is a testMesh whose streams to a peer can be broken mid-run, the
// way a peer that loses power or network looks to the home.
type cutMesh struct {
	*testMesh
	mu      sync.Mutex
	streams map[string][]wire.Stream
}

func newCutMesh(id string) *cutMesh {
	return &cutMesh{testMesh: newTestMesh(id), streams: map[string][]wire.Stream{}}
}

func (m *cutMesh) NewStream(ctx context.Context, peer, protocol string) (wire.Stream, error) {
	s, err := m.testMesh.NewStream(ctx, peer, protocol)
	if err == nil {
		m.mu.Lock()
		m.streams[peer] = append(m.streams[peer], s)
		m.mu.Unlock()
	}
	return s, err
}

// cut unlinks other and resets every stream opened to it.
func (m *cutMesh) cut(other *cutMesh) {
	unlink(m.testMesh, other.testMesh)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.streams[other.id] {
		s.Reset()
	}
	m.notify()
}

func linkNodes(a *node, others ...*node) {
	for _, b := range others {
		link(a.mesh.testMesh, b.mesh.testMesh)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPeers waits until n sees every peer in want in the given state.
func waitPeers(t *testing.T, n *node, want map[string]wire.State) {
	t.Helper()
	waitFor(t, "peer offers", func() bool {
		seen := map[string]wire.State{}
		for _, p := range n.e.Peers() {
			seen[p.Name] = p.State
		}
		for name, state := range want {
			if seen[name] != state {
				return false
			}
		}
		return true
	})
}

// watcher reads one job's events as a test goes.
type watcher struct {
	t      *testing.T
	ch     <-chan Event
	events []Event
}

func watchJob(t *testing.T, n *node, id string) *watcher {
	t.Helper()
	ch, err := n.e.Watch(t.Context(), id)
	if err != nil {
		t.Fatalf("watch %s: %v", id, err)
	}
	return &watcher{t: t, ch: ch}
}

// until reads events up to and including the first that satisfies cond.
func (w *watcher) until(what string, cond func(Event) bool) Event {
	w.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-w.ch:
			if !ok {
				w.t.Fatalf("events ended before %s; got %v", what, types(w.events))
			}
			w.events = append(w.events, ev)
			if cond(ev) {
				return ev
			}
		case <-deadline:
			w.t.Fatalf("no %s within 20s; got %v", what, types(w.events))
		}
	}
}

func (w *watcher) untilType(typ EventType) Event {
	w.t.Helper()
	return w.until(string(typ), func(ev Event) bool { return ev.Type == typ })
}

// finished reads to EventFinished and returns the final job.
func (w *watcher) finished() Job {
	w.t.Helper()
	ev := w.untilType(EventFinished)
	if ev.Job == nil {
		w.t.Fatal("EventFinished without a job")
	}
	return *ev.Job
}

// output is the concatenated output of one stream seen so far.
func (w *watcher) output(stream string) string {
	var b bytes.Buffer
	for _, ev := range w.events {
		if ev.Type == EventOutput && ev.Stream == stream {
			b.Write(ev.Data)
		}
	}
	return b.String()
}

func (w *watcher) ofType(typ EventType) []Event {
	var out []Event
	for _, ev := range w.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func submit(t *testing.T, n *node, req SubmitRequest) string {
	t.Helper()
	if req.OutDir == "" {
		req.OutDir = filepath.Join(t.TempDir(), "out")
	}
	id, err := n.e.Submit(t.Context(), req)
	if err != nil {
		t.Fatalf("submit %v: %v", req.Argv, err)
	}
	return id
}

// sameJSON compares as the API would: times equal as instants, whatever
// their location.
func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestSubmitRunsOnIdlePeer(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)

	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", `echo "hi from $SCAVENGE_HOST_PEER"; echo oops >&2; exit 3`},
		WaitTimeout: 10 * time.Second})
	w := watchJob(t, home, id)
	j := w.finished()

	if first := w.events[0]; first.Type != EventSubmitted || first.JobID != id {
		t.Errorf("first event = %+v, want submitted for %s", first, id)
	}
	started := w.ofType(EventStarted)
	if len(started) != 1 || started[0].Peer != "donor-a" || started[0].PeerName != "donor-a" || started[0].TaskID != singleTaskID {
		t.Errorf("started events = %+v, want one on donor-a", started)
	}
	if got, want := w.output("stdout"), "hi from donor-a\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := w.output("stderr"), "oops\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
	task := j.Tasks[0]
	if j.State != StateDone || task.ExitCode == nil || *task.ExitCode != 3 || task.Peer != "donor-a" || task.Attempts != 1 {
		t.Errorf("final job = %+v, want done, exit code 3 on donor-a after 1 attempt", j)
	}
	if task.Started.IsZero() || task.Finished.Before(task.Started) || j.Finished.IsZero() {
		t.Errorf("times: started %v finished %v job finished %v", task.Started, task.Finished, j.Finished)
	}
	stored, err := home.e.Job(id)
	if err != nil || !sameJSON(stored, j) {
		t.Errorf("Job(%s) = %+v, %v; want the finished record %+v", id, stored, err, j)
	}
	logPath := home.e.home.st.logPath(id, singleTaskID, "out")
	if b, err := os.ReadFile(logPath); err != nil || string(b) != "hi from donor-a\n" {
		t.Errorf("stdout log %s = %q, %v", logPath, b, err)
	}
	// A second watcher replays the whole story.
	again := watchJob(t, home, id)
	again.finished()
	if !reflect.DeepEqual(types(again.events), types(w.events)) {
		t.Errorf("replay = %v, want %v", types(again.events), types(w.events))
	}
	if _, err := home.e.Job("nosuchjob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Job(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := home.e.Watch(t.Context(), "nosuchjob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Watch(unknown) = %v, want ErrNotFound", err)
	}
}

func TestInputsAndOutputs(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)

	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("hello\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(t.TempDir(), "results")
	req := SubmitRequest{
		Argv:    []string{"sh", "-c", `mkdir -p out && tr a-z A-Z < in.txt > out/up.txt && cp in.txt copy.txt && echo no > other.dat`},
		Inputs:  []string{in},
		Outputs: []string{"out/*.txt", "copy.txt"},
		OutDir:  outDir,
	}
	for run := range 2 { // the second run finds the input in the donor's cache
		id := submit(t, home, req)
		w := watchJob(t, home, id)
		j := w.finished()
		want := []string{filepath.Join(outDir, "copy.txt"), filepath.Join(outDir, "out", "up.txt")}
		if j.State != StateDone || !reflect.DeepEqual(j.Tasks[0].Outputs, want) {
			t.Fatalf("run %d: job %s (%s), outputs %v; want done with %v", run, j.State, j.Reason, j.Tasks[0].Outputs, want)
		}
		if evs := w.ofType(EventOutputs); len(evs) != 1 || !reflect.DeepEqual(evs[0].Files, want) {
			t.Errorf("run %d: outputs events = %+v, want one with %v", run, evs, want)
		}
		for file, content := range map[string]string{"copy.txt": "hello\n", "out/up.txt": "HELLO\n"} {
			if b, err := os.ReadFile(filepath.Join(outDir, file)); err != nil || string(b) != content {
				t.Errorf("run %d: %s = %q, %v; want %q", run, file, b, err, content)
			}
		}
		if _, err := os.Stat(filepath.Join(outDir, "other.dat")); !os.IsNotExist(err) {
			t.Errorf("run %d: an unrequested file came back: %v", run, err)
		}
	}
}

// A donor cannot fill the home's disk: past the cap on output files the
// attempt fails, saying why.
func TestOutputCap(t *testing.T) {
	home := startNode(t, "home", Options{})
	home.e.home.outputCap = outputCap{files: 2, bytes: 1 << 20}
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)
	id := submit(t, home, SubmitRequest{
		Argv:    []string{"sh", "-c", "for i in 1 2 3; do echo $i > $i.txt; done"},
		Outputs: []string{"*.txt"},
		OutDir:  t.TempDir(),
	})
	j := watchJob(t, home, id).finished()
	if j.State != StateFailed || !strings.Contains(j.Tasks[0].Reason, "sent more output than a task may return (2 files") {
		t.Errorf("job %s (%q), want failed for too many outputs", j.State, j.Tasks[0].Reason)
	}
}

func TestSubmitRejectsBadRequests(t *testing.T) {
	home := startNode(t, "home", Options{})
	dir := t.TempDir()
	file := filepath.Join(dir, "data.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	other := filepath.Join(dir, "sub", "data.txt")
	os.MkdirAll(filepath.Dir(other), 0o755)
	os.WriteFile(other, []byte("y"), 0o644)
	unreadable := filepath.Join(dir, "secret.txt")
	os.WriteFile(unreadable, []byte("z"), 0o000)
	for _, tc := range []struct {
		name string
		req  SubmitRequest
		want string // in the error
	}{
		{"no command", SubmitRequest{}, "no command"},
		{"missing input", SubmitRequest{Argv: []string{"true"}, Inputs: []string{filepath.Join(dir, "nope.txt")}}, filepath.Join(dir, "nope.txt")},
		{"input is a directory", SubmitRequest{Argv: []string{"true"}, Inputs: []string{dir}}, dir + " is not a regular file"},
		{"same input name twice", SubmitRequest{Argv: []string{"true"}, Inputs: []string{file, other}}, "would both be data.txt"},
		{"bad glob", SubmitRequest{Argv: []string{"true"}, Outputs: []string{"out/[a"}}, `output glob "out/[a"`},
		{"escaping glob", SubmitRequest{Argv: []string{"true"}, Outputs: []string{"../*.txt"}}, `output glob "../*.txt"`},
		{"relative out dir", SubmitRequest{Argv: []string{"true"}, OutDir: "results"}, `output directory "results" is not an absolute path`},
		{"negative cpus", SubmitRequest{Argv: []string{"true"}, Requirements: Requirements{CPUs: -1}}, "cpus -1"},
		{"bad env", SubmitRequest{Argv: []string{"true"}, Env: map[string]string{"A=B": "x"}}, "env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := home.e.Submit(t.Context(), tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("submit error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if os.Getuid() != 0 { // root reads anything
		_, err := home.e.Submit(t.Context(), SubmitRequest{Argv: []string{"true"}, Inputs: []string{unreadable}})
		if err == nil || !strings.Contains(err.Error(), unreadable) {
			t.Errorf("unreadable input: %v", err)
		}
	}
	if jobs, err := home.e.Jobs(); err != nil || len(jobs) != 0 {
		t.Errorf("jobs after bad submissions = %d, %v; want none stored", len(jobs), err)
	}
}

func TestDonorLostRequeuesElsewhere(t *testing.T) {
	home := startNode(t, "home", Options{Home: HomeOptions{Retries: 2}})
	big := donating()
	big.CPUs = 4                       // ranks first
	big.Lease = 300 * time.Millisecond // so it stops the orphan soon
	a := startNode(t, "donor-a", Options{Donor: big})
	b := startNode(t, "donor-b", Options{Donor: donating()})
	linkNodes(home, a, b)
	waitPeers(t, home, map[string]wire.State{"donor-a": wire.StateIdle, "donor-b": wire.StateIdle})

	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c",
		`echo "on $SCAVENGE_HOST_PEER"; if [ "$SCAVENGE_HOST_PEER" = donor-a ]; then exec sleep 30; fi`}})
	w := watchJob(t, home, id)
	w.until("the start on donor-a and its output", func(Event) bool {
		return len(w.ofType(EventStarted)) > 0 && len(w.ofType(EventOutput)) > 0
	})
	if s := w.ofType(EventStarted); len(s) != 1 || s[0].Peer != "donor-a" {
		t.Fatalf("first start = %+v, want donor-a", s)
	}
	home.mesh.cut(a.mesh)

	req := w.untilType(EventRequeued)
	if !strings.Contains(req.Message, "lost donor-a") {
		t.Errorf("requeued message = %q, want it to say donor-a was lost", req.Message)
	}
	j := w.finished()
	if s := w.ofType(EventStarted); len(s) != 2 || s[1].Peer != "donor-b" {
		t.Errorf("starts = %+v, want the second on donor-b", s)
	}
	task := j.Tasks[0]
	if j.State != StateDone || task.Peer != "donor-b" || task.Attempts != 2 || task.Lost != 1 || *task.ExitCode != 0 {
		t.Errorf("final job = %+v, want done on donor-b after 2 attempts, 1 lost", j)
	}
	if got, want := w.output("stdout"), "on donor-a\non donor-b\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	// Donor a stops the orphan when the lease lapses.
	waitFor(t, "donor-a to stop the orphaned guest", func() bool { return len(a.e.Status().Guests) == 0 })
}

func TestWaitTimeoutSaysWhy(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	b := startNode(t, "donor-b", Options{Donor: DonorOptions{Enabled: false}})
	linkNodes(home, a, b)
	a.e.Pause("owner away for lunch")
	waitPeers(t, home, map[string]wire.State{"donor-a": wire.StatePaused, "donor-b": wire.StateOwner})
	var bReason string
	for _, p := range home.e.Peers() {
		if p.Name == "donor-b" {
			bReason = p.Reason
		}
	}

	id := submit(t, home, SubmitRequest{Argv: []string{"true"}, WaitTimeout: 300 * time.Millisecond})
	w := watchJob(t, home, id)
	j := w.finished()
	why := "0 of 2 peers idle: donor-a paused (paused by the owner: owner away for lunch), donor-b not donating (" + bReason + ")"
	waits := w.ofType(EventWaiting)
	if len(waits) != 1 || waits[0].Message != why {
		t.Errorf("waiting events = %+v, want one saying %q", waits, why)
	}
	if want := "no idle peer within 300ms: " + why; j.State != StateFailed || j.Reason != want || j.Tasks[0].Reason != want {
		t.Errorf("job = %s %q, want failed %q", j.State, j.Reason, want)
	}
	if j.Tasks[0].Attempts != 0 || j.Tasks[0].Peer != "" {
		t.Errorf("task = %+v, want never attempted", j.Tasks[0])
	}
}

func TestCancel(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})

	// Queued (no peer yet): cancelled at once.
	queued := submit(t, home, SubmitRequest{Argv: []string{"true"}})
	qw := watchJob(t, home, queued)
	qw.untilType(EventWaiting)
	if j, err := home.e.Job(queued); err != nil || j.State != StateQueued || j.Reason != "no other peer found yet" {
		t.Errorf("waiting job = %s %q, %v; want queued saying why", j.State, j.Reason, err)
	}
	if err := home.e.Cancel(queued, ""); err != nil {
		t.Fatal(err)
	}
	if j := qw.finished(); j.State != StateCancelled || j.Reason != reasonCancelled {
		t.Errorf("cancelled queued job = %s %q", j.State, j.Reason)
	}

	// Running: the donor stops it.
	linkNodes(home, a)
	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "echo $$; exec sleep 60"}})
	w := watchJob(t, home, id)
	w.until("the pid", func(ev Event) bool { return ev.Type == EventOutput })
	pid, err := strconv.Atoi(strings.TrimSpace(w.output("stdout")))
	if err != nil {
		t.Fatalf("pid output %q: %v", w.output("stdout"), err)
	}
	if err := home.e.Cancel(id, "test says stop"); err != nil {
		t.Fatal(err)
	}
	j := w.finished()
	if j.State != StateCancelled || j.Reason != "test says stop" || j.Tasks[0].ExitCode == nil {
		t.Errorf("cancelled running job = %+v, want cancelled with the reason and the exit code", j)
	}
	waitFor(t, "the guest process to be gone", func() bool { return syscall.Kill(pid, 0) != nil })
	if err := home.e.Cancel(id, ""); err == nil || !strings.Contains(err.Error(), "already finished") {
		t.Errorf("second cancel = %v, want already finished", err)
	}
}

func TestAllowLocal(t *testing.T) {
	n := startNode(t, "solo", Options{Donor: donating()})
	// Not allowed: nobody to run it.
	id := submit(t, n, SubmitRequest{Argv: []string{"true"}, WaitTimeout: 200 * time.Millisecond})
	if j := watchJob(t, n, id).finished(); j.State != StateFailed || j.Reason != "no idle peer within 200ms: no other peer found yet" {
		t.Errorf("without allow_local: %s %q", j.State, j.Reason)
	}
	// Allowed: it runs here, through the same protocol.
	id = submit(t, n, SubmitRequest{Argv: []string{"sh", "-c", `echo "on $SCAVENGE_HOST_PEER from $SCAVENGE_HOME_PEER"`}, AllowLocal: true})
	w := watchJob(t, n, id)
	j := w.finished()
	if j.State != StateDone || j.Tasks[0].Peer != "solo" || j.Tasks[0].PeerName != "solo" {
		t.Errorf("local job = %+v, want done on solo", j)
	}
	if got := w.output("stdout"); got != "on solo from solo\n" {
		t.Errorf("stdout = %q", got)
	}
}

func TestRestartKeepsJobs(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jobs.db")
	first := startNode(t, "home", Options{DBPath: db, Donor: donating()})
	finished := submit(t, first, SubmitRequest{Argv: []string{"true"}, AllowLocal: true})
	if _, err := New(Options{Mesh: newCutMesh("other"), Executor: procExecutor{}, DBPath: db}); err == nil ||
		!strings.Contains(err.Error(), "home "+filepath.Dir(db)+" is in use by another daemon") {
		t.Errorf("second daemon on the home: %v, want in use", err)
	}
	// Without allow_local and without a peer the next job waits.
	pendingID := submit(t, first, SubmitRequest{Argv: []string{"sh", "-c", "echo after restart"}})
	if j := watchJob(t, first, finished).finished(); j.State != StateDone {
		t.Fatalf("first job = %s %q, want done", j.State, j.Reason)
	}
	first.stop()

	second := startNode(t, "home", Options{DBPath: db})
	jobs, err := second.e.Jobs()
	if err != nil || len(jobs) != 2 || jobs[0].ID != pendingID || jobs[1].ID != finished {
		t.Fatalf("jobs after restart = %+v, %v; want [%s %s]", jobs, err, pendingID, finished)
	}
	if jobs[0].State != StateQueued {
		t.Errorf("unfinished job after restart = %s, want queued", jobs[0].State)
	}
	// A job finished before this daemon started replays as its final record.
	old := watchJob(t, second, finished)
	old.finished()
	if len(old.events) != 1 {
		t.Errorf("finished job replay = %v, want just finished", types(old.events))
	}
	// The unfinished one continues once a donor appears.
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(second, a)
	w := watchJob(t, second, pendingID)
	j := w.finished()
	if j.State != StateDone || w.output("stdout") != "after restart\n" {
		t.Errorf("resumed job = %s %q, output %q", j.State, j.Reason, w.output("stdout"))
	}
}

func TestPeersSorted(t *testing.T) {
	home := startNode(t, "home", Options{})
	b := startNode(t, "b-peer", Options{Name: "beta", Donor: donating()})
	a := startNode(t, "a-peer", Options{Name: "alpha", Donor: donating()})
	linkNodes(home, b, a)
	waitPeers(t, home, map[string]wire.State{"alpha": wire.StateIdle, "beta": wire.StateIdle})
	peers := home.e.Peers()
	if len(peers) != 2 || peers[0].Name != "alpha" || peers[1].Name != "beta" {
		t.Fatalf("peers = %+v, want alpha then beta", peers)
	}
	for _, p := range peers {
		if p.Age() < 0 || p.Age() > time.Minute || p.FreeCPUs != 2 {
			t.Errorf("peer %s: age %v free %d", p.Name, p.Age(), p.FreeCPUs)
		}
	}
}

func TestLeaseRenewedWhileRunning(t *testing.T) {
	home := startNode(t, "home", Options{})
	opts := donating()
	opts.Lease = 200 * time.Millisecond // the task outlives several leases
	a := startNode(t, "donor-a", Options{Donor: opts})
	linkNodes(home, a)
	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "sleep 1; echo survived"}})
	w := watchJob(t, home, id)
	j := w.finished()
	if j.State != StateDone || *j.Tasks[0].ExitCode != 0 || w.output("stdout") != "survived\n" {
		t.Errorf("job %s %q, exit %v, output %q; want it to outlive its lease", j.State, j.Reason, j.Tasks[0].ExitCode, w.output("stdout"))
	}
}

func TestRestartRequeuesRunningTask(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jobs.db")
	marker := filepath.Join(t.TempDir(), "first-attempt")
	first := startNode(t, "home", Options{DBPath: db})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(first, a)
	// The first attempt blocks; the one after the restart finishes.
	id := submit(t, first, SubmitRequest{Argv: []string{"sh", "-c", "if mkdir " + marker + " 2>/dev/null; then exec sleep 30; fi; echo second"}})
	watchJob(t, first, id).untilType(EventStarted)
	// The first attempt must have taken the marker before the home stops,
	// or a slow first guest could lose it to the second attempt.
	waitFor(t, "the first attempt to take the marker", func() bool { _, err := os.Stat(marker); return err == nil })
	first.stop()
	unlink(first.mesh.testMesh, a.mesh.testMesh)

	second := startNode(t, "home", Options{DBPath: db})
	w := watchJob(t, second, id)
	req := w.untilType(EventRequeued)
	if req.Message != reasonRestarted {
		t.Errorf("requeued = %q, want %q", req.Message, reasonRestarted)
	}
	linkNodes(second, a)
	j := w.finished()
	if j.State != StateDone || w.output("stdout") != "second\n" || j.Tasks[0].Attempts != 2 {
		t.Errorf("job = %+v, output %q; want done by a second attempt", j, w.output("stdout"))
	}
}

func TestQueueDrainsThroughFewSlots(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()}) // 2 slots
	linkNodes(home, a)
	const jobs = 6
	var ids []string
	for i := range jobs {
		ids = append(ids, submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "sleep 0.05; echo " + strconv.Itoa(i)}}))
	}
	for i, id := range ids {
		w := watchJob(t, home, id)
		j := w.finished()
		if j.State != StateDone || w.output("stdout") != strconv.Itoa(i)+"\n" {
			t.Errorf("job %d: %s %q, output %q", i, j.State, j.Reason, w.output("stdout"))
		}
	}
	listed, err := home.e.Jobs()
	if err != nil || len(listed) != jobs || listed[0].ID != ids[jobs-1] || listed[jobs-1].ID != ids[0] {
		t.Errorf("Jobs() = %d jobs, %v; want %d newest first", len(listed), err, jobs)
	}
}

func TestSubmitResolvesAgainstCwd(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	linkNodes(home, a)
	cwd := t.TempDir()
	os.WriteFile(filepath.Join(cwd, "data.txt"), []byte("42\n"), 0o600)
	os.WriteFile(filepath.Join(cwd, "run.sh"), []byte("#!/bin/sh\ncat data.txt > result\n"), 0o700)
	// Relative inputs and the default output directory are the submitter's
	// working directory's; the script's exec bit travels with it.
	id, err := home.e.Submit(t.Context(), SubmitRequest{Argv: []string{"./run.sh"}, Inputs: []string{"data.txt", "run.sh"},
		Outputs: []string{"result"}, Cwd: cwd})
	if err != nil {
		t.Fatal(err)
	}
	j := watchJob(t, home, id).finished()
	outDir := filepath.Join(cwd, "scavenge-out", id)
	if j.State != StateDone || j.Request.OutDir != outDir || *j.Tasks[0].ExitCode != 0 {
		t.Fatalf("job %s %q exit %v, out dir %s; want done in %s", j.State, j.Reason, j.Tasks[0].ExitCode, j.Request.OutDir, outDir)
	}
	if b, err := os.ReadFile(filepath.Join(outDir, "result")); err != nil || string(b) != "42\n" {
		t.Errorf("result = %q, %v", b, err)
	}
}

// TestStartedBeforeOutputWhileDiskIsSlow: watchers hear a task's Started
// before its first Output, and both while the job database is still
// writing (here: held up by another write transaction): the disk never
// holds back or reorders live events. The records land in order once it
// catches up.
func TestStartedBeforeOutputWhileDiskIsSlow(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	id := submit(t, home, SubmitRequest{Argv: []string{"echo", "right away"}})
	w := watchJob(t, home, id)
	w.untilType(EventWaiting)

	stall, err := home.e.home.st.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	stalled := true
	release := func() {
		if stalled {
			stalled = false
			stall.Rollback()
		}
	}
	defer release()
	linkNodes(home, a)
	w.until("the first output", func(ev Event) bool { return ev.Type == EventOutput })
	var got []EventType
	for _, ev := range w.events {
		if ev.Type != EventWaiting {
			got = append(got, ev.Type)
		}
	}
	if want := []EventType{EventSubmitted, EventStarted, EventOutput}; !reflect.DeepEqual(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	release()

	j := w.finished()
	if task := j.Tasks[0]; j.State != StateDone || task.Attempts != 1 || task.Started.IsZero() || task.Peer != "donor-a" {
		t.Errorf("final job = %+v, want done after one attempt on donor-a, its start recorded", j)
	}
	if stored, err := home.e.Job(id); err != nil || !sameJSON(stored, j) {
		t.Errorf("Job(%s) = %+v, %v; want the finished record %+v", id, stored, err, j)
	}
}
