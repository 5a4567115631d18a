package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// TestStatusManyTasks: status JOB of a job of many tasks shows a line per
// task and their counts; the job list shows its progress.
func TestStatusManyTasks(t *testing.T) {
	d := startTestDaemon(t)
	g := d.newGate("status")
	req := scavenger.SubmitRequest{Name: "sweep", Outputs: []string{"*.png"}}
	for _, cmd := range []string{"true", "exit 4", g.wait()} {
		req.Tasks = append(req.Tasks, scavenger.TaskRequest{Argv: []string{"sh", "-c", cmd}})
	}
	id := d.submit(req)
	eventually(t, "tasks 0 and 1 done, 2 running", func() bool {
		j := d.job(id)
		return j.Tasks[0].State.Final() && j.Tasks[1].State.Final() && j.Tasks[2].State == scavenger.StateRunning
	})
	code, stdout, _ := runCLI(t, d.vars, "status", id)
	if code != 0 {
		t.Fatalf("status %s: exit %d", id, code)
	}
	for _, want := range []string{
		`(?m)^job +` + id + `$`,
		`(?m)^name +sweep$`,
		`(?m)^state +running$`,
		`(?m)^tasks +3: 2 done \(1 exited non-zero\), 1 running$`,
		`(?m)^outputs +\*\.png -> \S+/<task>$`,
		`(?m)^TASK +STATE +PEER +ATTEMPTS +PREEMPTED +EXIT +STARTED +RAN +REASON$`,
		`(?m)^0 +done +bob +1 +0 +0 +\S+ ago +\S+`,
		`(?m)^1 +done +bob +1 +0 +4 +\S+ ago +\S+`,
		`(?m)^2 +running +bob +1 +0 +- +\S+ ago +\S+`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("status %s lacks a line matching %s", id, want)
		}
	}
	if strings.Contains(stdout, "command") {
		t.Errorf("status of a many-task job shows a command line: the tasks have their own")
	}

	code, stdout, _ = runCLI(t, d.vars, "status")
	if want := regexp.MustCompile(`(?m)^` + id + ` +sweep +running +2/3 +bob +0,4 +`); code != 0 || !want.MatchString(stdout) {
		t.Errorf("status: got %d, want the job's line matching %s", code, want)
	}
	for _, want := range []string{"machine", "presence", "slots"} {
		if !regexp.MustCompile(`(?m)^` + want + ` `).MatchString(stdout) {
			t.Errorf("status lost the daemon's %q line", want)
		}
	}
	g.open(t)
	if code, _, _ := runCLI(t, d.vars, "wait", id); code != 1 {
		t.Errorf("wait: exit %d, want 1 (task 1 exited 4)", code)
	}
}

