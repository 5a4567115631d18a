//go:build linux

package executor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/executor"
)

// counterScript counts 1, 2, 3... on stdout and into the file "count" in
// its directory (fixed width: criu restores an open file only at the size
// it had), every 10 ms. The count lives in the shell's memory: a restored
// guest that goes on from where it was proves its memory came back.
const counterScript = `i=0; while :; do i=$((i+1)); echo $i; printf '%08d\n' $i >count; sleep 0.01; done`

// needCRIU returns a working criu, or skips the test (fails it under CI,
// whose .ci/run installs criu with .ci/install-criu).
func needCRIU(t *testing.T) *checkpoint.CRIUBackend {
	t.Helper()
	c := checkpoint.NewCRIU("")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.Check(ctx); err != nil {
		requirement(t, "criu is not usable here (run .ci/install-criu as root): "+err.Error())
	}
	return c
}

// criuLog is the end of the criu log behind err, for a failure message.
func criuLog(err error) string {
	var ce *checkpoint.CRIUError
	if !errors.As(err, &ce) {
		return ""
	}
	b, _ := os.ReadFile(ce.Log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return "\ncriu log:\n" + strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// guestKind is who migratable test guests run as.
type guestKind struct {
	name string
	root bool
}

// guestKinds: the guest user, as a daemon runs them; and root, which tests
// the rest of migration where criu cannot dump another user's processes
// (a container without CAP_SYS_RESOURCE, like some CI machines).
var guestKinds = []guestKind{{"guest-user", false}, {"root-guest", true}}

// newMigrating returns an executor with criu in cgroup mode m whose guests
// run as k says, and the uid they get. Where criu cannot dump guests of the
// guest user, that kind fails under CI and is skipped elsewhere.
func newMigrating(t *testing.T, m cgMode, k guestKind, c *checkpoint.CRIUBackend) (*executor.Executor, int, int) {
	t.Helper()
	e, _, version := newControlled(t, m, executor.Options{CRIU: c})
	if k.root {
		executor.GuestAsRoot(e)
		return e, version, 0
	}
	if err := e.CanMigrate(); err != nil {
		skipWithoutSysResource(t)
		requirement(t, "migration of guests as the guest user: "+err.Error())
	}
	return e, version, guestUID(t)
}

// skipWithoutSysResource skips, even under CI, where this process lacks
// CAP_SYS_RESOURCE: criu cannot dump another user's process without it,
// and no install step can add it (a container that dropped it). The README
// says criu migration needs it.
func skipWithoutSysResource(t *testing.T) {
	t.Helper()
	has, err := executor.HasCapSysResource()
	if err != nil {
		t.Fatal(err)
	}
	if !has {
		t.Skip("this root lacks CAP_SYS_RESOURCE (a container that dropped it), without which criu cannot dump a guest of another user; see the README's \"Checkpoints and migration\"")
	}
}

// counts collects the numbers a counting guest prints.
type counts struct {
	mu   sync.Mutex
	buf  []byte
	nums []int
	junk []string // lines that are not numbers
}

func (c *counts) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(c.buf[:i])
		c.buf = c.buf[i+1:]
		if n, err := strconv.Atoi(line); err == nil {
			c.nums = append(c.nums, n)
		} else {
			c.junk = append(c.junk, line)
		}
	}
}

// snapshot returns the numbers so far.
func (c *counts) snapshot() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.nums...)
}

// waitFor waits until at least n numbers came and returns them.
func (c *counts) waitFor(t *testing.T, n int) []int {
	t.Helper()
	var got []int
	eventually(t, strconv.Itoa(n)+" numbers from the counting guest", func() bool {
		got = c.snapshot()
		return len(got) >= n
	})
	return got
}

// consecutive fails unless nums counts up by one from its first.
func consecutive(t *testing.T, what string, nums []int) {
	t.Helper()
	for i, n := range nums {
		if n != nums[0]+i {
			t.Fatalf("%s: %v..., want consecutive numbers", what, nums[max(0, i-3):i+1])
		}
	}
}

