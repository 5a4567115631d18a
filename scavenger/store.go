package scavenger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/scavenge/scavenge/peer/wire"
)

// storeVersion is the layout of the job database. A daemon refuses a database
// written by a newer layout rather than misreading it.
const storeVersion = 1

// storeLockTimeout is how long newHome waits for the database's file lock,
// which a running daemon holds for its whole life.
const storeLockTimeout = time.Second

// Buckets of the job database.
var (
	bucketMeta   = []byte("meta")    // "version" -> decimal storeVersion
	bucketJobs   = []byte("jobs")    // job ID -> JSON Job
	bucketByTime = []byte("by_time") // 8-byte big-endian submit UnixNano + job ID -> nothing: newest-first listing
	bucketInputs = []byte("inputs")  // job ID -> JSON []inputFile: where the inputs are and their hashes
)

// inputFile is one input of a job as the home keeps it: the local file and the
// content reference sent to donors.
type inputFile struct {
	Path string `json:"path"` // absolute path on this machine
	Name string `json:"name"` // name in the task dir
	SHA  string `json:"sha256"`
	Size int64  `json:"size"`
	Mode uint32 `json:"mode"`
	Task string `json:"task,omitempty"` // the task it is for; "" for every task of the job
}

func (f inputFile) ref() wire.FileRef {
	return wire.FileRef{Name: f.Name, SHA256: f.SHA, Size: f.Size, Mode: f.Mode}
}

// store keeps jobs in a bbolt database (one file, opened by one daemon at a
// time) and task output in append-only log files beside it.
//
// Every change goes through one writer goroutine (store_writer.go) that
// commits whatever is queued in one transaction: a commit costs two disk
// syncs whatever it carries, so many tiny tasks starting and ending at once
// share them instead of queueing for one each.
type store struct {
	db     *bolt.DB
	home   string // the directory of the database: the daemon's home
	logDir string // <home>/jobs/<job>/<task>.out|.err

	mu      sync.Mutex
	queue   []storeOp       // changes waiting for the writer, in order
	closing bool            // close began: no more changes are taken
	wake    chan struct{}   // capacity 1: the queue is not empty, or closing
	stopped chan struct{}   // closed when the writer drained the queue and quit
	txJobs  map[string]*Job // jobs changed in the transaction being written (the writer's own)
}

// openStore opens (creating) the database at path. A second daemon on the same
// home gets a clear error after lockTimeout instead of waiting forever for
// the file lock.
func openStore(path string, lockTimeout time.Duration) (*store, error) {
	home := filepath.Dir(path)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("job database: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("home %s is in use by another daemon (%s is locked)", home, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open job database %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketJobs, bucketByTime, bucketInputs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get([]byte("version"))
		if v == nil {
			return meta.Put([]byte("version"), []byte(strconv.Itoa(storeVersion)))
		}
		if n, err := strconv.Atoi(string(v)); err != nil || n > storeVersion {
			return fmt.Errorf("database layout version %q is newer than this daemon's (%d): upgrade scavenge", v, storeVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("job database %s: %w", path, err)
	}
	s := &store{db: db, home: home, logDir: filepath.Join(home, "jobs"),
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go s.writer()
	return s, nil
}

// close commits the changes already queued (a task's start, say, which is
// queued without waiting) and then closes the database.
func (s *store) close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.poke()
	<-s.stopped
	return s.db.Close()
}

func timeKey(t time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
	return append(k, id...)
}

// create stores a new job and its inputs and returns once they are on disk.
func (s *store) create(j Job, inputs []inputFile) error {
	js, err := json.Marshal(j)
	if err != nil {
		return err
	}
	in, err := json.Marshal(inputs)
	if err != nil {
		return err
	}
	err = s.write(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		if jobs.Get([]byte(j.ID)) != nil {
			return fmt.Errorf("job ID %s is taken", j.ID)
		}
		return errors.Join(jobs.Put([]byte(j.ID), js),
			tx.Bucket(bucketByTime).Put(timeKey(j.Submitted, j.ID), nil),
			tx.Bucket(bucketInputs).Put([]byte(j.ID), in))
	})
	if err != nil {
		return fmt.Errorf("store job %s: %w", j.ID, err)
	}
	return nil
}

func getJob(tx *bolt.Tx, id string) (Job, error) {
	v := tx.Bucket(bucketJobs).Get([]byte(id))
	if v == nil {
		return Job{}, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	var j Job
	if err := json.Unmarshal(v, &j); err != nil {
		return Job{}, fmt.Errorf("job %s: corrupt record: %w", id, err)
	}
	return j, nil
}

func putJob(tx *bolt.Tx, j Job) error {
	js, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketJobs).Put([]byte(j.ID), js)
}

// get returns one job; an unknown ID is ErrNotFound.
func (s *store) get(id string) (Job, error) {
	var j Job
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		j, err = getJob(tx, id)
		return err
	})
	return j, err
}

