package config

import (
	"os"
	"time"
)

// FileName is the config file's name inside the home directory.
const FileName = "scavenge.toml"

// The values of on_owner_return.action. All four are part of the file
// format; which ones a build implements is the daemon's business.
const (
	ActionShare   = "share"   // keep running at idle priority
	ActionSuspend = "suspend" // freeze until the machine is idle again
	ActionKill    = "kill"    // stop the guest; its home re-runs it elsewhere
	ActionMigrate = "migrate" // checkpoint and move the guest home or to another idle peer
)

// Actions lists the valid on_owner_return.action values.
var Actions = []string{ActionShare, ActionSuspend, ActionKill, ActionMigrate}

// Fallbacks lists the valid on_owner_return.fallback values: the actions
// that need nothing that may be missing (a checkpoint backend) or end
// (a suspension's limit).
var Fallbacks = []string{ActionShare, ActionKill}

// minShareCPU is the smallest CPU cap the kernel can enforce: CFS quota
// is at least 1ms per 100ms period.
const minShareCPU = 0.01

// DHTModes lists the valid node.dht_mode values.
var DHTModes = []string{"server", "client", "auto"}

// LogLevels and LogFormats list the valid log.level and log.format values.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"text", "json"}
)

// maxNameLen bounds name: it travels in every offer.
const maxNameLen = 64

// Default returns the configuration used for every key a file leaves out.
// Each call returns fresh slices, so callers may modify the result.
func Default() Config {
	return Config{
		Version: Version,
		Name:    defaultName(),
		Node: Node{
			Listen:     []string{"/ip4/0.0.0.0/tcp/4001"},
			Bootstrap:  []string{},
			Identity:   "identity.key",
			SwarmKey:   "swarm.key",
			Public:     false,
			MDNS:       true,
			DHTMode:    "server",
			OfferEvery: Duration(5 * time.Second),
			OfferTTL:   Duration(15 * time.Second),
		},
		Donor: Donor{
			Enabled:    true,
			CPUs:       0,
			Memory:     0,
			Labels:     []string{},
			AcceptFrom: []string{},
			GuestUser:  "nobody",
			WorkDir:    "",
			Lease:      Duration(30 * time.Second),
			MaxInput:   4 * GiB,
			MaxOutput:  4 * GiB,
		},
		Policy: Policy{
			Dedicated:    false,
			IdleAfter:    Duration(10 * time.Minute),
			OwnerCPUMax:  0.25,
			OwnerCPUFor:  Duration(30 * time.Second),
			DonateDuring: []string{},
			SampleEvery:  Duration(time.Second),
			OnOwnerReturn: OnOwnerReturn{
				Action:      ActionKill,
				Grace:       Duration(10 * time.Second),
				ShareCPU:    0.1,
				ShareMemory: 0,
				ResumeAfter: Duration(5 * time.Minute),
				MaxSuspend:  Duration(30 * time.Minute),
				Fallback:    ActionKill,
			},
		},
		Home: Home{
			AllowLocal:  false,
			WaitTimeout: Duration(10 * time.Minute),
			Retries:     3,
		},
		Log: Log{
			Level:  "info",
			Format: "text",
		},
	}
}

// defaultName is the host name, cut to what Validate accepts; a machine
// whose host name cannot be read is called "scavenge".
func defaultName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "scavenge"
	}
	if r := []rune(h); len(r) > maxNameLen {
		h = string(r[:maxNameLen])
	}
	return h
}
