package scavenger

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/peer/wire"
)

// Checkpoints, donor side. A task whose job asked for a backend can leave
// this machine without losing its work: when the owner's policy says
// migrate, the guest is checkpointed, the image goes home over the task
// stream (a Checkpoint frame and its chunks), and the Exit that follows
// says it was preempted: its home resumes it elsewhere from the image.
// With checkpoint_every, images also go home while the task runs, so that
// a donor that dies (kill -9, power cut) costs at most that much work.
//
//   - signal: the task saves itself into SCAVENGE_CHECKPOINT_DIR (see
//     package checkpoint). On migrate it gets SIGUSR2 and must exit 85
//     within the grace period; periodic images are its own checkpoints
//     (DoneFile), shipped at most every checkpoint_every while it is frozen.
//   - criu: the guest runs in its own PID namespace (ExecSpec.Migratable)
//     and the executor (a Migrator) dumps it from outside; the image holds
//     criu's files and the task directory, which must be at the same path
//     wherever it resumes.

// checkpointDirName is the folder in the task dir a signal task saves
// into; it is all that travels of the task dir.
const checkpointDirName = ".scavenge-checkpoint"

// envCheckpointEvery tells a signal task how often its home would like it
// to checkpoint on its own, in whole seconds.
const envCheckpointEvery = "SCAVENGE_CHECKPOINT_EVERY"

// criuRoot holds the task dirs of criu guests: a criu image restores open
// files and the working directory at their old paths, so the path must not
// depend on the daemon's home. A variable for tests.
var criuRoot = filepath.Join(os.TempDir(), "scavenge-criu")

// Image layout of a criu checkpoint: criu's files, and the task dir.
const (
	imageCRIUDir = "criu"
	imageWorkDir = "work"
	metaTaskDir  = "dir"  // Manifest.Meta key: the task dir's absolute path
	metaDirs     = "dirs" // the task dir's folders, one per line: an image holds only files
)

// guestCheckpoint is the checkpoint state of one guest.
type guestCheckpoint struct {
	backend string        // wire.BackendSignal or wire.BackendCRIU
	every   time.Duration // 0: only when the owner returns
	taskDir string
	dir     string        // signal: the task's checkpoint folder
	exited  chan struct{} // closed once the process has exited

	mu        sync.Mutex
	migrating bool          // a final checkpoint is under way, or done
	settled   chan struct{} // closed when the last migrate call has decided
	final     string        // criu: the images of the final dump, to pack
	failed    string        // why the final checkpoint failed
	shipped   time.Time
	timing    MigrationTiming // of the final checkpoint
	ship      sync.Mutex      // one image at a time on the stream
}

// packedImage is an image written to a temporary file, to ship.
type packedImage struct {
	path   string
	sha256 string // of the file, hashed as it was written
	size   int64
	m      *checkpoint.Manifest
}

// newGuestCheckpoint returns the checkpoint state of t's guest, or nil when
// its job asked for none.
func (t *donorTask) newGuestCheckpoint(taskDir string) *guestCheckpoint {
	if t.spec.Checkpoint == "" {
		return nil
	}
	ck := &guestCheckpoint{backend: t.spec.Checkpoint, taskDir: taskDir, exited: make(chan struct{}),
		every: time.Duration(t.spec.CheckpointEveryMs) * time.Millisecond}
	if ck.every == 0 {
		ck.every = t.d.opts.CheckpointEvery
	}
	if ck.backend == wire.BackendSignal {
		ck.dir = filepath.Join(taskDir, checkpointDirName)
		if t.spec.Resume != nil {
			ck.shipped = time.Now() // what came back is at home already
		}
	}
	return ck
}

// checkCheckpoint refuses a task whose backend this donor cannot serve.
func (t *donorTask) checkCheckpoint() error {
	if t.spec.Checkpoint != wire.BackendCRIU {
		return nil
	}
	if _, ok := t.d.migrator(); !ok {
		return errors.New("this donor cannot checkpoint with criu (no working criu; see scavenge status)")
	}
	return nil
}

