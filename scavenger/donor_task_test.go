package scavenger

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// spec returns a TaskSpec for a fresh claim of job/task.
func (f *donorFixture) spec(job, task string, argv ...string) wire.TaskSpec {
	f.t.Helper()
	resp := f.mustClaim(job, task, 1)
	return wire.TaskSpec{ClaimID: resp.ClaimID, JobID: job, TaskID: task, Argv: argv}
}

// checkClean fails the test if the donor kept a task dir or a slot.
func (f *donorFixture) checkClean() {
	f.t.Helper()
	donorEventually(f.t, "slots to be free", func() bool { return f.d.status().Free == f.d.cpus })
	if dirs := f.taskDirs(); len(dirs) != 0 {
		f.t.Errorf("task dirs left behind: %v", dirs)
	}
	if gs := f.d.status().Guests; len(gs) != 0 {
		f.t.Errorf("guests left behind: %+v", gs)
	}
}

func TestDonorTaskRuns(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	spec := f.spec("job1", "0", "sh", "-c", `echo "ran on $SCAVENGE_HOST_PEER"; echo oops >&2; exit 3`)
	r := f.runTask(spec, taskOpts{})
	if r.errMsg != "" || r.streamErr != nil {
		t.Fatalf("task: error %q, stream %v", r.errMsg, r.streamErr)
	}
	if len(r.need) != 0 {
		t.Errorf("need without inputs: got %v, want none", r.need)
	}
	if r.started == nil || r.started.HostPeer != donorTestID || r.started.Pid <= 0 {
		t.Errorf("started: got %+v, want host %s and a pid", r.started, donorTestID)
	}
	if got, want := r.stdout.String(), "ran on "+donorTestID+"\n"; got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
	if got, want := r.stderr.String(), "oops\n"; got != want {
		t.Errorf("stderr: got %q, want %q", got, want)
	}
	if r.exit == nil || r.exit.Code != 3 || r.exit.Preempted || r.exit.Error != "" || r.exit.Reason != "" {
		t.Errorf("exit: got %+v, want code 3 and nothing else", r.exit)
	}
	if !r.done {
		t.Error("no done after exit")
	}
	if fi, err := os.Stat(f.e.opts.Donor.WorkDir); err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("work dir: %v (%v), want mode 0711", fi, err)
	}
	f.checkClean()
}

// TestDonorTaskLargeOutput: output larger than a chunk arrives whole and in order.
func TestDonorTaskLargeOutput(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	const n = 3*wire.ChunkSize + 17
	r := f.runTask(f.spec("job1", "0", "head", "-c", fmt.Sprint(n), "/dev/zero"), taskOpts{})
	if r.exit == nil || r.exit.Code != 0 {
		t.Fatalf("exit: got %+v (error %q), want code 0", r.exit, r.errMsg)
	}
	if got := r.stdout.Len(); got != n || bytes.IndexByte(r.stdout.Bytes(), 1) >= 0 {
		t.Errorf("stdout: got %d bytes, want %d zero bytes", got, n)
	}
}

func TestDonorTaskStartFailure(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	r := f.runTask(f.spec("job1", "0", "/nonexistent/program"), taskOpts{})
	if r.started != nil {
		t.Errorf("started for a program that does not exist: %+v", r.started)
	}
	if r.exit == nil || r.exit.Code != 127 || !strings.HasPrefix(r.exit.Error, "start: ") || !r.done {
		t.Errorf("exit: got %+v (done %v), want code 127 with a start error, then done", r.exit, r.done)
	}
	f.checkClean()
}

