package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// logindSource asks systemd-logind whether anyone is at the machine. Its
// Manager aggregates the idle hints of all sessions: a desktop (GNOME, KDE,
// under Wayland or X) sets its session's hint when its own idle timer
// fires, and logind derives a text session's from its terminal. Reading it
// needs no privilege, which makes it the source that works for a daemon
// that may not open /dev/input.
//
// A background goroutine keeps one connection to the bus and listens for
// PropertiesChanged, so that the owner's return is notified as soon as the
// desktop clears the hint; each read asks for the current values.
type logindSource struct {
	addr   string // "" for the system bus
	log    *slog.Logger
	notify func()
	ctx    context.Context // ends when the source closes
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conn   *dbus.Conn // nil while not connected
	absent string     // why logind is not used, reported once; "" while it answers
}

const (
	logindName    = "org.freedesktop.login1"
	logindPath    = dbus.ObjectPath("/org/freedesktop/login1")
	logindManager = "org.freedesktop.login1.Manager"

	propertiesChanged = "org.freedesktop.DBus.Properties.PropertiesChanged"

	// logindRetry is how often a missing bus is looked for again: a
	// daemon started early in boot may come before the bus.
	logindRetry = time.Minute
	// logindTimeout bounds a connection attempt and a query, so that a
	// hung bus never stalls the presence loop.
	logindTimeout = 2 * time.Second
)

// The errors by which the bus says nobody serves login1 there.
var logindMissing = []string{
	"org.freedesktop.DBus.Error.ServiceUnknown",
	"org.freedesktop.DBus.Error.NameHasNoOwner",
	"org.freedesktop.DBus.Error.UnknownObject",
	"org.freedesktop.DBus.Error.UnknownInterface",
	"org.freedesktop.DBus.Error.UnknownProperty",
}

// startLogind connects before it returns, so that the first Read already
// hears logind, and then keeps the connection in the background.
func startLogind(o Options, log *slog.Logger, notify func()) *logindSource {
	l := &logindSource{addr: o.logindBus, log: log, notify: notify}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	signals := l.connectOrReport()
	l.wg.Go(func() { l.run(signals) })
	return l
}

func (l *logindSource) close() {
	l.cancel() // closes the connection, which ends run's wait
	l.wg.Wait()
}

// run listens until the connection is lost, and connects again every
// logindRetry until the source closes. signals is nil while not connected.
func (l *logindSource) run(signals chan *dbus.Signal) {
	for {
		if signals != nil {
			l.listen(signals)
			l.setConn(nil)
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(logindRetry):
		}
		signals = l.connectOrReport()
	}
}

func (l *logindSource) connectOrReport() chan *dbus.Signal {
	signals, err := l.connect()
	if err != nil {
		l.unavailable("cannot connect to the D-Bus system bus", err)
		return nil
	}
	return signals
}

// connect opens a private connection that the source's context closes,
// subscribes to the Manager's property changes and makes the connection
// the one reads use.
func (l *logindSource) connect() (chan *dbus.Signal, error) {
	var conn *dbus.Conn
	var err error
	if l.addr == "" {
		conn, err = dbus.SystemBusPrivate(dbus.WithContext(l.ctx))
	} else {
		conn, err = dbus.Dial(l.addr, dbus.WithContext(l.ctx))
	}
	if err != nil {
		return nil, err
	}
	stop := time.AfterFunc(logindTimeout, func() { conn.Close() })
	defer stop.Stop()
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticating: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("hello: %w", err)
	}
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)
	err = conn.AddMatchSignalContext(l.ctx,
		dbus.WithMatchSender(logindName),
		dbus.WithMatchObjectPath(logindPath),
		dbus.WithMatchInterface("org.freedesktop.DBus.Properties"),
		dbus.WithMatchMember("PropertiesChanged"),
		dbus.WithMatchArg(0, logindManager))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscribing to %s changes: %w", logindManager, err)
	}
	l.setConn(conn)
	return signals, nil
}

// listen notifies on each change of the idle hint until the connection
// closes, which closes the channel.
func (l *logindSource) listen(signals <-chan *dbus.Signal) {
	for sig := range signals {
		if idleHintChanged(sig) {
			l.notify()
		}
	}
}

