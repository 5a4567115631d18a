package sensor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The machine has no /dev/input, so these tests give the real watcher a
// directory of FIFOs to which they write real input_event records. Only
// the capability probe is replaced: a FIFO answers no ioctl.

// plugFIFO makes a FIFO appear in dir under name at once, as udev makes a
// device node appear, and returns its write end. The FIFO is opened for
// writing before it is named, so the watcher never finds it without a
// writer (which would read as a device already gone).
func plugFIFO(t testing.TB, dir, name string) *os.File {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := unix.Mkfifo(tmp, 0o600); err != nil {
		t.Fatalf("mkfifo %s: %v", tmp, err)
	}
	// Opening a FIFO read-write never blocks on Linux.
	w, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return w
}

// probeByName stands in for the ioctls: it names each FIFO after a real
// device, and says its kind.
func probeByName(devices map[string][2]string) func(*os.File) (string, string, error) {
	return func(f *os.File) (string, string, error) {
		d, ok := devices[filepath.Base(f.Name())]
		if !ok {
			return "", "", fmt.Errorf("%s: no such test device", f.Name())
		}
		return d[0], d[1], nil
	}
}

var testDevices = map[string][2]string{
	"event0": {"AT Translated Set 2 keyboard", "keyboard"},
	"event1": {"Power Button", ""},
	"event3": {"Logitech USB Optical Mouse", "mouse"},
	"event4": {"SynPS/2 Synaptics TouchPad", "touchpad"},
}

// evdevOnly is a machine sensor that watches dir for input devices and
// nothing else: no terminals, no logind.
func evdevOnly(t *testing.T, dir string) *Machine {
	t.Helper()
	none := t.TempDir()
	m := New(Options{
		Logger:     testLogger(t),
		evdevDir:   dir,
		evdevProbe: probeByName(testDevices),
		utmpPath:   filepath.Join(none, "utmp"),
		devRoot:    none,
		logindBus:  "unix:path=" + filepath.Join(none, "bus"),
	})
	t.Cleanup(func() { m.Close() })
	return m
}

func write(t *testing.T, f *os.File, events ...[]byte) {
	t.Helper()
	if _, err := f.Write(bytes.Join(events, nil)); err != nil {
		t.Fatalf("writing events to %s: %v", f.Name(), err)
	}
}

// waitActivity waits for a notification of input.
func waitActivity(t *testing.T, n Notifier, what string) {
	t.Helper()
	select {
	case <-n.Activity():
	case <-time.After(10 * time.Second):
		t.Fatalf("no activity notified after %s", what)
	}
}

func read(t *testing.T, s Sensor) Reading {
	t.Helper()
	r, err := s.Read(context.Background())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return r
}

func keyPress() [][]byte {
	return [][]byte{inputEvent(0x04, 4, 0x1e), inputEvent(evKey, 30, 1), inputEvent(0, 0, 0)}
}

// TestEvdevFollowsInput types on a keyboard among devices present at start
// and checks that the Reading names it, that a power button is not
// watched, and that the input is notified.
func TestEvdevFollowsInput(t *testing.T) {
	dir := t.TempDir()
	kbd := plugFIFO(t, dir, "event0")
	plugFIFO(t, dir, "event1")
	m := evdevOnly(t, dir)

	// Nothing typed yet: the keyboard has not been used since watching
	// began, which is all that can be said.
	r := read(t, m)
	if !r.InputKnown || r.InputSource != "evdev: no input on 1 device(s) since watching began" || r.InputIdle > time.Minute {
		t.Fatalf("before typing: got %+v, want known, a bound on the 1 keyboard, just now", r)
	}

	write(t, kbd, keyPress()...)
	waitActivity(t, m, "a key press")
	r = read(t, m)
	want := "evdev " + filepath.Join(dir, "event0") + " (AT Translated Set 2 keyboard)"
	if !r.InputKnown || r.InputSource != want || r.InputIdle > 5*time.Second {
		t.Errorf("after a key press: got %+v, want known, %q, idle about 0", r, want)
	}
}

// TestEvdevHotplug plugs devices in and out of a watched directory.
func TestEvdevHotplug(t *testing.T) {
	dir := t.TempDir()
	m := evdevOnly(t, dir)
	w := m.input.(*linuxInput).evdev
	if r := read(t, m); r.InputKnown {
		t.Fatalf("no device yet: got %+v, want nothing known", r)
	}
	watching := func(want int) func() (bool, string) {
		return func() (bool, string) {
			w.mu.Lock()
			defer w.mu.Unlock()
			return len(w.devices) == want, fmt.Sprintf("watching %d devices, want %d", len(w.devices), want)
		}
	}

	mouse := plugFIFO(t, dir, "event3")
	waitFor(t, 10*time.Second, 10*time.Millisecond, watching(1))
	write(t, mouse, inputEvent(evRel, relX, 5), inputEvent(0, 0, 0))
	waitActivity(t, m, "moving the plugged-in mouse")
	wantMouse := "evdev " + filepath.Join(dir, "event3") + " (Logitech USB Optical Mouse)"
	if r := read(t, m); r.InputSource != wantMouse {
		t.Errorf("after moving the mouse: source %q, want %q", r.InputSource, wantMouse)
	}

	// A device whose node is removed is dropped; one that goes away on
	// its own (a FIFO's writer closing, a real device's ENODEV) too.
	pad := plugFIFO(t, dir, "event4")
	waitFor(t, 10*time.Second, 10*time.Millisecond, watching(2))
	if err := os.Remove(filepath.Join(dir, "event3")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, 10*time.Millisecond, watching(1))
	pad.Close()
	waitFor(t, 10*time.Second, 10*time.Millisecond, watching(0))

	// The mouse's input still counts after it is gone.
	if r := read(t, m); !r.InputKnown || r.InputSource != wantMouse {
		t.Errorf("after unplugging: got %+v, want the mouse's last input", r)
	}
}

