package executor

import (
	"errors"
	"path/filepath"
)

// ForceCgroupV2 makes an executor use the cgroup v2 hierarchy even where v1
// controllers are mounted, so the v2 code runs on a hybrid machine.
func ForceCgroupV2(o *Options) { o.forceCgroupV2 = true }

// CgroupVersion is the cgroup version e's guests get, 0 for none.
func CgroupVersion(e *Executor) int {
	if m, ok := e.cgroups.(*cgroups); ok {
		return m.version
	}
	return 0
}

// CgroupControllers says which caps and freezer e's guests get.
func CgroupControllers(e *Executor) (cpu, memory, freezer bool) {
	m, ok := e.cgroups.(*cgroups)
	if !ok {
		return false, false, false
	}
	return m.hasCPU, m.hasMemory, m.hasFreezer
}

// CgroupDir is the directory of process pid's cgroup in the v1 hierarchy of
// controller, or in the v2 hierarchy for "", as the kernel reports it.
func CgroupDir(pid int, controller string) (string, error) {
	mounts, err := findCgroupMounts()
	if err != nil {
		return "", err
	}
	point := mounts.v2
	if controller != "" {
		point = mounts.v1[controller]
	}
	if point == "" {
		return "", errors.New("no hierarchy for controller " + controller)
	}
	rel, err := processCgroup(pid, controller)
	if err != nil {
		return "", err
	}
	return filepath.Join(point, rel), nil
}

// CgroupMounts returns where the v1 controllers and the v2 hierarchy
// (under "") are mounted.
func CgroupMounts() (map[string]string, error) {
	m, err := findCgroupMounts()
	if err != nil {
		return nil, err
	}
	out := map[string]string{"": m.v2}
	for c, p := range m.v1 {
		out[c] = p
	}
	return out, nil
}
