package checkpoint

import "context"

// NoneBackend takes no checkpoint: a preempted task is killed and runs
// again from the start elsewhere, losing the work done. Status says so in
// those words (NoneNote).
type NoneBackend struct{}

// NoneNote is what status shows for a task without a checkpoint backend.
const NoneNote = "no checkpoint: the task restarts from scratch"

// Name returns None.
func (NoneBackend) Name() string { return None }

// Check always passes: restarting needs nothing.
func (NoneBackend) Check(context.Context) error { return nil }
