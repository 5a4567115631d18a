package checkpoint

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
)

func TestAvailable(t *testing.T) {
	got := Available()
	want := []string{Signal, None}
	if runtime.GOOS == "linux" {
		want = []string{CRIU, Signal, None}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Available() on %s = %q, want %q", runtime.GOOS, got, want)
	}
	// Callers may keep and change the slice.
	got[0] = "changed"
	if again := Available(); again[0] != want[0] {
		t.Errorf("Available() after a caller changed its result = %q, want %q", again, want)
	}
}

// broken is a backend that cannot work here.
type broken struct{}

func (broken) Name() string                { return "broken" }
func (broken) Check(context.Context) error { return errors.New("no such thing here") }

func TestUsable(t *testing.T) {
	names, why := Usable(t.Context(), broken{}, SignalBackend{}, NoneBackend{})
	if !slices.Equal(names, []string{Signal, None}) {
		t.Errorf("Usable names = %q, want signal and none in the order given", names)
	}
	if err := why["broken"]; err == nil || err.Error() != "no such thing here" {
		t.Errorf("Usable why[broken] = %v, want the backend's own reason", err)
	}
	if len(why) != 1 {
		t.Errorf("Usable why = %v, want only broken's reason", why)
	}
}

func TestCRIUNotFound(t *testing.T) {
	c := &CRIUBackend{} // as NewCRIU("") leaves it where no criu exists
	if err := c.Check(t.Context()); err == nil {
		t.Error("Check without a criu binary passed")
	} else if runtime.GOOS == "linux" && !errors.Is(err, ErrNoCRIU) {
		t.Errorf("Check without a criu binary = %v, want ErrNoCRIU", err)
	}
}
