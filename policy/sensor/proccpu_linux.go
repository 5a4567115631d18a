package sensor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
)

// userHZ is the unit of the times in /proc/<pid>/stat. The kernel ABI fixes
// it at 100 on every architecture this runs on, whatever the kernel's own
// tick rate.
const userHZ = 100

// processCPU is the CPU time, in seconds, that a process and its children it
// has already waited for have used. Counting the waited-for children is what
// keeps a guest's short-lived processes (a build's compilers) from being
// mistaken for the owner's load: when one exits, its time moves into its
// parent's, which is still in the guest's tree. gopsutil reports only a
// process's own time, hence this small reader.
func processCPU(_ context.Context, pid int32) (float64, error) {
	path := "/proc/" + strconv.Itoa(int(pid)) + "/stat"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(path, b)
}

// parseProcStatCPU reads utime, stime, cutime and cstime (fields 14 to 17 of
// proc(5)) from a stat file. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func parseProcStatCPU(path string, b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name", path)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	const first = 14 - 3
	if len(f) < first+4 {
		return 0, fmt.Errorf("%s: %d fields, want at least %d", path, len(f)+2, first+4+2)
	}
	var ticks uint64
	for _, s := range f[first : first+4] {
		n, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: CPU time %q: %w", path, s, err)
		}
		ticks += n
	}
	return float64(ticks) / userHZ, nil
}
