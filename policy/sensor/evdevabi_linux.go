package sensor

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parts of the kernel's evdev interface (<linux/input.h> and
// <linux/input-event-codes.h>) the input sensor uses. golang.org/x/sys has
// neither the event layout nor the ioctls.

// wordSize is the size of the C long the kernel uses in input_event's
// timestamp and in capability bitmaps.
const wordSize = int(unsafe.Sizeof(uintptr(0)))

// struct input_event: a timeval of two longs, then __u16 type, __u16 code
// and __s32 value.
const (
	evSize    = 2*wordSize + 8
	evOffType = 2 * wordSize
)

// Event types.
const (
	evKey = 0x01
	evRel = 0x02
	evAbs = 0x03
	evMax = 0x1f
)

// Codes the classification looks at.
const (
	keyMax  = 0x2ff
	relMax  = 0x0f
	absMax  = 0x3f
	propMax = 0x1f

	relX = 0x00
	relY = 0x01

	absX          = 0x00
	absY          = 0x01
	absMTPosX     = 0x35
	absMTPosY     = 0x36
	btnLeft       = 0x110 // also BTN_MOUSE
	btnToolPen    = 0x140
	btnToolFinger = 0x145
	btnTouch      = 0x14a
	btnStylus     = 0x14b

	propDirect        = 0x01 // a touchscreen: touches land where they point
	propAccelerometer = 0x06
)

// Ioctl numbers: _IOC(_IOC_READ, 'E', nr, size). The read direction's
// bits differ between architectures (x86 and arm put it at bit 31, ppc
// and mips at bit 30), so they are taken from an _IOR ioctl that
// golang.org/x/sys defines for each: TIOCGPTN is _IOR('T', 0x30, u32).
const (
	iocRead      = uintptr(unix.TIOCGPTN &^ (4<<16 | 'T'<<8 | 0x30))
	evNrName     = 0x06 // EVIOCGNAME(len): the device's name
	evNrProp     = 0x09 // EVIOCGPROP(len): INPUT_PROP_* bits
	evNrBitsBase = 0x20 // EVIOCGBIT(ev, len): the codes of event type ev; ev 0 lists the types
)

func evioc(nr, size int) uintptr {
	return iocRead | uintptr(size)<<16 | 'E'<<8 | uintptr(nr)
}

// humanInput reports whether a run of whole input_event records holds a
// key, button, motion or touch. Synchronization and miscellaneous events
// (scan codes, timestamps) always come with one of those, and LED or sound
// events are written by the system, not the owner.
func humanInput(b []byte) bool {
	for ; len(b) >= evSize; b = b[evSize:] {
		switch binary.NativeEndian.Uint16(b[evOffType:]) {
		case evKey, evRel, evAbs:
			return true
		}
	}
	return false
}

// bitmap is a capability bitmap as EVIOCGBIT and EVIOCGPROP fill it: an
// array of longs, bit n in long n/bits at bit n%bits.
type bitmap []byte

func (m bitmap) has(n int) bool {
	bits := 8 * wordSize
	off := n / bits * wordSize
	if n < 0 || off+wordSize > len(m) {
		return false
	}
	var w uint64
	if wordSize == 8 {
		w = binary.NativeEndian.Uint64(m[off:])
	} else {
		w = uint64(binary.NativeEndian.Uint32(m[off:]))
	}
	return w>>(n%bits)&1 == 1
}

// bitmapBytes is the size of a bitmap holding codes 0..max, in whole longs.
func bitmapBytes(max int) int { return (max/(8*wordSize) + 1) * wordSize }

// evdevCaps is what a device can report.
type evdevCaps struct {
	ev, key, rel, abs, prop bitmap
}

// kind says which kind of owner input a device is, with the tests udev's
// input_id uses, or "" for devices whose events are not someone at the
// keyboard: power and sleep buttons, lid and headphone switches, the
// laptop's accelerometer, the PC speaker, hotkeys of the video bus.
func (c evdevCaps) kind() string {
	if c.prop.has(propAccelerometer) {
		return ""
	}
	keys := c.ev.has(evKey)
	if c.ev.has(evAbs) && (c.abs.has(absX) && c.abs.has(absY) || c.abs.has(absMTPosX) && c.abs.has(absMTPosY)) && keys {
		switch {
		case c.key.has(btnToolPen) || c.key.has(btnStylus):
			return "tablet"
		case c.key.has(btnToolFinger) && !c.prop.has(propDirect):
			return "touchpad"
		case c.key.has(btnTouch) || c.prop.has(propDirect):
			return "touchscreen"
		case c.key.has(btnLeft):
			return "mouse" // an absolute one, as virtual machines offer
		}
	}
	if c.ev.has(evRel) && c.rel.has(relX) && c.rel.has(relY) && keys && c.key.has(btnLeft) {
		return "mouse"
	}
	if keys && c.fullKeyboard() {
		return "keyboard"
	}
	return ""
}

// fullKeyboard: like udev, a device with Escape, the digits and the top
// two rows of letters (codes 1 to 31) is a keyboard; one with only a few
// keys (a power button, volume keys) is not.
func (c evdevCaps) fullKeyboard() bool {
	for k := 1; k <= 31; k++ {
		if !c.key.has(k) {
			return false
		}
	}
	return true
}

// probeEvdev asks an open input device for its name and capabilities.
func probeEvdev(f *os.File) (name, kind string, err error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", f.Name(), err)
	}
	var caps evdevCaps
	nameBuf := make([]byte, 256)
	var ioErr error
	ctl := func(fd uintptr, what string, nr int, buf []byte) {
		if ioErr != nil {
			return
		}
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, evioc(nr, len(buf)), uintptr(unsafe.Pointer(&buf[0])))
		if errno != 0 {
			ioErr = fmt.Errorf("%s: %s ioctl: %w", f.Name(), what, errno)
		}
	}
	err = sc.Control(func(fd uintptr) {
		caps.ev = make(bitmap, bitmapBytes(evMax))
		caps.key = make(bitmap, bitmapBytes(keyMax))
		caps.rel = make(bitmap, bitmapBytes(relMax))
		caps.abs = make(bitmap, bitmapBytes(absMax))
		caps.prop = make(bitmap, bitmapBytes(propMax))
		ctl(fd, "EVIOCGNAME", evNrName, nameBuf)
		ctl(fd, "EVIOCGBIT(0)", evNrBitsBase, caps.ev)
		ctl(fd, "EVIOCGBIT(EV_KEY)", evNrBitsBase+evKey, caps.key)
		ctl(fd, "EVIOCGBIT(EV_REL)", evNrBitsBase+evRel, caps.rel)
		ctl(fd, "EVIOCGBIT(EV_ABS)", evNrBitsBase+evAbs, caps.abs)
		ctl(fd, "EVIOCGPROP", evNrProp, caps.prop)
	})
	if err == nil {
		err = ioErr
	}
	if err != nil {
		return "", "", err
	}
	return cString(nameBuf), caps.kind(), nil
}
