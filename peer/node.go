package peer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/sync/errgroup"

	"github.com/scavenge/scavenge/peer/wire"
)

// Node is one peer of a scavenge swarm: the libp2p host and everything that
// runs on it. Build it with New, start its loops with Run, stop with Close.
// It implements scavenger.Mesh.
type Node struct {
	o     Options
	log   *slog.Logger
	key   crypto.PrivKey
	self  peer.ID
	swarm string

	h         host.Host
	dht       *kaddht.IpfsDHT // nil when DisableDHT
	ps        *pubsub.PubSub  // nil when DisablePubsub
	topic     *offersTopic    // nil when DisablePubsub
	mdns      interface{ Close() error }
	cache     *offerCache
	bootstrap []peer.AddrInfo
	dialer    *dialer

	// ctx lives from New to Close: gossipsub runs under it. stopRun ends Run
	// first, so that nothing uses the topic or the DHT while they close.
	ctx     context.Context
	cancel  context.CancelFunc
	runCtx  context.Context
	stopRun context.CancelFunc

	pubWake chan struct{} // buffered(1): our offer changed, publish it now
	dhtWake chan struct{} // buffered(1): our offer changed, put it in the DHT

	mu       sync.Mutex
	template *wire.Offer // what the engine last set; nil before the first SetOffer
	seq      uint64      // last sequence number we signed
	sealed   []byte      // the current signed envelope

	life      sync.Mutex // guards running and closing against a concurrent Close
	running   bool
	closing   bool
	runs      sync.WaitGroup // Run, so Close can wait for its loops
	closeOnce sync.Once
	closeErr  error
}

// New builds the host, the DHT, gossipsub and mDNS as o asks, and dials the
// bootstrap peers. A bootstrap peer that cannot be reached now is not an
// error: Run keeps trying.
func New(ctx context.Context, o Options) (_ *Node, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return nil, err
	}
	bootstrap, err := parseP2pAddrs(o.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	self, err := peer.IDFromPrivateKey(o.Identity)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	n := &Node{
		o:         o,
		key:       o.Identity,
		self:      self,
		swarm:     SwarmName(o.SwarmKey),
		bootstrap: bootstrap,
		pubWake:   make(chan struct{}, 1),
		dhtWake:   make(chan struct{}, 1),
	}
	n.log = o.Logger.With("component", "peer", "self", shortID(self))
	n.cache = newOfferCache(self)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.runCtx, n.stopRun = context.WithCancel(n.ctx)
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()

	if n.h, err = newHost(o); err != nil {
		return nil, err
	}
	n.dialer = newDialer(n.h, n.log)
	n.h.SetStreamHandler(offerProtocol, n.serveOffer)
	if !o.DisableDHT {
		if n.dht, err = newDHT(n.h, o.DHTMode, bootstrap); err != nil {
			return nil, err
		}
	}
	if !o.DisablePubsub {
		if n.ps, err = newPubsub(n.ctx, n.h, atLeast(o.Logger, slog.LevelInfo).With("component", "gossipsub")); err != nil {
			return nil, err
		}
		if n.topic, err = joinOffersTopic(n.ps, n.swarm, self, n.cache, n.log); err != nil {
			return nil, err
		}
	}
	if o.MDNS {
		if n.mdns, err = startMDNS(n.h, n.swarm, n.dialer); err != nil {
			return nil, err
		}
	}
	n.connectBootstrap(ctx)
	n.log.Info("peer started", "id", self, "swarm", n.swarm, "addrs", n.Addrs(),
		"dht", !o.DisableDHT, "pubsub", !o.DisablePubsub, "mdns", o.MDNS)
	return n, nil
}

// Run runs the heartbeat, DHT and discovery loops until ctx ends or the node
// is closed; it then returns nil. Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	n.life.Lock()
	switch {
	case n.closing:
		n.life.Unlock()
		return errors.New("peer: node is closed")
	case n.running:
		n.life.Unlock()
		return errors.New("peer: Run called twice")
	}
	n.running = true
	n.runs.Add(1)
	n.life.Unlock()
	defer n.runs.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(n.runCtx, cancel)
	defer stop()

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.runHeartbeat(ctx) })
	g.Go(func() error { return n.runSweep(ctx) })
	g.Go(func() error { return n.runBootstrap(ctx) })
	if n.topic != nil {
		g.Go(func() error { return n.topic.run(ctx, n.acceptOffer) })
	}
	if n.dht != nil {
		g.Go(func() error { return n.runDHTPut(ctx) })
		d := newDiscovery(n)
		g.Go(func() error { return d.runProvide(ctx) })
		g.Go(func() error { return d.runFind(ctx) })
		g.Go(func() error { return d.runWatch(ctx) })
		g.Go(func() error { return d.runFetch(ctx) })
	}
	return g.Wait()
}