// migrator is the executor as a Migrator, when criu works here.
func (d *donor) migrator() (Migrator, bool) {
	m, ok := d.e.opts.Executor.(Migrator)
	if !ok {
		return nil, false
	}
	for _, b := range d.opts.Checkpoint {
		if b == wire.BackendCRIU {
			return m, true
		}
	}
	return nil, false
}

// failure is why the final checkpoint failed, "" if it did not: the guest
// then gets the fallback for as long as the owner is back.
func (ck *guestCheckpoint) failure() string {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	return ck.failed
}

func (ck *guestCheckpoint) clearFailure() {
	ck.mu.Lock()
	ck.failed = ""
	ck.mu.Unlock()
}

// checkpointEnv is what a signal task gets on top of its environment.
func (ck *guestCheckpoint) env(resumed bool) []string {
	if ck == nil || ck.backend != wire.BackendSignal {
		return nil
	}
	env := checkpoint.SignalEnv(ck.dir, resumed)
	if ck.every > 0 {
		env = append(env, fmt.Sprintf("%s=%d", envCheckpointEvery, max(1, int(ck.every.Seconds()))))
	}
	return env
}

// migrate checkpoints g for good because the owner returned (cause). On
// success the guest is gone and its exit carries the image home; on
// failure fallback runs with the reason.
func (g *guest) migrate(cause string, fallback func(why string)) {
	ck := g.ck
	ck.mu.Lock()
	if ck.migrating {
		ck.mu.Unlock()
		return
	}
	ck.migrating = true
	settled := make(chan struct{})
	ck.settled = settled
	ck.mu.Unlock()
	// The process may be gone (criu kills it after the dump) before this
	// has recorded why: runGuest waits for settled before it reports.
	defer close(settled)
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	if p == nil {
		g.stop(cause, true) // not started yet: nothing to save
		return
	}
	g.setAction("migrating: " + cause)
	err := g.checkpointFinal(p, time.Now())
	if err == nil {
		g.mu.Lock()
		if g.reason == "" {
			g.reason, g.preempted = cause, true // "migrated: " once the image is home
		}
		g.mu.Unlock()
		return
	}
	why := fmt.Sprintf("checkpoint failed: %v", err)
	g.d.log.Warn("guest not migrated", "job", g.info.JobID, "task", g.info.TaskID, "err", err)
	g.d.e.stats().checkpointed(false)
	ck.mu.Lock()
	ck.migrating, ck.failed = false, why
	ck.mu.Unlock()
	g.mu.Lock()
	g.info.Action = ""
	g.mu.Unlock()
	fallback(cause + " (" + why + ")")
}

// checkpointFinal takes the image the guest leaves with; start is when
// the owner's return was seen.
func (g *guest) checkpointFinal(p Process, start time.Time) error {
	ck, grace := g.ck, g.d.grace
	done := func(froze time.Time) {
		ck.mu.Lock()
		ck.timing = MigrationTiming{Backend: ck.backend, Dump: time.Since(froze)}
		if !froze.Equal(start) {
			ck.timing.Freeze = froze.Sub(start)
		}
		ck.mu.Unlock()
	}
	switch ck.backend {
	case wire.BackendSignal:
		if checkpoint.RequestSignal == nil {
			return errors.New("this OS has no signal to ask the task for a checkpoint")
		}
		if err := os.WriteFile(filepath.Join(ck.dir, checkpoint.RequestFile), []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
			return fmt.Errorf("checkpoint request: %w", err)
		}
		p.Thaw() // a suspended task must run to save itself (at idle priority)
		if err := p.Signal(checkpoint.RequestSignal); err != nil {
			return fmt.Errorf("checkpoint request to pid %d: %w", p.Pid(), err)
		}
		select {
		case <-ck.exited:
			done(start)
			return nil // runGuest checks the exit code and packs the folder
		case <-time.After(grace):
			return fmt.Errorf("the task did not save itself and exit %d within %s", checkpoint.ExitCheckpointed, grace)
		}
	case wire.BackendCRIU:
		m, ok := g.d.migrator()
		if !ok {
			return errors.New("no criu on this donor")
		}
		// Frozen first: the owner gets the CPU back now, not when criu
		// has written the last page.
		if _, err := p.Freeze(); err != nil {
			return fmt.Errorf("freeze before dump: %w", err)
		}
		froze := time.Now()
		images, err := os.MkdirTemp(g.d.workDir, ".criu-")
		if err != nil {
			p.Thaw()
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(grace, time.Minute))
		defer cancel()
		if err := m.Dump(ctx, p, images, false); err != nil {
			os.RemoveAll(images)
			p.Thaw()
			return err
		}
		done(froze)
		ck.mu.Lock()
		ck.final = images
		ck.mu.Unlock()
		return nil
	}
	return fmt.Errorf("unknown checkpoint backend %q", ck.backend)
}

