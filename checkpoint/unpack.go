package checkpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	Limits Limits
	// WantID, when set, is the image ID the sender announced: an image with
	// another manifest is rejected before any file is written.
	WantID string
}

// Unpack reads an image from r into dir, which must not exist, and returns
// its manifest. Every file is checked against its size and SHA-256, the
// manifest against the format and the limits, and the stream must end
// right after the last file. On any error nothing is left at dir: files
// land in a sibling folder that is renamed to dir only once all checked.
func Unpack(ctx context.Context, r io.Reader, dir string, o UnpackOptions) (*Manifest, error) {
	lim := o.Limits.orDefault()
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("unpacking into %s: it already exists", dir)
	}
	// Compressed input is capped too: zstd's skippable frames could
	// otherwise make a peer's stream endless without producing a byte.
	limit := lim.MaxTotalBytes + lim.MaxTotalBytes/64 + 2*maxManifestBytes
	capped := &capReader{r: r, limit: limit}
	capped.left.Store(limit)
	zr, err := zstd.NewReader(capped, zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderConcurrency(2))
	if err != nil {
		return nil, fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	defer zr.Close()

	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".unpack-")
	if err != nil {
		return nil, fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	m, err := readPayload(ctx, zr, tmp, lim, o.WantID)
	if capped.left.Load() <= 0 && err != nil {
		// zstd reports any read error as an unexpected EOF
		err = fmt.Errorf("%w: the compressed stream goes on past %d bytes", ErrTooLarge, capped.limit)
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	return m, nil
}

// readPayload reads the uncompressed image from r and writes its files
// under dir. It is the decoder proper, fuzzed apart from zstd.
func readPayload(ctx context.Context, r io.Reader, dir string, lim Limits, wantID string) (*Manifest, error) {
	m, err := readManifest(r, lim)
	if err != nil {
		return nil, err
	}
	if wantID != "" && m.ID != wantID {
		return nil, fmt.Errorf("%w: image %s, the sender announced %s", ErrCorrupt, m.ID, wantID)
	}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := writeFile(r, dir, f); err != nil {
			return nil, err
		}
	}
	var one [1]byte
	if n, err := io.ReadFull(r, one[:]); n > 0 {
		return nil, fmt.Errorf("%w: data after the last file", ErrCorrupt)
	} else if err != io.EOF {
		return nil, streamError(err, "after the last file")
	}
	return m, nil
}

func readManifest(r io.Reader, lim Limits) (*Manifest, error) {
	magic := make([]byte, len(imageMagic))
	n0, err := io.ReadFull(r, magic)
	switch {
	case string(magic[:n0]) != imageMagic[:n0]:
		return nil, fmt.Errorf("%w: it starts with %q", ErrNotImage, magic[:n0])
	case n0 == 0 && errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: it is empty", ErrNotImage)
	case (n0 > 0 && err != nil) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, streamError(err, "in the header")
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrNotImage, err) // not even zstd
	}
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, streamError(err, "in the manifest length")
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxManifestBytes {
		return nil, fmt.Errorf("%w: manifest of %d bytes, the limit is %d", ErrTooLarge, size, maxManifestBytes)
	}
	head := make([]byte, size)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, streamError(err, "in the manifest")
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(head))
	dec.DisallowUnknownFields() // a field this version does not know means a format it does not read
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest: data after the JSON object", ErrCorrupt)
	}
	if err := m.validate(lim); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(head)
	m.ID = hex.EncodeToString(sum[:])
	return &m, nil
}

// writeFile copies one file's bytes from r and checks its SHA-256.
func writeFile(r io.Reader, dir string, f File) error {
	p := filepath.Join(dir, filepath.FromSlash(f.Path))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	// Owner read-write whatever the manifest says: the engine must be able
	// to replace the folder later.
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(f.Mode|0o600))
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	h := sha256.New()
	_, err = copyN(io.MultiWriter(out, h), r, f.Size)
	if cerr := out.Close(); err == nil && cerr != nil {
		return fmt.Errorf("%s: %w", f.Path, cerr)
	}
	if err != nil {
		return streamError(err, "in "+f.Path)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrCorrupt, f.Path, got, f.SHA256)
	}
	return nil
}

// streamError classifies a read error at where ("in file x"): an early end is a
// truncated image, a failed zstd check a corrupt one, an over-long stream
// one over the limit.
func streamError(err error, where string) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: it breaks off %s", ErrTruncated, where)
	case errors.Is(err, ErrTooLarge):
		return fmt.Errorf("%s: %w", where, err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, where, err)
	}
}

// capReader fails once limit bytes were read. left is atomic because the
// zstd decoder reads from its own goroutine while Unpack checks it.
type capReader struct {
	r     io.Reader
	limit int64
	left  atomic.Int64
}

func (c *capReader) Read(p []byte) (int, error) {
	left := c.left.Load()
	if left <= 0 {
		return 0, fmt.Errorf("%w: the compressed stream goes on past its limit", ErrTooLarge)
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.r.Read(p)
	c.left.Add(-int64(n))
	return n, err
}

// copyN is io.CopyN with a buffer large enough that images of gigabytes
// do not cost a syscall per 32 KiB.
func copyN(w io.Writer, r io.Reader, n int64) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	written, err := io.CopyBuffer(w, io.LimitReader(r, n), *buf)
	if err == nil && written < n {
		err = io.ErrUnexpectedEOF
	}
	return written, err
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// ReadManifest reads and checks the manifest at the start of an image,
// without reading its files: the cheap check a home makes of an image it
// stores or is about to send. It does not prove the files intact; Unpack
// does, file by file.
func ReadManifest(r io.Reader) (*Manifest, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return readManifest(zr, DefaultLimits)
}
