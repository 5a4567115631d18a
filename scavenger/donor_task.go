package scavenger

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// One task stream, donor side (see the task protocol in peer/wire): take the
// claim, get the inputs the cache lacks, start the guest, stream its output
// while obeying Renew and Cancel, report its exit, send its output files, and
// leave nothing behind in the work directory.

// minStreamIdle bounds how long the donor waits on a silent home while
// inputs or outputs move: longer than a lease, so a short test lease does
// not cut a slow transfer.
const minStreamIdle = 30 * time.Second

// donorTask is the donor's state for one task stream.
type donorTask struct {
	d      *donor
	remote string
	s      *idleStream
	c      *wire.Conn
	log    *slog.Logger
	spec   *wire.TaskSpec
	cl     *claim
	resume ResumeTiming // how the image came back, when the task resumes
}

// serveTask runs one task stream from remote to its end.
func (d *donor) serveTask(remote string, s wire.Stream) {
	d.taskBegin()
	defer d.taskEnd()
	defer s.Close()
	t := &donorTask{d: d, remote: remote, s: &idleStream{Stream: s}, log: d.log.With("peer", remote)}
	t.c = wire.NewConn(t.s)
	t.s.setIdle(d.streamIdle())
	if err := t.serve(); err != nil {
		t.log.Info("task refused or failed", "err", err)
		if err := t.c.Send(&wire.Error{Message: wire.CleanText(err.Error(), wire.MaxReasonLen)}); err != nil {
			t.log.Debug("error not delivered", "err", err)
		}
	}
}

func (d *donor) streamIdle() time.Duration { return max(d.lease, minStreamIdle) }

