package config

import (
	"strings"
	"testing"
	"time"
)

func TestDurationUnmarshalText(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"10m", 10 * time.Minute},
		{"1s", time.Second},
		{"1h30m", 90 * time.Minute},
		{"1.5s", 1500 * time.Millisecond},
		{"250ms", 250 * time.Millisecond},
		{" 30s ", 30 * time.Second},
		{"0", 0},
		{"-5s", -5 * time.Second}, // parses; Validate decides where negatives are wrong
	}
	for _, tt := range tests {
		var d Duration
		if err := d.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tt.in, err)
			continue
		}
		if got := d.Duration(); got != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDurationUnmarshalTextErrors(t *testing.T) {
	for _, in := range []string{"", "3 parsecs", "10", "1d", "m", "1h30", "ten minutes"} {
		var d Duration
		err := d.UnmarshalText([]byte(in))
		if err == nil {
			t.Errorf("UnmarshalText(%q) = %v, want an error", in, d)
			continue
		}
		// The message must name the bad value and show the accepted forms.
		for _, want := range []string{`"` + in + `"`, `"30s"`, `"1h30m"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("UnmarshalText(%q) error %q does not contain %s", in, err, want)
			}
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{time.Second, "1s"},
		{10 * time.Minute, "10m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{1500 * time.Millisecond, "1.5s"},
		{-10 * time.Minute, "-10m"},
	}
	for _, tt := range tests {
		if got := Duration(tt.in).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 999, time.Millisecond, 61 * time.Second, 25 * time.Hour, 3*time.Hour + 7*time.Nanosecond, -time.Minute} {
		text, err := Duration(d).MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", d, err)
		}
		var got Duration
		if err := got.UnmarshalText(text); err != nil {
			t.Errorf("UnmarshalText(%q) (from %v): %v", text, d, err)
			continue
		}
		if got.Duration() != d {
			t.Errorf("round trip of %v through %q gave %v", d, text, got.Duration())
		}
	}
}