// update applies fn to a job and writes the result, and returns once it is
// on disk; if fn fails nothing is written. Updates queued at the same time
// share a transaction, so fn may run more than once (when another change in
// its transaction fails) and must only derive the job from what it is given.
func (s *store) update(id string, fn func(j *Job) error) (Job, error) {
	var j Job
	var skipped bool
	err := s.write(s.applyUpdate(id, fn, &j, &skipped))
	if err == nil && skipped {
		err = errSkip
	}
	if err != nil {
		return Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	return j, nil
}

// updateLater queues an update like update's without waiting for it; done,
// if not nil, is called with the outcome once it is on disk (on the writer's
// goroutine: it must be quick). Changes are written in the order they were
// queued, so a later update of the same job sees this one.
func (s *store) updateLater(id string, fn func(j *Job) error, done func(Job, error)) {
	var j Job
	var skipped bool
	s.enqueue(storeOp{apply: s.applyUpdate(id, fn, &j, &skipped), done: func(err error) {
		if done == nil {
			return
		}
		if err == nil && skipped {
			err = errSkip
		}
		if err != nil {
			done(Job{}, fmt.Errorf("update job %s: %w", id, err))
			return
		}
		done(j, nil)
	}})
}

// applyUpdate is the transaction step of an update: read, change, write.
// When fn returns errSkip nothing is written and *skipped is set, but the
// step succeeds: a change with nothing to do must not roll back the others
// sharing its transaction.
//
// The job is decoded once per transaction and written back once at its end
// (txJobs): a job of many tasks has a large record, and the changes of its
// tasks starting and ending arrive together.
func (s *store) applyUpdate(id string, fn func(j *Job) error, out *Job, skipped *bool) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		*skipped = false
		cached := s.txJobs[id]
		if cached == nil {
			j, err := getJob(tx, id)
			if err != nil {
				return err
			}
			cached = &j
		}
		// fn changes a copy: a change that fails leaves the cached job as
		// it was.
		j := *cached
		j.Tasks = slices.Clone(cached.Tasks)
		if err := fn(&j); errors.Is(err, errSkip) {
			*skipped = true
			return nil
		} else if err != nil {
			return err
		}
		s.txJobs[id] = &j
		*out = j
		return nil
	}
}

// flushJobs writes the jobs changed in this transaction.
func (s *store) flushJobs(tx *bolt.Tx) error {
	for _, j := range s.txJobs {
		if err := putJob(tx, *j); err != nil {
			return err
		}
	}
	return nil
}

// list returns every job, newest first.
func (s *store) list() ([]Job, error) {
	var out []Job
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketByTime).Cursor()
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			j, err := getJob(tx, string(k[8:]))
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}

// inputs returns a job's input files.
func (s *store) inputs(id string) ([]inputFile, error) {
	var in []inputFile
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketInputs).Get([]byte(id))
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &in)
	})
	if err != nil {
		return nil, fmt.Errorf("inputs of job %s: %w", id, err)
	}
	return in, nil
}

