package sensor

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"
)

// TestParseUtmpGolden reads a file written by glibc's pututline (see
// testdata/gen_utmp.c), so the offsets are checked against glibc itself.
func TestParseUtmpGolden(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the golden file is little-endian")
	}
	b, err := os.ReadFile("testdata/utmp-glibc-amd64")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseUtmp(b)
	if err != nil {
		t.Fatalf("parseUtmp: %v", err)
	}
	want := []utmpEntry{
		{Type: 2, Line: "~", User: "reboot", Time: time.Unix(1767225600, 0)},
		{Type: utmpUserProcess, PID: 4242, Line: "pts/3", User: "alice", Host: "10.0.0.7", Time: time.Unix(1767229200, 0)},
		{Type: 8, PID: 4100, Line: "pts/1", Time: time.Unix(1767228000, 0)},
		// A line filling all 32 bytes has no NUL; the id after it is not part of it.
		{Type: utmpUserProcess, PID: 777, Line: strings.Repeat("x", 32), User: "bob", Time: time.Unix(1767230000, 0)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("entry %d time: got %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time, want[i].Time = time.Time{}, time.Time{}
		if got[i] != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestParseUtmpSizes(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		entries int
		wantErr bool
	}{
		{"empty file", 0, 0, false},
		{"one record", utmpRecordSize, 1, false},
		{"three records", 3 * utmpRecordSize, 3, false},
		{"32-bit layout", 382, 0, true},
		{"torn record", utmpRecordSize + 100, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUtmp(make([]byte, tt.size))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseUtmp(%d bytes) error = %v, want error %v", tt.size, err, tt.wantErr)
			}
			if len(got) != tt.entries {
				t.Errorf("parseUtmp(%d bytes) = %d entries, want %d", tt.size, len(got), tt.entries)
			}
		})
	}
}

// utmpRecord encodes e in the glibc layout, for tests that need a utmp file
// pointing at terminals they made.
func utmpRecord(e utmpEntry) []byte {
	b := make([]byte, utmpRecordSize)
	binary.NativeEndian.PutUint16(b[utmpOffType:], uint16(e.Type))
	binary.NativeEndian.PutUint32(b[utmpOffPID:], uint32(e.PID))
	copy(b[utmpOffLine:utmpOffLine+utmpLineLen], e.Line)
	copy(b[utmpOffUser:utmpOffUser+utmpUserLen], e.User)
	copy(b[utmpOffHost:utmpOffHost+utmpHostLen], e.Host)
	binary.NativeEndian.PutUint32(b[utmpOffSec:], uint32(e.Time.Unix()))
	return b
}