func TestDonorTaskClaimChecks(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	intruder := newTestMesh("intruder-peer")
	link(intruder, f.mesh)
	used := f.spec("job1", "0", "true")
	if r := f.runTask(used, taskOpts{}); r.exit == nil {
		t.Fatalf("first use of a claim: %+v", r)
	}
	other := f.mustClaim("job2", "0", 1)
	tests := []struct {
		name string
		spec wire.TaskSpec
		want string
	}{
		{"unknown claim", wire.TaskSpec{ClaimID: "NOSUCHCLAIM", JobID: "job2", TaskID: "0", Argv: []string{"true"}},
			"claim NOSUCHCLAIM: unknown or expired claim"},
		{"claim already used and gone", used, "claim " + used.ClaimID + ": unknown or expired claim"},
		{"other job", wire.TaskSpec{ClaimID: other.ClaimID, JobID: "job3", TaskID: "0", Argv: []string{"true"}},
			"claim " + other.ClaimID + " is for job job2 task 0, not job job3 task 0"},
		{"reserved env", wire.TaskSpec{ClaimID: f.mustClaim("job4", "0", 1).ClaimID, JobID: "job4", TaskID: "0",
			Argv: []string{"true"}, Env: map[string]string{"SCAVENGE_HOST_PEER": "forged"}}, "env SCAVENGE_HOST_PEER is reserved"},
		{"bad spec", wire.TaskSpec{ClaimID: "x", JobID: "job5", TaskID: "0"}, "task spec: invalid message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.runTask(tt.spec, taskOpts{})
			if !strings.HasPrefix(r.errMsg, tt.want) {
				t.Errorf("error: got %q, want it to start with %q", r.errMsg, tt.want)
			}
			if r.started != nil {
				t.Errorf("the task started: %+v", r.started)
			}
		})
	}
	t.Run("another peer's claim", func(t *testing.T) {
		claim := f.mustClaim("job6", "0", 1)
		s, err := intruder.NewStream(t.Context(), donorTestID, wire.TaskProtocol)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		c := wire.NewConn(s)
		if err := c.Send(&wire.TaskSpec{ClaimID: claim.ClaimID, JobID: "job6", TaskID: "0", Argv: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
		_, err = wire.Expect[*wire.Need](c)
		if want := "unknown or expired claim"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("intruder's task: got %v, want an error with %q", err, want)
		}
		// The rightful home can still use it.
		r := f.runTask(wire.TaskSpec{ClaimID: claim.ClaimID, JobID: "job6", TaskID: "0", Argv: []string{"true"}}, taskOpts{})
		if r.exit == nil || r.exit.Code != 0 {
			t.Errorf("rightful home after the intruder: %+v (error %q)", r.exit, r.errMsg)
		}
	})
}

// TestDonorTaskEnv: the guest sees exactly the documented environment.
func TestDonorTaskEnv(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	spec := f.spec("job1", "t1", "/usr/bin/env")
	spec.Env = map[string]string{"FOO": "bar baz", "PATH": "/bin:/usr/bin"}
	r := f.runTask(spec, taskOpts{})
	if r.exit == nil || r.exit.Code != 0 {
		t.Fatalf("env: exit %+v, error %q", r.exit, r.errMsg)
	}
	dir := filepath.Join(f.e.opts.Donor.WorkDir, "job1-t1-"+spec.ClaimID)
	want := []string{
		"FOO=bar baz",
		"HOME=" + dir,
		"LANG=C.UTF-8",
		"PATH=/bin:/usr/bin",
		"SCAVENGE_HOME_PEER=" + homeTestID,
		"SCAVENGE_HOST_PEER=" + donorTestID,
		"SCAVENGE_JOB_ID=job1",
		"SCAVENGE_TASK_ID=t1",
		"TMPDIR=" + dir,
	}
	got := strings.Split(strings.TrimSuffix(r.stdout.String(), "\n"), "\n")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("guest env:\ngot  %q\nwant %q", got, want)
	}
}

