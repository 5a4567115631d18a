package sensor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the times in /proc/<pid>/stat. The kernel ABI fixes
// it at 100 on every architecture this runs on, whatever the kernel's own
// tick rate.
const userHZ = 100

// processTable reads each process's parent and CPU time in one pass over
// /proc: one small file per process. gopsutil's per-process calls read
// /proc/stat besides, for the boot time, which made a Read with a guest
// running cost about 100 µs per process on the machine.
func processTable(ctx context.Context) (procTable, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return procTable{}, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return procTable{}, fmt.Errorf("/proc: %w", err)
	}
	t := procTable{children: make(map[int32][]int32), cpu: make(map[int32]float64)}
	buf := make([]byte, 4096) // a stat line is a few hundred bytes
	for _, name := range names {
		pid, err := strconv.ParseInt(name, 10, 32)
		if err != nil {
			continue // not a process: /proc/self, /proc/meminfo, ...
		}
		path := "/proc/" + name + "/stat"
		b, err := readSmall(path, buf)
		if err != nil {
			continue // exited while we looked
		}
		ppid, used, err := parseProcStat(path, b)
		if err != nil {
			return procTable{}, err
		}
		t.children[ppid] = append(t.children[ppid], int32(pid))
		t.cpu[int32(pid)] = used
	}
	return t, ctx.Err()
}

// readSmall reads a small file into buf with three system calls: an
// os.File would add the runtime poller's registration and more, which is
// most of the cost when it is done for every process of the machine.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return buf[:n], nil
}

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
	_, used, err := parseProcStat(path, b)
	return used, err
}

// parseProcStat reads the parent (field 4 of proc(5)) and utime, stime,
// cutime and cstime (fields 14 to 17) from a stat file. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from its
// last ')'.
func parseProcStat(path string, b []byte) (ppid int32, cpu float64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%s: no command name", path)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	const parent, first = 4 - 3, 14 - 3
	if len(f) < first+4 {
		return 0, 0, fmt.Errorf("%s: %d fields, want at least %d", path, len(f)+2, first+4+2)
	}
	p, err := strconv.ParseInt(string(f[parent]), 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: parent %q: %w", path, f[parent], err)
	}
	var ticks uint64
	for _, s := range f[first : first+4] {
		n, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: CPU time %q: %w", path, s, err)
		}
		ticks += n
	}
	return int32(p), float64(ticks) / userHZ, nil
}