// finalImage packs the image of a guest that left by migration, after its
// process ended with st; "" when there is none (with the reason). own is
// set when a task asked to save itself exited on its own instead (it had
// finished): its exit is its result, not a preemption.
func (t *donorTask) finalImage(ck *guestCheckpoint, st ExitStatus) (img *packedImage, why string, own bool) {
	if ck == nil {
		return nil, "", false
	}
	ck.mu.Lock()
	settled := ck.settled
	ck.mu.Unlock()
	if settled != nil {
		<-settled
	}
	start := time.Now()
	defer func() {
		ck.mu.Lock()
		ck.timing.Pack = time.Since(start)
		ck.mu.Unlock()
	}()
	ck.mu.Lock()
	migrating, final := ck.migrating, ck.final
	ck.final = ""
	ck.mu.Unlock()
	if !migrating {
		return nil, "", false // a failed migration's fallback said why
	}
	switch ck.backend {
	case wire.BackendSignal:
		if st.Signal != "" {
			return nil, fmt.Sprintf("checkpoint failed: the task was killed by %s instead of saving itself (does it handle SIGUSR2?)", st.Signal), false
		}
		if st.Code != checkpoint.ExitCheckpointed {
			return nil, "", true
		}
		img, err := t.packSignal(ck)
		if err != nil {
			return nil, "checkpoint failed: " + err.Error(), false
		}
		return img, "", false
	case wire.BackendCRIU:
		if final == "" {
			return nil, "checkpoint failed: criu left no image", false
		}
		defer os.RemoveAll(final)
		img, err := t.packCRIU(ck, final)
		if err != nil {
			return nil, "checkpoint failed: " + err.Error(), false
		}
		return img, "", false
	}
	return nil, "", false
}

// packSignal packs the task's checkpoint folder into a temporary image
// file. The task has exited or is frozen: the folder holds still. What the
// task saved counts against max_output, as it is the task's to fill.
func (t *donorTask) packSignal(ck *guestCheckpoint) (*packedImage, error) {
	if n, err := treeBytes(ck.dir); err != nil {
		return nil, err
	} else if n > t.d.maxOutput {
		return nil, fmt.Errorf("the checkpoint folder holds %s, more than max_output %s", humanBytes(uint64(n)), humanBytes(uint64(t.d.maxOutput)))
	}
	return t.packImage(ck.dir, checkpoint.Manifest{Backend: checkpoint.Signal})
}

