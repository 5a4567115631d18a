package wire

import (
	"github.com/libp2p/go-libp2p/core/record"
)

// OfferDomain and OfferCodec identify offers inside libp2p signed envelopes,
// so a signature made for an offer can never be replayed as another record.
const OfferDomain = "scavenge-offer"

// OfferCodec is the multicodec-style payload type of an offer envelope.
var OfferCodec = []byte("/scavenge/offer/1")

// OfferRecord adapts Offer to libp2p's record.Record so it can be sealed in a
// signed envelope (record.Seal) and opened with record.ConsumeEnvelope.
type OfferRecord struct{ Offer Offer }

func init() { record.RegisterType(&OfferRecord{}) }

// Domain implements record.Record.
func (*OfferRecord) Domain() string { return OfferDomain }

// Codec implements record.Record.
func (*OfferRecord) Codec() []byte { return OfferCodec }

// MarshalRecord implements record.Record.
func (r *OfferRecord) MarshalRecord() ([]byte, error) { return MarshalOffer(&r.Offer) }

// UnmarshalRecord implements record.Record; it validates the offer's fields.
func (r *OfferRecord) UnmarshalRecord(b []byte) error {
	o, err := UnmarshalOffer(b)
	if err != nil {
		return err
	}
	r.Offer = *o
	return nil
}
