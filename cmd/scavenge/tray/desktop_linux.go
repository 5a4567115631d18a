package tray

import (
	"context"
	"log/slog"
	"time"

	"github.com/godbus/dbus/v5"
)

// busTimeout bounds the session bus check: a bus address that accepts and
// then says nothing must not hang the tray's start.
const busTimeout = 5 * time.Second

// watcherName is the StatusNotifierWatcher: the desktop's tray host
// (KDE, XFCE, Cinnamon, GNOME with the AppIndicator extension) owns it and
// shows the icons registered with it.
const watcherName = "org.kde.StatusNotifierWatcher"

// checkDesktop makes sure a session bus answers, as the toolkit would wait
// forever without one, and warns when no tray host is on it yet. It never
// autolaunches a bus (nobody's tray host would see an icon on a new one).
func checkDesktop(ctx context.Context, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, busTimeout)
	defer cancel()
	conn, err := dbus.SessionBusPrivateNoAutoStartup(dbus.WithContext(ctx))
	if err != nil {
		return &NoBusError{Err: err}
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return &NoBusError{Err: err}
	}
	if err := conn.Hello(); err != nil {
		return &NoBusError{Err: err}
	}
	var has bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has)
	switch {
	case err != nil:
		return &NoBusError{Err: err}
	case !has:
		log.Warn("no tray host on the session bus yet (" + watcherName + "): the icon appears when one starts; " +
			"GNOME needs the AppIndicator extension")
	}
	return nil
}
