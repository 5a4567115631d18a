package executor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// output copies a guest's stdout and stderr into the spec's writers as the
// guest writes them. It owns the pipes rather than leaving them to os/exec
// so that the leader's exit (reaped at once) and the end of its output
// (which a straggler may hold open) are two separate, observable events.
type output struct {
	stdout, stderr *os.File // the guest's ends; nil means /dev/null
	readers        []*os.File
	copies         sync.WaitGroup

	mu  sync.Mutex
	err error // the first failure to deliver output
}

// openOutput makes the pipes for w1 (stdout) and w2 (stderr); nil writers
// get no pipe. When both are the same writer the guest gets one pipe for
// both, as with os/exec, so that writer is never called concurrently.
func openOutput(w1, w2 io.Writer) (*output, error) {
	o := &output{}
	var err error
	if w1 != nil {
		if o.stdout, err = o.pipe(w1); err != nil {
			o.abort()
			return nil, err
		}
	}
	switch {
	case w2 == nil:
	case w1 != nil && sameWriter(w1, w2):
		o.stderr = o.stdout
	default:
		if o.stderr, err = o.pipe(w2); err != nil {
			o.abort()
			return nil, err
		}
	}
	return o, nil
}

// pipe makes one pipe whose read end will be copied into w.
func (o *output) pipe(w io.Writer) (*os.File, error) {
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	o.readers = append(o.readers, r)
	o.copies.Add(1)
	go o.copy(w, r)
	return wr, nil
}

// copy moves data from r to w until the guest side is closed everywhere. It
// writes each chunk as soon as it is read, so output arrives live.
func (o *output) copy(w io.Writer, r *os.File) {
	defer o.copies.Done()
	_, err := io.Copy(w, r)
	if err != nil && !errors.Is(err, os.ErrClosed) {
		o.fail(err)
	}
	// Keep reading until EOF even after w failed, so the guest never
	// blocks on a full pipe; what it writes then is lost.
	if err != nil {
		_, _ = io.Copy(io.Discard, r)
	}
}

// fail records the first delivery error.
func (o *output) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

// started closes the parent's copies of the guest's ends: from now on only
// the guest (and whatever it forks) holds them, so EOF means they are done.
func (o *output) started() {
	if o.stdout != nil {
		o.stdout.Close()
	}
	if o.stderr != nil && o.stderr != o.stdout {
		o.stderr.Close()
	}
}

// abort releases everything when the guest did not start.
func (o *output) abort() {
	o.started()
	for _, r := range o.readers {
		r.Close()
	}
	o.copies.Wait()
}

// drain waits until every pipe reached EOF, or for at most timeout; then it
// closes the read ends. It reports whether the output was complete, and the
// first error delivering it.
func (o *output) drain(timeout time.Duration) (complete bool, err error) {
	done := make(chan struct{})
	go func() {
		o.copies.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	complete = true
	select {
	case <-done:
	case <-t.C:
		complete = false
		for _, r := range o.readers {
			r.Close() // unblocks the copies' reads
		}
		<-done
	}
	for _, r := range o.readers {
		r.Close()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return complete, o.err
}

// sameWriter reports whether a and b are the same writer. Comparing
// interfaces panics for uncomparable dynamic types; those count as different.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
