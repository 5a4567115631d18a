package peer

import (
	"context"
	"fmt"
	"time"

	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/scavenge/scavenge/peer/wire"
)

// newDHT starts a Kademlia DHT of our own (protocol prefix /scavenge, so it
// never mixes with the public IPFS DHT) that stores offer records under
// wire.OfferNamespace with OfferValidator. The default namespaced validator
// keeps its "pk" entry, which a DHT under a custom prefix still needs.
func newDHT(h host.Host, mode string, bootstrap []peer.AddrInfo) (*kaddht.IpfsDHT, error) {
	var m kaddht.ModeOpt
	switch mode {
	case "client":
		m = kaddht.ModeClient
	case "auto":
		m = kaddht.ModeAuto
	default:
		// On a LAN every peer is reachable, and one that only asks makes the
		// table thinner for everyone.
		m = kaddht.ModeServer
	}
	d, err := kaddht.New(h,
		kaddht.ProtocolPrefix(protocol.ID(wire.DHTPrefix)),
		kaddht.Mode(m),
		kaddht.BootstrapPeers(bootstrap...),
		kaddht.NamespacedValidator(wire.OfferNamespace, OfferValidator{}),
	)
	if err != nil {
		return nil, fmt.Errorf("kad-dht: %w", err)
	}
	return d, nil
}

// How often our offer goes into the DHT: after a change, but no more than
// once per dhtPutMinGap (each put is a lookup plus a store on up to 20
// peers); and again well before the stored copy expires.
const dhtPutMinGap = 2 * time.Second

// runDHTPut keeps our offer in the DHT under OfferKey(self).
func (n *Node) runDHTPut(ctx context.Context) error {
	refresh := n.o.OfferTTL / 3
	timer := time.NewTimer(refresh)
	defer timer.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.dhtWake:
		case <-timer.C:
		}
		if gap := dhtPutMinGap - time.Since(last); gap > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(gap):
			}
		}
		env := n.current()
		if env == nil {
			timer.Reset(refresh)
			continue
		}
		last = time.Now()
		pctx, cancel := context.WithTimeout(ctx, queryTimeout)
		err := n.dht.PutValue(pctx, OfferKey(n.self), env)
		cancel()
		next := refresh
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Usually an empty routing table right after start: retry soon.
			n.log.Debug("offer not put in the DHT", "err", err)
			next = dhtPutMinGap
		}
		timer.Reset(next) // Go 1.23+ timers: Reset never delivers a stale tick
	}
}

// queryTimeout bounds one DHT query (put, get, provide, find).
const queryTimeout = 10 * time.Second