// TestReadCommandsJSON: every read command's --json output is JSON (JSON
// lines for logs) that decodes into what it promises.
func TestReadCommandsJSON(t *testing.T) {
	d := startTestDaemon(t)
	id := d.submit(scavenger.SubmitRequest{Argv: []string{"sh", "-c", "echo hi"}})
	tests := []struct {
		args []string
		into func() any
		ok   func(v any) bool
	}{
		{[]string{"wait", "--json", id}, func() any { return &scavenger.Job{} },
			func(v any) bool { return v.(*scavenger.Job).State == scavenger.StateDone }},
		{[]string{"status", "--json"}, func() any { return &statusJSON{} },
			func(v any) bool {
				s := v.(*statusJSON)
				return s.Daemon.Name == "alice" && len(s.Jobs) == 1 && s.Jobs[0].ID == id
			}},
		{[]string{"status", "--json", id}, func() any { return &scavenger.Job{} },
			func(v any) bool { return v.(*scavenger.Job).ID == id }},
		{[]string{"peers", "--json"}, func() any { return &[]scavenger.PeerInfo{} },
			func(v any) bool { p := *v.(*[]scavenger.PeerInfo); return len(p) == 1 && p[0].Name == "bob" }},
		{[]string{"id", "--json"}, func() any { return &idJSON{} },
			func(v any) bool { return v.(*idJSON).Name == "alice" && len(v.(*idJSON).Addrs) > 0 }},
	}
	for _, tt := range tests {
		code, stdout, _ := runCLI(t, d.vars, tt.args...)
		v := tt.into()
		dec := json.NewDecoder(strings.NewReader(stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); code != 0 || err != nil || !tt.ok(v) || dec.More() {
			t.Errorf("scavenge %s: exit %d, decoded %+v (%v); want one value that checks out", strings.Join(tt.args, " "), code, v, err)
		}
	}
	code, stdout, _ := runCLI(t, d.vars, "logs", "--json", id)
	if got := decodeLines(t, stdout); code != 0 || len(got) != 1 || got[0] != (logLineJSON{Job: id, Task: "0", Stream: "stdout", Line: "hi"}) {
		t.Errorf("logs --json: got %d %+v", code, got)
	}
}

func TestStatusTaskTally(t *testing.T) {
	zero, two := 0, 2
	tasks := []scavenger.Task{
		{State: scavenger.StateDone, ExitCode: &zero},
		{State: scavenger.StateDone, ExitCode: &two},
		{State: scavenger.StateDone, ExitCode: &zero, Signal: "killed"},
		{State: scavenger.StateRunning},
		{State: scavenger.StateSuspended},
		{State: scavenger.StateQueued},
		{State: scavenger.StateQueued},
		{State: scavenger.StateFailed},
		{State: scavenger.StateCancelled},
	}
	want := "3 done (2 exited non-zero), 1 running, 1 suspended, 2 queued, 1 failed, 1 cancelled"
	if got := tallyTasks(tasks).String(); got != want {
		t.Errorf("tally: got %q, want %q", got, want)
	}
	if got := tallyTasks(nil).String(); got != "none" {
		t.Errorf("tally of no tasks: got %q, want none", got)
	}
}

// TestStatusJobTable prints a job list with a one-task and a many-task job.
func TestStatusJobTable(t *testing.T) {
	now := time.Now()
	zero, three := 0, 3
	jobs := []scavenger.Job{
		{ID: "one", State: scavenger.StateDone, Request: scavenger.SubmitRequest{Argv: []string{"echo", "hi there"}}, Submitted: now.Add(-time.Minute),
			Tasks: []scavenger.Task{{ID: "0", State: scavenger.StateDone, ExitCode: &three, PeerName: "bob", Started: now.Add(-50 * time.Second), Finished: now.Add(-40 * time.Second)}}},
		{ID: "many", State: scavenger.StateRunning, Request: scavenger.SubmitRequest{Tasks: []scavenger.TaskRequest{{Argv: []string{"render", "1"}}, {Argv: []string{"render", "2"}}}}, Submitted: now.Add(-time.Minute),
			Tasks: []scavenger.Task{{ID: "0", State: scavenger.StateDone, ExitCode: &zero, PeerName: "bob"}, {ID: "1", State: scavenger.StateQueued}}},
	}
	var out bytes.Buffer
	printJobs(&env{stdout: &out}, jobs, now)
	for _, want := range []string{
		`(?m)^ID +COMMAND +STATE +TASKS +WHERE +EXIT +SUBMITTED +DURATION$`,
		`(?m)^one +echo 'hi there' +done +1/1 +bob +3 +1m ago +10s$`,
		`(?m)^many +render 1 +running +1/2 +bob +0 +1m ago +-$`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("job table lacks a line matching %s:\n%s", want, out.String())
		}
	}
}

// TestStatusCheckpointLines: a task with checkpoints shows its moves, its
// last checkpoint and the work lost, in the job view and in the task table.
func TestStatusCheckpointLines(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	task := scavenger.Task{ID: "0", State: scavenger.StateRunning, Peer: "12D3KooWbob", PeerName: "bob-pc", Attempts: 2, Moves: 1,
		Started: now.Add(-time.Minute), WorkLost: 2 * time.Second,
		Checkpoint: &scavenger.TaskCheckpoint{Backend: "criu", Size: 10 << 20, Taken: now.Add(-12 * time.Second)}}
	req := scavenger.SubmitRequest{Argv: []string{"simulate"}, Checkpoint: "criu"}
	if got, want := checkpointLine(req, task, now), "last criu checkpoint 12s ago (10MiB), work lost 2s"; got != want {
		t.Errorf("checkpoint line %q, want %q", got, want)
	}
	if got := checkpointLine(scavenger.SubmitRequest{}, scavenger.Task{}, now); got != "" {
		t.Errorf("a task without checkpoints or loss: %q, want nothing", got)
	}
	if got := checkpointLine(scavenger.SubmitRequest{}, scavenger.Task{WorkLost: 3 * time.Second}, now); !strings.Contains(got, "restarts from scratch") {
		t.Errorf("work lost without checkpoints: %q", got)
	}
	var out bytes.Buffer
	e := &env{stdout: &out}
	printJob(e, scavenger.Job{ID: "j1", Request: req, State: scavenger.StateRunning, Tasks: []scavenger.Task{task}, Submitted: now.Add(-2 * time.Minute)}, now)
	for _, want := range []string{
		`(?m)^task 0 +running on bob-pc \(peer 12D3KooWbob\), attempt 2, moved 1 times$`,
		`(?m)^ +last criu checkpoint 12s ago \(10MiB\), work lost 2s$`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("status of the job lacks a line matching %s:\n%s", want, out.String())
		}
	}
	out.Reset()
	printTasks(e, []scavenger.Task{task, task}, now, true)
	if !regexp.MustCompile(`(?m)^0 +running +bob-pc +2 +0 +1 +12s ago +2s +- +1m ago +1m`).MatchString(out.String()) {
		t.Errorf("task table:\n%s\nwant MOVES 1, CHECKPOINT 12s ago, LOST 2s", out.String())
	}
}
