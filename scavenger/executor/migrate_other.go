//go:build !linux

package executor

import (
	"errors"
	"runtime"

	"github.com/scavenge/scavenge/scavenger"
)

// errMigrateOS says why guests cannot be migrated here: criu checkpoints
// Linux processes only. On other systems *Executor has no Dump or Restore,
// so it is not a scavenger.Migrator, and a migratable Start fails.
var errMigrateOS = errors.New("migratable guest: criu checkpoints Linux processes only, and this is " + runtime.GOOS)

// HasCapSysResource is false off Linux: there are no capabilities to have.
func HasCapSysResource() (bool, error) { return false, nil }

// canStartMigratable always refuses off Linux.
func (e *Executor) canStartMigratable() error { return errMigrateOS }

// CanMigrate always fails off Linux: there is no criu.
func (e *Executor) CanMigrate() error { return errMigrateOS }

// killedByInit has nothing to do off Linux: no guest has an init.
func (p *process) killedByInit(*scavenger.ExitStatus) {}

// sampleCPU has nothing to do off Linux: no guest has an init.
func (p *process) sampleCPU() {}
