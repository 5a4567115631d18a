package peer_test

import (
	"net"
	"os"
	"testing"

	"github.com/scavenge/scavenge/peer"
	"github.com/scavenge/scavenge/peer/peertest"
)

// TestDiscoveryByMDNS: two peers with no bootstrap and no DHT find each other
// by mDNS alone, and gossip then carries the offer.
func TestDiscoveryByMDNS(t *testing.T) {
	t.Parallel()
	if !haveMulticast() {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must test mDNS, but this machine has no multicast-capable interface")
		}
		t.Skip("no multicast-capable network interface: mDNS cannot work here (README: mDNS needs multicast)")
	}
	nodes := peertest.NewSwarm(t, 2, func(_ int, o *peer.Options) {
		o.MDNS = true
		o.DisableDHT = true
		o.Bootstrap = nil
	})
	nodes[0].SetOffer(peertest.IdleOffer("a", 1))
	peertest.WaitFor(t, wait, func() bool { _, ok := peertest.OfferOf(nodes[1], nodes[0].ID()); return ok },
		"node 1 to find node 0 by mDNS and hear its offer")
}

func haveMulticast() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 && i.Flags&net.FlagLoopback == 0 {
			return true
		}
	}
	return false
}
