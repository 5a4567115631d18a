package wire

import (
	"errors"
	"strings"
	"testing"
)

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

func TestCheckpointMessagesValidate(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	good := []Message{
		&Checkpoint{Backend: BackendSignal, ID: sha, SHA256: sha, Size: 10, Final: true},
		&Checkpoint{Backend: BackendCRIU, ID: sha, SHA256: sha, Size: MaxImageBytes},
		&TaskSpec{ClaimID: "c", JobID: "j", TaskID: "0", Argv: []string{"x"}, Checkpoint: BackendCRIU, CheckpointEveryMs: 1000,
			Resume: &Resume{Backend: BackendCRIU, ID: sha, SHA256: sha, Size: 1}},
		&Exit{Code: -1, Preempted: true, ResumeFailed: "corrupt checkpoint image: sha256 mismatch"},
	}
	for _, m := range good {
		if err := m.Validate(); err != nil {
			t.Errorf("%T %+v: %v", m, m, err)
		}
	}
	bad := []struct {
		m    Message
		want string
	}{
		{&Checkpoint{Backend: "dmtcp", ID: sha, SHA256: sha, Size: 1}, "backend"},
		{&Checkpoint{Backend: BackendSignal, ID: "x", SHA256: sha, Size: 1}, "image id"},
		{&Checkpoint{Backend: BackendSignal, ID: sha, SHA256: sha, Size: 0}, "size 0 out of range"},
		{&Checkpoint{Backend: BackendSignal, ID: sha, SHA256: sha, Size: MaxImageBytes + 1}, "out of range"},
		{&TaskSpec{ClaimID: "c", JobID: "j", TaskID: "0", Argv: []string{"x"}, Checkpoint: "magic"}, "checkpoint \"magic\""},
		{&TaskSpec{ClaimID: "c", JobID: "j", TaskID: "0", Argv: []string{"x"}, Checkpoint: BackendSignal, CheckpointEveryMs: -1}, "negative"},
		{&TaskSpec{ClaimID: "c", JobID: "j", TaskID: "0", Argv: []string{"x"}, Checkpoint: BackendSignal,
			Resume: &Resume{Backend: BackendCRIU, ID: sha, SHA256: sha, Size: 1}}, "not the task's checkpoint backend"},
		{&TaskSpec{ClaimID: "c", JobID: "j", TaskID: "0", Argv: []string{"x"},
			Resume: &Resume{Backend: BackendSignal, ID: sha, SHA256: sha, Size: 1}}, "not the task's checkpoint backend"},
		{&Exit{ResumeFailed: "bad\x1b[2J"}, "resume_failed"},
	}
	for _, c := range bad {
		err := c.m.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%T %+v: %v, want an ErrInvalid mentioning %q", c.m, c.m, err, c.want)
		}
	}
}
