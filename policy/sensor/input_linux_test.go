package sensor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNewest(t *testing.T) {
	now := time.Now()
	tty := activity{at: now.Add(-2 * time.Hour), source: "tty"}
	bound := activity{at: now.Add(-time.Minute), source: "evdev bound", bound: true}
	key := activity{at: now.Add(-30 * time.Minute), source: "evdev key"}
	logindIdle := activity{at: now.Add(-time.Hour), source: "logind", aggregate: true}
	tests := []struct {
		name string
		acts []activity
		want string // "" for none
	}{
		{"no source", nil, ""},
		{"one source", []activity{tty}, "tty"},
		{"the most recent wins", []activity{tty, key, logindIdle}, "evdev key"},
		{"a bound alone counts: the owner may have just left", []activity{tty, bound}, "evdev bound"},
		{"logind knows better than a bound", []activity{tty, bound, logindIdle}, "logind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := newest(tt.acts)
			if ok != (tt.want != "") || got.source != tt.want {
				t.Errorf("newest = %+v, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

// TestInputCombinesSources runs the three Linux sources together for
// real: a console typed on two hours ago, a keyboard FIFO and logind on a
// private bus. The Reading names whichever saw the owner last.
func TestInputCombinesSources(t *testing.T) {
	addr := privateBus(t)
	dir := t.TempDir()
	dev, input := filepath.Join(dir, "dev"), filepath.Join(dir, "input")
	for _, d := range []string{dev, input} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	console := filepath.Join(dev, "tty2")
	if err := os.WriteFile(console, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	twoHoursAgo := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(console, twoHoursAgo, twoHoursAgo); err != nil {
		t.Fatal(err)
	}
	kbd := plugFIFO(t, input, "event0")
	logind := startFakeLogind(t, addr, true, time.Now().Add(-time.Hour))
	m := New(Options{
		Logger:     testLogger(t),
		utmpPath:   filepath.Join(dir, "utmp"),
		devRoot:    dev,
		bootTime:   func() (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil },
		evdevDir:   input,
		evdevProbe: probeByName(testDevices),
		logindBus:  addr,
	})
	t.Cleanup(func() { m.Close() })

	// The keyboard has not been used since the sensor started, which
	// logind, idle for an hour, already covers.
	if r := read(t, m); r.InputSource != "logind: all sessions idle" || r.InputIdle < time.Hour {
		t.Errorf("idle machine: got %+v, want logind's hour", r)
	}

	write(t, kbd, keyPress()...)
	waitActivity(t, m, "a key press")
	wantKbd := "evdev " + filepath.Join(input, "event0") + " (AT Translated Set 2 keyboard)"
	if r := read(t, m); r.InputSource != wantKbd || r.InputIdle > 5*time.Second {
		t.Errorf("after a key press: got %+v, want %q just now", r, wantKbd)
	}

	// The desktop has not seen the key yet; logind says idle for an
	// hour still. The key press stays the newest input.
	logind.set(t, true, time.Now().Add(-time.Hour))
	waitActivity(t, m, "logind's signal")
	if r := read(t, m); r.InputSource != wantKbd {
		t.Errorf("logind idle after a key press: got %+v, want %q", r, wantKbd)
	}

	// Without logind and evdev the console is all that is left.
	m.Close()
	tty := New(ttyOnly(Options{
		Logger:   testLogger(t),
		utmpPath: filepath.Join(dir, "utmp"),
		devRoot:  dev,
		bootTime: func() (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil },
	}, dir))
	t.Cleanup(func() { tty.Close() })
	if r := read(t, tty); r.InputSource != "tty "+console || r.InputIdle < 2*time.Hour {
		t.Errorf("terminals only: got %+v, want the console's two hours", r)
	}
}
