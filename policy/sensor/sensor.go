package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Reading is one look at the machine.
type Reading struct {
	// InputIdle is the time since the last keyboard or mouse input.
	InputIdle time.Duration
	// InputKnown is false when there is nothing to watch (no session, no
	// input device) or the input sensor failed.
	InputKnown bool
	// InputSource names where InputIdle came from, e.g. "tty /dev/pts/3".
	InputSource string
	// OwnerCPU is the CPU load since the previous Read of everything but
	// the excluded processes and their descendants, as a fraction of all
	// cores (0..1).
	OwnerCPU float64
	// CPUKnown is false until two measurements are far enough apart, or
	// when the CPU sensor failed.
	CPUKnown bool
}

// Sensor reads the machine.
type Sensor interface {
	// Read returns what it could measure. When a part fails, its Known
	// field is false and the error says which part and why; the rest of
	// the Reading is still good.
	Read(ctx context.Context) (Reading, error)
}

// Options configure the machine's Sensor.
type Options struct {
	Logger *slog.Logger
	// ExcludePIDs returns the processes whose CPU use is not the owner's:
	// the guests. Their descendants are excluded too. It is called on every
	// Read and must be safe for concurrent use. Nil excludes nothing.
	ExcludePIDs func() []int

	// Test seams for the Linux input sensor: the utmp file, the
	// directory that utmp's terminal lines are relative to, and the boot
	// time.
	utmpPath string
	devRoot  string
	bootTime func() (time.Time, error)
}

// New returns the sensor for this OS. It takes a first CPU measurement now,
// so that the first Read can already report a load.
func New(opts Options) Sensor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger.With("component", "sensor")
	return &machine{
		input: newInput(opts, log),
		cpu:   newCPUMeter(context.Background(), opts.ExcludePIDs, log),
	}
}

// machine is the real Sensor: one input sensor and the CPU meter.
type machine struct {
	// mu serializes Reads: the CPU meter measures from one Read to the next.
	mu    sync.Mutex
	input inputSensor
	cpu   *cpuMeter
}

// inputSensor is the per-OS part.
type inputSensor interface {
	read(ctx context.Context) (input, error)
}

// input is one input sensor reading; known false means nothing to watch.
type input struct {
	idle   time.Duration
	source string
	known  bool
}

func (m *machine) Read(ctx context.Context) (Reading, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r Reading
	var errs []error
	if in, err := m.input.read(ctx); err != nil {
		errs = append(errs, fmt.Errorf("input idle time: %w", err))
	} else if in.known {
		r.InputIdle, r.InputSource, r.InputKnown = max(in.idle, 0), in.source, true
	}
	if load, ok, err := m.cpu.read(ctx); err != nil {
		errs = append(errs, fmt.Errorf("owner CPU load: %w", err))
	} else {
		r.OwnerCPU, r.CPUKnown = load, ok
	}
	return r, errors.Join(errs...)
}
