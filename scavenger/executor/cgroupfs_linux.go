package executor

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// This file reads the cgroup filesystems: where they are mounted, which
// cgroup a process is in, and their one-value files.

// cgroupMounts is where this machine's cgroup hierarchies are mounted.
type cgroupMounts struct {
	v1 map[string]string // controller ("cpu") -> mount point
	v2 string            // the unified (v2) hierarchy's mount point, or ""
}

// findCgroupMounts reads the mounts of this process's mount namespace.
func findCgroupMounts() (cgroupMounts, error) {
	const file = "/proc/self/mountinfo"
	f, err := os.Open(file)
	if err != nil {
		return cgroupMounts{}, err
	}
	defer f.Close()
	m := cgroupMounts{v1: map[string]string{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		// "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu"
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 {
			return cgroupMounts{}, fmt.Errorf("%s line %d: unexpected format", file, n)
		}
		point := unescapeMount(fields[4])
		switch tail[0] {
		case "cgroup2":
			if m.v2 == "" {
				m.v2 = point
			}
		case "cgroup":
			for _, opt := range strings.Split(tail[2], ",") {
				if _, seen := m.v1[opt]; !seen && isController(opt) {
					m.v1[opt] = point
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cgroupMounts{}, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

// isController tells a controller name among a cgroup mount's options from
// the mount flags ("rw") and named hierarchies ("name=systemd").
func isController(opt string) bool {
	switch opt {
	case "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio",
		"perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc":
		return true
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes ("\040" for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// processCgroup returns the cgroup path of process pid in the hierarchy of
// controller, or in the v2 hierarchy for "". The path is relative to the
// hierarchy's root, with a leading "/".
func processCgroup(pid int, controller string) (string, error) {
	file := "/proc/" + strconv.Itoa(pid) + "/cgroup"
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	// "4:memory:/process_api/x", "0::/user.slice"
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if controller == "" && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		if controller != "" && slices.Contains(strings.Split(parts[1], ","), controller) {
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("%s: no cgroup for controller %q", file, controller)
}

// readCgroupFile returns a cgroup file's content without the trailing
// newline.
func readCgroupFile(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err // *fs.PathError names the file
	}
	return strings.TrimSpace(string(b)), nil
}

// writeCgroupFile writes value to a cgroup file in one write, as the kernel
// wants it. Errors name the file and the value.
func writeCgroupFile(dir, name, value string) error {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said below
		}
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

// cgroupFileExists reports whether dir has the file name (a controller's
// files exist only where it is enabled).
func cgroupFileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// readFlatKeyed returns key's value in a "key value" per line file
// (cgroup.events, memory.events, memory.oom_control).
func readFlatKeyed(dir, name, key string) (string, error) {
	s, err := readCgroupFile(dir, name)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s: no key %q", filepath.Join(dir, name), key)
}

// readProcs returns the processes listed in a cgroup's cgroup.procs.
func readProcs(dir string) ([]int, error) {
	s, err := readCgroupFile(dir, "cgroup.procs")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%s/cgroup.procs: %q is not a pid", dir, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// startTime returns when process pid started, in clock ticks since boot
// (field 22 of /proc/pid/stat): with the pid, it names one process for
// good, as pids are reused.
func startTime(pid int) (uint64, error) {
	file := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the name may hold spaces
	if len(fields) < 20 {
		return 0, fmt.Errorf("%s: too few fields", file)
	}
	v, err := strconv.ParseUint(fields[22-3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: start time: %w", file, err)
	}
	return v, nil
}

// isBusy reports whether err is the kernel refusing to remove a cgroup
// that still has processes.
func isBusy(err error) bool { return errors.Is(err, unix.EBUSY) }

// isNotExist reports whether err says the cgroup (or its file) is gone.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV)
}
