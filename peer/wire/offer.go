package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// State is what a donor tells the swarm about its availability.
type State string

// Offer states, as shown by `scavenge peers`.
const (
	StateIdle   State = "idle"   // owner away, free slots: accepts claims
	StateBusy   State = "busy"   // donating, but every slot is taken
	StateOwner  State = "owner"  // owner is using the machine: not donating
	StatePaused State = "paused" // owner override: not donating
)

// OfferVersion is the version of the Offer encoding.
const OfferVersion = 1

// MaxOfferSize caps an encoded offer; offers are small (gossipsub allows 1 MiB
// but nothing legitimate comes near this).
const MaxOfferSize = 16 << 10

// Offer is one peer's advertisement of its spare capacity. It travels inside a
// libp2p signed envelope (see OfferRecord), published on gossipsub and stored
// in the DHT under the peer's own key.
type Offer struct {
	Version         int       `json:"v"`
	Peer            string    `json:"peer"`             // libp2p peer ID (must match the envelope's key)
	Name            string    `json:"name"`             // human-readable machine name
	Seq             uint64    `json:"seq"`              // strictly increasing per peer
	Issued          time.Time `json:"issued"`           // when this offer was made
	Expires         time.Time `json:"expires"`          // stale after this
	State           State     `json:"state"`            // idle, busy, owner, paused
	Reason          string    `json:"reason,omitempty"` // why, in words ("keyboard used 12 s ago")
	Dedicated       bool      `json:"dedicated,omitempty"`
	CPUs            int       `json:"cpus"`      // slots this peer donates in total
	FreeCPUs        int       `json:"free_cpus"` // slots free now
	MemoryBytes     uint64    `json:"mem"`       // memory it donates in total
	FreeMemoryBytes uint64    `json:"free_mem"`  // memory free now
	OS              string    `json:"os"`
	Arch            string    `json:"arch"`
	Labels          []string  `json:"labels,omitempty"`
	OnReturn        string    `json:"on_return"`            // share, suspend, kill, migrate
	Checkpoint      []string  `json:"checkpoint,omitempty"` // checkpoint backends it supports
	Guests          int       `json:"guests"`               // tasks running here now
	Addrs           []string  `json:"addrs,omitempty"`      // multiaddrs to dial directly
}

// Errors returned by Offer validation.
var (
	ErrOfferExpired = errors.New("offer expired")
	ErrOfferInvalid = errors.New("invalid offer")
)

// Validate checks the fields of an offer that came off the network. It does
// not check the signature (the envelope does) nor expiry (see Fresh).
func (o *Offer) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.Version != OfferVersion {
		bad("version %d, want %d", o.Version, OfferVersion)
	}
	if o.Peer == "" {
		bad("peer is empty")
	}
	switch o.State {
	case StateIdle, StateBusy, StateOwner, StatePaused:
	default:
		bad("unknown state %q", o.State)
	}
	if o.CPUs < 0 || o.FreeCPUs < 0 || o.FreeCPUs > o.CPUs || o.CPUs > 1<<16 {
		bad("cpus %d free %d out of range", o.CPUs, o.FreeCPUs)
	}
	if o.FreeMemoryBytes > o.MemoryBytes {
		bad("free memory %d exceeds memory %d", o.FreeMemoryBytes, o.MemoryBytes)
	}
	if o.Expires.Before(o.Issued) {
		bad("expires before issued")
	}
	if len(o.Name) > 128 || len(o.Reason) > 512 || len(o.OS) > 32 || len(o.Arch) > 32 || len(o.OnReturn) > 32 {
		bad("a text field is too long")
	}
	if len(o.Labels) > 64 || len(o.Checkpoint) > 16 || len(o.Addrs) > 32 {
		bad("too many labels, backends or addresses")
	}
	for _, t := range append([]string{o.Name, o.Reason, o.OS, o.Arch, o.OnReturn}, append(o.Labels, o.Checkpoint...)...) {
		if !Printable(t) {
			bad("text %q has control characters or is not UTF-8", clip(t))
			break
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrOfferInvalid, errors.Join(errs...))
	}
	return nil
}

// Fresh reports whether the offer is still valid at now.
func (o *Offer) Fresh(now time.Time) bool { return now.Before(o.Expires) }

// HasLabel reports whether the offer carries label l.
func (o *Offer) HasLabel(l string) bool {
	for _, x := range o.Labels {
		if x == l {
			return true
		}
	}
	return false
}

// MarshalOffer encodes an offer for signing.
func MarshalOffer(o *Offer) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxOfferSize {
		return nil, fmt.Errorf("%w: encoded offer is %d bytes, cap %d", ErrOfferInvalid, len(b), MaxOfferSize)
	}
	return b, nil
}

// UnmarshalOffer decodes and validates an offer; it rejects oversized input
// and unknown fields.
func UnmarshalOffer(b []byte) (*Offer, error) {
	if len(b) > MaxOfferSize {
		return nil, fmt.Errorf("%w: %d bytes, cap %d", ErrOfferInvalid, len(b), MaxOfferSize)
	}
	var o Offer
	if err := decodeStrict(b, &o); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOfferInvalid, err)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &o, nil
}
