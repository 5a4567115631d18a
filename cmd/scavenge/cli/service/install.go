package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/scavenge/scavenge/config"
)

// Installer writes the service's files under Root, or removes them; it
// is `scavenge install` and `scavenge uninstall` once their flags are read.
type Installer struct {
	Out    io.Writer // what was done, and what to run by hand
	Root   string    // "/" on a live system
	Prefix string    // the binary goes in Prefix/bin (on the target system)
	Home   string    // the daemon's home on the target system
	DryRun bool      // print what would be done; change nothing
	// Systemd says that systemd runs this machine and Root is "/":
	// Systemctl is then run to reload, enable and start the unit.
	Systemd   bool
	Systemctl func(ctx context.Context, args ...string) error
	// Executable is the binary to install (normally os.Executable).
	Executable func() (string, error)
}

// at is a target-system path as written under the root.
func (in *Installer) at(p string) string { return filepath.Join(in.Root, p) }

func (in *Installer) binary() string { return filepath.Join(in.Prefix, "bin", "scavenge") }

// Install copies the binary, writes the unit and (with tray) the tray's
// autostart entry, and starts the service when systemd runs.
func (in *Installer) Install(ctx context.Context, tray bool) error {
	// A service without a home would fail at every start: refuse early.
	cfg := filepath.Join(in.Home, config.FileName)
	if _, err := os.Stat(in.at(cfg)); err != nil {
		msg := fmt.Sprintf("no config at %s: make the home first with `scavenge init --home %s` "+
			"(with your office's --swarm-key and --bootstrap)", in.at(cfg), ShellQuote(in.Home))
		if !in.DryRun {
			return fmt.Errorf("%s: %w", msg, err)
		}
		fmt.Fprintln(in.Out, "warning: "+msg)
	}
	p := Params{Binary: in.binary(), Home: in.Home}
	files := []func(Params) (File, error){Unit}
	if tray {
		files = append(files, Autostart)
	}
	if err := in.copyBinary(); err != nil {
		return err
	}
	for _, make := range files {
		f, err := make(p)
		if err != nil {
			return err
		}
		if err := in.write(f); err != nil {
			return err
		}
	}
	start := [][]string{{"daemon-reload"}, {"enable", "--now", UnitName}}
	if err := in.runSystemctl(ctx, start); err != nil {
		return err
	}
	if tray {
		fmt.Fprintf(in.Out, "The tray starts at the next desktop login; now: %s tray --home %s\n", in.binary(), ShellQuote(in.Home))
	}
	return nil
}

// Uninstall stops and disables the service when systemd runs, and removes
// the unit, the autostart entry and (with binary) the binary. The home stays.
func (in *Installer) Uninstall(ctx context.Context, binary bool) error {
	if _, err := os.Stat(in.at(UnitPath)); err == nil {
		if err := in.runSystemctl(ctx, [][]string{{"disable", "--now", UnitName}}); err != nil {
			return err
		}
	}
	paths := []string{UnitPath, AutostartPath}
	if binary {
		paths = append(paths, in.binary())
	}
	var errs []error
	for _, p := range paths {
		errs = append(errs, in.remove(p))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := in.runSystemctl(ctx, [][]string{{"daemon-reload"}}); err != nil {
		return err
	}
	fmt.Fprintf(in.Out, "Kept the home %s (identity, swarm key, config, jobs): remove it to forget this peer.\n", in.at(in.Home))
	return nil
}

// copyBinary puts this program at PREFIX/bin/scavenge, owned by whoever
// installs (root): the service runs it as root, so it must not stay
// somewhere a user can write, such as ~/go/bin.
func (in *Installer) copyBinary() error {
	src, err := in.Executable()
	if err != nil {
		return fmt.Errorf("finding this program's binary: %w", err)
	}
	dst := in.at(in.binary())
	if same(src, dst) {
		fmt.Fprintf(in.Out, "%s is already in place\n", dst)
		return nil
	}
	if in.DryRun {
		fmt.Fprintf(in.Out, "would copy %s to %s\n", src, dst)
		return nil
	}
	r, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying the binary: %w", err)
	}
	defer r.Close()
	if err := writeAtomic(dst, 0o755, func(w io.Writer) error { _, err := io.Copy(w, r); return err }); err != nil {
		return err
	}
	fmt.Fprintf(in.Out, "copied %s to %s\n", src, dst)
	return nil
}

func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// write writes f under the root, or prints it on a dry run.
func (in *Installer) write(f File) error {
	dst := in.at(f.Path)
	if in.DryRun {
		fmt.Fprintf(in.Out, "would write %s:\n%s\n", dst, indentText(string(f.Data), "    "))
		return nil
	}
	if err := writeAtomic(dst, f.Mode, func(w io.Writer) error { _, err := w.Write(f.Data); return err }); err != nil {
		return err
	}
	fmt.Fprintf(in.Out, "wrote %s\n", dst)
	return nil
}

// remove removes p under the root, or says it would.
func (in *Installer) remove(p string) error {
	dst := in.at(p)
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(in.Out, "%s: not there\n", dst)
		return nil
	}
	if in.DryRun {
		fmt.Fprintf(in.Out, "would remove %s\n", dst)
		return nil
	}
	if err := os.Remove(dst); err != nil {
		return fmt.Errorf("removing %w", err) // the error names the path
	}
	fmt.Fprintf(in.Out, "removed %s\n", dst)
	return nil
}

// runSystemctl runs the commands when systemd runs this machine, and
// otherwise says what to run where it does.
func (in *Installer) runSystemctl(ctx context.Context, cmds [][]string) error {
	var lines []string
	for _, c := range cmds {
		lines = append(lines, "systemctl "+strings.Join(c, " "))
	}
	all := strings.Join(lines, " && ")
	switch {
	case in.Systemd && in.DryRun:
		fmt.Fprintf(in.Out, "would run %s\n", all)
		return nil
	case in.Systemd:
	case in.Root != "/":
		fmt.Fprintf(in.Out, "files are under --root %s: on the system they are for, run %s\n", in.Root, all)
		return nil
	default:
		fmt.Fprintf(in.Out, "systemd is not running here: where it runs, run %s\n", all)
		return nil
	}
	for i, c := range cmds {
		fmt.Fprintln(in.Out, "running "+lines[i])
		if err := in.Systemctl(ctx, c...); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes dst through a temporary file in its directory and a
// rename, making the directories it needs: a running binary or a unit
// being read is replaced whole, never seen half written.
func writeAtomic(dst string, mode fs.FileMode, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("making %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}

// indentText prefixes every line of s.
func indentText(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix)
}

// ShellQuote quotes s for a POSIX shell when it needs it, so that printed
// commands can be pasted.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
