package cli

import (
	"errors"
	"fmt"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/policy"
)

// policyFromConfig turns the config's [policy] table into the presence machine's
// policy. The config package owns the file's syntax (it parses the window
// strings), the policy package what the values mean; this is the one place
// they meet. A loaded config has been checked already, so an error here
// means a Config built in code that skipped Validate; each error names its
// key.
func policyFromConfig(cfg config.Config) (policy.Policy, error) {
	c := cfg.Policy
	r := c.OnOwnerReturn
	p := policy.Policy{
		Dedicated:   c.Dedicated,
		IdleAfter:   c.IdleAfter.Duration(),
		OwnerCPUMax: c.OwnerCPUMax,
		OwnerCPUFor: c.OwnerCPUFor.Duration(),
		OnReturn: policy.OnReturn{
			Grace:       r.Grace.Duration(),
			Share:       policy.Limits{CPUs: r.ShareCPU, MemoryBytes: uint64(r.ShareMemory)},
			ResumeAfter: r.ResumeAfter.Duration(),
			MaxSuspend:  r.MaxSuspend.Duration(),
		},
	}
	var errs []error
	for i, s := range c.DonateDuring {
		w, err := config.ParseWindow(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy.donate_during[%d]: %w", i, err))
			continue
		}
		p.Windows = append(p.Windows, policy.Window{Days: w.Days, From: w.From, To: w.To})
	}
	var err error
	if p.OnReturn.Action, err = policy.ParseAction(r.Action); err != nil {
		errs = append(errs, fmt.Errorf("policy.on_owner_return.action: %w", err))
	}
	if p.OnReturn.Fallback, err = policy.ParseAction(r.Fallback); err != nil {
		errs = append(errs, fmt.Errorf("policy.on_owner_return.fallback: %w", err))
	}
	if len(errs) == 0 {
		errs = append(errs, p.Validate())
	}
	return p, errors.Join(errs...)
}
