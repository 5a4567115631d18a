package sensor

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// linuxInput takes the most recent activity of every input source there
// is, as HTCondor does: evdev devices (the physical keyboard and mouse,
// under any desktop), logind's idle hint (every session, no privilege
// needed) and the terminals of logged-in sessions (text logins and ssh).
// Each source sees what the others may miss, and any of them seeing the
// owner is enough to keep the machine theirs.
type linuxInput struct {
	tty    *ttyInput
	evdev  *evdevWatcher
	logind *logindSource
}

// activity is one source's newest input.
type activity struct {
	at     time.Time
	source string
	// bound marks a time before which the input happened, not when:
	// devices watched since then without input.
	bound bool
	// aggregate marks a source that covers the input of every session,
	// which makes a bound of the other sources redundant.
	aggregate bool
}

func newInput(o Options, log *slog.Logger, notify func()) inputSensor {
	return &linuxInput{
		tty:    newTTYInput(o, log),
		evdev:  startEvdev(o, log, notify),
		logind: startLogind(o, log, notify),
	}
}

func (l *linuxInput) close() {
	l.evdev.close()
	l.logind.close()
}

// read reports the newest input of all sources, and the errors of those
// that failed. The input is known when any source has something to say.
func (l *linuxInput) read(ctx context.Context) (input, error) {
	var acts []activity
	var errs []error
	if a, ok, err := l.tty.latest(); err != nil {
		errs = append(errs, err)
	} else if ok {
		acts = append(acts, a)
	}
	if a, ok := l.evdev.latest(); ok {
		acts = append(acts, a)
	}
	if a, ok, err := l.logind.latest(ctx); err != nil {
		errs = append(errs, err)
	} else if ok {
		acts = append(acts, a)
	}
	a, ok := newest(acts)
	if !ok {
		return input{}, errors.Join(errs...)
	}
	return input{idle: time.Since(a.at), source: a.source, known: true}, errors.Join(errs...)
}

// newest picks the most recent activity. A bound (devices without input
// since the daemon started) counts only when no aggregate source answered:
// alone, it keeps a freshly started daemon from taking an owner who just
// stepped away for long gone; next to logind's idle time, which covers the
// same devices from before the start, it would only be less precise.
func newest(acts []activity) (activity, bool) {
	aggregate := false
	for _, a := range acts {
		aggregate = aggregate || a.aggregate
	}
	var best activity
	found := false
	for _, a := range acts {
		if a.bound && aggregate {
			continue
		}
		if !found || a.at.After(best.at) {
			best, found = a, true
		}
	}
	return best, found
}
