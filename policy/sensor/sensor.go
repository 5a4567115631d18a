package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	// evdevDir replaces /dev/input, and evdevProbe the ioctls that name
	// a device and tell a keyboard (kind "keyboard") from a power button
	// (kind ""), so that a test can feed the real reader through FIFOs.
	evdevDir   string
	evdevProbe func(*os.File) (name, kind string, err error)
	// logindBus is the D-Bus address where logind is asked, instead of
	// the system bus.
	logindBus string
}

// Machine is the real Sensor: the input sensor of this OS and the CPU
// meter. On Linux it watches input devices and logind in the background
// from New until Close, and tells of the owner's return through Activity.
type Machine struct {
	// mu serializes Reads: the CPU meter measures from one Read to the next.
	mu        sync.Mutex
	input     inputSensor
	cpu       *cpuMeter
	activity  chan struct{}
	closeOnce sync.Once
}

var (
	_ Sensor   = (*Machine)(nil)
	_ Notifier = (*Machine)(nil)
)

// New returns the sensor for this OS and starts its background watchers.
// It takes a first CPU measurement now, so that the first Read can already
// report a load. Close stops the watchers.
func New(opts Options) *Machine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger.With("component", "sensor")
	act := newActivity()
	return &Machine{
		input:    newInput(opts, log, func() { poke(act) }),
		cpu:      newCPUMeter(context.Background(), opts.ExcludePIDs, log),
		activity: act,
	}
}

// inputSensor is the per-OS part.
type inputSensor interface {
	read(ctx context.Context) (input, error)
	// close stops the background watchers, if any, and waits for them.
	close()
}

// input is one input sensor reading; known false means nothing to watch.
type input struct {
	idle   time.Duration
	source string
	known  bool
}

// Read returns the machine's state now. The input part can be known and
// come with an error at once: one input source failed while another still
// answered.
func (m *Machine) Read(ctx context.Context) (Reading, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r Reading
	var errs []error
	in, err := m.input.read(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("input idle time: %w", err))
	}
	if in.known {
		r.InputIdle, r.InputSource, r.InputKnown = max(in.idle, 0), in.source, true
	}
	if load, ok, err := m.cpu.read(ctx); err != nil {
		errs = append(errs, fmt.Errorf("owner CPU load: %w", err))
	} else {
		r.OwnerCPU, r.CPUKnown = load, ok
	}
	return r, errors.Join(errs...)
}

// Activity implements Notifier. Only event-driven sources notify (evdev
// devices and logind's signals on Linux); the others are seen at the next
// Read.
func (m *Machine) Activity() <-chan struct{} { return m.activity }

// Close stops the background watchers and closes the devices and the bus
// connection they hold. A Read after Close still answers from the
// terminals and from the input the watchers saw before.
func (m *Machine) Close() error {
	m.closeOnce.Do(m.input.close)
	return nil
}
