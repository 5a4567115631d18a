package scavenger

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
)

// The signal backend end to end inside one process: real task processes
// (procExecutor), real engines on linked test meshes. The owner of donor
// a comes back (Pause) with policy migrate; what the task does with its
// checkpoint request decides what happens next.
func TestSignalMigration(t *testing.T) {
	migrating := Options{
		Policy: policy.Policy{Dedicated: true, OnReturn: policy.OnReturn{Action: policy.ActionMigrate, Fallback: policy.ActionKill, Grace: 3 * time.Second}},
		Donor:  DonorOptions{Enabled: true, CPUs: 1, Checkpoint: []string{"signal"}},
	}
	for _, tc := range []struct {
		name   string
		script string // the task: counts in $n, prints "start" or "resumed N"
		check  func(t *testing.T, j Job, out string)
	}{{
		name: "a task that saves itself resumes on the other donor",
		script: `d=$SCAVENGE_CHECKPOINT_DIR; n=0
if [ "$SCAVENGE_RESUMED" = 1 ]; then n=$(cat "$d/n"); echo "resumed $n"; else echo start; fi
trap 'echo $n > "$d/n"; exit 85' USR2
while [ $n -lt 150 ]; do n=$((n+1)); sleep 0.02; done; echo "done $n"`,
		check: func(t *testing.T, j Job, out string) {
			task := j.Tasks[0]
			if j.State != StateDone || task.Moves != 1 || task.Preemptions != 0 || task.WorkLost != 0 || task.PeerName != "donor-b" {
				t.Errorf("task %+v: want done on donor-b after one move", task)
			}
			if strings.Count(out, "start") != 1 || !strings.Contains(out, "resumed ") || !strings.HasSuffix(out, "done 150\n") {
				t.Errorf("output %q: want one start, a resume, done 150", out)
			}
		},
	}, {
		name: "a task that finishes when asked to save itself is done",
		script: `echo start; trap 'echo finished anyway; exit 0' USR2
while :; do sleep 0.02; done`,
		check: func(t *testing.T, j Job, out string) {
			task := j.Tasks[0]
			if j.State != StateDone || task.Attempts != 1 || task.Preemptions != 0 || task.PeerName != "donor-a" {
				t.Errorf("task %+v: want done where it ran, in one attempt", task)
			}
			if out != "start\nfinished anyway\n" {
				t.Errorf("output %q", out)
			}
		},
	}, {
		name:   "a task killed by the request starts over elsewhere, and says why",
		script: `echo start; if [ -f MARK ]; then exit 0; fi; touch MARK; while :; do sleep 0.02; done`,
		check: func(t *testing.T, j Job, out string) {
			task := j.Tasks[0]
			if j.State != StateDone || task.Preemptions != 1 || task.Moves != 0 || task.WorkLost <= 0 {
				t.Errorf("task %+v: want done after a preemption, work lost", task)
			}
			if strings.Count(out, "start") != 2 {
				t.Errorf("output %q: want a second start (nothing was saved)", out)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			home := startNode(t, "home", Options{Home: HomeOptions{Retries: 2}})
			a := startNode(t, "donor-a", migrating)
			b := startNode(t, "donor-b", migrating)
			linkNodes(home, a, b)
			linkNodes(a, b)
			b.e.Pause("the task starts on a")
			waitPeers(t, home, map[string]wire.State{"donor-a": wire.StateIdle, "donor-b": wire.StatePaused})
			script := strings.ReplaceAll(tc.script, "MARK", filepath.Join(t.TempDir(), "ran-once"))
			id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", script}, Checkpoint: "signal"})
			w := watchJob(t, home, id)
			w.until("the task's first line", func(ev Event) bool {
				return ev.Type == EventOutput && strings.Contains(string(ev.Data), "start")
			})
			b.e.Resume()
			waitPeers(t, home, map[string]wire.State{"donor-b": wire.StateIdle})
			a.e.Pause("owner back")
			j := w.finished()
			tc.check(t, j, w.output("stdout"))
			if strings.Contains(tc.name, "says why") {
				if r := w.ofType(EventRequeued); len(r) != 1 || !strings.Contains(r[0].Message, "does it handle SIGUSR2?") {
					t.Errorf("requeued %+v: want the reason to ask whether it handles SIGUSR2", r)
				}
			}
		})
	}
}