func TestGuestEnv(t *testing.T) {
	ids := guestIDs{JobID: "j", TaskID: "t", HomePeer: "h", HostPeer: "d"}
	base := []string{"HOME=/w/x", "LANG=C.UTF-8", "PATH=" + guestPath, "SCAVENGE_HOME_PEER=h",
		"SCAVENGE_HOST_PEER=d", "SCAVENGE_JOB_ID=j", "SCAVENGE_TASK_ID=t", "TMPDIR=/w/x"}
	tests := []struct {
		name    string
		spec    map[string]string
		want    []string
		wantErr string
	}{
		{name: "base", want: base},
		{name: "added", spec: map[string]string{"A": "1"}, want: append([]string{"A=1"}, base...)},
		{name: "lang and tmpdir overridden", spec: map[string]string{"LANG": "de_DE.UTF-8", "TMPDIR": "/tmp"},
			want: []string{"HOME=/w/x", "LANG=de_DE.UTF-8", "PATH=" + guestPath, "SCAVENGE_HOME_PEER=h",
				"SCAVENGE_HOST_PEER=d", "SCAVENGE_JOB_ID=j", "SCAVENGE_TASK_ID=t", "TMPDIR=/tmp"}},
		{name: "reserved", spec: map[string]string{"SCAVENGE_JOB_ID": "x", "A": "1"}, wantErr: "env SCAVENGE_JOB_ID is reserved"},
		{name: "reserved unknown", spec: map[string]string{"SCAVENGE_ANYTHING": "x"}, wantErr: "env SCAVENGE_ANYTHING is reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := guestEnv(ids, "/w/x", tt.spec)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error: got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("env:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestDonorTaskInputs: inputs arrive verified, land in the task dir, and the
// second task that uses them needs nothing sent.
func TestDonorTaskInputs(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	data := newLocalInput(t, "data.txt", []byte("the quick brown fox\n"), 0)
	script := newLocalInput(t, "bin/run.sh", []byte("#!/bin/sh\necho script ran\n"), 0o755)
	empty := newLocalInput(t, "empty", nil, 0)
	argv := []string{"sh", "-c", `cat data.txt copy.txt; ./bin/run.sh; test -e empty && test ! -s empty && echo empty ok; stat -c %a data.txt bin/run.sh`}

	first := f.spec("job1", "0", argv...)
	copyRef := data.ref
	copyRef.Name = "copy.txt"
	first.Inputs = []wire.FileRef{data.ref, script.ref, copyRef, empty.ref}
	r := f.runTask(first, taskOpts{inputs: []localInput{data, script, empty}})
	wantNeed := []string{data.ref.SHA256, script.ref.SHA256, empty.ref.SHA256}
	if !slices.Equal(r.need, wantNeed) {
		t.Errorf("first task needs: got %v, want %v (each once, in input order)", r.need, wantNeed)
	}
	// Every input is a copy with the mode the home asked for.
	want := "the quick brown fox\nthe quick brown fox\nscript ran\nempty ok\n644\n755\n"
	if got := r.stdout.String(); got != want || r.exit == nil || r.exit.Code != 0 {
		t.Fatalf("first task: stdout %q exit %+v error %q stderr %q, want stdout %q", got, r.exit, r.errMsg, r.stderr.String(), want)
	}

	second := f.spec("job1", "1", argv...)
	second.Inputs = first.Inputs
	r = f.runTask(second, taskOpts{}) // the test home has no files to send now
	if len(r.need) != 0 {
		t.Errorf("second task needs: got %v, want nothing (cached)", r.need)
	}
	if got := r.stdout.String(); got != want {
		t.Errorf("second task: stdout %q, want %q (error %q)", got, want, r.errMsg)
	}
	if bytes, entries := f.d.cache.size(); entries != 3 || bytes != data.ref.Size+script.ref.Size {
		t.Errorf("cache: got %d entries, %d bytes; want 3 entries, %d bytes", entries, bytes, data.ref.Size+script.ref.Size)
	}
	f.checkClean()
}

// TestDonorTaskInputRejected: bytes that do not hash to the announced
// SHA-256 are refused and never enter the cache.
func TestDonorTaskInputRejected(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	good := newLocalInput(t, "data.txt", []byte("genuine bytes"), 0)
	forged := newLocalInput(t, "forged", []byte("tampered!bytes"[:len("genuine bytes")]), 0)
	spec := f.spec("job1", "0", "cat", "data.txt")
	spec.Inputs = []wire.FileRef{good.ref}
	// The home claims good's hash but sends forged's bytes (same size).
	lying := localInput{ref: good.ref, path: forged.path}
	s, err := f.home.NewStream(t.Context(), donorTestID, wire.TaskProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := wire.NewConn(s)
	if err := c.Send(&spec); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.Expect[*wire.Need](c); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(&wire.FileHeader{Name: "data.txt", SHA256: lying.ref.SHA256, Size: lying.ref.Size}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(lying.path)
	if err := c.Send(&wire.Chunk{Data: b}); err != nil {
		t.Fatal(err)
	}
	_, err = wire.Expect[*wire.Started](c)
	if want := "peer error: input data.txt: sha256 mismatch"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("forged input: got %v, want an error starting %q", err, want)
	}
	if _, entries := f.d.cache.size(); entries != 0 {
		t.Errorf("cache after a forged input: %d entries, want 0", entries)
	}
	f.checkClean()

	// An honest retry must still be asked for the file.
	retry := f.spec("job1", "1", "cat", "data.txt")
	r := f.runTask(retry, taskOpts{inputs: []localInput{good}})
	if !slices.Equal(r.need, []string{good.ref.SHA256}) || r.stdout.String() != "genuine bytes" {
		t.Errorf("honest retry: need %v stdout %q error %q", r.need, r.stdout.String(), r.errMsg)
	}
}

func TestDonorTaskInputLimits(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{MaxInput: 100}))
	a := newLocalInput(t, "a", bytes.Repeat([]byte("a"), 60), 0)
	b := newLocalInput(t, "b", bytes.Repeat([]byte("b"), 60), 0)
	tests := []struct {
		name   string
		inputs []wire.FileRef
		want   string
	}{
		{"over max_input", []wire.FileRef{a.ref, b.ref}, "inputs exceed max_input 100 B of this donor"},
		{"twice", []wire.FileRef{a.ref, a.ref}, "input a is listed twice"},
		{"one hash, two sizes", []wire.FileRef{a.ref, {Name: "a2", SHA256: a.ref.SHA256, Size: 5}},
			"input a2: sha256 " + a.ref.SHA256 + " is listed with sizes 60 and 5"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := f.spec("job1", fmt.Sprint(i), "true")
			spec.Inputs = tt.inputs
			r := f.runTask(spec, taskOpts{inputs: []localInput{a, b}})
			if r.errMsg != tt.want {
				t.Errorf("error: got %q, want %q", r.errMsg, tt.want)
			}
		})
	}
	// A wrong size in the header is refused before any byte is taken.
	spec := f.spec("job1", "size", "true")
	spec.Inputs = []wire.FileRef{a.ref}
	s, err := f.home.NewStream(t.Context(), donorTestID, wire.TaskProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := wire.NewConn(s)
	c.Send(&spec)
	if _, err := wire.Expect[*wire.Need](c); err != nil {
		t.Fatal(err)
	}
	c.Send(&wire.FileHeader{Name: "a", SHA256: a.ref.SHA256, Size: 1 << 40})
	if _, err := wire.Expect[*wire.Started](c); err == nil || !strings.Contains(err.Error(), "size 1099511627776, want") {
		t.Errorf("oversized header: got %v, want a size error", err)
	}
	f.checkClean()
}

// TestDonorTaskOutputs: matching regular files come back, verified and
// sorted; symlinks and non-matching files do not.
func TestDonorTaskOutputs(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("donor's secret"), 0o600)
	spec := f.spec("job1", "0", "sh", "-c", `mkdir -p out/deep && printf b > out/b.txt && printf a > out/a.txt &&
		printf deep > out/deep/c.txt && head -c 300000 /dev/urandom > result.bin && chmod 750 result.bin &&
		echo no > notes.log && ln -s `+secret+` out/link.txt && ln -s a.txt out/rel.txt && mkfifo out/fifo.txt`)
	spec.Outputs = []string{"out/*.txt", "result.bin", "missing.*"}
	r := f.runTask(spec, taskOpts{})
	if r.exit == nil || r.exit.Code != 0 || !r.done {
		t.Fatalf("outputs task: exit %+v done %v error %q stderr %q", r.exit, r.done, r.errMsg, r.stderr.String())
	}
	if want := []string{"out/a.txt", "out/b.txt", "result.bin"}; !slices.Equal(r.files, want) {
		t.Errorf("output files: got %v, want %v", r.files, want)
	}
	for name, want := range map[string]string{"out/a.txt": "a", "out/b.txt": "b"} {
		if got, err := os.ReadFile(filepath.Join(r.outDir, name)); err != nil || string(got) != want {
			t.Errorf("%s: got %q (%v), want %q", name, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(r.outDir, "result.bin"))
	if err != nil || fi.Size() != 300000 || fi.Mode().Perm() != 0o750 {
		t.Errorf("result.bin: %v %v, want 300000 bytes mode 0750", fi, err)
	}
	f.checkClean()
}

func TestDonorTaskOutputLimit(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{MaxOutput: 1000}))
	spec := f.spec("job1", "0", "sh", "-c", `head -c 600 /dev/zero > a.out; head -c 600 /dev/zero > b.out; exit 4`)
	spec.Outputs = []string{"*.out"}
	r := f.runTask(spec, taskOpts{})
	if r.exit == nil || r.exit.Code != 4 {
		t.Errorf("exit: got %+v, want code 4 before the output error", r.exit)
	}
	if want := []string{"a.out"}; !slices.Equal(r.files, want) {
		t.Errorf("files: got %v, want %v", r.files, want)
	}
	if want := "outputs exceed max_output 1000 B of this donor: b.out would bring them to 1.2 KiB"; r.errMsg != want || r.done {
		t.Errorf("error: got %q (done %v), want %q and no done", r.errMsg, r.done, want)
	}
	f.checkClean()
}

// processGone reports whether pid no longer exists (the test executor
// reaps its children, so no zombie lingers).
func processGone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }

