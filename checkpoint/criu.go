package checkpoint

import (
	"errors"
	"os"
	"os/exec"
)

// EnvCRIU names the environment variable that points at the criu binary (or
// a wrapper script that execs it). The config key, when set, wins over it.
const EnvCRIU = "SCAVENGE_CRIU"

// DefaultCRIUWrapper is where .ci/install-criu puts its wrapper script.
const DefaultCRIUWrapper = "/opt/scavenge-criu/criu"

// MinCRIUVersion is the oldest criu accepted, as major*10000+minor*100+sub.
// Debian 12's 3.17 fails to dump on recent kernels ("Unexpected rt vDSO
// area bounds"); 4.1 is the version tested here.
const MinCRIUVersion = 40000

// ErrNoCRIU means no criu binary was found. Its text names the ways to get one.
var ErrNoCRIU = errors.New("criu not found: set " + EnvCRIU + " or the config key, or run .ci/install-criu")

// CRIUBackend checkpoints a Linux process tree with CRIU, talking to it over
// its RPC interface (criu swrk) through go-criu. It is safe for concurrent
// use: every call runs its own criu process.
type CRIUBackend struct {
	path string
}

// NewCRIU returns the criu backend using the binary at path, or the one
// [FindCRIU] finds when path is "". It does not check that it works: that
// is [CRIUBackend.Check].
func NewCRIU(path string) *CRIUBackend {
	if path == "" {
		path = FindCRIU()
	}
	return &CRIUBackend{path: path}
}

// Name returns CRIU.
func (c *CRIUBackend) Name() string { return CRIU }

// Path returns the criu binary in use, "" when none was found.
func (c *CRIUBackend) Path() string { return c.path }

// FindCRIU returns the criu to use when none is configured: $SCAVENGE_CRIU,
// then the install script's wrapper, then criu in PATH; "" when none exists.
// The PATH one comes last because a distribution's criu may be too old for
// the kernel (see MinCRIUVersion).
func FindCRIU() string {
	if p := os.Getenv(EnvCRIU); p != "" {
		return p
	}
	if st, err := os.Stat(DefaultCRIUWrapper); err == nil && !st.IsDir() {
		return DefaultCRIUWrapper
	}
	if p, err := exec.LookPath("criu"); err == nil {
		return p
	}
	return ""
}

// DumpOptions tune a dump. The zero value is a migration: the process tree
// is dumped and then killed by criu, only once its image is complete.
type DumpOptions struct {
	// LeaveRunning keeps the tree running after the dump (a periodic
	// checkpoint). LeaveStopped keeps it stopped instead (SIGSTOP'ed), so
	// that the caller can ship the image and kill it only once it landed.
	// At most one of them may be set.
	LeaveRunning bool
	LeaveStopped bool
	// TCPEstablished dumps open TCP connections; restoring them elsewhere
	// needs the same IP address, so migration leaves it false and a guest
	// with a connection fails to dump, with criu's reason.
	TCPEstablished bool
	// ShellJob allows a tree whose session or process group leader is
	// outside it (a guest started without setsid).
	ShellJob bool
	// FreezeCgroup is the freezer cgroup (v1 path, or v2 directory) of the
	// guest. criu then stops the tree with it, which is faster than ptrace
	// for many threads, and a tree already frozen by the caller stays
	// frozen until the dump is done.
	FreezeCgroup string
	// WorkDir receives criu's log (dump.log); default: the images folder.
	WorkDir string
}

// RestoreOptions tune a restore.
type RestoreOptions struct {
	// Inherit hands criu open files to use in place of resources the
	// dumped tree had open outside it, by key as in [StdioKeys]: the
	// daemon's new ends of the guest's stdout and stderr pipes, say.
	Inherit map[string]*os.File
	// ShellJob must match the dump's.
	ShellJob bool
	// TCPEstablished must match the dump's.
	TCPEstablished bool
	// WorkDir receives criu's log (restore.log); default: the images folder.
	WorkDir string
}

// DumpLog and RestoreLog are the names of criu's logs in the work folder.
const (
	DumpLog    = "dump.log"
	RestoreLog = "restore.log"
)

// StdioFile is written into the images folder by Dump: what the dumped
// root process had open as fds 0, 1 and 2, as criu inherit-fd keys.
const StdioFile = "scavenge-stdio.json"

// CRIUError is a failed dump or restore. Reason is criu's own explanation,
// fit for status ("inet: Connected TCP socket, consider using
// --tcp-established option."); the full story is in Log.
type CRIUError struct {
	Op     string // "criu dump of pid 42 into /path"
	Reason string
	Log    string
	Err    error // go-criu's error
}

func (e *CRIUError) Error() string { return e.Op + " failed: " + e.Reason + " (log: " + e.Log + ")" }
func (e *CRIUError) Unwrap() error { return e.Err }
