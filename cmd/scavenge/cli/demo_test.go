package cli

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger/executor"
)

// TestMain makes the test binary usable as the demo's task program: the
// demo ships its own executable (here, this test binary) to the donors, which
// run it as `./scavenge demo-primes LO HI`. Executor.Init comes first, as in
// main: the executor may re-execute this binary as a guest init.
func TestMain(m *testing.M) {
	executor.Init()
	if len(os.Args) > 1 && os.Args[1] == "demo-primes" {
		// As main does: SIGTERM cancels the context.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := runPrimes(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestDemo runs the whole demo: four peers, real tasks, and the owners
// coming back: bob's guest must move with its work, carol's be frozen and
// continue, dave's be killed and its task run again. It must finish, check
// out and clean up.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four peers and runs real tasks")
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// Width 6e8: tasks of a second or two here, long enough that each owner
	// returns while their guest runs.
	code := runDemo(ctx, []string{"--tasks", "4", "--width", "600000000", "-v"}, &out, t.Output())
	t.Logf("demo output:\n%s", out.String())
	if code != exitOK {
		t.Fatalf("runDemo exit code = %d, want %d", code, exitOK)
	}
	s := out.String()
	for _, want := range []string{
		"bob's owner is back",
		"dave's owner is back",
		"requeued: preempted on dave",
		"from the swarm",
		"counted here by the same function: OK",
		"cleaned up: 4 peers stopped",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := regexp.MustCompile(`(?m)task +\d+ +done on (carol|dave|bob):`).FindAllString(s, -1); len(n) != 4 {
		t.Errorf("%d tasks reported done, want 4", len(n))
	}
	// Only donors may run tasks; alice is the home and does not donate.
	if strings.Contains(s, "→ alice") {
		t.Errorf("a task ran on alice, the home")
	}
	// carol's owner comes back only while carol runs a task: then her
	// guest is frozen and continues, and nothing of it is lost.
	if strings.Contains(s, "carol's owner is back") {
		for _, want := range []string{"suspended (", "resumed on carol", "carol's owner left again", "no work lost"} {
			if !strings.Contains(s, want) {
				t.Errorf("carol's owner came back, but the output lacks %q", want)
			}
		}
	}
	// bob's guest saved itself and its task resumed elsewhere from there:
	// alice's record counts the move and no work lost, and the guest's
	// own words say where it went on from.
	mig := regexp.MustCompile(`migrations +task (\d+) moved (\d+)× \(bob → (carol|dave)\): .*; work lost (\S+)`).FindStringSubmatch(s)
	if mig == nil {
		t.Fatalf("no migration from bob in the summary")
	}
	if moves, _ := strconv.Atoi(mig[2]); moves < 1 {
		t.Errorf("task %s: moves = %d, want at least 1", mig[1], moves)
	}
	if mig[4] != "0s" {
		t.Errorf("task %s moved with its checkpoint but lost %s of work, want 0s", mig[1], mig[4])
	}
	saved := regexp.MustCompile(`task +` + mig[1] + ` +bob's guest saved itself at ([\d,]+) `).FindStringSubmatch(s)
	if saved == nil {
		t.Fatalf("task %s moved, but bob's guest did not say where it saved itself", mig[1])
	}
	if !regexp.MustCompile(`task +` + mig[1] + ` +resumed on ` + mig[3] + ` from ` + saved[1] + ` .*: nothing lost`).MatchString(s) {
		t.Errorf("task %s moved to %s, but its guest there did not say it resumed from %s", mig[1], mig[3], saved[1])
	}
	m := regexp.MustCompile(`preemptions +(\d+)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no preemptions line")
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Errorf("preemptions = %d, want at least 1", n)
	}
	// The program went to each donor that ran a task once, not once per
	// task: no donor received it twice.
	for _, m := range regexp.MustCompile(`(\w+) [\d.]+ MB \((\d+)× the program\)`).FindAllStringSubmatch(s, -1) {
		if m[2] != "1" {
			t.Errorf("%s received the program %s times, want 1", m[1], m[2])
		}
	}
	dir := regexp.MustCompile(`fresh private swarm key in (\S+)`).FindStringSubmatch(s)
	if dir == nil {
		t.Fatalf("no swarm dir in the output")
	}
	if _, err := os.Stat(dir[1]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("swarm dir %s still exists after the demo (stat: %v)", dir[1], err)
	}
}

func TestDemoUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"--tasks", "0"}, exitUsage, "--tasks 0"},
		{[]string{"--width", "0"}, exitUsage, "--width 0"},
		{[]string{"--tasks", "1000", "--width", "18446744073709551615"}, exitUsage, "want 1 to 1000000000000 for 1000 tasks"},
		{[]string{"extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"--nope"}, exitUsage, "flag provided but not defined"},
		{[]string{"-h"}, exitOK, "usage: scavenge demo"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runDemo(t.Context(), tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("runDemo(%q) = %d, stderr %q; want %d and %q", tt.args, code, errb.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
