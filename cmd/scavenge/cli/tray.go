package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/scavenge/scavenge/cmd/scavenge/tray"
)

var trayCmd = &command{
	name:     "tray",
	synopsis: "[--home DIR] [--every DURATION] [--snooze DURATION]",
	summary:  "show this machine's state in the desktop's notification area",
	help: `
An icon in the notification area (system tray, menu bar) shows what the
daemon does with this machine: in use by you, idle and lending, running
other peers' tasks, paused, or no daemon. Its tooltip says what and why in
one line; its menu pauses lending for an hour (--snooze) or until you resume,
resumes, and lists the guests running here with what happens to them when
you come back.

The tray is a client of the daemon: it asks for the status every --every,
shows a crossed-out icon while no daemon answers, and picks up again when the
daemon is back. A timed pause is kept by the tray: if you quit the tray, the
machine stays paused until 'scavenge resume'.

On Linux the icon goes over D-Bus to the desktop's StatusNotifierItem host
(KDE, XFCE, Cinnamon, GNOME with the AppIndicator extension); without a
session bus the command stops with an error. 'scavenge install' starts it at
every desktop login.`,
	run: runTray,
}

func init() { register(trayCmd) }

func runTray(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	every := fs.Duration("every", tray.DefaultEvery, "ask the daemon for its status every `DURATION`")
	snooze := fs.Duration("snooze", tray.DefaultSnooze, "how long the menu's \"Pause for ...\" pauses, a `DURATION`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *every <= 0 || *snooze <= 0 {
		return usagef("--every and --snooze must be positive")
	}
	dir, err := home.home(e)
	if err != nil {
		return err
	}
	c := newClient(dir)
	c.StartWait = 0 // an absent daemon is a state to show, not to wait for
	err = tray.Run(ctx, tray.Options{
		Home:   dir,
		Client: c,
		Every:  *every,
		Snooze: *snooze,
		Log:    slog.New(slog.NewTextHandler(e.stderr, nil)),
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