func TestDonorTaskStops(t *testing.T) {
	tests := []struct {
		name          string
		opts          DonorOptions
		argv          []string
		timeoutMs     int64
		stop          func(f *donorFixture, c *wire.Conn)
		wantReason    string
		wantPreempted bool
		wantAction    string
		grace         time.Duration
	}{
		{
			name: "cancel", opts: enabled(DonorOptions{}), argv: []string{"sleep", "60"},
			stop:       func(f *donorFixture, c *wire.Conn) { c.Send(&wire.Cancel{Reason: "user pressed Ctrl-C"}) },
			wantReason: "cancelled by home: user pressed Ctrl-C", wantAction: "killed: cancelled by home: user pressed Ctrl-C",
		},
		{
			name: "timeout", opts: enabled(DonorOptions{}), argv: []string{"sleep", "60"}, timeoutMs: 300,
			wantReason: "timeout after 300ms", wantAction: "killed: timeout",
		},
		{
			name: "owner returns", opts: DonorOptions{Enabled: true}, argv: []string{"sleep", "60"},
			stop: func(f *donorFixture, c *wire.Conn) {
				f.d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used 1 s ago", Action: GuestKill})
			},
			wantReason: "owner returned: keyboard used 1 s ago", wantPreempted: true,
			wantAction: "killed: owner returned: keyboard used 1 s ago",
		},
		{
			name: "paused", opts: DonorOptions{Enabled: true}, argv: []string{"sleep", "60"},
			stop:       func(f *donorFixture, c *wire.Conn) { f.e.Pause("presentation") },
			wantReason: "paused by the owner: presentation", wantPreempted: true, wantAction: "killed: paused by the owner: presentation",
		},
		{
			// Ignores SIGTERM (so does its sleep, which inherits that):
			// only SIGKILL after the grace period ends it.
			name: "owner returns to a stubborn guest", opts: DonorOptions{Enabled: true}, grace: 300 * time.Millisecond,
			argv: []string{"sh", "-c", `trap "" TERM; sleep 60`},
			stop: func(f *donorFixture, c *wire.Conn) {
				f.d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used", Action: GuestKill})
			},
			wantReason: "owner returned: keyboard used", wantPreempted: true, wantAction: "killed: owner returned: keyboard used",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDonorFixture(t, tt.opts, withGrace(cmp.Or(tt.grace, 2*time.Second)))
			f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "idle"})
			spec := f.spec("job1", "0", tt.argv...)
			spec.TimeoutMs = tt.timeoutMs
			actions := make(chan string, 1)
			r := f.runTask(spec, taskOpts{whileRunning: func(c *wire.Conn) {
				if tt.stop != nil {
					tt.stop(f, c)
				}
				// Catch the action while the guest is still stopping.
				action := ""
				for _, g := range f.d.status().Guests {
					action = g.Action
				}
				actions <- action
			}})
			if r.exit == nil || !r.done {
				t.Fatalf("no exit: %+v", r)
			}
			if r.exit.Reason != tt.wantReason || r.exit.Preempted != tt.wantPreempted || r.exit.Code != -1 || r.exit.Signal == "" {
				t.Errorf("exit: got %+v, want reason %q preempted %v, killed by a signal", r.exit, tt.wantReason, tt.wantPreempted)
			}
			if action := <-actions; tt.stop != nil && action != "" && action != tt.wantAction {
				t.Errorf("guest action: got %q, want %q", action, tt.wantAction)
			}
			if !processGone(r.started.Pid) {
				t.Errorf("guest %d still runs", r.started.Pid)
			}
			f.checkClean()
		})
	}
}

