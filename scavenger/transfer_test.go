package scavenger

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/peer/wire"
)

// connPair is two wire.Conns joined by net.Pipe.
func connPair(t *testing.T) (a, b *wire.Conn, closeA func()) {
	t.Helper()
	x, y := net.Pipe()
	t.Cleanup(func() { x.Close(); y.Close() })
	return wire.NewConn(x), wire.NewConn(y), func() { x.Close() }
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dirEntries lists dir, so tests can see that no temporary file is left.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestTransferRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		mode     uint32
		wantMode os.FileMode
	}{
		{"empty", 0, 0, 0o644},
		{"one byte", 1, 0o600, 0o600},
		{"one chunk", wire.ChunkSize, 0o755, 0o755},
		{"chunks and a bit", 2*wire.ChunkSize + 5, 0o640, 0o640},
		{"setuid is dropped", 10, 0o4755, 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := make([]byte, tt.size)
			rand.Read(data)
			src := writeTemp(t, data)
			sha, size, err := hashFile(src)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if sha != hex.EncodeToString(sum[:]) || size != int64(tt.size) {
				t.Fatalf("hashFile: got %s %d, want %x %d", sha, size, sum, tt.size)
			}
			a, b, _ := connPair(t)
			sent := make(chan error, 1)
			go func() { sent <- sendFile(a, "out/x.bin", src, sha, size, tt.mode) }()
			h, err := wire.Expect[*wire.FileHeader](b)
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != "out/x.bin" || h.SHA256 != sha || h.Size != size || h.Mode != tt.mode {
				t.Errorf("header: got %+v", h)
			}
			dir := t.TempDir()
			dst := filepath.Join(dir, "x.bin")
			if err := receiveFile(b, h, dst); err != nil {
				t.Fatalf("receive: %v", err)
			}
			if err := <-sent; err != nil {
				t.Fatalf("send: %v", err)
			}
			got, err := os.ReadFile(dst)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("received %d bytes (%v), want the %d sent", len(got), err, len(data))
			}
			if fi, _ := os.Stat(dst); fi.Mode().Perm() != tt.wantMode {
				t.Errorf("mode: got %v, want %v", fi.Mode().Perm(), tt.wantMode)
			}
			if names := dirEntries(t, dir); len(names) != 1 {
				t.Errorf("dir after receive: %v, want only x.bin", names)
			}
		})
	}
}

// TestTransferRejects: the receiver keeps nothing that is not exactly the
// announced bytes.
func TestTransferRejects(t *testing.T) {
	data := []byte("the real content of the file")
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	tests := []struct {
		name    string
		header  wire.FileHeader
		send    func(c *wire.Conn, closeConn func())
		wantErr string
	}{
		{
			name:   "sha256 mismatch",
			header: wire.FileHeader{Name: "f", SHA256: sha, Size: int64(len(data))},
			send: func(c *wire.Conn, _ func()) {
				c.Send(&wire.Chunk{Data: bytes.ToUpper(data)})
			},
			wantErr: "sha256 mismatch",
		},
		{
			name:   "truncated stream",
			header: wire.FileHeader{Name: "f", SHA256: sha, Size: int64(len(data))},
			send: func(c *wire.Conn, closeConn func()) {
				c.Send(&wire.Chunk{Data: data[:10]})
				closeConn()
			},
			wantErr: "truncated: stream ended after 10 of 28 bytes",
		},
		{
			name:   "more bytes than the size",
			header: wire.FileHeader{Name: "f", SHA256: sha, Size: 5},
			send: func(c *wire.Conn, _ func()) {
				c.Send(&wire.Chunk{Data: data})
			},
			wantErr: "peer sent more than the announced 5 bytes",
		},
		{
			name:   "other message mid-file",
			header: wire.FileHeader{Name: "f", SHA256: sha, Size: int64(len(data))},
			send: func(c *wire.Conn, _ func()) {
				c.Send(&wire.Chunk{Data: data[:3]})
				c.Send(&wire.Done{})
			},
			wantErr: "after 3 of 28 bytes: invalid message: got done, want chunk",
		},
		{
			name:   "sender gives up",
			header: wire.FileHeader{Name: "f", SHA256: sha, Size: int64(len(data))},
			send: func(c *wire.Conn, _ func()) {
				c.Send(&wire.Error{Message: "f shrank while sending"})
			},
			wantErr: "peer error: f shrank while sending",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, closeA := connPair(t)
			go tt.send(a, closeA)
			dir := t.TempDir()
			dst := filepath.Join(dir, "f")
			err := receiveFile(b, &tt.header, dst)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("receive: got %v, want an error with %q", err, tt.wantErr)
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Errorf("dir after a rejected file: %v, want empty (no dst, no temp)", names)
			}
		})
	}
}

// TestTransferSenderChecks: the sender notices a file that is not what it
// hashed.
func TestTransferSenderChecks(t *testing.T) {
	data := []byte("0123456789")
	src := writeTemp(t, data)
	sha, size, err := hashFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		change  func()
		sha     string
		size    int64
		wantErr string
	}{
		{"shrank", func() { os.WriteFile(src, data[:4], 0o600) }, sha, size, "x shrank while sending: 4 of 10 bytes"},
		{"grew", func() { os.WriteFile(src, append(data, 'x'), 0o600) }, sha, size, "x grew while sending"},
		{"changed", func() { os.WriteFile(src, bytes.ToUpper([]byte("abcdefghij")), 0o600) }, sha, size, "x changed while sending: sha256 mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			a, b, _ := connPair(t)
			go func() {
				// Drain whatever is sent.
				for {
					if _, err := b.Recv(); err != nil {
						return
					}
				}
			}()
			err := sendFile(a, "x", src, tt.sha, tt.size, 0)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("send: got %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
	if _, _, err := hashFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hashFile of a missing file: got %v, want not exist", err)
	}
}
