//go:build !darwin || cgo

package tray

import (
	"context"
	"runtime"
	"time"

	"fyne.io/systray"
)

// trayUI is the ui on fyne.io/systray. Items are made once and then only
// relabelled, enabled, shown or hidden, and only when that changes: every
// change is a D-Bus signal on Linux, and a menu rebuilt under the owner's
// pointer would close.
type trayUI struct {
	head, pauseFor, pauseUntil, resume, guests, dashboard, quit *menuItem
	guestItems                                                  []*menuItem // grown on demand, hidden when unused
	acts                                                        chan action
	icon                                                        Icon
	tooltip                                                     string
	shown                                                       bool
	// settleUntil: until then the icon and tooltip are set on every view,
	// changed or not. fyne.io/systray (v1.12) calls onReady before it
	// exports the item's properties, and a SetIcon or SetTooltip made in
	// between is kept in memory but never reaches the bus; the next set
	// of the same value would be skipped as unchanged.
	settleUntil time.Time
}

// settleTime covers systray's start-up, which is over in milliseconds on
// an idle desktop and may take seconds on a loaded one.
const settleTime = 10 * time.Second

// newTrayUI builds the menu; clicks on its items arrive on actions() until
// ctx ends.
func newTrayUI(ctx context.Context) *trayUI {
	u := &trayUI{acts: make(chan action), settleUntil: time.Now().Add(settleTime)}
	u.head = add("", false)
	systray.AddSeparator()
	u.pauseFor = u.clickable(ctx, "Pause for …", actPauseFor)
	u.pauseUntil = u.clickable(ctx, labelPauseUntil, actPauseUntil)
	u.resume = u.clickable(ctx, labelResume, actResume)
	systray.AddSeparator()
	u.guests = add("Guests", false)
	// Enabled or not, and labelled with why not, by each view.
	u.dashboard = u.clickable(ctx, labelDashboard, actDashboard)
	systray.AddSeparator()
	u.quit = u.clickable(ctx, labelQuit, actQuit)
	return u
}

func (u *trayUI) actions() <-chan action { return u.acts }

// clickable adds an item whose clicks become a.
func (u *trayUI) clickable(ctx context.Context, label string, a action) *menuItem {
	it := add(label, true)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-it.mi.ClickedCh:
				if !ok {
					return
				}
				select {
				case u.acts <- a:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return it
}

func (u *trayUI) show(v view) {
	settling := time.Now().Before(u.settleUntil)
	if !u.shown || settling || v.icon != u.icon {
		systray.SetIcon(iconBytes(v.icon))
		u.icon = v.icon
	}
	if !u.shown || settling || v.tooltip != u.tooltip {
		systray.SetTooltip(v.tooltip)
		u.tooltip = v.tooltip
	}
	u.shown = true
	u.head.set(v.head, false)
	u.pauseFor.set(v.pauseFor.label, v.pauseFor.enabled)
	u.pauseUntil.set(v.pauseUntil.label, v.pauseUntil.enabled)
	u.resume.set(v.resume.label, v.resume.enabled)
	u.guests.set(v.guests.label, v.guests.enabled)
	for len(u.guestItems) < len(v.guestLines) {
		u.guestItems = append(u.guestItems, &menuItem{mi: u.guests.mi.AddSubMenuItem("", ""), visible: true})
	}
	for i, it := range u.guestItems {
		if i < len(v.guestLines) {
			// Enabled, so that the text reads normally: a click does nothing.
			it.set(v.guestLines[i], true)
		}
		it.setVisible(i < len(v.guestLines))
	}
	u.dashboard.set(v.dashboard.label, v.dashboard.enabled)
	u.quit.set(v.quit, true)
}

// iconBytes is icon i in the format the platform's tray loads.
func iconBytes(i Icon) []byte {
	if runtime.GOOS == "windows" {
		return ICO(i)
	}
	return PNG(i)
}

// menuItem is a systray item with its last state, to skip updates that
// change nothing.
type menuItem struct {
	mi      *systray.MenuItem
	label   string
	enabled bool
	visible bool
}

func add(label string, enabled bool) *menuItem {
	it := &menuItem{mi: systray.AddMenuItem(label, ""), label: label, enabled: true, visible: true}
	if !enabled {
		it.mi.Disable()
		it.enabled = false
	}
	return it
}

func (it *menuItem) set(label string, enabled bool) {
	if label != it.label {
		it.mi.SetTitle(label)
		it.label = label
	}
	if enabled != it.enabled {
		if enabled {
			it.mi.Enable()
		} else {
			it.mi.Disable()
		}
		it.enabled = enabled
	}
}

func (it *menuItem) setVisible(visible bool) {
	if visible == it.visible {
		return
	}
	if visible {
		it.mi.Show()
	} else {
		it.mi.Hide()
	}
	it.visible = visible
}