// Close stops everything New started and releases the listening sockets.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.life.Lock()
		n.closing = true
		n.life.Unlock()
		n.stopRun()
		n.runs.Wait() // Run's loops use everything below
		var errs []error
		if n.topic != nil {
			errs = append(errs, n.topic.close())
		}
		n.cancel()
		if n.mdns != nil {
			errs = append(errs, n.mdns.Close())
		}
		if n.dialer != nil {
			n.dialer.close()
		}
		if n.dht != nil {
			errs = append(errs, n.dht.Close())
		}
		if n.h != nil {
			errs = append(errs, n.h.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// ID is this peer's libp2p ID.
func (n *Node) ID() string { return n.self.String() }

// PeerID is ID as a libp2p peer.ID.
func (n *Node) PeerID() peer.ID { return n.self }

// SwarmName is the public name of this node's swarm (see SwarmName).
func (n *Node) SwarmName() string { return n.swarm }

// Host is the underlying libp2p host, for tests and benchmarks.
func (n *Node) Host() host.Host { return n.h }

// Addrs are the host's listen addresses, loopback included, each ending in
// /p2p/<id> so that any of them can be given to another peer as a bootstrap.
func (n *Node) Addrs() []string {
	addrs := slices.Clone(n.h.Addrs())
	// Addresses other machines can dial first: the first line of
	// `scavenge id` is what people copy into --bootstrap.
	slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int {
		return cmp.Compare(addrRank(a), addrRank(b))
	})
	mas, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.self, Addrs: addrs})
	if err != nil {
		return nil
	}
	out := make([]string, len(mas))
	for i, a := range mas {
		out[i] = a.String()
	}
	return out
}

// addrRank orders addresses by reach: LAN and public ones, then loopback.
func addrRank(a ma.Multiaddr) int {
	if manet.IsIPLoopback(a) {
		return 1
	}
	return 0
}

// Connect dials a peer by a multiaddr ending in /p2p/<id>. A peer of another
// swarm fails here: the pre-shared key handshake does not complete.
func (n *Node) Connect(ctx context.Context, addr string) error {
	infos, err := parseP2pAddrs([]string{addr})
	if err != nil {
		return err
	}
	if err := n.h.Connect(ctx, infos[0]); err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	return nil
}

// Offers returns the newest valid, unexpired offer of every other peer,
// ordered by peer ID.
func (n *Node) Offers() []wire.Offer { return n.cache.list(time.Now()) }

// OffersChanged receives a value, never blocking the sender, whenever Offers
// may have changed: an offer arrived, was replaced or expired.
func (n *Node) OffersChanged() <-chan struct{} { return n.cache.changed }

// acceptOffer stores a verified offer of p and makes sure we can reach p.
func (n *Node) acceptOffer(p peer.ID, o *wire.Offer, source string) {
	if !n.cache.put(p, o, source, time.Now()) {
		return
	}
	n.log.Debug("offer", "peer", shortID(p), "seq", o.Seq, "state", o.State, "free_cpus", o.FreeCPUs, "via", source)
	// Gossip reaches us through whoever relays it; a direct connection makes
	// claims fast and puts the peer in our gossip mesh.
	if len(o.Addrs) > 0 && !n.dialer.connected(p) {
		if info, err := parseP2pAddrs(o.Addrs); err == nil {
			n.dialer.dial(peer.AddrInfo{ID: p, Addrs: addrsOf(info, p)})
		}
	}
}

// connectBootstrap dials every bootstrap peer and waits for the dials, but
// no longer than bootstrapWait: a node returned by New is then usually part
// of its swarm already, and a peer that is down does not hold up the start.
// Unfinished dials go on in the background.
func (n *Node) connectBootstrap(ctx context.Context) {
	type dial struct {
		id  peer.ID
		res <-chan error
	}
	var dials []dial
	for _, ai := range n.bootstrap {
		if ai.ID == n.self {
			continue
		}
		if res := n.dialer.start(ai, true); res != nil {
			dials = append(dials, dial{ai.ID, res})
		}
	}
	report := func(id peer.ID, err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			n.log.Warn("bootstrap peer unreachable", "peer", id, "err", err)
		}
	}
	timer := time.NewTimer(bootstrapWait)
	defer timer.Stop()
	for i, d := range dials {
		select {
		case err := <-d.res:
			report(d.id, err)
		case <-timer.C:
			n.log.Warn("bootstrap peers still dialing; going on without waiting")
			// A peer of another swarm does not refuse the dial: the
			// handshake stalls until the dial times out. Say so then.
			go func() {
				for _, d := range dials[i:] {
					report(d.id, <-d.res)
				}
			}()
			return
		case <-ctx.Done():
			return
		}
	}
}

// bootstrapWait bounds how long New waits for bootstrap dials.
const bootstrapWait = 3 * time.Second

// parseP2pAddrs parses multiaddrs that end in /p2p/<id>, merging addresses
// of the same peer.
func parseP2pAddrs(addrs []string) ([]peer.AddrInfo, error) {
	mas := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_P2P); err != nil {
			return nil, fmt.Errorf("address %q has no /p2p/<peer id>", s)
		}
		mas = append(mas, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("addresses %v: %w", addrs, err)
	}
	return infos, nil
}

// addrsOf returns the addresses of p among infos; an offer's addresses name
// its own peer, and any other peer in them is ignored.
func addrsOf(infos []peer.AddrInfo, p peer.ID) []ma.Multiaddr {
	for _, ai := range infos {
		if ai.ID == p {
			return ai.Addrs
		}
	}
	return nil
}

// shortID is the tail of a peer ID, enough to tell peers apart in logs. It
// is a slog.LogValuer: encoding an ID costs a base58 conversion, and the hot
// paths (every offer received) log at debug level, usually switched off.
type shortID peer.ID

func (s shortID) String() string {
	str := peer.ID(s).String()
	if len(str) > 8 {
		return str[len(str)-8:]
	}
	return str
}

// LogValue implements slog.LogValuer.
func (s shortID) LogValue() slog.Value { return slog.StringValue(s.String()) }
