package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/scavenger"
)

// Migratable guests (ExecSpec.Migratable) are started so that criu can dump
// them here and restore them on another machine:
//
//   - the guest has a PID namespace of its own, because criu restores exact
//     PIDs and those would clash elsewhere; the restored tree gets a new PID
//     namespace again. Its PID 1 is the migratable init (root, running no
//     guest code: see migrate_init_linux.go), which starts the task as the
//     guest user and waits for it; Pid is the init's;
//   - the init leads a session of its own (setsid), which the task shares,
//     with no terminal, so the tree criu dumps holds its whole session;
//   - stdin is /dev/null and stdout and stderr are pipes, which a restore
//     reattaches to new pipes (checkpoint.StdioKeys, inherit-fd).
//
// The task still runs as the guest user, at nice 19 under SCHED_IDLE with
// no_new_privs, in a cgroup of its own with the spec's caps. criu keeps the
// identity and the scheduling of the dumped tree in its image, so a
// restored guest has them too.
//
// Unlike other guests they get NO private mount namespace, so ExecSpec.Hide
// is enforced by file permissions only (the daemon's home must be mode 0700;
// the task never runs as root or as the daemon's user). The reason: a tree
// in a mount namespace of its own makes criu dump that namespace with every
// mount in it, a copy of the whole host's mount table (the root filesystem,
// /proc, /sys, the cgroup mounts, /dev...), which it can restore only given
// a new root (--root) and external-mount mappings for each of those; on
// another machine they differ, and so does the home to hide. Tried with
// criu 4.1.1: the dump of such a guest fails at its first file ("Can't
// lookup mount=... for fd=... path=/dev/null").
//
// criu reads the resource limits of every process it dumps, which the
// kernel allows on another user's process only with CAP_SYS_RESOURCE: a
// daemon without it (some containers) cannot migrate guests of the guest
// user, and CanMigrate says so.

// migratableAttr turns a guest's start attributes into a migratable
// guest's: a session (which is also its process group) and a PID namespace
// of its own.
func migratableAttr(a *syscall.SysProcAttr) {
	a.Setpgid = false // setsid makes the group; setpgid would then fail
	a.Setsid = true
	a.Cloneflags |= unix.CLONE_NEWPID
}

// canStartMigratable says why a migratable guest cannot start here: criu
// not configured, or a daemon that is not root (criu needs root, and only
// root can create a PID namespace without a user namespace, which criu
// would then have to dump as well).
func (e *Executor) canStartMigratable() error {
	if e.criu == nil {
		return errNoCRIUConfigured
	}
	if os.Geteuid() != 0 {
		return errors.New("migratable guest: criu needs the daemon to run as root")
	}
	return nil
}

// errNoCRIUConfigured says the executor was built without Options.CRIU.
var errNoCRIUConfigured = errors.New("migratable guest: this executor has no criu (Options.CRIU is nil)")

// canMigrateTimeout bounds CanMigrate's criu check.
const canMigrateTimeout = 30 * time.Second

// CanMigrate says whether this executor can start, dump and restore
// migratable guests: nil when Options.CRIU is set, the daemon is root and
// criu's own check passes (a criu of at least checkpoint.MinCRIUVersion
// answering over RPC, `criu check` content). It runs criu, which takes some
// tens of milliseconds: call it once at start-up, not per guest.
func (e *Executor) CanMigrate() error {
	if err := e.canStartMigratable(); err != nil {
		return err
	}
	if err := e.canDumpGuestUser(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), canMigrateTimeout)
	defer cancel()
	if err := e.criu.Check(ctx); err != nil {
		return fmt.Errorf("criu: %w", err)
	}
	return nil
}

// canDumpGuestUser checks that criu, run by this daemon, may read the
// resource limits of a process of the guest user, which every dump does:
// the kernel allows that to a process of another user only with
// CAP_SYS_RESOURCE. Any ordinary root has it; a container or a service
// with a reduced capability set may not ("Can't get rlimit 0: Operation not
// permitted" in criu's log).
func (e *Executor) canDumpGuestUser() error {
	if e.guest == nil || e.guest.uid == 0 {
		return nil
	}
	has, err := HasCapSysResource()
	if err != nil {
		return fmt.Errorf("migratable guests: %w", err)
	}
	if !has {
		return fmt.Errorf("migratable guests: criu cannot dump processes of the guest user %s: "+
			"the daemon lacks CAP_SYS_RESOURCE (a container or service with reduced capabilities?)", e.guest.name)
	}
	return nil
}

// HasCapSysResource reports whether this process has CAP_SYS_RESOURCE,
// without which criu cannot dump a process of another user.
func HasCapSysResource() (bool, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false, fmt.Errorf("read the daemon's capabilities: %w", err)
	}
	return data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0, nil
}

var _ scavenger.Migrator = (*Executor)(nil)

