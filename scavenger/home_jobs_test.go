package scavenger

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManyTaskJob: a job of many tasks runs each with its own command,
// environment and inputs, lands each task's outputs in its own folder and
// reports each task's end.
func TestManyTaskJob(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	b := startNode(t, "donor-b", Options{Donor: donating()})
	linkNodes(home, a, b)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shared := write("greeting.txt", "hello")
	req := SubmitRequest{Name: "sweep", Inputs: []string{shared}, Outputs: []string{"out.txt"}, OutDir: filepath.Join(dir, "results"),
		Env: map[string]string{"GREETING_FILE": "greeting.txt"}}
	for i, who := range []string{"ann", "bob", "cy", "dee", "eve"} {
		part := write("part-"+who+".txt", strings.ToUpper(who))
		req.Tasks = append(req.Tasks, TaskRequest{
			Argv:   []string{"sh", "-c", `echo "$(cat $GREETING_FILE) $WHO $(cat part-*.txt) $INDEX" > out.txt`},
			Env:    map[string]string{"WHO": who, "INDEX": string(rune('0' + i))},
			Inputs: []string{part},
		})
	}
	id := submit(t, home, req)
	w := watchJob(t, home, id)
	j := w.finished()
	if j.State != StateDone || len(j.Tasks) != 5 {
		t.Fatalf("job %s (%s) with %d tasks, want done with 5", j.State, j.Reason, len(j.Tasks))
	}
	for i, who := range []string{"ann", "bob", "cy", "dee", "eve"} {
		task := j.Tasks[i]
		got, err := os.ReadFile(filepath.Join(dir, "results", task.ID, "out.txt"))
		want := "hello " + who + " " + strings.ToUpper(who) + " " + task.ID + "\n"
		if err != nil || string(got) != want || task.ExitCode == nil || *task.ExitCode != 0 {
			t.Errorf("task %s: out.txt %q (%v), exit %v; want %q, exit 0", task.ID, got, err, task.ExitCode, want)
		}
	}
	if ended := w.ofType(EventTaskEnded); len(ended) != 5 {
		t.Errorf("%d task-ended events, want 5: %+v", len(ended), ended)
	}
}

// TestFailedTaskRetried: a task that exits non-zero runs again, up to the
// job's retries, and a peer where the job's tasks keep failing is avoided.
func TestFailedTaskRetried(t *testing.T) {
	home := startNode(t, "home", Options{})
	bad := startNode(t, "donor-bad", Options{Donor: donating()})
	good := startNode(t, "donor-good", Options{Donor: donating()})
	linkNodes(home, bad, good)
	req := SubmitRequest{Retries: 5}
	for range 6 {
		req.Tasks = append(req.Tasks, TaskRequest{Argv: []string{"sh", "-c", `[ "$SCAVENGE_HOST_PEER" != donor-bad ]`}})
	}
	id := submit(t, home, req)
	j := watchJob(t, home, id).finished()
	failures := 0
	for _, task := range j.Tasks {
		failures += task.Failures
		if task.State != StateDone || task.ExitCode == nil || *task.ExitCode != 0 || task.Peer != "donor-good" {
			t.Errorf("task %s: %s on %s, exit %v (%s); want done on donor-good with exit 0", task.ID, task.State, task.Peer, task.ExitCode, task.Reason)
		}
	}
	if failures > maxDonorFailures+2 {
		// Two may fail before the peer is avoided, plus the ones already
		// running there by then (two slots).
		t.Errorf("%d failures, want at most %d: the failing peer should be avoided", failures, maxDonorFailures+2)
	}
	// Without retries, a failure is final.
	id = submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "exit 4"}})
	j = watchJob(t, home, id).finished()
	if task := j.Tasks[0]; task.ExitCode == nil || *task.ExitCode != 4 || task.Failures != 0 {
		t.Errorf("task without retries: exit %v, %d failures; want exit 4 and no retry", task.ExitCode, task.Failures)
	}
}

// TestReplicas: with replicas = 2 each task runs on two peers; results that
// agree complete it, results that differ are reported (and, without
// retries, fail it).
func TestReplicas(t *testing.T) {
	home := startNode(t, "home", Options{})
	a := startNode(t, "donor-a", Options{Donor: donating()})
	b := startNode(t, "donor-b", Options{Donor: donating()})
	linkNodes(home, a, b)
	id := submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", "echo 42 > answer.txt; echo done"}, Outputs: []string{"answer.txt"},
		OutDir: t.TempDir(), Replicas: 2})
	j := watchJob(t, home, id).finished()
	task := j.Tasks[0]
	if j.State != StateDone || len(task.Replicas) != 2 || !strings.HasPrefix(task.Reason, "2 replicas agree") {
		t.Fatalf("job %s, task %+v; want done with 2 agreeing replicas", j.State, task)
	}
	p1, _, _ := strings.Cut(task.Replicas[0], "=")
	p2, _, _ := strings.Cut(task.Replicas[1], "=")
	if p1 == p2 {
		t.Errorf("both replicas ran on %s", p1)
	}

	id = submit(t, home, SubmitRequest{Argv: []string{"sh", "-c", `echo "$SCAVENGE_HOST_PEER"`}, Replicas: 2})
	j = watchJob(t, home, id).finished()
	if task := j.Tasks[0]; task.State != StateFailed || !strings.HasPrefix(task.Reason, "replicas disagree: ") {
		t.Errorf("replicas that differ: task %s (%q), want failed saying they disagree", task.State, task.Reason)
	}
}
