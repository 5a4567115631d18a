package scavenger

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/scavenge/scavenge/peer/wire"
)

// The home's end of the task protocol against a scripted donor: a peer that
// says exactly what a test tells it to, including what a real donor never
// would (bad hashes, files nobody asked for, broken streams).

// donorScript plays one task stream; attempt counts from 0.
type donorScript func(t *testing.T, attempt int, c *wire.Conn, s wire.Stream, spec *wire.TaskSpec)

// startScriptedDonor serves claims (always accepted) and tasks (by script)
// as peer "fake", with an idle offer.
func startScriptedDonor(t *testing.T, script donorScript) *cutMesh {
	m := newCutMesh("fake")
	var mu sync.Mutex
	attempts := 0
	m.Handle(wire.ClaimProtocol, func(remote string, s wire.Stream) {
		defer s.Close()
		c := wire.NewConn(s)
		req, err := wire.Expect[*wire.ClaimRequest](c)
		if err != nil {
			t.Errorf("fake donor: claim: %v", err)
			return
		}
		c.Send(&wire.ClaimResponse{Accepted: true, ClaimID: "claim-" + req.JobID, LeaseMillis: 3000})
	})
	m.Handle(wire.TaskProtocol, func(remote string, s wire.Stream) {
		defer s.Close()
		c := wire.NewConn(s)
		spec, err := wire.Expect[*wire.TaskSpec](c)
		if err != nil {
			t.Errorf("fake donor: spec: %v", err)
			return
		}
		if spec.ClaimID != "claim-"+spec.JobID {
			t.Errorf("fake donor: spec for claim %q, want the claim it granted", spec.ClaimID)
		}
		mu.Lock()
		n := attempts
		attempts++
		mu.Unlock()
		script(t, n, c, s, spec)
	})
	m.SetOffer(wire.Offer{Version: wire.OfferVersion, Name: "fake", State: wire.StateIdle, CPUs: 2, FreeCPUs: 2,
		MemoryBytes: 1 << 30, FreeMemoryBytes: 1 << 30, OS: runtime.GOOS, Arch: runtime.GOARCH})
	return m
}

