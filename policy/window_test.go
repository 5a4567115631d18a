package policy

import (
	"testing"
	"time"

	_ "time/tzdata" // the DST rows need Europe/Berlin on any machine
)

func TestWindowContains(t *testing.T) {
	at := func(day, hh, mm int) time.Time { return time.Date(2026, 3, day, hh, mm, 0, 0, cet) } // 2 March 2026 is a Monday
	nights := Window{Days: monFri, From: 18 * hr, To: 8 * hr}
	office := Window{Days: monFri, From: 9 * hr, To: 17*hr + 30*mn}
	weekend := Window{Days: satSun, From: 0, To: 24 * hr}
	lateEvening := Window{Days: everyDay, From: 22 * hr, To: 24 * hr}
	tests := []struct {
		name string
		w    Window
		t    time.Time
		want bool
	}{
		{"nights: monday evening", nights, at(2, 18, 0), true},
		{"nights: monday before six", nights, at(2, 17, 59), false},
		{"nights: tuesday early morning", nights, at(3, 7, 59), true},
		{"nights: tuesday eight", nights, at(3, 8, 0), false},
		{"nights: monday early morning counts as monday's", nights, at(2, 3, 0), true},
		{"nights: friday late evening", nights, at(6, 23, 59), true},
		{"nights: saturday early morning is saturday's, not listed", nights, at(7, 3, 0), false},
		{"office: lunch", office, at(4, 12, 0), true},
		{"office: 17:30 is out", office, at(4, 17, 30), false},
		{"office: saturday", office, at(7, 12, 0), false},
		{"weekend: saturday midnight", weekend, at(7, 0, 0), true},
		{"weekend: sunday 23:59", weekend, at(8, 23, 59), true},
		{"weekend: monday midnight", weekend, at(9, 0, 0), false},
		{"until 24:00", lateEvening, at(4, 23, 59), true},
		{"until 24:00: midnight is the next day's", lateEvening, at(5, 0, 0), false},
		// Read in t's own zone: 17:30 UTC is 18:30 CET.
		{"zone of t", nights, time.Date(2026, 3, 2, 17, 30, 0, 0, time.UTC).In(cet), true},
		{"UTC clock of the same moment", nights, time.Date(2026, 3, 2, 17, 30, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		if got := tt.w.Contains(tt.t); got != tt.want {
			t.Errorf("%s: %v.Contains(%v) = %v, want %v", tt.name, tt.w, tt.t, got, tt.want)
		}
	}
}

// TestWindowDST: windows follow the wall clock, also on the nights the
// clock jumps.
func TestWindowDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	nights := Window{Days: everyDay, From: 22 * hr, To: 6 * hr}
	// 29 March 2026: 02:00 CET becomes 03:00 CEST.
	before := time.Date(2026, 3, 29, 1, 59, 0, 0, berlin)
	after := before.Add(time.Minute) // 03:00 CEST
	if h := after.Hour(); h != 3 {
		t.Fatalf("tzdata: one minute after 01:59 reads %v", after)
	}
	for _, tt := range []time.Time{before, after, before.Add(3 * time.Hour)} {
		if !nights.Contains(tt) {
			t.Errorf("%v not in %v", tt, nights)
		}
	}
	// 06:00 CEST is 5 hours after 00:00 CET that night, not 6.
	if nights.Contains(time.Date(2026, 3, 29, 0, 0, 0, 0, berlin).Add(5 * time.Hour)) {
		t.Errorf("06:00 CEST on the DST night is inside %v", nights)
	}
}

func TestWindowString(t *testing.T) {
	tests := []struct {
		w    Window
		want string
	}{
		{Window{Days: monFri, From: 18 * hr, To: 8 * hr}, "mon-fri 18:00-08:00"},
		{Window{Days: satSun, From: 0, To: 24 * hr}, "sat-sun"},
		{Window{Days: everyDay, From: 22 * hr, To: 6 * hr}, "22:00-06:00"},
		{Window{Days: everyDay, From: 0, To: 24 * hr}, "daily"},
		{Window{Days: [7]bool{time.Monday: true, time.Wednesday: true, time.Friday: true, time.Saturday: true}, From: 12 * hr, To: 13*hr + 30*mn}, "mon,wed,fri-sat 12:00-13:30"},
		// Week order starts on Monday: a run across Sunday is two runs.
		{Window{Days: [7]bool{time.Sunday: true, time.Monday: true}, From: 0, To: 24 * hr}, "mon,sun"},
		{Window{Days: [7]bool{time.Tuesday: true}, From: 30 * sec, To: 24 * hr}, "tue 00:00:30-24:00"},
	}
	for _, tt := range tests {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
