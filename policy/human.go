package policy

import (
	"strconv"
	"time"
)

// HumanDuration prints d the way a person would say it, with at most two
// units: "12s", "14m", "2h5m", "3d4h". It rounds down, so that a reason never
// contradicts its rule: input 9m59s ago with idle after 10m reads "9m ago",
// not "10m ago".
func HumanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < day:
		return two(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "m")
	default:
		return two(int(d/day), "d", int(d%day/time.Hour), "h")
	}
}

func two(a int, ua string, b int, ub string) string {
	s := strconv.Itoa(a) + ua
	if b > 0 {
		s += strconv.Itoa(b) + ub
	}
	return s
}

// HumanBytes prints n in binary units with at most one decimal: "512MiB",
// "1.5GiB", "900B".
func HumanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	s := strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + string("KMGTPE"[exp]) + "iB"
}
