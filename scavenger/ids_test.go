package scavenger

import "testing"

func TestNewJobID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newJobID()
		if len(id) != jobIDLen || !idChars(id) {
			t.Fatalf("job ID %q: want %d of [a-z2-7]", id, jobIDLen)
		}
		if seen[id] {
			t.Fatalf("job ID %q repeated", id)
		}
		seen[id] = true
	}
}

func idChars(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}