// treeBytes is the size of the regular files under dir.
func treeBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type().IsRegular() {
			fi, err := de.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// packCRIU packs criu's images and the task dir (hard-linked into a
// staging folder, so nothing is copied twice on disk). The task dir counts
// against max_input and max_output together: it holds both.
func (t *donorTask) packCRIU(ck *guestCheckpoint, images string) (*packedImage, error) {
	stage, err := os.MkdirTemp(t.d.workDir, ".stage-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	if err := os.Rename(images, filepath.Join(stage, imageCRIUDir)); err != nil {
		return nil, err
	}
	// Linking costs no copy, so the size is checked on the links.
	dirs, n, err := linkTree(ck.taskDir, filepath.Join(stage, imageWorkDir))
	if err != nil {
		return nil, fmt.Errorf("task dir: %w", err)
	}
	if limit := t.d.maxInput + t.d.maxOutput; n > limit {
		return nil, fmt.Errorf("the task dir holds %s, more than max_input and max_output together (%s)", humanBytes(uint64(n)), humanBytes(uint64(limit)))
	}
	return t.packImage(stage, checkpoint.Manifest{Backend: checkpoint.CRIU,
		Meta: map[string]string{metaTaskDir: ck.taskDir, metaDirs: strings.Join(dirs, "\n")}})
}

// packImage packs dir into a temporary file in the work dir, hashing the
// file as it is written.
func (t *donorTask) packImage(dir string, m checkpoint.Manifest) (*packedImage, error) {
	f, err := os.CreateTemp(t.d.workDir, ".image-")
	if err != nil {
		return nil, err
	}
	m.Task = t.spec.JobID + "/" + t.spec.TaskID
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	got, err := checkpoint.Pack(context.Background(), cw, dir, m)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &packedImage{path: f.Name(), sha256: hex.EncodeToString(h.Sum(nil)), size: cw.n, m: got}, nil
}

// countWriter counts what goes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// linkTree recreates src's folders under dst and hard-links its regular
// files there; anything else (symlinks, sockets) is left out, as criu
// does not need it and a guest could use it to point outside its dir. It
// returns the folders (slash paths relative to src), which an image does
// not keep when they are empty, and the files' total size.
func linkTree(src, dst string) (dirs []string, size int64, err error) {
	err = filepath.WalkDir(src, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case de.IsDir():
			if rel != "." {
				dirs = append(dirs, filepath.ToSlash(rel))
			}
			return os.MkdirAll(to, 0o700)
		case de.Type().IsRegular():
			fi, err := de.Info()
			if err != nil {
				return err
			}
			size += fi.Size()
			return os.Link(p, to)
		}
		return nil
	})
	return dirs, size, err
}

