//go:build !linux

package main_test

import "os/exec"

// setDeathSignal has no portable equivalent of Linux's Pdeathsig; the
// tests' cleanups stop the daemons.
func setDeathSignal(*exec.Cmd) {}
