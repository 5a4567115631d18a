package sensor

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// logindOnly is a machine sensor that asks logind on the bus at addr and
// watches nothing else.
func logindOnly(t *testing.T, addr string, log *slog.Logger) *Machine {
	t.Helper()
	none := t.TempDir()
	m := New(Options{
		Logger:    log,
		utmpPath:  filepath.Join(none, "utmp"),
		devRoot:   none,
		evdevDir:  filepath.Join(none, "input"),
		logindBus: addr,
	})
	t.Cleanup(func() { m.Close() })
	return m
}

// TestLogindIdleHint follows a desktop session through logind on a
// private bus: idle for an hour, then the owner is back, which is
// notified without waiting for a sample.
func TestLogindIdleHint(t *testing.T) {
	addr := privateBus(t)
	hourAgo := time.Now().Add(-time.Hour)
	logind := startFakeLogind(t, addr, true, hourAgo)
	m := logindOnly(t, addr, testLogger(t))

	r := read(t, m)
	if !r.InputKnown || r.InputSource != "logind: all sessions idle" || r.InputIdle < time.Hour || r.InputIdle > time.Hour+time.Minute {
		t.Fatalf("all idle for an hour: got %+v, want known, logind, about 1h", r)
	}

	logind.set(t, false, time.Now())
	waitActivity(t, m, "logind's idle hint was cleared")
	r = read(t, m)
	if !r.InputKnown || r.InputSource != "logind: a session is in use" || r.InputIdle > 5*time.Second {
		t.Errorf("owner back: got %+v, want known, logind in use, idle about 0", r)
	}

	// The desktop's idle timer fires again.
	logind.set(t, true, time.Now().Add(-5*time.Minute))
	waitActivity(t, m, "the session went idle")
	if r = read(t, m); r.InputIdle < 5*time.Minute || r.InputIdle > 6*time.Minute {
		t.Errorf("idle again: got %+v, want idle about 5m", r)
	}
}

// TestLogindWithoutSessions: a machine nobody is logged in to has no
// input to speak of; logind says idle since 0.
func TestLogindWithoutSessions(t *testing.T) {
	addr := privateBus(t)
	startFakeLogind(t, addr, true, time.Time{})
	m := logindOnly(t, addr, testLogger(t))
	if r := read(t, m); r.InputKnown {
		t.Errorf("no sessions: got %+v, want nothing known", r)
	}
}

// TestLogindAbsent: a bus without logind, and no bus at all, leave the
// source out quietly: reported once, at info level, and no error.
func TestLogindAbsent(t *testing.T) {
	for name, addr := range map[string]string{
		"bus without logind": "",
		"no bus":             "unix:path=" + filepath.Join(t.TempDir(), "none"),
	} {
		t.Run(name, func(t *testing.T) {
			if addr == "" {
				addr = privateBus(t)
			}
			var logs lockedBuffer
			m := logindOnly(t, addr, slog.New(slog.NewTextHandler(&logs, nil)))
			for range 3 {
				if r := read(t, m); r.InputKnown {
					t.Fatalf("got %+v, want nothing known", r)
				}
			}
			out := logs.String()
			if n := strings.Count(out, "logind idle hint not used"); n != 1 || strings.Contains(out, "level=WARN") {
				t.Errorf("want one info line on logind's absence, got %d:\n%s", n, out)
			}
		})
	}
}

func TestIdleHintChanged(t *testing.T) {
	sig := func(path dbus.ObjectPath, iface string, changed map[string]dbus.Variant, invalidated []string) *dbus.Signal {
		return &dbus.Signal{Name: propertiesChanged, Path: path, Body: []any{iface, changed, invalidated}}
	}
	hint := map[string]dbus.Variant{"IdleHint": dbus.MakeVariant(false)}
	tests := []struct {
		name string
		sig  *dbus.Signal
		want bool
	}{
		{"hint changed", sig(logindPath, logindManager, hint, nil), true},
		{"hint invalidated", sig(logindPath, logindManager, nil, []string{"IdleSinceHint"}), true},
		{"another property", sig(logindPath, logindManager, map[string]dbus.Variant{"NCurrentSessions": dbus.MakeVariant(uint32(2))}, nil), false},
		{"a session's hint", sig("/org/freedesktop/login1/session/_32", "org.freedesktop.login1.Session", hint, nil), false},
		{"another signal", &dbus.Signal{Name: "org.freedesktop.login1.Manager.SessionNew", Path: logindPath}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := idleHintChanged(tt.sig); got != tt.want {
				t.Errorf("idleHintChanged = %v, want %v", got, tt.want)
			}
		})
	}
}
