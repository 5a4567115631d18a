//go:build linux

package executor_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/executor"
)

func TestIdentityAndPriority(t *testing.T) {
	wantUID := strconv.Itoa(guestUID(t))
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e, _ := newExecutor(t, m, executor.Options{})
			// Something to hide, so the sandbox is really set up.
			p := start(t, e, scavenger.ExecSpec{Argv: []string{"sleep", "100"}, Dir: taskDir(t), Env: []string{guestPATH}, Hide: []string{t.TempDir()}})
			pid := p.Pid()

			stat, err := procStat(pid)
			if err != nil {
				t.Fatal(err)
			}
			status := procStatus(t, pid)
			attr, err := unix.SchedGetAttr(pid, 0)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct{ what, got, want string }{
				// The pid is the task's even through the guest init, which
				// execs in place.
				{"command", status["Name"], "sleep"},
				{"process group", stat[5-3], strconv.Itoa(pid)},
				{"nice", stat[19-3], "19"},
				{"policy", strconv.Itoa(int(attr.Policy)), strconv.Itoa(unix.SCHED_IDLE)},
				{"uids", status["Uid"], strings.Repeat(wantUID+"\t", 3) + wantUID},
				{"no_new_privs", status["NoNewPrivs"], "1"},
				{"effective capabilities", status["CapEff"], "0000000000000000"},
				{"ambient capabilities", status["CapAmb"], "0000000000000000"},
			}
			if os.Geteuid() == 0 {
				checks = append(checks, struct{ what, got, want string }{"supplementary groups", status["Groups"], ""})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestEnvironmentIsExactlyTheGivenOne(t *testing.T) {
	t.Setenv("SCAVENGE_TEST_DAEMON_SECRET", "must not leak")
	e, _ := newExecutor(t, modes[0], executor.Options{})
	tests := []struct {
		name string
		env  []string
	}{
		{"given", []string{"A=1", "B=two words", "EMPTY=", guestPATH}},
		{"nil", nil}, // searched in the default PATH, which is not added
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, e, taskDir(t), tt.env, []string{t.TempDir()}, "env")
			got := strings.Fields(strings.ReplaceAll(r.stdout, " ", "_"))
			want := make([]string, len(tt.env))
			for i, kv := range tt.env {
				want[i] = strings.ReplaceAll(kv, " ", "_")
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("guest environment = %q, want %q", got, want)
			}
		})
	}
}

func TestHide(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.noNamespaces && os.Geteuid() != 0 {
				t.Skip("without namespaces a guest running as the daemon's user cannot be kept out (TestFallbackWarns checks it is said)")
			}
			e, _ := newExecutor(t, m, executor.Options{})
			root := taskDir(t)
			home := filepath.Join(root, "home")
			visible := filepath.Join(root, "visible")
			work := filepath.Join(home, "work", "t1")
			for _, d := range []string{work, visible} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			writeFile(t, filepath.Join(home, "secret"), "home-secret", 0o644)
			// Another task's directory beside this one's, inside the home.
			if err := os.Mkdir(filepath.Join(home, "work", "t2"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(home, "work", "t2", "out"), "other-task", 0o644)
			writeFile(t, filepath.Join(visible, "key"), "key-secret", 0o644)
			writeFile(t, filepath.Join(visible, "file"), "visible-data", 0o644)
			if m.noNamespaces {
				// Without a mount namespace only permissions protect the
				// home, as the daemon's real home is made.
				for path, perm := range map[string]os.FileMode{home: 0o700, filepath.Join(visible, "key"): 0o600} {
					if err := os.Chmod(path, perm); err != nil {
						t.Fatal(err)
					}
				}
			}
			hide := []string{home, filepath.Join(visible, "key")}
			dir := taskDir(t)

			// Each case prints what it could read; none may print a secret.
			tests := []struct {
				name   string
				dir    string
				script string
				want   string
			}{
				{"normal path readable", dir, "cat " + visible + "/file", "visible-data"},
				{"hidden dir unreadable", dir, "cat " + home + "/secret", ""},
				{"hidden dir empty", dir, "ls -A " + home, ""},
				{"hidden file unreadable", dir, "cat " + visible + "/key", ""},
			}
			if !m.noNamespaces {
				tests = append(tests, []struct{ name, dir, script, want string }{
					// A task directory inside a hidden one stays usable, and
					// ".." from it does not lead back into the hidden tree.
					{"task dir inside hidden dir", work, "pwd; ls -A ..; cat ../t2/out ../../secret", work + "\nt1"},
					{"nested namespace cannot unmount", dir,
						"unshare -Urm sh -c 'umount -l " + home + "; cat " + home + "/secret' 2>/dev/null", ""},
				}...)
				if _, err := exec.LookPath("unshare"); err != nil {
					tests = tests[:len(tests)-1]
				}
			}
			if os.Geteuid() == 0 {
				// Through the daemon's own root: only a guest that may trace
				// the daemon could; a guest user never may.
				tests = append(tests, struct{ name, dir, script, want string }{
					"not through the daemon's /proc root", dir, "cat /proc/$PPID/root" + home + "/secret", ""})
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := run(t, e, tt.dir, []string{guestPATH}, hide, "sh", "-c", tt.script)
					if got := strings.TrimSpace(r.stdout); got != tt.want {
						t.Errorf("guest printed %q, want %q (stderr %q)", got, tt.want, r.stderr)
					}
				})
			}
		})
	}
}