// startCounter starts the counting guest, migratable, in dir.
func startCounter(t *testing.T, e *executor.Executor, dir string, out *counts, stderr *bytes.Buffer) scavenger.Process {
	t.Helper()
	return start(t, e, scavenger.ExecSpec{
		Argv: []string{"/bin/sh", "-c", counterScript}, Dir: dir, Env: []string{guestPATH},
		Stdout: out, Stderr: &lockedBuffer{b: stderr}, Migratable: true,
		Hide: []string{t.TempDir()},
	})
}

// lockedBuffer is a bytes.Buffer safe to write from the output goroutine
// and read from the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// checkGuest checks that pid is a migratable guest as promised: the root
// of its own PID namespace and session without a terminal (the init,
// root), whose child, the task, runs as the guest user at idle priority in
// the same session; with cgroups, both in a guest cgroup under the test
// parent.
func checkGuest(t *testing.T, e *executor.Executor, pid, uid int) {
	t.Helper()
	ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	own, _ := os.Readlink("/proc/self/ns/pid")
	if ns == own {
		t.Errorf("guest %d shares the daemon's PID namespace %s", pid, ns)
	}
	if got := procStatus(t, pid)["NSpid"]; !strings.HasSuffix(got, "\t1") {
		t.Errorf("guest %d NSpid = %q, want it to be 1 in its namespace", pid, got)
	}
	// A child is listed under the thread that forked it.
	threads, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, th := range threads {
		b, _ := os.ReadFile(th)
		kids = append(kids, strings.Fields(string(b))...)
	}
	if len(kids) == 0 {
		t.Fatalf("guest %d has no task process under its init", pid)
	}
	task, _ := strconv.Atoi(kids[0])
	status := procStatus(t, task)
	wantUID := strconv.Itoa(uid)
	if got, want := status["Uid"], strings.Repeat(wantUID+"\t", 3)+wantUID; got != want {
		t.Errorf("task %d uids = %q, want %q", task, got, want)
	}
	if uid != 0 && (status["CapEff"] != "0000000000000000" || status["Groups"] != "") {
		t.Errorf("task %d has capabilities %s, groups %q; want none", task, status["CapEff"], status["Groups"])
	}
	for _, p := range []int{pid, task} {
		stat, err := procStat(p)
		if err != nil {
			t.Fatal(err)
		}
		if stat[6-3] != strconv.Itoa(pid) || stat[5-3] != strconv.Itoa(pid) {
			t.Errorf("process %d: session %s, group %s; want both %d", p, stat[6-3], stat[5-3], pid)
		}
		if stat[7-3] != "0" {
			t.Errorf("process %d has controlling terminal %s, want none", p, stat[7-3])
		}
		if stat[19-3] != "19" {
			t.Errorf("process %d nice = %s, want 19", p, stat[19-3])
		}
		if executor.CgroupVersion(e) == 0 {
			continue
		}
		for _, d := range guestCgroupDirs(t, e, p) {
			if filepath.Base(filepath.Dir(d)) != filepath.Base(testCgroupParent()) {
				t.Errorf("process %d is in cgroup %s, want one under %s", p, d, testCgroupParent())
			}
		}
	}
}

// TestMigrate: a counting guest, frozen (the owner came back) and dumped,
// is dead afterwards with the checkpointed status; restored by a fresh
// executor with new output, it counts on from where it was, as the guest
// user, in a cgroup of its own with the caps asked for, and can be frozen,
// thawed, limited and stopped like any guest.
func TestMigrate(t *testing.T) {
	c := needCRIU(t)
	for _, k := range guestKinds {
		for _, m := range cgModes {
			t.Run(k.name+"/"+m.name, func(t *testing.T) { testMigrate(t, c, m, k) })
		}
	}
}

