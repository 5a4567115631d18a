package checkpoint

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	criu "github.com/checkpoint-restore/go-criu/v8"
	"github.com/checkpoint-restore/go-criu/v8/rpc"
)

// Check says whether criu can checkpoint here: a binary, root, a recent
// enough version (asked over RPC, which also proves that swrk mode works
// through a wrapper script) and `criu check` passing.
func (c *CRIUBackend) Check(ctx context.Context) error {
	if c.path == "" {
		return ErrNoCRIU
	}
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("criu needs root to checkpoint, and this runs as uid %d", uid)
	}
	v, err := c.Version(ctx)
	if err != nil {
		return err
	}
	if v < MinCRIUVersion {
		return fmt.Errorf("criu %s at %s is older than %s (older ones fail on recent kernels): run .ci/install-criu",
			versionString(v), c.path, versionString(MinCRIUVersion))
	}
	out, err := exec.CommandContext(ctx, c.path, "check").CombinedOutput()
	if err != nil {
		return fmt.Errorf("criu check (%s, version %s) failed: %w: %s", c.path, versionString(v), err, lastLines(out, 3))
	}
	return nil
}

// Version asks criu for its version, as major*10000+minor*100+sublevel.
func (c *CRIUBackend) Version(ctx context.Context) (int, error) {
	if c.path == "" {
		return 0, ErrNoCRIU
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cr := criu.MakeCriu()
	cr.SetCriuPath(c.path)
	v, err := cr.GetCriuVersion()
	if err != nil {
		return 0, fmt.Errorf("criu at %s does not answer over RPC (criu swrk): %w", c.path, err)
	}
	return v, nil
}

// Dump checkpoints the process tree rooted at pid into imagesDir (created
// if missing). By default criu kills the tree once the image is complete;
// see DumpOptions for the other cases. It also records the root's stdio in
// StdioFile, so that a restore can reattach it.
//
// ctx bounds the start and, through criu's timeout, the time spent freezing
// the tree; a dump under way is never interrupted, because killing criu
// while its parasite code sits in the guest would crash the guest.
func (c *CRIUBackend) Dump(ctx context.Context, pid int, imagesDir string, o DumpOptions) error {
	if c.path == "" {
		return ErrNoCRIU
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.LeaveRunning && o.LeaveStopped {
		return fmt.Errorf("criu dump of pid %d: LeaveRunning and LeaveStopped both set", pid)
	}
	if err := os.MkdirAll(imagesDir, 0o700); err != nil {
		return fmt.Errorf("criu dump of pid %d: %w", pid, err)
	}
	if err := writeStdio(pid, imagesDir); err != nil {
		return fmt.Errorf("criu dump of pid %d: %w", pid, err)
	}
	dirs, err := openDirs(imagesDir, o.WorkDir)
	if err != nil {
		return fmt.Errorf("criu dump of pid %d: %w", pid, err)
	}
	defer dirs.close()

	opts := dirs.opts(DumpLog)
	opts.Pid = ptr(int32(pid))
	opts.LeaveRunning = ptr(o.LeaveRunning)
	opts.LeaveStopped = ptr(o.LeaveStopped)
	opts.TcpEstablished = ptr(o.TCPEstablished)
	opts.ShellJob = ptr(o.ShellJob)
	if o.FreezeCgroup != "" {
		opts.FreezeCgroup = ptr(o.FreezeCgroup)
	}
	if dl, ok := ctx.Deadline(); ok {
		opts.Timeout = ptr(uint32(max(1, time.Until(dl).Seconds())))
	}

	cr := criu.MakeCriu()
	cr.SetCriuPath(c.path)
	if err := cr.Dump(opts, nil); err != nil {
		return dirs.failure(fmt.Sprintf("criu dump of pid %d into %s", pid, imagesDir), DumpLog, err)
	}
	return nil
}

// Restore brings back the process tree dumped in imagesDir and returns its
// root process. The root is restored as a sibling of criu, that is as a
// child of the caller, so the returned Process can be waited for like one
// started with os/exec. A tree dumped from its own PID namespace gets a new
// one, so its PIDs cannot clash with those on this machine.
//
// Every file the tree had open must exist at the same path with the same
// size, and the executable too, except what opts.Inherit replaces.
func (c *CRIUBackend) Restore(ctx context.Context, imagesDir string, o RestoreOptions) (*os.Process, error) {
	if c.path == "" {
		return nil, ErrNoCRIU
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dirs, err := openDirs(imagesDir, o.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("criu restore from %s: %w", imagesDir, err)
	}
	defer dirs.close()

	opts := dirs.opts(RestoreLog)
	opts.RstSibling = ptr(true)
	opts.ShellJob = ptr(o.ShellJob)
	opts.TcpEstablished = ptr(o.TCPEstablished)

	cr := criu.MakeCriu()
	cr.SetCriuPath(c.path)
	for key, f := range o.Inherit {
		cr.AddInheritFd(key, f)
	}
	var n restoreNotify
	if err := cr.Restore(opts, &n); err != nil {
		return nil, dirs.failure("criu restore from "+imagesDir, RestoreLog, err)
	}
	if n.pid <= 0 {
		return nil, fmt.Errorf("criu restore from %s: criu reported no pid for the restored tree", imagesDir)
	}
	// The restored root is our child, so its pid cannot be reused before
	// we wait for it: FindProcess (a pidfd on Linux) is safe here.
	p, err := os.FindProcess(int(n.pid))
	if err != nil {
		return nil, fmt.Errorf("criu restore from %s: restored pid %d: %w", imagesDir, n.pid, err)
	}
	return p, nil
}

// restoreNotify catches the restored root's pid, which go-criu's Restore
// does not return: criu sends it in the post-restore notification.
type restoreNotify struct {
	criu.NoNotify
	pid int32
}

func (n *restoreNotify) PostRestore(pid int32) error {
	n.pid = pid
	return nil
}

// criuDirs holds the images and work folders open while criu runs: criu
// swrk opens them through /proc/<our pid>/fd/<n>.
type criuDirs struct {
	images, work *os.File
}

func openDirs(imagesDir, workDir string) (criuDirs, error) {
	var d criuDirs
	var err error
	if d.images, err = os.Open(imagesDir); err != nil {
		return d, err
	}
	if workDir == "" {
		workDir = imagesDir
	}
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		d.close()
		return d, err
	}
	if d.work, err = os.Open(workDir); err != nil {
		d.close()
		return d, err
	}
	return d, nil
}

func (d criuDirs) close() {
	for _, f := range []*os.File{d.images, d.work} {
		if f != nil {
			f.Close()
		}
	}
}

// opts are the options every call shares. Cgroups are ignored: a guest
// moves between machines whose cgroup trees differ, and the engine puts a
// restored guest into its own cgroup afterwards.
func (d criuDirs) opts(logName string) *rpc.CriuOpts {
	return &rpc.CriuOpts{
		ImagesDirFd:       ptr(int32(d.images.Fd())),
		WorkDirFd:         ptr(int32(d.work.Fd())),
		LogFile:           ptr(logName),
		LogLevel:          ptr(int32(2)), // errors and warnings: enough to say why
		ManageCgroupsMode: ptr(rpc.CriuCgMode_IGNORE),
	}
}

// failure builds the error for a failed criu call. go-criu's own error
// carries only criu's first error line, often a harmless one ("rlimit: Can't
// setup RLIMIT_NOFILE"), so the reason comes from the log: its last
// specific error lines, without their source locations.
func (d criuDirs) failure(what, logName string, err error) error {
	path := filepath.Join(d.work.Name(), logName)
	b, _ := os.ReadFile(path)
	var reasons []string
	for _, line := range strings.Split(string(b), "\n") {
		_, msg, ok := strings.Cut(line, "Error (")
		if !ok || genericCRIUError(msg) {
			continue
		}
		if _, after, ok := strings.Cut(msg, "): "); ok {
			msg = after
		}
		reasons = append(reasons, strings.TrimSpace(msg))
	}
	if len(reasons) > 2 {
		reasons = reasons[len(reasons)-2:]
	}
	reason := strings.Join(reasons, "; ")
	if reason == "" {
		reason = strings.Join(strings.Fields(err.Error()), " ")
	}
	return &CRIUError{Op: what, Reason: reason, Log: path, Err: err}
}

// genericCRIUError tells the lines that say nothing about the cause.
func genericCRIUError(msg string) bool {
	for _, s := range []string{"RLIMIT_NOFILE", "Dumping FAILED", "Restoring FAILED", "failed with -1"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

func versionString(v int) string {
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(string(bytes.TrimSpace(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
