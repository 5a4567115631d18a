package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Window is one entry of policy.donate_during, parsed: on the days in Days,
// from the time of day From to To. The config package owns the syntax; the
// CLI hands the values to the policy package, which owns what they mean
// (policy.Window).
type Window struct {
	Days [7]bool // indexed by time.Weekday: Days[time.Sunday], ...
	// From and To are times of day from 0 to 24h; From after To crosses
	// midnight. A window without hours is 0 to 24h.
	From, To time.Duration
}

// windowForms is the hint every window error ends with.
const windowForms = `use e.g. "mon-fri 18:00-08:00", "sat-sun", "22:00-06:00"`

// weekdays maps the day words of a window to days.
var weekdays = map[string]time.Weekday{
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
	"sun": time.Sunday, "sunday": time.Sunday,
}

// spaceAround finds spaces next to "," and "-", which people put in
// ("mon - fri", "mon, wed") and the grammar does not need.
var spaceAround = regexp.MustCompile(`\s*([,-])\s*`)

// ParseWindow reads a donation window: days, hours, or days and hours.
//
//	mon-fri 18:00-08:00   weekday evenings and early mornings
//	sat-sun               all day on weekends
//	22:00-06:00           every day
//	mon,wed,fri 12:00-13:30
//
// Days are mon ... sun (or full names), ranges such as "mon-fri" or
// "fri-mon" (wrapping over the weekend), "weekdays", "weekends" or "daily",
// joined by commas; case does not matter. Hours are HH:MM-HH:MM, up to
// "24:00"; hours that cross midnight count on each listed day as its early
// morning and its evening.
func ParseWindow(s string) (Window, error) {
	w, err := parseWindow(s)
	if err != nil {
		return Window{}, fmt.Errorf("%s is not a donation window: %v (%s)", quoteShort(s), err, windowForms)
	}
	return w, nil
}

func parseWindow(s string) (Window, error) {
	fields := strings.Fields(spaceAround.ReplaceAllString(strings.ToLower(s), "$1"))
	if len(fields) == 0 {
		return Window{}, errors.New("empty")
	}
	if len(fields) > 2 {
		return Window{}, fmt.Errorf("%q is one part too many: write the days, then the hours", fields[2])
	}
	var w Window
	var haveDays, haveHours bool
	for _, f := range fields {
		var err error
		if strings.Contains(f, ":") || f[0] >= '0' && f[0] <= '9' { // hours: "18:00-08:00", or a try at them
			if haveHours {
				return Window{}, errors.New("two sets of hours: write one window per entry")
			}
			haveHours = true
			w.From, w.To, err = parseHours(f)
		} else {
			if haveDays {
				return Window{}, fmt.Errorf("%q: days are joined by commas, e.g. \"mon,wed\"", f)
			}
			haveDays = true
			w.Days, err = parseDays(f)
		}
		if err != nil {
			return Window{}, err
		}
	}
	if !haveDays {
		w.Days = [7]bool{true, true, true, true, true, true, true}
	}
	if !haveHours {
		w.From, w.To = 0, 24*time.Hour
	}
	return w, nil
}

// parseDays reads "mon-fri,sun" and the like.
func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	for _, item := range strings.Split(s, ",") {
		switch item {
		case "daily":
			return [7]bool{true, true, true, true, true, true, true}, nil
		case "weekdays":
			for d := time.Monday; d <= time.Friday; d++ {
				days[d] = true
			}
			continue
		case "weekends":
			days[time.Saturday], days[time.Sunday] = true, true
			continue
		}
		a, b, isRange := strings.Cut(item, "-")
		from, ok := weekdays[a]
		if !ok {
			return days, unknownDay(a)
		}
		to := from
		if isRange {
			if to, ok = weekdays[b]; !ok {
				return days, unknownDay(b)
			}
		}
		// A range may wrap over the week's end: "fri-mon".
		for d := from; ; d = (d + 1) % 7 {
			days[d] = true
			if d == to {
				break
			}
		}
	}
	return days, nil
}

func unknownDay(s string) error {
	if s == "" {
		return errors.New("a day is missing around a \",\" or \"-\"")
	}
	return fmt.Errorf("%q is not a day (mon, tue, wed, thu, fri, sat, sun, weekdays, weekends or daily)", s)
}

// parseHours reads "18:00-08:00".
func parseHours(s string) (from, to time.Duration, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: hours are a range, e.g. \"18:00-08:00\"", s)
	}
	if from, err = parseClock(a); err != nil {
		return 0, 0, err
	}
	if to, err = parseClock(b); err != nil {
		return 0, 0, err
	}
	switch {
	case from == 24*time.Hour:
		return 0, 0, errors.New("a window cannot start at 24:00; write 00:00")
	case from == to:
		return 0, 0, fmt.Errorf("%q covers no time; for whole days leave the hours out", s)
	}
	return from, to, nil
}

// parseClock reads "8:00", "08:00" or "24:00".
func parseClock(s string) (time.Duration, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, herr := strconv.Atoi(hh)
	m, merr := strconv.Atoi(mm)
	switch {
	case !ok || !digits(hh) || !digits(mm) || herr != nil || merr != nil || len(hh) > 2 || len(mm) != 2:
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	case h > 24 || m > 59 || h == 24 && m != 0:
		return 0, fmt.Errorf("%q is not a time of day between 00:00 and 24:00", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// digits reports whether s is one or more ASCII digits: Atoi alone would
// take "+8".
func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
