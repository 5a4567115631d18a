//go:build !linux

package checkpoint

import (
	"context"
	"errors"
	"os"
	"runtime"
)

// errCRIUOS says why criu cannot work here: it is Linux-only.
var errCRIUOS = errors.New("criu checkpoints Linux processes only, and this is " + runtime.GOOS)

// Check always fails off Linux.
func (c *CRIUBackend) Check(ctx context.Context) error { return errCRIUOS }

// Version always fails off Linux.
func (c *CRIUBackend) Version(ctx context.Context) (int, error) { return 0, errCRIUOS }

// Dump always fails off Linux.
func (c *CRIUBackend) Dump(ctx context.Context, pid int, imagesDir string, o DumpOptions) error {
	return errCRIUOS
}

// Restore always fails off Linux.
func (c *CRIUBackend) Restore(ctx context.Context, imagesDir string, o RestoreOptions) (*os.Process, error) {
	return nil, errCRIUOS
}
