package cli

import (
	"context"
	"sync"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/scavenger"
)

// meter is a Mesh that counts the bytes a home writes on task streams, by
// donor. The demo uses it to show that content-addressed inputs travel once
// per donor, however many tasks use them: nearly all of those bytes are the
// input files, the rest is a few small frames per task.
type taskMeter struct {
	scavenger.Mesh
	mu   sync.Mutex
	sent map[string]int64 // peer ID -> bytes
}

func newTaskMeter(m scavenger.Mesh) *taskMeter { return &taskMeter{Mesh: m, sent: map[string]int64{}} }

// NewStream wraps task streams in a counter; other protocols pass through.
func (m *taskMeter) NewStream(ctx context.Context, peer, protocol string) (wire.Stream, error) {
	s, err := m.Mesh.NewStream(ctx, peer, protocol)
	if err != nil || protocol != wire.TaskProtocol {
		return s, err
	}
	return &meteredStream{Stream: s, m: m, peer: peer}, nil
}

// Sent returns the task-stream bytes written to each peer so far.
func (m *taskMeter) Sent() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.sent))
	for k, v := range m.sent {
		out[k] = v
	}
	return out
}

type meteredStream struct {
	wire.Stream
	m    *taskMeter
	peer string
}

func (s *meteredStream) Write(p []byte) (int, error) {
	n, err := s.Stream.Write(p)
	s.m.mu.Lock()
	s.m.sent[s.peer] += int64(n)
	s.m.mu.Unlock()
	return n, err
}