// Dump writes a criu image of guest p, started Migratable by an Executor
// (this one or another of this process), into imagesDir. It stops the
// guest through its cgroup freezer where it has one (criu's FreezeCgroup),
// else with ptrace; a guest frozen with Freeze before stays frozen
// throughout. The guest is stopped while criu works in either case, and a
// Freeze, Thaw or Limit called meanwhile waits until the dump is done.
//
// With leaveRunning the guest goes on afterwards, in the state it was in
// (frozen if it was). Without, criu kills it once the image is complete, so
// it is dead when Dump returns nil, and its Wait returns ExitStatus{Code:
// -1, Signal: SignalCheckpointed, CPU: what it used here} with a nil error.
// A failed dump leaves the guest as it was and returns criu's reason as a
// *checkpoint.CRIUError (errors.As) where criu gave one: a guest with an
// open TCP connection, say.
func (e *Executor) Dump(ctx context.Context, gp scavenger.Process, imagesDir string, leaveRunning bool) error {
	p, ok := gp.(*process)
	if !ok {
		return fmt.Errorf("dump guest: %T is not a guest of this executor", gp)
	}
	if e.criu == nil {
		return fmt.Errorf("dump guest %d: %w", p.Pid(), errNoCRIUConfigured)
	}
	if !p.migratable {
		return fmt.Errorf("dump guest %d: it was not started Migratable (it shares the daemon's PID namespace and session)", p.Pid())
	}
	p.ctl.Lock()
	defer p.ctl.Unlock()
	p.dumping.Lock()
	defer p.dumping.Unlock()
	if p.isGone() {
		return fmt.Errorf("dump guest %d: %w", p.Pid(), os.ErrProcessDone)
	}
	opts := checkpoint.DumpOptions{LeaveRunning: leaveRunning}
	if c, ok := p.cg.(*cgroup); ok && c.m.hasFreezer {
		opts.FreezeCgroup = c.dir("freezer")
	}
	if !leaveRunning {
		p.sampleCPU() // criu's kill would lose the task's part
	}
	start := time.Now()
	if err := e.criu.Dump(ctx, p.Pid(), imagesDir, opts); err != nil {
		return fmt.Errorf("dump guest %d: %w", p.Pid(), err)
	}
	if leaveRunning {
		p.log.Debug("guest checkpointed, running on", "images", imagesDir, "took", time.Since(start))
		return nil
	}
	p.checkpointed = true
	// criu restores the freezer state it found, and a process frozen by the
	// v1 freezer dies of SIGKILL only once thawed.
	if err := p.thawLocked(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.log.Warn("thaw the dumped guest so criu's kill ends it", "err", err)
	}
	select {
	case <-p.exited:
	case <-time.After(killTimeout):
		return fmt.Errorf("dump guest %d: criu reported the dump done but the guest is still alive after %v", p.Pid(), killTimeout)
	}
	p.log.Debug("guest checkpointed and ended", "images", imagesDir, "took", time.Since(start))
	return nil
}

