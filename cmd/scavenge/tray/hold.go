package tray

import (
	"strings"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// hold is the owner's pause as the tray asked for it. The daemon's pause
// has no end time and does not survive a daemon restart, so the tray keeps
// the request itself: it resumes a timed pause when its time is up, and
// pauses again a daemon that restarted meanwhile. If the tray quits, the
// daemon stays paused (the menu says so) until `scavenge resume`.
type hold struct {
	active bool
	until  time.Time // zero: until the owner resumes
	note   string    // the reason sent with the pause; finds our pause in the daemon's status
	lost   bool      // the daemon went away while held: pause it again when it is back
}

// holdStep is what the tray must do after looking at the daemon.
type holdStep int

const (
	holdNothing holdStep = iota
	holdPause            // pause the daemon (again) with hold.note
	holdResume           // the timed pause is over: resume the daemon
)

// start records a pause asked for at now, for d (0: until resumed).
func (h *hold) start(now time.Time, d time.Duration) {
	*h = hold{active: true, note: "paused from the tray"}
	if d > 0 {
		h.until = now.Add(d)
		h.note = "snoozed from the tray until " + clock(now, h.until)
	}
}

func (h *hold) clear() { *h = hold{} }

// timed reports whether a pause with an end time is in force.
func (h *hold) timed() bool { return h.active && !h.until.IsZero() }

// step looks at the daemon's latest status (err when it did not answer)
// and says what to do. Someone else's resume or pause wins over the tray's:
// the tray only ever undoes its own pause.
func (h *hold) step(now time.Time, st scavenger.Status, err error) holdStep {
	if !h.active {
		return holdNothing
	}
	over := h.timed() && !now.Before(h.until)
	switch {
	case err != nil:
		h.lost = true
		return holdNothing
	case !st.Paused && h.lost && !over:
		// A restarted daemon starts unpaused: the owner still wants it paused.
		h.lost = false
		return holdPause
	case !st.Paused:
		h.clear() // resumed by `scavenge resume`, or over while the daemon was away
		return holdNothing
	case !strings.HasSuffix(st.Presence.Reason, h.note):
		h.clear() // paused again by someone else: that pause is theirs to lift
		return holdNothing
	case over:
		return holdResume
	}
	h.lost = false
	return holdNothing
}

// clock writes t for a person looking at the clock at now: "15:30", with
// seconds for short pauses ("15:30:05"), and the weekday when t is not today.
func clock(now, t time.Time) string {
	layout := "15:04"
	if t.Sub(now) < time.Minute {
		layout = "15:04:05"
	}
	if y, m, d := now.Date(); t.Day() != d || t.Month() != m || t.Year() != y {
		layout = "Mon " + layout
	}
	return t.Format(layout)
}
