package cli

import (
	"bufio"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/scavenger"
)

// TestLogsAndWaitOneTask follows a one-task job's output with logs -f and
// waits for it with wait, both started before the task prints its last
// line; then reads the finished logs every way there is.
func TestLogsAndWaitOneTask(t *testing.T) {
	d := startTestDaemon(t)
	g := d.newGate("one-task")
	id := d.submit(scavenger.SubmitRequest{Argv: []string{"sh", "-c", "echo one; echo err1 >&2; " + g.wait() + "; echo two; exit 3"}})

	follow := startCLI(t, t.Context(), d.vars, "logs", "-f", id)
	wait := startCLI(t, t.Context(), d.vars, "wait", id)
	eventually(t, "the first line through logs -f", func() bool { return follow.stdout.String() == "one\n" && follow.stderr.String() == "err1\n" })
	if !follow.running() || !wait.running() {
		t.Fatalf("logs -f or wait ended while the task runs")
	}
	g.open(t)
	code, stdout, stderr := follow.wait(t)
	if code != 0 || stdout != "one\ntwo\n" || stderr != "err1\n" {
		t.Errorf("logs -f: got %d %q %q, want 0 %q %q", code, stdout, stderr, "one\ntwo\n", "err1\n")
	}
	code, stdout, _ = wait.wait(t)
	if want := regexp.MustCompile(`^job ` + id + ` done: exit 3 on bob in \S+\n$`); code != 3 || !want.MatchString(stdout) {
		t.Errorf("wait: got %d %q, want 3 and a line matching %s", code, stdout, want)
	}

	tests := []struct {
		args                   []string
		wantCode               int
		wantStdout, wantStderr string
	}{
		{[]string{"logs", id}, 0, "one\ntwo\n", "err1\n"},
		{[]string{"logs", id, "0"}, 0, "one\ntwo\n", "err1\n"},
		{[]string{"logs", id, "--stdout"}, 0, "one\ntwo\n", ""},
		{[]string{"logs", "--stderr", id}, 0, "err1\n", ""},
		{[]string{"logs", "--follow", id}, 0, "one\ntwo\n", "err1\n"}, // a final task: at once
		{[]string{"logs", "nosuchjob"}, 1, "", "scavenge: job nosuchjob: no such job\n"},
		{[]string{"logs", id, "5"}, 1, "", `scavenge: job ` + id + ` has no task "5": its only task is 0` + "\n"},
		{[]string{"wait", "nosuchjob"}, 1, "", "scavenge: job nosuchjob: no such job\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, d.vars, tt.args...)
		if code != tt.wantCode || stdout != tt.wantStdout || stderr != tt.wantStderr {
			t.Errorf("scavenge %s: got %d %q %q, want %d %q %q", strings.Join(tt.args, " "), code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
		}
	}

	code, stdout, _ = runCLI(t, d.vars, "logs", id, "--json")
	want := []logLineJSON{
		{Job: id, Task: "0", Stream: "stdout", Offset: 0, Line: "one"},
		{Job: id, Task: "0", Stream: "stdout", Offset: 4, Line: "two"},
		{Job: id, Task: "0", Stream: "stderr", Offset: 0, Line: "err1"},
	}
	if got := decodeLines(t, stdout); code != 0 || !equalLines(got, want) {
		t.Errorf("logs --json: got %d %+v, want 0 %+v", code, got, want)
	}
}

// TestLogsManyTasks: a job of many tasks prints each task's output under a
// header, one task's alone when named, and refuses to follow them all.
func TestLogsManyTasks(t *testing.T) {
	d := startTestDaemon(t)
	req := scavenger.SubmitRequest{Name: "three"}
	for _, cmd := range []string{"echo zero", "echo one; echo bad >&2; exit 2", "true"} {
		req.Tasks = append(req.Tasks, scavenger.TaskRequest{Argv: []string{"sh", "-c", cmd}})
	}
	id := d.submit(req)
	code, stdout, _ := runCLI(t, d.vars, "wait", id)
	if want := "job " + id + " done: 3 tasks: 3 done (1 exited non-zero); first: task 1: exit 2 in "; code != 1 || !strings.HasPrefix(stdout, want) {
		t.Errorf("wait: got %d %q, want 1 and %q...", code, stdout, want)
	}

	tests := []struct {
		args                   []string
		wantCode               int
		wantStdout, wantStderr string
	}{
		{[]string{"logs", id}, 0,
			"==> task 0 (done, exit 0) <==\nzero\n\n==> task 1 (done, exit 2) <==\none\n",
			"==> task 1 (done, exit 2) <==\nbad\n"},
		{[]string{"logs", id, "--stderr"}, 0, "==> task 1 (done, exit 2) <==\nbad\n", ""},
		{[]string{"logs", id, "1"}, 0, "one\n", "bad\n"},
		{[]string{"logs", id, "2"}, 0, "", ""},
		{[]string{"logs", id, "7"}, 1, "", `scavenge: job ` + id + ` has no task "7": its tasks are 0 to 2` + "\n"},
		{[]string{"logs", "-f", id}, 2, "", "scavenge logs: job " + id + " has 3 tasks: name the one to follow, e.g. 'scavenge logs -f " + id + " 0'\nRun 'scavenge logs -h' for usage.\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, d.vars, tt.args...)
		if code != tt.wantCode || stdout != tt.wantStdout || stderr != tt.wantStderr {
			t.Errorf("scavenge %s: got %d %q %q, want %d %q %q", strings.Join(tt.args, " "), code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
		}
	}
	code, stdout, _ = runCLI(t, d.vars, "logs", id, "--json")
	want := []logLineJSON{
		{Job: id, Task: "0", Stream: "stdout", Line: "zero"},
		{Job: id, Task: "1", Stream: "stdout", Line: "one"},
		{Job: id, Task: "1", Stream: "stderr", Line: "bad"},
	}
	if got := decodeLines(t, stdout); code != 0 || !equalLines(got, want) {
		t.Errorf("logs --json: got %d %+v, want 0 %+v", code, got, want)
	}
}

// TestLogsJSONLines checks the --json records of output that is not made of
// short lines: a line longer than a record holds, and a last line without
// a newline.
func TestLogsJSONLines(t *testing.T) {
	var out strings.Builder
	p := &logPrinter{enc: json.NewEncoder(&out)}
	jl := &jsonLines{p: p, rec: logLineJSON{Job: "j", Task: "0", Stream: "stdout"}}
	long := strings.Repeat("x", maxJSONLine+5)
	for _, chunk := range []string{"a", "b\nc", "d\n" + long[:100], long[100:] + "\nno newline"} {
		if _, err := jl.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := jl.flush(); err != nil {
		t.Fatal(err)
	}
	want := []logLineJSON{
		{Job: "j", Task: "0", Stream: "stdout", Offset: 0, Line: "ab"},
		{Job: "j", Task: "0", Stream: "stdout", Offset: 3, Line: "cd"},
		{Job: "j", Task: "0", Stream: "stdout", Offset: 6, Line: long[:maxJSONLine]},
		{Job: "j", Task: "0", Stream: "stdout", Offset: 6 + maxJSONLine, Line: "xxxxx"},
		{Job: "j", Task: "0", Stream: "stdout", Offset: 6 + maxJSONLine + 6, Line: "no newline"},
	}
	if got := decodeLines(t, out.String()); !equalLines(got, want) {
		t.Errorf("records: got %d, want %d", len(got), len(want))
		for i := range max(len(got), len(want)) {
			var g, w logLineJSON
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("record %d: got offset %d line of %d bytes, want offset %d line of %d bytes", i, g.Offset, len(g.Line), w.Offset, len(w.Line))
			}
		}
	}
}

// decodeLines decodes JSON lines of logs --json, failing on anything else.
func decodeLines(t *testing.T, s string) []logLineJSON {
	t.Helper()
	var out []logLineJSON
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r logLineJSON
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q is not a record: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// equalLines compares records; the streams of one task are printed one
// after the other, so the order is fixed.
func equalLines(a, b []logLineJSON) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
