package sensor

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
)

// procBitmap builds the bitmap an EVIOCGBIT or EVIOCGPROP ioctl fills
// from the same bitmap as /proc/bus/input/devices prints it: 64-bit words
// in hex, the most significant first. Going through bit numbers keeps the
// result right for any word size and byte order.
func procBitmap(t *testing.T, s string, max int) bitmap {
	t.Helper()
	m := make(bitmap, bitmapBytes(max))
	words := strings.Fields(s)
	for i, w := range words {
		v, err := strconv.ParseUint(w, 16, 64)
		if err != nil {
			t.Fatalf("bitmap %q: %v", s, err)
		}
		base := 64 * (len(words) - 1 - i)
		for b := range 64 {
			if v>>b&1 == 1 {
				setBit(m, base+b)
			}
		}
	}
	return m
}

func setBit(m bitmap, n int) {
	bits := 8 * wordSize
	off := n / bits * wordSize
	if wordSize == 8 {
		binary.NativeEndian.PutUint64(m[off:], binary.NativeEndian.Uint64(m[off:])|1<<(n%bits))
	} else {
		binary.NativeEndian.PutUint32(m[off:], binary.NativeEndian.Uint32(m[off:])|1<<(n%bits))
	}
}

// TestEvdevKind classifies devices by capabilities recorded on real
// machines (the B: lines of /proc/bus/input/devices, which print the
// bitmaps the ioctls return).
func TestEvdevKind(t *testing.T) {
	tests := []struct {
		name                    string
		prop, ev, key, rel, abs string
		want                    string
	}{
		{name: "AT Translated Set 2 keyboard", prop: "0", ev: "120013",
			key:  "402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe",
			want: "keyboard"},
		{name: "Logitech USB Optical Mouse", prop: "0", ev: "17",
			key: "ff0000 0 0 0 0", rel: "1943", want: "mouse"},
		{name: "SynPS/2 Synaptics TouchPad", prop: "5", ev: "b",
			key: "e520 10000 0 0 0 0", abs: "660800011000003", want: "touchpad"},
		{name: "ELAN Touchscreen", prop: "2", ev: "b",
			key: "400 0 0 0 0 0", abs: "3273800000000003", want: "touchscreen"},
		{name: "Wacom Pen", prop: "2", ev: "b",
			key: "1c03 0 0 0 0 0", abs: "3000003", want: "tablet"},
		{name: "QEMU USB Tablet", prop: "0", ev: "1f",
			key: "70000 0 0 0 0", rel: "900", abs: "3", want: "mouse"},
		{name: "Power Button", prop: "0", ev: "3", key: "10000000000000 0"},
		{name: "Sleep Button", prop: "0", ev: "3", key: "4000 0 0"},
		{name: "Lid Switch", prop: "0", ev: "21"},
		{name: "Video Bus", prop: "0", ev: "3", key: "3e000b00000000 0 0 0"},
		{name: "PC Speaker", prop: "0", ev: "40001"},
		{name: "HDA Intel PCH Headphone", prop: "0", ev: "21"},
		{name: "ST LIS3LV02DL Accelerometer", prop: "40", ev: "9", abs: "7"},
		{name: "an accelerometer claiming touch", prop: "40", ev: "b", key: "400 0 0 0 0 0", abs: "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps := evdevCaps{
				prop: procBitmap(t, tt.prop, propMax),
				ev:   procBitmap(t, tt.ev, evMax),
				key:  procBitmap(t, tt.key, keyMax),
				rel:  procBitmap(t, tt.rel, relMax),
				abs:  procBitmap(t, tt.abs, absMax),
			}
			if got := caps.kind(); got != tt.want {
				t.Errorf("kind = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBitmapRaw decodes bytes as the ioctl leaves them on a 64-bit
// little-endian machine: the keyboard's event types, EV=120013.
func TestBitmapRaw(t *testing.T) {
	if wordSize != 8 || binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the recorded bytes are from a 64-bit little-endian machine")
	}
	ev := bitmap{0x13, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00}
	want := map[int]bool{0: true, 1: true, 4: true, 17: true, 20: true} // SYN, KEY, MSC, LED, REP
	for n := range 64 {
		if ev.has(n) != want[n] {
			t.Errorf("bit %d: has = %v, want %v", n, ev.has(n), want[n])
		}
	}
	if ev.has(64) || ev.has(-1) {
		t.Error("bits outside the bitmap must read as unset")
	}
}

// inputEvent is a struct input_event as the kernel writes it.
func inputEvent(typ, code uint16, value int32) []byte {
	b := make([]byte, evSize)
	// The timestamp is left zero: the reader goes by when it reads.
	binary.NativeEndian.PutUint16(b[evOffType:], typ)
	binary.NativeEndian.PutUint16(b[evOffType+2:], code)
	binary.NativeEndian.PutUint32(b[evOffType+4:], uint32(value))
	return b
}

func TestHumanInput(t *testing.T) {
	const (
		evSyn, evMsc, evLed = 0x00, 0x04, 0x11
		keyA                = 30
	)
	cat := func(evs ...[]byte) []byte {
		var b []byte
		for _, e := range evs {
			b = append(b, e...)
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"nothing", nil, false},
		{"key press with scan code", cat(inputEvent(evMsc, 4, 0x1e), inputEvent(evKey, keyA, 1), inputEvent(evSyn, 0, 0)), true},
		{"mouse motion", cat(inputEvent(evRel, relX, -3), inputEvent(evSyn, 0, 0)), true},
		{"touch", cat(inputEvent(evAbs, absX, 500), inputEvent(evSyn, 0, 0)), true},
		{"caps lock LED set by the desktop", cat(inputEvent(evLed, 1, 1), inputEvent(evSyn, 0, 0)), false},
		{"a partial record is not read", inputEvent(evKey, keyA, 1)[:evSize-1], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := humanInput(tt.b); got != tt.want {
				t.Errorf("humanInput = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEviocNumbers checks the ioctl numbers against <linux/input.h> as
// compiled on x86-64 and arm64.
func TestEviocNumbers(t *testing.T) {
	if iocRead != 2<<30 {
		t.Skipf("the read direction is %#x on this architecture", iocRead)
	}
	for _, c := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"EVIOCGNAME(256)", evioc(evNrName, 256), 0x81004506},
		{"EVIOCGBIT(0, 8)", evioc(evNrBitsBase, 8), 0x80084520},
		{"EVIOCGBIT(EV_KEY, 96)", evioc(evNrBitsBase+evKey, 96), 0x80604521},
		{"EVIOCGPROP(8)", evioc(evNrProp, 8), 0x80084509},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}
