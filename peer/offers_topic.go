package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/scavenge/scavenge/peer/wire"
)

// ErrStaleSeq marks an offer whose sequence number is not above the newest
// one already seen from its peer: a replay or a rollback.
var ErrStaleSeq = errors.New("offer sequence is not newer")

// offersTopic owns the swarm's gossipsub offer topic: joining it, validating
// every message before gossipsub relays it, publishing ours and reading
// others'. Messages are bare signed offer envelopes.
type offersTopic struct {
	self  peer.ID
	name  string
	ps    *pubsub.PubSub
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	cache *offerCache
	log   *slog.Logger
}

// newPubsub starts gossipsub with strict signing: every message carries its
// author's ID and signature, and unsigned ones are refused, so the validator
// can tie an offer's signer to the message's author.
func newPubsub(ctx context.Context, h host.Host, log *slog.Logger) (*pubsub.PubSub, error) {
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxMessageSize(maxEnvelopeSize+4096), // room for the pubsub framing around an envelope
		pubsub.WithLogger(log),
	)
	if err != nil {
		return nil, fmt.Errorf("gossipsub: %w", err)
	}
	return ps, nil
}

func joinOffersTopic(ps *pubsub.PubSub, swarm string, self peer.ID, cache *offerCache, log *slog.Logger) (*offersTopic, error) {
	t := &offersTopic{self: self, name: wire.OfferTopic(swarm), ps: ps, cache: cache, log: log}
	// Validation is a signature check and a map lookup: run it inline rather
	// than on the async validation pool.
	if err := ps.RegisterTopicValidator(t.name, t.validate, pubsub.WithValidatorInline(true)); err != nil {
		return nil, fmt.Errorf("offer topic %s: validator: %w", t.name, err)
	}
	topic, err := ps.Join(t.name)
	if err != nil {
		_ = ps.UnregisterTopicValidator(t.name)
		return nil, fmt.Errorf("offer topic %s: join: %w", t.name, err)
	}
	sub, err := topic.Subscribe(pubsub.WithBufferSize(offerSubBuffer))
	if err != nil {
		_ = topic.Close()
		_ = ps.UnregisterTopicValidator(t.name)
		return nil, fmt.Errorf("offer topic %s: subscribe: %w", t.name, err)
	}
	t.topic, t.sub = topic, sub
	return t, nil
}

// offerSubBuffer is how many validated offers may wait for the read loop
// before gossipsub drops them ("subscriber too slow"). Every peer publishes
// once per heartbeat, and a peer joining the mesh is sent the last few
// heartbeats' worth of the whole swarm at once: at 50 peers the default of
// 32 overflowed. 1024 holds several heartbeats of a few hundred peers, at
// about a kilobyte each.
const offerSubBuffer = 1024

// publish sends one sealed offer envelope.
func (t *offersTopic) publish(ctx context.Context, envelope []byte) error {
	if err := t.topic.Publish(ctx, envelope); err != nil {
		return fmt.Errorf("publish offer on %s: %w", t.name, err)
	}
	return nil
}

// run reads validated offers until ctx ends and hands each to deliver. The
// validator has done the expensive part (the signature); this loop only
// stores, so it keeps up with the whole swarm's heartbeats.
func (t *offersTopic) run(ctx context.Context, deliver func(peer.ID, *wire.Offer, string)) error {
	for {
		msg, err := t.sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, pubsub.ErrSubscriptionCancelled) {
				return nil
			}
			return fmt.Errorf("offer topic %s: %w", t.name, err)
		}
		from := msg.GetFrom()
		if from == t.self {
			continue // Publish delivers to our own subscription too
		}
		o, ok := msg.ValidatorData.(*wire.Offer)
		if !ok {
			continue // cannot happen: the validator sets it on every accepted message
		}
		deliver(from, o, sourcePubsub)
	}
}

// validate is the gossipsub topic validator. Forgeries are rejected (which
// also lowers the relaying peer's score); stale or replayed offers are only
// ignored, because honest peers relay those when clocks differ or messages
// cross.
func (t *offersTopic) validate(_ context.Context, _ peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	var have func(peer.ID) (uint64, bool)
	if msg.GetFrom() != t.self {
		have = t.cache.seq
	}
	o, err := validateOfferMessage(msg.Data, msg.GetFrom(), time.Now(), have)
	if err != nil {
		t.log.Debug("offer message refused", "author", msg.GetFrom(), "via", msg.ReceivedFrom, "err", err)
		if errors.Is(err, ErrForged) {
			return pubsub.ValidationReject
		}
		return pubsub.ValidationIgnore
	}
	msg.ValidatorData = o
	return pubsub.ValidationAccept
}

// validateOfferMessage checks one offer message by author: a valid envelope
// (OpenOffer) signed by the message's author, and, when have is not nil, a
// sequence number above the newest seen from that peer.
func validateOfferMessage(data []byte, author peer.ID, now time.Time, have func(peer.ID) (uint64, bool)) (*wire.Offer, error) {
	o, signer, err := OpenOffer(data, now)
	if err != nil {
		return nil, err
	}
	if signer != author {
		return nil, fmt.Errorf("%w: message from %s carries an offer signed by %s", ErrForged, author, signer)
	}
	if have != nil {
		if seq, ok := have(signer); ok && o.Seq <= seq {
			return nil, fmt.Errorf("%w: %s seq %d, have %d", ErrStaleSeq, signer, o.Seq, seq)
		}
	}
	return o, nil
}

// close leaves the topic.
func (t *offersTopic) close() error {
	t.sub.Cancel()
	return errors.Join(t.topic.Close(), t.ps.UnregisterTopicValidator(t.name))
}
