package sensor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// The utmp record of glibc on 64-bit Linux (x86_64 and arm64 share it; see
// <bits/utmp.h>). golang.org/x/sys has no parser for it, so the offsets are
// here.
const (
	utmpRecordSize = 384

	utmpOffType = 0   // int16 ut_type
	utmpOffPID  = 4   // int32 ut_pid
	utmpOffLine = 8   // [32]byte ut_line: the terminal, relative to /dev
	utmpOffUser = 44  // [32]byte ut_user
	utmpOffHost = 76  // [256]byte ut_host
	utmpOffSec  = 340 // int32 ut_tv.tv_sec: when the entry was written

	utmpLineLen = 32
	utmpUserLen = 32
	utmpHostLen = 256

	utmpUserProcess = 7 // USER_PROCESS: a logged-in session
)

// utmpEntry is the part of a utmp record the input sensor uses.
type utmpEntry struct {
	Type int16
	PID  int32
	Line string // "pts/3", "tty1", or ":0" for some display managers
	User string
	Host string
	Time time.Time
}

// parseUtmp decodes a utmp file. A size that is not a whole number of
// records means another layout (a 32-bit or non-glibc system), whose fields
// would be read at the wrong offsets, so it is an error rather than a guess.
func parseUtmp(b []byte) ([]utmpEntry, error) {
	if len(b)%utmpRecordSize != 0 {
		return nil, fmt.Errorf("size %d is not a multiple of the %d-byte glibc record", len(b), utmpRecordSize)
	}
	out := make([]utmpEntry, 0, len(b)/utmpRecordSize)
	for r := b; len(r) > 0; r = r[utmpRecordSize:] {
		out = append(out, utmpEntry{
			Type: int16(binary.NativeEndian.Uint16(r[utmpOffType:])),
			PID:  int32(binary.NativeEndian.Uint32(r[utmpOffPID:])),
			Line: cString(r[utmpOffLine : utmpOffLine+utmpLineLen]),
			User: cString(r[utmpOffUser : utmpOffUser+utmpUserLen]),
			Host: cString(r[utmpOffHost : utmpOffHost+utmpHostLen]),
			Time: time.Unix(int64(int32(binary.NativeEndian.Uint32(r[utmpOffSec:]))), 0),
		})
	}
	return out, nil
}

// cString is a fixed-size C char array up to its first NUL; utmp fields are
// not NUL-terminated when they fill the array.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
