package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	all := [7]bool{true, true, true, true, true, true, true}
	monFri := [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true}
	satSun := [7]bool{time.Saturday: true, time.Sunday: true}
	const h, m = time.Hour, time.Minute
	tests := []struct {
		in   string
		want Window
	}{
		{"mon-fri 18:00-08:00", Window{monFri, 18 * h, 8 * h}},
		{"sat-sun", Window{satSun, 0, 24 * h}},
		{"22:00-06:00", Window{all, 22 * h, 6 * h}},
		{"daily", Window{all, 0, 24 * h}},
		{"weekdays 9:00-17:30", Window{monFri, 9 * h, 17*h + 30*m}},
		{"weekends", Window{satSun, 0, 24 * h}},
		{"  Mon - Fri   18:00 - 24:00 ", Window{monFri, 18 * h, 24 * h}},
		{"Monday, Wednesday,fri 12:00-13:30", Window{[7]bool{time.Monday: true, time.Wednesday: true, time.Friday: true}, 12 * h, 13*h + 30*m}},
		{"fri-mon", Window{[7]bool{time.Friday: true, time.Saturday: true, time.Sunday: true, time.Monday: true}, 0, 24 * h}},
		{"sun-sun", Window{[7]bool{time.Sunday: true}, 0, 24 * h}},
		{"18:00-08:00 mon-fri", Window{monFri, 18 * h, 8 * h}},
		{"00:00-24:00", Window{all, 0, 24 * h}},
		{"weekends,mon", Window{[7]bool{time.Saturday: true, time.Sunday: true, time.Monday: true}, 0, 24 * h}},
	}
	for _, tt := range tests {
		got, err := ParseWindow(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseWindow(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseWindowErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"someday", `"someday" is not a day`},
		{"mon-", "a day is missing"},
		{"mon,,fri", "a day is missing"},
		{"mon-xyz", `"xyz" is not a day`},
		{"18-08", `"18" is not a time of day (HH:MM)`},
		{"18:00", `hours are a range`},
		{"18:00-8", `"8" is not a time of day`},
		{"25:00-08:00", "between 00:00 and 24:00"},
		{"18:60-08:00", "between 00:00 and 24:00"},
		{"24:30-08:00", "between 00:00 and 24:00"},
		{"+8:00-09:00", "not a time of day"},
		{"8:0-09:00", "not a time of day"},
		{"24:00-08:00", "cannot start at 24:00"},
		{"mon 08:00-08:00", "covers no time"},
		{"mon tue", "joined by commas"},
		{"10:00-11:00 12:00-13:00", "two sets of hours"},
		{"mon 10:00-11:00 tue", "one part too many"},
	}
	for _, tt := range tests {
		_, err := ParseWindow(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), windowForms) {
			t.Errorf("ParseWindow(%q) = %v, want an error about %q with the usual forms", tt.in, err, tt.want)
		}
	}
}

// FuzzParseWindow: no input panics, and whatever parses is a window that
// contains some time.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"mon-fri 18:00-08:00", "sat-sun", "22:00-06:00", "daily", "fri-mon 00:00-24:00", "mon,,", "9:00-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s)
		if err != nil {
			return
		}
		if w.Days == [7]bool{} || w.From == w.To || w.From < 0 || w.To > 24*time.Hour || w.From >= 24*time.Hour {
			t.Fatalf("ParseWindow(%q) = %+v, an empty or impossible window", s, w)
		}
	})
}
