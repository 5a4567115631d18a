package executor

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// The guest init is this same binary started with argv[0] = initArg0 and
// its whole job in the environment variable initEnv; Init recognises it.
const (
	initArg0 = "scavenge-guest-init"
	initEnv  = "SCAVENGE_GUEST_INIT"
)

// initConfig is the guest init's job. It travels in the init's environment,
// which only the daemon's user can read, rather than in argv, which anyone
// can read in ps, because it carries the guest's environment.
type initConfig struct {
	Path string   `json:"path"` // the resolved program
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
	Hide []string `json:"hide"`
}

// initReport is what a guest init that could not exec writes to its status
// pipe (fd 3). A successful exec closes the pipe without a word.
type initReport struct {
	Stage string `json:"stage"` // "sandbox" or "exec"
	Op    string `json:"op"`
	Errno int    `json:"errno,omitempty"`
	Msg   string `json:"msg"`
}

// startInit starts the guest init for program path in new user and mount
// namespaces, mapping the daemon's uid and gid to themselves so the guest
// keeps its identity, and in the guest's cgroup v2 if given one (cgroupFD
// >= 0; on v1 it inherits the calling thread's cgroups). The init gets
// CAP_SYS_ADMIN within its namespace as an ambient capability, since the
// exec into the init would otherwise drop it, and clears it before it execs
// the task. startInit returns once the task's program runs, or with the
// init's reason why it could not.
func startInit(l *launch, path string, cgroupFD int) (*exec.Cmd, error) {
	cfg, err := json.Marshal(initConfig{Path: path, Argv: l.argv, Env: l.env, Dir: l.dir, Hide: l.hide})
	if err != nil {
		return nil, fmt.Errorf("encode guest init config: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("guest init status pipe: %w", err)
	}
	defer r.Close()
	// /proc/self/exe rather than os.Executable: it is this very binary even
	// if the file was replaced by an upgrade since the daemon started.
	cmd := l.command("/proc/self/exe", []string{initArg0})
	cmd.Env = []string{initEnv + "=" + string(cfg)}
	cmd.ExtraFiles = []*os.File{w} // fd 3
	uid, gid := os.Getuid(), os.Getgid()
	cmd.SysProcAttr = guestAttr(cgroupFD)
	cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS
	cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
	cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	cmd.SysProcAttr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, namespaceError("start guest init in a user namespace", err)
	}
	msg, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err == nil && len(msg) == 0 {
		return cmd, nil
	}
	_ = cmd.Wait() // the init exits right after reporting
	if err != nil {
		return nil, fmt.Errorf("read guest init status: %w", err)
	}
	var rep initReport
	if err := json.Unmarshal(msg, &rep); err != nil {
		return nil, fmt.Errorf("guest init: %s", msg)
	}
	return nil, rep.error()
}

// error turns a report back into an error the caller can inspect: the errno
// survives, and the OS refusing mounts means the sandbox is unavailable.
func (rep *initReport) error() error {
	err := &reportedError{msg: rep.Msg, errno: syscall.Errno(rep.Errno)}
	if rep.Stage == "sandbox" && (err.errno == unix.EPERM || err.errno == unix.EACCES) {
		return &unavailableError{op: "guest init", err: err}
	}
	return err
}

// reportedError is an error from the guest init: its message, and its errno
// for errors.Is.
type reportedError struct {
	msg   string
	errno syscall.Errno
}

func (r *reportedError) Error() string { return r.msg }

func (r *reportedError) Unwrap() error {
	if r.errno == 0 {
		return nil
	}
	return r.errno
}
