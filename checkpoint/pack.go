package checkpoint

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Pack writes the files under dir as an image to w and returns its
// manifest, with ID set. m supplies Backend, Task and Meta; Created
// defaults to now and Arch to this machine's; Format and Files are
// Pack's. The folder must hold only regular files and folders, and must
// not change while Pack runs (freeze or stop the task first).
//
// Files are read twice, once to hash them for the manifest and once to
// send them, so that the manifest leads the stream (see FormatVersion).
func Pack(ctx context.Context, w io.Writer, dir string, m Manifest) (*Manifest, error) {
	m.Format = FormatVersion
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	if m.Arch == "" {
		m.Arch = runtime.GOARCH
	}
	files, err := hashTree(ctx, dir)
	if err != nil {
		return nil, err
	}
	m.Files = files
	// What this build writes, it must read back: a file name Unpack would
	// refuse (a colon, a backslash) fails here, on the side that can say so.
	if err := m.validate(Limits{MaxFiles: math.MaxInt, MaxFileBytes: math.MaxInt64, MaxTotalBytes: math.MaxInt64}); err != nil {
		return nil, fmt.Errorf("packing %s: %w", dir, err)
	}
	head, err := json.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("packing %s: manifest: %w", dir, err)
	}
	if len(head) > maxManifestBytes {
		return nil, fmt.Errorf("packing %s: %w: %d files make a %d-byte manifest, the limit is %d",
			dir, ErrTooLarge, len(files), len(head), maxManifestBytes)
	}
	sum := sha256.Sum256(head)
	m.ID = hex.EncodeToString(sum[:])

	// Fastest level: checkpoint images are mostly memory pages, where the
	// first few percent of effort wins most of the ratio, and the image must
	// keep up with a LAN link. Blocks are compressed on every core.
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, fmt.Errorf("packing %s: %w", dir, err)
	}
	if err := writePayload(ctx, zw, dir, head, files); err != nil {
		zw.Close()
		return nil, fmt.Errorf("packing %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("packing %s: %w", dir, err)
	}
	return &m, nil
}

// hashTree lists the regular files under dir in lexical order with their
// sizes, modes and SHA-256.
func hashTree(ctx context.Context, dir string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: only regular files can be packed, this is %s", p, d.Type())
		}
		f, err := hashFile(p)
		if err != nil {
			return err
		}
		f.Path = filepath.ToSlash(rel)
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("packing %s: %w", dir, err)
	}
	return files, nil
}

func hashFile(p string) (File, error) {
	fh, err := os.Open(p)
	if err != nil {
		return File{}, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", p, err)
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: uint32(st.Mode().Perm())}, nil
}

// writePayload writes the uncompressed image after the hashing pass.
func writePayload(ctx context.Context, w io.Writer, dir string, head []byte, files []File) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(head)))
	for _, b := range [][]byte{[]byte(imageMagic), n[:], head} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := copyFile(w, filepath.Join(dir, filepath.FromSlash(f.Path)), f.Size); err != nil {
			return err
		}
	}
	return nil
}

// copyFile sends exactly size bytes of the file at p: a file that shrank
// since it was hashed is an error here, one that changed is caught by the
// receiver's hash check.
func copyFile(w io.Writer, p string, size int64) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	if _, err := copyN(w, fh, size); err != nil {
		return fmt.Errorf("%s changed while packing: %w", p, err)
	}
	return nil
}
