package peer

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// startMDNS announces this peer on the LAN and dials the peers it hears.
// The service name carries the swarm name, so peers of other swarms are not
// even dialed; the swarm key would refuse them anyway.
func startMDNS(h host.Host, swarm string, d *dialer) (mdns.Service, error) {
	s := mdns.NewMdnsService(h, "scavenge-"+swarm, mdnsNotifee{d})
	if err := s.Start(); err != nil {
		return nil, fmt.Errorf("mdns: %w", err)
	}
	return s, nil
}

type mdnsNotifee struct{ d *dialer }

// HandlePeerFound implements mdns.Notifee.
func (m mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) { m.d.dial(ai) }
