package policy

import (
	"strings"
	"time"
)

// Explain says in plain words when a machine with policy p donates and what
// happens to its guests when the owner returns, for `scavenge policy check`:
//
//	Donates when nobody has touched the keyboard or mouse for 10m and the
//	owner's CPU load (guests excluded) is below 25%, at any time. ...
func (p Policy) Explain() string {
	p = p.normalized()
	var b strings.Builder
	hours := ", at any time"
	if len(p.Windows) > 0 {
		hours = ", during " + windowWords(p.Windows)
	}
	if p.Dedicated {
		b.WriteString("Dedicated: donates whenever it is not paused" + hours +
			"; keyboard, mouse and CPU load are not watched.")
	} else {
		b.WriteString("Donates when nobody has touched the keyboard or mouse for " + HumanDuration(p.IdleAfter))
		if p.OwnerCPUMax > 0 {
			b.WriteString(" and the owner's CPU load (guests excluded) is below " + percent(p.OwnerCPUMax))
		}
		b.WriteString(hours + ".")
		b.WriteString(" The first key press or mouse move gives the machine back at once")
		if p.OwnerCPUMax > 0 && p.OwnerCPUFor > 0 {
			b.WriteString("; the CPU load counts once it has stayed above or below " +
				percent(p.OwnerCPUMax) + " for " + HumanDuration(p.OwnerCPUFor))
		} else if p.OwnerCPUMax > 0 {
			b.WriteString(", and so does a CPU load above " + percent(p.OwnerCPUMax))
		}
		b.WriteString(".")
	}
	if crossesMidnight(p.Windows) {
		b.WriteString(" Hours that cross midnight count on each listed day as its early morning and its evening.")
	}
	b.WriteString(" " + p.OnReturn.explain(len(p.Windows) > 0))
	return b.String()
}

// explain is the sentence about guests when the owner returns.
func (r OnReturn) explain(windows bool) string {
	who := "When the owner returns (or pauses donating"
	if windows {
		who += ", or the donation hours end"
	}
	who += "), guests "
	fallback := r.fallbackWords()
	switch r.Action {
	case ActionShare:
		return who + "keep running at the lowest priority" + limitWords(r.Share, " each") +
			"; they get full speed again after the owner has been away " + HumanDuration(r.ResumeAfter) + "."
	case ActionSuspend:
		s := who + "are suspended; they continue after the owner has been away " + HumanDuration(r.ResumeAfter) + " again"
		if r.MaxSuspend > 0 {
			return s + "; after " + HumanDuration(r.MaxSuspend) + " suspended they are " + fallback + "."
		}
		return s + ", however long that takes."
	case ActionMigrate:
		return who + "are checkpointed and moved to another idle peer; a guest that cannot be checkpointed is " + fallback + "."
	}
	return who + "are " + killExplain(r.Grace) + "."
}

// fallbackWords says what the fallback does, after "they are".
func (r OnReturn) fallbackWords() string {
	if r.Fallback == ActionShare {
		return "let run on at the lowest priority" + limitWords(r.Share, " each")
	}
	return killExplain(r.Grace)
}

func killExplain(grace time.Duration) string {
	s := "stopped (SIGTERM, then SIGKILL " + HumanDuration(grace) + " later)"
	if grace <= 0 {
		s = "killed at once"
	}
	return s + " and their homes run them again on another idle peer"
}

// windowWords lists windows for a sentence: "mon-fri 18:00-08:00 and
// sat-sun all day".
func windowWords(ws []Window) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = w.String()
		if w.AllDay() && w.days() != "" {
			s[i] += " all day"
		}
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// crossesMidnight reports whether a window on some days only has hours
// that cross midnight, the case whose reading needs saying.
func crossesMidnight(ws []Window) bool {
	for _, w := range ws {
		if w.From > w.To && w.days() != "" {
			return true
		}
	}
	return false
}
