package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	ma "github.com/multiformats/go-multiaddr"
)

// minLease is the shortest donor.lease: a lease is renewed over the network
// several times per period, and shorter ones would expire on a busy LAN.
const minLease = 2 * time.Second

// Validate checks the values of c, not just their types, and returns every
// problem joined with errors.Join, each a *FieldError naming the dotted key.
// It returns nil for a usable Config.
func (c Config) Validate() error {
	probs := c.validate()
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// validate is Validate returning the problems one by one, so that Load can
// add the file and line to each.
func (c Config) validate() []*FieldError {
	var v validator

	if c.Version != Version {
		v.add("version", "%d is not supported: this build reads version %d", c.Version, Version)
	}
	switch n := c.Name; {
	case strings.TrimSpace(n) == "":
		v.add("name", "empty; give this machine a name peers will see, e.g. its host name")
	case len([]rune(n)) > maxNameLen:
		v.add("name", "%s is longer than %d characters", quoteShort(n), maxNameLen)
	case strings.IndexFunc(n, unicode.IsControl) >= 0:
		v.add("name", "%s contains control characters", quoteShort(n))
	}

	// node
	for i, s := range c.Node.Listen {
		if _, err := ma.NewMultiaddr(s); err != nil {
			v.add(fmt.Sprintf("node.listen[%d]", i), "%s is not a multiaddr (%v); write e.g. \"/ip4/0.0.0.0/tcp/4001\"", quoteShort(s), err)
		}
	}
	for i, s := range c.Node.Bootstrap {
		key := fmt.Sprintf("node.bootstrap[%d]", i)
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			v.add(key, "%s is not a multiaddr (%v); use a line printed by `scavenge id` on that peer", quoteShort(s), err)
			continue
		}
		if _, err := a.ValueForProtocol(ma.P_P2P); err != nil {
			v.add(key, "%s has no /p2p/<peer id> part; use a line printed by `scavenge id` on that peer", quoteShort(s))
		} else if a[0].Protocol().Code == ma.P_P2P {
			v.add(key, "%s has no address before /p2p/; use a line printed by `scavenge id` on that peer", quoteShort(s))
		}
	}
	if strings.TrimSpace(c.Node.Identity) == "" {
		v.add("node.identity", "empty; name the private key file, e.g. \"identity.key\"")
	}
	switch {
	case c.Node.SwarmKey == "" && !c.Node.Public:
		v.add("node.swarm_key", "empty, but node.public is false: a private swarm needs its key file (or set public = true to let anyone connect)")
	case c.Node.SwarmKey != "" && c.Node.Public:
		v.add("node.public", "true, but node.swarm_key is set: a public node has no swarm key (set swarm_key = \"\" or public = false)")
	}
	v.oneOf("node.dht_mode", c.Node.DHTMode, DHTModes)
	v.positive("node.offer_every", c.Node.OfferEvery)
	if c.Node.OfferTTL <= c.Node.OfferEvery {
		v.add("node.offer_ttl", "%s must be longer than node.offer_every (%s), or offers expire between heartbeats", c.Node.OfferTTL, c.Node.OfferEvery)
	}

	// donor
	if c.Donor.CPUs < 0 {
		v.add("donor.cpus", "%d is negative; use 0 for all cores", c.Donor.CPUs)
	}
	for i, l := range c.Donor.Labels {
		if strings.TrimSpace(l) == "" {
			v.add(fmt.Sprintf("donor.labels[%d]", i), "empty label")
		}
	}
	for i, id := range c.Donor.AcceptFrom {
		// A peer ID is valid exactly when it makes a valid /p2p/ multiaddr;
		// this checks it without importing libp2p into the config package.
		if _, err := ma.NewMultiaddr("/p2p/" + id); err != nil || id == "" || strings.Contains(id, "/") {
			v.add(fmt.Sprintf("donor.accept_from[%d]", i), "%s is not a peer ID (use the ID printed by `scavenge init` or `scavenge id`)", quoteShort(id))
		}
	}
	if strings.TrimSpace(c.Donor.GuestUser) == "" {
		v.add("donor.guest_user", "empty; guests must run as an unprivileged user, e.g. \"nobody\"")
	}
	if c.Donor.Lease < Duration(minLease) {
		v.add("donor.lease", "%s is too short; use at least %s", c.Donor.Lease, Duration(minLease))
	}
	if c.Donor.MaxInput == 0 {
		v.add("donor.max_input", "0 would refuse every task with inputs; use e.g. \"4GiB\"")
	}
	if c.Donor.CheckpointEvery < 0 {
		v.add("donor.checkpoint_every", "%s is negative", c.Donor.CheckpointEvery)
	} else if c.Donor.CheckpointEvery > 0 && c.Donor.CheckpointEvery.Duration() < time.Second {
		v.add("donor.checkpoint_every", "%s is shorter than a second: a checkpoint would never end", c.Donor.CheckpointEvery)
	}
	if c.Donor.MaxOutput == 0 {
		v.add("donor.max_output", "0 would refuse every task with outputs; use e.g. \"4GiB\"")
	}

	// policy
	v.positive("policy.idle_after", c.Policy.IdleAfter)
	if x := c.Policy.OwnerCPUMax; !(x > 0 && x <= 1) || math.IsNaN(x) {
		v.add("policy.owner_cpu_max", "%v is outside (0, 1]; it is a fraction of all cores, e.g. 0.25", x)
	}
	if c.Policy.OwnerCPUFor < 0 {
		v.add("policy.owner_cpu_for", "%s is negative; use 0 to count every sample at once", c.Policy.OwnerCPUFor)
	}
	for i, s := range c.Policy.DonateDuring {
		if _, err := ParseWindow(s); err != nil {
			v.addErr(fmt.Sprintf("policy.donate_during[%d]", i), err)
		}
	}
	v.positive("policy.sample_every", c.Policy.SampleEvery)
	c.Policy.OnOwnerReturn.validate(&v)

	// home
	if c.Home.WaitTimeout < 0 {
		v.add("home.wait_timeout", "%s is negative; use 0 to fail at once when no peer is idle", c.Home.WaitTimeout)
	}
	if c.Home.Retries < 0 {
		v.add("home.retries", "%d is negative; use 0 for no retries", c.Home.Retries)
	}

	// log
	v.oneOf("log.level", c.Log.Level, LogLevels)
	v.oneOf("log.format", c.Log.Format, LogFormats)

	c.Dashboard.validate(&v)

	return v.probs
}

