package policy

import "fmt"

// Action is what guests running here must get. Its values are the words of
// the config file (`on_owner_return.action`), so they can be passed on as
// they are; ActionNone is the empty string.
type Action string

// Actions.
const (
	// ActionNone: run normally (thawed, no share caps).
	ActionNone Action = ""
	// ActionShare: keep running at the lowest priority, capped to
	// Decision.Share.
	ActionShare Action = "share"
	// ActionSuspend: frozen until the owner has been away for
	// OnReturn.ResumeAfter.
	ActionSuspend Action = "suspend"
	// ActionKill: SIGTERM, SIGKILL after Decision.Grace; the guest's home
	// runs the task again elsewhere. A kill cannot be taken back: a donor
	// that has started one finishes it whatever later decisions say.
	ActionKill Action = "kill"
	// ActionMigrate: checkpoint the guest and move it to another idle peer;
	// a guest that cannot be checkpointed gets Decision.Fallback.
	ActionMigrate Action = "migrate"
)

// ParseAction reads an action word of the config file: "share", "suspend",
// "kill" or "migrate".
func ParseAction(s string) (Action, error) {
	if a := Action(s); a != ActionNone && a.valid() {
		return a, nil
	}
	return ActionNone, fmt.Errorf("%q is not an action (share, suspend, kill or migrate)", s)
}

func (a Action) valid() bool {
	switch a {
	case ActionNone, ActionShare, ActionSuspend, ActionKill, ActionMigrate:
		return true
	}
	return false
}

// String returns the action's word, "none" for ActionNone.
func (a Action) String() string {
	if a == ActionNone {
		return "none"
	}
	return string(a)
}
