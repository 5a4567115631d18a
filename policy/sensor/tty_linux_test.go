package sensor

import (
	"bytes"
	"cmp"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a new pseudo-terminal pair, as a terminal emulator or sshd
// does for a login session.
func openPTY(t *testing.T) (master, slave *os.File, path string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must test tty idle sensing, but /dev/ptmx fails: %v", err)
		}
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Fatalf("unlocking pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	path = "/dev/pts/" + strconv.Itoa(n)
	slave, err = os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave, path
}

func writeUtmp(t *testing.T, path string, entries ...utmpEntry) {
	t.Helper()
	var b []byte
	for _, e := range entries {
		b = append(b, utmpRecord(e)...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ttyOnly points the evdev and logind sources of o at a directory and a
// bus that do not exist under dir, so that a test sees the terminals alone
// whatever the machine it runs on has.
func ttyOnly(o Options, dir string) Options {
	o.evdevDir = filepath.Join(dir, "no-input")
	o.logindBus = "unix:path=" + filepath.Join(dir, "no-bus")
	return o
}

// TestTTYIdleFollowsTyping logs a session in on a real pty through a utmp
// file, then "types" on it and checks the idle time drops.
func TestTTYIdleFollowsTyping(t *testing.T) {
	master, slave, ptyPath := openPTY(t)
	dir := t.TempDir()
	dev := filepath.Join(dir, "dev")
	if err := os.MkdirAll(filepath.Join(dev, "pts"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The device directory is private to the test (so the machine's own
	// consoles do not interfere) and links to the real terminal.
	line := "pts/" + filepath.Base(ptyPath)
	if err := os.Symlink(ptyPath, filepath.Join(dev, line)); err != nil {
		t.Fatal(err)
	}
	// A file outside the device directory, touched just now: a utmp line
	// escaping the directory would make it the newest input.
	outside := filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	utmp := filepath.Join(dir, "utmp")
	now := time.Now()
	writeUtmp(t, utmp,
		utmpEntry{Type: 2, Line: "~", User: "reboot", Time: now},
		utmpEntry{Type: 8, PID: 1, Line: "tty9", Time: now}, // a logged-out session
		utmpEntry{Type: utmpUserProcess, PID: int32(os.Getpid()), Line: ":0", User: "alice", Time: now},
		utmpEntry{Type: utmpUserProcess, PID: int32(os.Getpid()), Line: "../outside", User: "mallory", Time: now},
		utmpEntry{Type: utmpUserProcess, PID: int32(os.Getpid()), Line: line, User: "alice", Time: now},
	)
	s := New(ttyOnly(Options{Logger: testLogger(t), utmpPath: utmp, devRoot: dev}, dir))
	t.Cleanup(func() { s.Close() })
	// The pty is backdated below, perhaps to before boot: unlike a bare
	// console, a session's terminal counts whatever its time.
	ctx := context.Background()

	// The kernel updates a terminal's access time at most every 8 seconds;
	// moving it an hour back makes the next keystroke show at once.
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(ptyPath, hourAgo, hourAgo); err != nil {
		t.Fatalf("backdating %s: %v", ptyPath, err)
	}
	before, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	wantSource := "tty " + filepath.Join(dev, line)
	if !before.InputKnown || before.InputSource != wantSource || before.InputIdle < time.Hour {
		t.Fatalf("before typing: got known=%v source=%q idle=%v, want known, %q, at least 1h",
			before.InputKnown, before.InputSource, before.InputIdle, wantSource)
	}

	// Type a line; the session's shell (here: the test) reads it.
	if _, err := master.Write([]byte("ls\n")); err != nil {
		t.Fatal(err)
	}
	if err := slave.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := slave.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], []byte("ls\n")) {
		t.Fatalf("reading the typed line: got %q, %v", buf[:n], err)
	}

	after, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !after.InputKnown || after.InputSource != wantSource || after.InputIdle >= before.InputIdle-50*time.Minute {
		t.Errorf("after typing: got known=%v source=%q idle=%v, want known, %q, under %v",
			after.InputKnown, after.InputSource, after.InputIdle, wantSource, before.InputIdle-50*time.Minute)
	}
}

// TestTTYSources covers which devices count, with plain files standing in
// for devices (only their access times matter).
func TestTTYSources(t *testing.T) {
	type file struct {
		name string
		age  time.Duration
	}
	tests := []struct {
		name       string
		files      []file
		sessions   []string      // utmp USER_PROCESS lines; nil: no utmp file
		utmpBytes  int           // if set, a utmp file of this many zero bytes
		bootAgo    time.Duration // 0: a day ago
		wantKnown  bool
		wantSource string // relative to the device directory
		wantAge    time.Duration
		wantErr    bool
	}{
		{name: "nothing at all", wantKnown: false},
		{name: "empty utmp, no consoles", sessions: []string{}, wantKnown: false},
		{
			name:     "a session whose terminal is gone",
			sessions: []string{"pts/7"},
			files:    []file{{"pts/6", time.Minute}}, // another pty, nobody's session
		},
		{
			name:       "virtual consoles without sessions",
			files:      []file{{"tty1", 2 * time.Hour}, {"tty7", 30 * time.Minute}, {"tty", time.Second}, {"ttyS0", time.Second}, {"ttyUSB0", time.Second}},
			wantKnown:  true,
			wantSource: "tty7",
			wantAge:    30 * time.Minute,
		},
		{
			name:       "newest of sessions and consoles",
			sessions:   []string{"pts/1", "pts/2", "pts/2"},
			files:      []file{{"tty1", 2 * time.Hour}, {"pts/1", 40 * time.Minute}, {"pts/2", 3 * time.Minute}},
			wantKnown:  true,
			wantSource: "pts/2",
			wantAge:    3 * time.Minute,
		},
		{
			// The kernel made the consoles during boot: no one typed.
			name:    "consoles untouched since boot",
			bootAgo: 5 * time.Minute,
			files:   []file{{"tty1", 5*time.Minute - 2*time.Second}, {"tty2", 6 * time.Minute}},
		},
		{
			name:       "console typed on after boot",
			bootAgo:    5 * time.Minute,
			files:      []file{{"tty1", 5*time.Minute - 2*time.Second}, {"tty2", 2 * time.Minute}},
			wantKnown:  true,
			wantSource: "tty2",
			wantAge:    2 * time.Minute,
		},
		{
			// A session's terminal is made at login, which is input.
			name:       "session that logged in right at boot",
			bootAgo:    5 * time.Minute,
			sessions:   []string{"tty1"},
			files:      []file{{"tty1", 5*time.Minute - 2*time.Second}},
			wantKnown:  true,
			wantSource: "tty1",
			wantAge:    5*time.Minute - 2*time.Second,
		},
		{name: "utmp of another layout", utmpBytes: 100, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dev := filepath.Join(dir, "dev")
			now := time.Now()
			for _, f := range append([]file{{"null", 0}}, tt.files...) {
				p := filepath.Join(dev, f.name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-f.age), now.Add(-f.age)); err != nil {
					t.Fatal(err)
				}
			}
			utmp := filepath.Join(dir, "utmp")
			if tt.sessions != nil {
				var es []utmpEntry
				for _, l := range tt.sessions {
					es = append(es, utmpEntry{Type: utmpUserProcess, PID: 1, Line: l, User: "alice", Time: now})
				}
				writeUtmp(t, utmp, es...)
			}
			if tt.utmpBytes > 0 {
				if err := os.WriteFile(utmp, make([]byte, tt.utmpBytes), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			boot := now.Add(-cmp.Or(tt.bootAgo, 24*time.Hour))
			bootTime := func() (time.Time, error) { return boot, nil }
			in := newTTYInput(Options{utmpPath: utmp, devRoot: dev, bootTime: bootTime}, testLogger(t))
			got, known, err := in.latest()
			if (err != nil) != tt.wantErr {
				t.Fatalf("latest error = %v, want error %v", err, tt.wantErr)
			}
			if known != tt.wantKnown {
				t.Fatalf("known = %v (%+v), want %v", known, got, tt.wantKnown)
			}
			if !tt.wantKnown {
				return
			}
			if want := "tty " + filepath.Join(dev, tt.wantSource); got.source != want {
				t.Errorf("source = %q, want %q", got.source, want)
			}
			// The test's own run time adds to the age, never subtracts.
			if idle := time.Since(got.at); idle < tt.wantAge || idle > tt.wantAge+time.Minute {
				t.Errorf("idle = %v, want %v (plus the test's own run time)", idle, tt.wantAge)
			}
		})
	}
}
