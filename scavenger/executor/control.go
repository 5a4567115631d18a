package executor

import (
	"errors"

	"github.com/scavenge/scavenge/scavenger"
)

// Placeholders until cgroup control lands.

func (p *process) Limit(l scavenger.Limits) (string, error) { return "", errors.ErrUnsupported }
func (p *process) Freeze() (string, error)                  { return "", errors.ErrUnsupported }
func (p *process) Thaw() error                              { return errors.ErrUnsupported }
