package tray

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger"
)

// daemon is the part of the local API the tray uses (*client.Client).
type daemon interface {
	Status(ctx context.Context) (scavenger.Status, error)
	Pause(ctx context.Context, reason string) (scavenger.Status, error)
	Resume(ctx context.Context) (scavenger.Status, error)
	Peers(ctx context.Context) ([]scavenger.PeerInfo, error)
}

// ui is the icon and its menu: it shows views and reports the owner's clicks.
type ui interface {
	show(view)
	actions() <-chan action
}

// action is a click on a menu item that does something.
type action int

const (
	actPauseFor   action = iota // pause for Options.Snooze
	actPauseUntil               // pause until resumed
	actResume
	actDashboard // open the dashboard in the browser
	actQuit
)

// app polls the daemon, keeps the owner's pause and feeds the UI.
type app struct {
	opts Options
	d    daemon
	ui   ui
	log  *slog.Logger
	now  func() time.Time

	hold     hold
	names    map[string]string // peer ID -> machine name
	onReturn string            // from the config; reread when the daemon comes back
	dash     dashLink          // likewise, with the token file
	online   bool              // the last status call answered
	polled   bool              // a status call was made at all
}

func newApp(opts Options, d daemon, u ui) *app {
	return &app{opts: opts, d: d, ui: u, log: opts.Log.With("component", "tray"), now: time.Now,
		names: map[string]string{}}
}

// run polls every opts.Every and acts on clicks until ctx ends or the
// owner quits the tray.
func (a *app) run(ctx context.Context) error {
	t := time.NewTicker(a.opts.Every)
	defer t.Stop()
	a.refresh(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case act := <-a.ui.actions():
			if act == actQuit {
				return nil
			}
			a.do(ctx, act)
		}
		a.refresh(ctx)
	}
}

// do carries out a click.
func (a *app) do(ctx context.Context, act action) {
	switch act {
	case actPauseFor:
		a.hold.start(a.now(), a.opts.Snooze)
		a.pause(ctx)
	case actPauseUntil:
		a.hold.start(a.now(), 0)
		a.pause(ctx)
	case actResume:
		a.hold.clear()
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		if _, err := a.d.Resume(cctx); err != nil {
			a.log.Warn("resume", "err", err)
		}
	case actDashboard:
		if a.dash.url == "" || !a.online {
			return // the item is disabled; a click may still be on its way
		}
		url, open, log := a.dash.url, a.opts.Open, a.log
		log.Info("opening the dashboard in the browser")
		go func() { // the opener may wait for the browser it starts
			if err := open(url); err != nil {
				log.Warn("opening the dashboard", "err", err)
			}
		}()
	}
}

// pause asks the daemon to pause for the hold. A daemon that does not
// answer gets the pause when it is back.
func (a *app) pause(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := a.d.Pause(cctx, a.hold.note); err != nil {
		a.log.Warn("pause", "err", err)
		a.hold.lost = true
	}
}

// refresh asks the daemon for its status, keeps the hold, and shows it.
func (a *app) refresh(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	st, err := a.d.Status(cctx)
	if ctx.Err() != nil {
		return
	}
	switch a.hold.step(a.now(), st, err) {
	case holdPause:
		a.log.Info("the daemon came back unpaused: pausing it again", "reason", a.hold.note)
		if st, err = a.d.Pause(cctx, a.hold.note); err != nil {
			a.hold.lost = true // try again at the next poll
		}
	case holdResume:
		a.log.Info("timed pause over: resuming")
		if st, err = a.d.Resume(cctx); err == nil {
			a.hold.clear()
		}
	}
	a.noteOnline(err)
	if err == nil && a.dash.again {
		_, a.dash = readConfig(a.opts.Home, a.log)
	}
	if err == nil {
		a.learnNames(cctx, st)
	}
	a.ui.show(render(snapshot{now: a.now(), home: a.opts.Home, st: st, err: err, hold: a.hold,
		names: a.names, onReturn: a.onReturn, dash: a.dash, snooze: a.opts.Snooze}))
}

// noteOnline logs when the daemon goes away or comes back, and rereads
// the config when it is back (a restart may have been for a new config).
func (a *app) noteOnline(err error) {
	online := err == nil
	if a.polled && online == a.online {
		return
	}
	a.polled, a.online = true, online
	if !online {
		a.log.Warn("daemon not reachable; retrying", "every", a.opts.Every, "err", err)
		return
	}
	a.log.Info("daemon reachable", "home", a.opts.Home)
	a.onReturn, a.dash = readConfig(a.opts.Home, a.log)
}

// learnNames looks up the machine names of guests' homes it does not know.
func (a *app) learnNames(ctx context.Context, st scavenger.Status) {
	missing := false
	for _, g := range st.Guests {
		if _, ok := a.names[g.HomePeer]; !ok && g.HomePeer != st.ID {
			missing = true
		}
	}
	if !missing {
		return
	}
	peers, err := a.d.Peers(ctx)
	if err != nil {
		return // the guest lines show the peer ID instead
	}
	for _, p := range peers {
		a.names[p.Peer] = p.Name
	}
	for _, g := range st.Guests {
		if _, ok := a.names[g.HomePeer]; !ok {
			a.names[g.HomePeer] = "" // not in the swarm's offers: do not ask again
		}
	}
}

// readConfig reads what the tray needs of the config: on_owner_return's
// action, "" when the config cannot be read (a daemon running as another
// user keeps it to itself; the status does not say it while the machine
// donates), and where the dashboard is.
func readConfig(home string, log *slog.Logger) (onReturn string, dash dashLink) {
	c, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		log.Debug("config not readable: the guests' fate on the owner's return and the dashboard are not shown", "err", err)
	} else {
		onReturn = c.Policy.OnOwnerReturn.Action
	}
	dash = readDashboard(home, c, err)
	if dash.url == "" {
		log.Debug("no dashboard to open", "why", dash.why)
	}
	return onReturn, dash
}
