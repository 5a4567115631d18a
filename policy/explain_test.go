package policy

import (
	"testing"
	"time"
)

func TestExplain(t *testing.T) {
	suspend := DefaultPolicy()
	suspend.OnReturn.Action = ActionSuspend
	suspend.Windows = nightsAndWeekends

	share := DefaultPolicy()
	share.OnReturn.Action = ActionShare
	share.OnReturn.Share = Limits{CPUs: 0.1, MemoryBytes: 1 << 30}
	share.OwnerCPUFor = 0

	migrate := DefaultPolicy()
	migrate.OnReturn.Action = ActionMigrate
	migrate.OnReturn.Fallback = ActionShare
	migrate.OnReturn.Share = Limits{}
	migrate.OwnerCPUMax = 0

	dedicated := DefaultPolicy()
	dedicated.Dedicated = true
	dedicated.OnReturn.Grace = 0
	dedicated.Windows = []Window{{Days: everyDay, From: 20 * time.Hour, To: 6 * time.Hour}}

	forever := DefaultPolicy()
	forever.OnReturn.Action = ActionSuspend
	forever.OnReturn.MaxSuspend = 0

	tests := []struct {
		name string
		p    Policy
		want string
	}{
		{"default", DefaultPolicy(), "Donates when nobody has touched the keyboard or mouse for 10m and the owner's CPU load (guests excluded) is below 25%, at any time. " +
			"The first key press or mouse move gives the machine back at once; the CPU load counts once it has stayed above or below 25% for 30s. " +
			"When the owner returns (or pauses donating), guests are stopped (SIGTERM, then SIGKILL 10s later) and their homes run them again on another idle peer."},
		{"suspend at nights and weekends", suspend, "Donates when nobody has touched the keyboard or mouse for 10m and the owner's CPU load (guests excluded) is below 25%, during mon-fri 18:00-08:00 and sat-sun all day. " +
			"The first key press or mouse move gives the machine back at once; the CPU load counts once it has stayed above or below 25% for 30s. " +
			"Hours that cross midnight count on each listed day as its early morning and its evening. " +
			"When the owner returns (or pauses donating, or the donation hours end), guests are suspended; they continue after the owner has been away 5m again; " +
			"after 30m suspended they are stopped (SIGTERM, then SIGKILL 10s later) and their homes run them again on another idle peer."},
		{"share", share, "Donates when nobody has touched the keyboard or mouse for 10m and the owner's CPU load (guests excluded) is below 25%, at any time. " +
			"The first key press or mouse move gives the machine back at once, and so does a CPU load above 25%. " +
			"When the owner returns (or pauses donating), guests keep running at the lowest priority, at most 0.1 CPU and 1GiB each; they get full speed again after the owner has been away 5m."},
		{"migrate without CPU rule", migrate, "Donates when nobody has touched the keyboard or mouse for 10m, at any time. " +
			"The first key press or mouse move gives the machine back at once. " +
			"When the owner returns (or pauses donating), guests are checkpointed and moved to another idle peer; a guest that cannot be checkpointed is let run on at the lowest priority."},
		{"dedicated", dedicated, "Dedicated: donates whenever it is not paused, during 20:00-06:00; keyboard, mouse and CPU load are not watched. " +
			"When the owner returns (or pauses donating, or the donation hours end), guests are killed at once and their homes run them again on another idle peer."},
		{"suspend without limit", forever, "Donates when nobody has touched the keyboard or mouse for 10m and the owner's CPU load (guests excluded) is below 25%, at any time. " +
			"The first key press or mouse move gives the machine back at once; the CPU load counts once it has stayed above or below 25% for 30s. " +
			"When the owner returns (or pauses donating), guests are suspended; they continue after the owner has been away 5m again, however long that takes."},
	}
	for _, tt := range tests {
		if got := tt.p.Explain(); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}
