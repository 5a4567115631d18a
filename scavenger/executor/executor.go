// Package executor is the real scavenger.Executor: it runs other people's
// tasks on this machine without letting them disturb its owner or reach the
// daemon's secrets.
//
// Every guest runs in its own process group (so Stop reaches all it forked,
// and whatever is left of the group dies with the task), in its task
// directory, with exactly the environment it was given (nothing of the
// daemon's leaks), at nice 19, and never with the daemon's privileges. On
// Linux it also runs under SCHED_IDLE with no_new_privs set, and in a private
// mount namespace where every ExecSpec.Hide directory is an empty read-only
// tmpfs and every hidden file an unopenable device. A task directory inside a
// hidden directory stays reachable at its own path, alone: passing the
// parent of all task directories in Hide keeps guests out of each other's.
//
// How that is done on Linux depends on who runs the daemon:
//
//   - root: each Start takes an OS thread of its own, lowers the thread's
//     priority, unshares the thread's mount namespace and masks the hidden
//     paths in it, then forks the task from it, switching to the guest user
//     (default "nobody": its uid and primary gid, no supplementary groups)
//     just before exec. The thread is then thrown away. There is no helper
//     process, so the sandbox costs little more than a fork/exec.
//   - not root: an unprivileged process can get a mount namespace only
//     inside a new user namespace, which a multithreaded Go process cannot
//     unshare. So the task starts as a re-exec of this binary (the "guest
//     init") cloned into new user and mount namespaces; it masks the hidden
//     paths and execs the task in place, so Pid is still the task's. This
//     costs the binary's start-up time (a few milliseconds) per task.
//     Programs must therefore call Init first thing in main (and TestMain).
//     The guest runs as the daemon's own user, which the kernel lets signal
//     and trace the daemon: masking stops a guest from reading the daemon's
//     files, not from attacking the daemon's process. Only a root daemon
//     isolates its guests.
//
// Where namespaces are refused (some containers, seccomp, AppArmor), the
// executor warns once and carries on without them: as root the guest user
// is still kept out of the daemon's mode-0700 home by permissions; as non-root
// nothing can hide the home from a guest running as the same user, and the
// warning says so. Other systems get what they offer: see exec_unix.go and
// exec_windows.go.
//
// On Linux each guest also gets a cgroup of its own before its first
// instruction (see cgroup_linux.go), which carries its CPU and memory caps,
// freezes it as a whole, and lets Stop kill even the processes that left its
// process group. Without usable cgroups (a daemon that is not root and was
// not delegated any, other systems) guests are frozen with SIGSTOP of their
// process group and shared by their idle priority only; New logs that once.
//
// Migratable guests (ExecSpec.Migratable, Linux with a root daemon and
// Options.CRIU) can be checkpointed by criu and restored elsewhere (Dump,
// Restore). They differ from the above: they run under a small root init of
// their own PID namespace, and without the private mount namespace, so the
// hidden paths are kept from them by file permissions only. See
// migrate_linux.go and migrate_init_linux.go for why.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/scavenger"
)

// Options configure an Executor. The zero value is usable.
type Options struct {
	// GuestUser is the account guests run as when the daemon runs as root
	// (default "nobody"). It must not be root. A daemon that is not root
	// cannot switch users, so its guests run as its own user.
	GuestUser string
	// RootGuests runs guests as root, with no user switch. Only for
	// `scavenge bench migrate`, whose guests are its own fixed program on
	// a private in-process swarm, on machines whose root lacks the
	// CAP_SYS_RESOURCE criu needs to dump another user's process. A
	// daemon never sets it.
	RootGuests bool
	// DrainTimeout bounds how long Wait keeps reading a finished task's
	// output, for a process that escaped the task's process group (setsid)
	// and still holds its stdout (default 2s).
	DrainTimeout time.Duration
	// CgroupParent is the cgroup under which each guest gets one of its
	// own, as a path from the root of each cgroup hierarchy (default
	// "scavenge": /sys/fs/cgroup/<controller>/scavenge/<guest> on cgroup
	// v1, /sys/fs/cgroup/scavenge/<guest> on v2). Caps written on it by an
	// administrator bound all guests together. A daemon that is not root
	// can use it only if it was delegated: created and given to the
	// daemon's user (chown -R), and on v2 inside a subtree the daemon's own
	// cgroup shares a writable ancestor with. Guest cgroups are named
	// <daemon pid>-<its start time>-<n>; New removes those of daemons that
	// are no longer running, killing what is still in them.
	CgroupParent string
	// NoCgroups makes guests run without cgroups even where they could
	// have them: frozen with SIGSTOP of their process group and shared by
	// their idle priority only.
	NoCgroups bool
	// CRIU checkpoints migratable guests (ExecSpec.Migratable) and
	// restores them: see Dump, Restore and CanMigrate (Linux, root only).
	// Nil means no criu: a migratable Start then fails.
	CRIU   *checkpoint.CRIUBackend
	Logger *slog.Logger

	// forceCgroupV2 uses the cgroup v2 hierarchy even where v1 controllers
	// are mounted (a hybrid system), so tests can reach the v2 code there.
	forceCgroupV2 bool
}

