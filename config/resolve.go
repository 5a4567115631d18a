package config

import "path/filepath"

// Resolve returns c with its relative paths (node.identity, node.swarm_key
// and donor.work_dir) made absolute under home, the folder holding the
// config file; the daemon's working directory must not change what a file
// means. Empty paths stay empty: they mean "none" or "the default", which
// the daemon decides. A relative home is first made absolute; if the
// working directory is unknown it is used as given.
func (c Config) Resolve(home string) Config {
	if abs, err := filepath.Abs(home); err == nil {
		home = abs
	}
	under := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(home, p)
	}
	c.Node.Identity = under(c.Node.Identity)
	c.Node.SwarmKey = under(c.Node.SwarmKey)
	c.Donor.WorkDir = under(c.Donor.WorkDir)
	return c
}
