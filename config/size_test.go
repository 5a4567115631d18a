package config

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestSizeUnmarshalText(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"0", 0},
		{"4096", 4096},
		{"100B", 100},
		{"512MiB", 512 << 20},
		{"4GiB", 4 << 30},
		{"4gib", 4 << 30},
		{"4 GiB", 4 << 30},
		{"1.5GiB", 3 << 29},
		{"2KiB", 2048},
		{"1TiB", 1 << 40},
		{"1PiB", 1 << 50},
		{"1kB", 1000},
		{"4GB", 4e9},
		{"0.1GB", 1e8},
		{"3MB", 3e6},
		{"18446744073709551615", math.MaxUint64},
	}
	for _, tt := range tests {
		var s Size
		if err := s.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tt.in, err)
			continue
		}
		if uint64(s) != tt.want {
			t.Errorf("UnmarshalText(%q) = %d, want %d", tt.in, uint64(s), tt.want)
		}
	}
}

func TestSizeUnmarshalTextErrors(t *testing.T) {
	for _, in := range []string{"", "GiB", "-1", "4 gigs", "1.2.3GiB", "0.5B", "1.5", ".", "18446744073709551616", "20000PiB", "4G", "1e9"} {
		var s Size
		err := s.UnmarshalText([]byte(in))
		if err == nil {
			t.Errorf("UnmarshalText(%q) = %d, want an error", in, uint64(s))
			continue
		}
		for _, want := range []string{`"` + in + `"`, `"4GiB"`, `"512MiB"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("UnmarshalText(%q) error %q does not contain %s", in, err, want)
			}
		}
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0"},
		{1, "1B"},
		{1000, "1000B"},
		{KiB, "1KiB"},
		{512 * MiB, "512MiB"},
		{1536 * MiB, "1536MiB"},
		{4 * GiB, "4GiB"},
		{3 * PiB, "3PiB"},
		{1 << 60, "1024PiB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", uint64(tt.in), got, tt.want)
		}
	}
}

func TestSizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := []uint64{0, 1, 1023, 1024, 4 << 30, math.MaxUint64, math.MaxUint64 &^ (1<<20 - 1)}
	for range 1000 {
		// Random values at every magnitude, many of them multiples of a unit.
		v := r.Uint64() >> r.IntN(64)
		vals = append(vals, v, v<<(10*r.IntN(6)))
	}
	for _, v := range vals {
		text, err := Size(v).MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%d): %v", v, err)
		}
		var got Size
		if err := got.UnmarshalText(text); err != nil {
			t.Errorf("UnmarshalText(%q) (from %d): %v", text, v, err)
			continue
		}
		if uint64(got) != v {
			t.Errorf("round trip of %d through %q gave %d", v, text, uint64(got))
		}
	}
}
