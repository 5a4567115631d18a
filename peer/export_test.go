package peer

// OfferProtocol exposes offerProtocol to the external tests, which play
// peers that serve it badly or not at all.
const OfferProtocol = offerProtocol
