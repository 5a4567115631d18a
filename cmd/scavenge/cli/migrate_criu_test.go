package cli

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/scavenger"
)

// TestCRIUMigration moves a counting shell loop between two donors of a
// real in-process swarm (libp2p, engines, executors, criu), checkpointed
// every second while it runs, when its donor's owner comes back: it must go on counting where it stopped, in
// the same output stream, with one move and no work lost. Where root lacks
// CAP_SYS_RESOURCE (criu cannot dump another user's process there, see the
// README), the guests run as root, as `bench migrate --root-guests` does;
// the daemons' own e2e (cmd/scavenge TestMigration) runs them as the
// guest user where it can.
func TestCRIUMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process swarm")
	}
	crb := checkpoint.NewCRIU("")
	if err := crb.Check(t.Context()); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("criu migration needs root and criu 4 under CI (.ci/run installs criu): root=%v, %v", os.Geteuid() == 0, err)
		}
		t.Skipf("needs root and a working criu: %v", err)
	}
	ctx := t.Context()
	sw, err := newInprocSwarm(ctx, "scavenge-clitest-", slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.close() })
	home, err := sw.add(ctx, inprocSpec{Name: "home"})
	if err != nil {
		t.Fatal(err)
	}
	var donors []*inprocPeer
	for _, name := range []string{"a", "b"} {
		spec := inprocSpec{Name: name, Bootstrap: home.node.Addrs(), Donate: true, Slots: 1, Dedicated: true, CRIU: crb,
			OnReturn: policy.OnReturn{Action: policy.ActionMigrate, Grace: 30 * time.Second}}
		d, err := sw.add(ctx, spec)
		if err != nil && strings.Contains(err.Error(), "CAP_SYS_RESOURCE") {
			spec.Name += "-root"
			spec.RootGuests = true
			d, err = sw.add(ctx, spec)
		}
		if err != nil {
			t.Fatal(err)
		}
		donors = append(donors, d)
	}
	a, b := donors[0], donors[1]
	if _, err := waitIdle(ctx, home, donors); err != nil {
		t.Fatal(err)
	}
	b.eng.Pause("test: the task starts on a")
	id, err := home.eng.Submit(ctx, scavenger.SubmitRequest{Checkpoint: "criu", CheckpointEvery: time.Second,
		Argv: []string{"sh", "-c", `i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo $i; sleep 0.01; done`}})
	if err != nil {
		t.Fatal(err)
	}
	out := watchOutput(t, ctx, home.eng, id)
	eventually(t, "the loop to count to 50 on a", func() bool { return out.last() >= 50 })
	// A periodic checkpoint reaches the home while the loop runs on.
	eventually(t, "a periodic checkpoint at home", func() bool {
		j, _ := home.eng.Job(id)
		ck := j.Tasks[0].Checkpoint
		return ck != nil && !ck.Final && ck.Backend == "criu"
	})
	b.eng.Resume()
	if _, err := waitIdle(ctx, home, []*inprocPeer{b}); err != nil {
		t.Fatal(err)
	}
	a.eng.Pause("test: the owner is back")
	var j scavenger.Job
	eventually(t, "the job to finish", func() bool {
		j, _ = home.eng.Job(id)
		return j.State.Final()
	})
	task := j.Tasks[0]
	if j.State != scavenger.StateDone || task.Moves != 1 || task.WorkLost != 0 || task.PeerName != b.name {
		t.Errorf("task %+v: want done on %s after one move, nothing lost", task, b.name)
	}
	if got := out.numbers(); len(got) != 400 || !countsUp(got) {
		t.Errorf("output %v: want 1..400 once each, in order (the loop went on where it stopped)", got)
	}
	if m := a.eng.Stats().LastMigration; m == nil || m.Backend != "criu" || m.Dump <= 0 {
		t.Errorf("a's last migration %+v, want a criu dump", m)
	}
	// The counters /metrics shows: a periodic and the final image sent
	// from a, one resume on b.
	if ca, cb := a.eng.Stats().Checkpoints, b.eng.Stats().Checkpoints; ca.Sent < 2 || ca.Failed != 0 || cb.Resumed != 1 || cb.ResumeFailed != 0 {
		t.Errorf("checkpoint counters: a %+v, b %+v; want a: 2 or more sent, b: 1 resumed", ca, cb)
	}
}

// outputLog collects a job's stdout as it comes.
type outputLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func watchOutput(t *testing.T, ctx context.Context, e *scavenger.Engine, id string) *outputLog {
	t.Helper()
	evs, err := e.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	o := &outputLog{}
	go func() {
		for ev := range evs {
			if ev.Type == scavenger.EventOutput && ev.Stream == "stdout" {
				o.mu.Lock()
				o.buf.Write(ev.Data)
				o.mu.Unlock()
			}
		}
	}()
	return o
}

func (o *outputLog) numbers() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ns []int
	for _, f := range strings.Fields(o.buf.String()) {
		n, _ := strconv.Atoi(f)
		ns = append(ns, n)
	}
	return ns
}

func (o *outputLog) last() int {
	ns := o.numbers()
	if len(ns) == 0 {
		return 0
	}
	return ns[len(ns)-1]
}

func countsUp(ns []int) bool {
	for i, n := range ns {
		if n != i+1 {
			return false
		}
	}
	return true
}
