package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/executor"
)

// TestMigration moves a counting task (testdata/counter) between real
// daemons without losing its count: with the signal backend and with criu
// when the owner of its donor comes back (`scavenge pause` applies the
// owner's action, migrate here), from the periodic checkpoint when its
// donor dies (kill -9 of the daemon and the guest: a power cut), and from
// scratch when the image kept at home turns out corrupt.
//
// h submits and never runs its own tasks; a and b donate and migrate on
// the owner's return. Each case starts the task on a (b paused), then
// lets b take it.
func TestMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real daemons")
	}
	counter := buildCounter(t)
	root := t.TempDir()
	homeH, homeA, homeB := filepath.Join(root, "h"), filepath.Join(root, "a"), filepath.Join(root, "b")
	initHome(t, "--home", homeH, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated")
	editConfig(t, homeH, map[string]string{"labels": `["h"]`})
	startDaemon(t, "h", homeH)
	boot := strings.Fields(must(t, "id", "--home", homeH).stdout)[0]
	key := filepath.Join(homeH, "swarm.key")
	idA := initHome(t, "--home", homeA, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--swarm-key", key, "--bootstrap", boot)
	idB := initHome(t, "--home", homeB, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--swarm-key", key, "--bootstrap", boot)
	for _, home := range []string{homeA, homeB} {
		editConfig(t, home, map[string]string{"action": `"migrate"`, "labels": `["donor"]`})
	}
	daemonA := startDaemon(t, "a", homeA)
	startDaemon(t, "b", homeB)
	waitPeerState(t, homeH, idA, wire.StateIdle)
	waitPeerState(t, homeH, idB, wire.StateIdle)

	// start submits the counter to h with the given checkpoint flags once
	// b is paused, and returns when it counts on a.
	outer := t // a's daemon outlives the cases
	start := func(t *testing.T, flags ...string) (id string, g scavenger.Guest) {
		t.Helper()
		select {
		case <-daemonA.done: // a power cut took it
			daemonA = startDaemon(outer, "a", homeA)
			waitPeerState(t, homeH, idA, wire.StateIdle)
		default:
		}
		must(t, "pause", "--home", homeB)
		waitPeerState(t, homeH, idB, wire.StatePaused)
		args := append([]string{"submit", "--home", homeH, "--detach", "--label", "donor", "--input", counter}, flags...)
		id = strings.TrimSpace(must(t, append(args, "--", "./counter", "-n", "300")...).stdout)
		waitFor(t, 30*time.Second, "the counter to count on a", func() (bool, string) {
			gs := statusOf(t, homeA).Daemon.Guests
			out := taskOut(t, homeH, id)
			if len(gs) == 0 || gs[0].Pid == 0 || !strings.Contains(out, "count 50\n") {
				return false, fmt.Sprintf("%d guests, output %q", len(gs), out)
			}
			g = gs[0]
			return true, ""
		})
		return id, g
	}
	// finish lets b take the task and returns the job once it is done.
	finish := func(t *testing.T, id string) scavenger.Job {
		t.Helper()
		must(t, "resume", "--home", homeB)
		var j scavenger.Job
		waitFor(t, 120*time.Second, "job "+id+" to finish", func() (bool, string) {
			j, _ = findJob(statusOf(t, homeH).Jobs, id)
			return j.State.Final(), string(j.State) + " " + j.Reason
		})
		if j.State != scavenger.StateDone || !strings.HasSuffix(taskOut(t, homeH, id), "counted 300\n") {
			t.Fatalf("job %s: %s (%s), output %q; want done, counted 300", id, j.State, j.Reason, taskOut(t, homeH, id))
		}
		if task := j.Tasks[0]; task.Peer != idB {
			t.Errorf("task ended on %s, want b (%s)", task.PeerName, idB)
		}
		return j
	}
	// migrateAway is the owner of a coming back: a migrates its guest.
	migrateAway := func(t *testing.T) {
		t.Helper()
		must(t, "pause", "--home", homeA)
		waitPeerState(t, homeH, idA, wire.StatePaused)
		t.Cleanup(func() { must(t, "resume", "--home", homeA) })
	}

	t.Run("signal", func(t *testing.T) {
		id, _ := start(t, "--checkpoint", "signal")
		migrateAway(t)
		j := finish(t, id)
		out := taskOut(t, homeH, id)
		if strings.Count(out, "start\n") != 1 || resumedAt(out) < 50 {
			t.Errorf("output %q: want one start and a resume at 50 or later", out)
		}
		if task := j.Tasks[0]; task.Moves != 1 || task.Preemptions != 0 || task.WorkLost != 0 {
			t.Errorf("task: %d moves, %d preemptions, %s lost; want 1, 0, 0", task.Moves, task.Preemptions, task.WorkLost)
		}
	})

	t.Run("criu", func(t *testing.T) {
		if !offers(t, homeH, idA, "criu") {
			if has, err := executor.HasCapSysResource(); err != nil {
				t.Fatal(err)
			} else if !has {
				t.Skip("this root lacks CAP_SYS_RESOURCE (a container that dropped it), without which criu cannot dump a guest of another user; see the README's \"Checkpoints and migration\"")
			}
			if os.Getenv("CI") != "" {
				t.Fatal("a does not offer criu checkpoints under CI (.ci/run installs criu and runs as root)")
			}
			t.Skip("no working criu here (run as root after .ci/install-criu)")
		}
		id, g := start(t, "--checkpoint", "criu")
		migrateAway(t)
		j := finish(t, id)
		out := taskOut(t, homeH, id)
		if strings.Count(out, "start\n") != 1 || strings.Contains(out, "resumed") || !countsIncrease(out) {
			t.Errorf("output %q: want one start and counts that never go back", out)
		}
		if task := j.Tasks[0]; task.Moves != 1 || task.WorkLost != 0 {
			t.Errorf("task: %d moves, %s lost; want 1, 0", task.Moves, task.WorkLost)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", g.Pid)); err == nil {
			t.Errorf("the dumped guest (pid %d) still runs on a", g.Pid)
		}
	})

	// powerCut kills a's daemon and its guest at once; a stays down until
	// the next case starts.
	powerCut := func(t *testing.T, g scavenger.Guest) {
		t.Helper()
		daemonA.cmd.Process.Signal(syscall.SIGKILL)
		<-daemonA.done
		syscall.Kill(-g.Pid, syscall.SIGKILL) // the guest's process group
		syscall.Kill(g.Pid, syscall.SIGKILL)
	}
	waitCheckpoint := func(t *testing.T, id string) scavenger.TaskCheckpoint {
		t.Helper()
		var ck scavenger.TaskCheckpoint
		waitFor(t, 30*time.Second, "a checkpoint of "+id+" at home", func() (bool, string) {
			j, _ := findJob(statusOf(t, homeH).Jobs, id)
			if len(j.Tasks) == 0 || j.Tasks[0].Checkpoint == nil {
				return false, "none yet"
			}
			ck = *j.Tasks[0].Checkpoint
			return true, ""
		})
		return ck
	}

	t.Run("kill -9 resumes from the periodic checkpoint", func(t *testing.T) {
		id, g := start(t, "--checkpoint", "signal", "--checkpoint-every", "1s")
		waitCheckpoint(t, id)
		powerCut(t, g)
		j := finish(t, id)
		out := taskOut(t, homeH, id)
		if strings.Count(out, "start\n") != 1 || resumedAt(out) < 25 {
			t.Errorf("output %q: want one start and a resume from a saved count", out)
		}
		if task := j.Tasks[0]; task.Lost != 1 || task.Moves != 1 {
			t.Errorf("task: %d lost, %d moves; want 1, 1", task.Lost, task.Moves)
		}
	})

	t.Run("corrupt image falls back to a fresh start", func(t *testing.T) {
		id, g := start(t, "--checkpoint", "signal", "--checkpoint-every", "1s")
		ck := waitCheckpoint(t, id)
		// Stop the checkpoints first, so that the corrupt one is the last.
		powerCut(t, g)
		images, _ := filepath.Glob(filepath.Join(homeH, "checkpoints", id, "*.img"))
		if len(images) != 1 {
			t.Fatalf("images kept at home: %v, want one (checkpoint %s)", images, ck.ID)
		}
		corrupt(t, images[0])
		j := finish(t, id)
		out := taskOut(t, homeH, id)
		if strings.Count(out, "start\n") != 2 {
			t.Errorf("output %q: want a second start, from scratch", out)
		}
		if task := j.Tasks[0]; task.WorkLost <= 0 || task.Moves != 0 {
			t.Errorf("task: %s lost, %d moves; want work lost and no move", task.WorkLost, task.Moves)
		}
		if _, err := os.Stat(images[0]); err == nil {
			t.Errorf("the corrupt image %s is still kept", images[0])
		}
	})
}

// buildCounter builds testdata/counter statically, readable by guests.
func buildCounter(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(tmpDir, "counter-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "counter")
	cmd := exec.Command(goTool(), "build", "-o", out, "./testdata/counter")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the counter: %v\n%s", err, b)
	}
	return out
}

// taskOut is the stdout the home keeps of a one-task job.
func taskOut(t *testing.T, home, id string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(home, "jobs", id, "0.out"))
	return string(b)
}

var resumedRE = regexp.MustCompile(`(?m)^resumed at (\d+)$`)

// resumedAt is the count the last resume started from, -1 if none.
func resumedAt(out string) int {
	m := resumedRE.FindAllStringSubmatch(out, -1)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

var countRE = regexp.MustCompile(`(?m)^count (\d+)$`)

// countsIncrease reports whether the "count N" lines go up by 25 each.
func countsIncrease(out string) bool {
	prev := 0
	for _, m := range countRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		if n != prev+25 {
			return false
		}
		prev = n
	}
	return prev > 0
}

// offers reports whether home sees peer id offering checkpoint backend b.
func offers(t *testing.T, home, id, b string) bool {
	t.Helper()
	for _, p := range peersOf(t, home) {
		if p.Peer == id {
			for _, c := range p.Checkpoint {
				if c == b {
					return true
				}
			}
		}
	}
	return false
}

// corrupt flips bytes in the middle of the file at path.
func corrupt(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if _, err := f.WriteAt([]byte("corrupt!"), fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}
