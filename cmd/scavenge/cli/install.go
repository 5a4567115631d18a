package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/scavenge/scavenge/cmd/scavenge/cli/service"
)

var installCmd = &command{
	name:     "install",
	synopsis: "[--home DIR] [--prefix DIR] [--root DIR] [--no-tray] [--dry-run]",
	summary:  "run the daemon as a system service and the tray at every login (Linux)",
	help: `
Sets this machine up the way an office PC runs scavenge: copies this binary
to PREFIX/bin/scavenge, writes the systemd unit ` + service.UnitPath + `
(the daemon as root, so guests run as the unprivileged guest user; cgroups
delegated; logs in the journal: journalctl -u scavenge) and the autostart
entry ` + service.AutostartPath + ` that starts 'scavenge tray' when anyone
logs in to the desktop. When systemd runs, it then enables and starts the
service; otherwise it says what to run.

The home must exist first: scavenge init --home ` + service.DefaultHome + ` ...
(with your office's --swarm-key and --bootstrap). 'scavenge uninstall'
removes what install wrote and keeps the home.

--root writes everything under another directory (an image being built,
or a test) and never runs systemctl. Windows and macOS: see the README.`,
	run: runInstall,
}

var uninstallCmd = &command{
	name:     "uninstall",
	synopsis: "[--home DIR] [--prefix DIR] [--root DIR] [--keep-binary] [--dry-run]",
	summary:  "stop the service and remove what 'scavenge install' wrote",
	help: `
Stops and disables the service when systemd runs, and removes the unit, the
tray's autostart entry and PREFIX/bin/scavenge (unless --keep-binary). The
home directory (identity, swarm key, config, jobs) is kept: remove it
yourself to forget this peer.`,
	run: runUninstall,
}

func init() {
	register(installCmd)
	register(uninstallCmd)
}

// executable is this program's binary, which install copies; tests
// replace it.
var executable = func() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}

// installFlags are the flags install and uninstall share.
type installFlags struct {
	home, prefix, root string
	dryRun             bool
}

func addInstallFlags(fs *flag.FlagSet) *installFlags {
	f := &installFlags{}
	fs.StringVar(&f.home, "home", service.DefaultHome, "the daemon's home `DIR` on the target system")
	fs.StringVar(&f.prefix, "prefix", service.DefaultPrefix, "the binary goes in `DIR`/bin")
	fs.StringVar(&f.root, "root", "/", "write under `DIR` instead of / (and run no systemctl)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be written and run; change nothing")
	return f
}

// installer checks the flags and makes the installer they describe.
func (f *installFlags) installer(e *env) (*service.Installer, error) {
	for _, p := range []struct{ flag, v string }{{"--home", f.home}, {"--prefix", f.prefix}, {"--root", f.root}} {
		if !filepath.IsAbs(p.v) {
			return nil, usagef("%s %q: want an absolute path", p.flag, p.v)
		}
	}
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("install sets up systemd and XDG autostart, which are Linux's; on %s see the README (On an office PC: service and tray)", runtime.GOOS)
	}
	in := &service.Installer{Out: e.stdout, Root: filepath.Clean(f.root), Prefix: filepath.Clean(f.prefix),
		Home: filepath.Clean(f.home), DryRun: f.dryRun, Executable: executable}
	live := in.Root == "/"
	if live && !in.DryRun && os.Geteuid() != 0 {
		return nil, errors.New("this writes to /etc and " + in.Prefix + ": run it as root (sudo), or look first with --dry-run")
	}
	in.Systemd = live && service.Booted()
	in.Systemctl = func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, "systemctl", args...)
		cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("systemctl %s: %w", strings.Join(args, " "), err)
		}
		return nil
	}
	return in, nil
}

func runInstall(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	f := addInstallFlags(fs)
	noTray := fs.Bool("no-tray", false, "do not start the tray at desktop logins (servers)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	in, err := f.installer(e)
	if err != nil {
		return err
	}
	return in.Install(ctx, !*noTray)
}

func runUninstall(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	f := addInstallFlags(fs)
	keepBinary := fs.Bool("keep-binary", false, "leave PREFIX/bin/scavenge in place")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	in, err := f.installer(e)
	if err != nil {
		return err
	}
	return in.Uninstall(ctx, !*keepBinary)
}
