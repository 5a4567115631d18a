package tray

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

// snapshot is everything the tray shows, taken at one moment.
type snapshot struct {
	now      time.Time
	home     string
	st       scavenger.Status
	err      error             // the daemon did not answer
	hold     hold              // the tray's own pause request
	names    map[string]string // peer ID -> machine name, for guests' homes
	onReturn string            // on_owner_return.action of the config, "" when unknown
	dash     dashLink          // the dashboard's URL, or why there is none
	snooze   time.Duration     // the length of "Pause for ..."
}

// view is what the icon, its tooltip and its menu say: render computes it
// from a snapshot, and the UI applies it.
type view struct {
	icon       Icon
	tooltip    string // one line
	head       string // the menu's first line, not clickable
	pauseFor   item
	pauseUntil item
	resume     item
	guests     item     // the parent of the guests' submenu
	guestLines []string // one per guest, what runs and what happens to it
	dashboard  item
	quit       string
}

// item is one menu entry.
type item struct {
	label   string
	enabled bool
}

// Caps that keep the menu and tooltip readable.
const (
	maxGuestLines = 10
	maxArgvText   = 40
	// maxTooltip is what a Windows notification icon can hold (128
	// UTF-16 units with the terminating zero); other trays show it whole.
	maxTooltip = 127
	maxHomes   = 3 // "from alice-pc, bob-pc, carol-pc +2"
)

// Fixed labels; tests find the items by them.
const (
	labelPauseUntil = "Pause until I resume"
	labelResume     = "Resume lending"
	labelQuit       = "Quit tray"
	labelDashboard  = "Open dashboard"
)

func render(s snapshot) view {
	v := view{
		pauseFor:   item{label: "Pause for " + spoken(s.snooze)},
		pauseUntil: item{label: labelPauseUntil},
		resume:     item{label: labelResume},
		quit:       labelQuit,
		dashboard:  s.dash.item(s.err == nil),
	}
	if s.err != nil {
		v.icon = IconOffline
		v.head = "Daemon not reachable"
		v.tooltip = "scavenge: " + offlineWords(s.home, s.err)
		v.guests = item{label: "Guests: unknown"}
		return finish(v)
	}
	st := s.st
	v.pauseFor.enabled = true
	v.pauseUntil.enabled = !(st.Paused && s.hold.active && !s.hold.timed())
	v.resume.enabled = st.Paused
	if st.Paused {
		v.quit = labelQuit + " (lending stays paused)"
	}
	var why string
	switch {
	case st.Paused:
		v.icon = IconPaused
		if s.hold.timed() {
			at := clock(s.now, s.hold.until)
			v.head = "Paused until " + at
			v.tooltip = "paused until " + at + ", snoozed from the tray"
		} else {
			v.head = "Paused until you resume"
			v.tooltip = st.Presence.Reason
		}
	case st.Presence.Donating && len(st.Guests) > 0:
		v.icon = IconDonating
		lend := "to " + plural(len(st.Guests), "task")
		if used := st.CPUs - st.Free; used > 0 {
			lend = plural(used, "core") + " " + lend
		}
		v.head = "Lending " + lend
		v.tooltip = "donating " + lend + " from " + homes(st, s.names)
		why = st.Presence.Reason
	case st.Presence.Donating:
		v.icon = IconIdle
		v.head = "Idle: lending " + plural(st.CPUs, "core")
		v.tooltip = "idle, lending " + plural(st.CPUs, "core")
		why = st.Presence.Reason
	default:
		v.icon = IconOwner
		v.head = ownerHead(st.Presence.Detail)
		v.tooltip = "not lending"
		why = st.Presence.Reason
	}
	if why != "" {
		v.tooltip += "; " + why
	}
	if len(st.Guests) > 0 && !st.Presence.Donating && st.Presence.GuestNote != "" {
		v.tooltip += "; guests " + st.Presence.GuestNote
	}
	v.guests, v.guestLines = guestMenu(s)
	return finish(v)
}

