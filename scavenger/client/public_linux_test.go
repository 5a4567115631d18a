package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

// Environment of the helper process that plays the desktop's user.
const (
	helperHomeEnv   = "SCAVENGE_TEST_PUBLIC_HOME"
	helperPublicEnv = "SCAVENGE_TEST_PUBLIC_DIR"
)

// TestPublicSocketHelper is the desktop user's side of
// TestPublicSocketOtherUser: a client of a home it may not enter.
func TestPublicSocketHelper(t *testing.T) {
	home := os.Getenv(helperHomeEnv)
	if home == "" {
		t.Skip("helper process of TestPublicSocketOtherUser")
	}
	localapi.PublicDir = os.Getenv(helperPublicEnv)
	ctx := context.Background()
	c := client.New(home)
	if _, err := os.Stat(c.Socket); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("the private socket: got %v, want permission denied (the test is not what it claims)", err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("status through the public socket: %v", err)
	}
	if st, err = c.Pause(ctx, "my turn"); err != nil || !st.Paused {
		t.Errorf("pause: %v, paused %v", err, st.Paused)
	}
	_, err = c.Submit(ctx, scavenger.SubmitRequest{Argv: []string{"true"}})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Errorf("submit as another user: got %v, want a 403", err)
	}
	if _, err := c.Jobs(ctx); !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Errorf("jobs as another user: got %v, want a 403", err)
	}
	fmt.Println("submit refused:", err)
}

// TestPublicSocketOtherUser runs a daemon's API as root with its home 0700
// and a public socket, and a client as nobody: client.New(home) falls back
// to the public socket, gets the status and may pause, but not submit.
func TestPublicSocketOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to run a process as another user (CI must run this test as root)")
		}
		t.Skip("needs root to run a process as another user")
	}
	top := t.TempDir()
	for _, d := range []string{filepath.Dir(top), top} { // t.TempDir makes both 0700
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(top, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	old := localapi.PublicDir
	localapi.PublicDir = filepath.Join(top, "run")
	t.Cleanup(func() { localapi.PublicDir = old })

	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	b := &backend{}
	api := localapi.New(b, log)
	ln, err := localapi.Listen(localapi.SocketPath(home))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := localapi.ListenPublic(localapi.PublicSocketPath(home))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- localapi.Serve(ctx, ln, api, log) }()
	go func() { done <- localapi.Serve(ctx, pub, api, log) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	}()

	// The daemon's user goes through its own socket, with every right.
	own := client.New(home)
	own.StartWait = 5 * time.Second
	if _, err := own.Submit(ctx, scavenger.SubmitRequest{Argv: []string{"true"}}); err != nil {
		t.Fatalf("submit as the daemon's user: %v", err)
	}

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(top, "client.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestPublicSocketHelper$", "-test.v")
	cmd.Env = append(os.Environ(), helperHomeEnv+"="+home, helperPublicEnv+"="+localapi.PublicDir)
	cmd.Dir = top
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPublicSocketHelper") {
		t.Fatalf("the client as nobody failed: %v", err)
	}
}
