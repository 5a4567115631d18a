package policy

import "time"

// cpuWatch is the owner-CPU rule with hysteresis: busy changes only after
// the load has stayed on the other side of the ceiling for the hold time,
// so a cron job's spike neither stops donating nor does a pause in a build
// restart it.
type cpuWatch struct {
	known bool      // a load has been seen
	busy  bool      // the owner counts as present by CPU
	high  bool      // the last load was above the ceiling
	load  float64   // the last load
	side  time.Time // since when the load has been on its current side
}

// observe takes one load reading. The first one is believed at once: there
// is no history yet to smooth, and a daemon started beside a running build
// must not lend the machine for the hold time first.
func (w *cpuWatch) observe(now time.Time, load, ceiling float64, hold time.Duration) {
	high := load > ceiling
	if !w.known || high != w.high {
		w.side = now
	}
	first := !w.known
	w.known, w.high, w.load = true, high, load
	if first || high != w.busy && now.Sub(w.side) >= hold {
		w.busy = high
	}
}
