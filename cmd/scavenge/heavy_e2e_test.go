package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// TestHeavyJobSurvivesChaos: a 50-task sweep with a shared input, a
// per-task input and an output per task, while one donor daemon is killed
// with SIGKILL, another's owner takes the machine back (kill policy), and
// the home daemon itself is killed and restarted. Every task still
// completes exactly once with the right output.
func TestHeavyJobSurvivesChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real daemons")
	}
	const tasks = 50
	root := t.TempDir()
	homeH := filepath.Join(root, "h")
	initHome(t, "--home", homeH, "--listen", "/ip4/127.0.0.1/tcp/0")
	editConfig(t, homeH, map[string]string{"enabled": "false"}) // submits only
	daemonH := startDaemon(t, "h", homeH)
	boot := strings.Fields(must(t, "id", "--home", homeH).stdout)[0]
	key := filepath.Join(homeH, "swarm.key")
	donors := map[string]*daemon{}
	ids := map[string]string{}
	for _, name := range []string{"d1", "d2", "d3"} {
		home := filepath.Join(root, name)
		ids[name] = initHome(t, "--home", home, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--swarm-key", key, "--bootstrap", boot)
		// A short lease: guests orphaned by the home's crash free their
		// slots soon.
		editConfig(t, home, map[string]string{"lease": `"3s"`, "action": `"kill"`})
		donors[name] = startDaemon(t, name, home)
	}
	for _, name := range []string{"d1", "d2", "d3"} {
		waitPeerState(t, homeH, ids[name], "idle")
	}

	// The job, as a user writes it: a job file with a sweep, a shared input
	// and a per-task one, submitted detached.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "salt.txt"), []byte("pepper"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range tasks {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.txt", i)), []byte(fmt.Sprint(i*i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	job := filepath.Join(dir, "sweep.toml")
	jobFile := fmt.Sprintf(`version = 1
name = "sweep"
command = ["sh", "-c", "sleep 0.4; echo \"{index} $(cat salt.txt) $(cat part-{index}.txt)\" > out.txt"]
inputs = ["salt.txt", "part-{index}.txt"]
outputs = ["out.txt"]
out_dir = "results"
count = %d
`, tasks)
	if err := os.WriteFile(job, []byte(jobFile), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(must(t, "submit", "--home", homeH, "--detach", job).stdout)
	done := func() (int, scavenger.Job) {
		j, _ := findJob(statusOf(t, homeH).Jobs, id)
		n := 0
		for _, task := range j.Tasks {
			if task.State.Final() {
				n++
			}
		}
		return n, j
	}
	waitDone := func(n int, what string) {
		t.Helper()
		waitFor(t, 120*time.Second, what, func() (bool, string) {
			got, j := done()
			return got >= n, fmt.Sprintf("%d of %d tasks final, job %s", got, tasks, j.State)
		})
	}

	waitDone(5, "5 tasks done before the chaos")
	// A donor's machine dies.
	donors["d1"].cmd.Process.Signal(syscall.SIGKILL)
	<-donors["d1"].done
	// Another's owner takes the machine back (kill policy).
	must(t, "pause", "--home", filepath.Join(root, "d2"))
	waitDone(15, "15 tasks done after losing d1 and d2")
	must(t, "resume", "--home", filepath.Join(root, "d2"))
	// The home crashes mid-job and comes back.
	daemonH.cmd.Process.Signal(syscall.SIGKILL)
	<-daemonH.done
	startDaemon(t, "h", homeH)
	waitDone(tasks, "every task to complete after the home's restart")

	_, j := done()
	if j.State != scavenger.StateDone || len(j.Tasks) != tasks {
		t.Fatalf("job %s (%s) with %d tasks, want done with %d", j.State, j.Reason, len(j.Tasks), tasks)
	}
	preempted, lost := 0, 0
	for i, task := range j.Tasks {
		preempted += task.Preemptions
		lost += task.Lost
		if task.ExitCode == nil || *task.ExitCode != 0 {
			t.Errorf("task %s: exit %v (%s), want 0", task.ID, task.ExitCode, task.Reason)
			continue
		}
		out, err := os.ReadFile(filepath.Join(dir, "results", task.ID, "out.txt"))
		if want := fmt.Sprintf("%d pepper %d\n", i, i*i); err != nil || string(out) != want {
			t.Errorf("task %s output %q (%v), want %q", task.ID, out, err, want)
		}
	}
	t.Logf("all %d tasks done once: %d preempted, %d lost with their donor or home on the way", tasks, preempted, lost)
	if preempted+lost == 0 {
		t.Errorf("no task was preempted or lost: the chaos did not hit the job")
	}
}
