package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testPeerID is a well-formed peer ID (a base58 sha2-256 multihash).
const testPeerID = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"

// writeConfig writes text to a scavenge.toml in a fresh folder and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// problems splits a joined error into its messages.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func TestLoadGood(t *testing.T) {
	tests := []struct {
		name string
		text string
		want func(c *Config) // applied to Default()
	}{
		{"only version", "version = 1\n", func(*Config) {}},
		{"comments and blank lines", "# hello\n\nversion = 1 # the format\n", func(*Config) {}},
		{"top level and tables", `version = 1
name = "lab-7"
[node]
listen = ["/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0"]
bootstrap = ["/ip4/10.0.0.2/tcp/4001/p2p/` + testPeerID + `"]
mdns = false
dht_mode = "auto"
offer_every = "2s"
offer_ttl = "1m"
[donor]
cpus = 2
memory = "8GiB"
labels = ["gpu", "fast-disk"]
accept_from = ["` + testPeerID + `"]
lease = "1m30s"
max_input = 1048576
[home]
retries = 0
wait_timeout = "0s"
[log]
level = "debug"
format = "json"
`, func(c *Config) {
			c.Name = "lab-7"
			c.Node.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0"}
			c.Node.Bootstrap = []string{"/ip4/10.0.0.2/tcp/4001/p2p/" + testPeerID}
			c.Node.MDNS = false
			c.Node.DHTMode = "auto"
			c.Node.OfferEvery = Duration(2 * time.Second)
			c.Node.OfferTTL = Duration(time.Minute)
			c.Donor.CPUs = 2
			c.Donor.Memory = 8 * GiB
			c.Donor.Labels = []string{"gpu", "fast-disk"}
			c.Donor.AcceptFrom = []string{testPeerID}
			c.Donor.Lease = Duration(90 * time.Second)
			c.Donor.MaxInput = MiB
			c.Home.Retries = 0
			c.Home.WaitTimeout = 0
			c.Log.Level = "debug"
			c.Log.Format = "json"
		}},
		{"dotted keys and inline tables", `version = 1
donor.lease = "5s"
policy.on_owner_return = { action = "suspend", grace = "0s" }
[policy]
owner_cpu_max = 1
`, func(c *Config) {
			c.Donor.Lease = Duration(5 * time.Second)
			c.Policy.OnOwnerReturn.Action = ActionSuspend
			c.Policy.OnOwnerReturn.Grace = 0
			c.Policy.OwnerCPUMax = 1
		}},
		{"presence policy", `version = 1
[policy]
owner_cpu_for = "1m"
donate_during = [
  "mon-fri 18:00-08:00",
  "weekends",
]
[policy.on_owner_return]
action = "share"
share_cpu = 0.05
share_memory = "1GiB"
resume_after = "2m"
max_suspend = "0s"
fallback = "share"
`, func(c *Config) {
			c.Policy.OwnerCPUFor = Duration(time.Minute)
			c.Policy.DonateDuring = []string{"mon-fri 18:00-08:00", "weekends"}
			c.Policy.OnOwnerReturn.Action = ActionShare
			c.Policy.OnOwnerReturn.ShareCPU = 0.05
			c.Policy.OnOwnerReturn.ShareMemory = GiB
			c.Policy.OnOwnerReturn.ResumeAfter = Duration(2 * time.Minute)
			c.Policy.OnOwnerReturn.MaxSuspend = 0
			c.Policy.OnOwnerReturn.Fallback = ActionShare
		}},
		{"public swarm", "version = 1\n[node]\npublic = true\nswarm_key = \"\"\n", func(c *Config) {
			c.Node.Public = true
			c.Node.SwarmKey = ""
		}},
		{"empty lists", "version = 1\n[node]\nlisten = []\n", func(c *Config) { c.Node.Listen = []string{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(writeConfig(t, tt.text))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadEveryAction(t *testing.T) {
	for _, a := range Actions {
		got, err := Load(writeConfig(t, "version = 1\n[policy.on_owner_return]\naction = \""+a+"\"\n"))
		if err != nil {
			t.Errorf("action %q: %v", a, err)
			continue
		}
		if got.Policy.OnOwnerReturn.Action != a {
			t.Errorf("action %q loaded as %q", a, got.Policy.OnOwnerReturn.Action)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	// In want, FILE stands for the config file's path. Each entry must be
	// one whole problem, in order: Load reports problems in file order.
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"unknown top-level key", "version = 1\ncolour = \"blue\"\n",
			[]string{`FILE:2: colour: unknown key (the keys of the top level are version, name, node, donor, policy, home, log, dashboard)`}},
		{"unknown nested key with suggestion", "version = 1\n[donor]\nleas = \"3s\"\n",
			[]string{`FILE:3: donor.leas: unknown key; did you mean "lease"?`}},
		{"unknown table", "version = 1\n[nod]\nlisten = []\n",
			[]string{`FILE:2: nod: unknown key; did you mean "node"?`}},
		{"unknown implicit table", "version = 1\n\nfoo.bar = 1\n",
			[]string{`FILE:3: foo: unknown key (the keys of the top level are version, name, node, donor, policy, home, log, dashboard)`}},
		{"key in the wrong table", "version = 1\n[node]\nlease = \"3s\"\n",
			[]string{`FILE:3: node.lease: unknown key here: it belongs in [donor]`}},
		{"top-level key in a table", "[log]\nversion = 1\n",
			[]string{
				"FILE:1: version: missing: add `version = 1` at the top of the file",
				`FILE:2: log.version: unknown key here: "version" is a top-level key, before any [table]`,
			}},
		{"bad duration", strings.Repeat("\n", 9) + "version = 1\n[donor]\nlease = \"3 parsecs\"\n",
			[]string{`FILE:12: donor.lease: "3 parsecs" is not a duration (use e.g. "30s", "10m", "1h30m")`}},
		{"duration as integer", "version = 1\n[node]\noffer_every = 5\n",
			[]string{`FILE:3: node.offer_every: 5 is an integer; want a duration string (use e.g. "30s", "10m", "1h30m")`}},
		{"bad size", "version = 1\n[donor]\nmax_input = \"4 gigs\"\n",
			[]string{`FILE:3: donor.max_input: "4 gigs" is not a size: unknown unit "gigs" (use e.g. "4GiB", "512MiB", "1.5GB" or a whole number of bytes)`}},
		{"negative size", "version = 1\n[donor]\nmemory = -1\n",
			[]string{`FILE:3: donor.memory: -1 is negative; want a size (use e.g. "4GiB", "512MiB", "1.5GB" or a whole number of bytes)`}},
		{"wrong type", "version = 1\n[donor]\ncpus = \"four\"\n",
			[]string{`FILE:3: donor.cpus: "four" is a string; want an integer`}},
		{"wrong element type", "version = 1\n[node]\nlisten = [\"/ip4/0.0.0.0/tcp/1\", 3]\n",
			[]string{`FILE:3: node.listen[1]: 3 is an integer; want a string`}},
		{"scalar for a table", "version = 1\nnode = 3\n",
			[]string{`FILE:2: node: 3 is an integer; want a table ([node])`}},
		{"array of tables", "version = 1\n[[donor]]\ncpus = 1\n",
			[]string{`FILE:2: donor: got an array of tables; want a table ([donor])`}},
		{"missing version", "[donor]\ncpus = 1\n",
			[]string{"FILE:1: version: missing: add `version = 1` at the top of the file"}},
		{"empty file", "",
			[]string{"FILE:1: version: missing: add `version = 1` at the top of the file"}},
		{"version 2", "# new\nversion = 2\ncolour = 1\n",
			[]string{`FILE:2: version: 2 is newer than this build of scavenge reads (version 1): upgrade scavenge`}},
		{"version 0", "version = 0\n",
			[]string{`FILE:1: version: 0 is not a config version: this build reads version 1`}},
		{"version as string", "version = \"1\"\n",
			[]string{`FILE:1: version: "1" is a string; want the integer 1`}},
		{"bad action", "version = 1\n[policy.on_owner_return]\naction = \"nuke\"\n",
			[]string{`FILE:3: policy.on_owner_return.action: "nuke" is not one of "share", "suspend", "kill" or "migrate"`}},
		{"bad donation window", "version = 1\n[policy]\ndonate_during = [\n  \"sat-sun\",\n  \"mon-fri 18-08\",\n]\n",
			[]string{`FILE:3: policy.donate_during[1]: "mon-fri 18-08" is not a donation window: "18" is not a time of day (HH:MM) (use e.g. "mon-fri 18:00-08:00", "sat-sun", "22:00-06:00")`}},
		{"donation window not a string", "version = 1\n[policy]\ndonate_during = \"sat-sun\"\n",
			[]string{`FILE:3: policy.donate_during: "sat-sun" is a string; want an array of strings`}},
		{"owner return problems", `version = 1
[policy.on_owner_return]
share_cpu = 0
resume_after = "0s"
max_suspend = "-1m"
fallback = "suspend"
`, []string{
			`FILE:3: policy.on_owner_return.share_cpu: 0 is not a CPU cap in cores of at least 0.01`,
			`FILE:4: policy.on_owner_return.resume_after: 0s must be longer than 0`,
			`FILE:5: policy.on_owner_return.max_suspend: -1m is negative; use 0 for no limit`,
			`FILE:6: policy.on_owner_return.fallback: "suspend" is not one of "share" or "kill"`,
		}},
		{"negative owner_cpu_for", "version = 1\n[policy]\nowner_cpu_for = \"-5s\"\n",
			[]string{`FILE:3: policy.owner_cpu_for: -5s is negative`}},
		{"misspelt policy key", "version = 1\n[policy]\ndonate_durring = []\n",
			[]string{`FILE:3: policy.donate_durring: unknown key; did you mean "donate_during"?`}},
		{"malformed TOML", "version = 1\n[donor\ncpus = 1\n",
			[]string{`FILE:2: bad TOML: `}},
		{"duplicate key", "version = 1\n[donor]\ncpus = 1\ncpus = 2\n",
			[]string{`FILE:4: bad TOML: `}},
		{"validation names the line", "version = 1\n[donor]\n\nlease = \"1s\"\n",
			[]string{`FILE:4: donor.lease: 1s is too short; use at least 2s`}},
		{"bootstrap without peer id", "version = 1\n[node]\nbootstrap = [\"/ip4/10.0.0.2/tcp/4001\"]\n",
			[]string{"FILE:3: node.bootstrap[0]: \"/ip4/10.0.0.2/tcp/4001\" has no /p2p/<peer id> part; use a line printed by `scavenge id` on that peer"}},
		{"bad listen address", "version = 1\n[node]\nlisten = [\"0.0.0.0:4001\"]\n",
			[]string{`FILE:3: node.listen[0]: "0.0.0.0:4001" is not a multiaddr`}},
		{"public with swarm key", "version = 1\n[node]\npublic = true\n",
			[]string{`FILE:3: node.public: true, but node.swarm_key is set`}},
		{"no swarm key", "version = 1\n[node]\nswarm_key = \"\"\n",
			[]string{`FILE:3: node.swarm_key: empty, but node.public is false`}},
		{"clash with a default", "version = 1\n[node]\noffer_every = \"20s\"\n",
			[]string{`FILE: node.offer_ttl: 15s must be longer than node.offer_every (20s), or offers expire between heartbeats (this is the default: the file does not set it)`}},
		{"owner_cpu_max out of range", "version = 1\n[policy]\nowner_cpu_max = 1.5\n",
			[]string{`FILE:3: policy.owner_cpu_max: 1.5 is outside (0, 1]`}},
		{"several problems, all reported in file order", `[node]
dht_mode = "peer"
offer_every = "fast"
[donor]
cpus = -1
leas = "3s"
max_output = "lots"
[log]
level = "loud"
`, []string{
			"FILE:1: version: missing",
			`FILE:2: node.dht_mode: "peer" is not one of "server", "client" or "auto"`,
			`FILE:3: node.offer_every: "fast" is not a duration`,
			`FILE:5: donor.cpus: -1 is negative; use 0 for all cores`,
			`FILE:6: donor.leas: unknown key; did you mean "lease"?`,
			`FILE:7: donor.max_output: "lots" is not a size`,
			`FILE:9: log.level: "loud" is not one of "debug", "info", "warn" or "error"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.text)
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded with %+v; want errors %q", c, tt.want)
			}
			got := problems(err)
			if len(got) != len(tt.want) {
				t.Fatalf("Load gave %d problems, want %d:\n%s", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				w = strings.ReplaceAll(w, "FILE", path)
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, got[i], w)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.File != path {
				t.Errorf("errors.As(*FieldError) = %+v, want one naming %s", fe, path)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", FileName)
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := writeConfig(t, "version = 1\n"+strings.Repeat("# padding\n", maxFileSize/10+1))
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Fatalf("Load(huge) = %v, want an error naming %s", err, path)
	}
}
