package scavenger

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// stallWriter holds bbolt's write lock until the returned func is called,
// so that changes queued meanwhile pile up and go in the same transaction,
// as they do when a commit is syncing under load.
func stallWriter(t *testing.T, st *store) (release func()) {
	t.Helper()
	tx, err := st.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			tx.Rollback()
		}
	}
	t.Cleanup(release)
	return release
}

// appendReason is an update adding s to the first task's reason.
func appendReason(s string) func(j *Job) error {
	return func(j *Job) error {
		j.Tasks[0].Reason += s
		return nil
	}
}

func TestStoreWriterKeepsOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	st := openTestStore(t, path)
	if err := st.create(testJob("j", time.Now(), StateQueued), nil); err != nil {
		t.Fatal(err)
	}
	release := stallWriter(t, st)
	var want strings.Builder
	var seen []string
	for i := range 20 {
		s := fmt.Sprintf("%d,", i)
		want.WriteString(s)
		// Not waited for: like a task's start, and still written before
		// every later change.
		st.updateLater("j", appendReason(s), func(j Job, err error) {
			if err != nil {
				t.Errorf("update %d: %v", i, err)
				return
			}
			seen = append(seen, j.Tasks[0].Reason) // the writer's goroutine: one at a time
		})
	}
	result := make(chan error, 1)
	go func() {
		_, err := st.update("j", appendReason("last"))
		result <- err
	}()
	release()
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	want.WriteString("last")
	if j, err := st.get("j"); err != nil || j.Tasks[0].Reason != want.String() {
		t.Errorf("reason = %q, %v; want %q", j.Tasks[0].Reason, err, want.String())
	}
	// Each callback saw the job as its own change left it.
	if len(seen) != 20 || seen[19] != strings.TrimSuffix(want.String(), "last") {
		t.Errorf("callbacks saw %q", seen)
	}
	// A change queued without waiting is on disk after close.
	st.updateLater("j", appendReason("+closed"), nil)
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	st = openTestStore(t, path)
	defer st.close()
	if j, err := st.get("j"); err != nil || !strings.HasSuffix(j.Tasks[0].Reason, "last+closed") {
		t.Errorf("after reopening: reason %q, %v; want it to end with the change queued before close", j.Tasks[0].Reason, err)
	}
}

func TestStoreWriterIsolatesFailures(t *testing.T) {
	st := openTestStore(t, filepath.Join(t.TempDir(), "jobs.db"))
	defer st.close()
	for _, id := range []string{"a", "b", "c"} {
		if err := st.create(testJob(id, time.Now(), StateQueued), nil); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		bad     func(tx *bolt.Tx) error
		wantErr string
	}{
		// Fails after writing: its write must not survive.
		{"error after a write", func(tx *bolt.Tx) error {
			j, _ := getJob(tx, "b")
			j.Tasks[0].Reason = "half-written"
			if err := putJob(tx, j); err != nil {
				return err
			}
			return boom
		}, "boom"},
		{"panic", func(tx *bolt.Tx) error {
			j, _ := getJob(tx, "b")
			j.Tasks[0].Reason = "half-written"
			putJob(tx, j)
			var m map[string]int
			m["x"] = 1 // a bug in a change
			return nil
		}, "panic in a database change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := make([]chan error, 3)
			var ops []storeOp
			for i, apply := range []func(tx *bolt.Tx) error{
				st.applyUpdate("a", appendReason("x"), new(Job), new(bool)),
				tc.bad,
				st.applyUpdate("c", appendReason("x"), new(Job), new(bool)),
			} {
				results[i] = make(chan error, 1)
				ops = append(ops, storeOp{apply: apply, done: func(err error) { results[i] <- err }})
			}
			// Queued at once, so the writer takes the three together.
			st.mu.Lock()
			st.queue = append(st.queue, ops...)
			st.mu.Unlock()
			st.poke()
			var errs []error
			for _, r := range results {
				errs = append(errs, <-r)
			}
			if errs[0] != nil || errs[2] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), tc.wantErr) {
				t.Errorf("outcomes = %v; want only the middle one to fail with %q", errs, tc.wantErr)
			}
			for id, want := range map[string]string{"a": "x", "b": "", "c": "x"} {
				j, err := st.get(id)
				if err != nil || j.Tasks[0].Reason != want {
					t.Errorf("job %s reason = %q, %v; want %q", id, j.Tasks[0].Reason, err, want)
				}
			}
			for _, id := range []string{"a", "c"} {
				if _, err := st.update(id, func(j *Job) error { j.Tasks[0].Reason = ""; return nil }); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// An update with nothing to change (errSkip) reports so to its caller but
// does not roll back the changes sharing its transaction.
func TestStoreSkipDoesNotRollBackOthers(t *testing.T) {
	st := openTestStore(t, filepath.Join(t.TempDir(), "jobs.db"))
	for _, id := range []string{"a", "b"} {
		if err := st.create(testJob(id, time.Now(), StateQueued), nil); err != nil {
			t.Fatal(err)
		}
	}
	release := stallWriter(t, st)
	var runs atomic.Int32
	aDone := make(chan error, 1)
	st.updateLater("a", func(j *Job) error { runs.Add(1); return appendReason("x")(j) },
		func(_ Job, err error) { aDone <- err })
	bDone := make(chan error, 1)
	st.updateLater("b", func(j *Job) error { return errSkip }, func(_ Job, err error) { bDone <- err })
	release()
	if err := <-aDone; err != nil {
		t.Errorf("update of a: %v", err)
	}
	if err := <-bDone; !errors.Is(err, errSkip) {
		t.Errorf("skipped update of b = %v, want errSkip", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("update of a ran %d times, want once: the skip rolled its transaction back", n)
	}
	if j, err := st.get("a"); err != nil || j.Tasks[0].Reason != "x" {
		t.Errorf("job a reason = %q, %v; want \"x\"", j.Tasks[0].Reason, err)
	}
}

func TestStoreClosedRefusesChanges(t *testing.T) {
	st := openTestStore(t, filepath.Join(t.TempDir(), "jobs.db"))
	if err := st.create(testJob("j", time.Now(), StateQueued), nil); err != nil {
		t.Fatal(err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.update("j", appendReason("x")); !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		t.Errorf("update after close = %v, want ErrDatabaseNotOpen", err)
	}
	if err := st.create(testJob("k", time.Now(), StateQueued), nil); !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		t.Errorf("create after close = %v, want ErrDatabaseNotOpen", err)
	}
}

// BenchmarkStoreCreate stores jobs from 8 goroutines at once, as parallel
// submits do; each create returns once its job is on disk.
func BenchmarkStoreCreate(b *testing.B) {
	st, err := openStore(filepath.Join(b.TempDir(), "jobs.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	var n atomic.Int64
	now := time.Now()
	b.SetParallelism(4) // 8 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("job%d", n.Add(1))
			if err := st.create(testJob(id, now, StateQueued), nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