func writeFile(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
}

func TestFallbackWarns(t *testing.T) {
	e, logs := newExecutor(t, mode{"no-namespaces", true}, executor.Options{})
	hidden := taskDir(t) // mode 0755: open to the guest user
	run(t, e, taskDir(t), []string{guestPATH}, []string{hidden}, "true")
	want := []string{"hiding is not possible"}
	if os.Geteuid() == 0 {
		want = []string{"kept from them only by file permissions", "open to other users"}
	}
	for _, w := range want {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
}

func TestConcurrentStarts(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e, _ := newExecutor(t, m, executor.Options{})
			hidden := taskDir(t)
			const n = 16
			errs := make(chan error, n)
			for i := range n {
				go func() {
					var out strings.Builder
					p, err := e.Start(t.Context(), scavenger.ExecSpec{
						Argv: []string{"sh", "-c", "echo $GUEST"}, Dir: taskDir(t), Hide: []string{hidden},
						Env: []string{guestPATH, "GUEST=" + strconv.Itoa(i)}, Stdout: &out,
					})
					if err != nil {
						errs <- err
						return
					}
					st, err := p.Wait()
					if err == nil && (st.Code != 0 || out.String() != strconv.Itoa(i)+"\n") {
						err = fmt.Errorf("guest %d: status %+v, output %q", i, st, out.String())
					}
					errs <- err
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestDaemonUntouched checks that what each start does to its thread (mount
// namespace, priority, no_new_privs) stays off the daemon's other threads:
// the threads used for starts go away.
func TestDaemonUntouched(t *testing.T) {
	for _, m := range modes {
		e, _ := newExecutor(t, m, executor.Options{})
		run(t, e, taskDir(t), []string{guestPATH}, []string{taskDir(t)}, "true")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		bad := touchedThreads(t)
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon threads touched by starts: %s", bad)
		}
	}
}

// touchedThreads describes the threads of this process that are not in its
// initial mount namespace, or run at guest priority.
func touchedThreads(t *testing.T) string {
	initial, err := os.Readlink(fmt.Sprintf("/proc/%d/task/%[1]d/ns/mnt", os.Getpid())) // the main thread's
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		ns, err1 := os.Readlink("/proc/self/task/" + task.Name() + "/ns/mnt")
		stat, err2 := procStat(tid)
		attr, err3 := unix.SchedGetAttr(tid, 0)
		if err1 != nil || err2 != nil || err3 != nil {
			continue // the thread ended meanwhile
		}
		if ns != initial || stat[19-3] != "0" || attr.Policy == unix.SCHED_IDLE {
			bad = append(bad, fmt.Sprintf("thread %d: %s (want %s), nice %s, policy %d", tid, ns, initial, stat[19-3], attr.Policy))
		}
	}
	return strings.Join(bad, "; ")
}

func TestOutputIsLive(t *testing.T) {
	e, _ := newExecutor(t, modes[0], executor.Options{})
	out := newLineWriter()
	p := start(t, e, scavenger.ExecSpec{
		Argv:   []string{"sh", "-c", "echo first; sleep 100"},
		Dir:    taskDir(t),
		Env:    []string{guestPATH},
		Stdout: out,
	})
	if got := out.next(t); got != "first" {
		t.Fatalf("first line = %q, want %q", got, "first")
	}
	if err := p.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("guest not running after its first line: %v", err)
	}
}

func TestExitStatus(t *testing.T) {
	e, _ := newExecutor(t, modes[0], executor.Options{})
	tests := []struct {
		script string
		want   scavenger.ExitStatus
	}{
		{"true", scavenger.ExitStatus{Code: 0}},
		{"exit 3", scavenger.ExitStatus{Code: 3}},
		{"kill -KILL $$", scavenger.ExitStatus{Code: -1, Signal: "killed"}},
		{"kill -TERM $$", scavenger.ExitStatus{Code: -1, Signal: "terminated"}},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			r := run(t, e, taskDir(t), []string{guestPATH}, nil, "sh", "-c", tt.script)
			got := r.status
			got.CPU = 0
			if got != tt.want {
				t.Errorf("status = %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("cpu time", func(t *testing.T) {
		r := run(t, e, taskDir(t), []string{guestPATH}, nil,
			"sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
		if r.status.CPU <= 0 {
			t.Errorf("CPU = %v after a busy loop, want > 0", r.status.CPU)
		}
	})
}

func TestStopKillsWholeGroup(t *testing.T) {
	e, _ := newExecutor(t, modes[0], executor.Options{})
	out := newLineWriter()
	p := start(t, e, scavenger.ExecSpec{
		Argv:   []string{"sh", "-c", "sleep 100 & echo $!; sleep 100"},
		Dir:    taskDir(t),
		Env:    []string{guestPATH},
		Stdout: out,
	})
	child, err := strconv.Atoi(out.next(t))
	if err != nil {
		t.Fatal(err)
	}
	if gone(child) {
		t.Fatalf("background child %d is not running", child)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st := waitFor(t, p)
	if st.Signal != "terminated" {
		t.Errorf("leader ended by %q, want terminated", st.Signal)
	}
	eventually(t, "the background child is gone", func() bool { return gone(child) })
}

func TestStopEscalatesToKill(t *testing.T) {
	e, _ := newExecutor(t, modes[0], executor.Options{})
	out := newLineWriter()
	p := start(t, e, scavenger.ExecSpec{
		Argv:   []string{"sh", "-c", "trap '' TERM; echo ready; sleep 100"},
		Dir:    taskDir(t),
		Env:    []string{guestPATH},
		Stdout: out,
	})
	out.next(t) // the trap is set
	if err := p.Stop(50 * time.Millisecond); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st := waitFor(t, p); st.Signal != "killed" {
		t.Errorf("guest ignoring SIGTERM ended by %q, want killed", st.Signal)
	}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit = %v, want os.ErrProcessDone", err)
	}
}

func TestLeaderExitEndsLeftovers(t *testing.T) {
	// With an hour to drain, Wait returns only because the background
	// child holding stdout is killed when the leader exits.
	e, _ := newExecutor(t, modes[0], executor.Options{DrainTimeout: time.Hour})
	r := run(t, e, taskDir(t), []string{guestPATH}, nil, "sh", "-c", "sleep 100 & echo $!")
	child, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the leftover child is gone", func() bool { return gone(child) })
}

func TestEscapedProcessDoesNotBlockWait(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("needs setsid(1)")
	}
	// Without a cgroup, which would kill it with its leader (see
	// TestEscapedProcessDiesWithCgroup).
	e, logs := newExecutor(t, modes[0], executor.Options{DrainTimeout: 100 * time.Millisecond, NoCgroups: true})
	// The leader waits until its child has left the group (its session ID
	// is its own pid), so the child surely survives the leader.
	script := `setsid sleep 100 & p=$!
while [ "$(cut -d' ' -f6 /proc/$p/stat)" != "$p" ]; do :; done
echo $p`
	r := run(t, e, taskDir(t), []string{guestPATH}, nil, "sh", "-c", script)
	escaped, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatalf("output %q: %v", r.stdout, err)
	}
	defer syscall.Kill(escaped, syscall.SIGKILL)
	if gone(escaped) {
		t.Fatalf("the escaped process %d did not survive: the test proves nothing", escaped)
	}
	if !strings.Contains(logs.String(), "still held its output") {
		t.Errorf("no warning about the cut-off output in the log:\n%s", logs)
	}
}

func TestStartErrors(t *testing.T) {
	e, _ := newExecutor(t, modes[0], executor.Options{})
	dir := taskDir(t)
	writeFile(t, filepath.Join(dir, "data.txt"), "not a program", 0o644)
	writeFile(t, filepath.Join(dir, "garbage"), "\x00\x01\x02 not a program", 0o755)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		spec   scavenger.ExecSpec
		want   string // in the message
		wantIs error
	}{
		{"empty argv", t.Context(), scavenger.ExecSpec{Dir: dir}, "start guest: empty command", nil},
		{"missing dir", t.Context(), scavenger.ExecSpec{Argv: []string{"true"}, Dir: filepath.Join(dir, "nope")},
			"task directory", fs.ErrNotExist},
		{"dir is a file", t.Context(), scavenger.ExecSpec{Argv: []string{"true"}, Dir: filepath.Join(dir, "data.txt")},
			"not a directory", nil},
		{"not in PATH", t.Context(), scavenger.ExecSpec{Argv: []string{"no-such-program-xyz"}, Dir: dir, Env: []string{guestPATH}},
			`start guest "no-such-program-xyz": executable file not found in guest PATH`, executor.ErrNotFound},
		{"guest PATH, not the daemon's", t.Context(), scavenger.ExecSpec{Argv: []string{"sleep"}, Dir: dir, Env: []string{"PATH=/nonexistent"}},
			"executable file not found in guest PATH (PATH=/nonexistent)", executor.ErrNotFound},
		{"relative path missing", t.Context(), scavenger.ExecSpec{Argv: []string{"./missing.sh"}, Dir: dir},
			"missing.sh", fs.ErrNotExist},
		{"not executable", t.Context(), scavenger.ExecSpec{Argv: []string{"./data.txt"}, Dir: dir},
			"not an executable file", nil},
		{"exec fails", t.Context(), scavenger.ExecSpec{Argv: []string{"./garbage"}, Dir: dir, Hide: []string{t.TempDir()}},
			"exec format error", syscall.ENOEXEC},
		{"task dir hidden", t.Context(), scavenger.ExecSpec{Argv: []string{"true"}, Dir: dir, Env: []string{guestPATH}, Hide: []string{dir}},
			"is a hidden path", nil},
		{"canceled", canceled, scavenger.ExecSpec{Argv: []string{"true"}, Dir: dir}, "canceled", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.Start(tt.ctx, tt.spec)
			if err == nil {
				p.Stop(0)
				p.Wait()
				t.Fatalf("Start succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestTaskDirGivenToGuest(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the daemon is not root: guests run as its user and need no chown")
	}
	e, _ := newExecutor(t, modes[0], executor.Options{})
	dir := taskDir(t)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub", "input"), "input-data", 0o600)
	r := run(t, e, dir, []string{guestPATH}, nil, "sh", "-c", "cat sub/input && echo result > sub/out")
	if r.status.Code != 0 || r.stdout != "input-data" {
		t.Fatalf("guest: status %+v, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}
	fi, err := os.Stat(filepath.Join(dir, "sub", "out"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != guestUID(t) {
		t.Errorf("output owned by uid %d, want the guest's %d", uid, guestUID(t))
	}
}

func TestNewRefusesBadGuestUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the guest user is used only when the daemon is root")
	}
	tests := []struct{ user, want string }{
		{"root", "guests must never run as root"},
		{"0", "guests must never run as root"},
		{"no-such-user-xyz", "no such user"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			_, err := executor.New(executor.Options{GuestUser: tt.user})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(GuestUser %q) = %v, want an error containing %q", tt.user, err, tt.want)
			}
		})
	}
}

// TestAsNonRoot runs this whole suite again as nobody, so the non-root path
// (guest init in a user namespace) is tested for real on a machine whose
// tests run as root.
func TestAsNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("already not root: the other tests cover the non-root path")
	}
	nobody := guestUID(t)
	u, err := user.LookupId(strconv.Itoa(nobody))
	if err != nil {
		t.Fatal(err)
	}
	nogroup, err := strconv.Atoi(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a mode-0700 build directory: copy it to one
	// nobody can reach, with a temp dir of its own.
	dir, err := os.MkdirTemp("", "executor-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tmp := filepath.Join(dir, "tmp")
	bin := filepath.Join(dir, "executor.test")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, nobody, nogroup); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, bin, string(data), 0o755)

	parent, daemonCgroup := delegateCgroups(t, nobody, nogroup)
	defer daemonCgroup.Close()

	cmd := exec.Command(bin, "-test.v", "-test.count=1", "-test.timeout=3m", "-test.skip=^TestAsNonRoot$")
	cmd.Dir = tmp
	cmd.Env = []string{guestPATH, "TMPDIR=" + tmp, "HOME=" + tmp, "SCAVENGE_TEST_CGROUP_PARENT=" + parent}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: uint32(nobody), Gid: uint32(nogroup), Groups: []uint32{}},
		UseCgroupFD: daemonCgroup != nil,
	}
	if daemonCgroup != nil {
		cmd.SysProcAttr.CgroupFD = int(daemonCgroup.Fd())
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("suite as uid %d: %v\n%s", nobody, err, out)
	}
	// It must really have run the sandbox and the delegated cgroups, not
	// skipped them.
	for _, want := range []string{"--- PASS: TestIdentityAndPriority/sandbox", "--- PASS: TestHide/sandbox/hidden_dir_unreadable",
		"--- PASS: TestFreezeThaw/cgroup (", "--- PASS: TestFreezeThaw/cgroup-v2 (", "--- PASS: TestLimit/cgroup (",
		"--- PASS: TestStopKillsEscaped/cgroup ("} {
		if !strings.Contains(string(out), want) {
			t.Errorf("suite as uid %d lacks %q:\n%s", nobody, want, out)
		}
	}
	t.Logf("suite as uid %d passed (%d tests)", nobody, strings.Count(string(out), "--- PASS"))
}

