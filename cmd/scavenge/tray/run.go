//go:build !darwin || cgo

package tray

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"fyne.io/systray"
)

// ran keeps Run to one call per process (see ErrAlreadyRan).
var ran atomic.Bool

// Run shows the tray icon until ctx ends or the owner picks "Quit tray".
// It must be called from the main goroutine (macOS draws the menu bar on
// the main thread; the toolkit locks it in its init). On Linux it first
// checks that a D-Bus session bus answers and returns a *NoBusError when
// none does; it warns (in opts.Log) when no tray host is there yet, as the
// icon shows up once one starts.
func Run(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	if err := checkDesktop(ctx, opts.Log); err != nil {
		return err
	}
	if !ran.CompareAndSwap(false, true) {
		return ErrAlreadyRan
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	var started atomic.Bool
	onReady := func() {
		if ctx.Err() != nil {
			return
		}
		started.Store(true)
		u := newTrayUI(ctx)
		go func() {
			done <- newApp(opts, opts.Client, u).run(ctx)
			systray.Quit()
		}()
	}
	go func() {
		<-ctx.Done()
		systray.Quit()
	}()
	if runtime.GOOS == "linux" {
		// The item's Title and Id on the bus; on macOS a title would be
		// text next to the icon in the menu bar.
		systray.SetTitle("scavenge")
	}
	systray.Run(onReady, nil)
	cancel()
	if !started.Load() {
		return nil
	}
	select {
	case err := <-done:
		return err
	case <-time.After(callTimeout):
		return nil // a call in flight; the process is ending anyway
	}
}
