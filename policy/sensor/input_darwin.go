package sensor

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
)

// hidInput reads the HID system's idle time. Without cgo the IOKit call is
// out of reach, so it asks ioreg, which prints the same property.
type hidInput struct{ log *slog.Logger }

func newInput(_ Options, log *slog.Logger, _ func()) inputSensor { return hidInput{log: log} }

func (hidInput) read(ctx context.Context) (input, error) {
	out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-c", "IOHIDSystem", "-d", "4").Output()
	if err != nil {
		return input{}, fmt.Errorf("running ioreg: %w", err)
	}
	idle, err := parseHIDIdleTime(out)
	if err != nil {
		return input{}, err
	}
	return input{idle: idle, source: "HID idle time", known: true}, nil
}

func (hidInput) close() {}
