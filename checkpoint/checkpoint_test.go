package checkpoint

import (
	"slices"
	"testing"
)

func TestAvailable(t *testing.T) {
	got := Available()
	if !slices.Contains(got, None) {
		t.Errorf("Available() = %q, want it to contain %q: restarting from scratch always works", got, None)
	}
	// Nothing may be advertised that is not implemented yet; update this
	// when a backend lands, together with its tests.
	for _, name := range []string{CRIU, Signal} {
		if slices.Contains(got, name) {
			t.Errorf("Available() = %q advertises %q, which this build does not implement", got, name)
		}
	}
	// Callers may keep and change the slice.
	got[0] = "changed"
	if again := Available(); !slices.Contains(again, None) {
		t.Errorf("Available() after a caller changed its result = %q, want %q still there", again, None)
	}
}
