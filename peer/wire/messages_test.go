package wire

import "testing"

func TestControlCharactersRejected(t *testing.T) {
	if err := (&Error{Message: "owner back\x1b]0;pwned\x07"}).Validate(); err == nil {
		t.Error("an Error with escape sequences validated")
	}
	if err := (&Cancel{Reason: "fine reason"}).Validate(); err != nil {
		t.Errorf("a plain reason was refused: %v", err)
	}
}

func TestGuestStateValidate(t *testing.T) {
	if err := (&GuestState{State: GuestShared, Reason: "owner returned"}).Validate(); err != nil {
		t.Errorf("a shared guest state was refused: %v", err)
	}
	if err := (&GuestState{State: "teleported"}).Validate(); err == nil {
		t.Error("an unknown guest state validated")
	}
}
