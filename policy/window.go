package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Window is a weekly period when donating is allowed: on the days in Days,
// between the wall-clock times From and To of the time zone of the moment
// asked about.
//
// When From is after To the hours cross midnight, and they are read on each
// listed day as the early morning and the evening of that same day (as
// BOINC reads its day-of-week overrides): "mon-fri 18:00-08:00" covers
// Monday 00:00-08:00 and Friday 18:00-24:00, so that together with
// "sat-sun" it donates from Friday evening to Monday morning without a gap.
type Window struct {
	Days [7]bool // indexed by time.Weekday: Days[time.Sunday], ...
	// From and To are times of day, from 0 to 24h. From == 0 and To == 24h
	// is the whole day.
	From, To time.Duration
}

// AllDay is the whole of each listed day.
func (w Window) AllDay() bool { return w.From == 0 && w.To == 24*time.Hour }

// Contains reports whether t falls in w, by t's own wall clock and zone. On
// the days a daylight-saving change skips or repeats an hour, times are
// read as the clock on the wall shows them.
func (w Window) Contains(t time.Time) bool {
	if !w.Days[t.Weekday()] {
		return false
	}
	h, m, s := t.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second +
		time.Duration(t.Nanosecond())
	if w.From <= w.To {
		return tod >= w.From && tod < w.To
	}
	return tod >= w.From || tod < w.To
}

// validate refuses windows that contain no time at all.
func (w Window) validate() error {
	if w.Days == [7]bool{} {
		return errors.New("no days")
	}
	if w.From < 0 || w.To < 0 || w.From > 24*time.Hour || w.To > 24*time.Hour {
		return errors.New("hours outside 00:00-24:00")
	}
	if w.From == w.To {
		return errors.New("no hours (From equals To)")
	}
	return nil
}

// weekOrder is Monday first, as people write a working week.
var weekOrder = [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// String writes w the way the config file does: "mon-fri 18:00-08:00",
// "sat-sun", "22:00-06:00" (every day), "daily" (always).
func (w Window) String() string {
	days := w.days()
	switch {
	case days == "" && w.AllDay():
		return "daily"
	case days == "":
		return w.hours()
	case w.AllDay():
		return days
	}
	return days + " " + w.hours()
}

// days lists the days as runs in week order ("mon-wed,fri"), "" for all.
func (w Window) days() string {
	var runs []string
	for i := 0; i < 7; {
		if !w.Days[weekOrder[i]] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && w.Days[weekOrder[j+1]] {
			j++
		}
		if i == 0 && j == 6 {
			return ""
		}
		run := dayName(weekOrder[i])
		if j > i {
			run += "-" + dayName(weekOrder[j])
		}
		runs = append(runs, run)
		i = j + 1
	}
	return strings.Join(runs, ",")
}

func (w Window) hours() string { return clock(w.From) + "-" + clock(w.To) }

// dayName is the three-letter lower-case name the config file uses.
func dayName(d time.Weekday) string { return strings.ToLower(d.String()[:3]) }

// clock writes a time of day as "08:00", or "08:00:30" when it has seconds.
func clock(d time.Duration) string {
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// inWindows reports whether t is in one of ws; no windows means always.
func inWindows(ws []Window, t time.Time) bool {
	if len(ws) == 0 {
		return true
	}
	for _, w := range ws {
		if w.Contains(t) {
			return true
		}
	}
	return false
}

// windowList writes ws for a reason: "mon-fri 18:00-08:00, sat-sun".
func windowList(ws []Window) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = w.String()
	}
	return strings.Join(s, ", ")
}

// InHours reports whether t falls in one of p's donation windows; a policy
// without windows is always in hours.
func (p Policy) InHours(t time.Time) bool { return inWindows(p.Windows, t) }
