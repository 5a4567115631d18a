package peer

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/scavenge/scavenge/peer/wire"
)

type testKey struct {
	priv crypto.PrivKey
	id   peer.ID
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv, id}
}

// testOffer is a valid offer of claimed, issued at issued, with seq.
func testOffer(claimed peer.ID, seq uint64, issued time.Time) wire.Offer {
	return wire.Offer{
		Version: wire.OfferVersion, Peer: claimed.String(), Name: "pc", Seq: seq,
		Issued: issued, Expires: issued.Add(15 * time.Second),
		State: wire.StateIdle, CPUs: 4, FreeCPUs: 4, OS: "linux", Arch: "amd64",
	}
}

func seal(t *testing.T, o wire.Offer, by crypto.PrivKey) []byte {
	t.Helper()
	b, err := sealOffer(o, by)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// otherDomainEnvelope is a validly signed envelope of another record type (a
// libp2p peer record): a signature that must not pass as an offer.
func otherDomainEnvelope(t *testing.T, k testKey) []byte {
	t.Helper()
	rec := peer.NewPeerRecord()
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

func TestOfferValidatorValidate(t *testing.T) {
	a, b := newTestKey(t), newTestKey(t)
	now := time.Now()
	v := OfferValidator{Now: func() time.Time { return now }}
	big := testOffer(a.id, 1, now)
	big.Labels = make([]string, 64)
	for i := range big.Labels {
		big.Labels[i] = string(make([]byte, 400))
	}
	tests := []struct {
		name    string
		key     string
		value   []byte
		wantErr error // nil: valid
	}{
		{"valid", OfferKey(a.id), seal(t, testOffer(a.id, 1, now), a.priv), nil},
		{"expired", OfferKey(a.id), seal(t, testOffer(a.id, 1, now.Add(-time.Minute)), a.priv), wire.ErrOfferExpired},
		{"signed by A claiming B", OfferKey(b.id), seal(t, testOffer(b.id, 1, now), a.priv), ErrForged},
		{"signed by A under B's key", OfferKey(b.id), seal(t, testOffer(a.id, 1, now), a.priv), ErrForged},
		{"other domain", OfferKey(a.id), otherDomainEnvelope(t, a), ErrForged},
		{"garbage", OfferKey(a.id), []byte("not an envelope"), ErrForged},
		{"key outside namespace", "/pk/" + string(a.id), seal(t, testOffer(a.id, 1, now), a.priv), ErrForged},
		{"key not a peer ID", "/" + wire.OfferNamespace + "/xyz", seal(t, testOffer(a.id, 1, now), a.priv), ErrForged},
		{"oversized", OfferKey(a.id), make([]byte, maxEnvelopeSize+1), ErrForged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Validate(tc.key, tc.value)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Validate = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestOfferValidatorSelect(t *testing.T) {
	a := newTestKey(t)
	now := time.Now()
	v := OfferValidator{}
	s := func(seq uint64) []byte { return seal(t, testOffer(a.id, seq, now), a.priv) }
	junk := []byte("junk")
	tests := []struct {
		name   string
		values [][]byte
		want   int
	}{
		{"one", [][]byte{s(5)}, 0},
		{"highest last", [][]byte{s(1), s(2), s(9)}, 2},
		{"highest first", [][]byte{s(9), s(2), s(1)}, 0},
		{"tie keeps first", [][]byte{s(3), s(3)}, 0},
		{"junk skipped", [][]byte{junk, s(1), junk}, 1},
		{"other domain skipped", [][]byte{otherDomainEnvelope(t, a), s(1)}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Select(OfferKey(a.id), tc.values)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Select = %d, want %d", got, tc.want)
			}
		})
	}
	if _, err := v.Select(OfferKey(a.id), [][]byte{junk}); err == nil {
		t.Fatal("Select of only junk: want an error")
	}
}

func TestValidateOfferMessage(t *testing.T) {
	a, b := newTestKey(t), newTestKey(t)
	now := time.Now()
	have := map[peer.ID]uint64{a.id: 10}
	haveFn := func(p peer.ID) (uint64, bool) { s, ok := have[p]; return s, ok }
	tests := []struct {
		name    string
		data    []byte
		author  peer.ID
		wantErr error
	}{
		{"newer", seal(t, testOffer(a.id, 11, now), a.priv), a.id, nil},
		{"first from a peer", seal(t, testOffer(b.id, 1, now), b.priv), b.id, nil},
		{"replay of same seq", seal(t, testOffer(a.id, 10, now), a.priv), a.id, ErrStaleSeq},
		{"rollback", seal(t, testOffer(a.id, 9, now), a.priv), a.id, ErrStaleSeq},
		{"expired", seal(t, testOffer(a.id, 12, now.Add(-time.Hour)), a.priv), a.id, wire.ErrOfferExpired},
		{"relayed under another author", seal(t, testOffer(a.id, 12, now), a.priv), b.id, ErrForged},
		{"signed by B claiming A", seal(t, testOffer(a.id, 12, now), b.priv), b.id, ErrForged},
		{"other domain", otherDomainEnvelope(t, a), a.id, ErrForged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := validateOfferMessage(tc.data, tc.author, now, haveFn)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				if o.Peer != tc.author.String() {
					t.Fatalf("offer peer = %s, want %s", o.Peer, tc.author)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestOfferKeyRoundTrip(t *testing.T) {
	a := newTestKey(t)
	got, err := offerKeyPeer(OfferKey(a.id))
	if err != nil || got != a.id {
		t.Fatalf("offerKeyPeer(OfferKey(%s)) = %s, %v", a.id, got, err)
	}
}
