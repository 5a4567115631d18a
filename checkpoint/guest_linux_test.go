package checkpoint

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// needCRIU returns a working criu backend, or skips the test (fails it
// under CI, which installs criu with .ci/install-criu).
func needCRIU(tb testing.TB) *CRIUBackend {
	tb.Helper()
	c := NewCRIU("")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Check(ctx); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("criu is required under CI (.ci/run installs it with .ci/install-criu): %v", err)
		}
		tb.Skipf("criu not usable here: %v (run .ci/install-criu as root to get one)", err)
	}
	return c
}

// startGuest starts the test binary as helper name the way the engine must
// start a migratable guest: its own PID namespace (criu restores exact
// PIDs, so a restore elsewhere would clash without one), its own session
// and no tty, stdin from /dev/null and stdout to out.
func startGuest(tb testing.TB, name string, out *os.File, env ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, envHelper+"="+name)...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting helper %s: %v", name, err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}
