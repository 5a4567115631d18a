package scavenger

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// pipeCapacity bounds the bytes in flight in one direction of a pipe stream.
// It is larger than one frame (wire.MaxFrame) so a writer of a whole frame
// does not wait for the reader, as with a libp2p stream's flow-control window.
const pipeCapacity = 2 << 20

// errPipeReset is what both ends see after Reset.
var errPipeReset = errors.New("stream reset")

// pipeStreams returns the two ends of an in-memory wire.Stream. The home side
// uses it to run a task on this very machine through the same claim and task
// protocol code as a remote donor (allow_local), and tests use it as a
// network. Unlike net.Pipe it buffers (writes do not wait for the reader, up to
// pipeCapacity) and supports half-close, as a libp2p stream does.
func pipeStreams() (a, b wire.Stream) {
	ab, ba := newPipeBuffer(), newPipeBuffer()
	return &pipeStream{in: ba, out: ab}, &pipeStream{in: ab, out: ba}
}

// pipeBuffer is one direction of a pipe stream.
type pipeBuffer struct {
	mu          sync.Mutex
	data        []byte
	writeClosed bool          // the writer half-closed: the reader sees EOF once drained
	readClosed  bool          // the reader closed: writes fail
	reset       bool          // either end reset: both fail
	changed     chan struct{} // closed and replaced on every change
}

func newPipeBuffer() *pipeBuffer { return &pipeBuffer{changed: make(chan struct{})} }

// notify wakes every waiter; the caller holds mu.
func (p *pipeBuffer) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *pipeBuffer) read(b []byte, deadline *pipeDeadline) (int, error) {
	for {
		p.mu.Lock()
		switch {
		case p.reset:
			p.mu.Unlock()
			return 0, errPipeReset
		case p.readClosed:
			p.mu.Unlock()
			return 0, io.ErrClosedPipe
		case len(p.data) > 0:
			n := copy(b, p.data)
			p.data = p.data[n:]
			if len(p.data) == 0 {
				p.data = nil // let a drained buffer's memory go
			}
			p.notify()
			p.mu.Unlock()
			return n, nil
		case p.writeClosed:
			p.mu.Unlock()
			return 0, io.EOF
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-deadline.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

func (p *pipeBuffer) write(b []byte, deadline *pipeDeadline) (int, error) {
	written := 0
	for len(b) > 0 {
		p.mu.Lock()
		switch {
		case p.reset:
			p.mu.Unlock()
			return written, errPipeReset
		case p.writeClosed:
			p.mu.Unlock()
			return written, io.ErrClosedPipe
		case p.readClosed:
			p.mu.Unlock()
			return written, errors.New("stream closed by the other end")
		}
		if room := pipeCapacity - len(p.data); room > 0 {
			n := min(room, len(b))
			p.data = append(p.data, b[:n]...)
			b, written = b[n:], written+n
			p.notify()
			p.mu.Unlock()
			continue
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-deadline.wait():
			return written, os.ErrDeadlineExceeded
		}
	}
	return written, nil
}

func (p *pipeBuffer) set(f func(p *pipeBuffer)) {
	p.mu.Lock()
	f(p)
	p.notify()
	p.mu.Unlock()
}

// pipeStream is one end of a pipe: it reads in and writes out.
type pipeStream struct {
	in, out  *pipeBuffer
	deadline pipeDeadline
}

func (s *pipeStream) Read(b []byte) (int, error)  { return s.in.read(b, &s.deadline) }
func (s *pipeStream) Write(b []byte) (int, error) { return s.out.write(b, &s.deadline) }

// CloseWrite half-closes: the other end reads EOF once it has drained what was written.
func (s *pipeStream) CloseWrite() error {
	s.out.set(func(p *pipeBuffer) { p.writeClosed = true })
	return nil
}

// Close closes both directions, as a libp2p stream's Close does: the other end
// reads EOF, and its writes fail.
func (s *pipeStream) Close() error {
	s.out.set(func(p *pipeBuffer) { p.writeClosed = true })
	s.in.set(func(p *pipeBuffer) { p.readClosed = true; p.data = nil })
	return nil
}

// Reset aborts both directions: reads and writes fail at both ends.
func (s *pipeStream) Reset() error {
	for _, p := range []*pipeBuffer{s.in, s.out} {
		p.set(func(p *pipeBuffer) { p.reset = true; p.data = nil })
	}
	return nil
}

// SetDeadline bounds this end's pending and future reads and writes.
func (s *pipeStream) SetDeadline(t time.Time) error {
	s.deadline.set(t)
	return nil
}

// pipeDeadline is a settable deadline whose wait channel closes when it passes.
// Pending operations keep waiting on the same channel when the deadline moves,
// so a new deadline also bounds a read that is already blocked.
type pipeDeadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	gen    uint64        // bumped by set, so a stale timer does not fire
	passed chan struct{} // nil until first set: never closes
}

func (d *pipeDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.passed == nil || isClosed(d.passed) {
		d.passed = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.passed)
		return
	}
	gen, ch := d.gen, d.passed
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen {
			close(ch)
		}
	})
}

func (d *pipeDeadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passed // nil (blocks forever) when no deadline was ever set
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
