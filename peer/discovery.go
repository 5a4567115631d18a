package peer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	mh "github.com/multiformats/go-multihash"
)

// Discovery timing. Lookups are frequent while a peer is new and the swarm
// is forming, and back off once nothing new turns up.
const (
	findFirst      = 2 * time.Second  // provider lookups at start
	findMax        = 30 * time.Second // ... and at most this far apart later
	provideRetry   = time.Second      // after a failed provide (empty routing table)
	provideFirst   = 10 * time.Second // re-provide soon: the first one reached few peers
	provideMax     = time.Hour        // provider records last 48 h; the swarm's shape changes faster
	fetchTick      = time.Second
	fetchParallel  = 8
	fetchRetryMin  = 2 * time.Second
	fetchRetryMax  = 2 * time.Minute
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

// discovery finds the swarm's peers through DHT provider records and reads
// their offers from the DHT. A provider record only says a peer was once in
// the swarm (records last 48 h and cannot be withdrawn): only a fresh signed
// offer says what it offers now.
type discovery struct {
	n     *Node
	rdv   cid.Cid
	sem   chan struct{}
	mu    sync.Mutex
	known map[peer.ID]*fetchState // every provider seen
}

type fetchState struct {
	next     time.Time     // do not fetch before
	backoff  time.Duration // after failures
	inflight bool
}

func newDiscovery(n *Node) *discovery {
	return &discovery{
		n:     n,
		rdv:   RendezvousCID(n.swarm),
		sem:   make(chan struct{}, fetchParallel),
		known: make(map[peer.ID]*fetchState),
	}
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

// runFind looks up the rendezvous providers, dials the new ones and makes
// them candidates for offer fetches.
func (d *discovery) runFind(ctx context.Context) error {
	every := findFirst
	for {
		fresh := d.find(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fresh > 0 || d.n.dht.RoutingTable().Size() == 0 {
			every = findFirst
		} else {
			every = min(every*2, findMax)
		}
		if !sleep(ctx, every) {
			return nil
		}
	}
}

// find runs one provider lookup and returns how many peers were new.
func (d *discovery) find(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	fresh := 0
	for ai := range d.n.dht.FindProvidersAsync(ctx, d.rdv, 0) {
		if ai.ID == d.n.self {
			continue
		}
		d.mu.Lock()
		if _, ok := d.known[ai.ID]; !ok {
			d.known[ai.ID] = &fetchState{}
			fresh++
		}
		d.mu.Unlock()
		d.n.dialer.dial(ai)
	}
	if fresh > 0 {
		d.n.log.Debug("rendezvous providers found", "new", fresh)
	}
	return fresh
}

// runFetch reads from the DHT the offers that gossip has not brought: every
// known peer's when pubsub is off, otherwise only those missing or about to
// expire.
func (d *discovery) runFetch(ctx context.Context) error {
	tick := time.NewTicker(fetchTick)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			for _, p := range d.due(now) {
				select {
				case d.sem <- struct{}{}:
				case <-ctx.Done():
					d.done(p, false, now)
					continue
				}
				wg.Go(func() {
					defer func() { <-d.sem }()
					d.done(p, d.fetch(ctx, p), time.Now())
				})
			}
		}
	}
}

// due marks and returns the peers whose offer should be fetched now.
func (d *discovery) due(now time.Time) []peer.ID {
	ttl := d.n.o.OfferTTL
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []peer.ID
	for p, st := range d.known {
		if st.inflight || now.Before(st.next) {
			continue
		}
		if o, ok := d.n.cache.get(p); ok && o.Fresh(now) {
			if d.n.topic != nil && o.Expires.Sub(now) > ttl/2 {
				continue // gossip keeps this one fresh
			}
			if d.n.topic == nil && now.Sub(o.Issued) < ttl/3 {
				continue
			}
		}
		st.inflight = true
		out = append(out, p)
	}
	return out
}

// done records the outcome of a fetch of p.
func (d *discovery) done(p peer.ID, ok bool, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.known[p]
	st.inflight = false
	if ok {
		st.backoff = 0
		// The owner re-puts every TTL/3: looking sooner finds the same record.
		st.next = now.Add(d.n.o.OfferTTL / 3)
		return
	}
	st.backoff = min(max(st.backoff*2, fetchRetryMin), fetchRetryMax)
	st.next = now.Add(st.backoff)
}

// fetch reads p's offer from the DHT and reports whether it found a valid one.
func (d *discovery) fetch(ctx context.Context, p peer.ID) bool {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	val, err := d.n.dht.GetValue(ctx, OfferKey(p))
	if err != nil {
		if !errors.Is(err, routing.ErrNotFound) && ctx.Err() == nil {
			d.n.log.Debug("offer lookup failed", "peer", shortID(p), "err", err)
		}
		return false
	}
	o, signer, err := OpenOffer(val, time.Now())
	if err != nil || signer != p {
		// The DHT validated it, so this is an offer that expired in between.
		return false
	}
	d.n.acceptOffer(p, o, sourceDHT)
	return true
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
