package tray

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

func TestRender(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	alice, bob := "12D3KooWAlice0000000000000000000000000000000000aliceAAA", "12D3KooWBob00000000000000000000000000000000000000bobBBBB"
	guest := func(home string, argv ...string) scavenger.Guest {
		return scavenger.Guest{JobID: "j", TaskID: "1", HomePeer: home, Argv: argv, Started: now.Add(-14 * time.Minute)}
	}
	idle := scavenger.Presence{Donating: true, State: "idle", Detail: "idle", Reason: "no input for 14m (idle after 10m)"}
	var snoozed hold
	snoozed.start(now.Add(-10*time.Minute), time.Hour)
	tests := []struct {
		name        string
		s           snapshot
		icon        Icon
		tooltip     string
		head        string
		resume      bool
		quit        string
		guestsLabel string
		guestLines  []string
	}{
		{
			name: "no daemon",
			s:    snapshot{err: &client.NoDaemonError{Home: "/var/lib/scavenge"}},
			icon: IconOffline, tooltip: "scavenge: daemon not running (home /var/lib/scavenge)", head: "Daemon not reachable",
			quit: "Quit tray", guestsLabel: "Guests: unknown",
		},
		{
			name: "socket for root only",
			s:    snapshot{err: fmt.Errorf("daemon at /var/lib/scavenge: %w", os.ErrPermission)},
			icon: IconOffline, head: "Daemon not reachable", quit: "Quit tray", guestsLabel: "Guests: unknown",
			tooltip: "scavenge: no permission to reach the daemon at /var/lib/scavenge (its socket is for the daemon's user only)",
		},
		{
			name: "idle",
			s:    snapshot{st: scavenger.Status{CPUs: 4, Free: 4, Presence: idle}},
			icon: IconIdle, tooltip: "idle, lending 4 cores; no input for 14m (idle after 10m)", head: "Idle: lending 4 cores",
			quit: "Quit tray", guestsLabel: "Guests: none",
		},
		{
			name: "donating to two homes",
			s: snapshot{st: scavenger.Status{ID: "self", Name: "carol-pc", CPUs: 4, Free: 1, Presence: idle,
				Guests: []scavenger.Guest{guest(alice, "make", "-j2"), guest(bob, "sim", "--seed", "7"), guest(alice, "true")}},
				names: map[string]string{alice: "alice-pc"}, onReturn: "suspend"},
			icon:    IconDonating,
			tooltip: "donating 3 cores to 3 tasks from alice-pc, peer …0bobBBBB; no input for 14m (idle after 10m)",
			head:    "Lending 3 cores to 3 tasks", quit: "Quit tray", guestsLabel: "Guests: 3 running",
			guestLines: []string{
				"make -j2 · from alice-pc · running 14m · on your return: suspended until you leave again",
				"sim --seed 7 · from peer …0bobBBBB · running 14m · on your return: suspended until you leave again",
				"true · from alice-pc · running 14m · on your return: suspended until you leave again",
			},
		},
		{
			name: "owner back, guests suspended",
			s: snapshot{st: scavenger.Status{CPUs: 4, Free: 3, Guests: []scavenger.Guest{guest(alice, "make")},
				Presence: scavenger.Presence{State: "owner", Detail: "owner-back", Reason: "keyboard used 2s ago",
					Action: scavenger.GuestSuspend, GuestNote: "suspended; full speed again after 5m without the owner"}},
				names: map[string]string{alice: "alice-pc"}},
			icon:    IconOwner,
			tooltip: "not lending; keyboard used 2s ago; guests suspended; full speed again after 5m without the owner",
			head:    "In use: guests held back", quit: "Quit tray", guestsLabel: "Guests: 1 running",
			guestLines: []string{"make · from alice-pc · running 14m · suspended; full speed again after 5m without the owner"},
		},
		{
			name: "outside hours",
			s: snapshot{st: scavenger.Status{CPUs: 2, Free: 2, Presence: scavenger.Presence{State: "owner", Detail: "outside-hours",
				Reason: "outside donation hours (mon-fri 18:00-08:00)", Action: scavenger.GuestKill}}},
			icon: IconOwner, tooltip: "not lending; outside donation hours (mon-fri 18:00-08:00)",
			head: "Not lending: outside donation hours", quit: "Quit tray", guestsLabel: "Guests: none",
		},
		{
			name: "snoozed from the tray",
			s:    snapshot{st: paused(snoozed.note), hold: snoozed},
			icon: IconPaused, tooltip: "paused until 15:50, snoozed from the tray", head: "Paused until 15:50", resume: true,
			quit: "Quit tray (lending stays paused)", guestsLabel: "Guests: none",
		},
		{
			name: "paused with scavenge pause",
			s:    snapshot{st: paused("owner ran scavenge pause")},
			icon: IconPaused, tooltip: "paused by the owner: owner ran scavenge pause", head: "Paused until you resume", resume: true,
			quit: "Quit tray (lending stays paused)", guestsLabel: "Guests: none",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.now, tt.s.home, tt.s.snooze = now, "/var/lib/scavenge", time.Hour
			v := render(tt.s)
			if v.icon != tt.icon || v.tooltip != tt.tooltip || v.head != tt.head || v.quit != tt.quit {
				t.Errorf("got icon %s, tooltip %q, head %q, quit %q\nwant icon %s, tooltip %q, head %q, quit %q",
					v.icon, v.tooltip, v.head, v.quit, tt.icon, tt.tooltip, tt.head, tt.quit)
			}
			if v.resume.enabled != tt.resume {
				t.Errorf("resume enabled %v, want %v", v.resume.enabled, tt.resume)
			}
			if online := tt.s.err == nil; v.pauseFor.enabled != online || v.pauseFor.label != "Pause for 1 hour" {
				t.Errorf("pause item %+v, want enabled %v and 'Pause for 1 hour'", v.pauseFor, online)
			}
			if v.guests.label != tt.guestsLabel || strings.Join(v.guestLines, "\n") != strings.Join(tt.guestLines, "\n") {
				t.Errorf("guests %q:\n%s\nwant %q:\n%s", v.guests.label, strings.Join(v.guestLines, "\n"),
					tt.guestsLabel, strings.Join(tt.guestLines, "\n"))
			}
		})
	}
}