// makeDirs recreates the folders listed in an image's metaDirs under dir.
func makeDirs(dir, list string) error {
	for _, d := range strings.Split(list, "\n") {
		if d == "" {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(d)) {
			return fmt.Errorf("%w: folder %q is not inside the task dir", checkpoint.ErrCorrupt, d)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// shipImage sends img home and removes its file: a Checkpoint frame, then
// its bytes. Output frames of the running guest may come in between.
func (t *donorTask) shipImage(ck *guestCheckpoint, img *packedImage, taken time.Time, final bool) error {
	ck.ship.Lock()
	defer ck.ship.Unlock()
	defer os.Remove(img.path)
	f, err := os.Open(img.path)
	if err != nil {
		return err
	}
	defer f.Close()
	m := img.m
	if err := t.c.Send(&wire.Checkpoint{Backend: m.Backend, ID: m.ID, SHA256: img.sha256, Size: img.size, Final: final, UnixMs: taken.UnixMilli()}); err != nil {
		return err
	}
	if got, err := sendChunks(t.c, "checkpoint image", f, img.size); err != nil || got != img.sha256 {
		return fmt.Errorf("checkpoint image: %w", cmp.Or(err, errSHA256Mismatch))
	}
	t.log.Info("checkpoint sent home", "backend", m.Backend, "image", m.ID[:12], "bytes", img.size, "final", final)
	t.d.e.stats().checkpointed(true)
	return nil
}

// periodic ships a checkpoint every ck.every until ctx ends.
func (t *donorTask) periodic(ctx context.Context, g *guest, ck *guestCheckpoint) {
	if ck == nil || ck.every <= 0 {
		return
	}
	tick := time.NewTicker(ck.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ck.mu.Lock()
		busy := ck.migrating
		ck.mu.Unlock()
		g.mu.Lock()
		p, stopping := g.proc, g.reason != ""
		g.mu.Unlock()
		if busy || stopping || p == nil {
			continue
		}
		if err := t.checkpointNow(ctx, p, ck); err != nil {
			t.log.Warn("periodic checkpoint failed", "err", err)
			t.d.e.stats().checkpointed(false)
		}
	}
}

// checkpointNow takes a checkpoint of the running guest and ships it.
func (t *donorTask) checkpointNow(ctx context.Context, p Process, ck *guestCheckpoint) error {
	var img *packedImage
	taken := time.Now()
	switch ck.backend {
	case wire.BackendSignal:
		at, ok := checkpoint.SelfCheckpointTime(ck.dir)
		if !ok || !at.After(ck.shipped) {
			return nil // nothing new saved since the last one
		}
		// Frozen while packed: the task must not rewrite its state under us.
		if _, err := p.Freeze(); err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		var err error
		img, err = t.packSignal(ck)
		p.Thaw()
		if err != nil {
			return err
		}
		ck.shipped, taken = at, at
	case wire.BackendCRIU:
		mg, ok := t.d.migrator()
		if !ok {
			return errors.New("no criu on this donor")
		}
		images, err := os.MkdirTemp(t.d.workDir, ".criu-")
		if err != nil {
			return err
		}
		if _, err := p.Freeze(); err != nil {
			os.RemoveAll(images)
			return fmt.Errorf("freeze: %w", err)
		}
		err = mg.Dump(ctx, p, images, true)
		if err == nil {
			// Still frozen: the task dir must match the dump.
			img, err = t.packCRIU(ck, images)
		}
		os.RemoveAll(images)
		p.Thaw()
		if err != nil {
			return err
		}
	default:
		return nil
	}
	return t.shipImage(ck, img, taken, false)
}

// resumeImage prepares a resumed task from the image in the cache: a
// signal task gets its checkpoint folder back in dir; a criu task gets its
// task dir back at its old path, and the folder of criu's images, inside
// a staging folder the caller removes (filepath.Dir of it). dir is the
// task dir made for this attempt; for criu the returned taskDir replaces
// it.
func (t *donorTask) resumeImage(image, dir string) (taskDir, criuImages string, err error) {
	r := t.spec.Resume
	f, err := os.Open(image)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	stage := filepath.Join(t.d.workDir, ".resume-"+t.cl.id)
	m, err := checkpoint.Unpack(context.Background(), f, stage, checkpoint.UnpackOptions{WantID: r.ID})
	if err != nil {
		return "", "", err
	}
	if m.Backend != r.Backend {
		os.RemoveAll(stage)
		return "", "", fmt.Errorf("%w: a %s image, the task resumes with %s", checkpoint.ErrCorrupt, m.Backend, r.Backend)
	}
	switch r.Backend {
	case wire.BackendSignal:
		ckDir := filepath.Join(dir, checkpointDirName)
		if err := os.Rename(stage, ckDir); err != nil {
			os.RemoveAll(stage)
			return "", "", err
		}
		return dir, "", checkpoint.PrepareResume(ckDir)
	case wire.BackendCRIU:
		old := m.Meta[metaTaskDir]
		if filepath.Dir(old) != criuRoot || filepath.Base(old) == "." || filepath.Clean(old) != old {
			os.RemoveAll(stage)
			return "", "", fmt.Errorf("%w: task dir %q is not a folder of %s", checkpoint.ErrCorrupt, old, criuRoot)
		}
		// A folder left there by a donor that died is stale: the task
		// it belonged to is this one, resuming.
		os.RemoveAll(old)
		work := filepath.Join(stage, imageWorkDir)
		err := os.MkdirAll(work, 0o700) // absent when the task dir held no file
		if err == nil {
			err = makeDirs(work, m.Meta[metaDirs])
		}
		if err == nil {
			err = os.Rename(work, old)
		}
		if err != nil {
			os.RemoveAll(stage)
			return "", "", fmt.Errorf("task dir %s: %w", old, err)
		}
		return old, filepath.Join(stage, imageCRIUDir), nil
	}
	os.RemoveAll(stage)
	return "", "", fmt.Errorf("unknown checkpoint backend %q", r.Backend)
}
