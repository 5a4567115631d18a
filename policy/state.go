package policy

// State is the machine's availability as the policy sees it. The values
// are stable words for logs and `scavenge status`; three of them ("owner",
// "idle", "paused") are also states that offers carry on the wire, and the
// daemon maps the others.
type State string

// States.
const (
	// StateOwnerActive: the owner is using the machine and no guests are
	// left here.
	StateOwnerActive State = "owner"
	// StateIdle: the owner is away and no guest runs here: donate.
	StateIdle State = "idle"
	// StateDonating: the owner is away and guests run here at full
	// speed; more are welcome while slots are free.
	StateDonating State = "donating"
	// StateOwnerBack: the owner is present while guests are still here;
	// they get the OnReturn action.
	StateOwnerBack State = "owner-back"
	// StatePaused: the owner said `scavenge pause`; guests get the OnReturn
	// action at once.
	StatePaused State = "paused"
	// StateOutsideHours: now is outside every donation window; guests get
	// the OnReturn action.
	StateOutsideHours State = "outside-hours"
)

// String returns the state's word.
func (s State) String() string { return string(s) }

// Donates reports whether a machine in this state accepts new guests and
// lets the ones it has run normally. Unknown states do not donate.
func (s State) Donates() bool { return s == StateIdle || s == StateDonating }
