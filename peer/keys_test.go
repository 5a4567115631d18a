package peer_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/peer"
)

func TestLoadOrCreateIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "identity.key")
	k1, err := peer.LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	k2, err := peer.LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !k1.Equals(k2) {
		t.Error("loaded key differs from the created one")
	}
	if got := k1.Type().String(); got != "Ed25519" {
		t.Errorf("key type = %s, want Ed25519", got)
	}

	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.LoadOrCreateIdentity(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt identity: err = %v, want an error naming %s", err, bad)
	}
}

func TestSwarmKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "swarm.key")
	if err := peer.GenerateSwarmKey(path); err != nil {
		t.Fatalf("generate: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/key/swarm/psk/1\.0\.0/\n/base16/\n[0-9a-f]{64}\n$`).Match(data) {
		t.Errorf("swarm key file = %q, not the standard format", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	psk, err := peer.LoadSwarmKey(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if want, _ := hex.DecodeString(strings.Split(string(data), "\n")[2]); !bytes.Equal(psk, want) {
		t.Errorf("loaded key %x, want %x", psk, want)
	}
	if err := peer.GenerateSwarmKey(path); err == nil {
		t.Error("generate over an existing key: want an error")
	}
	if again, _ := peer.LoadSwarmKey(path); !bytes.Equal(again, psk) {
		t.Error("the existing key changed after a refused overwrite")
	}
	other := filepath.Join(dir, "other.key")
	if err := peer.GenerateSwarmKey(other); err != nil {
		t.Fatal(err)
	}
	if psk2, _ := peer.LoadSwarmKey(other); bytes.Equal(psk, psk2) {
		t.Error("two generated keys are equal")
	}
}

func TestLoadSwarmKeyErrors(t *testing.T) {
	tests := []struct {
		name, content string
	}{
		{"wrong header", "/key/swarm/psk/2.0.0/\n/base16/\n" + strings.Repeat("ab", 32) + "\n"},
		{"unknown encoding", "/key/swarm/psk/1.0.0/\n/base99/\n" + strings.Repeat("ab", 32) + "\n"},
		{"short key", "/key/swarm/psk/1.0.0/\n/base16/\n" + strings.Repeat("ab", 16) + "\n"},
		{"not hex", "/key/swarm/psk/1.0.0/\n/base16/\n" + strings.Repeat("zz", 32) + "\n"},
		{"empty", ""},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := peer.LoadSwarmKey(path)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want an error naming %s", err, path)
			}
		})
	}
	missing := filepath.Join(dir, "missing.key")
	if _, err := peer.LoadSwarmKey(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err = %v, want an error naming it", err)
	}
}

func TestSwarmName(t *testing.T) {
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 32)
	if got := peer.SwarmName(nil); got != "public" {
		t.Errorf("SwarmName(nil) = %q, want public", got)
	}
	n1, n2 := peer.SwarmName(k1), peer.SwarmName(k2)
	if n1 != peer.SwarmName(bytes.Clone(k1)) {
		t.Error("SwarmName is not deterministic")
	}
	if n1 == n2 {
		t.Errorf("two keys share the name %q", n1)
	}
	if !regexp.MustCompile(`^[a-z2-7]{16}$`).MatchString(n1) {
		t.Errorf("SwarmName = %q, want 16 base32 characters", n1)
	}
	if strings.Contains(n1, hex.EncodeToString(k1)[:8]) {
		t.Errorf("SwarmName %q reveals the key", n1)
	}
}

// Key files other users can read are refused, naming the fix.
func TestKeyFilesMustBePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits on Windows")
	}
	dir := t.TempDir()
	id, swarm := filepath.Join(dir, "identity.key"), filepath.Join(dir, "swarm.key")
	if _, err := peer.LoadOrCreateIdentity(id); err != nil {
		t.Fatal(err)
	}
	if err := peer.GenerateSwarmKey(swarm); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{id, swarm} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := peer.LoadOrCreateIdentity(id); err == nil || !strings.Contains(err.Error(), "chmod 600 "+id) {
		t.Errorf("world-readable identity: err = %v, want a refusal naming chmod 600", err)
	}
	if _, err := peer.LoadSwarmKey(swarm); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Errorf("world-readable swarm key: err = %v, want a refusal naming the mode", err)
	}
}
