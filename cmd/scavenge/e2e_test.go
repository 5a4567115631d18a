package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

// These tests build the scavenge binary once and drive it as a user would:
// real daemons on loopback TCP in separate home directories, talking
// through a private swarm, and every step through the command line.

// bin is the scavenge binary built by TestMain.
var bin string

// tmpDir is the daemons' TMPDIR, where they put their task directories by
// default; TestMain removes it. It is mode 0711 like /tmp's scavenge
// folders, as guests run as another user when the tests run as root.
var tmpDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scavenge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "scavenge")
	build := exec.Command(goTool(), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building scavenge: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	tmpDir = filepath.Join(dir, "tmp")
	err = os.Mkdir(tmpDir, 0o711)
	if err == nil {
		err = os.Chmod(dir, 0o711) // MkdirTemp made it 0700
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// result is one finished command.
type result struct {
	code           int
	stdout, stderr string
}

// scavenge runs the binary with args and returns its result; extraEnv
// entries ("K=V") are added to the environment.
func scavenge(t *testing.T, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("scavenge %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ scavenge %s  -> exit %d\n%s%s", strings.Join(args, " "), r.code, indent("out| ", r.stdout), indent("err| ", r.stderr))
	return r
}

// must runs a command that has to succeed.
func must(t *testing.T, args ...string) result {
	t.Helper()
	r := scavenge(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("scavenge %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

func indent(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

// waitFor polls cond every 100ms until it holds, failing the test with the
// last explanation cond gave when the deadline passes first.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// daemon is a running `scavenge daemon`.
type daemon struct {
	name, home string
	cmd        *exec.Cmd
	done       chan struct{} // closed when it exited
	err        error         // its Wait error, after done
	log        lockedBuffer  // its output, also in the test log
}

// lockedBuffer is a bytes.Buffer safe to write from the daemon's output
// copier while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDaemon runs `scavenge daemon --home home` with its log in the test
// log, waits until its local API answers, and stops it when the test ends.
func startDaemon(t *testing.T, name, home string) *daemon {
	t.Helper()
	d := launchDaemon(t, name, home)
	c := client.New(home)
	waitFor(t, 20*time.Second, "daemon "+name+" to answer", func() (bool, string) {
		select {
		case <-d.done:
			t.Fatalf("daemon %s exited at start: %v", name, d.err)
		default:
		}
		_, err := c.Status(context.Background())
		return err == nil, fmt.Sprint(err)
	})
	return d
}

// launchDaemon starts `scavenge daemon --home home` like startDaemon but
// returns at once, as `scavenge daemon &` in a shell does.
func launchDaemon(t *testing.T, name, home string) *daemon {
	t.Helper()
	d := &daemon{name: name, home: home, done: make(chan struct{})}
	d.cmd = exec.Command(bin, "daemon", "--home", home)
	d.cmd.Dir = home // whatever it writes relative to its cwd stays out of the source tree
	d.cmd.Env = append(os.Environ(), "TMPDIR="+tmpDir)
	w := &prefixWriter{w: io.MultiWriter(t.Output(), &d.log), prefix: "[" + name + "] "}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	setDeathSignal(d.cmd)
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting daemon %s: %v", name, err)
	}
	go func() { d.err = d.cmd.Wait(); w.flush(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	return d
}

// stop sends SIGTERM and waits for the daemon to exit; it returns the exit
// code, or -1 if the daemon had to be killed.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("daemon %s exited with %d after SIGTERM, want 0", d.name, code)
		}
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		t.Errorf("daemon %s did not stop within 20s of SIGTERM", d.name)
		return -1
	}
}

// prefixWriter writes whole lines to w, each with a prefix.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}

var peerIDRE = regexp.MustCompile(`peer ID (12D3KooW[1-9A-HJ-NP-Za-km-z]+)`)

// initHome runs `scavenge init` and returns the peer ID it printed.
func initHome(t *testing.T, args ...string) string {
	t.Helper()
	r := must(t, append([]string{"init"}, args...)...)
	m := peerIDRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("init printed no peer ID:\n%s", r.stdout)
	}
	return m[1]
}

// peersOf returns `scavenge peers --json` of a home.
func peersOf(t *testing.T, home string) []scavenger.PeerInfo {
	t.Helper()
	r := scavenge(t, nil, "peers", "--home", home, "--json")
	if r.code != 0 {
		t.Fatalf("peers: exit %d: %s", r.code, r.stderr)
	}
	var peers []scavenger.PeerInfo
	if err := json.Unmarshal([]byte(r.stdout), &peers); err != nil {
		t.Fatalf("peers --json: %v\n%s", err, r.stdout)
	}
	return peers
}

// waitPeerState waits until home's daemon sees peer id in state.
func waitPeerState(t *testing.T, home, id string, state wire.State) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%s to see %s %s", filepath.Base(home), id, state), func() (bool, string) {
		peers := peersOf(t, home)
		for _, p := range peers {
			if p.Peer == id {
				return p.State == state, fmt.Sprintf("it is %s (%s)", p.State, p.Reason)
			}
		}
		return false, fmt.Sprintf("not among %d peers", len(peers))
	})
}

