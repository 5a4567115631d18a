package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

func TestWaitExitAndSummary(t *testing.T) {
	zero, three, minus := 0, 3, -1
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	start := now.Add(-12 * time.Second)
	done := func(code *int, signal string) scavenger.Task {
		return scavenger.Task{ID: "0", State: scavenger.StateDone, ExitCode: code, Signal: signal, PeerName: "bob", Started: start, Finished: now}
	}
	many := func(tasks ...scavenger.Task) []scavenger.Task {
		for i := range tasks {
			tasks[i].ID = string(rune('0' + i))
		}
		return tasks
	}
	tests := []struct {
		name     string
		job      scavenger.Job
		wantCode int
		want     string
	}{
		{"one task, exit 0", scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: []scavenger.Task{done(&zero, "")}},
			0, "job j done: exit 0 on bob in 12s"},
		{"one task, exit 3", scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: []scavenger.Task{done(&three, "")}},
			3, "job j done: exit 3 on bob in 12s"},
		{"one task, killed", scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: []scavenger.Task{done(&minus, "killed")}},
			137, "job j done: killed by signal killed on bob in 12s"},
		{"one task, failed", scavenger.Job{ID: "j", State: scavenger.StateFailed, Reason: "no idle peer within 10s",
			Tasks: []scavenger.Task{{ID: "0", State: scavenger.StateFailed, Reason: "no idle peer within 10s"}}},
			1, "job j failed: no idle peer within 10s"},
		{"one task, cancelled", scavenger.Job{ID: "j", State: scavenger.StateCancelled,
			Tasks: []scavenger.Task{{ID: "0", State: scavenger.StateCancelled, Reason: "cancelled by the user"}}},
			1, "job j cancelled: cancelled by the user"},
		{"many, all exit 0", scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: many(done(&zero, ""), done(&zero, ""))},
			0, "job j done: 2 tasks: 2 done in 12s"},
		{"many, one exit 3", scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: many(done(&zero, ""), done(&three, ""), done(&zero, ""))},
			1, "job j done: 3 tasks: 3 done (1 exited non-zero); first: task 1: exit 3 in 12s"},
		{"many, failed", scavenger.Job{ID: "j", State: scavenger.StateFailed,
			Tasks: many(done(&zero, ""), scavenger.Task{State: scavenger.StateFailed, Reason: "input gone"}, scavenger.Task{State: scavenger.StateCancelled})},
			1, "job j failed: 3 tasks: 1 done, 1 failed, 1 cancelled; first: task 1: input gone in 12s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jobSummary(tt.job, now); got != tt.want {
				t.Errorf("summary: got %q, want %q", got, tt.want)
			}
			var errb bytes.Buffer
			if code := exitCode(&env{stderr: &errb}, waitCmd, waitExit(tt.job)); code != tt.wantCode || errb.Len() > 0 {
				t.Errorf("exit: got %d %q, want %d and nothing said (the summary says it)", code, errb.String(), tt.wantCode)
			}
		})
	}
}

// TestWaitJSON: --json prints the final record, and the exit is the job's.
func TestWaitJSON(t *testing.T) {
	d := startTestDaemon(t)
	id := d.submit(scavenger.SubmitRequest{Argv: []string{"sh", "-c", "exit 5"}})
	code, stdout, _ := runCLI(t, d.vars, "wait", "--json", id)
	var j scavenger.Job
	if err := json.Unmarshal([]byte(stdout), &j); err != nil {
		t.Fatalf("wait --json printed %q: %v", stdout, err)
	}
	if code != 5 || j.ID != id || j.State != scavenger.StateDone || len(j.Tasks) != 1 || j.Tasks[0].ExitCode == nil || *j.Tasks[0].ExitCode != 5 {
		t.Errorf("wait --json: got %d %+v, want 5 and job %s done with exit 5", code, j, id)
	}
}

// TestWaitInterrupted: Ctrl-C stops waiting and leaves the job running.
func TestWaitInterrupted(t *testing.T) {
	d := startTestDaemon(t)
	id := d.submit(scavenger.SubmitRequest{Argv: []string{"sleep", "60"}})
	d.waitTasks(id, scavenger.StateRunning)
	ctx, cancel := context.WithCancel(t.Context())
	w := startCLI(t, ctx, d.vars, "wait", id)
	time.Sleep(200 * time.Millisecond) // waiting on the events by now
	cancel()
	code, stdout, stderr := w.wait(t)
	if code != exitInterrupted || stdout != "" || !strings.Contains(stderr, "stopped waiting; job "+id+" goes on") {
		t.Errorf("wait after Ctrl-C: got %d %q %q, want %d and 'stopped waiting'", code, stdout, stderr, exitInterrupted)
	}
	if j := d.job(id); j.State.Final() {
		t.Errorf("job %s after wait's Ctrl-C, want it still running", j.State)
	}
	if err := d.c.Cancel(t.Context(), id, "test over"); err != nil {
		t.Error(err)
	}
}

// TestWaitSurvivesDaemonRestart: when the daemon's API goes away and comes
// back, wait carries on and reports the job's end.
func TestWaitSurvivesDaemonRestart(t *testing.T) {
	d := startTestDaemon(t)
	g := d.newGate("restart")
	id := d.submit(scavenger.SubmitRequest{Argv: []string{"sh", "-c", g.wait()}})
	d.waitTasks(id, scavenger.StateRunning)
	w := startCLI(t, t.Context(), d.vars, "wait", id)
	time.Sleep(200 * time.Millisecond) // waiting on the events by now
	d.stopAPIServer()
	eventually(t, "wait to notice", func() bool { return strings.Contains(w.stderr.String(), "lost the daemon") })
	g.open(t)
	time.Sleep(300 * time.Millisecond) // the job ends while no API answers
	d.startAPI()
	code, stdout, _ := w.wait(t)
	if code != 0 || !strings.HasPrefix(stdout, "job "+id+" done: exit 0 on bob") {
		t.Errorf("wait across a restart: got %d %q, want 0 and the job's end", code, stdout)
	}
}
