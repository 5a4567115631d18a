package scavenger

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTestStore(t *testing.T, path string) *store {
	t.Helper()
	st, err := openStore(path, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testJob(id string, submitted time.Time, states ...JobState) Job {
	j := Job{ID: id, Request: SubmitRequest{Argv: []string{"echo", id}}, Submitted: submitted}
	for i, s := range states {
		j.Tasks = append(j.Tasks, Task{ID: string(rune('0' + i)), State: s})
	}
	settleJob(&j, submitted)
	return j
}

func TestStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	st := openTestStore(t, path)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	inputs := []inputFile{{Path: "/data/a.txt", Name: "a.txt", SHA: strings.Repeat("ab", 32), Size: 3, Mode: 0o640}}
	for i, id := range []string{"first", "second", "third"} {
		var in []inputFile
		if id == "second" {
			in = inputs
		}
		if err := st.create(testJob(id, base.Add(time.Duration(i)*time.Minute), StateQueued), in); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.create(testJob("first", base, StateQueued), nil); err == nil {
		t.Error("creating a job with a taken ID succeeded")
	}
	code := 3
	if _, err := st.update("second", func(j *Job) error {
		j.Tasks[0].State, j.Tasks[0].ExitCode = StateDone, &code
		settleJob(j, base)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A failing update writes nothing.
	if _, err := st.update("third", func(j *Job) error {
		j.Tasks[0].State = StateFailed
		return errSkip
	}); !errors.Is(err, errSkip) {
		t.Errorf("update error = %v, want errSkip", err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}

	st = openTestStore(t, path)
	defer st.close()
	list, err := st.list()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range list {
		ids = append(ids, j.ID)
	}
	if want := []string{"third", "second", "first"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("list order = %v, want %v (newest first)", ids, want)
	}
	got, err := st.get("second")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateDone || got.Tasks[0].ExitCode == nil || *got.Tasks[0].ExitCode != 3 {
		t.Errorf("second = %+v, want done with exit code 3", got)
	}
	if third, _ := st.get("third"); third.State != StateQueued {
		t.Errorf("third state = %s after a failed update, want queued", third.State)
	}
	gotIn, err := st.inputs("second")
	if err != nil || !reflect.DeepEqual(gotIn, inputs) {
		t.Errorf("inputs = %+v, %v; want %+v", gotIn, err, inputs)
	}
	if _, err := st.get("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("get unknown = %v, want ErrNotFound naming the id", err)
	}
}

func TestStoreRecoverRequeues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	st := openTestStore(t, path)
	base := time.Now().Add(-time.Hour)
	jobs := []Job{
		testJob("running", base, StateRunning),
		testJob("queued", base.Add(time.Second), StateQueued),
		testJob("done", base.Add(2*time.Second), StateDone),
		testJob("mixed", base.Add(3*time.Second), StateDone, StateRunning, StateQueued),
	}
	jobs[0].Tasks[0].Peer = "donor-a"
	for _, j := range jobs {
		if err := st.create(j, nil); err != nil {
			t.Fatal(err)
		}
	}
	st.close()

	st = openTestStore(t, path)
	defer st.close()
	got, requeued, err := st.recoverUnfinished(reasonRestarted)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range got {
		ids = append(ids, j.ID)
	}
	if want := []string{"running", "queued", "mixed"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("unfinished = %v, want %v (oldest first)", ids, want)
	}
	if want := map[string][]string{"running": {"0"}, "mixed": {"1"}}; !reflect.DeepEqual(requeued, want) {
		t.Errorf("requeued = %v, want %v", requeued, want)
	}
	for _, tc := range []struct {
		id, task string
		state    JobState
		reason   string
		job      JobState
	}{
		{"running", "0", StateQueued, reasonRestarted, StateQueued},
		{"queued", "0", StateQueued, "", StateQueued},
		{"done", "0", StateDone, "", StateDone},
		{"mixed", "1", StateQueued, reasonRestarted, StateQueued},
	} {
		j, err := st.get(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		task := findTask(&j, tc.task)
		if task.State != tc.state || task.Reason != tc.reason || j.State != tc.job {
			t.Errorf("%s/%s: task %s %q, job %s; want task %s %q, job %s", tc.id, tc.task,
				task.State, task.Reason, j.State, tc.state, tc.reason, tc.job)
		}
	}
	if j, _ := st.get("running"); j.Tasks[0].Peer != "donor-a" {
		t.Errorf("requeue lost the last peer: %+v", j.Tasks[0])
	}
}

func TestStoreSecondOpenFails(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, "jobs.db")
	st := openTestStore(t, path)
	defer st.close()
	_, err := openStore(path, 50*time.Millisecond)
	if err == nil {
		t.Fatal("a second open of a database in use succeeded")
	}
	if want := "home " + home + " is in use by another daemon"; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestStoreRefusesNewerLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	st := openTestStore(t, path)
	if err := st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("version"), []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	st.close()
	if _, err := openStore(path, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("open of a newer layout = %v, want an error saying it is newer", err)
	}
}

func TestSettleJob(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		tasks []JobState
		want  JobState
	}{
		{[]JobState{StateQueued}, StateQueued},
		{[]JobState{StateRunning}, StateRunning},
		{[]JobState{StateDone, StateQueued}, StateQueued},
		{[]JobState{StateDone, StateRunning, StateQueued}, StateRunning},
		{[]JobState{StateDone}, StateDone},
		{[]JobState{StateDone, StateFailed}, StateFailed},
		{[]JobState{StateCancelled, StateDone}, StateCancelled},
		{[]JobState{StateCancelled, StateFailed}, StateFailed},
	} {
		j := testJob("x", now, tc.tasks...)
		if j.State != tc.want {
			t.Errorf("tasks %v: job %s, want %s", tc.tasks, j.State, tc.want)
		}
		if got := !j.Finished.IsZero(); got != tc.want.Final() {
			t.Errorf("tasks %v: finished set = %v, want %v", tc.tasks, got, tc.want.Final())
		}
	}
}

func TestTaskLogsAppend(t *testing.T) {
	st := openTestStore(t, filepath.Join(t.TempDir(), "jobs.db"))
	defer st.close()
	if err := st.logs("silent", "0").close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(st.logDir, "silent")); !os.IsNotExist(err) {
		t.Errorf("a task that printed nothing has log files: %v", err)
	}
	for _, chunk := range []string{"one\n", "two\n"} { // two attempts, one file
		l := st.logs("job1", "0")
		if err := l.write(false, []byte(chunk)); err != nil {
			t.Fatal(err)
		}
		if err := l.write(true, []byte("E"+chunk)); err != nil {
			t.Fatal(err)
		}
		if err := l.close(); err != nil {
			t.Fatal(err)
		}
	}
	for stream, want := range map[string]string{"out": "one\ntwo\n", "err": "Eone\nEtwo\n"} {
		got, err := os.ReadFile(st.logPath("job1", "0", stream))
		if err != nil || string(got) != want {
			t.Errorf("%s log = %q, %v; want %q", stream, got, err, want)
		}
	}
	if want := filepath.Join(st.home, "jobs", "job1", "0.out"); st.logPath("job1", "0", "out") != want {
		t.Errorf("log path = %s, want %s", st.logPath("job1", "0", "out"), want)
	}
}

// TestJobRecordGolden pins the stored JSON of a job (layout version 1): a
// change that would make old databases unreadable shows up here. Rewrite
// it deliberately with SCAVENGE_UPDATE_GOLDEN=1 (and bump storeVersion if
// old records no longer decode).
func TestJobRecordGolden(t *testing.T) {
	code := 3
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	j := Job{
		ID: "abcdefghij",
		Request: SubmitRequest{Argv: []string{"sh", "-c", "exit 3"}, Env: map[string]string{"A": "1"},
			Inputs: []string{"/in/a.txt"}, Outputs: []string{"out/*.txt"}, OutDir: "/out/abcdefghij",
			Requirements: Requirements{CPUs: 2, MemoryBytes: 1 << 30, OS: "linux", Labels: []string{"gpu"}},
			WaitTimeout:  30 * time.Second, AllowLocal: true},
		State: StateDone, Submitted: at, Finished: at.Add(time.Minute),
		Tasks: []Task{{ID: "0", State: StateDone, Peer: "12D3KooWpeer", PeerName: "a", Attempts: 3, Preemptions: 1, Lost: 1,
			ExitCode: &code, Started: at.Add(time.Second), Finished: at.Add(time.Minute), Outputs: []string{"/out/abcdefghij/out/r.txt"}}},
	}
	got, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "job_v1.json")
	if os.Getenv("SCAVENGE_UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (SCAVENGE_UPDATE_GOLDEN=1 go test -run TestJobRecordGolden creates it)", err)
	}
	if strings.TrimSpace(string(want)) != string(got) {
		t.Errorf("job record changed:\n got %s\nwant %s", got, want)
	}
	var back Job
	if err := json.Unmarshal(want, &back); err != nil || !reflect.DeepEqual(back, j) {
		t.Errorf("golden record decodes to %+v, %v; want %+v", back, err, j)
	}
}

// A task's log keeps at most its limit per stream, across attempts, and
// says where it was cut.
func TestTaskLogTruncates(t *testing.T) {
	st := openTestStore(t, filepath.Join(t.TempDir(), "jobs.db"))
	for attempt := range 2 {
		l := st.logs("j", "0")
		l.limit = 10
		for _, chunk := range []string{"12345", "6789abcdef", "never"} {
			if err := l.write(false, []byte(chunk)); err != nil {
				t.Fatalf("attempt %d: %v", attempt, err)
			}
		}
		if err := l.close(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(st.logPath("j", "0", "out"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "123456789a" + logTruncated; string(got) != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}
