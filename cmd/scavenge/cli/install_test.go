package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestInstall installs into a temporary root, as an image build would,
// and uninstalls again: the files, their contents and modes, what is
// printed instead of systemctl, and that the home is kept.
func TestInstall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("install sets up systemd and XDG autostart: Linux only")
	}
	fake := filepath.Join(t.TempDir(), "scavenge-build")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho fake scavenge\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	defer func(f func() (string, error)) { executable = f }(executable)
	executable = func() (string, error) { return fake, nil }

	root := t.TempDir()
	at := func(p string) string { return filepath.Join(root, p) }
	unit, desktop, bin := at("etc/systemd/system/scavenge.service"), at("etc/xdg/autostart/scavenge-tray.desktop"), at("usr/local/bin/scavenge")

	code, _, stderr := runCLI(t, nil, "install", "--root", root)
	if code != 1 || !strings.Contains(stderr, "no config at "+at("var/lib/scavenge/scavenge.toml")) ||
		!strings.Contains(stderr, "scavenge init --home /var/lib/scavenge") {
		t.Errorf("install without a home: got %d %q, want 1 and how to make the home", code, stderr)
	}
	if _, err := os.Stat(at("etc")); err == nil {
		t.Errorf("install without a home wrote files")
	}
	if code, _, _ := runCLI(t, nil, "init", "--home", at("var/lib/scavenge")); code != 0 {
		t.Fatalf("init: exit %d", code)
	}

	code, stdout, _ := runCLI(t, nil, "install", "--root", root, "--dry-run")
	if code != 0 || !strings.Contains(stdout, "would write "+unit) ||
		!strings.Contains(stdout, "ExecStart=/usr/local/bin/scavenge daemon --home /var/lib/scavenge") ||
		!strings.Contains(stdout, "would copy "+fake+" to "+bin) {
		t.Errorf("dry run: got %d, want 0 and the files it would write", code)
	}
	if _, err := os.Stat(at("etc")); err == nil {
		t.Errorf("a dry run wrote files")
	}

	for range 2 { // a second install overwrites the first
		code, stdout, _ = runCLI(t, nil, "install", "--root", root)
		if code != 0 || !strings.Contains(stdout, "files are under --root "+root+
			": on the system they are for, run systemctl daemon-reload && systemctl enable --now scavenge.service") {
			t.Fatalf("install: got %d, want 0 and the systemctl commands to run", code)
		}
	}
	wantFile(t, unit, 0o644, "ExecStart=/usr/local/bin/scavenge daemon --home /var/lib/scavenge\n", "Delegate=yes\n", "KillMode=mixed\n")
	wantFile(t, desktop, 0o644, "Exec=/usr/local/bin/scavenge tray --home /var/lib/scavenge\n")
	wantFile(t, bin, 0o755, "echo fake scavenge")

	code, stdout, _ = runCLI(t, nil, "uninstall", "--root", root, "--keep-binary")
	if code != 0 || !strings.Contains(stdout, "removed "+unit) || !strings.Contains(stdout, "Kept the home "+at("var/lib/scavenge")) {
		t.Errorf("uninstall --keep-binary: got %d, want 0, the unit removed and the home kept", code)
	}
	gone(t, unit, desktop)
	wantFile(t, bin, 0o755, "echo fake scavenge")
	wantFile(t, at("var/lib/scavenge/scavenge.toml"), 0o600)
	if code, stdout, _ = runCLI(t, nil, "uninstall", "--root", root); code != 0 || !strings.Contains(stdout, unit+": not there") {
		t.Errorf("second uninstall: got %d, want 0 and 'not there'", code)
	}
	gone(t, bin)

	// Another prefix and a home with a space; no tray on a server.
	home := "/srv/office peer"
	if code, _, _ := runCLI(t, nil, "init", "--home", at(home)); code != 0 {
		t.Fatalf("init: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "install", "--root", root, "--prefix", "/opt/scavenge", "--home", home, "--no-tray"); code != 0 {
		t.Fatalf("install --no-tray: exit %d", code)
	}
	wantFile(t, unit, 0o644, `ExecStart=/opt/scavenge/bin/scavenge daemon --home "/srv/office peer"`+"\n")
	wantFile(t, at("opt/scavenge/bin/scavenge"), 0o755)
	gone(t, desktop)
}

func TestInstallUsage(t *testing.T) {
	for _, args := range [][]string{
		{"install", "--root", "relative/dir"},
		{"install", "--home", "var/lib/scavenge", "--dry-run"},
		{"uninstall", "--prefix", "usr"},
		{"install", "extra"},
	} {
		if code, _, _ := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// wantFile checks a file's mode and that it contains each part.
func wantFile(t *testing.T, path string, mode os.FileMode, parts ...string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
	data, _ := os.ReadFile(path)
	for _, p := range parts {
		if !strings.Contains(string(data), p) {
			t.Errorf("%s lacks %q:\n%s", path, p, data)
		}
	}
}

func gone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
}
