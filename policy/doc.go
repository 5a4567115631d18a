// Package policy decides, from what the sensors saw, whether this machine
// may lend its processors to other peers right now, what must happen to the
// guests already running here, and says why in words a person can read
// ("keyboard used 12s ago (tty /dev/pts/3)").
//
// The decision is a state machine (Machine) fed one Sample at a time: the
// owner's return is seen on the first sample that shows it, while going
// back to donating waits out a quiet period (hysteresis), so an owner who
// steps away for a minute does not get guests thawed and frozen again.
//
// It is pure: no clocks, files or processes, only values in and a value out.
// Time comes in with each Sample, so every rule is a table test with the
// clock under the test's control, and the daemon, the demo and the tests
// all share the same judgement. Sensors live in policy/sensor. It imports
// nothing of the project: the CLI turns the config file into a Policy.
package policy
