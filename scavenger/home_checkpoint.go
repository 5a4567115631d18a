package scavenger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/peer/wire"
)

// Checkpoints, home side. Images a donor sends while the task runs, or as
// it leaves, land in <home>/checkpoints/<job>/, checked against their
// SHA-256 and manifest; the newest is the task's Checkpoint. The next
// attempt resumes from it (TaskSpec.Resume), on whichever peer the
// scheduler picks. An image that turns out bad (here, before it is sent,
// or on the donor that unpacks it) is dropped and the task starts over:
// work is lost, never the task.

// checkpointDir is where the images of job's tasks are kept.
func (h *home) checkpointDir(job string) string {
	return filepath.Join(h.st.home, "checkpoints", job)
}

// checkpointPath is where one image of a task is kept.
func (h *home) checkpointPath(k taskKey, sha string) string {
	return filepath.Join(h.checkpointDir(k.job), k.task+"-"+sha[:16]+".img")
}

// receiveCheckpoint lands the image m announces; the task's live output
// may arrive between its chunks. ok is false when the attempt must end.
// An image cut short by another message is refused, and that message is
// returned as next for the attempt to handle: the task goes on, and
// resumes from its previous checkpoint if it must.
func (a *attempt) receiveCheckpoint(ctx context.Context, m *wire.Checkpoint) (res attemptResult, ok bool, next wire.Message) {
	who, k := a.r.cand.name, a.r.key
	if m.Backend != checkpointBackend(a.r.req) {
		return attemptResult{end: endFailed, reason: fmt.Sprintf("%s sent a %s checkpoint for a task that asked for %q", who, m.Backend, a.r.req.Checkpoint)}, false, nil
	}
	failed := func(err error) (attemptResult, bool, wire.Message) {
		return attemptResult{end: endFailed, reason: "keeping a checkpoint: " + err.Error()}, false, nil
	}
	dst := a.h.checkpointPath(k, m.SHA256)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return failed(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".part-*")
	if err != nil {
		return failed(err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	sum := sha256.New()
	w := io.MultiWriter(tmp, sum)
	// A bad image is refused and the task goes on: the previous
	// checkpoint, if any, is still good.
	refuse := func(err error) {
		a.log.Warn("checkpoint image refused", "err", err)
		a.h.hub.publish(Event{Type: EventGuest, JobID: k.job, TaskID: k.task, Peer: a.r.cand.peer, PeerName: who,
			Message: "checkpoint refused: " + err.Error()})
	}
	for got := int64(0); got < m.Size; {
		msg, err := a.conn.Recv()
		if err != nil {
			return a.broken(ctx, err, nil), false, nil
		}
		switch msg := msg.(type) {
		case *wire.Chunk:
			if int64(len(msg.Data)) > m.Size-got {
				return a.protocolf("%s sent more than the announced %d bytes of checkpoint", who, m.Size), false, nil
			}
			if _, err := w.Write(msg.Data); err != nil {
				return failed(err)
			}
			got += int64(len(msg.Data))
		case *wire.Output:
			a.output(msg)
		case *wire.GuestState:
			a.h.markGuestState(a.r, msg)
		default:
			refuse(fmt.Errorf("%w: %s sent %d of %d bytes, then %s", checkpoint.ErrTruncated, who, got, m.Size, msg.Kind()))
			return attemptResult{}, true, msg
		}
	}
	if err := verifyImage(tmp, m.SHA256, m.ID, sum); err != nil {
		refuse(err)
		return attemptResult{}, true, nil
	}
	if err := tmp.Sync(); err != nil {
		return failed(err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return failed(err)
	}
	ck := &TaskCheckpoint{Backend: m.Backend, ID: m.ID, SHA256: m.SHA256, Size: m.Size,
		Taken: time.UnixMilli(m.UnixMs).UTC(), Peer: a.r.cand.peer, Final: m.Final}
	if m.Final {
		a.finalImage = true
	}
	a.h.keepCheckpoint(k, ck)
	return attemptResult{}, true, nil
}

// verifyImage checks a received image: its bytes hash to sha, and it
// starts with a manifest whose ID is id.
func verifyImage(f *os.File, sha, id string, sum interface{ Sum([]byte) []byte }) error {
	if got := hex.EncodeToString(sum.Sum(nil)); got != sha {
		return fmt.Errorf("%w: the bytes hash to %s, want %s", errSHA256Mismatch, got, sha)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	m, err := checkpoint.ReadManifest(f)
	if err != nil {
		return err
	}
	if m.ID != id {
		return fmt.Errorf("%w: manifest %s, want %s", checkpoint.ErrCorrupt, m.ID, id)
	}
	return nil
}

// keepCheckpoint makes ck the task's checkpoint and removes the image it
// replaces.
func (h *home) keepCheckpoint(k taskKey, ck *TaskCheckpoint) {
	var old *TaskCheckpoint
	_, err := h.st.update(k.job, func(j *Job) error {
		t := findTask(j, k.task)
		if t == nil || t.State.Final() {
			return errSkip
		}
		old, t.Checkpoint = t.Checkpoint, ck
		return nil
	})
	if err != nil {
		os.Remove(h.checkpointPath(k, ck.SHA256))
		if !errors.Is(err, errSkip) {
			h.log.Error("recording a checkpoint", "job", k.job, "task", k.task, "err", err)
		}
		return
	}
	if old != nil && old.SHA256 != ck.SHA256 {
		os.Remove(h.checkpointPath(k, old.SHA256))
	}
	h.log.Info("checkpoint kept", "job", k.job, "task", k.task, "backend", ck.Backend, "bytes", ck.Size, "final", ck.Final)
}

// dropCheckpoint forgets the task's checkpoint because why: the task starts
// over.
func (h *home) dropCheckpoint(k taskKey, why string) {
	var old *TaskCheckpoint
	h.st.update(k.job, func(j *Job) error {
		t := findTask(j, k.task)
		if t == nil || t.Checkpoint == nil {
			return errSkip
		}
		old, t.Checkpoint = t.Checkpoint, nil
		t.Reason = why
		return nil
	})
	if old != nil {
		os.Remove(h.checkpointPath(k, old.SHA256))
		h.log.Warn("checkpoint dropped: the task starts over", "job", k.job, "task", k.task, "reason", why)
	}
}

// resumePoint returns the checkpoint r's attempt resumes from, with the
// image as an input to send, or nil to start from scratch. The image is
// checked first: a bad one is dropped here rather than sent.
func (h *home) resumePoint(r *taskRun) (*TaskCheckpoint, *inputFile) {
	if checkpointBackend(r.req) == "" {
		return nil, nil
	}
	j, err := h.st.get(r.key.job)
	if err != nil {
		return nil, nil
	}
	t := findTask(&j, r.key.task)
	if t == nil || t.Checkpoint == nil {
		return nil, nil
	}
	ck := t.Checkpoint
	path := h.checkpointPath(r.key, ck.SHA256)
	if err := checkStoredImage(path, ck); err != nil {
		h.dropCheckpoint(r.key, "checkpoint image rejected, starting over: "+err.Error())
		h.hub.publish(Event{Type: EventGuest, JobID: r.key.job, TaskID: r.key.task,
			Message: "checkpoint image rejected, starting over: " + err.Error()})
		return nil, nil
	}
	return ck, &inputFile{Path: path, Name: resumeImageName, SHA: ck.SHA256, Size: ck.Size, Mode: 0o600}
}

// checkStoredImage checks a kept image before it is sent: same bytes as
// when it arrived, and a manifest this build reads.
func checkStoredImage(path string, ck *TaskCheckpoint) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sum := sha256.New()
	n, err := io.Copy(sum, f)
	if err != nil {
		return err
	}
	if n != ck.Size {
		return fmt.Errorf("%w: %s has %d bytes, %d were received", checkpoint.ErrTruncated, path, n, ck.Size)
	}
	return verifyImage(f, ck.SHA256, ck.ID, sum)
}

// workLost is the run time an attempt that ended at end throws away: all
// of it without a checkpoint taken during it, else what came after the
// last one. A final image loses nothing.
func workLost(t *Task, attemptStart, end time.Time, final bool) time.Duration {
	if final || attemptStart.IsZero() {
		return 0
	}
	from := attemptStart
	if ck := t.Checkpoint; ck != nil && ck.Taken.After(from) {
		from = ck.Taken
	}
	return max(0, end.Sub(from))
}
