package sensor

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	procGetLastInputInfo = user32.NewProc("GetLastInputInfo")
)

// lastInputInfo is LASTINPUTINFO.
type lastInputInfo struct {
	cbSize uint32
	dwTime uint32 // tick count (ms since boot, 32 bits) of the last input
}

// lastInput asks Windows when the session last had keyboard or mouse input.
type lastInput struct{ log *slog.Logger }

func newInput(_ Options, log *slog.Logger, _ func()) inputSensor { return lastInput{log: log} }

func (lastInput) read(context.Context) (input, error) {
	info := lastInputInfo{cbSize: uint32(unsafe.Sizeof(lastInputInfo{}))}
	if r, _, err := procGetLastInputInfo.Call(uintptr(unsafe.Pointer(&info))); r == 0 {
		return input{}, fmt.Errorf("GetLastInputInfo: %w", err)
	}
	// Both counts are milliseconds since boot truncated to 32 bits; the
	// unsigned difference stays right when the count wraps after 49.7 days.
	now := uint32(windows.DurationSinceBoot() / time.Millisecond)
	idle := time.Duration(now-info.dwTime) * time.Millisecond
	return input{idle: idle, source: "Windows session input", known: true}, nil
}

func (lastInput) close() {}
