package scavenger

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The job database's writer: one goroutine commits every queued change,
// as many as are waiting, in one transaction (group commit). A change
// queued while a commit is syncing waits for that commit only, then goes
// with everything else queued meanwhile, so an idle home commits at once
// and a busy one pays two disk syncs for hundreds of changes. Unlike bbolt's
// DB.Batch no change waits on a timer, and the queue keeps the order in
// which changes were made: a task's start, queued without waiting, is
// always written before its end.

// storeOp is one queued change.
type storeOp struct {
	// apply makes the change in tx. When it fails the transaction is
	// rolled back and the others' applies run again without it.
	apply func(tx *bolt.Tx) error
	// done gets the outcome once the transaction committed (or failed);
	// it runs on the writer's goroutine and must not block.
	done func(error)
}

// write queues apply and waits until it is on disk.
func (s *store) write(apply func(tx *bolt.Tx) error) error {
	result := make(chan error, 1)
	s.enqueue(storeOp{apply: apply, done: func(err error) { result <- err }})
	return <-result
}

// enqueue hands op to the writer; after close began it fails at once.
func (s *store) enqueue(op storeOp) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		op.done(fmt.Errorf("job database is closing: %w", bolterrors.ErrDatabaseNotOpen))
		return
	}
	s.queue = append(s.queue, op)
	s.mu.Unlock()
	s.poke()
}

// poke wakes the writer; it never blocks.
func (s *store) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// writer commits the queue until close, and then what is left in it.
func (s *store) writer() {
	defer close(s.stopped)
	var batch []storeOp
	for {
		s.mu.Lock()
		// Swap the buffers: the queue grows in the one the last commit used.
		batch, s.queue = s.queue, batch[:0]
		closing := s.closing
		s.mu.Unlock()
		if len(batch) > 0 {
			s.commit(batch)
			clear(batch) // let the ops' closures go
			continue
		}
		if closing {
			return
		}
		<-s.wake
	}
}

// commit writes batch in one transaction. A failing op is left out and the
// transaction run again without it, so one bad change never costs the
// others theirs.
func (s *store) commit(batch []storeOp) {
	errs := make([]error, len(batch))
	var err error
	for {
		left := 0
		for _, e := range errs {
			if e == nil {
				left++
			}
		}
		if left == 0 {
			break
		}
		failed := false
		err = s.db.Update(func(tx *bolt.Tx) error {
			s.txJobs = map[string]*Job{}
			defer func() { s.txJobs = nil }()
			for i, op := range batch {
				if errs[i] != nil {
					continue
				}
				if err := safeApply(op.apply, tx); err != nil {
					errs[i], failed = err, true
					return err // rolls back the others' changes too
				}
			}
			return s.flushJobs(tx)
		})
		if !failed {
			break
		}
	}
	for i, op := range batch {
		if errs[i] == nil {
			errs[i] = err // the commit's outcome
		}
		op.done(errs[i])
	}
}

// safeApply turns a panic in a change into its error, so a bug in one
// change cannot take the writer (and every later change) down with it.
func safeApply(apply func(tx *bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a database change: %v", p)
		}
	}()
	return apply(tx)
}
