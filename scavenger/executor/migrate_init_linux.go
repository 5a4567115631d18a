package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/scavenge/scavenge/scavenger"
)

// A migratable guest's PID namespace is led by the migratable init: this
// binary re-executed as root, which starts the task as the guest user and
// waits for it. criu needs that: to dump a PID namespace it injects code into
// the namespace's first process to get a /proc of that namespace, which it
// finds at /proc only in a mount namespace of the guest's own, and otherwise
// mounts, which takes CAP_SYS_ADMIN ("can't dump unprivileged task whose
// /proc doesn't belong to it"). The guest itself never has any privilege:
// only the init, which runs no guest code, is root; the guest user cannot
// signal or trace it. The init also makes Stop's SIGTERM reach a task that
// does not handle it: the kernel drops such signals sent to a namespace's
// PID 1 from outside, and the task is not PID 1.
//
// The init's program is part of the image, so a restore needs this same
// binary at the same path (criu checks its size): daemons that restore each
// other's guests must run the same build, installed at the same place.
const (
	migInitArg0 = "scavenge-migratable-init"
	migInitEnv  = "SCAVENGE_MIGRATABLE_INIT"
)

// migInitConfig is the migratable init's job, in its environment (which
// only root can read) because it carries the guest's environment.
type migInitConfig struct {
	Path string   `json:"path"`
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
	UID  uint32   `json:"uid"`
	GID  uint32   `json:"gid"`
}

// startMigratable starts the migratable init for program path, in a new PID
// namespace and session, from the calling (prepared, disposable) thread, and
// returns once the task runs or with the init's reason why it could not.
func startMigratable(l *launch, path string, cgroupFD int, guest *account) (*exec.Cmd, error) {
	cfg, err := json.Marshal(migInitConfig{Path: path, Argv: l.argv, Env: l.env, Dir: l.dir, UID: guest.uid, GID: guest.gid})
	if err != nil {
		return nil, fmt.Errorf("encode migratable init config: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("migratable init status pipe: %w", err)
	}
	defer r.Close()
	cmd := l.command("/proc/self/exe", []string{migInitArg0})
	// Go's runtime would otherwise keep its cgroup's CPU limit files open
	// to follow them (container-aware GOMAXPROCS), and criu can restore an
	// open file only where its path exists, which a cgroup's does not on
	// another machine. One thread is all the init needs anyway.
	cmd.Env = []string{migInitEnv + "=" + string(cfg), "GOMAXPROCS=1", "GODEBUG=containermaxprocs=0,updatemaxprocs=0"}
	cmd.ExtraFiles = []*os.File{w} // fd 3, closed by the init once the task runs
	cmd.SysProcAttr = guestAttr(cgroupFD)
	migratableAttr(cmd.SysProcAttr)
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, err
	}
	msg, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err == nil && len(msg) == 0 {
		return cmd, nil
	}
	_ = cmd.Wait() // the init exits right after reporting
	if err != nil {
		return nil, fmt.Errorf("read migratable init status: %w", err)
	}
	var rep initReport
	if err := json.Unmarshal(msg, &rep); err != nil {
		return nil, fmt.Errorf("migratable init: %s", msg)
	}
	return nil, rep.error()
}

// migratableInit is the init's whole life: start the task as the guest
// user in this session and process group, reap every process of the
// namespace (it is their PID 1), and exit as the task did: with its code, or
// 128 + the signal that killed it (a namespace's init cannot die of a
// signal it sends itself), which the daemon turns back into the signal.
func migratableInit(raw string) {
	_, _ = unix.FcntlInt(statusFD, unix.F_SETFD, unix.FD_CLOEXEC)
	var cfg migInitConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		report(failure("config", "decode config", err))
		os.Exit(127)
	}
	// Caught, not ignored: an ignored signal would stay ignored in the
	// task across exec. The task gets them itself, as the group's member.
	signal.Notify(make(chan os.Signal, 1), unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	cmd := &exec.Cmd{Path: cfg.Path, Args: cfg.Argv, Env: cfg.Env, Dir: cfg.Dir,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: cfg.UID, Gid: cfg.GID, Groups: []uint32{}}}
	if err := cmd.Start(); err != nil {
		report(failure("exec", "start the task as the guest user", err))
		os.Exit(127)
	}
	task := cmd.Process.Pid
	// Reaped below with wait4, not through os.Process: let go of the pidfd
	// it holds, one open file less for criu to dump.
	_ = cmd.Process.Release()
	// criu's code runs in this process during a dump and creates a
	// directory relative to its working directory: make that one the guest
	// cannot touch, never the task directory the guest owns. Done before
	// the daemon hears the task runs, so no dump can come first.
	_ = unix.Chdir("/")
	unix.Close(statusFD)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			os.Exit(127) // ECHILD: cannot happen while the task lives
		}
		if pid != task {
			continue // an orphan of the task's, reparented to us
		}
		if ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ws.ExitStatus())
	}
}

// killedByInit turns the exit code 128+n with which a migratable guest's
// init reports that the task died of signal n back into that signal. A task
// that exits with such a code by itself is reported as killed too: the init
// cannot tell the two apart.
func (p *process) killedByInit(st *scavenger.ExitStatus) {
	if !p.migratable || st.Signal != "" || st.Code <= 128 || st.Code >= 128+65 {
		return
	}
	st.Signal = unix.Signal(st.Code - 128).String()
	st.Code = -1
}