func testMigrate(t *testing.T, c *checkpoint.CRIUBackend, m cgMode, k guestKind) {
	{
		{
			e1, version, uid := newMigrating(t, m, k, c)
			dir := taskDir(t)
			var out1 counts
			var err1 bytes.Buffer
			p1 := startCounter(t, e1, dir, &out1, &err1)
			checkGuest(t, e1, p1.Pid(), uid)
			out1.waitFor(t, 20)
			if _, err := p1.Freeze(); err != nil {
				t.Fatal(err)
			}

			images := filepath.Join(t.TempDir(), "images")
			var mig scavenger.Migrator = e1
			if err := mig.Dump(t.Context(), p1, images, false); err != nil {
				t.Fatalf("Dump: %v%s", err, criuLog(err))
			}
			st := waitFor(t, p1)
			if st.Signal != executor.SignalCheckpointed || st.Code != -1 {
				t.Errorf("dumped guest ended with %+v, want code -1, signal %q", st, executor.SignalCheckpointed)
			}
			if st.CPU <= 0 {
				t.Errorf("dumped guest's CPU = %v, want what it used", st.CPU)
			}
			before := out1.snapshot()
			consecutive(t, "first run", before)
			last := before[len(before)-1]
			// The dump may have come between the echo and the write, or
			// in the write, after the file was truncated.
			if b, err := os.ReadFile(filepath.Join(dir, "count")); err != nil ||
				string(b) != fmt.Sprintf("%08d\n", last) && string(b) != fmt.Sprintf("%08d\n", last-1) && len(b) != 0 {
				t.Errorf("count file = %q, %v; want the last number printed, %d (or the one before)", b, err, last)
			}

			e2, _, _ := newMigrating(t, m, k, c)
			var out2 counts
			limits := scavenger.Limits{CPUs: 0.5, MemoryBytes: 256 << 20}
			p2, err := e2.Restore(t.Context(), scavenger.ExecSpec{Dir: dir, Stdout: &out2, Stderr: &out2, Limits: limits}, images)
			if err != nil {
				t.Fatalf("Restore: %v\nfirst run's stderr: %s%s", err, err1.String(), criuLog(err))
			}
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					p2.Stop(0)
					p2.Wait()
				}
			})
			after := out2.waitFor(t, 20)
			consecutive(t, "restored run", after)
			if after[0] != last+1 {
				t.Fatalf("restored guest went on at %d, want %d (no gap, no repeat)", after[0], last+1)
			}
			checkGuest(t, e2, p2.Pid(), uid)
			if version != 0 {
				if dir := cgroupDirOf(t, version, p2.Pid(), "memory"); version == 1 {
					if got := readFile(t, filepath.Join(dir, "memory.limit_in_bytes")); got != strconv.Itoa(256<<20) {
						t.Errorf("restored guest's memory limit = %s, want %d", got, 256<<20)
					}
				}
			}

			// A restored guest can move on again: a periodic checkpoint of it.
			if err := e2.Dump(t.Context(), p2, filepath.Join(t.TempDir(), "images"), true); err != nil {
				t.Fatalf("Dump of the restored guest: %v%s", err, criuLog(err))
			}
			out2.waitFor(t, len(out2.snapshot())+10)

			// Freeze: it stops counting, and the cgroup says frozen.
			how, err := p2.Freeze()
			if err != nil {
				t.Fatal(err)
			}
			if version != 0 && !cgroupFrozen(t, version, cgroupDirOf(t, version, p2.Pid(), "freezer")) {
				t.Errorf("restored guest frozen (%s) but its cgroup is not", how)
			}
			frozen := len(out2.snapshot())
			time.Sleep(100 * time.Millisecond)
			if n := len(out2.snapshot()); n > frozen+1 {
				t.Errorf("frozen (%s) restored guest went on counting: %d -> %d", how, frozen, n)
			}
			if err := p2.Thaw(); err != nil {
				t.Fatal(err)
			}
			out2.waitFor(t, frozen+10)
			if _, err := p2.Limit(scavenger.Limits{CPUs: 0.1}); err != nil {
				t.Errorf("Limit on the restored guest: %v", err)
			}

			pid := p2.Pid()
			if err := p2.Stop(0); err != nil {
				t.Fatal(err)
			}
			stopped = true
			st = waitFor(t, p2)
			if st.Signal != "killed" {
				t.Errorf("stopped restored guest ended with %+v, want killed", st)
			}
			if st.CPU <= 0 {
				t.Errorf("restored guest's CPU = %v, want what it used since the restore", st.CPU)
			}
			if !gone(pid) {
				t.Errorf("restored guest %d still there after Stop", pid)
			}
			t.Logf("dumped at %d, restored at %d; CPU %v then %v; frozen by %s", last, after[0], waitFor(t, p1).CPU, st.CPU, how)
		}
	}
}

