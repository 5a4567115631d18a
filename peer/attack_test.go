package peer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/scavenge/scavenge/peer"
	"github.com/scavenge/scavenge/peer/peertest"
	"github.com/scavenge/scavenge/peer/wire"
)

// The tests here play a malicious member of the swarm (it has the swarm
// key) with plain libp2p parts that check nothing, and show that an honest
// node keeps forged and stale offers out of both gossip and the DHT.

type key struct {
	priv crypto.PrivKey
	id   libp2ppeer.ID
}

func newKey(t *testing.T) key {
	t.Helper()
	priv := peertest.Identity(t)
	id, err := libp2ppeer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return key{priv, id}
}

func offerOf(id libp2ppeer.ID, name string, seq uint64, issued time.Time) wire.Offer {
	o := peertest.IdleOffer(name, 1)
	o.Version, o.Peer, o.Seq = wire.OfferVersion, id.String(), seq
	o.Issued, o.Expires = issued, issued.Add(15*time.Second)
	return o
}

func sealed(t *testing.T, o wire.Offer, by crypto.PrivKey) []byte {
	t.Helper()
	env, err := record.Seal(&wire.OfferRecord{Offer: o}, by)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// peerRecordEnvelope is validly signed, but for libp2p's peer-record domain.
func peerRecordEnvelope(t *testing.T, k key) []byte {
	t.Helper()
	rec := libp2ppeer.NewPeerRecord()
	rec.PeerID = k.id
	rec.Addrs = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001")}
	env, err := record.Seal(rec, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawHost is a bare libp2p host in swarm psk, closed at cleanup.
func rawHost(t *testing.T, k key, psk []byte) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.Identity(k.priv), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.PrivateNetwork(pnet.PSK(psk)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t *testing.T, h host.Host, n *peer.Node) {
	t.Helper()
	infos, err := libp2ppeer.AddrInfosFromP2pAddrs(ma.StringCast(n.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.Connect(ctx, infos[0]); err != nil {
		t.Fatalf("connect to the honest node: %v", err)
	}
}

// TestGossipRejectsForgedAndStaleOffers: an attacker publishes bad offers on
// the swarm's topic, then a good one; the honest node ends up with the good
// one only.
func TestGossipRejectsForgedAndStaleOffers(t *testing.T) {
	psk := peertest.SwarmKey(t)
	victim := peertest.NewSwarm(t, 1, func(_ int, o *peer.Options) { o.SwarmKey, o.DisableDHT = psk, true })[0]
	attacker, bystander := newKey(t), newKey(t)
	h := rawHost(t, attacker, psk)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps, err := pubsub.NewGossipSub(ctx, h) // no validators: it will send anything
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(wire.OfferTopic(peer.SwarmName(psk)))
	if err != nil {
		t.Fatal(err)
	}
	connect(t, h, victim)
	peertest.WaitFor(t, wait, func() bool {
		for _, p := range topic.ListPeers() {
			if p == victim.PeerID() {
				return true
			}
		}
		return false
	}, "the attacker to see the victim on the topic")

	// Each bad offer carries a sequence number above the good ones: had the
	// victim taken it, the good offers would all look like rollbacks and the
	// wait below would time out.
	now := time.Now()
	bad := map[string][]byte{
		"claims the bystander, signed by the attacker":           sealed(t, offerOf(bystander.id, "forged", 1<<60, now), attacker.priv),
		"the bystander's own offer, republished by the attacker": sealed(t, offerOf(bystander.id, "stolen", 1<<61, now), bystander.priv),
		"a peer record, not an offer":                            peerRecordEnvelope(t, attacker),
		"expired, with a huge seq":                               sealed(t, offerOf(attacker.id, "stale", 1<<62, now.Add(-time.Minute)), attacker.priv),
	}
	for name, data := range bad {
		if err := topic.Publish(ctx, data); err != nil {
			t.Fatalf("publish %s: %v", name, err)
		}
	}
	// The good offer goes out on every poll: gossip may drop the first ones.
	seq := uint64(1000)
	peertest.WaitFor(t, wait, func() bool {
		seq++
		if err := topic.Publish(ctx, sealed(t, offerOf(attacker.id, "good", seq, time.Now()), attacker.priv)); err != nil {
			t.Fatal(err)
		}
		_, ok := peertest.OfferOf(victim, attacker.id.String())
		return ok
	}, "the victim to accept the attacker's good offer")

	got, _ := peertest.OfferOf(victim, attacker.id.String())
	if got.Name != "good" {
		t.Errorf("victim holds %q for the attacker, want the good offer", got.Name)
	}
	if o, ok := peertest.OfferOf(victim, bystander.id.String()); ok {
		t.Errorf("victim holds an offer for the bystander: %+v", o)
	}
	if n := len(victim.Offers()); n != 1 {
		t.Errorf("victim holds %d offers, want 1", n)
	}
}

// permissive accepts any record, so the attacker's DHT stores and sends
// whatever it is given.
type permissive struct{}

func (permissive) Validate(string, []byte) error        { return nil }
func (permissive) Select(string, [][]byte) (int, error) { return 0, nil }

func rawDHT(t *testing.T, h host.Host, mode kaddht.ModeOpt) *kaddht.IpfsDHT {
	t.Helper()
	d, err := kaddht.New(h, kaddht.ProtocolPrefix(wire.DHTPrefix), kaddht.Mode(mode),
		kaddht.NamespacedValidator(wire.OfferNamespace, permissive{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestDHTRejectsForgedAndStaleOffers: an attacker puts bad offer records
// straight to an honest DHT server; the server stores the good control
// record and none of the bad ones. A reader that validates nothing asks the
// server afterwards, so whatever the server stored, it would see.
func TestDHTRejectsForgedAndStaleOffers(t *testing.T) {
	psk := peertest.SwarmKey(t)
	victim := peertest.NewSwarm(t, 1, func(_ int, o *peer.Options) { o.SwarmKey, o.DisablePubsub = psk, true })[0]
	attacker, bystander, honest := newKey(t), newKey(t), newKey(t)

	h := rawHost(t, attacker, psk)
	d := rawDHT(t, h, kaddht.ModeServer)
	connect(t, h, victim)
	peertest.WaitFor(t, wait, func() bool { return d.RoutingTable().Size() > 0 }, "the victim in the attacker's routing table")

	now := time.Now()
	good := sealed(t, offerOf(honest.id, "good", 7, now), honest.priv)
	puts := []struct {
		name, key string
		value     []byte
	}{
		{"control: a valid offer", peer.OfferKey(honest.id), good},
		{"claims the bystander, signed by the attacker", peer.OfferKey(bystander.id), sealed(t, offerOf(bystander.id, "forged", 5, now), attacker.priv)},
		{"the attacker's offer under the bystander's key", peer.OfferKey(bystander.id), sealed(t, offerOf(attacker.id, "misfiled", 6, now), attacker.priv)},
		{"expired", peer.OfferKey(attacker.id), sealed(t, offerOf(attacker.id, "stale", 5, now.Add(-time.Minute)), attacker.priv)},
		{"a peer record, not an offer", peer.OfferKey(attacker.id), peerRecordEnvelope(t, attacker)},
	}
	for _, p := range puts {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := d.PutValue(ctx, p.key, p.value)
		cancel()
		if err != nil {
			t.Fatalf("put %s: %v", p.name, err)
		}
	}
	d.Close()
	h.Close()

	rh := rawHost(t, newKey(t), psk)
	reader := rawDHT(t, rh, kaddht.ModeClient)
	connect(t, rh, victim)
	peertest.WaitFor(t, wait, func() bool { return reader.RoutingTable().Size() > 0 }, "the victim in the reader's routing table")
	get := func(k string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		return reader.GetValue(ctx, k)
	}
	if v, err := get(peer.OfferKey(honest.id)); err != nil || string(v) != string(good) {
		t.Fatalf("control record: got %d bytes, err %v; want the good record", len(v), err)
	}
	for _, id := range []libp2ppeer.ID{bystander.id, attacker.id} {
		if v, err := get(peer.OfferKey(id)); !errors.Is(err, routing.ErrNotFound) {
			t.Errorf("record under %s: got %d bytes, err %v; want not found", id, len(v), err)
		}
	}
}

// TestDirectFetchRejectsForgedOffers: members of the swarm answer the
// victim's direct offer requests with bad envelopes, one member per kind;
// the victim keeps none of them, while a control member's good offer gets
// through the same path.
func TestDirectFetchRejectsForgedOffers(t *testing.T) {
	psk := peertest.SwarmKey(t)
	victim := peertest.NewSwarm(t, 1, func(_ int, o *peer.Options) { o.SwarmKey, o.DisablePubsub = psk, true })[0]
	bystander := newKey(t)
	now := time.Now()

	type server struct {
		name  string
		k     key
		asked atomic.Int32
	}
	// serve starts a member with key k that answers every offer request
	// with answer.
	serve := func(name string, k key, answer []byte) *server {
		s := &server{name: name, k: k}
		h := rawHost(t, k, psk)
		h.SetStreamHandler(peer.OfferProtocol, func(st network.Stream) {
			defer st.Close()
			s.asked.Add(1)
			_, _ = st.Write(answer)
		})
		connect(t, h, victim)
		return s
	}
	var bad []*server
	for name, answer := range map[string]func(k key) []byte{
		"an offer claiming the bystander, signed by the server": func(k key) []byte {
			return sealed(t, offerOf(bystander.id, "forged", 5, now), k.priv)
		},
		"the bystander's own offer, passed on": func(key) []byte {
			return sealed(t, offerOf(bystander.id, "passed on", 5, now), bystander.priv)
		},
		"its own offer, expired": func(k key) []byte {
			return sealed(t, offerOf(k.id, "stale", 5, now.Add(-time.Minute)), k.priv)
		},
		"a peer record, not an offer":   func(k key) []byte { return peerRecordEnvelope(t, k) },
		"garbage larger than any offer": func(key) []byte { return make([]byte, 2*wire.MaxOfferSize) },
	} {
		k := newKey(t)
		bad = append(bad, serve(name, k, answer(k)))
	}
	ck := newKey(t)
	control := serve("control: its own valid offer", ck, sealed(t, offerOf(ck.id, "good", 5, now), ck.priv))

	// A refused answer is asked for again a second later: a second request
	// means the victim has dealt with the first.
	peertest.WaitFor(t, wait, func() bool {
		if _, ok := peertest.OfferOf(victim, control.k.id.String()); !ok {
			return false
		}
		for _, s := range bad {
			if s.asked.Load() < 2 {
				return false
			}
		}
		return true
	}, "the control offer at the victim, and every bad member asked twice")

	for _, s := range bad {
		for _, id := range []libp2ppeer.ID{s.k.id, bystander.id} {
			if o, ok := peertest.OfferOf(victim, id.String()); ok {
				t.Errorf("%s: victim holds an offer for %s: %+v", s.name, id, o)
			}
		}
	}
	if n := len(victim.Offers()); n != 1 {
		t.Errorf("victim holds %d offers, want the control's only", n)
	}
}
