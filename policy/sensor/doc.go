// Package sensor measures what the presence policy needs to know: how long
// since the owner last touched the keyboard or mouse, and how busy the owner
// keeps the processors once the guests' own load is taken out.
//
// Each OS has its own input files:
//   - Linux: the most recent of every source there is, as HTCondor does.
//     Keyboards, mice, touchpads and touchscreens are read through evdev
//     (/dev/input/event*) as their events arrive; this sees a graphical
//     desktop under X or Wayland, but needs /dev/input and a daemon that is
//     root or in group input. systemd-logind's IdleHint and IdleSinceHint,
//     on the system bus, cover every session without privilege and signal
//     the owner's return. The access times of the terminals of logged-in
//     sessions (from utmp) and of the virtual consoles see text logins and
//     ssh sessions. A missing source is left out; the input is unknown only
//     when none has anything to say.
//   - Windows: GetLastInputInfo. It reports the input of the session the
//     daemon runs in, so a daemon run as a service in session 0 sees none.
//   - macOS: HIDIdleTime of IOHIDSystem, read through ioreg (no cgo).
//
// On Linux the machine's sensor also implements Notifier: evdev input after
// a quiet spell, and logind's signals, wake the presence loop at once
// instead of at its next tick.
//
// CPU load comes from gopsutil on every OS. Fake stands in for the machine in
// tests of the code that acts on readings.
package sensor
