package cli

import (
	"log/slog"
	"os"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger/executor"
)

// The checkpoint backends a daemon offers: signal always (it needs nothing
// but the task's cooperation), criu when the executor can dump and restore
// guests here (root, CAP_SYS_RESOURCE, a criu 4 that works on this kernel).
// Why criu is missing is logged once; `scavenge status` shows the list.

// criuBackend is the criu the executor is given, nil when the daemon is not
// root (criu needs root whatever else holds).
func criuBackend(c config.Config, log *slog.Logger) *checkpoint.CRIUBackend {
	if os.Geteuid() != 0 {
		log.Info("criu checkpoints unavailable: the daemon is not root")
		return nil
	}
	return checkpoint.NewCRIU(c.Donor.CRIU)
}

// checkpointBackends lists what ex can checkpoint guests with, best first:
// signal, and criu when ex was given crb and can use it; criuErr says why
// not when it was given crb but cannot.
func checkpointBackends(ex *executor.Executor, crb *checkpoint.CRIUBackend) (backends []string, criuErr error) {
	backends = []string{checkpoint.Signal}
	if crb == nil {
		return backends, nil
	}
	if err := ex.CanMigrate(); err != nil {
		return backends, err
	}
	return append([]string{checkpoint.CRIU}, backends...), nil
}
