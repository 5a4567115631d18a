package sensor

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// privateBus starts a dbus-daemon of the test's own and returns its
// address. It needs the dbus-daemon program (Debian and Ubuntu package
// dbus), which CI must install: there the test fails without it.
func privateBus(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must test logind sensing, but dbus-daemon is missing (install package dbus): %v", err)
		}
		t.Skipf("dbus-daemon is not installed (package dbus): %v", err)
	}
	addr := "unix:path=" + filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(bin, "--session", "--nofork", "--nopidfile", "--print-address", "--address="+addr)
	cmd.Stderr = t.Output()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// The daemon prints its address once it listens.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading dbus-daemon's address: %v", err)
	}
	if got := strings.TrimSpace(line); !strings.HasPrefix(got, addr) {
		t.Fatalf("dbus-daemon listens on %q, want %q", got, addr)
	}
	return addr
}

// fakeLogind serves org.freedesktop.login1's Manager idle properties on a
// test bus, and announces changes as logind does: both properties in one
// PropertiesChanged signal.
type fakeLogind struct {
	conn *dbus.Conn

	mu    sync.Mutex
	idle  bool
	since uint64 // microseconds since the epoch
}

func startFakeLogind(t testing.TB, addr string, idle bool, since time.Time) *fakeLogind {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connecting to the test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeLogind{conn: conn, idle: idle, since: micros(since)}
	if err := conn.Export(f, logindPath, "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(logindName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("taking the name %s: %v, %v", logindName, reply, err)
	}
	return f
}

func micros(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMicro())
}

// Get implements org.freedesktop.DBus.Properties.Get.
func (f *fakeLogind) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	all, derr := f.GetAll(iface)
	if derr != nil {
		return dbus.Variant{}, derr
	}
	v, ok := all[name]
	if !ok {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{name})
	}
	return v, nil
}

// GetAll implements org.freedesktop.DBus.Properties.GetAll.
func (f *fakeLogind) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	if iface != logindManager {
		return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownInterface", []any{iface})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]dbus.Variant{
		"IdleHint":      dbus.MakeVariant(f.idle),
		"IdleSinceHint": dbus.MakeVariant(f.since),
	}, nil
}

// Set implements org.freedesktop.DBus.Properties.Set: logind's are
// read-only.
func (f *fakeLogind) Set(_, name string, _ dbus.Variant) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{name})
}

// set changes the hint, as a desktop's idle timer or its owner's return
// makes logind do.
func (f *fakeLogind) set(t testing.TB, idle bool, since time.Time) {
	t.Helper()
	f.mu.Lock()
	f.idle, f.since = idle, micros(since)
	f.mu.Unlock()
	all, _ := f.GetAll(logindManager)
	if err := f.conn.Emit(logindPath, propertiesChanged, logindManager, all, []string{}); err != nil {
		t.Fatalf("emitting PropertiesChanged: %v", err)
	}
}
