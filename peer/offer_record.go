package peer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"

	"github.com/scavenge/scavenge/peer/wire"
)

// ErrForged marks an offer whose signature does not vouch for the peer it
// claims to come from (or that is not a valid offer envelope at all).
var ErrForged = errors.New("forged offer")

// maxEnvelopeSize bounds an offer envelope: the offer itself is capped at
// wire.MaxOfferSize and the envelope adds a public key, a signature and two
// short type strings.
const maxEnvelopeSize = wire.MaxOfferSize + 1024

// OpenOffer verifies a signed offer envelope and returns the offer and its
// signer. It checks the size, the signature under wire.OfferDomain (a
// signature made for another kind of record does not pass), the offer's
// fields, that the signer is the peer the offer names, and that the offer has
// not expired at now. Errors wrap ErrForged or wire.ErrOfferExpired.
func OpenOffer(envelope []byte, now time.Time) (*wire.Offer, peer.ID, error) {
	o, signer, err := openOfferAnyTime(envelope)
	if err != nil {
		return nil, "", err
	}
	if !o.Fresh(now) {
		return nil, "", fmt.Errorf("%w: offer of %s seq %d expired at %s", wire.ErrOfferExpired, signer, o.Seq, o.Expires.Format(time.RFC3339))
	}
	return o, signer, nil
}

// openOfferAnyTime is OpenOffer without the expiry check.
func openOfferAnyTime(envelope []byte) (*wire.Offer, peer.ID, error) {
	if len(envelope) > maxEnvelopeSize {
		return nil, "", fmt.Errorf("%w: envelope is %d bytes, cap %d", ErrForged, len(envelope), maxEnvelopeSize)
	}
	env, rec, err := record.ConsumeEnvelope(envelope, wire.OfferDomain)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrForged, err)
	}
	or, ok := rec.(*wire.OfferRecord)
	if !ok {
		return nil, "", fmt.Errorf("%w: envelope holds a %T, not an offer", ErrForged, rec)
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return nil, "", fmt.Errorf("%w: signer key: %w", ErrForged, err)
	}
	claimed, err := peer.Decode(or.Offer.Peer)
	if err != nil {
		return nil, "", fmt.Errorf("%w: offer peer %q: %w", ErrForged, or.Offer.Peer, err)
	}
	if claimed != signer {
		return nil, "", fmt.Errorf("%w: offer claims peer %s but is signed by %s", ErrForged, claimed, signer)
	}
	return &or.Offer, signer, nil
}

// sealOffer signs o with key.
func sealOffer(o wire.Offer, key crypto.PrivKey) ([]byte, error) {
	env, err := record.Seal(&wire.OfferRecord{Offer: o}, key)
	if err != nil {
		return nil, fmt.Errorf("seal offer: %w", err)
	}
	return env.Marshal()
}

// OfferKey is the DHT key of p's offer: /scavenge-offer/<peer ID bytes>, the
// same shape IPNS uses, so the key itself names the only peer allowed to
// sign its value.
func OfferKey(p peer.ID) string {
	return "/" + wire.OfferNamespace + "/" + string(p)
}

// offerKeyPeer parses a key made by OfferKey.
func offerKeyPeer(key string) (peer.ID, error) {
	rest, ok := strings.CutPrefix(key, "/"+wire.OfferNamespace+"/")
	if !ok {
		return "", fmt.Errorf("%w: key is not in the %s namespace", ErrForged, wire.OfferNamespace)
	}
	p, err := peer.IDFromBytes([]byte(rest))
	if err != nil {
		return "", fmt.Errorf("%w: key does not hold a peer ID: %w", ErrForged, err)
	}
	return p, nil
}

// OfferValidator is the DHT record validator of the wire.OfferNamespace
// namespace (go-libp2p-record's Validator). A value is valid when it is an
// unexpired offer envelope signed by the peer named in the key; among valid
// values the highest sequence number wins.
type OfferValidator struct {
	// Now is the clock used for expiry; nil means time.Now.
	Now func() time.Time
}

// Validate implements record.Validator.
func (v OfferValidator) Validate(key string, value []byte) error {
	p, err := offerKeyPeer(key)
	if err != nil {
		return err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	_, signer, err := OpenOffer(value, now())
	if err != nil {
		return err
	}
	if signer != p {
		return fmt.Errorf("%w: record under the key of %s is signed by %s", ErrForged, p, signer)
	}
	return nil
}

// Select implements record.Validator: the index of the value with the highest
// Seq. Values that do not open are never selected; the first of equal
// sequence numbers wins, which keeps the record already stored.
func (v OfferValidator) Select(key string, values [][]byte) (int, error) {
	best, bestSeq := -1, uint64(0)
	for i, val := range values {
		o, _, err := openOfferAnyTime(val)
		if err != nil {
			continue
		}
		if best == -1 || o.Seq > bestSeq {
			best, bestSeq = i, o.Seq
		}
	}
	if best == -1 {
		return 0, fmt.Errorf("%w: none of %d values under the offer key is a valid offer", ErrForged, len(values))
	}
	return best, nil
}
