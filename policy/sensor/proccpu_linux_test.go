package sensor

import "testing"

func TestParseProcStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    float64
		wantErr bool
	}{
		{
			// utime 150, stime 50, cutime 275, cstime 25 ticks: 5 s in all.
			name: "plain",
			stat: "4242 (make) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 275 25 20 0 1 0 5000 1000 100 18446744073709551615",
			want: 5,
		},
		{
			name: "command with spaces and parentheses",
			stat: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5000 1000 100",
			want: 0.1,
		},
		{name: "truncated", stat: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 1 2", wantErr: true},
		{name: "no command", stat: "7 a R 1", wantErr: true},
		{name: "not a number", stat: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 1 x 3 4 20", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStatCPU("stat", []byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v s, want %v s", got, tt.want)
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
