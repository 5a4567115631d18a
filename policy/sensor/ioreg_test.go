package sensor

import (
	"testing"
	"time"
)

func TestParseHIDIdleTime(t *testing.T) {
	// Shaped like the output of `ioreg -c IOHIDSystem -d 4`.
	const sample = `+-o Root  <class IORegistryEntry, id 0x100000100, retain 44>
  +-o J316sAP  <class IOPlatformExpertDevice, id 0x100000210, registered, matched, active, busy 0 (1032 ms), retain 38>
    +-o IOResources  <class IOResources, id 0x100000112, registered, matched, active, busy 0 (0 ms), retain 77>
      +-o IOHIDSystem  <class IOHIDSystem, id 0x1000004b7, registered, matched, active, busy 0 (0 ms), retain 22>
          {
            "HIDParameters" = {"HIDClickTime"=500000000,"HIDIdleTime"=1}
            "IOClass" = "IOHIDSystem"
            "HIDIdleTime" = 12840231375
            "HIDScrollCountMinDeltaToSustain" = 20
          }
`
	tests := []struct {
		name    string
		out     string
		want    time.Duration
		wantErr bool
	}{
		// A key inside a dictionary value comes first but is not the
		// property.
		{"property, not a dictionary key", sample, 12840231375, false},
		{"spacing", `"HIDIdleTime"=42`, 42, false},
		{"two properties, first wins", "  | \"HIDIdleTime\" = 7\n  | \"HIDIdleTime\" = 9\n", 7, false},
		{"zero", `"HIDIdleTime" = 0`, 0, false},
		{"missing", `"IOClass" = "IOHIDSystem"`, 0, true},
		{"overflow", `"HIDIdleTime" = 99999999999999999999`, 0, true},
		{"empty output", ``, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHIDIdleTime([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
