package service

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUnit(t *testing.T) {
	f, err := Unit(Params{Binary: "/usr/local/bin/scavenge", Home: "/var/lib/scavenge"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != UnitPath || f.Mode != 0o644 {
		t.Errorf("got %s %v, want %s 0644", f.Path, f.Mode, UnitPath)
	}
	for _, want := range []string{
		"\nExecStart=/usr/local/bin/scavenge daemon --home /var/lib/scavenge\n",
		"\nUser=root\n", "\nDelegate=yes\n", "\nKillMode=mixed\n", "\nRestart=on-failure\n",
		"\nStandardError=journal\n", "\nWantedBy=multi-user.target\n",
	} {
		if !bytes.Contains(f.Data, []byte(want)) {
			t.Errorf("unit lacks %q:\n%s", strings.TrimSpace(want), f.Data)
		}
	}
}

func TestAutostart(t *testing.T) {
	f, err := Autostart(Params{Binary: "/opt/scavenge tools/bin/scavenge", Home: "/var/lib/scavenge"})
	if err != nil {
		t.Fatal(err)
	}
	want := "\nExec=\"/opt/scavenge tools/bin/scavenge\" tray --home /var/lib/scavenge\n"
	if f.Path != AutostartPath || !bytes.Contains(f.Data, []byte(want)) || !bytes.HasPrefix(f.Data, []byte("[Desktop Entry]\n")) {
		t.Errorf("got %s:\n%s\nwant %s with %q", f.Path, f.Data, AutostartPath, want)
	}
}

func TestParamsChecked(t *testing.T) {
	for _, p := range []Params{
		{Binary: "scavenge", Home: "/var/lib/scavenge"},
		{Binary: "/usr/bin/scavenge", Home: "relative"},
		{Binary: "/usr/bin/scav\nenge", Home: "/h"},
	} {
		if _, err := Unit(p); err == nil {
			t.Errorf("Unit(%+v): no error", p)
		}
		if _, err := Autostart(p); err == nil {
			t.Errorf("Autostart(%+v): no error", p)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, systemd, desktop string }{
		{"/usr/bin/scavenge", "/usr/bin/scavenge", "/usr/bin/scavenge"},
		{"/opt/my tools/scavenge", `"/opt/my tools/scavenge"`, `"/opt/my tools/scavenge"`},
		{"/srv/100%", "/srv/100%%", "/srv/100%%"},
		{"/srv/$HOME", "/srv/$$HOME", `"/srv/\\$HOME"`},
		{`/srv/a"b`, `"/srv/a\"b"`, `"/srv/a\\"b"`},
		{`/srv/a\b`, `"/srv/a\\b"`, `"/srv/a\\\\b"`},
	}
	for _, tt := range tests {
		if got := SystemdQuote(tt.in); got != tt.systemd {
			t.Errorf("SystemdQuote(%q) = %s, want %s", tt.in, got, tt.systemd)
		}
		if got := DesktopQuote(tt.in); got != tt.desktop {
			t.Errorf("DesktopQuote(%q) = %s, want %s", tt.in, got, tt.desktop)
		}
	}
}

// TestUnitVerifies has systemd check the unit the way it would load it,
// where systemd-analyze is installed (Debian's systemd package has it
// even in a container where systemd does not run).
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("systemd-analyze not found (Debian's systemd package): %v", err)
		}
		t.Skip("needs systemd-analyze (Debian's systemd package)")
	}
	root := t.TempDir()
	in := &Installer{Out: &bytes.Buffer{}, Root: root, Prefix: "/usr/local", Home: "/var/lib/scavenge",
		Executable: fakeBinary(t)}
	mustInit(t, root, "/var/lib/scavenge")
	if err := in.Install(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(root, UnitPath)
	// ExecStart must name an executable: point it at the copy under root.
	data, _ := os.ReadFile(unit)
	data = bytes.ReplaceAll(data, []byte("ExecStart=/usr/local"), []byte("ExecStart="+filepath.Join(root, "usr/local")))
	if err := os.WriteFile(unit, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}

func TestInstaller(t *testing.T) {
	root := t.TempDir()
	mustInit(t, root, "/var/lib/scavenge")
	var out bytes.Buffer
	var calls [][]string
	in := &Installer{Out: &out, Root: root, Prefix: "/usr/local", Home: "/var/lib/scavenge", Systemd: true,
		Executable: fakeBinary(t),
		Systemctl: func(_ context.Context, args ...string) error {
			calls = append(calls, args)
			return nil
		}}
	if err := in.Install(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"daemon-reload"}, {"enable", "--now", UnitName}}
	if !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("install ran systemctl %v, want %v", calls, want)
	}
	for _, p := range []string{UnitPath, AutostartPath, "/usr/local/bin/scavenge"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("install did not write %s: %v", p, err)
		}
	}
	calls = nil
	if err := in.Uninstall(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	want = [][]string{{"disable", "--now", UnitName}, {"daemon-reload"}}
	if !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("uninstall ran systemctl %v, want %v", calls, want)
	}
	t.Log(out.String())
}

// fakeBinary is a small stand-in for the scavenge binary.
func fakeBinary(t *testing.T) func() (string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "scavenge")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho scavenge\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return func() (string, error) { return p, nil }
}

// mustInit makes a home with a config file under root.
func mustInit(t *testing.T, root, home string) {
	t.Helper()
	dir := filepath.Join(root, home)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scavenge.toml"), []byte("version = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