// TestCheckpointLeaveRunning: a periodic checkpoint leaves the guest
// counting, and its image restores to the count it had then.
func TestCheckpointLeaveRunning(t *testing.T) {
	c := needCRIU(t)
	for _, k := range guestKinds {
		t.Run(k.name, func(t *testing.T) { testCheckpointLeaveRunning(t, c, k) })
	}
}

func testCheckpointLeaveRunning(t *testing.T, c *checkpoint.CRIUBackend, k guestKind) {
	e, _, _ := newMigrating(t, cgModes[0], k, c)
	dir := taskDir(t)
	var out counts
	var stderr bytes.Buffer
	p := startCounter(t, e, dir, &out, &stderr)
	out.waitFor(t, 20)
	images := filepath.Join(t.TempDir(), "images")
	atStart := len(out.snapshot())
	if err := e.Dump(t.Context(), p, images, true); err != nil {
		t.Fatalf("Dump: %v%s", err, criuLog(err))
	}
	atEnd := len(out.snapshot())
	out.waitFor(t, atEnd+20) // still counting

	// A frozen guest stays frozen through a periodic checkpoint.
	how, err := p.Freeze()
	if err != nil {
		t.Fatal(err)
	}
	frozen := len(out.snapshot())
	if err := e.Dump(t.Context(), p, filepath.Join(t.TempDir(), "images"), true); err != nil {
		t.Fatalf("Dump of a frozen guest: %v%s", err, criuLog(err))
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(out.snapshot()); n > frozen+1 {
		t.Errorf("guest frozen (%s) went on counting after a periodic checkpoint: %d -> %d", how, frozen, n)
	}
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, frozen+10)
	if err := p.Stop(0); err != nil {
		t.Fatal(err)
	}
	if st := waitFor(t, p); st.Signal != "killed" {
		t.Errorf("guest stopped after a periodic checkpoint ended with %+v, want killed", st)
	}

	var out2 counts
	p2, err := e.Restore(t.Context(), scavenger.ExecSpec{Dir: dir, Stdout: &out2}, images)
	if err != nil {
		t.Fatalf("Restore: %v%s", err, criuLog(err))
	}
	defer func() { p2.Stop(0); p2.Wait() }()
	after := out2.waitFor(t, 10)
	consecutive(t, "restored run", after)
	// The image holds the count of the moment criu stopped the guest,
	// between what was printed before Dump was called and after it returned.
	if after[0] <= atStart || after[0] > atEnd+1 {
		t.Errorf("restored from a periodic checkpoint at %d, want within (%d, %d]", after[0], atStart, atEnd+1)
	}
}