func TestRenderLimits(t *testing.T) {
	now := time.Now()
	var guests []scavenger.Guest
	for i := range 25 {
		guests = append(guests, scavenger.Guest{HomePeer: fmt.Sprintf("home-%02d", i),
			Argv: []string{"sh", "-c", strings.Repeat("x", 100)}, Started: now})
	}
	st := scavenger.Status{CPUs: 32, Free: 7, Guests: guests,
		Presence: scavenger.Presence{Donating: true, Reason: "no input for 14m\n(idle after 10m)" + strings.Repeat(" and more", 5)}}
	v := render(snapshot{now: now, st: st, snooze: time.Hour})
	if n := utf8.RuneCountInString(v.tooltip); n > maxTooltip || !strings.HasSuffix(v.tooltip, "…") {
		t.Errorf("tooltip of %d runes %q: want at most %d, cut with …", n, v.tooltip, maxTooltip)
	}
	if !strings.HasPrefix(v.tooltip, "donating 25 cores to 25 tasks from home-00, home-01, home-02 +22; no input for 14m (idle") {
		t.Errorf("tooltip %q: want the homes capped at %d and the reason on the same line", v.tooltip, maxHomes)
	}
	if strings.ContainsAny(v.tooltip, "\n\r") {
		t.Errorf("tooltip %q has a line break", v.tooltip)
	}
	if len(v.guestLines) != maxGuestLines+1 || !strings.Contains(v.guestLines[maxGuestLines], "and 15 more") {
		t.Errorf("got %d guest lines ending %q, want %d and '… and 15 more'", len(v.guestLines), v.guestLines[len(v.guestLines)-1], maxGuestLines+1)
	}
	if !strings.HasPrefix(v.guestLines[0], "sh -c "+strings.Repeat("x", maxArgvText-7)+"…") {
		t.Errorf("first guest line %q: want the command cut at %d runes", v.guestLines[0], maxArgvText)
	}
}

func TestSpoken(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1 hour", 2 * time.Hour: "2 hours", 30 * time.Minute: "30 minutes", 90 * time.Minute: "90 minutes",
		3 * time.Second: "3 seconds", time.Second: "1 second",
	} {
		if got := spoken(d); got != want {
			t.Errorf("spoken(%s) = %q, want %q", d, got, want)
		}
	}
}