// TestDonorTaskGuestAction: status shows what is being done to a guest
// that takes its time to stop (its TERM handler waits for the test).
func TestDonorTaskGuestAction(t *testing.T) {
	f := newDonorFixture(t, DonorOptions{Enabled: true}, withGrace(20*time.Second))
	f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "idle"})
	spec := f.spec("job1", "0", "sh", "-c",
		`trap 'until [ -e release ]; do sleep 0.02; done; exit 9' TERM; touch ready; while :; do sleep 0.05; done`)
	dir := filepath.Join(f.e.opts.Donor.WorkDir, "job1-0-"+spec.ClaimID)
	r := f.runTask(spec, taskOpts{whileRunning: func(c *wire.Conn) {
		donorEventually(t, "the guest's TERM trap", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
		gs := f.d.status().Guests
		if len(gs) != 1 || gs[0].JobID != "job1" || gs[0].TaskID != "0" || gs[0].HomePeer != homeTestID || gs[0].Pid <= 0 ||
			gs[0].Action != "" || !slices.Equal(gs[0].Argv, spec.Argv) {
			t.Errorf("running guest: got %+v", gs)
		}
		f.d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used", Action: GuestKill})
		gs = f.d.status().Guests
		if len(gs) != 1 || gs[0].Action != "killed: owner returned: keyboard used" {
			t.Errorf("stopping guest: got %+v, want action %q", gs, "killed: owner returned: keyboard used")
		}
		os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
	}})
	if r.exit == nil || r.exit.Code != 9 || !r.exit.Preempted {
		t.Errorf("exit: got %+v, want code 9 (its TERM handler), preempted", r.exit)
	}
	f.checkClean()
}

