package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestValidateAcceptsEveryEnumValue(t *testing.T) {
	for _, a := range Actions {
		c := Default()
		c.Policy.OnOwnerReturn.Action = a
		if err := c.Validate(); err != nil {
			t.Errorf("action %q: %v", a, err)
		}
	}
	for _, m := range DHTModes {
		c := Default()
		c.Node.DHTMode = m
		if err := c.Validate(); err != nil {
			t.Errorf("dht_mode %q: %v", m, err)
		}
	}
	for _, l := range LogLevels {
		for _, f := range LogFormats {
			c := Default()
			c.Log.Level, c.Log.Format = l, f
			if err := c.Validate(); err != nil {
				t.Errorf("log %q/%q: %v", l, f, err)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantKey string // "" means valid
		wantMsg string
	}{
		{"version", func(c *Config) { c.Version = 2 }, "version", "2 is not supported"},
		{"empty name", func(c *Config) { c.Name = " " }, "name", "empty"},
		{"long name", func(c *Config) { c.Name = strings.Repeat("x", 65) }, "name", "longer than 64"},
		{"64-character name", func(c *Config) { c.Name = strings.Repeat("é", 64) }, "", ""},
		{"name with newline", func(c *Config) { c.Name = "a\nb" }, "name", "control characters"},
		{"listen not a multiaddr", func(c *Config) { c.Node.Listen = []string{"/ip4/0.0.0.0/tcp/1", "localhost:4001"} }, "node.listen[1]", "is not a multiaddr"},
		{"listen bad port", func(c *Config) { c.Node.Listen = []string{"/ip4/0.0.0.0/tcp/99999"} }, "node.listen[0]", "is not a multiaddr"},
		{"dashboard off", func(c *Config) { c.Dashboard.Listen = "" }, "", ""},
		{"dashboard loopback", func(c *Config) { c.Dashboard.Listen = "127.0.0.1:9470" }, "", ""},
		{"dashboard localhost", func(c *Config) { c.Dashboard.Listen = "localhost:9470" }, "", ""},
		{"dashboard ipv6 loopback", func(c *Config) { c.Dashboard.Listen = "[::1]:0" }, "", ""},
		{"dashboard remote refused", func(c *Config) { c.Dashboard.Listen = "0.0.0.0:9470" }, "dashboard.listen", "allow_remote"},
		{"dashboard remote by name", func(c *Config) { c.Dashboard.Listen = ":9470" }, "dashboard.listen", "allow_remote"},
		{"dashboard remote allowed", func(c *Config) { c.Dashboard.Listen, c.Dashboard.AllowRemote = "0.0.0.0:9470", true }, "", ""},
		{"dashboard no port", func(c *Config) { c.Dashboard.Listen = "127.0.0.1" }, "dashboard.listen", "host:port"},
		{"dashboard bad port", func(c *Config) { c.Dashboard.Listen = "127.0.0.1:http2" }, "dashboard.listen", "port"},
		{"bootstrap good", func(c *Config) { c.Node.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + testPeerID} }, "", ""},
		{"bootstrap dns", func(c *Config) { c.Node.Bootstrap = []string{"/dns4/box.lan/tcp/4001/p2p/" + testPeerID} }, "", ""},
		{"bootstrap no p2p", func(c *Config) { c.Node.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4001"} }, "node.bootstrap[0]", "no /p2p/<peer id>"},
		{"bootstrap only p2p", func(c *Config) { c.Node.Bootstrap = []string{"/p2p/" + testPeerID} }, "node.bootstrap[0]", "no address before /p2p/"},
		{"bootstrap bad peer id", func(c *Config) { c.Node.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4001/p2p/nope"} }, "node.bootstrap[0]", "is not a multiaddr"},
		{"no identity", func(c *Config) { c.Node.Identity = "" }, "node.identity", "empty"},
		{"private without key", func(c *Config) { c.Node.SwarmKey = "" }, "node.swarm_key", "needs its key file"},
		{"public with key", func(c *Config) { c.Node.Public = true }, "node.public", "a public node has no swarm key"},
		{"public without key", func(c *Config) { c.Node.Public, c.Node.SwarmKey = true, "" }, "", ""},
		{"dht mode", func(c *Config) { c.Node.DHTMode = "Server" }, "node.dht_mode", `"server", "client" or "auto"`},
		{"offer_every zero", func(c *Config) { c.Node.OfferEvery = 0 }, "node.offer_every", "longer than 0"},
		{"offer_ttl not above offer_every", func(c *Config) { c.Node.OfferTTL = c.Node.OfferEvery }, "node.offer_ttl", "longer than node.offer_every (5s)"},
		{"negative cpus", func(c *Config) { c.Donor.CPUs = -2 }, "donor.cpus", "negative"},
		{"empty label", func(c *Config) { c.Donor.Labels = []string{"gpu", ""} }, "donor.labels[1]", "empty label"},
		{"accept_from bad id", func(c *Config) { c.Donor.AcceptFrom = []string{testPeerID, "alice"} }, "donor.accept_from[1]", `"alice" is not a peer ID`},
		{"accept_from multiaddr", func(c *Config) { c.Donor.AcceptFrom = []string{testPeerID + "/tcp/1"} }, "donor.accept_from[0]", "is not a peer ID"},
		{"no guest user", func(c *Config) { c.Donor.GuestUser = "" }, "donor.guest_user", "unprivileged"},
		{"short lease", func(c *Config) { c.Donor.Lease = Duration(1999 * time.Millisecond) }, "donor.lease", "at least 2s"},
		{"2s lease", func(c *Config) { c.Donor.Lease = Duration(2 * time.Second) }, "", ""},
		{"max_input zero", func(c *Config) { c.Donor.MaxInput = 0 }, "donor.max_input", "refuse every task"},
		{"max_output zero", func(c *Config) { c.Donor.MaxOutput = 0 }, "donor.max_output", "refuse every task"},
		{"idle_after zero", func(c *Config) { c.Policy.IdleAfter = 0 }, "policy.idle_after", "longer than 0"},
		{"owner_cpu_max zero", func(c *Config) { c.Policy.OwnerCPUMax = 0 }, "policy.owner_cpu_max", "outside (0, 1]"},
		{"owner_cpu_max NaN", func(c *Config) { c.Policy.OwnerCPUMax = math.NaN() }, "policy.owner_cpu_max", "outside (0, 1]"},
		{"owner_cpu_max one", func(c *Config) { c.Policy.OwnerCPUMax = 1 }, "", ""},
		{"sample_every negative", func(c *Config) { c.Policy.SampleEvery = -1 }, "policy.sample_every", "longer than 0"},
		{"unknown action", func(c *Config) { c.Policy.OnOwnerReturn.Action = "pause" }, "policy.on_owner_return.action", `"share", "suspend", "kill" or "migrate"`},
		{"negative grace", func(c *Config) { c.Policy.OnOwnerReturn.Grace = Duration(-time.Second) }, "policy.on_owner_return.grace", "negative"},
		{"zero grace", func(c *Config) { c.Policy.OnOwnerReturn.Grace = 0 }, "", ""},
		{"owner_cpu_for zero", func(c *Config) { c.Policy.OwnerCPUFor = 0 }, "", ""},
		{"owner_cpu_for negative", func(c *Config) { c.Policy.OwnerCPUFor = Duration(-time.Second) }, "policy.owner_cpu_for", "negative"},
		{"windows", func(c *Config) { c.Policy.DonateDuring = []string{"mon-fri 18:00-08:00", "sat-sun"} }, "", ""},
		{"bad window", func(c *Config) { c.Policy.DonateDuring = []string{"sat-sun", "someday"} }, "policy.donate_during[1]", `"someday" is not a day`},
		{"share_cpu tiny", func(c *Config) { c.Policy.OnOwnerReturn.ShareCPU = 0.001 }, "policy.on_owner_return.share_cpu", "at least 0.01"},
		{"share_cpu NaN", func(c *Config) { c.Policy.OnOwnerReturn.ShareCPU = math.NaN() }, "policy.on_owner_return.share_cpu", "at least 0.01"},
		{"share_cpu inf", func(c *Config) { c.Policy.OnOwnerReturn.ShareCPU = math.Inf(1) }, "policy.on_owner_return.share_cpu", "at least 0.01"},
		{"share_cpu many cores", func(c *Config) { c.Policy.OnOwnerReturn.ShareCPU = 3.5 }, "", ""},
		{"resume_after zero", func(c *Config) { c.Policy.OnOwnerReturn.ResumeAfter = 0 }, "policy.on_owner_return.resume_after", "longer than 0"},
		{"max_suspend zero", func(c *Config) { c.Policy.OnOwnerReturn.MaxSuspend = 0 }, "", ""},
		{"max_suspend negative", func(c *Config) { c.Policy.OnOwnerReturn.MaxSuspend = -1 }, "policy.on_owner_return.max_suspend", "negative"},
		{"fallback migrate", func(c *Config) { c.Policy.OnOwnerReturn.Fallback = ActionMigrate }, "policy.on_owner_return.fallback", `"share" or "kill"`},
		{"fallback share", func(c *Config) { c.Policy.OnOwnerReturn.Fallback = ActionShare }, "", ""},
		{"negative wait", func(c *Config) { c.Home.WaitTimeout = Duration(-time.Second) }, "home.wait_timeout", "negative"},
		{"negative retries", func(c *Config) { c.Home.Retries = -1 }, "home.retries", "negative"},
		{"log level", func(c *Config) { c.Log.Level = "trace" }, "log.level", `"debug", "info", "warn" or "error"`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `"text" or "json"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			got := problems(err)
			if len(got) != 1 {
				t.Fatalf("Validate() gave %d problems, want 1 about %s:\n%v", len(got), tt.wantKey, err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Key != tt.wantKey {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tt.wantKey)
			}
			if !strings.HasPrefix(got[0], tt.wantKey+": ") || !strings.Contains(got[0], tt.wantMsg) {
				t.Errorf("Validate() = %q, want %q naming %q", got[0], tt.wantMsg, tt.wantKey)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Name = ""
	c.Node.DHTMode = "x"
	c.Donor.CPUs = -1
	c.Policy.OwnerCPUMax = 2
	c.Log.Format = "yaml"
	want := []string{"name", "node.dht_mode", "donor.cpus", "policy.owner_cpu_max", "log.format"}
	got := problems(c.Validate())
	if len(got) != len(want) {
		t.Fatalf("Validate() gave %d problems, want %d: %q", len(got), len(want), got)
	}
	for i, k := range want {
		if !strings.HasPrefix(got[i], k+": ") {
			t.Errorf("problem %d = %q, want one about %s", i, got[i], k)
		}
	}
}