// idleHintChanged reports whether a signal says the Manager's idle hint
// changed, in value or just invalidated.
func idleHintChanged(sig *dbus.Signal) bool {
	if sig.Name != propertiesChanged || sig.Path != logindPath || len(sig.Body) < 3 {
		return false
	}
	if iface, _ := sig.Body[0].(string); iface != logindManager {
		return false
	}
	changed, _ := sig.Body[1].(map[string]dbus.Variant)
	invalidated, _ := sig.Body[2].([]string)
	for _, p := range []string{"IdleHint", "IdleSinceHint"} {
		if _, ok := changed[p]; ok || slices.Contains(invalidated, p) {
			return true
		}
	}
	return false
}

func (l *logindSource) setConn(c *dbus.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conn = c
}

// unavailable reports once, at info level, why logind is not used: most
// servers and containers have no bus or no logind, which is no fault.
func (l *logindSource) unavailable(why string, err error) {
	l.mu.Lock()
	first := l.absent == ""
	l.absent = why
	l.mu.Unlock()
	if first {
		l.log.Info("logind idle hint not used: "+why, "err", err)
	}
}

// available notes that logind answers, saying so if it did not before.
func (l *logindSource) available() {
	l.mu.Lock()
	was := l.absent
	l.absent = ""
	l.mu.Unlock()
	if was != "" {
		l.log.Info("logind idle hint in use")
	}
}

// latest asks logind for the idle hint. ok is false when logind is not
// there or has no session, which leaves it to the other sources.
func (l *logindSource) latest(ctx context.Context) (a activity, ok bool, err error) {
	l.mu.Lock()
	conn := l.conn
	l.mu.Unlock()
	if conn == nil {
		return activity{}, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, logindTimeout)
	defer cancel()
	idle, since, err := logindHint(ctx, conn)
	var derr dbus.Error
	switch {
	case err == nil:
		l.available()
		a, ok := logindActivity(idle, since)
		return a, ok, nil
	case errors.As(err, &derr) && slices.Contains(logindMissing, derr.Name):
		l.unavailable("logind is not on the bus", err)
		return activity{}, false, nil
	default:
		return activity{}, false, fmt.Errorf("logind: %w", err)
	}
}

// logindHint reads the Manager's IdleHint and IdleSinceHint.
func logindHint(ctx context.Context, conn *dbus.Conn) (idle bool, since uint64, err error) {
	if idle, err = logindProperty[bool](ctx, conn, "IdleHint"); err != nil {
		return false, 0, err
	}
	since, err = logindProperty[uint64](ctx, conn, "IdleSinceHint")
	return idle, since, err
}

// logindActivity turns the Manager's hint into an input time.
//
// While any session is not idle, the owner counts as present now: logind
// knows no more precise time, since the desktop only says when its own idle
// timer fired. Once all are idle, IdleSinceHint (microseconds since the
// epoch) is when the last one went idle; the owner's last input was earlier
// still by the desktop's idle delay, so the idle time read is, if anything,
// too short: on the owner's side. With no session at all logind says idle
// since 0, which tells nothing.
func logindActivity(idle bool, since uint64) (activity, bool) {
	switch {
	case !idle:
		return activity{at: time.Now(), source: "logind: a session is in use", aggregate: true}, true
	case since == 0:
		return activity{}, false
	default:
		return activity{at: time.UnixMicro(int64(since)), source: "logind: all sessions idle", aggregate: true}, true
	}
}

// logindProperty reads one property of the Manager. NoAutoStart keeps the
// bus from trying to start logind on a machine that does not run it.
func logindProperty[T any](ctx context.Context, conn *dbus.Conn, name string) (T, error) {
	var zero T
	var v dbus.Variant
	call := conn.Object(logindName, logindPath).CallWithContext(ctx,
		"org.freedesktop.DBus.Properties.Get", dbus.FlagNoAutoStart, logindManager, name)
	if err := call.Store(&v); err != nil {
		return zero, fmt.Errorf("%s.%s: %w", logindManager, name, err)
	}
	t, ok := v.Value().(T)
	if !ok {
		return zero, fmt.Errorf("%s.%s: got %s, want %T", logindManager, name, v.Signature(), zero)
	}
	return t, nil
}
