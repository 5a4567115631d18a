package scavenger

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/peer/wire"
)

// The home's side of checkpoints against a scripted donor: images kept,
// resumed from, refused when cut short or wrong, and dropped when the
// donor cannot resume them. The donor side and real processes are in
// donor_checkpoint_test.go and cmd/scavenge's TestMigration.

// testImage packs a signal checkpoint holding count into an image.
func testImage(t *testing.T, count string) (image []byte, m *checkpoint.Manifest) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "count"), []byte(count), 0o644)
	var buf bytes.Buffer
	m, err := checkpoint.Pack(context.Background(), &buf, dir, checkpoint.Manifest{Backend: checkpoint.Signal, Task: "j/0"})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

// sendImage sends an image as a donor does: a Checkpoint frame, then chunks
// (only the first n bytes when n >= 0).
func sendImage(t *testing.T, c *wire.Conn, image []byte, m *checkpoint.Manifest, shaOf string, final bool, n int) {
	t.Helper()
	send(t, c, &wire.Checkpoint{Backend: wire.BackendSignal, ID: m.ID, SHA256: sha(shaOf), Size: int64(len(image)), Final: final, UnixMs: 1})
	if n >= 0 {
		image = image[:n]
	}
	send(t, c, &wire.Chunk{Data: image})
}

