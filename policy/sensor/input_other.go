//go:build !linux && !windows && !darwin

package sensor

import (
	"context"
	"log/slog"
)

// noInput is for systems without an input sensor yet: the machine reads as
// having nothing to watch, which the policy treats as an unattended server.
type noInput struct{}

func newInput(Options, *slog.Logger, func()) inputSensor { return noInput{} }

func (noInput) read(context.Context) (input, error) { return input{}, nil }

func (noInput) close() {}