// defaultCgroupParent is Options.CgroupParent's default.
const defaultCgroupParent = "scavenge"

// defaultDrainTimeout is long enough for output that is still in flight
// when the task exits and short enough not to hold a slot.
const defaultDrainTimeout = 2 * time.Second

// Executor starts sandboxed guests. It is safe for concurrent use.
type Executor struct {
	log *slog.Logger
	// guest is who guests run as when that is not the daemon itself (the
	// daemon is root); nil means the daemon's own user.
	guest *account
	drain time.Duration

	// noSandbox is set once namespaces turned out to be unavailable; from
	// then on guests start without them. degradeOnce logs that once.
	noSandbox   atomic.Bool
	degradeOnce sync.Once
	// exposed records hidden paths already warned about in degraded mode.
	exposed sync.Map
	// cgroups makes each guest's cgroup; nil when there are none to use.
	cgroups cgroupManager
	// criu dumps and restores migratable guests; nil without criu.
	criu *checkpoint.CRIUBackend
}

var _ scavenger.Executor = (*Executor)(nil)

// initCalled is set by Init in a normal (non guest init) process.
var initCalled atomic.Bool

// New returns an Executor. When the daemon runs as root it resolves the
// guest user now, so a wrong name fails at startup rather than per task.
// New fails if Init was not called: without it, a guest init re-exec would
// run the daemon's main instead.
func New(opts Options) (*Executor, error) {
	if !initCalled.Load() {
		return nil, errors.New("executor: Init was not called: call executor.Init() first thing in main (and in TestMain)")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Executor{
		log:   log.With("component", "executor"),
		drain: opts.DrainTimeout,
		criu:  opts.CRIU,
	}
	if e.drain <= 0 {
		e.drain = defaultDrainTimeout
	}
	if os.Geteuid() == 0 {
		name := opts.GuestUser
		if name == "" {
			name = "nobody"
		}
		acct, err := lookupAccount(name)
		if err != nil {
			return nil, fmt.Errorf("executor: guest user: %w", err)
		}
		e.guest = acct
		if opts.RootGuests {
			e.guest = &account{name: "root"}
		}
		e.log.Debug("guests run as", "user", e.guest.name, "uid", e.guest.uid, "gid", e.guest.gid)
	} else {
		// Hiding paths does not make a same-user guest harmless: the OS
		// lets it signal and trace the daemon and open /proc/<pid>/root.
		e.log.Warn("daemon is not root: guests run as its own user, which may signal, trace " +
			"and read the daemon's process; run the daemon as root to isolate guests")
	}
	if !opts.NoCgroups {
		cg, err := newCgroups(opts, e.log)
		if err != nil {
			return nil, fmt.Errorf("executor: %w", err)
		}
		e.cgroups = cg
	} else {
		e.log.Info("cgroups disabled: " + noCgroupConsequence)
	}
	return e, nil
}

// noCgroupConsequence says what guests lack without cgroups, for the log.
const noCgroupConsequence = "guests are " + noCgroupFreeze + ", shared by their " + priorityHow +
	" only, not capped in memory, and processes that leave their process group (setsid) escape Stop"

// launch is one validated ExecSpec, with paths made absolute and resolved.
type launch struct {
	argv   []string
	dir    string
	env    []string
	hide   []string // existing paths, shortest first
	stdout *os.File // the guest's ends of the output pipes; nil: /dev/null
	stderr *os.File
	cg     guestCgroup // the cgroup to start the guest in, or nil
	// migratable starts the guest for criu: see migrate_linux.go.
	migratable bool
}

// Start starts spec as a guest and returns once the task's own program is
// running (or failed to start). ctx bounds the start only: a started guest
// lives until it exits or is stopped, because the daemon stopping is not the
// task stopping.
func (e *Executor) Start(ctx context.Context, spec scavenger.ExecSpec) (scavenger.Process, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, errors.New("start guest: empty command")
	}
	name := spec.Argv[0]
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start guest %q: %w", name, err)
	}
	if spec.Migratable {
		if err := e.canStartMigratable(); err != nil {
			return nil, fmt.Errorf("start guest %q: %w", name, err)
		}
	}
	l, err := e.prepare(spec)
	if err != nil {
		return nil, fmt.Errorf("start guest %q: %w", name, err)
	}
	l.migratable = spec.Migratable
	out, err := openOutput(spec.Stdout, spec.Stderr)
	if err != nil {
		return nil, fmt.Errorf("start guest %q: %w", name, err)
	}
	l.stdout, l.stderr = out.stdout, out.stderr
	if e.cgroups != nil {
		// Made, with its caps, before the guest exists: it starts inside.
		if l.cg, err = e.cgroups.create(spec.Limits); err != nil {
			out.abort()
			return nil, fmt.Errorf("start guest %q: %w", name, err)
		}
	}
	cmd, err := e.start(l)
	// A program that was just written (an input placed by another
	// goroutine while a fork held its descriptor) can be briefly "text
	// file busy" (golang/go#22315): that passes, so try again shortly.
	for delay := 5 * time.Millisecond; errors.Is(err, syscall.ETXTBSY) && delay <= 160*time.Millisecond; delay *= 2 {
		time.Sleep(delay)
		cmd, err = e.start(l)
	}
	if err != nil {
		out.abort()
		if l.cg != nil {
			if rmErr := l.cg.remove(); rmErr != nil {
				e.log.Warn("remove cgroup of a guest that did not start", "err", rmErr)
			}
		}
		return nil, fmt.Errorf("start guest %q: %w", name, err)
	}
	out.started()
	e.log.Debug("guest started", "pid", cmd.Process.Pid, "argv", spec.Argv, "dir", l.dir)
	return newProcess(cmd.Process, out, l.cg, l.migratable, e.drain, e.log), nil
}

