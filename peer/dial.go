package peer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// dialTimeout bounds one connection attempt.
const dialTimeout = 10 * time.Second

// redialGap is how long we leave a peer alone after trying to dial it, so
// that every source of addresses (mDNS, providers, offers, bootstrap) can ask
// for a dial without flooding a peer that is down.
const redialGap = 10 * time.Second

// dialer connects to peers in the background, at most one attempt per peer
// per redialGap.
type dialer struct {
	ctx    context.Context
	cancel context.CancelFunc
	h      host.Host
	log    *slog.Logger
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	last   map[peer.ID]time.Time
}

func newDialer(h host.Host, log *slog.Logger) *dialer {
	ctx, cancel := context.WithCancel(context.Background())
	return &dialer{ctx: ctx, cancel: cancel, h: h, log: log, last: make(map[peer.ID]time.Time)}
}

// close aborts dials in flight and waits for them.
func (d *dialer) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

func (d *dialer) connected(p peer.ID) bool {
	return d.h.Network().Connectedness(p) == network.Connected
}

// dial connects to ai in the background unless it is us, already
// connected, or tried recently.
func (d *dialer) dial(ai peer.AddrInfo) {
	if ai.ID == d.h.ID() || d.connected(ai.ID) {
		return
	}
	d.start(ai, false)
}

// start begins a dial of ai and returns a channel that receives its result;
// nil when the dial was skipped (closed, or tried recently unless force).
func (d *dialer) start(ai peer.AddrInfo, force bool) <-chan error {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	if t, ok := d.last[ai.ID]; ok && now.Sub(t) < redialGap && !force {
		return nil
	}
	d.last[ai.ID] = now
	for p, t := range d.last { // keep the map small: forget old attempts
		if now.Sub(t) > time.Minute {
			delete(d.last, p)
		}
	}
	res := make(chan error, 1)
	d.wg.Go(func() { // under d.mu, so close never waits while a dial is being added
		ctx, cancel := context.WithTimeout(d.ctx, dialTimeout)
		defer cancel()
		err := d.h.Connect(ctx, ai)
		if err != nil {
			d.log.Debug("dial failed", "peer", shortID(ai.ID), "err", err)
		} else {
			d.log.Debug("connected", "peer", shortID(ai.ID))
		}
		res <- err
	})
	return res
}
