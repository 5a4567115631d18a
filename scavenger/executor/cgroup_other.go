//go:build !linux

package executor

import (
	"log/slog"
	"runtime"
)

// newCgroups says once that guests here have no cgroups: only Linux has
// them.
func newCgroups(_ Options, log *slog.Logger) (cgroupManager, error) {
	log.Info("no cgroups on " + runtime.GOOS + ": " + noCgroupConsequence)
	return nil, nil
}
