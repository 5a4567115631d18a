package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// TestCancel cancels a running job of two tasks, then again (already
// finished: fine), then an unknown job (an error).
func TestCancel(t *testing.T) {
	d := startTestDaemon(t)
	id := d.submit(scavenger.SubmitRequest{Tasks: []scavenger.TaskRequest{{Argv: []string{"sleep", "60"}}, {Argv: []string{"sleep", "60"}}}})
	d.waitTasks(id, scavenger.StateRunning)

	code, stdout, stderr := runCLI(t, d.vars, "cancel", "--reason", "test over", id)
	if want := regexp.MustCompile(`^job ` + id + ` cancelled: 2 tasks: 2 cancelled; first: task 0: test over in \S+\n$`); code != 0 || !want.MatchString(stdout) {
		t.Errorf("cancel: got %d %q, want 0 and a line matching %s", code, stdout, want)
	}
	if want := "scavenge: cancelling job " + id + ": stopping its running tasks (2)\n"; stderr != want {
		t.Errorf("cancel: stderr %q, want %q", stderr, want)
	}
	j := d.job(id)
	for _, task := range j.Tasks {
		if task.State != scavenger.StateCancelled || task.Reason != "test over" {
			t.Errorf("task %s after cancel: %s (%s), want cancelled (test over)", task.ID, task.State, task.Reason)
		}
	}

	code, stdout, _ = runCLI(t, d.vars, "cancel", id)
	if want := "nothing to cancel: job " + id + " cancelled: 2 tasks"; code != 0 || !strings.HasPrefix(stdout, want) {
		t.Errorf("cancel again: got %d %q, want 0 and %q...", code, stdout, want)
	}
	code, stdout, stderr = runCLI(t, d.vars, "cancel", "nosuchjob")
	if code != 1 || stdout != "" || stderr != "scavenge: job nosuchjob: no such job\n" {
		t.Errorf("cancel of an unknown job: got %d %q %q, want 1 and 'no such job'", code, stdout, stderr)
	}
	code, _, _ = runCLI(t, d.vars, "wait", id)
	if code != 1 {
		t.Errorf("wait on a cancelled job: exit %d, want 1", code)
	}
}

// TestCancelQueued: a job whose tasks wait for a peer is cancelled at
// once, with nothing to stop.
func TestCancelQueued(t *testing.T) {
	d := startTestDaemon(t)
	id := d.submit(scavenger.SubmitRequest{Argv: []string{"true"}, Requirements: scavenger.Requirements{Labels: []string{"nobody-has-this"}}})
	code, stdout, stderr := runCLI(t, d.vars, "cancel", id)
	if want := "job " + id + " cancelled: cancelled by the user\n"; code != 0 || stdout != want || stderr != "" {
		t.Errorf("cancel: got %d %q %q, want 0 %q and no note", code, stdout, stderr, want)
	}
}

// TestLogsWaitCancelUsage: bad command lines are usage errors (exit 2), and
// without a daemon each command says how to start one (exit 1) at once.
func TestLogsWaitCancelUsage(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{[]string{"logs"}, 2, "want JOB [TASK], got 0 arguments"},
		{[]string{"logs", "a", "b", "c"}, 2, "want JOB [TASK], got 3 arguments"},
		{[]string{"logs", "--stdout", "--stderr", "j"}, 2, "--stdout and --stderr: give one of them"},
		{[]string{"wait"}, 2, "want one job ID, got 0 arguments"},
		{[]string{"wait", "a", "b"}, 2, "want one job ID, got 2 arguments"},
		{[]string{"cancel"}, 2, "want one job ID, got 0 arguments"},
		{[]string{"cancel", "--bogus", "j"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"logs", "-h"}, 0, "usage: scavenge logs [--home DIR] [-f] [--stdout | --stderr] [--json] JOB [TASK]"},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, nil, tt.args...)
		if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
			t.Errorf("scavenge %s: got %d %q, want %d and %q", strings.Join(tt.args, " "), code, stderr, tt.wantCode, tt.wantStderr)
		}
	}

	defer func(w time.Duration) { daemonStartWait = w }(daemonStartWait)
	daemonStartWait = 0
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "scavenge.toml"), []byte("version = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "scavenge: no daemon at " + home + ": start it with `scavenge daemon --home " + home + "`\n"
	for _, args := range [][]string{{"logs", "j"}, {"logs", "-f", "j", "0"}, {"wait", "j"}, {"cancel", "j"}} {
		start := time.Now()
		code, _, stderr := runCLI(t, map[string]string{"SCAVENGE_HOME": home}, args...)
		if code != 1 || stderr != want || time.Since(start) > 5*time.Second {
			t.Errorf("scavenge %s without a daemon: got %d %q after %s, want 1 %q at once", strings.Join(args, " "), code, stderr, time.Since(start), want)
		}
	}
}
