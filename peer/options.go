package peer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// Options configure a Node. Only Identity is required.
type Options struct {
	Identity      crypto.PrivKey  // required: the peer's key, see LoadOrCreateIdentity
	SwarmKey      []byte          // 32-byte pre-shared key; nil means a public swarm (then QUIC is also enabled)
	Listen        []string        // multiaddrs; default all interfaces, a random TCP port (and QUIC when public)
	Bootstrap     []string        // multiaddrs with /p2p/<id>
	MDNS          bool            // find peers of the same swarm on the LAN
	DHTMode       string          // "server" (default), "client", "auto"
	DisableDHT    bool            // tests/bench: discovery by pubsub (and bootstrap/mDNS) only
	DisablePubsub bool            // tests/bench: discovery by the DHT only
	OfferEvery    time.Duration   // heartbeat republish; default 5s
	OfferTTL      time.Duration   // offer validity; default 15s
	Logger        *slog.Logger    // default: discard
	HostOptions   []libp2p.Option // appended to the host's options: a seam for tests and benchmarks
}

// Defaults of Options.
const (
	DefaultOfferEvery = 5 * time.Second
	DefaultOfferTTL   = 15 * time.Second
	// SwarmKeySize is the length of a pnet pre-shared key.
	SwarmKeySize = 32
)

// withDefaults fills unset fields and rejects contradictions, naming the field.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.Identity == nil {
		errs = append(errs, errors.New("an identity key is required (Options.Identity)"))
	}
	if o.SwarmKey != nil && len(o.SwarmKey) != SwarmKeySize {
		errs = append(errs, fmt.Errorf("SwarmKey is %d bytes, want %d", len(o.SwarmKey), SwarmKeySize))
	}
	switch o.DHTMode {
	case "":
		o.DHTMode = "server"
	case "server", "client", "auto":
	default:
		errs = append(errs, fmt.Errorf("DHTMode %q: want server, client or auto", o.DHTMode))
	}
	if o.DisableDHT && o.DisablePubsub {
		errs = append(errs, errors.New("DisableDHT and DisablePubsub together leave no way to learn offers"))
	}
	if o.OfferEvery == 0 {
		o.OfferEvery = DefaultOfferEvery
	}
	if o.OfferTTL == 0 {
		o.OfferTTL = DefaultOfferTTL
	}
	if o.OfferEvery < 0 || o.OfferTTL < 0 {
		errs = append(errs, errors.New("OfferEvery and OfferTTL must not be negative"))
	} else if o.OfferTTL < 2*o.OfferEvery {
		// An offer must outlive at least one missed heartbeat, or peers see it
		// flicker between idle and gone.
		errs = append(errs, fmt.Errorf("OfferTTL %s must be at least twice OfferEvery %s", o.OfferTTL, o.OfferEvery))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("peer options: %w", errors.Join(errs...))
	}
	return o, nil
}
