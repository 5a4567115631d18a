// Package config is the daemon's TOML configuration: its schema and
// defaults, strict loading (unknown keys, bad values and a missing version
// are errors naming the file, line and key), validation, and the commented
// file that `scavenge init` writes.
//
// It imports nothing of the project: the CLI turns a Config into each
// package's own options.
package config

// Version is the only config format version this build reads.
const Version = 1

// Config is the whole file. Paths that are relative are relative to the home
// directory (the folder holding the file).
type Config struct {
	Version int    `toml:"version"`
	Name    string `toml:"name"` // machine name shown to peers; default: host name
	Node    Node   `toml:"node"`
	Donor   Donor  `toml:"donor"`
	Policy  Policy `toml:"policy"`
	Home    Home   `toml:"home"`
	Log     Log    `toml:"log"`
	// Dashboard is the local web page and /metrics over TCP.
	Dashboard Dashboard `toml:"dashboard"`
}

// Node configures the libp2p peer.
type Node struct {
	Listen    []string `toml:"listen"`    // multiaddrs to listen on
	Bootstrap []string `toml:"bootstrap"` // multiaddrs with /p2p/<id> of peers to join through
	Identity  string   `toml:"identity"`  // private key file
	SwarmKey  string   `toml:"swarm_key"` // pnet key file; "" only with public = true
	Public    bool     `toml:"public"`    // no swarm key: anyone may connect (enables QUIC)
	MDNS      bool     `toml:"mdns"`      // find peers on the LAN
	DHTMode   string   `toml:"dht_mode"`  // "server", "client" or "auto"
	// OfferEvery is the heartbeat at which the offer is republished.
	OfferEvery Duration `toml:"offer_every"`
	// OfferTTL is how long an offer stays valid without a newer one.
	OfferTTL Duration `toml:"offer_ttl"`
}

// Donor configures what this machine lends to others.
type Donor struct {
	Enabled    bool     `toml:"enabled"`
	CPUs       int      `toml:"cpus"`        // slots to donate; 0 means all cores
	Memory     Size     `toml:"memory"`      // memory to donate; 0 means half of RAM
	Labels     []string `toml:"labels"`      // free-form tags jobs can require
	AcceptFrom []string `toml:"accept_from"` // peer IDs allowed to submit; empty means any peer of the swarm
	GuestUser  string   `toml:"guest_user"`  // guests run as this user when the daemon is root
	WorkDir    string   `toml:"work_dir"`    // task directories; default a private dir under the system temp dir
	Lease      Duration `toml:"lease"`       // a guest whose home stops renewing is stopped after this
	MaxInput   Size     `toml:"max_input"`   // total input bytes one task may send
	MaxOutput  Size     `toml:"max_output"`  // total output file bytes one task may return
	// CRIU is the criu binary for transparent checkpoints; "" looks for
	// one (SCAVENGE_CRIU, /opt/scavenge-criu/criu, then PATH).
	CRIU string `toml:"criu"`
	// CheckpointEvery checkpoints running guests whose job asked for a
	// backend but gave no checkpoint_every of its own; 0 = only when
	// they must leave.
	CheckpointEvery Duration `toml:"checkpoint_every"`
}

// Policy says when this machine donates.
type Policy struct {
	Dedicated   bool     `toml:"dedicated"`     // a processor-pool machine: always idle
	IdleAfter   Duration `toml:"idle_after"`    // no input for this long means the owner is away
	OwnerCPUMax float64  `toml:"owner_cpu_max"` // owner CPU load (0..1) above which the owner counts as active
	// OwnerCPUFor is the CPU rule's hysteresis: the load must stay above
	// owner_cpu_max this long to count, and below it as long to clear.
	OwnerCPUFor Duration `toml:"owner_cpu_for"`
	// DonateDuring lists the donation windows (see ParseWindow); empty
	// means at any time.
	DonateDuring []string `toml:"donate_during"`
	SampleEvery  Duration `toml:"sample_every"` // how often sensors are read
	// OnOwnerReturn is what happens to guests when the owner comes back.
	OnOwnerReturn OnOwnerReturn `toml:"on_owner_return"`
}

// OnOwnerReturn is the per-machine action when the owner returns, pauses
// donating, or the donation window ends.
type OnOwnerReturn struct {
	Action string   `toml:"action"` // "share", "suspend", "kill" or "migrate" (see Actions)
	Grace  Duration `toml:"grace"`  // SIGTERM, then SIGKILL after this
	// ShareCPU caps each guest in share mode, in cores (0.1 = a tenth of one).
	ShareCPU float64 `toml:"share_cpu"`
	// ShareMemory caps each guest's memory in share mode; 0 means no cap.
	ShareMemory Size `toml:"share_memory"`
	// ResumeAfter is how long the owner must be away again before shared
	// or suspended guests get full speed again.
	ResumeAfter Duration `toml:"resume_after"`
	// MaxSuspend is the longest a guest stays suspended before it gets the
	// fallback action; 0 means no limit.
	MaxSuspend Duration `toml:"max_suspend"`
	// Fallback is "share" or "kill" (see Fallbacks): what a guest gets
	// after max_suspend, or under "migrate" when it cannot be checkpointed.
	Fallback string `toml:"fallback"`
}

// Home configures this machine's side as a submitter.
type Home struct {
	AllowLocal  bool     `toml:"allow_local"`  // may run its own jobs on itself
	WaitTimeout Duration `toml:"wait_timeout"` // how long submit waits for an idle peer by default
	Retries     int      `toml:"retries"`      // re-runs of a preempted or lost task
}

// Dashboard configures the dashboard's TCP listener. The page is always
// served on the local API socket; over TCP every request needs the token
// in <home>/dashboard.token.
type Dashboard struct {
	Listen      string `toml:"listen"`       // host:port, e.g. "127.0.0.1:9470"; "" = no TCP listener
	AllowRemote bool   `toml:"allow_remote"` // may listen on an address other machines reach
}

// Log configures the daemon's log.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}
