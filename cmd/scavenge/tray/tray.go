// Package tray is `scavenge tray`: an icon in the desktop's notification
// area that shows what the daemon does with this machine, and a menu to
// take it back. It is one more client of the daemon's local API (package
// scavenger/client); it polls the daemon's status, so it survives daemon
// restarts, and shows a crossed-out icon while no daemon answers.
//
// The icon comes from fyne.io/systray: StatusNotifierItem over D-Bus on
// Linux (pure Go), the notification area on Windows, the menu bar on macOS
// (cgo: a build without cgo has no tray there, see Run). The logic (what
// to show, the timed pause) is apart from the toolkit, in render and app.
package tray

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/scavenge/scavenge/scavenger/client"
)

// Defaults of Options.
const (
	DefaultEvery  = 2 * time.Second
	DefaultSnooze = time.Hour
)

// callTimeout bounds one call to the daemon: a daemon that hangs must not
// freeze the menu.
const callTimeout = 5 * time.Second

// Options configure Run.
type Options struct {
	// Home is the daemon's home directory: where its socket is, and its
	// config, read (when readable) to say what guests get on the owner's return.
	Home string
	// Client talks to the daemon; default client.New(Home).
	Client *client.Client
	// Every is how often the daemon is asked for its status.
	Every time.Duration
	// Snooze is the length of the menu's "Pause for ..." (BOINC's snooze).
	Snooze time.Duration
	// Log gets state changes and errors; default: discarded.
	Log *slog.Logger
	// Open opens a URL in the desktop's browser (the menu's "Open
	// dashboard"); default: xdg-open, open on macOS, url.dll on Windows.
	// It is called on a goroutine of its own and may block.
	Open func(url string) error
}

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = client.New(o.Home)
	}
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.Snooze <= 0 {
		o.Snooze = DefaultSnooze
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Open == nil {
		o.Open = openURL
	}
	return o
}

// ErrNeedsCgo is returned by Run on macOS in a build without cgo: the
// macOS menu bar is reached through Objective-C.
var ErrNeedsCgo = errors.New("the macOS tray needs a build with cgo (CGO_ENABLED=1 on a Mac)")

// ErrAlreadyRan is returned by a second Run in one process: the toolkit
// keeps one global tray that cannot be started twice.
var ErrAlreadyRan = errors.New("the tray already ran in this process")

// NoBusError is returned by Run on Linux when there is no D-Bus session
// bus to reach the desktop's tray through. The toolkit would wait forever
// without one, so Run checks first.
type NoBusError struct {
	Err error // what connecting said
}

func (e *NoBusError) Error() string {
	return fmt.Sprintf("no D-Bus session bus (%v): the tray needs a desktop session; "+
		"start it from the desktop (autostart), or try `dbus-run-session -- scavenge tray` with a tray host running", e.Err)
}

func (e *NoBusError) Unwrap() error { return e.Err }
