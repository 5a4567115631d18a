package main_test

// This test keeps the project's architecture true (CONVENTIONS.md, after
// Tailscale's tstest/deptest): cmd wires everything together; the engine
// never reaches for the network or the config file; the vocabulary and
// policy packages stay free of the project so anything can use them.
//
// Only the packages as built are checked, not their tests: a test may reach
// across layers (an end-to-end test drives real peers through the engine).
// Per-OS files count, as the package list is taken for each desktop OS.

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/scavenge/scavenge"

// importRule forbids the packages it applies to from importing, directly or
// through packages the rule does not cover, the packages it denies.
type importRule struct {
	applies func(pkg string) bool // pkg relative to the module
	denies  func(dep string) bool
	why     string
}

// under reports whether a module-relative package is one of roots or below it.
func under(roots ...string) func(string) bool {
	return func(pkg string) bool {
		for _, r := range roots {
			if pkg == r || strings.HasPrefix(pkg, r+"/") {
				return true
			}
		}
		return false
	}
}

func anything(string) bool { return true }

var (
	isPure = under("policy", "checkpoint", "config", "peer/wire")
	isPeer = func(p string) bool { return under("peer")(p) && !under("peer/wire")(p) }
)

var importRules = []importRule{
	{
		applies: isPure,
		denies:  anything,
		why:     "policy, checkpoint, config and peer/wire import nothing of the project",
	},
	{
		applies: under("scavenger"),
		denies:  func(p string) bool { return isPeer(p) || under("config")(p) },
		why:     "scavenger never imports peer or config: *peer.Node satisfies scavenger.Mesh and the CLI turns config into options",
	},
	{
		applies: isPeer,
		denies:  under("scavenger"),
		why:     "peer does not import scavenger: the engine depends on the network, not the other way",
	},
	{
		applies: func(p string) bool { return !under("cmd")(p) },
		denies:  under("cmd"),
		why:     "only cmd wires everything together; nothing imports it",
	},
}

// rel turns an import path into a module-relative one; ok is false for
// packages outside the module.
func rel(path string) (pkg string, ok bool) {
	if path == module {
		return ".", true
	}
	pkg, ok = strings.CutPrefix(path, module+"/")
	return pkg, ok
}

// importViolations checks a graph of the module's packages (import path to
// its direct imports, any package) against importRules. Each violation names
// the importing package, the forbidden import, the chain between them and
// the rule.
func importViolations(graph map[string][]string) []string {
	var out []string
	pkgs := make([]string, 0, len(graph))
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	for _, r := range importRules {
		for _, from := range pkgs {
			fromRel, ok := rel(from)
			if !ok || !r.applies(fromRel) {
				continue
			}
			// Breadth first, so the chain shown is the shortest. A package
			// the rule also covers is not entered: it answers for its own
			// imports, and blaming all its importers too would bury the one
			// line to fix.
			via := map[string]string{from: ""}
			for queue := []string{from}; len(queue) > 0; queue = queue[1:] {
				cur := queue[0]
				for _, dep := range graph[cur] {
					depRel, ok := rel(dep)
					if _, seen := via[dep]; !ok || seen {
						continue
					}
					via[dep] = cur
					if r.denies(depRel) {
						out = append(out, from+" imports "+dep+chain(via, from, dep)+": "+r.why)
						continue
					}
					if !r.applies(depRel) {
						queue = append(queue, dep)
					}
				}
			}
		}
	}
	return out
}

// chain shows the path from one package to another through via, when it is
// not a direct import.
func chain(via map[string]string, from, to string) string {
	if via[to] == from {
		return ""
	}
	path := []string{to}
	for p := via[to]; p != from; p = via[p] {
		path = append(path, p)
	}
	path = append(path, from)
	slices.Reverse(path)
	return " (via " + strings.Join(path, " -> ") + ")"
}

// TestImportRules lists the module's packages as they build on each desktop
// OS (per-OS files may import differently) and checks every rule.
func TestImportRules(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	root := moduleRoot(t, goTool)
	graph := make(map[string][]string)
	for _, goos := range []string{"linux", "windows", "darwin"} {
		cmd := exec.Command(goTool, "list", "-e", "-f",
			`{{.ImportPath}} {{join .Imports " "}}{{if .Error}} ERROR {{.Error}}{{end}}`, "./...")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("GOOS=%s go list in %s: %v\n%s", goos, root, err, stderr.Bytes())
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line, loadErr, broken := strings.Cut(sc.Text(), " ERROR ")
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if broken {
				// Its imports may be incomplete, so the rules cannot vouch for it.
				t.Errorf("GOOS=%s: package %s does not load: %s", goos, f[0], loadErr)
			}
			graph[f[0]] = append(graph[f[0]], f[1:]...)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(graph) < 5 {
		t.Fatalf("go list found %d packages in %s; is this the module root?", len(graph), root)
	}
	for _, v := range importViolations(graph) {
		t.Error(v)
	}
}

func moduleRoot(t *testing.T, goTool string) string {
	t.Helper()
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside a module")
	}
	return filepath.Dir(gomod)
}