// serve runs the protocol; an error is a protocol failure to report to the
// home as an Error message (the process's own failures travel in Exit).
func (t *donorTask) serve() error {
	d := t.d
	spec, err := wire.Expect[*wire.TaskSpec](t.c)
	if err != nil {
		return fmt.Errorf("task spec: %w", err)
	}
	t.spec = spec
	t.log = t.log.With("job", spec.JobID, "task", spec.TaskID)
	cl, err := d.takeClaim(t.remote, spec)
	if err != nil {
		return err
	}
	t.cl = cl
	defer d.releaseClaim(cl)
	if err := t.check(); err != nil {
		return err
	}
	if why := d.refusal(cl); why != "" {
		return t.preempted(why, false)
	}
	workDir, cache, err := d.workspace()
	if err != nil {
		return fmt.Errorf("donor cannot host tasks: %w", err)
	}
	// Bounded by the lease: a transfer this task waits for that takes
	// longer is stuck, and so is the home that waits for this task.
	wctx, cancel := context.WithTimeout(context.Background(), d.streamIdle())
	wanted := spec.Inputs
	if r := spec.Resume; r != nil {
		// The image travels like an input, and is cached like one: a task
		// that comes back here finds it.
		wanted = append(slices.Clip(wanted), wire.FileRef{Name: resumeImageName, SHA256: r.SHA256, Size: r.Size})
	}
	have, need, err := cache.acquire(wctx, wanted, d.now())
	cancel()
	if err != nil {
		return fmt.Errorf("waiting for an input another task is receiving: %w", err)
	}
	pinned := have
	stored := 0 // need[:stored] are in the cache and pinned
	defer func() {
		cache.unclaim(need[stored:])
		cache.release(pinned)
	}()
	if err := t.c.Send(&wire.Need{SHA256: need}); err != nil {
		return err
	}
	received := time.Now()
	refs := map[string]wire.FileRef{}
	for _, r := range wanted {
		if _, ok := refs[r.SHA256]; !ok {
			refs[r.SHA256] = r
		}
	}
	for _, sha := range need {
		h, err := wire.Expect[*wire.FileHeader](t.c)
		if err != nil {
			return fmt.Errorf("input %s: %w", refs[sha].Name, err)
		}
		if h.SHA256 != sha || h.Size != refs[sha].Size {
			return fmt.Errorf("input %s: got sha256 %s size %d, want %s size %d (in the order of need)",
				h.Name, h.SHA256, h.Size, sha, refs[sha].Size)
		}
		if err := cache.store(t.c, h, d.now()); err != nil {
			return fmt.Errorf("input %s: %w", h.Name, err)
		}
		pinned = append(pinned, sha)
		stored++
	}

	if r := spec.Resume; r != nil {
		t.resume = ResumeTiming{Backend: r.Backend, Bytes: r.Size}
		if slices.Contains(need, r.SHA256) {
			t.resume.Receive = time.Since(received)
		}
	}
	dir := filepath.Join(workDir, fmt.Sprintf("%s-%s-%s", spec.JobID, spec.TaskID, cl.id))
	if spec.Checkpoint == wire.BackendCRIU {
		dir = filepath.Join(criuRoot, filepath.Base(dir))
		if err := os.MkdirAll(criuRoot, 0o711); err != nil {
			return fmt.Errorf("task dir: %w", err)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("task dir: %w", err)
	}
	defer func() { removeTaskDir(dir, t.log) }() // dir changes when a criu task resumes
	if r := spec.Resume; r != nil {
		unpackStart := time.Now()
		taskDir, images, err := t.resumeImage(cache.path(r.SHA256), dir)
		t.resume.Unpack = time.Since(unpackStart)
		if err != nil {
			t.log.Warn("cannot resume from the checkpoint image", "err", err)
			d.e.stats().resumeFailed()
			return t.finish(&wire.Exit{Code: -1, Preempted: true, ResumeFailed: wire.CleanText(err.Error(), wire.MaxReasonLen),
				Reason: "the checkpoint image was rejected", UnixMs: time.Now().UnixMilli()}, "")
		}
		if taskDir != dir {
			removeTaskDir(dir, t.log)
			dir = taskDir
		}
		if images != "" {
			defer os.RemoveAll(filepath.Dir(images)) // the staging folder
			cache.release(pinned)
			pinned = nil
			return t.runGuest(dir, images)
		}
	}
	for _, r := range spec.Inputs {
		dst := filepath.Join(dir, filepath.FromSlash(r.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("input %s: %w", r.Name, err)
		}
		if err := cache.place(r.SHA256, dst, fileMode(r.Mode)); err != nil {
			return fmt.Errorf("input %s: %w", r.Name, err)
		}
	}
	cache.release(pinned)
	pinned = nil
	return t.runGuest(dir, "")
}

// check applies the donor's limits to the spec, before any byte moves.
func (t *donorTask) check() error {
	var total int64
	names := map[string]bool{}
	sizes := map[string]int64{}
	for _, r := range t.spec.Inputs {
		if names[r.Name] {
			return fmt.Errorf("input %s is listed twice", r.Name)
		}
		names[r.Name] = true
		if size, ok := sizes[r.SHA256]; ok && size != r.Size {
			return fmt.Errorf("input %s: sha256 %s is listed with sizes %d and %d", r.Name, r.SHA256, size, r.Size)
		}
		sizes[r.SHA256] = r.Size
		total += r.Size
		if total > t.d.maxInput || total < 0 {
			return fmt.Errorf("inputs exceed max_input %s of this donor", humanBytes(uint64(t.d.maxInput)))
		}
	}
	if err := t.checkCheckpoint(); err != nil {
		return err
	}
	_, err := t.env("")
	return err
}

// env is the guest's environment for task dir dir.
func (t *donorTask) env(dir string) ([]string, error) {
	return guestEnv(guestIDs{
		JobID: t.spec.JobID, TaskID: t.spec.TaskID,
		HomePeer: t.remote, HostPeer: t.d.e.opts.Mesh.ID(),
	}, dir, t.spec.Env)
}

// resumeImageName is how the resume image is named in the transfer; it is
// never placed in the task dir.
const resumeImageName = "checkpoint.img"

// refusal says why a claimed task may no longer start, or "".
func (d *donor) refusal(cl *claim) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refusalLocked(cl)
}

func (d *donor) refusalLocked(cl *claim) string {
	switch {
	case cl.revoked != "":
		return cl.revoked
	case d.closing:
		return "donor is shutting down"
	case d.presence.State == wire.StatePaused:
		return d.presence.Reason
	case !d.presenceLocked().Donating:
		return "owner returned: " + d.presenceLocked().Reason
	}
	return ""
}

// preempted answers a task that will not start because the owner took the
// machine back: a preempted Exit, which the home requeues elsewhere.
func (t *donorTask) preempted(why string, needSent bool) error {
	t.log.Info("task not started", "reason", why)
	if !needSent {
		if err := t.c.Send(&wire.Need{}); err != nil {
			return err
		}
	}
	return t.finish(&wire.Exit{Code: -1, Preempted: true, Reason: wire.CleanText(why, wire.MaxReasonLen), UnixMs: time.Now().UnixMilli()}, "")
}

// finish sends exit, the output files of dir (if any), and Done. The task
// dir is gone before Done: a home that saw Done finds the donor clean.
func (t *donorTask) finish(exit *wire.Exit, dir string) error {
	if err := t.c.Send(exit); err != nil {
		t.log.Info("exit not delivered", "err", err)
		return nil // nobody is listening for an Error either
	}
	if dir != "" {
		if err := t.sendOutputs(dir); err != nil {
			return err
		}
		removeTaskDir(dir, t.log)
	}
	if err := t.c.Send(&wire.Done{}); err != nil {
		t.log.Info("done not delivered", "err", err)
		return nil
	}
	t.s.CloseWrite()
	return nil
}

// runGuest starts the process in dir (or restores it from criuImages),
// serves the stream while it runs and reports how it ended.
func (t *donorTask) runGuest(dir, criuImages string) error {
	d, spec := t.d, t.spec
	env, err := t.env(dir)
	if err != nil {
		return err
	}
	ck := t.newGuestCheckpoint(dir)
	if ck != nil && ck.backend == wire.BackendSignal {
		if err := os.MkdirAll(ck.dir, 0o700); err != nil {
			return fmt.Errorf("checkpoint folder: %w", err)
		}
		env = append(env, ck.env(spec.Resume != nil)...)
	}
	// The guest may write before Start returns; its output waits for
	// Started so the home always sees Started first.
	ready := make(chan struct{})
	g := &guest{d: d, stream: t.s.Stream, conn: t.c, ready: ready, limits: d.guestLimits(t.cl), ck: ck,
		info: Guest{JobID: spec.JobID, TaskID: spec.TaskID, HomePeer: t.remote, Argv: spec.Argv}}
	d.mu.Lock()
	if why := d.refusalLocked(t.cl); why != "" {
		d.mu.Unlock()
		return t.preempted(why, true)
	}
	t.cl.guest = g
	t.cl.expires = d.now().Add(d.lease)
	d.mu.Unlock()

	t.s.setIdle(0) // from here the lease, not the stream, decides
	lost := &atomic.Bool{}
	// The work dir holds other tasks and the shared input cache: hide it
	// too; the executor brings this task's own directory back.
	hide := []string{d.workDir}
	if d.e.opts.HomeDir != "" {
		hide = append(hide, d.e.opts.HomeDir)
	}
	es := ExecSpec{
		Argv:       spec.Argv,
		Dir:        dir,
		Env:        env,
		Stdout:     &outputWriter{c: t.c, lost: lost, log: t.log, ready: ready},
		Stderr:     &outputWriter{c: t.c, stderr: true, lost: lost, log: t.log, ready: ready},
		Hide:       hide,
		Limits:     g.limits,
		Migratable: spec.Checkpoint == wire.BackendCRIU,
	}
	var proc Process
	startedAt := time.Now()
	if criuImages != "" {
		m, _ := d.migrator() // checked before the task was accepted
		proc, err = m.Restore(context.Background(), es, criuImages)
		if err != nil {
			close(ready)
			t.log.Warn("criu restore failed", "err", err)
			d.e.stats().resumeFailed()
			t.s.setIdle(d.streamIdle())
			return t.finish(&wire.Exit{Code: -1, Preempted: true, ResumeFailed: wire.CleanText(err.Error(), wire.MaxReasonLen),
				Reason: "the checkpoint could not be restored here", UnixMs: time.Now().UnixMilli()}, "")
		}
	} else {
		proc, err = d.e.opts.Executor.Start(context.Background(), es)
	}
	if err != nil {
		close(ready)
		t.log.Info("guest did not start", "err", err)
		t.s.setIdle(d.streamIdle())
		return t.finish(&wire.Exit{Code: 127, Error: wire.CleanText("start: "+err.Error(), wire.MaxReasonLen), UnixMs: time.Now().UnixMilli()}, "")
	}
	started := time.Now()
	if spec.Resume != nil {
		t.resume.Restore = started.Sub(startedAt)
		d.e.stats().guestResumed(t.resume)
		t.log.Info("guest resumed", "receive", t.resume.Receive, "unpack", t.resume.Unpack, "restore", t.resume.Restore, "bytes", t.resume.Bytes)
	}
	g.started(proc, started)
	d.changed()
	t.log.Info("guest started", "pid", proc.Pid(), "argv", spec.Argv)
	if err := t.c.Send(&wire.Started{HostPeer: d.e.opts.Mesh.ID(), Pid: proc.Pid(), UnixMs: started.UnixMilli()}); err != nil {
		t.log.Info("started not delivered: the lease decides", "err", err)
	}
	close(ready)
	go t.readControl(g)
	pctx, stopPeriodic := context.WithCancel(context.Background())
	periodicDone := make(chan struct{})
	go func() {
		defer close(periodicDone)
		t.periodic(pctx, g, ck)
	}()
	if spec.TimeoutMs > 0 {
		limit := time.Duration(spec.TimeoutMs) * time.Millisecond
		timer := time.AfterFunc(limit, func() {
			g.setAction("killed: timeout")
			g.stop(fmt.Sprintf("timeout after %s", limit), false)
		})
		defer timer.Stop()
	}

	st, werr := proc.Wait()
	if ck != nil {
		close(ck.exited)
	}
	stopPeriodic()
	<-periodicDone
	d.releaseClaim(t.cl) // the slots are free as soon as the process is gone
	img, why, own := t.finalImage(ck, st)
	if img != nil {
		defer os.Remove(img.path)
	}
	reason, preempted, gone := g.outcome()
	if own {
		reason, preempted = "", false
	}
	d.e.stats().guestExited(st.CPU, preempted)
	t.log.Info("guest exited", "code", st.Code, "signal", st.Signal, "reason", reason, "cpu", st.CPU)
	if gone {
		return nil // the stream is reset: nobody to report to
	}
	t.s.setIdle(d.streamIdle())
	if img != nil {
		sendStart := time.Now()
		if err := t.shipImage(ck, img, time.Now(), true); err != nil {
			t.log.Warn("checkpoint not sent home", "err", err)
			return nil // the stream is broken: the home resumes from what it has
		}
		ck.mu.Lock()
		timing := ck.timing
		ck.mu.Unlock()
		timing.Send, timing.Bytes = time.Since(sendStart), img.size
		d.e.stats().guestMigrated(timing)
		reason = "migrated: " + reason
		t.log.Info("guest migrated", "freeze", timing.Freeze, "dump", timing.Dump, "pack", timing.Pack, "send", timing.Send, "bytes", timing.Bytes)
	} else if why != "" && preempted {
		reason += " (" + why + ")"
	}
	exit := &wire.Exit{
		Code: st.Code, Signal: st.Signal, Preempted: preempted, Reason: wire.CleanText(reason, wire.MaxReasonLen),
		UnixMs: time.Now().UnixMilli(), CPUMs: st.CPU.Milliseconds(),
	}
	if werr != nil {
		exit.Error = wire.CleanText("wait: "+werr.Error(), wire.MaxReasonLen)
	}
	return t.finish(exit, dir)
}

// readControl serves Renew and Cancel while the guest runs. A read error
// ends it quietly: a broken stream does not stop the guest, the lease does.
func (t *donorTask) readControl(g *guest) {
	for {
		m, err := t.c.Recv()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *wire.Renew:
			t.d.renew(t.cl)
		case *wire.Cancel:
			reason := "cancelled by home"
			if m.Reason != "" {
				reason += ": " + m.Reason
			}
			t.log.Info("cancel", "reason", m.Reason)
			g.setAction("killed: " + reason)
			g.stop(reason, false)
		default:
			t.log.Warn("ignoring unexpected message while the task runs", "kind", m.Kind())
		}
	}
}

