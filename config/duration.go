package config

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration written in the file as a Go duration string
// such as "30s", "10m" or "1h30m". A bare TOML integer is refused: "30" could
// mean seconds or nanoseconds, and a config file should not make people guess.
type Duration time.Duration

// durationForms is the hint every duration error ends with.
const durationForms = `use e.g. "30s", "10m", "1h30m"`

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String formats d the way it is written in the file ("10m", not "10m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	// time.Duration.String always spells out the smaller units ("1h0m0s");
	// trim the zero tails so the file reads the way people write it.
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. The error names the
// value and the accepted forms.
func (d *Duration) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	v, err := time.ParseDuration(s)
	if err != nil || s == "" {
		return fmt.Errorf("%s is not a duration (%s)", quoteShort(string(text)), durationForms)
	}
	*d = Duration(v)
	return nil
}