func sha(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

// send sends messages in order, failing the test on an error.
func send(t *testing.T, c *wire.Conn, ms ...wire.Message) {
	t.Helper()
	for _, m := range ms {
		if err := c.Send(m); err != nil {
			t.Errorf("fake donor: send %s: %v", m.Kind(), err)
			return
		}
	}
}

// startedOK is the usual opening: nothing needed, the process runs.
func startedOK(t *testing.T, c *wire.Conn) {
	send(t, c, &wire.Need{}, &wire.Started{HostPeer: "fake", Pid: 42})
}

func file(name, content, claimed string) []wire.Message {
	return []wire.Message{&wire.FileHeader{Name: name, SHA256: sha(claimed), Size: int64(len(content))},
		&wire.Chunk{Data: []byte(content)}}
}

func TestHomeAgainstScriptedDonor(t *testing.T) {
	preempt := func(t *testing.T, c *wire.Conn) {
		startedOK(t, c)
		send(t, c, &wire.Exit{Code: -1, Signal: "killed", Preempted: true, Reason: "owner returned"}, &wire.Done{})
	}
	for _, tc := range []struct {
		name    string
		outputs []string
		input   string // content of an input file, if any
		script  donorScript
		check   func(t *testing.T, j Job, w *watcher, outDir string)
	}{{
		name:    "an output that does not match its hash is refused",
		outputs: []string{"r.txt"},
		script: func(t *testing.T, _ int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) {
			startedOK(t, c)
			send(t, c, &wire.Exit{Code: 0})
			send(t, c, file("r.txt", "evil!", "good!")...)
			send(t, c, &wire.Done{})
		},
		check: func(t *testing.T, j Job, _ *watcher, outDir string) {
			if j.State != StateFailed || !strings.Contains(j.Reason, "sha256 mismatch") {
				t.Errorf("job %s %q, want failed with a sha256 mismatch", j.State, j.Reason)
			}
			if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
				t.Errorf("output dir holds %v, want nothing (not even a temp file)", entries)
			}
		},
	}, {
		name:    "an output nobody asked for is refused",
		outputs: []string{"r.txt"},
		script: func(t *testing.T, _ int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) {
			startedOK(t, c)
			send(t, c, &wire.Exit{Code: 0})
			send(t, c, file("secret.txt", "x", "x")...)
			send(t, c, &wire.Done{})
		},
		check: func(t *testing.T, j Job, _ *watcher, outDir string) {
			if j.State != StateFailed || !strings.Contains(j.Reason, "secret.txt, which matches no output pattern") {
				t.Errorf("job %s %q, want failed naming secret.txt", j.State, j.Reason)
			}
		},
	}, {
		name:  "inputs the donor needs are sent",
		input: "input bytes\n",
		script: func(t *testing.T, _ int, c *wire.Conn, _ wire.Stream, spec *wire.TaskSpec) {
			if len(spec.Inputs) != 1 {
				t.Errorf("fake donor: inputs %+v, want 1", spec.Inputs)
				return
			}
			in := spec.Inputs[0]
			send(t, c, &wire.Need{SHA256: []string{in.SHA256}})
			fh, err := wire.Expect[*wire.FileHeader](c)
			if err != nil {
				t.Errorf("fake donor: input header: %v", err)
				return
			}
			dst := filepath.Join(t.TempDir(), fh.Name)
			if err := receiveFile(c, fh, dst); err != nil {
				t.Errorf("fake donor: input: %v", err)
				return
			}
			got, _ := os.ReadFile(dst)
			send(t, c, &wire.Started{HostPeer: "fake"}, &wire.Output{Data: got}, &wire.Exit{Code: 0}, &wire.Done{})
		},
		check: func(t *testing.T, j Job, w *watcher, _ string) {
			if j.State != StateDone || w.output("stdout") != "input bytes\n" {
				t.Errorf("job %s %q, echoed input %q", j.State, j.Reason, w.output("stdout"))
			}
		},
	}, {
		name: "preempted, then run again",
		script: func(t *testing.T, attempt int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) {
			if attempt == 0 {
				preempt(t, c)
				return
			}
			startedOK(t, c)
			send(t, c, &wire.Output{Data: []byte("second time\n")}, &wire.Exit{Code: 0}, &wire.Done{})
		},
		check: func(t *testing.T, j Job, w *watcher, _ string) {
			task := j.Tasks[0]
			if j.State != StateDone || task.Preemptions != 1 || task.Attempts != 2 || *task.ExitCode != 0 {
				t.Errorf("job = %+v, want done after a preemption", j)
			}
			if r := w.ofType(EventRequeued); len(r) != 1 || r[0].Message != "preempted on fake: owner returned" {
				t.Errorf("requeued events = %+v", r)
			}
		},
	}, {
		name:   "preempted more often than the retries allow",
		script: func(t *testing.T, _ int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) { preempt(t, c) },
		check: func(t *testing.T, j Job, _ *watcher, _ string) {
			want := "preempted 2 times (last: preempted on fake: owner returned)"
			if j.State != StateFailed || j.Reason != want || j.Tasks[0].ExitCode != nil {
				t.Errorf("job %s %q (exit %v), want failed %q without an exit code", j.State, j.Reason, j.Tasks[0].ExitCode, want)
			}
		},
	}, {
		name: "a suspended task is not lost",
		script: func(t *testing.T, _ int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) {
			startedOK(t, c)
			send(t, c, &wire.GuestState{State: wire.GuestSuspended, Reason: "suspended (SIGSTOP): owner returned"},
				&wire.GuestState{State: wire.GuestRunning, Reason: "resumed: owner away again"},
				&wire.Exit{Code: 0}, &wire.Done{})
		},
		check: func(t *testing.T, j Job, w *watcher, _ string) {
			if task := j.Tasks[0]; j.State != StateDone || task.Attempts != 1 || task.Lost != 0 || task.Preemptions != 0 {
				t.Errorf("job = %+v, want done in one attempt", j)
			}
			evs := w.ofType(EventGuest)
			if len(evs) != 2 || evs[0].Message != "suspended: suspended (SIGSTOP): owner returned" || evs[1].Message != "running: resumed: owner away again" {
				t.Errorf("guest events = %+v", evs)
			}
		},
	}, {
		name: "a task that could not start failed",
		script: func(t *testing.T, _ int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) {
			send(t, c, &wire.Need{}, &wire.Exit{Code: 127, Error: "exec: nope: not found"}, &wire.Done{})
		},
		check: func(t *testing.T, j Job, _ *watcher, _ string) {
			if j.State != StateFailed || j.Reason != "exec: nope: not found" || *j.Tasks[0].ExitCode != 127 {
				t.Errorf("job %s %q, want failed with the start error and code 127", j.State, j.Reason)
			}
		},
	}, {
		name: "a donor's error before the exit runs the task again",
		script: func(t *testing.T, attempt int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) {
			if attempt == 0 {
				send(t, c, &wire.Error{Message: "claim expired"})
				return
			}
			startedOK(t, c)
			send(t, c, &wire.Exit{Code: 0}, &wire.Done{})
		},
		check: func(t *testing.T, j Job, w *watcher, _ string) {
			if task := j.Tasks[0]; j.State != StateDone || task.Lost != 1 || task.Attempts != 2 {
				t.Errorf("job = %+v, want done after one refused attempt", j)
			}
			if r := w.ofType(EventRequeued); len(r) != 1 || r[0].Message != "fake could not run it: claim expired" {
				t.Errorf("requeued events = %+v", r)
			}
		},
	}, {
		name: "a stream lost before the exit is run again",
		script: func(t *testing.T, attempt int, c *wire.Conn, s wire.Stream, _ *wire.TaskSpec) {
			startedOK(t, c)
			if attempt == 0 {
				s.Reset()
				return
			}
			send(t, c, &wire.Exit{Code: 0}, &wire.Done{})
		},
		check: func(t *testing.T, j Job, w *watcher, _ string) {
			if task := j.Tasks[0]; j.State != StateDone || task.Lost != 1 || task.Attempts != 2 {
				t.Errorf("job = %+v, want done after one lost attempt", j)
			}
			if r := w.ofType(EventRequeued); len(r) != 1 || !strings.HasPrefix(r[0].Message, "lost fake: ") {
				t.Errorf("requeued events = %+v", r)
			}
		},
	}, {
		name: "an exit without Done is enough when no outputs are wanted",
		script: func(t *testing.T, _ int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) {
			startedOK(t, c)
			send(t, c, &wire.Exit{Code: 5, Reason: "timeout after 1s"})
		},
		check: func(t *testing.T, j Job, _ *watcher, _ string) {
			if j.State != StateDone || *j.Tasks[0].ExitCode != 5 || j.Reason != "timeout after 1s" {
				t.Errorf("job %s %q, want done with code 5 and the exit's reason", j.State, j.Reason)
			}
		},
	}, {
		name: "a message out of place is a protocol error",
		script: func(t *testing.T, _ int, c *wire.Conn, _ wire.Stream, _ *wire.TaskSpec) {
			startedOK(t, c)
			send(t, c, &wire.Done{})
		},
		check: func(t *testing.T, j Job, _ *watcher, _ string) {
			if j.State != StateFailed || j.Reason != "fake broke the task protocol: unexpected done" {
				t.Errorf("job %s %q", j.State, j.Reason)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			home := startNode(t, "home", Options{Home: HomeOptions{Retries: 1}})
			fake := startScriptedDonor(t, tc.script)
			link(home.mesh.testMesh, fake.testMesh)
			req := SubmitRequest{Argv: []string{"work"}, Outputs: tc.outputs, OutDir: filepath.Join(t.TempDir(), "out")}
			if tc.input != "" {
				p := filepath.Join(t.TempDir(), "in.txt")
				os.WriteFile(p, []byte(tc.input), 0o644)
				req.Inputs = []string{p}
			}
			id := submit(t, home, req)
			w := watchJob(t, home, id)
			tc.check(t, w.finished(), w, req.OutDir)
		})
	}
}

func TestOutputPath(t *testing.T) {
	out := t.TempDir()
	os.Symlink(t.TempDir(), filepath.Join(out, "link"))
	os.WriteFile(filepath.Join(out, "plain"), nil, 0o644)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"r.txt", true},
		{"deep/er/r.txt", true},
		{"link/r.txt", false},  // a symlink would lead outside
		{"plain/r.txt", false}, // a file in the way
		{"../r.txt", false},
	} {
		dst, err := outputPath(out, tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("outputPath(%q) = %q, %v; want ok %v", tc.name, dst, err, tc.ok)
			continue
		}
		if tc.ok {
			if want := filepath.Join(out, filepath.FromSlash(tc.name)); dst != want {
				t.Errorf("outputPath(%q) = %q, want %q", tc.name, dst, want)
			}
			if fi, err := os.Stat(filepath.Dir(dst)); err != nil || !fi.IsDir() {
				t.Errorf("outputPath(%q) did not create its directory: %v", tc.name, err)
			}
		}
	}
}