// recoverUnfinished requeues every task a previous daemon left queued or
// running (the donor stops a running one when its lease is not renewed) and
// returns the unfinished jobs, oldest first, so their work continues. The
// IDs of tasks that were running are returned in requeued.
func (s *store) recoverUnfinished(reason string) (jobs []Job, requeued map[string][]string, err error) {
	requeued = map[string][]string{}
	err = s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketByTime).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			j, err := getJob(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if j.State.Final() {
				continue
			}
			for i := range j.Tasks {
				if t := &j.Tasks[i]; t.State == StateRunning || t.State == StateSuspended {
					t.State, t.Reason = StateQueued, reason
					requeued[j.ID] = append(requeued[j.ID], t.ID)
				}
			}
			settleJob(&j, wallNow())
			if err := putJob(tx, j); err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recover unfinished jobs: %w", err)
	}
	return jobs, requeued, nil
}

// settleJob derives a job's state from its tasks: running while any task
// runs, final when every task is, failed or cancelled if any task was, and
// done only when all are done. Its Reason is its first task's with one.
func settleJob(j *Job, now time.Time) {
	final, running := true, false
	failed, cancelled := false, false
	reason := ""
	for _, t := range j.Tasks {
		final = final && t.State.Final()
		running = running || t.State == StateRunning || t.State == StateSuspended
		failed = failed || t.State == StateFailed
		cancelled = cancelled || t.State == StateCancelled
		if reason == "" {
			reason = t.Reason
		}
	}
	switch {
	case !final && running:
		j.State = StateRunning
	case !final:
		j.State = StateQueued
	case failed:
		j.State = StateFailed
	case cancelled:
		j.State = StateCancelled
	default:
		j.State = StateDone
	}
	j.Reason = reason
	if j.State.Final() && j.Finished.IsZero() {
		j.Finished = now
	}
}

// logPath is where a task's stdout ("out") or stderr ("err") is appended.
func (s *store) logPath(jobID, taskID, stream string) string {
	return filepath.Join(s.logDir, jobID, taskID+"."+stream)
}

// maxLogBytes is what a task's log keeps of each stream; the rest is
// dropped with a note, so a task printing without end cannot fill the
// home's disk.
const maxLogBytes = 1 << 30

// taskLogs are a task's output logs, opened (appending, creating) on the
// first write of each stream: most tasks print little or nothing, and a
// silent task then costs no files. Every attempt of a task appends to the
// same two files.
type taskLogs struct {
	s           *store
	job, task   string
	out, errLog *os.File
	outN, errN  int64 // their sizes
	limit       int64 // bytes kept per stream; maxLogBytes but in tests
}

// logTruncated ends a log that reached its limit.
const logTruncated = "\n[scavenge: log truncated: the task printed more than this log keeps]\n"

func (s *store) logs(jobID, taskID string) *taskLogs {
	return &taskLogs{s: s, job: jobID, task: taskID, limit: maxLogBytes}
}

func (l *taskLogs) write(stderr bool, data []byte) error {
	f, n, stream := &l.out, &l.outN, "out"
	if stderr {
		f, n, stream = &l.errLog, &l.errN, "err"
	}
	if *f == nil {
		p := l.s.logPath(l.job, l.task, stream)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("task log: %w", err)
		}
		opened, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("task log: %w", err)
		}
		// The size counts earlier attempts' output too.
		fi, err := opened.Stat()
		if err != nil {
			opened.Close()
			return fmt.Errorf("task log: %w", err)
		}
		*f, *n = opened, fi.Size()
	}
	room := l.limit - *n
	if room <= 0 {
		return nil // full, and the note is written
	}
	if int64(len(data)) > room {
		data = append(data[:room:room], logTruncated...)
	}
	w, err := (*f).Write(data)
	*n += int64(w)
	if err != nil {
		return fmt.Errorf("task log: %w", err)
	}
	return nil
}

func (l *taskLogs) close() error {
	var errs []error
	for _, f := range []*os.File{l.out, l.errLog} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}
