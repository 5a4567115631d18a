package wire

// Protocol and topic names. Bump the version suffix on any incompatible change:
// libp2p negotiates the exact string, so old and new peers fail cleanly.
const (
	// ClaimProtocol asks a donor for a slot; one request, one response.
	ClaimProtocol = "/scavenge/claim/1.0.0"
	// TaskProtocol carries one task: spec, inputs, live output, exit, outputs.
	TaskProtocol = "/scavenge/task/1.0.0"
	// DHTPrefix keeps our Kademlia DHT apart from the public IPFS one.
	DHTPrefix = "/scavenge"
	// OfferNamespace is the DHT record namespace: /scavenge-offer/<peer id bytes>.
	OfferNamespace = "scavenge-offer"
)

// OfferTopic is the gossipsub topic of one swarm's live offers. The swarm
// name is derived from the swarm key so two swarms never share a topic.
func OfferTopic(swarm string) string { return "/scavenge/offers/1.0.0/" + swarm }
