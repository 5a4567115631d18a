package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// statusFD is the guest init's status pipe (the first of cmd.ExtraFiles).
const statusFD = 3

// Init must be the first thing main (and TestMain) does. In the daemon it
// returns at once. In a guest init (this binary re-executed by the executor
// for a daemon that is not root) it sets up the sandbox and execs the task,
// so it never returns; if it cannot, it reports why to the daemon and exits
// with status 127.
func Init() {
	if len(os.Args) > 0 && os.Args[0] == migInitArg0 {
		if cfg, ok := os.LookupEnv(migInitEnv); ok {
			migratableInit(cfg) // never returns
		}
	}
	cfg, ok := os.LookupEnv(initEnv)
	if !ok || len(os.Args) == 0 || os.Args[0] != initArg0 {
		initCalled.Store(true)
		return
	}
	// Ambient capabilities are per thread and exec keeps only the calling
	// thread: do everything on one.
	runtime.LockOSThread()
	_, _ = unix.FcntlInt(statusFD, unix.F_SETFD, unix.FD_CLOEXEC) // the task must not inherit it
	rep := guestInit(cfg)
	report(rep)
	os.Exit(127)
}

// guestInit hides the hidden paths in the (new, empty-handed) mount
// namespace, drops the capability it was lent for that, and execs the task.
// It returns only on failure.
func guestInit(raw string) *initReport {
	var cfg initConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return failure("config", "decode config", err)
	}
	if err := maskPaths(cfg.Hide, cfg.Dir); err != nil {
		return failure("sandbox", "hide paths", err)
	}
	// The working directory was inherited before the masks went up; if it
	// lies inside a hidden directory it still points at the covered tree,
	// whose ".." leads back into what is hidden. Enter it again by path.
	if err := unix.Chdir(cfg.Dir); err != nil {
		return failure("sandbox", "chdir "+cfg.Dir, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return failure("sandbox", "drop capabilities", err)
	}
	err := unix.Exec(cfg.Path, cfg.Argv, cfg.Env)
	return failure("exec", "exec "+cfg.Path, err)
}

// failure builds the report for err at stage, keeping its errno.
func failure(stage, op string, err error) *initReport {
	rep := &initReport{Stage: stage, Op: op, Msg: fmt.Sprintf("%s: %v", op, err)}
	var errno unix.Errno
	if errors.As(err, &errno) {
		rep.Errno = int(errno)
	}
	return rep
}

// report sends rep to the daemon, or to stderr when the init was not
// started by one (no status pipe).
func report(rep *initReport) {
	b, _ := json.Marshal(rep)
	if _, err := unix.Write(statusFD, b); err != nil {
		fmt.Fprintf(os.Stderr, "scavenge guest init: %s\n", rep.Msg)
	}
}
