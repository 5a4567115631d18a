package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger"
)

// runCLI runs a command line in-process with the given environment
// variables and returns its exit code and output.
func runCLI(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code = run(context.Background(), e, args)
	t.Logf("scavenge %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		{nil, 2, "Usage: scavenge <command>", ""},
		{[]string{"--help"}, 0, "", "Commands:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`, ""},
		{[]string{"sumbit"}, 2, `Did you mean "submit"?`, ""},
		{[]string{"stat"}, 2, `Did you mean "status"?`, ""},
		{[]string{"submit", "--home", "/nonexistent"}, 2, "no command given", ""},
		{[]string{"submit", "--cpus", "0", "true"}, 2, "--cpus 0", ""},
		{[]string{"submit", "--env", "NOEQUALS", "true"}, 2, `--env "NOEQUALS": want KEY=VALUE`, ""},
		{[]string{"submit", "--memory", "lots", "true"}, 2, `invalid value "lots" for flag -memory`, ""},
		{[]string{"status", "--bogus"}, 2, "flag provided but not defined: -bogus", ""},
		{[]string{"status", "a", "b"}, 2, "at most one job ID", ""},
		{[]string{"peers", "extra"}, 2, `unexpected argument "extra"`, ""},
		{[]string{"init", "--public", "--swarm-key", "k"}, 2, "contradict", ""},
		{[]string{"config"}, 2, "missing subcommand", ""},
		{[]string{"config", "frob"}, 2, `unknown subcommand "frob"`, ""},
		{[]string{"submit", "-h"}, 0, "usage: scavenge submit [flags] -- command [args...]", ""},
		{[]string{"help", "submit"}, 0, "", "--allow-local"},
		{[]string{"version"}, 0, "", "scavenge "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr, tt.wantStderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout: got %q, want it to contain %q", stdout, tt.wantStdout)
			}
		})
	}
}

func TestNoDaemon(t *testing.T) {
	defer func(w time.Duration) { daemonStartWait = w }(daemonStartWait)
	daemonStartWait = 0 // nothing will start: fail at once
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "scavenge.toml"), []byte("version = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "scavenge: no daemon at " + home + ": start it with `scavenge daemon --home " + home + "`\n"
	for _, args := range [][]string{
		{"status"}, {"id"}, {"peers", "--json"}, {"pause"}, {"resume"}, {"status", "somejob"}, {"submit", "--", "true"},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, _, stderr := runCLI(t, map[string]string{"SCAVENGE_HOME": home}, args...)
			if code != 1 || !strings.HasSuffix(stderr, want) {
				t.Errorf("got %d %q, want 1 and %q", code, stderr, want)
			}
		})
	}
}

var peerIDRE = regexp.MustCompile(`peer ID (12D3KooW\w+)`)

func TestInit(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a")
	code, stdout, _ := runCLI(t, nil, "init", "--home", a, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated")
	if code != 0 {
		t.Fatalf("init a: exit %d", code)
	}
	m := peerIDRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("init printed no peer ID: %q", stdout)
	}
	fi, err := os.Stat(a)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("home: got %v %v, want a 0700 directory", fi.Mode(), err)
	}
	for _, f := range []string{"scavenge.toml", "identity.key", "swarm.key"} {
		fi, err := os.Stat(filepath.Join(a, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: got %v, %v; want mode 0600", f, fi, err)
		}
	}
	c, err := config.Load(filepath.Join(a, "scavenge.toml"))
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if c.Name != "a" || !c.Policy.Dedicated || len(c.Node.Listen) != 1 || c.Node.Listen[0] != "/ip4/127.0.0.1/tcp/0" {
		t.Errorf("config: got name %q dedicated %v listen %v, want a, true, [/ip4/127.0.0.1/tcp/0]", c.Name, c.Policy.Dedicated, c.Node.Listen)
	}
	raw, _ := os.ReadFile(filepath.Join(a, "scavenge.toml"))
	for _, key := range []string{"accept_from", "guest_user", "on_owner_return", "wait_timeout", "mdns"} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("config file lacks key %s", key)
		}
	}

	// Again: refused without --force, and --force keeps the identity.
	if code, _, stderr := runCLI(t, nil, "init", "--home", a); code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("second init: got %d %q, want 1 mentioning --force", code, stderr)
	}
	code, stdout, _ = runCLI(t, nil, "init", "--home", a, "--force", "--name", "renamed")
	if m2 := peerIDRE.FindStringSubmatch(stdout); code != 0 || m2 == nil || m2[1] != m[1] {
		t.Errorf("init --force: got %d, %v; want 0 and the same peer ID %s", code, m2, m[1])
	}

	// b joins a's swarm: same key bytes, a different identity.
	b := filepath.Join(root, "b")
	boot := "/ip4/127.0.0.1/tcp/4001/p2p/" + m[1]
	code, stdout, _ = runCLI(t, map[string]string{"SCAVENGE_HOME": b}, "init", "--swarm-key", filepath.Join(a, "swarm.key"), "--bootstrap", boot)
	if code != 0 {
		t.Fatalf("init b: exit %d", code)
	}
	keyA, _ := os.ReadFile(filepath.Join(a, "swarm.key"))
	keyB, _ := os.ReadFile(filepath.Join(b, "swarm.key"))
	if !bytes.Equal(keyA, keyB) {
		t.Errorf("b's swarm key differs from a's")
	}
	if m3 := peerIDRE.FindStringSubmatch(stdout); m3 == nil || m3[1] == m[1] {
		t.Errorf("b's peer ID: got %v, want one different from a's %s", m3, m[1])
	}
	cb, err := config.Load(filepath.Join(b, "scavenge.toml"))
	if err != nil || cb.Name != "b" || len(cb.Node.Bootstrap) != 1 || cb.Node.Bootstrap[0] != boot {
		t.Errorf("b's config: got %+v, %v", cb.Node, err)
	}

	// A bad flag value makes no home at all.
	c2 := filepath.Join(root, "c")
	if code, _, stderr := runCLI(t, nil, "init", "--home", c2, "--listen", "not-an-addr"); code != 1 || !strings.Contains(stderr, "node.listen[0]") {
		t.Errorf("init with a bad --listen: got %d %q, want 1 naming node.listen[0]", code, stderr)
	}
	if _, err := os.Stat(c2); err == nil {
		t.Errorf("init with a bad --listen created %s", c2)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("version = 1\nname = \"x\"\n[donor]\nlease = \"45s\"\n"), 0o600)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("version = 1\n[donor]\nlease = \"3 parsecs\"\nfrob = 1\n"), 0o600)
	tests := []struct {
		args     []string
		wantCode int
		wantOut  []string
	}{
		{[]string{"config", "check", good}, 0, []string{"is valid", `lease = "45s"`, `identity = "` + filepath.Join(dir, "identity.key") + `"`}},
		{[]string{"config", "check", bad}, 1, []string{bad + ":3: donor.lease", bad + ":4: donor.frob"}},
		{[]string{"config", "check", "--home", dir}, 1, []string{filepath.Join(dir, "scavenge.toml")}},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, nil, tt.args...)
		if code != tt.wantCode {
			t.Errorf("%v: exit %d, want %d", tt.args, code, tt.wantCode)
		}
		for _, w := range tt.wantOut {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%v: output lacks %q", tt.args, w)
			}
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args     []string
		wantPos  []string
		wantJSON bool
	}{
		{[]string{"job1", "--json"}, []string{"job1"}, true},
		{[]string{"--json", "job1"}, []string{"job1"}, true},
		{[]string{"--", "--json"}, []string{"--json"}, false},
		{[]string{"a", "--", "b", "--json"}, []string{"a", "b", "--json"}, false},
		{nil, nil, false},
	}
	for _, tt := range tests {
		e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }, cmd: statusCmd}
		fs := e.flagSet()
		asJSON := fs.Bool("json", false, "")
		pos, err := parse(fs, tt.args)
		if err != nil || strings.Join(pos, "|") != strings.Join(tt.wantPos, "|") || *asJSON != tt.wantJSON {
			t.Errorf("parse(%q): got %q json=%v err=%v, want %q json=%v", tt.args, pos, *asJSON, err, tt.wantPos, tt.wantJSON)
		}
	}
}

