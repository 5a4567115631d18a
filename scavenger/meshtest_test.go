package scavenger

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// testMesh is an in-process Mesh for engine tests: linked meshes open
// streams to each other's handlers through pipeStreams (in-memory, with
// half-close and reset like a libp2p stream) and see each other's offers.
// It stands in for the network layer, which the engine must not import.
type testMesh struct {
	id string

	mu       sync.Mutex
	handlers map[string]func(remote string, s wire.Stream)
	peers    map[string]*testMesh
	offer    *wire.Offer // nil until SetOffer
	seq      uint64
	changed  chan struct{}
}

// newTestMesh returns an unlinked mesh for peer id.
func newTestMesh(id string) *testMesh {
	return &testMesh{
		id:       id,
		handlers: map[string]func(string, wire.Stream){},
		peers:    map[string]*testMesh{},
		changed:  make(chan struct{}, 1),
	}
}

// link connects a and b both ways.
func link(a, b *testMesh) {
	a.mu.Lock()
	a.peers[b.id] = b
	a.mu.Unlock()
	b.mu.Lock()
	b.peers[a.id] = a
	b.mu.Unlock()
	a.notify()
	b.notify()
}

func (m *testMesh) ID() string      { return m.id }
func (m *testMesh) Addrs() []string { return []string{"/memory/" + m.id + "/p2p/" + m.id} }

// SetOffer stores the offer as the network would: filled in, sequenced and
// valid for a minute; linked peers are told.
func (m *testMesh) SetOffer(o wire.Offer) {
	m.mu.Lock()
	m.seq++
	now := time.Now()
	o.Peer, o.Seq, o.Issued, o.Expires, o.Addrs = m.id, m.seq, now, now.Add(time.Minute), m.Addrs()
	m.offer = &o
	peers := m.peerList()
	m.mu.Unlock()
	for _, p := range peers {
		p.notify()
	}
}

// lastOffer returns the newest offer set on m and how many were set.
func (m *testMesh) lastOffer() (wire.Offer, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.offer == nil {
		return wire.Offer{}, 0
	}
	return *m.offer, m.seq
}

// Offers returns the linked peers' offers.
func (m *testMesh) Offers() []wire.Offer {
	m.mu.Lock()
	peers := m.peerList()
	m.mu.Unlock()
	var out []wire.Offer
	for _, p := range peers {
		if o, n := p.lastOffer(); n > 0 {
			out = append(out, o)
		}
	}
	return out
}

func (m *testMesh) OffersChanged() <-chan struct{} { return m.changed }

func (m *testMesh) notify() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *testMesh) peerList() []*testMesh {
	out := make([]*testMesh, 0, len(m.peers))
	for _, p := range m.peers {
		out = append(out, p)
	}
	return out
}

// NewStream runs peer's handler for protocol on one end of a pipe, in its
// own goroutine as libp2p does, and returns the other end.
func (m *testMesh) NewStream(ctx context.Context, peer, protocol string) (wire.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	p := m.peers[peer]
	m.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("testmesh: %s is not linked to %s", peer, m.id)
	}
	p.mu.Lock()
	h := p.handlers[protocol]
	p.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("testmesh: %s does not speak %s", peer, protocol)
	}
	local, remote := pipeStreams()
	go h(m.id, remote)
	return local, nil
}

func (m *testMesh) Handle(protocol string, h func(remote string, s wire.Stream)) {
	m.mu.Lock()
	m.handlers[protocol] = h
	m.mu.Unlock()
}

// unlink cuts a from b both ways: new streams fail, like a peer gone away.
func unlink(a, b *testMesh) {
	a.mu.Lock()
	delete(a.peers, b.id)
	a.mu.Unlock()
	b.mu.Lock()
	delete(b.peers, a.id)
	b.mu.Unlock()
}

var _ Mesh = (*testMesh)(nil)
