package sensor

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// hidIdleRE matches the idle time property line of `ioreg -c IOHIDSystem`,
// e.g.
//
//	|   "HIDIdleTime" = 4212345678
//
// It is anchored to a whole line so that a key of the same name inside a
// dictionary value is not taken for the property.
var hidIdleRE = regexp.MustCompile(`(?m)^[\s|]*"HIDIdleTime"\s*=\s*(\d+)\s*$`)

// parseHIDIdleTime reads the first HIDIdleTime property (nanoseconds since
// the last keyboard, mouse or trackpad event) from ioreg's output.
func parseHIDIdleTime(out []byte) (time.Duration, error) {
	m := hidIdleRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no HIDIdleTime in ioreg output (%d bytes)", len(out))
	}
	ns, err := strconv.ParseUint(string(m[1]), 10, 63)
	if err != nil {
		return 0, fmt.Errorf("HIDIdleTime %q: %w", m[1], err)
	}
	return time.Duration(ns), nil
}