// TestDonorLeaseExpiry: a home that stops renewing loses its guest after a
// lease; one that renews keeps it.
func TestDonorLeaseExpiry(t *testing.T) {
	t.Run("vanished home", func(t *testing.T) {
		f := newDonorFixture(t, enabled(DonorOptions{Lease: 300 * time.Millisecond}))
		spec := f.spec("job1", "0", "sleep", "60")
		r := f.runTask(spec, taskOpts{})
		if r.exit != nil || r.streamErr == nil {
			t.Errorf("stream of an expired lease: exit %+v, stream error %v; want a reset and no exit", r.exit, r.streamErr)
		}
		donorEventually(t, "the guest to be gone", func() bool { return processGone(r.started.Pid) })
		f.checkClean()
	})
	t.Run("renewing home", func(t *testing.T) {
		f := newDonorFixture(t, enabled(DonorOptions{Lease: 300 * time.Millisecond}))
		spec := f.spec("job1", "0", "sleep", "1")
		stop := make(chan struct{})
		defer close(stop)
		r := f.runTask(spec, taskOpts{whileRunning: func(c *wire.Conn) {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if c.Send(&wire.Renew{}) != nil {
						return
					}
				}
			}
		}})
		if r.exit == nil || r.exit.Code != 0 || r.exit.Reason != "" {
			t.Errorf("renewed task: exit %+v, stream %v; want a clean exit", r.exit, r.streamErr)
		}
	})
}

// TestDonorRevokedClaim: a claim taken back by the owner before its task
// starts is answered with a preempted exit, which the home requeues, even
// if the owner has gone again by the time the task arrives (the claim's
// slots were given back).
func TestDonorRevokedClaim(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(d *donor)
		want   string
	}{
		{"paused", func(d *donor) { d.e.Pause("meeting") }, "paused by the owner: meeting"},
		{"paused and resumed", func(d *donor) { d.e.Pause("meeting"); d.e.Resume() }, "paused by the owner: meeting"},
		{"owner came and went", func(d *donor) {
			d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used", Action: GuestKill})
			d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "idle again"})
		}, "owner returned: keyboard used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDonorFixture(t, DonorOptions{Enabled: true})
			f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "idle"})
			spec := f.spec("job1", "0", "true")
			tt.revoke(f.d)
			r := f.runTask(spec, taskOpts{})
			if r.exit == nil || !r.exit.Preempted || r.exit.Reason != tt.want || r.started != nil || !r.done {
				t.Errorf("revoked claim: exit %+v started %+v done %v error %q; want preempted %q", r.exit, r.started, r.done, r.errMsg, tt.want)
			}
			f.checkClean()
		})
	}
}

// TestDonorShutdown: when the daemon stops, guests are stopped and told so,
// and run returns nil.
func TestDonorShutdown(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	spec := f.spec("job1", "0", "sleep", "60")
	r := f.runTask(spec, taskOpts{whileRunning: func(c *wire.Conn) { f.stop() }})
	if r.exit == nil || !r.exit.Preempted || r.exit.Reason != "donor is shutting down" {
		t.Errorf("exit at shutdown: got %+v", r.exit)
	}
	if resp := f.claim(wire.ClaimRequest{JobID: "j", TaskID: "0", CPUs: 1}); resp.Accepted || resp.Reason != "not idle: donor is shutting down" {
		t.Errorf("claim after shutdown: got %+v", resp)
	}
}

