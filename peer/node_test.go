package peer_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/scavenge/scavenge/peer"
	"github.com/scavenge/scavenge/peer/peertest"
	"github.com/scavenge/scavenge/peer/wire"
)

// wait is the deadline for anything that should happen within a few
// heartbeats on loopback; generous so that a loaded CI machine does not flake.
const wait = 20 * time.Second

func TestOptionsRejected(t *testing.T) {
	psk := peertest.SwarmKey(t)
	tests := []struct {
		name string
		edit func(o *peer.Options)
		want string
	}{
		{"no identity", func(o *peer.Options) { o.Identity = nil }, "Identity"},
		{"short swarm key", func(o *peer.Options) { o.SwarmKey = psk[:16] }, "SwarmKey"},
		{"QUIC with a swarm key", func(o *peer.Options) { o.Listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"} }, "QUIC"},
		{"bad DHT mode", func(o *peer.Options) { o.DHTMode = "sometimes" }, "DHTMode"},
		{"nothing to learn offers by", func(o *peer.Options) { o.DisableDHT, o.DisablePubsub = true, true }, "DisableDHT"},
		{"TTL below two heartbeats", func(o *peer.Options) { o.OfferEvery, o.OfferTTL = time.Second, time.Second }, "OfferTTL"},
		{"bootstrap without /p2p", func(o *peer.Options) { o.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"} }, "/p2p"},
		{"bad listen address", func(o *peer.Options) { o.Listen = []string{"tcp:1234"} }, "tcp:1234"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := peertest.Options(t, psk)
			tc.edit(&o)
			n, err := peer.New(context.Background(), o)
			if err == nil {
				n.Close()
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestPublicSwarmListensOnQUIC(t *testing.T) {
	o := peertest.Options(t, nil)
	o.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	n := peertest.Start(t, o)
	addrs := strings.Join(n.Addrs(), " ")
	for _, want := range []string{"/tcp/", "/quic-v1/p2p/" + n.ID()} {
		if !strings.Contains(addrs, want) {
			t.Errorf("Addrs() = %s, want one with %s", addrs, want)
		}
	}
}

func TestAddrsEndInPeerID(t *testing.T) {
	n := peertest.NewSwarm(t, 1)[0]
	addrs := n.Addrs()
	if len(addrs) == 0 {
		t.Fatal("no addresses")
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") || !strings.HasSuffix(a, "/p2p/"+n.ID()) {
			t.Errorf("address %s: want /ip4/127.0.0.1/tcp/<port>/p2p/%s", a, n.ID())
		}
	}
}

// TestWrongSwarmKeyCannotConnect: a peer with another swarm key, or none,
// cannot connect to the swarm, so it never sees an offer.
func TestWrongSwarmKeyCannotConnect(t *testing.T) {
	t.Parallel()
	nodes := peertest.NewSwarm(t, 2)
	nodes[0].SetOffer(peertest.IdleOffer("zero", 2))

	strangers := map[string][]byte{"other key": peertest.SwarmKey(t), "no key": nil}
	var started []*peer.Node
	for name, psk := range strangers {
		s := peertest.Start(t, peertest.Options(t, psk))
		s.SetOffer(peertest.IdleOffer(name, 1))
		started = append(started, s)

		// A node without a key talks plain multistream to a pnet listener,
		// which waits for a nonce that never comes: a timeout is the failure.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.Connect(ctx, nodes[0].Addrs()[0])
		cancel()
		if err == nil {
			t.Errorf("%s: Connect to the swarm succeeded, want an error", name)
		} else {
			t.Logf("%s: Connect failed as it should: %v", name, err)
		}
		if got := s.Host().Network().Connectedness(nodes[0].PeerID()); got == network.Connected {
			t.Errorf("%s: connected to the swarm's bootstrap peer", name)
		}
	}
	// The swarm itself works: node 1 hears node 0. By then a stranger that
	// could connect would have heard node 0 as well.
	peertest.WaitFor(t, wait, func() bool { _, ok := peertest.OfferOf(nodes[1], nodes[0].ID()); return ok },
		"node 1 to see node 0's offer")
	for _, s := range started {
		if got := s.Offers(); len(got) != 0 {
			t.Errorf("stranger %s sees offers: %+v", s.ID(), got)
		}
		if got := len(s.Host().Network().Peers()); got != 0 {
			t.Errorf("stranger %s has %d connections, want 0", s.ID(), got)
		}
	}
	for _, n := range nodes {
		for _, s := range started {
			if _, ok := peertest.OfferOf(n, s.ID()); ok {
				t.Errorf("swarm node %s sees the stranger's offer", n.ID())
			}
		}
	}
}

// TestDiscoveryByPubsubOnly: with the DHT off, offers travel by gossip
// (through node 0, the only peer both others know at first), updates
// replace them, and a peer that goes away drops out once its offer expires.
func TestDiscoveryByPubsubOnly(t *testing.T) {
	t.Parallel()
	nodes := peertest.NewSwarm(t, 3, func(i int, o *peer.Options) {
		o.DisableDHT = true
		o.OfferEvery = 200 * time.Millisecond
		o.OfferTTL = 2 * time.Second
	})
	a, b := nodes[1], nodes[2]
	a.SetOffer(peertest.IdleOffer("a", 4))

	var first wire.Offer
	peertest.WaitFor(t, wait, func() bool {
		var ok bool
		first, ok = peertest.OfferOf(b, a.ID())
		return ok
	}, "b to see a's offer by gossip")
	if first.Name != "a" || first.State != wire.StateIdle || first.FreeCPUs != 4 || first.Version != wire.OfferVersion {
		t.Errorf("b sees %+v, want a's idle offer with 4 free cpus", first)
	}
	if !slices.Equal(first.Addrs, a.Addrs()) {
		t.Errorf("offer addrs = %v, want %v", first.Addrs, a.Addrs())
	}
	if !first.Expires.After(first.Issued) {
		t.Errorf("offer expires %v, issued %v", first.Expires, first.Issued)
	}
	if _, ok := peertest.OfferOf(a, a.ID()); ok {
		t.Error("a lists its own offer among Offers()")
	}

	busy := peertest.IdleOffer("a", 4)
	busy.State, busy.FreeCPUs = wire.StateBusy, 0
	a.SetOffer(busy)
	peertest.WaitFor(t, wait, func() bool {
		o, ok := peertest.OfferOf(b, a.ID())
		return ok && o.State == wire.StateBusy
	}, "b to see a's update to busy")
	if o, _ := peertest.OfferOf(b, a.ID()); o.Seq <= first.Seq {
		t.Errorf("updated offer has seq %d, not above the first %d", o.Seq, first.Seq)
	}

	// a stops: its offer expires at b, and b is told.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	drain(b.OffersChanged())
	peertest.WaitFor(t, wait, func() bool { _, ok := peertest.OfferOf(b, a.ID()); return !ok },
		"a's offer to expire at b")
	select {
	case <-b.OffersChanged():
	case <-time.After(wait):
		t.Error("OffersChanged did not fire for the expiry")
	}
}

// TestDiscoveryByDHTOnly: with gossip off, a new peer bootstrapped to one
// node finds another node's idle offer through the swarm's provider record,
// and reads it from that node, or from the DHT when the node does not answer
// offer requests (an older version, say); a change reaches it the same way.
func TestDiscoveryByDHTOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		serveOffers bool
	}{
		{"asked of the donor", true},
		{"read from the DHT", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			psk := peertest.SwarmKey(t)
			// A short TTL makes owners re-put and readers re-fetch every second.
			short := func(o *peer.Options) {
				o.SwarmKey, o.DisablePubsub = psk, true
				o.OfferEvery, o.OfferTTL = 500*time.Millisecond, 3*time.Second
			}
			nodes := peertest.NewSwarm(t, 2, func(_ int, o *peer.Options) { short(o) })
			donor := nodes[1]
			if !tt.serveOffers {
				donor.Host().RemoveStreamHandler(peer.OfferProtocol)
			}
			donor.SetOffer(peertest.IdleOffer("donor", 2))

			o := peertest.Options(t, psk)
			short(&o)
			o.Bootstrap = nodes[0].Addrs()
			newcomer := peertest.Start(t, o)
			peertest.WaitFor(t, wait, func() bool { _, ok := peertest.OfferOf(newcomer, donor.ID()); return ok },
				"the newcomer to find the donor's offer")
			got, _ := peertest.OfferOf(newcomer, donor.ID())
			if got.Name != "donor" || got.State != wire.StateIdle || got.FreeCPUs != 2 {
				t.Errorf("newcomer sees %+v, want the donor's idle offer", got)
			}
			// Node 0 never set an offer: being a provider is not being idle.
			if _, ok := peertest.OfferOf(newcomer, nodes[0].ID()); ok {
				t.Error("newcomer lists an offer for node 0, which never made one")
			}

			paused := peertest.IdleOffer("donor", 2)
			paused.State, paused.FreeCPUs = wire.StatePaused, 0
			donor.SetOffer(paused)
			peertest.WaitFor(t, wait, func() bool {
				o, ok := peertest.OfferOf(newcomer, donor.ID())
				return ok && o.State == wire.StatePaused
			}, "the newcomer to see the donor paused")
		})
	}
}

// TestDHTOnlyNewcomerSeesWholeSwarm: with gossip off, a newcomer to a swarm
// larger than a Kademlia bucket (20, the number of closest peers a DHT
// lookup asks, and that providers are stored on) sees every peer's offer:
// provider lookups return every provider, not 20, and every peer answers
// for its own offer.
func TestDHTOnlyNewcomerSeesWholeSwarm(t *testing.T) {
	t.Parallel()
	const size = 24
	psk := peertest.SwarmKey(t)
	dhtOnly := func(o *peer.Options) { o.SwarmKey, o.DisablePubsub = psk, true }
	nodes := peertest.NewSwarm(t, size, func(_ int, o *peer.Options) { dhtOnly(o) })
	for i, n := range nodes {
		n.SetOffer(peertest.IdleOffer(fmt.Sprintf("donor%d", i), 1))
	}

	o := peertest.Options(t, psk)
	dhtOnly(&o)
	o.Bootstrap = nodes[0].Addrs()
	start := time.Now()
	newcomer := peertest.Start(t, o)
	var last []string
	defer func() {
		if t.Failed() {
			t.Logf("the newcomer misses %v", last)
		}
	}()
	missing := func() []string {
		var out []string
		for i, n := range nodes {
			if o, ok := peertest.OfferOf(newcomer, n.ID()); !ok || o.State != wire.StateIdle {
				out = append(out, fmt.Sprintf("donor%d", i))
			}
		}
		return out
	}
	peertest.WaitFor(t, wait, func() bool { last = missing(); return len(last) == 0 }, "the newcomer to see every donor idle")
	t.Logf("the newcomer saw all %d donors %s after its start", size, time.Since(start).Round(time.Millisecond))
	if got := len(newcomer.Offers()); got != size {
		t.Errorf("newcomer holds %d offers, want %d", got, size)
	}
}

func drain(c <-chan struct{}) {
	select {
	case <-c:
	default:
	}
}

// TestStreams: a stream opened by NewStream reaches the Handle of the other
// node, with the opener's peer ID, and carries bytes both ways.
func TestStreams(t *testing.T) {
	nodes := peertest.NewSwarm(t, 2)
	const proto = "/scavenge/test-echo/1.0.0"
	remotes := make(chan string, 1)
	nodes[1].Handle(proto, func(remote string, s wire.Stream) {
		defer s.Close()
		remotes <- remote
		data, err := io.ReadAll(s)
		if err != nil {
			s.Reset()
			return
		}
		s.Write([]byte(strings.ToUpper(string(data))))
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := nodes[0].NewStream(ctx, nodes[1].ID(), proto)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "HELLO" {
		t.Errorf("echo = %q, want HELLO", got)
	}
	if r := <-remotes; r != nodes[0].ID() {
		t.Errorf("handler saw remote %s, want %s", r, nodes[0].ID())
	}

	if _, err := nodes[0].NewStream(ctx, nodes[1].ID(), "/scavenge/nobody-speaks-this/1.0.0"); err == nil {
		t.Error("NewStream for an unhandled protocol succeeded")
	}
	if _, err := nodes[0].NewStream(ctx, "not-a-peer-id", proto); err == nil {
		t.Error("NewStream to a malformed peer ID succeeded")
	}
}

// TestRestartedPeerSeqGrows: a peer that restarts with the same identity
// signs offers with sequence numbers above those of its previous run, so
// peers that remember the old ones take the new ones instead of treating
// them as rollbacks.
func TestRestartedPeerSeqGrows(t *testing.T) {
	t.Parallel()
	psk := peertest.SwarmKey(t)
	nodes := peertest.NewSwarm(t, 1, func(_ int, o *peer.Options) { o.SwarmKey, o.DisableDHT = psk, true })
	watcher := nodes[0]
	o := peertest.Options(t, psk)
	o.DisableDHT = true
	o.Bootstrap = watcher.Addrs()

	var seqs []uint64
	for _, name := range []string{"first run", "second run"} {
		n, err := peer.New(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		n.SetOffer(peertest.IdleOffer(name, 1))
		peertest.WaitFor(t, wait, func() bool {
			got, ok := peertest.OfferOf(watcher, n.ID())
			if ok && got.Name == name {
				seqs = append(seqs, got.Seq)
			}
			return ok && got.Name == name
		}, "the watcher to see the "+name+"'s offer")
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("%s: Run: %v", name, err)
		}
		if err := n.Close(); err != nil {
			t.Fatalf("%s: Close: %v", name, err)
		}
	}
	if seqs[1] <= seqs[0] {
		t.Errorf("seq after restart %d, not above %d", seqs[1], seqs[0])
	}
}

func TestRunLifecycle(t *testing.T) {
	n, err := peer.New(context.Background(), peertest.Options(t, peertest.SwarmKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- n.Run(ctx) }()
	go func() { done <- n.Run(ctx) }()
	// One of the two Runs is refused at once; the other runs until cancel.
	if err := <-done; err == nil {
		t.Error("two concurrent Runs both accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := n.Run(context.Background()); err == nil {
		t.Error("Run after Close succeeded")
	}
}
