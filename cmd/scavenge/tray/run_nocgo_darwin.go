//go:build darwin && !cgo

package tray

import "context"

// Run would show the tray icon; this build has no cgo, which the macOS
// menu bar needs, so it says so and returns ErrNeedsCgo.
func Run(ctx context.Context, opts Options) error { return ErrNeedsCgo }