// receiveResume plays a donor asked to resume: it checks the spec names
// the image, needs it and receives it.
func receiveResume(t *testing.T, c *wire.Conn, spec *wire.TaskSpec, image []byte, m *checkpoint.Manifest) {
	t.Helper()
	r := spec.Resume
	if r == nil || r.ID != m.ID || r.SHA256 != sha(string(image)) || r.Backend != wire.BackendSignal {
		t.Errorf("fake donor: resume %+v, want image %s", r, m.ID)
		return
	}
	send(t, c, &wire.Need{SHA256: []string{r.SHA256}})
	fh, err := wire.Expect[*wire.FileHeader](c)
	if err != nil {
		t.Errorf("fake donor: image header: %v", err)
		return
	}
	dst := filepath.Join(t.TempDir(), "img")
	if err := receiveFile(c, fh, dst); err != nil {
		t.Errorf("fake donor: image: %v", err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, image) {
		t.Errorf("fake donor: received a different image")
	}
}

func TestHomeCheckpoints(t *testing.T) {
	image, m := testImage(t, "123")
	leaveWith := func(t *testing.T, c *wire.Conn, shaOf string, n int) {
		startedOK(t, c)
		send(t, c, &wire.Output{Data: []byte("start\n")})
		sendImage(t, c, image, m, shaOf, true, n)
		send(t, c, &wire.Exit{Code: -1, Preempted: true, Reason: "owner returned"}, &wire.Done{})
	}
	finishFresh := func(t *testing.T, c *wire.Conn, spec *wire.TaskSpec) {
		if spec.Resume != nil {
			t.Errorf("fake donor: asked to resume from %+v, want a fresh start", spec.Resume)
		}
		startedOK(t, c)
		send(t, c, &wire.Exit{Code: 0}, &wire.Done{})
	}
	for _, tc := range []struct {
		name   string
		script donorScript
		check  func(t *testing.T, j Job, w *watcher, home string)
	}{{
		name: "a task leaves with its image and resumes from it",
		script: func(t *testing.T, attempt int, c *wire.Conn, _ wire.Stream, spec *wire.TaskSpec) {
			if spec.Checkpoint != wire.BackendSignal || spec.CheckpointEveryMs != 2000 {
				t.Errorf("fake donor: spec checkpoint %q every %d ms, want signal every 2000", spec.Checkpoint, spec.CheckpointEveryMs)
			}
			if attempt == 0 {
				leaveWith(t, c, string(image), -1)
				return
			}
			receiveResume(t, c, spec, image, m)
			send(t, c, &wire.Started{HostPeer: "fake"}, &wire.Output{Data: []byte("resumed at 123\n")}, &wire.Exit{Code: 0}, &wire.Done{})
		},
		check: func(t *testing.T, j Job, w *watcher, home string) {
			task := j.Tasks[0]
			if j.State != StateDone || task.Moves != 1 || task.Preemptions != 0 || task.WorkLost != 0 || task.Attempts != 2 {
				t.Errorf("task %+v: want done after one move, nothing lost", task)
			}
			if ck := task.Checkpoint; ck == nil || ck.ID != m.ID || !ck.Final || ck.Size != int64(len(image)) {
				t.Errorf("checkpoint record %+v, want the final image %s", ck, m.ID)
			}
			if out := w.output("stdout"); out != "start\nresumed at 123\n" {
				t.Errorf("stdout %q, want both runs' output in one stream", out)
			}
			if r := w.ofType(EventRequeued); len(r) != 1 || !strings.HasPrefix(r[0].Message, "migrated from fake: ") {
				t.Errorf("requeued events %+v, want one migration", r)
			}
			if left, _ := filepath.Glob(filepath.Join(home, "checkpoints", j.ID, "*")); len(left) != 0 {
				t.Errorf("images left after the task ended: %v", left)
			}
		},
	}, {
		name: "a truncated image is refused and the task starts over",
		script: func(t *testing.T, attempt int, c *wire.Conn, _ wire.Stream, spec *wire.TaskSpec) {
			if attempt == 0 {
				leaveWith(t, c, string(image), len(image)/2)
				return
			}
			finishFresh(t, c, spec)
		},
		check: func(t *testing.T, j Job, w *watcher, _ string) {
			task := j.Tasks[0]
			if j.State != StateDone || task.Checkpoint != nil || task.Moves != 0 || task.Preemptions != 1 || task.WorkLost <= 0 {
				t.Errorf("task %+v: want done from scratch, no checkpoint, work lost", task)
			}
			if !hasGuestEvent(w, "checkpoint refused: truncated checkpoint image: fake sent") {
				t.Errorf("events %+v, want the refusal", w.ofType(EventGuest))
			}
		},
	}, {
		name: "an image that does not match its hash is refused",
		script: func(t *testing.T, attempt int, c *wire.Conn, _ wire.Stream, spec *wire.TaskSpec) {
			if attempt == 0 {
				leaveWith(t, c, "something else", -1)
				return
			}
			finishFresh(t, c, spec)
		},
		check: func(t *testing.T, j Job, w *watcher, _ string) {
			if task := j.Tasks[0]; j.State != StateDone || task.Checkpoint != nil || task.Preemptions != 1 {
				t.Errorf("task %+v: want done from scratch", task)
			}
			if !hasGuestEvent(w, "checkpoint refused: sha256 mismatch") {
				t.Errorf("events %+v, want the refusal", w.ofType(EventGuest))
			}
		},
	}, {
		name: "an image the next donor cannot resume is dropped",
		script: func(t *testing.T, attempt int, c *wire.Conn, _ wire.Stream, spec *wire.TaskSpec) {
			switch attempt {
			case 0:
				leaveWith(t, c, string(image), -1)
			case 1:
				receiveResume(t, c, spec, image, m)
				send(t, c, &wire.Exit{Code: -1, Preempted: true, Reason: "the checkpoint image was rejected",
					ResumeFailed: "corrupt checkpoint image: count: sha256 mismatch"}, &wire.Done{})
			default:
				finishFresh(t, c, spec)
			}
		},
		check: func(t *testing.T, j Job, w *watcher, home string) {
			if task := j.Tasks[0]; j.State != StateDone || task.Checkpoint != nil || task.Attempts != 3 {
				t.Errorf("task %+v: want done in a third, fresh attempt", task)
			}
			r := w.ofType(EventRequeued)
			if len(r) != 2 || !strings.Contains(r[1].Message, "checkpoint image rejected by fake, starting over: corrupt") {
				t.Errorf("requeued events %+v, want the second to say the image was rejected", r)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			homeDir := t.TempDir()
			home := startNode(t, "home", Options{Home: HomeOptions{Retries: 2}, DBPath: filepath.Join(homeDir, "jobs.db")})
			fake := startScriptedDonor(t, tc.script)
			// It offers signal checkpoints, which the job asks for.
			fake.SetOffer(wire.Offer{Version: wire.OfferVersion, Name: "fake", State: wire.StateIdle, CPUs: 2, FreeCPUs: 2,
				MemoryBytes: 1 << 30, FreeMemoryBytes: 1 << 30, OS: runtime.GOOS, Arch: runtime.GOARCH, Checkpoint: []string{"signal"}})
			link(home.mesh.testMesh, fake.testMesh)
			req := SubmitRequest{Argv: []string{"count"}, Checkpoint: "signal", CheckpointEvery: 2e9}
			id := submit(t, home, req)
			w := watchJob(t, home, id)
			tc.check(t, w.finished(), w, homeDir)
		})
	}
}

func hasGuestEvent(w *watcher, prefix string) bool {
	for _, e := range w.ofType(EventGuest) {
		if strings.HasPrefix(e.Message, prefix) {
			return true
		}
	}
	return false
}

func TestCheckStoredImage(t *testing.T) {
	image, m := testImage(t, "7")
	ck := &TaskCheckpoint{Backend: "signal", ID: m.ID, SHA256: sha(string(image)), Size: int64(len(image))}
	dir := t.TempDir()
	write := func(b []byte) string {
		p := filepath.Join(dir, "img")
		os.WriteFile(p, b, 0o600)
		return p
	}
	if err := checkStoredImage(write(image), ck); err != nil {
		t.Fatalf("intact image: %v", err)
	}
	bad := bytes.Clone(image)
	bad[len(bad)/2] ^= 0xff
	for name, b := range map[string][]byte{"truncated": image[:len(image)-3], "corrupt": bad} {
		if err := checkStoredImage(write(b), ck); err == nil {
			t.Errorf("%s image accepted", name)
		}
	}
	if err := checkStoredImage(filepath.Join(dir, "missing"), ck); err == nil {
		t.Error("missing image accepted")
	}
}