// Restore brings back the guest dumped in imagesDir (by Dump, here or on
// another machine) and returns it running, as a child of this process.
//
// spec.Dir must be the task directory the guest was dumped in, at the same
// absolute path, with the files it had open (same size); the executable and
// the libraries it runs must be there too. The directory is given to the
// guest user, as for Start. spec.Stdout and spec.Stderr receive what the
// restored guest writes on the pipes it had as stdout and stderr (if both
// were the same pipe, Stdout gets all of it); Argv and Env are not used,
// the image has them. spec.Limits are set on a new cgroup into which the
// whole restored tree is moved before Restore returns, so Freeze, Thaw,
// Limit and Stop work as for a started guest; its Wait reports the exit code
// and the CPU used since the restore. The guest stays migratable.
//
// A failed restore returns criu's reason as a *checkpoint.CRIUError
// (errors.As), and leaves nothing behind.
func (e *Executor) Restore(ctx context.Context, spec scavenger.ExecSpec, imagesDir string) (scavenger.Process, error) {
	if err := e.canStartMigratable(); err != nil {
		return nil, fmt.Errorf("restore guest from %s: %w", imagesDir, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("restore guest from %s: %w", imagesDir, err)
	}
	l, err := e.prepare(spec)
	if err != nil {
		return nil, fmt.Errorf("restore guest from %s: %w", imagesDir, err)
	}
	e.warnExposed(l.hide)
	out, err := openOutput(spec.Stdout, spec.Stderr)
	if err != nil {
		return nil, fmt.Errorf("restore guest from %s: %w", imagesDir, err)
	}
	inherit, closeInherit, stdioErr := inheritStdio(imagesDir, out)
	defer closeInherit()
	var cg guestCgroup
	if e.cgroups != nil {
		if cg, err = e.cgroups.create(spec.Limits); err != nil {
			out.abort()
			return nil, fmt.Errorf("restore guest from %s: %w", imagesDir, err)
		}
	}
	fail := func(err error) (scavenger.Process, error) {
		out.abort()
		if cg != nil {
			if rmErr := cg.remove(); rmErr != nil {
				e.log.Warn("remove cgroup of a guest that was not restored", "err", rmErr)
			}
		}
		return nil, fmt.Errorf("restore guest from %s: %w", imagesDir, err)
	}
	start := time.Now()
	proc, err := e.criu.Restore(ctx, imagesDir, checkpoint.RestoreOptions{Inherit: inherit})
	if err != nil {
		if stdioErr != nil {
			err = fmt.Errorf("%w (and its stdio could not be reattached: %v)", err, stdioErr)
		}
		return fail(err)
	}
	if stdioErr != nil {
		e.log.Warn("restored guest's output is not reattached", "pid", proc.Pid, "err", stdioErr)
	}
	if cg != nil {
		if err := moveTree(cg.(*cgroup), proc.Pid); err != nil {
			// Not controllable as promised: end it rather than let it run
			// uncapped and unfreezable.
			_ = signalGroup(proc, os.Kill)
			_, _ = proc.Wait()
			return fail(fmt.Errorf("move restored guest %d into its cgroup: %w", proc.Pid, err))
		}
	}
	// A guest dumped while stopped by SIGSTOP (Freeze without a cgroup
	// freezer) comes back stopped; Restore promises it running.
	if err := pauseGroup(proc, false); err != nil {
		e.log.Warn("continue the restored guest", "pid", proc.Pid, "err", err)
	}
	out.started()
	e.log.Debug("guest restored", "pid", proc.Pid, "images", imagesDir, "dir", l.dir, "took", time.Since(start))
	return newProcess(proc, out, cg, true, e.drain, e.log), nil
}

// inheritStdio maps the pipes the dumped guest had as stdout and stderr to
// the new pipes of out (or to /dev/null where out has none), for criu's
// inherit-fd. Other stdio (a file, /dev/null) criu reopens by itself. An
// error reading the dump's stdio is returned apart: the restore is still
// tried, and criu then says what is wrong with the image. closeAll closes
// what inheritStdio opened.
func inheritStdio(imagesDir string, out *output) (inherit map[string]*os.File, closeAll func(), err error) {
	var opened []*os.File
	closeAll = func() {
		for _, f := range opened {
			f.Close()
		}
	}
	keys, err := checkpoint.StdioKeys(imagesDir)
	if err != nil {
		return nil, closeAll, err
	}
	inherit = map[string]*os.File{}
	for i, f := range []*os.File{out.stdout, out.stderr} {
		key := keys[1+i]
		if !strings.HasPrefix(key, "pipe:") {
			continue
		}
		if _, done := inherit[key]; done {
			continue // stdout and stderr were one pipe: stdout's wins
		}
		if f == nil {
			null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				return nil, closeAll, err
			}
			opened = append(opened, null)
			f = null
		}
		inherit[key] = f
	}
	return inherit, closeAll, nil
}

// moveTree moves every process of the PID namespace whose root is pid into
// c. criu restores a tree into its own cgroups (it ignores the dumped ones:
// they belong to another machine), and the tree runs meanwhile, so it may
// fork: passes go on until one finds no process it had not moved already.
// A process forked after its parent moved starts in c by itself.
func moveTree(c *cgroup, pid int) error {
	ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err != nil {
		return err
	}
	moved := map[int]bool{}
	for pass := 0; ; pass++ {
		pids, err := namespacePids(ns)
		if err != nil {
			return err
		}
		fresh := 0
		for _, p := range pids {
			if moved[p] {
				continue
			}
			fresh++
			for _, d := range c.dirs {
				err := writeCgroupFile(d, "cgroup.procs", strconv.Itoa(p))
				if err != nil && !errors.Is(err, unix.ESRCH) {
					return err
				}
			}
			moved[p] = true
		}
		if fresh == 0 {
			return nil
		}
		if pass > 1000 {
			return fmt.Errorf("the tree of %d keeps forking faster than it can be moved", pid)
		}
	}
}

// namespacePids lists the processes whose PID namespace is ns (as the
// /proc/<pid>/ns/pid link reads).
func namespacePids(ns string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(filepath.Join("/proc", ent.Name(), "ns/pid")); err == nil && link == ns {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// sampleCPU records the CPU used so far by the guest's whole tree, for a
// migratable guest about to be killed. Its init reports the task's CPU
// only once it has reaped the task, which a kill of the whole namespace
// (Stop, criu's kill after a dump) never lets it do. The sample misses what
// is used between it and the kill: nothing for a frozen guest.
func (p *process) sampleCPU() {
	if !p.migratable {
		return
	}
	if cpu, err := treeCPU(p.Pid()); err == nil {
		p.cpuSeen.Store(int64(cpu))
	}
}

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100
// on every Linux port).
const clockTick = 10 * time.Millisecond

// treeCPU is the CPU time used by every process of the PID namespace led by
// pid: each one's own, and that of the children it reaped.
func treeCPU(pid int) (time.Duration, error) {
	ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err != nil {
		return 0, err
	}
	pids, err := namespacePids(ns)
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, p := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		// utime, stime, cutime, cstime: fields 14 to 17, after the state
		// (field 3) at index 0.
		for _, i := range []int{14, 15, 16, 17} {
			if n, err := strconv.ParseInt(f[i-3], 10, 64); err == nil {
				ticks += n
			}
		}
	}
	return time.Duration(ticks) * clockTick, nil
}