// TestDonorStaleTaskDirs: task dirs a crashed daemon left are removed; other
// things in the work dir are not.
func TestDonorStaleTaskDirs(t *testing.T) {
	work := filepath.Join(t.TempDir(), "work")
	stale := filepath.Join(work, "job1-0-ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	keep := filepath.Join(work, "notes")
	for _, d := range []string{stale, keep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := newDonorFixture(t, enabled(DonorOptions{WorkDir: work}))
	f.runTask(f.spec("job2", "0", "true"), taskOpts{})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale task dir: %v, want it removed", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("unrelated dir: %v, want it kept", err)
	}
}

// TestDonorGuestTreatment: while the owner is back, a guest is suspended
// or shared as the policy says and resumed when the owner leaves again; its
// home hears each change and the task still completes.
func TestDonorGuestTreatment(t *testing.T) {
	f := newDonorFixture(t, DonorOptions{Enabled: true})
	f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "idle"})
	states := make(chan *wire.GuestState, 8)
	spec := f.spec("job1", "0", "sh", "-c", `until [ -e finish ]; do sleep 0.01; done; echo finished`)
	wantState := func(want string) {
		t.Helper()
		select {
		case s := <-states:
			if s.State != want {
				t.Errorf("guest state %q (%s), want %q", s.State, s.Reason, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no guest state %q", want)
		}
	}
	r := f.runTask(spec, taskOpts{states: states, whileRunning: func(c *wire.Conn) {
		pid := 0
		for _, g := range f.d.status().Guests {
			pid = g.Pid
		}
		f.d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used 1 s ago", Action: GuestSuspend})
		wantState(wire.GuestSuspended)
		// SIGSTOP lands when the kernel next schedules the process.
		waitFor(t, "the guest to stop", func() bool { return procState(t, pid) == "T" })
		if g := f.d.status().Guests; len(g) != 1 || !strings.HasPrefix(g[0].Action, "suspended (SIGSTOP): owner returned: keyboard used") {
			t.Errorf("status of a suspended guest: %+v", g)
		}
		f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "no input for 5 min"})
		wantState(wire.GuestRunning)
		waitFor(t, "the guest to continue", func() bool { return procState(t, pid) != "T" })
		f.d.setPresence(Presence{State: wire.StateOwner, Reason: "mouse moved", Action: GuestShare, Share: Limits{CPUs: 0.1}})
		wantState(wire.GuestShared)
		dirs := f.taskDirs()
		if len(dirs) != 1 {
			t.Fatalf("task dirs %v, want one", dirs)
		}
		os.WriteFile(filepath.Join(f.e.opts.Donor.WorkDir, dirs[0], "finish"), nil, 0o644)
	}})
	if r.exit == nil || r.exit.Code != 0 || r.exit.Preempted || r.stdout.String() != "finished\n" {
		t.Fatalf("exit %+v stdout %q, want a normal end after suspend, resume and share", r.exit, r.stdout.String())
	}
}

// procState is the one-letter state of pid from /proc/<pid>/stat.
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("state of %d: %v", pid, err)
	}
	// The command name is in parentheses and may hold spaces.
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	return rest[:1]
}

// TestDonorGuestThatCannotBeSuspended: where a guest cannot be frozen, the
// owner still gets the machine back: the guest is stopped and its home runs
// the task elsewhere.
func TestDonorGuestThatCannotBeSuspended(t *testing.T) {
	f := newDonorFixture(t, DonorOptions{Enabled: true}, func(o *Options) { o.Executor = procExecutor{noFreeze: true} })
	f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "idle"})
	r := f.runTask(f.spec("job1", "0", "sleep", "60"), taskOpts{whileRunning: func(c *wire.Conn) {
		f.d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used 0s ago", Action: GuestSuspend})
	}})
	if r.exit == nil || !r.exit.Preempted || !strings.Contains(r.exit.Reason, "could not suspend it") {
		t.Fatalf("exit %+v, want preempted saying the guest could not be suspended", r.exit)
	}
	if !processGone(r.started.Pid) {
		t.Errorf("guest %d still runs", r.started.Pid)
	}
}
