package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCRIUFrozenGuest: the engine freezes a guest the moment its owner
// comes back (the CPU is free at once) and only then dumps it; criu dumps a
// guest frozen in its freezer cgroup without thawing it first.
func TestCRIUFrozenGuest(t *testing.T) {
	c := needCRIU(t)
	cg := freezerCgroup(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := startGuest(t, "counter", w)
	w.Close()
	var cs counts
	done := cs.read(r)
	cs.waitFor(t, 20, nil)
	writeCgroup(t, cg, "cgroup.procs", strconv.Itoa(cmd.Process.Pid))

	start := time.Now()
	writeCgroup(t, cg, "freezer.state", "FROZEN")
	for !strings.HasPrefix(readCgroup(t, cg, "freezer.state"), "FROZEN") {
		time.Sleep(time.Millisecond)
	}
	frozeIn := time.Since(start)
	atFreeze, _ := cs.snapshot()
	time.Sleep(50 * time.Millisecond)
	if still, _ := cs.snapshot(); len(still) > len(atFreeze)+1 {
		t.Fatalf("frozen guest went on counting from %d to %d", len(atFreeze), len(still))
	}

	images := filepath.Join(t.TempDir(), "images")
	start = time.Now()
	if err := c.Dump(t.Context(), cmd.Process.Pid, images, DumpOptions{FreezeCgroup: cg}); err != nil {
		t.Fatal(err)
	}
	dumpedIn := time.Since(start)
	cmd.Wait()
	<-done
	before, _ := cs.snapshot()

	keys, err := StdioKeys(images)
	if err != nil {
		t.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Restore(t.Context(), images, RestoreOptions{Inherit: map[string]*os.File{keys[1]: w2}})
	w2.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Kill(); p.Wait() }()
	var resumed counts
	resumed.read(r2)
	if more := resumed.waitFor(t, 20, nil); more[0] != len(before)+1 {
		t.Errorf("restored guest went on at %d, want %d", more[0], len(before)+1)
	}
	t.Logf("froze in %v, dumped the frozen guest in %v, restored it thawed", frozeIn, dumpedIn)
}

// freezerCgroup makes a cgroup v1 freezer group for one test, or skips:
// desktops use v2, where the engine freezes with cgroup.freeze instead.
func freezerCgroup(t *testing.T) string {
	t.Helper()
	root := "/sys/fs/cgroup/freezer"
	if _, err := os.Stat(filepath.Join(root, "freezer.state")); err != nil {
		if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
			t.Skipf("no cgroup v1 freezer at %s", root)
		}
	}
	cg := filepath.Join(root, fmt.Sprintf("scavenge-checkpoint-test-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot make a freezer cgroup: %v", err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(cg, "freezer.state"), []byte("THAWED"), 0o644)
		for range 100 {
			if os.Remove(cg) == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("could not remove %s", cg)
	})
	return cg
}

func writeCgroup(t *testing.T, cg, file, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(cg, file), []byte(value), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCgroup(t *testing.T, cg, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cg, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