// command builds the exec.Cmd common to every start path; path is the
// program to execute and args its argv. Output goes straight to the pipes
// (*os.File), so os/exec starts no copying of its own.
func (l *launch) command(path string, args []string) *exec.Cmd {
	cmd := &exec.Cmd{Path: path, Args: args, Dir: l.dir, Env: l.env}
	if l.stdout != nil {
		cmd.Stdout = l.stdout
	}
	if l.stderr != nil {
		cmd.Stderr = l.stderr
	}
	return cmd
}

// unavailableError says the OS refused the sandbox itself (namespaces or
// mounts), as opposed to this one task failing to start. It makes the
// executor fall back to running without namespaces.
type unavailableError struct {
	op  string
	err error
}

func (u *unavailableError) Error() string { return u.op + ": " + u.err.Error() }
func (u *unavailableError) Unwrap() error { return u.err }

// warnExposed is the degraded mode's check that permissions still keep the
// guest user out of each hidden path; it warns once per exposed path.
func (e *Executor) warnExposed(hide []string) {
	if e.guest == nil {
		return // the guest is the daemon's user: permissions cannot help
	}
	for _, p := range hide {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o007 == 0 {
			continue
		}
		if _, seen := e.exposed.LoadOrStore(p, true); !seen {
			e.log.Warn("hidden path is open to other users, so guests can reach it: chmod o-rwx it",
				"path", p, "mode", fi.Mode().Perm())
		}
	}
}