// TestRestoreGarbage: an images folder that is not a criu image fails to
// restore with criu's reason, and leaves no guest cgroup behind.
func TestRestoreGarbage(t *testing.T) {
	c := needCRIU(t)
	e, _, version := newControlled(t, cgModes[0], executor.Options{CRIU: c})
	images := t.TempDir()
	for _, name := range []string{"inventory.img", "pstree.img", "core-1.img", checkpoint.StdioFile} {
		junk := make([]byte, 512)
		rand.Read(junk)
		if err := os.WriteFile(filepath.Join(images, name), junk, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var parents []string
	if version != 0 {
		parents = guestCgroupParents(t, e)
	}
	before := cgroupChildren(t, parents)
	var out counts
	p, err := e.Restore(t.Context(), scavenger.ExecSpec{Dir: taskDir(t), Stdout: &out}, images)
	if err == nil {
		p.Stop(0)
		p.Wait()
		t.Fatal("Restore from garbage succeeded")
	}
	var ce *checkpoint.CRIUError
	if !errors.As(err, &ce) || ce.Reason == "" {
		t.Fatalf("Restore from garbage = %v, want a *checkpoint.CRIUError with a reason", err)
	}
	if after := cgroupChildren(t, parents); after != before {
		t.Errorf("guest cgroups before the failed restore %d, after %d: one was left behind", before, after)
	}
	t.Logf("refused as expected: %v", err)
}

// guestCgroupParents are the directories under which e makes guest
// cgroups, found through a short-lived guest.
func guestCgroupParents(t *testing.T, e *executor.Executor) []string {
	t.Helper()
	p := start(t, e, scavenger.ExecSpec{Argv: []string{"sleep", "100"}, Dir: taskDir(t), Env: []string{guestPATH}})
	var parents []string
	for _, d := range guestCgroupDirs(t, e, p.Pid()) {
		parents = append(parents, filepath.Dir(d))
	}
	return parents
}

// cgroupChildren counts the cgroups under parents.
func cgroupChildren(t *testing.T, parents []string) int {
	t.Helper()
	n := 0
	for _, d := range parents {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, ent := range entries {
			if ent.IsDir() {
				n++
			}
		}
	}
	return n
}

// TestMigrateRefused: without criu, or for a guest not started
// migratable, nothing pretends to work; each error says why.
func TestMigrateRefused(t *testing.T) {
	e, _ := newExecutor(t, modes[0], executor.Options{})
	dir := taskDir(t)
	if err := e.CanMigrate(); err == nil || !strings.Contains(err.Error(), "criu") {
		t.Errorf("CanMigrate without criu = %v, want an error naming criu", err)
	}
	_, err := e.Start(t.Context(), scavenger.ExecSpec{Argv: []string{"true"}, Dir: dir, Env: []string{guestPATH}, Migratable: true})
	if err == nil || !strings.Contains(err.Error(), "criu") {
		t.Errorf("migratable Start without criu = %v, want an error naming criu", err)
	}
	if _, err := e.Restore(t.Context(), scavenger.ExecSpec{Dir: dir}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "criu") {
		t.Errorf("Restore without criu = %v, want an error naming criu", err)
	}
	p := start(t, e, scavenger.ExecSpec{Argv: []string{"sleep", "100"}, Dir: dir, Env: []string{guestPATH}})
	if err := e.Dump(t.Context(), p, t.TempDir(), true); err == nil || !strings.Contains(err.Error(), "criu") {
		t.Errorf("Dump without criu = %v, want an error naming criu", err)
	}

	if os.Geteuid() != 0 {
		return // criu needs root: the rest cannot be reached
	}
	c := needCRIU(t)
	e2, _ := newExecutor(t, modes[0], executor.Options{CRIU: c})
	p2 := start(t, e2, scavenger.ExecSpec{Argv: []string{"sleep", "100"}, Dir: dir, Env: []string{guestPATH}})
	err = e2.Dump(t.Context(), p2, t.TempDir(), true)
	if err == nil || !strings.Contains(err.Error(), "Migratable") {
		t.Errorf("Dump of a guest not started Migratable = %v, want an error saying so", err)
	}
	e3, _ := newExecutor(t, modes[0], executor.Options{CRIU: c})
	executor.GuestAsRoot(e3)
	if err := e3.CanMigrate(); err != nil {
		t.Errorf("CanMigrate with a working criu, guests as root = %v", err)
	}
	if err := e2.CanMigrate(); err != nil {
		skipWithoutSysResource(t)
		requirement(t, "CanMigrate with a working criu, guests as the guest user: "+err.Error())
	}
}

// TestMigratableStart: a migratable guest starts as promised, whether or
// not criu could dump it here: the task runs as the guest user under a root
// init that leads its PID namespace and session; its exit code comes
// through the init, and so does the signal that ended it, SIGTERM included
// (which the kernel would drop if the task itself were the namespace's
// PID 1 and did not handle it).
func TestMigratableStart(t *testing.T) {
	c := needCRIU(t)
	e, _, _ := newControlled(t, cgModes[0], executor.Options{CRIU: c})
	dir := taskDir(t)

	var out bytes.Buffer
	p := start(t, e, scavenger.ExecSpec{Argv: []string{"/bin/sh", "-c", "echo $$ $(id -u); exit 3"}, Dir: dir,
		Env: []string{guestPATH}, Stdout: &out, Migratable: true})
	if st := waitFor(t, p); st.Code != 3 || st.Signal != "" {
		t.Errorf("migratable guest that exits 3 ended with %+v", st)
	}
	// The task is not PID 1 in its namespace (the init is) and is the
	// guest user.
	if f := strings.Fields(out.String()); len(f) != 2 || f[0] == "1" || f[1] != strconv.Itoa(guestUID(t)) {
		t.Errorf("task saw pid and uid %q, want a pid other than 1 and uid %d", out.String(), guestUID(t))
	}

	p = start(t, e, scavenger.ExecSpec{Argv: []string{"sleep", "100"}, Dir: dir, Env: []string{guestPATH}, Migratable: true})
	checkGuest(t, e, p.Pid(), guestUID(t))
	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if st := waitFor(t, p); st.Signal != "terminated" || st.Code != -1 {
		t.Errorf("migratable guest stopped with SIGTERM ended with %+v, want terminated", st)
	}

	if _, err := e.Start(t.Context(), scavenger.ExecSpec{Argv: []string{"/nonexistent/program"}, Dir: dir, Env: []string{guestPATH}, Migratable: true}); err == nil {
		t.Error("migratable Start of a missing program succeeded")
	}
	// A program root can run but the guest user cannot: the init's exec
	// fails, and Start says why.
	private := filepath.Join(t.TempDir(), "private")
	if err := os.Chmod(filepath.Dir(private), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, private, "#!/bin/sh\n", 0o755)
	if p, err := e.Start(t.Context(), scavenger.ExecSpec{Argv: []string{private}, Dir: dir, Env: []string{guestPATH}, Migratable: true}); !errors.Is(err, syscall.EACCES) {
		if p != nil {
			p.Stop(0)
			p.Wait()
		}
		t.Errorf("migratable Start of a program the guest user cannot reach = %v, want EACCES", err)
	} else {
		t.Logf("refused as expected: %v", err)
	}
}

// TestMigratableCPU: the CPU a migratable guest's task used is in its
// ExitStatus even when the whole tree is killed at once (Stop, or criu
// after a dump), which leaves its init no time to reap the task.
func TestMigratableCPU(t *testing.T) {
	c := needCRIU(t)
	for _, how := range []string{"stop", "dump"} {
		t.Run(how, func(t *testing.T) {
			// Starting as the guest user works anywhere; dumping one needs
			// CAP_SYS_RESOURCE (TestMigrate covers that), so the dump is of
			// a root guest.
			e, _, _ := newControlled(t, cgModes[0], executor.Options{CRIU: c})
			if how == "dump" {
				e, _, _ = newMigrating(t, cgModes[0], guestKinds[1], c)
			}
			p := start(t, e, scavenger.ExecSpec{Argv: []string{"/bin/sh", "-c", "while :; do :; done"}, Dir: taskDir(t),
				Env: []string{guestPATH}, Migratable: true})
			task := taskOf(t, p.Pid())
			eventually(t, "the task has used 200ms of CPU", func() bool { return cpuTime(t, task) >= 200*time.Millisecond })
			if _, err := p.Freeze(); err != nil {
				t.Fatal(err)
			}
			used := cpuTime(t, task)
			if how == "stop" {
				if err := p.Stop(0); err != nil {
					t.Fatal(err)
				}
			} else if err := e.Dump(t.Context(), p, filepath.Join(t.TempDir(), "images"), false); err != nil {
				t.Fatalf("Dump: %v%s", err, criuLog(err))
			}
			st := waitFor(t, p)
			if st.CPU < used {
				t.Errorf("guest ended with %+v; its task alone had used %v", st, used)
			}
			t.Logf("task used %v, ExitStatus.CPU %v", used, st.CPU)
		})
	}
}

// taskOf is the task process under the migratable init pid.
func taskOf(t *testing.T, pid int) int {
	t.Helper()
	var task int
	eventually(t, "the init has a child", func() bool {
		threads, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
		for _, th := range threads {
			b, _ := os.ReadFile(th)
			if f := strings.Fields(string(b)); len(f) > 0 {
				task, _ = strconv.Atoi(f[0])
				return true
			}
		}
		return false
	})
	return task
}
