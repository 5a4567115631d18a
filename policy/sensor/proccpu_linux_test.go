package sensor

import (
	"os"
	"slices"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name     string
		stat     string
		wantPPID int32
		want     float64
		wantErr  bool
	}{
		{
			// utime 150, stime 50, cutime 275, cstime 25 ticks: 5 s in all.
			name:     "plain",
			stat:     "4242 (make) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 275 25 20 0 1 0 5000 1000 100 18446744073709551615",
			wantPPID: 1,
			want:     5,
		},
		{
			name:     "command with spaces and parentheses",
			stat:     "7 (a) b (c)) R 3 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5000 1000 100",
			wantPPID: 3,
			want:     0.1,
		},
		{name: "truncated", stat: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 1 2", wantErr: true},
		{name: "no command", stat: "7 a R 1", wantErr: true},
		{name: "not a number", stat: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 1 x 3 4 20", wantErr: true},
		{name: "parent not a number", stat: "7 (a) R x 7 7 0 -1 0 0 0 0 0 1 2 3 4 20", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ppid, got, err := parseProcStat("stat", []byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if ppid != tt.wantPPID || got != tt.want {
				t.Errorf("got parent %d, %v s; want %d, %v s", ppid, got, tt.wantPPID, tt.want)
			}
		})
	}
}

func TestProcessCPUNoSuchProcess(t *testing.T) {
	const pid = 1<<22 + 1 // above the kernel's highest possible pid_max
	if got, err := processCPU(t.Context(), pid); err == nil {
		t.Errorf("processCPU(%d) = %v, want an error: there is no such process", pid, got)
	}
}

// TestProcessTable checks the one-pass table against the test itself: its
// parent is known, and its CPU time is what its own stat file says.
func TestProcessTable(t *testing.T) {
	table, err := processTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	self, parent := int32(os.Getpid()), int32(os.Getppid())
	if !slices.Contains(table.children[parent], self) {
		t.Errorf("the test (%d) is not among the children of its parent (%d): %v", self, parent, table.children[parent])
	}
	used, err := table.cpuOf(t.Context(), self)
	if err != nil || used < 0 {
		t.Errorf("cpuOf(self) = %v, %v; want a CPU time", used, err)
	}
	if len(table.cpu) < 2 {
		t.Errorf("the table holds %d processes, want the whole machine's", len(table.cpu))
	}
}
