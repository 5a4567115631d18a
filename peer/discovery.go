package peer

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	mh "github.com/multiformats/go-multihash"
)

// Discovery timing. Provider lookups are frequent while a peer is new and the
// swarm is forming, and back off once nothing new turns up: in a settled
// swarm new peers announce themselves by connecting, which is seen at once.
const (
	findFirst      = 2 * time.Second        // provider lookups at start
	findMax        = 30 * time.Second       // ... and at most this far apart later
	findEmptyRetry = 100 * time.Millisecond // while the routing table is empty
	findEmptyFast  = 10 * time.Second       // ... for this long after the start, then every findFirst
	provideRetry   = time.Second            // after a failed provide (empty routing table)
	provideFirst   = 10 * time.Second       // re-provide soon: the first one reached few peers
	provideMax     = time.Hour              // provider records last 48 h; the swarm's shape changes faster
	bootstrapEvery = 10 * time.Second
)

// RendezvousCID is the DHT key every peer of a swarm provides, so that any
// peer can find the others: the SHA-256 of "scavenge/" + the swarm name.
func RendezvousCID(swarm string) cid.Cid {
	sum, err := mh.Sum([]byte("scavenge/"+swarm), mh.SHA2_256, -1)
	if err != nil {
		panic(err) // SHA2_256 is always available
	}
	return cid.NewCidV1(cid.Raw, sum)
}

// discovery learns which peers exist and keeps an offer of each in the cache
// when gossip does not. A provider record only says a peer was once in the
// swarm (records last 48 h and cannot be withdrawn): only a fresh signed
// offer says what it offers now.
//
// Peers are learned from the swarm's provider records and from every
// connection whose peer speaks offerProtocol (the DHT's own lookups connect
// us to much of the swarm). A new peer's offer is fetched at once, from the
// peer itself (one round trip) or, when that fails, from the DHT (a whole
// lookup). After that each peer costs one fetch per offer lifetime, shortly
// before the cached offer would expire, and none while gossip keeps it fresh.
//
// Polling every peer's offer through DHT lookups every few seconds, as this
// did at first, grows with the square of the swarm times the lookup's 20-odd
// requests: 50 peers on two cores never finished forming.
type discovery struct {
	n    *Node
	rdv  cid.Cid
	sem  chan struct{} // bounds fetches in flight
	wake chan struct{} // buffered(1): the fetch schedule changed (a new peer, a fetch ended)

	mu    sync.Mutex
	known map[peer.ID]*fetchState
}

func newDiscovery(n *Node) *discovery {
	return &discovery{
		n:     n,
		rdv:   RendezvousCID(n.swarm),
		sem:   make(chan struct{}, fetchParallel),
		wake:  make(chan struct{}, 1),
		known: make(map[peer.ID]*fetchState),
	}
}

// learn adds p to the known peers and reports whether it was new; a new peer
// is due for a fetch at once.
func (d *discovery) learn(p peer.ID) bool {
	if p == d.n.self {
		return false
	}
	d.mu.Lock()
	_, ok := d.known[p]
	if !ok {
		d.known[p] = &fetchState{}
	}
	d.mu.Unlock()
	if !ok {
		wake(d.wake)
	}
	return !ok
}

// runProvide announces this peer under the rendezvous key, retrying quickly
// until it works (the routing table is empty at first) and then re-providing
// at growing intervals as the swarm fills in.
func (d *discovery) runProvide(ctx context.Context) error {
	every := provideFirst
	for {
		pctx, cancel := context.WithTimeout(ctx, queryTimeout)
		err := d.n.dht.Provide(pctx, d.rdv, true)
		cancel()
		wait := every
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.n.log.Debug("rendezvous provide failed", "err", err)
			wait = provideRetry
		} else {
			every = min(every*2, provideMax)
		}
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// runFind looks up the rendezvous providers and learns the new ones. The
// first lookup starts as soon as the routing table has a peer to ask: a
// newcomer's fills moments after its bootstrap connection, so the table is
// checked often at first; a peer that stays alone checks less often (peers
// that come later dial it, and runWatch learns them).
func (d *discovery) runFind(ctx context.Context) error {
	start := time.Now()
	every := findFirst
	for {
		if d.n.dht.RoutingTable().Size() == 0 {
			wait := findFirst
			if time.Since(start) < findEmptyFast {
				wait = findEmptyRetry
			}
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}
		if d.find(ctx) > 0 {
			every = findFirst
		} else {
			every = min(every*2, findMax)
		}
		if !sleep(ctx, every) {
			return nil
		}
	}
}

// find runs one provider lookup and returns how many peers were new. The
// lookup asks for every provider (count 0): servers answer with all the
// records they hold, not the 20 closest, so one lookup sees the whole swarm.
func (d *discovery) find(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	found, fresh := 0, 0
	for ai := range d.n.dht.FindProvidersAsync(ctx, d.rdv, 0) {
		if ai.ID == d.n.self {
			continue
		}
		found++
		if d.learn(ai.ID) {
			fresh++
		}
	}
	if fresh > 0 {
		d.n.log.Debug("rendezvous providers found", "found", found, "new", fresh)
	}
	return fresh
}

// runWatch learns every peer we connect to that serves offers, as soon as
// identify has told us its protocols: peers that dial us, peers our DHT
// lookups reach, peers from mDNS or the bootstrap list.
func (d *discovery) runWatch(ctx context.Context) error {
	// The bus blocks identify while our buffer is full; learn is a map
	// insert, so a modest buffer never fills for long.
	sub, err := d.n.h.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtPeerProtocolsUpdated),
	}, eventbus.BufSize(256), eventbus.Name("scavenge-discovery"))
	if err != nil {
		return fmt.Errorf("discovery: subscribe to identify events: %w", err)
	}
	defer sub.Close()
	// Peers identified before we subscribed.
	for _, p := range d.n.h.Network().Peers() {
		if ps, err := d.n.h.Peerstore().SupportsProtocols(p, offerProtocol); err == nil && len(ps) > 0 {
			d.learn(p)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.Out():
			if !ok {
				return nil
			}
			switch e := e.(type) {
			case event.EvtPeerIdentificationCompleted:
				if slices.Contains(e.Protocols, offerProtocol) {
					d.learn(e.Peer)
				}
			case event.EvtPeerProtocolsUpdated:
				if slices.Contains(e.Added, offerProtocol) {
					d.learn(e.Peer)
				}
			}
		}
	}
}

// runBootstrap redials bootstrap peers we lost (or never reached), so a
// peer started before its bootstrap peer still joins the swarm.
func (n *Node) runBootstrap(ctx context.Context) error {
	if len(n.bootstrap) == 0 {
		return nil
	}
	tick := time.NewTicker(bootstrapEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			for _, ai := range n.bootstrap {
				n.dialer.dial(ai)
			}
		}
	}
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
