//go:build !linux

package executor

// Init must be the first thing main (and TestMain) does. Only Linux uses a
// guest init process; elsewhere Init just records that it was called.
func Init() { initCalled.Store(true) }