// errTooManyOutputs stops the walk of a task dir with too many matches.
var errTooManyOutputs = fmt.Errorf("more than %d output files match", wire.MaxFiles)

// sendOutputs sends every regular file of dir matching the spec's globs,
// sorted by name. Files are opened through an os.Root and symlinks are
// skipped, so a guest cannot make the donor send a file outside its dir.
func (t *donorTask) sendOutputs(dir string) error {
	if len(t.spec.Outputs) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	defer root.Close()
	var names []string
	err = fs.WalkDir(root.FS(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return nil // unreadable dirs and non-regular files are not outputs
		}
		for _, g := range t.spec.Outputs {
			if ok, _ := path.Match(g, p); ok {
				if names = append(names, p); len(names) > wire.MaxFiles {
					return errTooManyOutputs
				}
				break
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	sort.Strings(names)
	var total int64
	for _, name := range names {
		if err := t.sendOutput(root, name, &total); err != nil {
			return err
		}
	}
	return nil
}

// sendOutput sends one output file, adding its size to total.
func (t *donorTask) sendOutput(root *os.Root, name string, total *int64) error {
	f, err := root.Open(name)
	if err != nil {
		return fmt.Errorf("output %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("output %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil // swapped for something else since the walk: not an output
	}
	if *total+fi.Size() > t.d.maxOutput {
		return fmt.Errorf("outputs exceed max_output %s of this donor: %s would bring them to %s",
			humanBytes(uint64(t.d.maxOutput)), name, humanBytes(uint64(*total+fi.Size())))
	}
	sha, size, err := hashReader(f)
	if err != nil {
		return fmt.Errorf("output %s: %w", name, err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return fmt.Errorf("output %s: %w", name, err)
	}
	*total += size
	if err := sendReader(t.c, name, f, sha, size, uint32(fi.Mode().Perm())); err != nil {
		return fmt.Errorf("output %s: %w", name, err)
	}
	return nil
}

// removeTaskDir deletes a task directory. A guest may have left directories
// without write permission, which stop RemoveAll when the daemon is not root:
// make them writable and try once more.
func removeTaskDir(dir string, log *slog.Logger) {
	if err := os.RemoveAll(dir); err == nil {
		return
	}
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		log.Warn("cannot remove task dir", "dir", dir, "err", err)
	}
}

// outputWriter turns the guest's writes into Output frames. When the stream
// breaks it keeps accepting (and dropping) output, so the guest neither
// blocks nor dies of SIGPIPE: whether it runs on is the lease's decision.
type outputWriter struct {
	c      *wire.Conn
	stderr bool
	lost   *atomic.Bool
	log    *slog.Logger
	ready  <-chan struct{} // closed once Started is sent
}

func (w *outputWriter) Write(p []byte) (int, error) {
	<-w.ready
	for rest := p; len(rest) > 0 && !w.lost.Load(); {
		n := min(len(rest), wire.ChunkSize)
		if err := w.c.Send(&wire.Output{Stderr: w.stderr, Data: rest[:n]}); err != nil {
			if !w.lost.Swap(true) {
				w.log.Info("guest output no longer delivered", "err", err)
			}
			break
		}
		rest = rest[n:]
	}
	return len(p), nil
}

// idleStream puts a deadline of idle from now on every read and write while
// idle is non-zero: a home that goes silent while files move is dropped.
type idleStream struct {
	wire.Stream
	idle atomic.Int64 // a time.Duration; 0 means no deadline
}

func (s *idleStream) setIdle(d time.Duration) {
	s.idle.Store(int64(d))
	if d == 0 {
		s.Stream.SetDeadline(time.Time{})
	} else {
		s.Stream.SetDeadline(time.Now().Add(d))
	}
}

func (s *idleStream) Read(p []byte) (int, error) {
	if d := time.Duration(s.idle.Load()); d > 0 {
		s.Stream.SetDeadline(time.Now().Add(d))
	}
	return s.Stream.Read(p)
}

func (s *idleStream) Write(p []byte) (int, error) {
	if d := time.Duration(s.idle.Load()); d > 0 {
		s.Stream.SetDeadline(time.Now().Add(d))
	}
	return s.Stream.Write(p)
}
