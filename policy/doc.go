// Package policy decides, from what the sensors saw, whether this machine
// may lend its processors to other peers right now, and says why in words a
// person can read ("keyboard used 12s ago (tty /dev/pts/3)").
//
// It is pure: no clocks, files or processes, only values in and a value out,
// so every rule is a table test and the daemon, the demo and the tests all
// share the same judgement. Sensors live in policy/sensor. It imports nothing
// of the project.
package policy