func TestHomeResolution(t *testing.T) {
	def, err := defaultHome()
	if err != nil {
		t.Skip("no user config dir:", err)
	}
	cwd, _ := os.Getwd()
	tests := []struct {
		flag, envVar string
		want         string
		wantChosen   bool
	}{
		{"", "", def, false},
		{"/tmp/a", "", "/tmp/a", true},
		{"", "/tmp/e", "/tmp/e", true},
		{"/tmp/a", "/tmp/e", "/tmp/a", true},
		{"rel", "", filepath.Join(cwd, "rel"), true},
		{def, "", def, false},
	}
	for _, tt := range tests {
		h := &homeFlag{dir: tt.flag}
		e := &env{getenv: func(k string) string {
			if k == "SCAVENGE_HOME" {
				return tt.envVar
			}
			return ""
		}}
		got, chosen, err := h.resolve(e)
		if err != nil || got != tt.want || chosen != tt.wantChosen {
			t.Errorf("--home %q SCAVENGE_HOME %q: got %q chosen=%v err=%v, want %q chosen=%v", tt.flag, tt.envVar, got, chosen, err, tt.want, tt.wantChosen)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1KiB"}, {1536, "1.5KiB"},
		{8 << 30, "8GiB"}, {12*(1<<30) + 300<<20, "12.3GiB"}, {1 << 50, "1PiB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d): got %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestJobExit(t *testing.T) {
	three, zero, minus := 3, 0, -1
	tests := []struct {
		name     string
		job      scavenger.Job
		wantCode int
		wantMsg  string
	}{
		{"exit 3", scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: []scavenger.Task{{ExitCode: &three}}}, 3, ""},
		{"exit 0", scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: []scavenger.Task{{ExitCode: &zero}}}, 0, ""},
		{"killed", scavenger.Job{ID: "j", State: scavenger.StateDone, Tasks: []scavenger.Task{{ExitCode: &minus, Signal: "killed"}}}, 137, "killed by signal killed"},
		{"failed", scavenger.Job{ID: "j", State: scavenger.StateFailed, Reason: "no idle peer within 3s: 0 of 1 peers idle: a paused"}, 1, "job j failed: no idle peer within 3s: 0 of 1 peers idle: a paused"},
		{"cancelled", scavenger.Job{ID: "j", State: scavenger.StateCancelled, Tasks: []scavenger.Task{{Reason: "interrupted"}}}, 1, "job j was cancelled: interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errb bytes.Buffer
			code := exitCode(&env{stderr: &errb}, submitCmd, jobExit(tt.job))
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantMsg) || (tt.wantMsg == "" && errb.Len() > 0) {
				t.Errorf("got %d %q, want %d %q", code, errb.String(), tt.wantCode, tt.wantMsg)
			}
		})
	}
}