// TestEvdevNotifiesAfterQuiet checks that a burst of input is notified
// once: the presence loop needs the owner's return, not every keystroke.
func TestEvdevNotifiesAfterQuiet(t *testing.T) {
	dir := t.TempDir()
	kbd := plugFIFO(t, dir, "event0")
	var notified atomic.Int32
	w := startEvdev(Options{evdevDir: dir, evdevProbe: probeByName(testDevices)}, testLogger(t), func() { notified.Add(1) })
	t.Cleanup(w.close)
	for range 5 {
		write(t, kbd, keyPress()...)
		time.Sleep(20 * time.Millisecond)
	}
	// The last write is read at most evdevCoalesce after it is made.
	waitFor(t, 10*time.Second, evdevCoalesce, func() (bool, string) {
		n, err := unix.IoctlGetInt(int(kbd.Fd()), unix.TIOCINQ) // FIONREAD
		return err == nil && n == 0, fmt.Sprintf("%d bytes unread (err %v)", n, err)
	})
	if n := notified.Load(); n != 1 {
		t.Errorf("a burst of typing notified %d times, want once", n)
	}
}

// TestEvdevRealProbeSkipsNonDevices runs the real ioctls on a FIFO, which
// answers none of them: it must be left alone, not taken for a keyboard.
func TestEvdevRealProbeSkipsNonDevices(t *testing.T) {
	dir := t.TempDir()
	plugFIFO(t, dir, "event0")
	w := startEvdev(Options{evdevDir: dir}, testLogger(t), func() {})
	t.Cleanup(w.close)
	if a, ok := w.latest(); ok {
		t.Errorf("a FIFO was taken for an input device: %+v", a)
	}
	if _, _, err := probeEvdev(mustOpen(t, filepath.Join(dir, "event0"))); err == nil {
		t.Error("probing a FIFO: got no error, want ENOTTY from EVIOCGNAME")
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const asNobodyEnv = "SENSOR_TEST_AS_NOBODY"

// TestEvdevPermissionDeniedOnce is a daemon that is neither root nor in
// group input: every device, present or plugged in later, is refused, and
// the log says so once. Root may open anything, so as root the test runs
// itself again as nobody.
func TestEvdevPermissionDeniedOnce(t *testing.T) {
	if os.Geteuid() == 0 {
		if os.Getenv(asNobodyEnv) == "" {
			cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
			cmd.Env = append(os.Environ(), asNobodyEnv+"=1")
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("--- PASS")) {
				t.Fatalf("as nobody: %v\n%s", err, out)
			}
			t.Logf("as nobody:\n%s", out)
			return
		}
		// Once for the whole process: Go applies it to every thread.
		if err := syscall.Setgroups(nil); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setgid(65534); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setuid(65534); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	for _, name := range []string{"event0", "event3"} {
		// Mode 0: like root:input 0660 to a user outside the group.
		if err := unix.Mkfifo(filepath.Join(dir, name), 0); err != nil {
			t.Fatal(err)
		}
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := startEvdev(Options{evdevDir: dir, evdevProbe: probeByName(testDevices)}, log, func() {})
	t.Cleanup(w.close)

	// One more, plugged in later, is refused too.
	if err := unix.Mkfifo(filepath.Join(dir, ".event4.tmp"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, ".event4.tmp"), filepath.Join(dir, "event4")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		return strings.Contains(logs.String(), "event4"), "the new device not tried yet"
	})

	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 || !strings.Contains(out, "group input") {
		t.Errorf("want one warning naming group input, got %d:\n%s", n, out)
	}
	if a, ok := w.latest(); ok {
		t.Errorf("refused devices gave input %+v", a)
	}
	t.Logf("log:\n%s", out)

	// A directory that may not be listed is the same problem, said once.
	closed := filepath.Join(t.TempDir(), "input")
	if err := os.Mkdir(closed, 0); err != nil {
		t.Fatal(err)
	}
	var logs2 lockedBuffer
	w2 := startEvdev(Options{evdevDir: closed}, slog.New(slog.NewTextHandler(&logs2, nil)), func() {})
	t.Cleanup(w2.close)
	if out := logs2.String(); strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "group input") {
		t.Errorf("unlistable directory: want one warning naming group input, got:\n%s", out)
	}
}
