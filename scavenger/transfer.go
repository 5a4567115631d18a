package scavenger

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/scavenge/scavenge/peer/wire"
)

// File transfer over the task stream, used in both directions: inputs go
// home -> donor, outputs donor -> home. A file is a FileHeader followed by
// Chunk frames whose sizes sum exactly to the header's Size. The receiver
// trusts nothing: it counts the bytes, hashes them, and only renames the file
// into place when the SHA-256 matches the header.

// errSHA256Mismatch is returned when received or re-read bytes do not hash to
// the announced SHA-256; callers prefix the file's role and name.
var errSHA256Mismatch = errors.New("sha256 mismatch")

// fileMode turns a wire mode into permission bits: 0 means 0644, and only
// the permission bits count (a peer can never ask for setuid or setgid).
func fileMode(m uint32) os.FileMode {
	if m&0o777 == 0 {
		return 0o644
	}
	return os.FileMode(m & 0o777)
}

// hashFile returns the lowercase hex SHA-256 and size of the file at path.
func hashFile(path string) (sha string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	sha, size, err = hashReader(f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return sha, size, nil
}

// hashReader hashes r to its end.
func hashReader(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// sendFile sends the file at path as name: FileHeader, then Chunks. sha and
// size are what the caller hashed earlier; sending fails when the file no
// longer has exactly those bytes (it changed while queued or being sent).
func sendFile(c *wire.Conn, name, path, sha string, size int64, mode uint32) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return sendReader(c, name, f, sha, size, mode)
}

// sendReader is sendFile for an open file (the donor opens outputs through
// an os.Root so a guest's symlink cannot redirect it).
func sendReader(c *wire.Conn, name string, r io.Reader, sha string, size int64, mode uint32) error {
	if err := c.Send(&wire.FileHeader{Name: name, SHA256: sha, Size: size, Mode: mode}); err != nil {
		return err
	}
	got, err := sendChunks(c, name, r, size)
	if err != nil {
		return err
	}
	if got != sha {
		return fmt.Errorf("%s changed while sending: %w", name, errSHA256Mismatch)
	}
	return nil
}

// sendChunks sends exactly size bytes of r as Chunk frames and returns
// their SHA-256.
func sendChunks(c *wire.Conn, name string, r io.Reader, size int64) (string, error) {
	h := sha256.New()
	buf := make([]byte, min(size, wire.ChunkSize))
	var sent int64
	for sent < size {
		n, err := io.ReadFull(r, buf[:min(size-sent, int64(len(buf)))])
		if n > 0 {
			h.Write(buf[:n])
			if err := c.Send(&wire.Chunk{Data: buf[:n]}); err != nil {
				return "", err
			}
			sent += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", fmt.Errorf("%s shrank while sending: %d of %d bytes", name, sent, size)
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", name, err)
		}
	}
	// The receiver already has all it expects; this check only tells the
	// sender that what it sent is not the file it hashed.
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return "", fmt.Errorf("%s grew while sending: more than %d bytes", name, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// receiveFile reads exactly h.Size bytes of Chunk frames and writes them to
// dst through a temporary file in dst's directory, renamed into place only
// when the bytes hash to h.SHA256. The temporary file is removed on any
// error, so dst either is complete and verified or untouched.
func receiveFile(c *wire.Conn, h *wire.FileHeader, dst string) error {
	dir, base := filepath.Split(dst)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".part-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	sum := sha256.New()
	if err := receiveChunks(c, h.Size, io.MultiWriter(tmp, sum)); err != nil {
		return err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.SHA256 {
		return fmt.Errorf("%w: got %s, want %s", errSHA256Mismatch, got, h.SHA256)
	}
	if err := tmp.Chmod(fileMode(h.Mode)); err != nil {
		return err
	}
	// Sync before rename: a verified name must never point at bytes a crash
	// could still lose.
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	ok = true
	return nil
}

// receiveChunks copies exactly size bytes of Chunk frames to w.
func receiveChunks(c *wire.Conn, size int64, w io.Writer) error {
	var got int64
	for got < size {
		ch, err := wire.Expect[*wire.Chunk](c)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("truncated: stream ended after %d of %d bytes", got, size)
			}
			return fmt.Errorf("after %d of %d bytes: %w", got, size, err)
		}
		if int64(len(ch.Data)) > size-got {
			return fmt.Errorf("peer sent more than the announced %d bytes", size)
		}
		if _, err := w.Write(ch.Data); err != nil {
			return err
		}
		got += int64(len(ch.Data))
	}
	return nil
}