// finish keeps the tooltip on one line and within what every tray shows.
func finish(v view) view {
	v.tooltip = strings.Join(strings.Fields(v.tooltip), " ")
	v.tooltip = truncate(v.tooltip, maxTooltip)
	return v
}

func ownerHead(detail string) string {
	switch detail {
	case string(policy.StateOwnerBack):
		return "In use: guests held back"
	case string(policy.StateOutsideHours):
		return "Not lending: outside donation hours"
	case string(policy.StateOwnerActive):
		return "In use: not lending"
	}
	return "Not lending"
}

// guestMenu is the guests' submenu: what runs here, for whom, and what
// happens to it when the owner comes back (or what already happened).
func guestMenu(s snapshot) (item, []string) {
	st := s.st
	if len(st.Guests) == 0 {
		return item{label: "Guests: none"}, nil
	}
	parent := item{label: "Guests: " + strconv.Itoa(len(st.Guests)) + " running", enabled: true}
	var lines []string
	for i, g := range st.Guests {
		if i == maxGuestLines {
			lines = append(lines, fmt.Sprintf("… and %d more ('scavenge status' lists them)", len(st.Guests)-i))
			break
		}
		parts := []string{truncate(strings.Join(g.Argv, " "), maxArgvText),
			"from " + peerName(st, s.names, g.HomePeer)}
		if !g.Started.IsZero() {
			parts = append(parts, "running "+policy.HumanDuration(s.now.Sub(g.Started)))
		}
		if fate := guestFate(s, g); fate != "" {
			parts = append(parts, fate)
		}
		lines = append(lines, strings.Join(parts, " · "))
	}
	return parent, lines
}

// guestFate says what was done to a guest, or what will be when the owner
// returns.
func guestFate(s snapshot, g scavenger.Guest) string {
	switch {
	case g.Action != "":
		return g.Action
	case !s.st.Presence.Donating && s.st.Presence.GuestNote != "":
		return s.st.Presence.GuestNote
	case !s.st.Presence.Donating && s.st.Presence.Action != "":
		return string(s.st.Presence.Action)
	}
	if w := onReturnWords(s.onReturn); w != "" {
		return "on your return: " + w
	}
	return ""
}

// onReturnWords says what on_owner_return.action does to a guest.
func onReturnWords(action string) string {
	switch action {
	case config.ActionKill:
		return "stopped and re-run elsewhere"
	case config.ActionSuspend:
		return "suspended until you leave again"
	case config.ActionShare:
		return "kept running at the lowest priority"
	case config.ActionMigrate:
		return "moved to another idle peer"
	}
	return ""
}

// homes names the machines the guests came from.
func homes(st scavenger.Status, names map[string]string) string {
	var out []string
	for _, g := range st.Guests {
		n := peerName(st, names, g.HomePeer)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) > maxHomes {
		return strings.Join(out[:maxHomes], ", ") + " +" + strconv.Itoa(len(out)-maxHomes)
	}
	return strings.Join(out, ", ")
}

// peerName is a peer's machine name when known, else the end of its ID.
func peerName(st scavenger.Status, names map[string]string, id string) string {
	if id == st.ID && st.Name != "" {
		return st.Name
	}
	if n := names[id]; n != "" {
		return n
	}
	if len(id) > 8 {
		return "peer …" + id[len(id)-8:]
	}
	return id
}

// offlineWords says why the daemon did not answer, in one short line.
func offlineWords(home string, err error) string {
	switch {
	case errors.Is(err, client.ErrNoDaemon):
		return "daemon not running (home " + home + ")"
	case errors.Is(err, fs.ErrPermission):
		return "no permission to reach the daemon at " + home + " (its socket is for the daemon's user only)"
	}
	return err.Error()
}

// spoken writes a pause length as the menu says it: "1 hour", "30 minutes".
func spoken(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d.Round(time.Second)/time.Second), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// truncate cuts s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