// statusOf returns `scavenge status --json` of a home.
func statusOf(t *testing.T, home string) (st struct {
	Daemon scavenger.Status `json:"daemon"`
	Jobs   []scavenger.Job  `json:"jobs"`
}) {
	t.Helper()
	r := scavenge(t, nil, "status", "--home", home, "--json")
	if r.code != 0 {
		t.Fatalf("status: exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return st
}

func findJob(jobs []scavenger.Job, id string) (scavenger.Job, bool) {
	for _, j := range jobs {
		if j.ID == id {
			return j, true
		}
	}
	return scavenger.Job{}, false
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// editConfig replaces whole lines "key = ..." of a home's config file.
func editConfig(t *testing.T, home string, set map[string]string) {
	t.Helper()
	path := filepath.Join(home, "scavenge.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for key, val := range set {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = .*$`)
		if !re.Match(b) {
			t.Fatalf("%s has no line %q", path, key)
		}
		b = re.ReplaceAll(b, []byte(key+" = "+val))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, "config", "check", "--home", home)
}

// TestEndToEnd is the user session, step by step, and then what
// the user would try next: pause, files in and out, a detached job, Ctrl-C,
// peers that must not work together, a daemon restart and its stop.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real daemons")
	}
	root := t.TempDir()
	homeA, homeB := filepath.Join(root, "a"), filepath.Join(root, "b")

	// scavenge init --home /tmp/a --listen /ip4/127.0.0.1/tcp/0 --dedicated
	idA := initHome(t, "--home", homeA, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated")
	for _, f := range []string{"scavenge.toml", "identity.key", "swarm.key"} {
		if !fileExists(filepath.Join(homeA, f)) {
			t.Fatalf("init did not write %s", f)
		}
	}
	// scavenge daemon --home /tmp/a &
	// scavenge id --home /tmp/a
	// run at once one after the other, as a script would: id must wait for
	// the daemon's start rather than say there is no daemon.
	launchDaemon(t, "a", homeA)
	lines := strings.Fields(must(t, "id", "--home", homeA).stdout)
	addrRE := regexp.MustCompile(`^/ip4/127\.0\.0\.1/tcp/\d+/p2p/` + idA + `$`)
	if len(lines) == 0 {
		t.Fatal("id printed no address")
	}
	for _, l := range lines {
		if !addrRE.MatchString(l) {
			t.Errorf("id line %q: want /ip4/127.0.0.1/tcp/<port>/p2p/%s", l, idA)
		}
	}

	// scavenge init --home /tmp/b ... --swarm-key /tmp/a/swarm.key --bootstrap <line>
	idB := initHome(t, "--home", homeB, "--listen", "/ip4/127.0.0.1/tcp/0",
		"--swarm-key", filepath.Join(homeA, "swarm.key"), "--bootstrap", lines[0])
	if idB == idA {
		t.Fatal("b got a's peer ID")
	}
	daemonB := startDaemon(t, "b", homeB)

	// scavenge peers --home /tmp/b [--json]
	waitPeerState(t, homeB, idA, wire.StateIdle)
	table := scavenge(t, []string{"SCAVENGE_HOME=" + homeB}, "peers") // SCAVENGE_HOME in place of --home
	for _, want := range []string{"PEER", "STATE", "FREE CPUS", "MEMORY", "OS/ARCH", "AGE", idA[len(idA)-8:], "idle", runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("peers table lacks %q:\n%s", want, table.stdout)
		}
	}

	// scavenge submit --home /tmp/b -- sh -c 'echo "ran on $SCAVENGE_HOST_PEER"; exit 3'
	r := scavenge(t, nil, "submit", "--home", homeB, "--", "sh", "-c", `echo "ran on $SCAVENGE_HOST_PEER"; exit 3`)
	if r.code != 3 {
		t.Errorf("submit: exit %d, want 3", r.code)
	}
	if want := "ran on " + idA + "\n"; r.stdout != want {
		t.Errorf("submit stdout: got %q, want %q", r.stdout, want)
	}
	if want := "scavenge: running on a (" + idA[len(idA)-8:] + ")"; !strings.Contains(r.stderr, want) {
		t.Errorf("submit stderr lacks %q", want)
	}

	// scavenge status --home /tmp/b [--json]
	st := statusOf(t, homeB)
	if len(st.Jobs) != 1 {
		t.Fatalf("status: got %d jobs, want 1", len(st.Jobs))
	}
	first := st.Jobs[0]
	if first.State != scavenger.StateDone || len(first.Tasks) != 1 || first.Tasks[0].ExitCode == nil ||
		*first.Tasks[0].ExitCode != 3 || first.Tasks[0].Peer != idA || first.Tasks[0].PeerName != "a" {
		t.Errorf("status job: got %+v, want done, exit 3, on a (%s)", first, idA)
	}
	if st.Daemon.ID != idB {
		t.Errorf("status daemon ID: got %s, want %s", st.Daemon.ID, idB)
	}
	text := must(t, "status", "--home", homeB).stdout
	for _, want := range []string{first.ID, "sh -c", "done", " 3 "} {
		if !strings.Contains(text, want) {
			t.Errorf("status table lacks %q", want)
		}
	}

	t.Run("pause", func(t *testing.T) {
		// scavenge pause --home /tmp/a
		must(t, "pause", "--home", homeA, "--reason", "lunch")
		waitPeerState(t, homeB, idA, wire.StatePaused)
		r := scavenge(t, nil, "submit", "--home", homeB, "--timeout", "3s", "--", "true")
		if r.code != 1 || !strings.Contains(r.stderr, "paused") {
			t.Errorf("submit to a paused swarm: got exit %d, stderr %q; want 1 and a reason mentioning paused", r.code, r.stderr)
		}
		if st := statusOf(t, homeA); !st.Daemon.Paused {
			t.Errorf("a's status: not paused")
		}
		// scavenge resume --home /tmp/a
		must(t, "resume", "--home", homeA)
		waitPeerState(t, homeB, idA, wire.StateIdle)
	})

	t.Run("files", func(t *testing.T) {
		dir := t.TempDir()
		data := make([]byte, 3<<20+17) // several chunks, not a round size
		rand.Read(data)
		in := filepath.Join(dir, "data.bin")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "results")
		r := must(t, "submit", "--home", homeB, "--input", in, "--output", "sum.txt", "--output", "out/*",
			"--out-dir", out, "--", "sh", "-c", "sha256sum data.bin > sum.txt && mkdir out && cp data.bin out/copy.bin")
		want := sha256File(t, in)
		sum, err := os.ReadFile(filepath.Join(out, "sum.txt"))
		if err != nil || !strings.HasPrefix(string(sum), want+" ") {
			t.Errorf("sum.txt: got %q, %v; want the input's sha256 %s", sum, err, want)
		}
		if got := sha256File(t, filepath.Join(out, "out", "copy.bin")); got != want {
			t.Errorf("out/copy.bin sha256: got %s, want %s", got, want)
		}
		if !strings.Contains(r.stderr, "wrote") {
			t.Errorf("submit did not say which files it wrote")
		}
	})

	t.Run("default out dir", func(t *testing.T) {
		// Without --out-dir, outputs land in ./scavenge-out/<job> of the
		// submitter's working directory (not the daemon's).
		dir := t.TempDir()
		cmd := exec.Command(bin, "submit", "--home", homeB, "--output", "hello.txt", "--", "sh", "-c", "echo hi > hello.txt")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("submit with default out dir: %v\n%s", err, b)
		}
		job := statusOf(t, homeB).Jobs[0]
		got, err := os.ReadFile(filepath.Join(dir, "scavenge-out", job.ID, "hello.txt"))
		if err != nil || string(got) != "hi\n" {
			t.Errorf("default out dir: got %q, %v; want hi in %s", got, err, filepath.Join(dir, "scavenge-out", job.ID, "hello.txt"))
		}
	})

	t.Run("detach", func(t *testing.T) {
		r := must(t, "submit", "--home", homeB, "--detach", "--", "sh", "-c", "sleep 0.5; echo detached")
		id := strings.TrimSpace(r.stdout)
		if id == "" || strings.ContainsAny(id, " \n") {
			t.Fatalf("submit --detach printed %q, want a job ID", r.stdout)
		}
		waitFor(t, 20*time.Second, "the detached job to finish", func() (bool, string) {
			j, ok := findJob(statusOf(t, homeB).Jobs, id)
			return ok && j.State.Final(), fmt.Sprintf("%s %s", j.State, j.Reason)
		})
		j, _ := findJob(statusOf(t, homeB).Jobs, id)
		if j.State != scavenger.StateDone || j.Tasks[0].ExitCode == nil || *j.Tasks[0].ExitCode != 0 {
			t.Errorf("detached job: got %+v, want done with exit 0", j)
		}
		detail := must(t, "status", "--home", homeB, id).stdout
		if !strings.Contains(detail, "done") || !strings.Contains(detail, idA) {
			t.Errorf("status %s lacks its state or peer:\n%s", id, detail)
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		// Ctrl-C of a running submit cancels the remote command.
		cmd := exec.Command(bin, "submit", "--home", homeB, "--", "sleep", "60")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var id string
		waitFor(t, 20*time.Second, "the job to run", func() (bool, string) {
			jobs := statusOf(t, homeB).Jobs
			if len(jobs) > 0 && jobs[0].Request.Argv[0] == "sleep" {
				id = jobs[0].ID
				return jobs[0].State == scavenger.StateRunning, string(jobs[0].State)
			}
			return false, "not submitted yet"
		})
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		t.Logf("$ scavenge submit -- sleep 60 (interrupted) -> %v\n%s", err, indent("err| ", errb.String()))
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("interrupted submit: got %v, want exit 130; stderr:\n%s", err, errb.String())
		}
		waitFor(t, 10*time.Second, "the job to be cancelled", func() (bool, string) {
			j, _ := findJob(statusOf(t, homeB).Jobs, id)
			return j.State == scavenger.StateCancelled, string(j.State)
		})
		waitFor(t, 10*time.Second, "a's guest to be gone", func() (bool, string) {
			g := statusOf(t, homeA).Daemon.Guests
			return len(g) == 0, fmt.Sprintf("%d guests", len(g))
		})
	})

	t.Run("not allowed", func(t *testing.T) {
		homeD := filepath.Join(root, "d")
		idD := initHome(t, "--home", homeD, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated",
			"--swarm-key", filepath.Join(homeA, "swarm.key"), "--bootstrap", lines[0])
		// d takes work from a only, and carries a label only it has, so
		// b's job can only go to d.
		editConfig(t, homeD, map[string]string{"accept_from": fmt.Sprintf("[%q]", idA), "labels": `["d-only"]`})
		startDaemon(t, "d", homeD)
		waitPeerState(t, homeB, idD, wire.StateIdle)
		r := scavenge(t, nil, "submit", "--home", homeB, "--label", "d-only", "--timeout", "3s", "--", "true")
		if r.code != 1 || !strings.Contains(r.stderr, "not allowed") {
			t.Errorf("submit to d: got exit %d, stderr %q; want 1 and a reason saying not allowed", r.code, r.stderr)
		}
	})

	t.Run("wrong swarm key", func(t *testing.T) {
		homeC := filepath.Join(root, "c")
		// No --swarm-key: c makes a swarm of its own, and tries to join a.
		idC := initHome(t, "--home", homeC, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--bootstrap", lines[0])
		daemonC := startDaemon(t, "c", homeC)
		// c did try a, and the private network refused it ...
		waitFor(t, 20*time.Second, "c to report a unreachable", func() (bool, string) {
			return strings.Contains(daemonC.log.String(), "bootstrap peer unreachable"), "no such line in c's log yet"
		})
		// ... and for a few offer heartbeats, c sees nobody and a does not
		// see c, while b (the control) keeps seeing a.
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if peers := peersOf(t, homeC); len(peers) > 0 {
				t.Fatalf("c, with another swarm key, sees %s", peers[0].Peer)
			}
			for _, p := range peersOf(t, homeA) {
				if p.Peer == idC {
					t.Fatalf("a sees c, which has another swarm key")
				}
			}
			time.Sleep(300 * time.Millisecond)
		}
		waitPeerState(t, homeB, idA, wire.StateIdle)
	})

	t.Run("stop and restart", func(t *testing.T) {
		before := statusOf(t, homeB).Jobs
		// SIGTERM stops the daemon cleanly: exit 0, socket gone.
		if code := daemonB.stop(t); code != 0 {
			t.Errorf("b after SIGTERM: exit %d, want 0", code)
		}
		if _, err := os.Lstat(filepath.Join(homeB, "scavenge.sock")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("b's socket after stop: %v, want it removed", err)
		}
		r := scavenge(t, nil, "status", "--home", homeB)
		if want := "scavenge: no daemon at " + homeB + ": start it with `scavenge daemon --home " + homeB + "`\n"; r.code != 1 || r.stderr != want {
			t.Errorf("status without a daemon: got exit %d %q, want 1 %q", r.code, r.stderr, want)
		}
		startDaemon(t, "b", homeB)
		after := statusOf(t, homeB).Jobs
		if len(after) != len(before) {
			t.Fatalf("after a restart: %d jobs, want %d", len(after), len(before))
		}
		for i := range before {
			if after[i].ID != before[i].ID || after[i].State != before[i].State {
				t.Errorf("job %d after a restart: got %s %s, want %s %s", i, after[i].ID, after[i].State, before[i].ID, before[i].State)
			}
		}
	})
}
