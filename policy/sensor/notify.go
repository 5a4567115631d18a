package sensor

// Notifier is implemented by sensors that can tell, between two samples,
// that the owner has just touched the machine. The daemon's presence loop
// samples at once when told, instead of waiting for its next tick: that is
// what lets a guest yield within a fraction of a second of the owner's
// return, while the machine is still only sampled once a second.
type Notifier interface {
	// Activity returns a channel that receives a value when input arrives
	// after a quiet spell. It holds at most one pending value, so a reader
	// that was busy finds one notification, not a backlog, and the sensor
	// never waits for the reader. It is never closed.
	Activity() <-chan struct{}
}

// newActivity makes the channel behind Notifier.
func newActivity() chan struct{} { return make(chan struct{}, 1) }

// poke notifies without ever blocking: when a notification is already
// pending, the reader has yet to sample and will see this input too.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
