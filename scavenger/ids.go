package scavenger

import (
	"crypto/rand"
	"encoding/base32"
)

// jobIDEncoding is lowercase base32 without padding: IDs are typed by people
// ("scavenge logs k3x9..."), so no mixed case and no look-alike 0/1/8/9.
var jobIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// jobIDLen is short enough to type and read; 50 random bits make a collision
// among one home's jobs vanishingly unlikely (the store refuses one anyway).
const jobIDLen = 10

// newJobID returns a fresh random job ID.
func newJobID() string {
	var b [7]byte // 56 bits -> 12 base32 characters, cut to 10
	rand.Read(b[:])
	return jobIDEncoding.EncodeToString(b[:])[:jobIDLen]
}

// singleTaskID is the task ID of a one-command job. Jobs keep a slice of tasks
// so that later job kinds (sweeps, batches) can hold many.
const singleTaskID = "0"
