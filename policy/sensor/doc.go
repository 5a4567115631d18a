// Package sensor measures what the presence policy needs to know: how long
// since the owner last touched the keyboard or mouse, and how busy the owner
// keeps the processors once the guests' own load is taken out.
//
// Each OS has its own input file:
//   - Linux: the access time of the terminals of logged-in sessions (from
//     utmp) and of the virtual consoles typed on since boot, as HTCondor
//     does. The kernel updates a terminal's access time when a program reads
//     input from it. This sees text logins and ssh sessions but not a
//     graphical desktop, whose input goes through evdev; evdev and logind's
//     IdleHint come with the presence work.
//   - Windows: GetLastInputInfo. It reports the input of the session the
//     daemon runs in, so a daemon run as a service in session 0 sees none.
//   - macOS: HIDIdleTime of IOHIDSystem, read through ioreg (no cgo).
//
// CPU load comes from gopsutil on every OS. Fake stands in for the machine in
// tests of the code that acts on readings.
package sensor
