//go:build linux

package executor_test

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/executor"
)

// TestMain lets the test binary serve as a guest init, as the daemon does,
// and as the owner's workload in BenchmarkOwnerInterference.
func TestMain(m *testing.M) {
	executor.Init()
	if spec, ok := os.LookupEnv(ownerWorkEnv); ok {
		os.Exit(ownerWork(spec))
	}
	os.Exit(m.Run())
}

// guestPATH is the search path given to test guests.
const guestPATH = "PATH=/usr/bin:/bin"

// mode is one way the executor can run on this machine.
type mode struct {
	name         string
	noNamespaces bool
}

var modes = []mode{{"sandbox", false}, {"no-namespaces", true}}

// testCgroupParent is where test guests get their cgroups, apart from a
// real daemon's; TestAsNonRoot sets one delegated to the user it runs as.
func testCgroupParent() string {
	if p := os.Getenv("SCAVENGE_TEST_CGROUP_PARENT"); p != "" {
		return p
	}
	return "scavenge-test"
}

// logBuffer keeps what the executor logged, for tests about warnings.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newExecutor returns an executor in mode m logging to t (and to the
// returned buffer).
func newExecutor(t testing.TB, m mode, opts executor.Options) (*executor.Executor, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opts.CgroupParent == "" {
		opts.CgroupParent = testCgroupParent()
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := executor.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if m.noNamespaces {
		executor.DisableNamespaces(e)
	}
	return e, logs
}

// start starts spec and makes sure the guest is gone when the test ends.
func start(t *testing.T, e *executor.Executor, spec scavenger.ExecSpec) scavenger.Process {
	t.Helper()
	p, err := e.Start(t.Context(), spec)
	if err != nil {
		t.Fatalf("Start(%q): %v", spec.Argv, err)
	}
	t.Cleanup(func() {
		if err := p.Stop(0); err != nil {
			t.Errorf("cleanup: Stop: %v", err)
		}
		waitFor(t, p)
	})
	return p
}

// result is what a guest printed and how it ended.
type result struct {
	stdout, stderr string
	status         scavenger.ExitStatus
}

// run runs argv in dir with env and returns its result.
func run(t *testing.T, e *executor.Executor, dir string, env, hide []string, argv ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	p := start(t, e, scavenger.ExecSpec{Argv: argv, Dir: dir, Env: env, Hide: hide, Stdout: &stdout, Stderr: &stderr})
	st := waitFor(t, p)
	return result{stdout.String(), stderr.String(), st}
}

// waitFor waits for p, failing the test if Wait errs or never returns.
func waitFor(t *testing.T, p scavenger.Process) scavenger.ExitStatus {
	t.Helper()
	type waited struct {
		st  scavenger.ExitStatus
		err error
	}
	ch := make(chan waited, 1)
	go func() {
		st, err := p.Wait()
		ch <- waited{st, err}
	}()
	select {
	case w := <-ch:
		if w.err != nil {
			t.Fatalf("Wait: %v", w.err)
		}
		return w.st
	case <-time.After(30 * time.Second):
		t.Fatalf("Wait for guest %d did not return", p.Pid())
		return scavenger.ExitStatus{}
	}
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// taskDir makes a task directory the guest user can reach (t.TempDir's
// parent is mode 0700).
func taskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// guestUID is who guests should run as: nobody when the tests run as root,
// else the test's own user.
func guestUID(t *testing.T) int {
	t.Helper()
	if os.Geteuid() != 0 {
		return os.Geteuid()
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("look up nobody: %v", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

// lineWriter hands each complete line written to it to a channel as soon
// as it is written.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 64)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// next returns the next line, failing the test if none comes.
func (w *lineWriter) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-w.lines:
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("no line of output from the guest")
		return ""
	}
}

// procStat returns the fields of /proc/pid/stat after the command name, so
// index 0 is field 3 (state) and field n is index n-3.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:]), nil
}

// gone reports whether pid has exited (a zombie awaiting its reaper counts).
func gone(pid int) bool {
	f, err := procStat(pid)
	return err != nil || f[0] == "Z"
}

// procStatus returns /proc/pid/status as a map of its lines.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}