// delegateCgroups gives uid a cgroup subtree in every hierarchy, as an
// administrator delegates one to a daemon that is not root: the guests'
// parent, and on v2 a cgroup for the daemon itself beside it (the kernel
// lets a process start another in a cgroup only if it may write the
// cgroup.procs of both cgroups' closest common ancestor). It returns the
// guests' parent, relative to each hierarchy's root, and the daemon's v2
// cgroup directory opened for CLONE_INTO_CGROUP (nil without v2); all is
// removed when the test ends.
func delegateCgroups(t *testing.T, uid, gid int) (string, *os.File) {
	mounts, err := executor.CgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	top := fmt.Sprintf("scavenge-test-nonroot-%d", os.Getpid())
	var daemon *os.File
	for ctrl, point := range mounts {
		if point == "" || !slices.Contains([]string{"", "cpu", "memory", "freezer"}, ctrl) {
			continue
		}
		dirs := []string{filepath.Join(point, top), filepath.Join(point, top, "guests")}
		if ctrl == "" {
			dirs = append(dirs, filepath.Join(point, top, "daemon"))
		}
		for _, d := range dirs {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := syscall.Rmdir(d); err != nil && !os.IsNotExist(err) {
					t.Errorf("remove delegated cgroup: %s: %v", d, err)
				}
			})
			if err := filepath.WalkDir(d, func(p string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(p, uid, gid)
			}); err != nil {
				t.Fatal(err)
			}
		}
		if ctrl == "" {
			if daemon, err = os.Open(dirs[2]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return top + "/guests", daemon
}

func BenchmarkStart(b *testing.B) {
	for _, m := range append(modes, mode{"sandbox-no-cgroup", false}) {
		b.Run(m.name, func(b *testing.B) {
			// Logs nothing per op.
			e, err := executor.New(executor.Options{CgroupParent: testCgroupParent(), NoCgroups: m.name == "sandbox-no-cgroup"})
			if err != nil {
				b.Fatal(err)
			}
			if m.noNamespaces {
				executor.DisableNamespaces(e)
			}
			dir, hidden := b.TempDir(), b.TempDir()
			os.Chmod(filepath.Dir(dir), 0o711)
			spec := scavenger.ExecSpec{Argv: []string{"true"}, Dir: dir, Env: []string{guestPATH}, Hide: []string{hidden}}
			for b.Loop() {
				p, err := e.Start(b.Context(), spec)
				if err != nil {
					b.Fatal(err)
				}
				if st, err := p.Wait(); err != nil || st.Code != 0 {
					b.Fatalf("Wait = %+v, %v", st, err)
				}
			}
		})
	}
	b.Run("os-exec-baseline", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
