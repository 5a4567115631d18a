package localapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobodyUID is the uid the other local user runs as (Debian's nobody).
const nobodyUID = 65534

// peerHelperEnv names the socket the re-executed test binary, running as
// another user, sends its requests to.
const peerHelperEnv = "SCAVENGE_TEST_PEERCRED_SOCKET"

// peerRequests are what the other user tries, and what it must get.
var peerRequests = []struct {
	method, path, body string
	want               int
}{
	{"GET", "status", "", 200},
	{"GET", "peers", "", 200},
	{"POST", "pause", `{"reason":"my turn"}`, 200},
	{"POST", "resume", "", 200},
	{"POST", "jobs", `{"argv":["true"],"requirements":{}}`, 403},
	{"GET", "jobs", "", 403},
	{"GET", "jobs/job1", "", 403},
	{"POST", "jobs/job1/cancel", "", 403},
	{"GET", "jobs/job1/tasks/0/log?stream=stdout", "", 403},
	{"GET", "nosuch", "", 403},
}

// TestPeerCredHelper is the other user's side of TestPeerCredOtherUser: it
// runs only when that test re-executes the binary.
func TestPeerCredHelper(t *testing.T) {
	sock := os.Getenv(peerHelperEnv)
	if sock == "" {
		t.Skip("helper process of TestPeerCredOtherUser")
	}
	hc := unixClient(sock)
	for _, r := range peerRequests {
		req, err := http.NewRequest(r.method, "http://x"+Prefix+r.path, strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			fmt.Printf("RESULT %s %s error %q\n", r.method, r.path, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("RESULT %s %s %d %q\n", r.method, r.path, resp.StatusCode, bytes.TrimSpace(body))
	}
}

// TestPeerCredOtherUser serves the API as root on a public socket, sends
// requests from a process running as nobody, and checks that nobody may see
// the status and pause but not submit or read jobs, while the daemon's own
// user may.
func TestPeerCredOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to run a process as another user (CI must run this test as root)")
		}
		t.Skip("needs root to run a process as another user")
	}
	// nobody must reach the socket and the copy of the test binary.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir makes both 0700
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "localapi.test")
	copyExecutable(t, bin)
	path := filepath.Join(dir, "public", SocketName)
	ln, err := ListenPublic(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, New(f, testLogger(t)), testLogger(t)) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("public socket: %v, mode %v, want 0666", err, fi.Mode())
	}

	// The daemon's user (root here) may submit.
	resp, err := unixClient(path).Post("http://x"+Prefix+"jobs", "application/json", strings.NewReader(`{"argv":["true"],"requirements":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("submit as the daemon's user: got %d, want 200", resp.StatusCode)
	}

	cmd := exec.Command(bin, "-test.run=^TestPeerCredHelper$", "-test.v")
	cmd.Env = append(os.Environ(), peerHelperEnv+"="+path)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, out)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			f := strings.SplitN(rest, " ", 3)
			got[f[0]+" "+f[1]] = f[2]
		}
	}
	for _, r := range peerRequests {
		res := got[r.method+" "+r.path]
		if !strings.HasPrefix(res, fmt.Sprint(r.want)+" ") {
			t.Errorf("%s %s as nobody: got %q, want %d", r.method, r.path, res, r.want)
		}
		if r.want == 403 && !strings.Contains(res, "forbidden for user 65534") {
			t.Errorf("%s %s as nobody: refusal %q does not say why", r.method, r.path, res)
		}
	}
	if len(f.submitted) != 1 {
		t.Errorf("submitted: got %d jobs, want only the daemon user's 1", len(f.submitted))
	}
}

// copyExecutable copies the running test binary to dst, mode 0755: the
// one go test built sits in a directory only root may enter.
func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