// TestImportViolations feeds the checker made-up graphs, so it is known to
// catch what TestImportRules relies on it to catch.
func TestImportViolations(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	tests := []struct {
		name  string
		graph map[string][]string
		want  []string // substrings, one per violation, in order
	}{
		{
			name: "the intended architecture",
			graph: map[string][]string{
				m("cmd/scavenge"):        {m("cmd/scavenge/cli")},
				m("cmd/scavenge/cli"):    {m("config"), m("peer"), m("scavenger"), m("scavenger/client"), m("policy"), m("policy/sensor"), m("checkpoint"), "fmt"},
				m("peer"):                {m("peer/wire"), "github.com/libp2p/go-libp2p"},
				m("peer/peertest"):       {m("peer")},
				m("scavenger"):           {m("peer/wire"), m("policy"), m("checkpoint"), "go.etcd.io/bbolt"},
				m("scavenger/localapi"):  {m("scavenger")},
				m("scavenger/client"):    {m("scavenger"), "net/http"},
				m("policy"):              {"time"},
				m("policy/sensor"):       {"github.com/shirou/gopsutil/v4/cpu"},
				m("checkpoint"):          nil,
				m("config"):              {"github.com/BurntSushi/toml"},
				m("peer/wire"):           {"encoding/json"},
				m("scavenger/executor"):  {"os/exec"},
				m("scavenger/meshtest"):  {m("scavenger"), m("peer/wire")},
				"example.com/other/peer": {m("scavenger")}, // not ours: no rule applies
			},
		},
		{
			name:  "engine imports the network",
			graph: map[string][]string{m("scavenger"): {m("peer")}},
			want:  []string{m("scavenger") + " imports " + m("peer") + ": scavenger never imports peer or config"},
		},
		{
			name:  "engine's API imports the config",
			graph: map[string][]string{m("scavenger/localapi"): {m("config")}},
			want:  []string{m("scavenger/localapi") + " imports " + m("config") + ": scavenger never"},
		},
		{
			name: "engine reaches the network through a helper package",
			graph: map[string][]string{
				m("scavenger"):        {m("internal/glue")},
				m("internal/glue"):    {m("peer/peertest")},
				m("peer/peertest"):    {m("peer")},
				m("scavenger/client"): {m("scavenger")}, // not blamed: scavenger answers for it
			},
			want: []string{m("scavenger") + " imports " + m("peer/peertest") + " (via " + m("scavenger") + " -> " + m("internal/glue") + " -> " + m("peer/peertest") + "): scavenger never"},
		},
		{
			name:  "policy imports the wire vocabulary",
			graph: map[string][]string{m("policy"): {m("peer/wire"), "time"}},
			want:  []string{m("policy") + " imports " + m("peer/wire") + ": policy, checkpoint, config and peer/wire import nothing"},
		},
		{
			name: "pure packages import each other",
			graph: map[string][]string{
				m("policy/sensor"): {m("policy")},
				m("peer/wire"):     {m("checkpoint")},
				m("config"):        {m("policy")},
			},
			want: []string{
				m("config") + " imports " + m("policy") + ": policy, checkpoint",
				m("peer/wire") + " imports " + m("checkpoint") + ": policy, checkpoint",
				m("policy/sensor") + " imports " + m("policy") + ": policy, checkpoint",
			},
		},
		{
			name:  "network imports the engine",
			graph: map[string][]string{m("peer"): {m("scavenger")}},
			want:  []string{m("peer") + " imports " + m("scavenger") + ": peer does not import scavenger"},
		},
		{
			name:  "something imports the CLI",
			graph: map[string][]string{m("scavenger"): {m("cmd/scavenge/cli")}},
			want:  []string{m("scavenger") + " imports " + m("cmd/scavenge/cli") + ": only cmd wires"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := importViolations(tt.graph)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("violation %d:\n got %s\nwant it to contain %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}
