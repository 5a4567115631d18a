package sensor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type stubInput struct {
	in  input
	err error
}

func (s stubInput) read(context.Context) (input, error) { return s.in, s.err }
func (stubInput) close()                                {}

// TestReadReportsPartsApart checks that one failing part does not hide the
// other: the policy can still act on what was measured.
func TestReadReportsPartsApart(t *testing.T) {
	broken := errors.New("no such device")
	tests := []struct {
		name       string
		input      stubInput
		wantKnown  bool
		wantIdle   time.Duration
		wantErrSub string
	}{
		{"input fails", stubInput{err: broken}, false, 0, "input idle time: no such device"},
		{"one input source fails, another answers", stubInput{in: input{idle: time.Second, source: "stub", known: true}, err: broken}, true, time.Second, "input idle time: no such device"},
		{"nothing to watch", stubInput{}, false, 0, ""},
		{"input known", stubInput{in: input{idle: 3 * time.Second, source: "stub", known: true}}, true, 3 * time.Second, ""},
		{"input from the future reads as just now", stubInput{in: input{idle: -time.Second, source: "stub", known: true}}, true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Machine{input: tt.input, cpu: newCPUMeter(context.Background(), nil, testLogger(t))}
			got, err := m.Read(context.Background())
			if tt.wantErrSub == "" && err != nil || tt.wantErrSub != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrSub)) {
				t.Fatalf("Read error = %v, want one containing %q", err, tt.wantErrSub)
			}
			if tt.wantErrSub != "" && !errors.Is(err, broken) {
				t.Errorf("Read error %v does not wrap %v", err, broken)
			}
			if got.InputKnown != tt.wantKnown || got.InputIdle != tt.wantIdle {
				t.Errorf("got known=%v idle=%v, want %v %v", got.InputKnown, got.InputIdle, tt.wantKnown, tt.wantIdle)
			}
			// The CPU part still measured: a meter with a baseline gives
			// a load in [0, 1] once time has passed on the machine.
			if got.OwnerCPU < 0 || got.OwnerCPU > 1 {
				t.Errorf("OwnerCPU = %v, want within [0, 1]", got.OwnerCPU)
			}
		})
	}
}