// validate checks [policy.on_owner_return].
func (r OnOwnerReturn) validate(v *validator) {
	const table = "policy.on_owner_return."
	v.oneOf(table+"action", r.Action, Actions)
	if r.Grace < 0 {
		v.add(table+"grace", "%s is negative; use 0 to kill at once", r.Grace)
	}
	if x := r.ShareCPU; !(x >= minShareCPU) || math.IsInf(x, 0) {
		v.add(table+"share_cpu", "%v is not a CPU cap in cores of at least %v (the kernel's smallest), e.g. 0.1", x, minShareCPU)
	}
	v.positive(table+"resume_after", r.ResumeAfter)
	if r.MaxSuspend < 0 {
		v.add(table+"max_suspend", "%s is negative; use 0 for no limit", r.MaxSuspend)
	}
	if !slices.Contains(Fallbacks, r.Fallback) {
		v.add(table+"fallback", "%s is not one of %s: the fallback must work on every machine", quoteShort(r.Fallback), quoteList(Fallbacks))
	}
}

// validator collects problems.
type validator struct{ probs []*FieldError }

func (v *validator) add(key, format string, args ...any) {
	v.probs = append(v.probs, &FieldError{Key: key, Err: fmt.Errorf(format, args...)})
}

// addErr records err as it is: it already names the value.
func (v *validator) addErr(key string, err error) {
	v.probs = append(v.probs, &FieldError{Key: key, Err: err})
}

func (v *validator) oneOf(key, val string, allowed []string) {
	if !slices.Contains(allowed, val) {
		v.add(key, "%s is not one of %s", quoteShort(val), quoteList(allowed))
	}
}

func (v *validator) positive(key string, d Duration) {
	if d <= 0 {
		v.add(key, "%s must be longer than 0", d)
	}
}

// quoteList formats allowed values as `"a", "b" or "c"`.
func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, s := range vals {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
